"""The packets of gen_server calls, read with fixed offsets instead of the general codec.

An OTP ``gen_server:call`` to this node costs three incoming packets
(MONITOR_P, REG_SEND or SEND_SENDER with ``{'$gen_call', {Pid, Tag}, Req}``,
DEMONITOR_P).  The general codec reads them correctly but spends most of the
per-call budget walking their pids, references and atoms; the readers here
take exactly those shapes in pass-through framing, with caches (caller pids
and atoms repeat call after call).  Anything not exactly as expected gives
``None``, and the general parse decides: so this path can only be faster,
never different (the tests compare both on generated packets).

:func:`read_hot` is what :func:`~kazoo_trio.erlang.wire.parse.read_packet`
tries first.  The node's reader goes one step further with
:func:`read_monitor` and :func:`read_reg_send`: a call's monitor is kept by
its reference's bytes (the reference is built only if the server dies or the
monitor meets the general path), and a REG_SEND becomes a mailbox entry
without a control-message object.  Small requests whose decoded value cannot
change (tuples of atoms, binaries, numbers, pids, references) are decoded
once and shared by their bytes.
"""

from __future__ import annotations

from struct import Struct
from typing import Any, Final

from kazoo_trio.erlang.wire.build import ALIAS_TAG_HEAD, ref_bytes
from kazoo_trio.erlang.wire.messages import (
    ControlMessage,
    DemonitorP,
    MonitorP,
    RegSend,
    SendSender,
)
from kazoo_trio.term import Atom, ImproperList, Pid, Reference, decode_body

__all__ = ["HOT_HEAD", "gen_call", "monitor_key", "read_hot", "read_monitor", "read_reg_send"]

_REF3: Final = Struct(">IIII").unpack_from  # creation + 3 id words

# Caches keyed by the exact encoded bytes; bounded so a peer cannot grow them
# without limit (they are simply emptied when full).  Small, too: whatever
# they hold stays alive, atoms a peer made up included.
_CACHE_MAX: Final = 4096
_pids: dict[bytes, Pid] = {}
_atoms: dict[bytes, Atom] = {}
# References are unique per call: remember only the most recent ones.
_RECENT_REFS: Final = 4096
_refs: dict[bytes, Reference] = {}

_A_GEN_CALL: Final = Atom("$gen_call")
_A_ALIAS: Final = Atom("alias")
_GEN_CALL_HEAD: Final = b"h\x03w\x09$gen_callh\x02"

# How MONITOR_P, REG_SEND and DEMONITOR_P packets start in pass-through
# framing: 'p', version byte 131, a 4-tuple, and a small int, the operation,
# at index 5.  One prefix test and that byte pick a packet's extractor.
HOT_HEAD: Final = b"p\x83h\x04a"


def _atom(data: bytes, pos: int) -> tuple[Atom, int] | None:
    if data[pos] != 119:  # SMALL_ATOM_UTF8_EXT
        return None
    end = pos + 2 + data[pos + 1]
    key = data[pos:end]
    atom = _atoms.get(key)
    if atom is None:
        if len(key) != end - pos:
            return None
        try:
            atom = Atom.from_wire(key[2:].decode("utf-8"))
        except UnicodeDecodeError:
            return None
        if len(_atoms) >= _CACHE_MAX:
            _atoms.clear()
        _atoms[key] = atom
    return atom, end


def _pid(data: bytes, pos: int) -> tuple[Pid, int] | None:
    if data[pos] != 88 or data[pos + 1] != 119:  # NEW_PID_EXT with a small UTF-8 atom
        return None
    end = pos + 3 + data[pos + 2] + 12
    key = data[pos:end]
    pid = _pids.get(key)
    if pid is None:
        if len(key) != end - pos:
            return None
        got = decode_body(data, pos)
        if got[1] != end or type(got[0]) is not Pid:
            return None
        pid = got[0]
        if len(_pids) >= _CACHE_MAX:
            _pids.clear()
        _pids[key] = pid
    return pid, end


def _ref(data: bytes, pos: int) -> tuple[Reference, int] | None:
    # NEWER_REFERENCE_EXT with 3 words, as OTP makes them.  A call's monitor
    # reference appears three times (MONITOR_P, the call tag, DEMONITOR_P),
    # so recent ones are kept by their bytes.
    if data[pos] != 90 or data[pos + 1] != 0 or data[pos + 2] != 3:
        return None
    end = pos + 5 + data[pos + 4] + 16
    key = data[pos:end]
    ref = _refs.get(key)
    if ref is not None:
        return ref, end
    got = _atom(data, pos + 3)
    if got is None:
        return None
    node, at = got
    if at + 16 > len(data):
        return None
    creation, a, b, d = _REF3(data, at)
    ref = Reference(node, creation, (a, b, d))
    if len(_refs) >= _RECENT_REFS:
        _refs.clear()
    _refs[key] = ref
    return ref, end


# Small requests repeat (health checks, status polls): their decoded values
# are kept by their bytes, but only values nothing can change (tuples of
# atoms, binaries, numbers, pids...), since every caller gets the same object.
_REQUEST_MAX_BYTES: Final = 96
_REQUESTS_MAX: Final = 1024
_requests: dict[bytes, Any] = {}
_IMMUTABLE: Final = frozenset({Atom, bytes, int, float, bool, Pid, Reference})
_NOT_ALONE: Final = object()  # the term does not end the packet


def _request(data: bytes, pos: int) -> Any:
    """The term at ``pos``, which must end ``data``; :data:`_NOT_ALONE` if it does not."""
    if len(data) - pos <= _REQUEST_MAX_BYTES:
        key = data[pos:]
        term = _requests.get(key, _NOT_ALONE)
        if term is not _NOT_ALONE:
            return term
        term, end = decode_body(data, pos)
        if end != len(data):
            return _NOT_ALONE
        if _immutable(term):
            if len(_requests) >= _REQUESTS_MAX:
                _requests.clear()
            _requests[key] = term
        return term
    term, end = decode_body(data, pos)
    return term if end == len(data) else _NOT_ALONE


def _immutable(term: Any) -> bool:
    kind = type(term)
    if kind is tuple:
        return all(type(item) in _IMMUTABLE or _immutable(item) for item in term)
    return kind in _IMMUTABLE


# A call's tag is new with every call: it is made without the converters of the
# attrs classes (which would only copy an Atom and a tuple of ints as they are).
_new: Final = object.__new__
_set_ref_node: Final = Reference.node.__set__  # type: ignore[attr-defined]
_set_ref_creation: Final = Reference.creation.__set__  # type: ignore[attr-defined]
_set_ref_ids: Final = Reference.ids.__set__  # type: ignore[attr-defined]
_set_items: Final = ImproperList.items.__set__  # type: ignore[attr-defined]
_set_tail: Final = ImproperList.tail.__set__  # type: ignore[attr-defined]
_ALIAS_ITEMS: Final = (_A_ALIAS,)


def _new_ref(node: Atom, creation: int, ids: tuple[int, int, int]) -> Reference:
    """``Reference(node, creation, ids)`` for an Atom and a tuple of ints."""
    ref: Reference = _new(Reference)
    _set_ref_node(ref, node)
    _set_ref_creation(ref, creation)
    _set_ref_ids(ref, ids)
    return ref


def _alias_tag(ref: Reference) -> ImproperList:
    """``ImproperList((alias,), ref)``: OTP 24+'s call tag ``[alias | Ref]``."""
    tag: ImproperList = _new(ImproperList)
    _set_items(tag, _ALIAS_ITEMS)
    _set_tail(tag, ref)
    return tag


def _tag_ref(data: bytes, pos: int) -> tuple[Reference, int] | None:
    # Like _ref, for a call tag's reference: new with every call, so not cached.
    if data[pos] != 90 or data[pos + 1] != 0 or data[pos + 2] != 3 or data[pos + 3] != 119:
        return None
    at = pos + 5 + data[pos + 4]
    node = _atoms.get(data[pos + 3 : at])
    if node is None:
        got = _atom(data, pos + 3)
        if got is None:
            return None
        node = got[0]
    if at + 16 > len(data):
        return None
    creation, a, b, d = _REF3(data, at)
    return _new_ref(node, creation, (a, b, d)), at + 16


def _proc(data: bytes, pos: int) -> tuple[Pid | Atom, int] | None:
    return _atom(data, pos) if data[pos] == 119 else _pid(data, pos)


def _message(data: bytes, pos: int) -> Any:
    """The 131-prefixed message term at ``pos`` that ends the packet."""
    if data[pos] != 131:
        return None
    pos += 1
    if data.startswith(_GEN_CALL_HEAD, pos):
        got = _pid(data, pos + len(_GEN_CALL_HEAD))
        if got is not None:
            caller, at = got
            tag: Any = None
            if data.startswith(ALIAS_TAG_HEAD, at):
                ref = _tag_ref(data, at + len(ALIAS_TAG_HEAD))
                if ref is not None:
                    tag = _alias_tag(ref[0])
                    at = ref[1]
            elif data[at] == 90:
                ref = _tag_ref(data, at)
                if ref is not None:
                    tag, at = ref
            if tag is not None:
                request = _request(data, at)
                if request is _NOT_ALONE:
                    return None
                return (_A_GEN_CALL, (caller, tag), request)
    message, end = decode_body(data, pos)
    return message if end == len(data) else None


def read_monitor(data: bytes) -> tuple[Pid, Pid | Atom, bytes] | None:
    """``(watcher, target, key)`` of a pass-through MONITOR_P or DEMONITOR_P, else None.

    The caller has checked that ``data`` starts with :data:`HOT_HEAD` and has
    MONITOR_P or DEMONITOR_P as the operation (``data[5]``).  ``key`` is the
    reference's own bytes (a NEWER_REFERENCE_EXT with three words and a small
    UTF-8 node atom, as OTP writes it), which stands for the reference in
    ``monitored_by`` until something needs its value: a call's monitor is set
    up and removed again without the reference ever being built.
    :func:`monitor_key` gives the same bytes for a decoded :class:`Reference`.
    Returns None (the general parser then decides) for any other shape, for
    truncated packets, and for atoms that are not valid UTF-8.
    """
    try:
        if data[6] != 88 or data[7] != 119:
            return None
        at = 21 + data[8]
        pid = _pids.get(data[6:at])
        if pid is None:
            got = _pid(data, 6)
            if got is None:
                return None
            pid = got[0]
        kind = data[at]
        target: Pid | Atom | None
        if kind == 119:
            end = at + 2 + data[at + 1]
            target = _atoms.get(data[at:end])
            if target is None:
                got_atom = _atom(data, at)
                if got_atom is None:
                    return None
                target = got_atom[0]
        elif kind == 88:
            end = at + 15 + data[at + 2]
            target = _pids.get(data[at:end])
            if target is None:
                got = _pid(data, at)
                if got is None:
                    return None
                target = got[0]
        else:
            return None
        if data[end] != 90 or data[end + 1] != 0 or data[end + 2] != 3 or data[end + 3] != 119:
            return None
        node_end = end + 5 + data[end + 4]
        if node_end + 16 != len(data):
            return None
        if data[end + 3 : node_end] not in _atoms and _atom(data, end + 3) is None:
            return None
        return pid, target, data[end:]
    except IndexError:
        return None


def monitor_key(ref: Reference) -> bytes | None:
    """The key :func:`read_monitor` would give for ``ref`` (None if it has no such form)."""
    return ref_bytes(ref)


def read_reg_send(data: bytes) -> tuple[Pid, Atom, Any] | None:
    """``(sender, name, message)`` of a pass-through REG_SEND, else None.

    The caller has checked that ``data`` starts with :data:`HOT_HEAD` and has
    REG_SEND as the operation (``data[5]``).  ``{'$gen_call', {Pid, Tag}, Request}`` messages
    are read with fixed offsets; other messages go through the codec.  Raises
    the codec's ``DecodeError`` for a message that is not a valid term.
    """
    try:
        if data[6] != 88 or data[7] != 119:
            return None
        at = 21 + data[8]
        pid = _pids.get(data[6:at])
        if pid is None:
            got = _pid(data, 6)
            if got is None:
                return None
            pid = got[0]
        if data[at] != 119 or data[at + 1] != 0 or data[at + 2] != 119:
            return None
        end = at + 4 + data[at + 3]
        name = _atoms.get(data[at + 2 : end])
        if name is None:
            got_atom = _atom(data, at + 2)
            if got_atom is None:
                return None
            name = got_atom[0]
        message = _message(data, end)
    except IndexError:
        return None
    if message is None:
        return None
    return pid, name, message


def read_hot(data: bytes) -> ControlMessage | None:
    """The control message in pass-through packet ``data`` if it is a hot shape, else None.

    Raises the codec's ``DecodeError`` for bytes that are not valid terms
    (the general parser would reject them too).
    """
    try:
        if data[0] != 112 or data[1] != 131 or data[2] != 104 or data[4] != 97:
            return None
        arity = data[3]
        op = data[5]
        if op == 19 or op == 20:  # MONITOR_P, DEMONITOR_P
            if arity != 4:
                return None
            a = _pid(data, 6)
            if a is None:
                return None
            b = _proc(data, a[1])
            if b is None:
                return None
            r = _ref(data, b[1])
            if r is None or r[1] != len(data):
                return None
            cls = MonitorP if op == 19 else DemonitorP
            return cls(a[0], b[0], r[0])
        if op == 6:  # REG_SEND {6, From, '', Name}
            if arity != 4:
                return None
            got = read_reg_send(data)
            return None if got is None else RegSend(*got)
        if op == 22:  # SEND_SENDER {22, From, To}
            if arity != 3:
                return None
            a = _pid(data, 6)
            if a is None:
                return None
            b = _pid(data, a[1])
            if b is None:
                return None
            msg = _message(data, b[1])
            if msg is None:
                return None
            return SendSender(a[0], b[0], msg)
    except IndexError:
        return None
    return None


def gen_call(message: object) -> tuple[Pid, Any, Any] | None:
    """``(caller, tag, request)`` of a ``{'$gen_call', {Pid, Tag}, Request}`` message, else None.

    The shape :func:`read_reg_send` reads at fixed offsets, checked on a
    decoded message, whichever path decoded it.
    """
    if type(message) is tuple and len(message) == 3 and message[0] is _A_GEN_CALL:
        frm = message[1]
        if type(frm) is tuple and len(frm) == 2 and type(frm[0]) is Pid:
            return frm[0], frm[1], message[2]
    return None
