"""Hand-written reading and writing of the packets every gen_server call produces.

An OTP ``gen_server:call`` to this node costs three incoming packets
(MONITOR_P, REG_SEND or SEND_SENDER with ``{'$gen_call', {Pid, Tag}, Req}``,
DEMONITOR_P) and one reply.  The general term codec handles them correctly
but spends most of the per-call budget walking their pids, references and
atoms.  This module reads exactly those shapes in pass-through framing with
fixed-offset slicing and caches (caller pids and atoms repeat call after
call), and writes the reply packet the same way.

The node's reader uses :func:`parse_monitor` and :func:`parse_reg_send`
directly: a call's monitor is kept by its reference's bytes (the reference
is never built unless the server dies or the monitor meets the general
path), and a REG_SEND becomes a mailbox entry without a control-message
object.  Small requests whose decoded value cannot change (tuples of atoms,
binaries, numbers, pids, references) are decoded once and shared by their
bytes; :func:`call_reply_parts` writes ``{ok | error, Binary}`` replies
without the codec.  Everything else in a request or reply goes through the
general codec.

Anything else, or anything not exactly as expected, returns ``None`` and the
caller uses :func:`kazoo_trio.erlang.control.parse_packet` /
:func:`~kazoo_trio.erlang.control.packet_parts`, so the fast path can only be
faster, never different: the tests compare both paths byte for byte and
value for value.
"""

from __future__ import annotations

from struct import Struct
from typing import Any, Final

from kazoo_trio.erlang import control as c
from kazoo_trio.erlang.flags import DFlag
from kazoo_trio.term import Atom, ImproperList, Pid, Reference, decode_body, encode_parts

__all__ = [
    "call_reply_parts",
    "monitor_key",
    "parse_fast",
    "parse_monitor",
    "parse_reg_send",
    "reply_parts",
]

_U16: Final = Struct(">H").unpack_from
_U32: Final = Struct(">I").unpack_from
_REF3: Final = Struct(">IIII").unpack_from  # creation + 3 id words
_PACK_U32: Final = Struct(">I").pack
_PACK_REF3: Final = Struct(">IIII").pack

# Caches keyed by the exact encoded bytes; bounded so a peer cannot grow them
# without limit (they are simply emptied when full).
_CACHE_MAX: Final = 65536
_pids: dict[bytes, Pid] = {}
_atoms: dict[bytes, Atom] = {}
_pid_bytes: dict[Pid, bytes] = {}
_atom_bytes: dict[Atom, bytes] = {}
_last_pid: Pid | None = None
_last_pid_bytes: bytes | None = None
# References are unique per call: remember only the most recent ones.
_RECENT_REFS: Final = 4096
_refs: dict[bytes, Reference] = {}

_HEADER_FLAGS: Final = int(DFlag.DIST_HDR_ATOM_CACHE | DFlag.FRAGMENTS)
_ALIAS: Final = int(DFlag.ALIAS)
_SEND_SENDER: Final = int(DFlag.SEND_SENDER)
_A_GEN_CALL: Final = Atom("$gen_call")
_A_ALIAS: Final = Atom("alias")
_GEN_CALL_HEAD: Final = b"h\x03w\x09$gen_callh\x02"
_ALIAS_HEAD: Final = b"l\x00\x00\x00\x01w\x05alias"


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
            atom = Atom(key[2:].decode("utf-8"))
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
    return Reference(node, creation, (a, b, d)), at + 16


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
            if data.startswith(_ALIAS_HEAD, at):
                ref = _tag_ref(data, at + len(_ALIAS_HEAD))
                if ref is not None:
                    tag = ImproperList((_A_ALIAS,), ref[0])
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


def parse_monitor(data: bytes) -> tuple[Pid, Pid | Atom, bytes] | None:
    """``(watcher, target, key)`` of a pass-through MONITOR_P or DEMONITOR_P, else None.

    The caller has checked that ``data`` starts ``p 131 {4-tuple, small int}``
    with 19 or 20 as the operation.  ``key`` is the reference's own bytes (a
    NEWER_REFERENCE_EXT with three words and a small UTF-8 node atom, as OTP
    writes it), which stands for the reference in ``monitored_by`` until
    something needs its value: a call's monitor is set up and removed again
    without the reference ever being built.  :func:`monitor_key` gives the
    same bytes for a decoded :class:`Reference`.  Returns None (the general
    parser then decides) for any other shape, for truncated packets, and for
    atoms that are not valid UTF-8.
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
    """The key :func:`parse_monitor` would give for ``ref`` (None if it has no such form)."""
    return _enc_ref(ref)


def parse_reg_send(data: bytes) -> tuple[Pid, Atom, Any] | None:
    """``(sender, name, message)`` of a pass-through REG_SEND, else None.

    The caller has checked that ``data`` starts ``p 131 {4-tuple, small int}``
    with 6 as the operation.  ``{'$gen_call', {Pid, Tag}, Request}`` messages
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


def parse_fast(data: bytes) -> c.ControlMessage | None:
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
            cls = c.MonitorP if op == 19 else c.DemonitorP
            return cls(a[0], b[0], r[0])
        if op == 6:  # REG_SEND {6, From, '', Name}
            if arity != 4:
                return None
            got = parse_reg_send(data)
            return None if got is None else c.RegSend(*got)
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
            return c.SendSender(a[0], b[0], msg)
    except IndexError:
        return None
    return None


def _enc_atom(atom: Atom) -> bytes:
    raw = _atom_bytes.get(atom)
    if raw is None:
        text = atom.name.encode("utf-8")
        raw = bytes((119, len(text))) + text if len(text) < 256 else b""
        if len(_atom_bytes) >= _CACHE_MAX:
            _atom_bytes.clear()
        _atom_bytes[atom] = raw
    return raw


def _enc_pid(pid: Pid) -> bytes | None:
    global _last_pid, _last_pid_bytes
    if pid is _last_pid:
        return _last_pid_bytes  # a server replies from the same pid over and over
    raw = _pid_bytes.get(pid)
    if raw is None:
        node = _enc_atom(pid.node)
        if not node or max(pid.id, pid.serial, pid.creation) >= 1 << 32:
            return None
        raw = b"X" + node + _PACK_U32(pid.id) + _PACK_U32(pid.serial) + _PACK_U32(pid.creation)
        if len(_pid_bytes) >= _CACHE_MAX:
            _pid_bytes.clear()
        _pid_bytes[pid] = raw
    _last_pid, _last_pid_bytes = pid, raw
    return raw


def _enc_ref(ref: Reference) -> bytes | None:
    ids = ref.ids
    node = _enc_atom(ref.node)
    if len(ids) != 3 or not node:
        return None
    try:
        return b"Z\x00\x03" + node + _PACK_REF3(ref.creation, *ids)
    except Exception:
        return None


def _enc_tag(tag: Any) -> bytes | None:
    if type(tag) is Reference:
        return _enc_ref(tag)
    if type(tag) is ImproperList and tag.items == (_A_ALIAS,) and type(tag.tail) is Reference:
        ref = _enc_ref(tag.tail)
        return None if ref is None else _ALIAS_HEAD + ref
    return None


def reply_parts(
    negotiated: int, sender: Pid, to: Pid | Reference, tag: Any, value: Any
) -> list[bytes] | None:
    """Payload parts of the reply ``{Tag, Value}`` as SEND_SENDER (to a pid) or ALIAS_SEND.

    ``None`` when the fast path does not apply (header framing, unusual tag
    or identifiers); the codec's ``EncodeError`` for a value with no Erlang form.
    """
    if negotiated & _HEADER_FLAGS:
        return None
    frm = _enc_pid(sender)
    if frm is None:
        return None
    if isinstance(to, Reference):
        if not negotiated & _ALIAS:
            return None
        dest = _enc_ref(to)
        head = b"p\x83h\x03a\x21"
        # The usual case: the alias is the tag's own reference, encoded once.
        if type(tag) is ImproperList and tag.tail is to and tag.items == (_A_ALIAS,):
            raw_tag = None if dest is None else _ALIAS_HEAD + dest
        else:
            raw_tag = _enc_tag(tag)
    else:
        if not negotiated & _SEND_SENDER:
            return None
        dest = _enc_pid(to)
        head = b"p\x83h\x03a\x16"
        raw_tag = _enc_tag(tag)
    if dest is None or raw_tag is None:
        return None
    parts = [head + frm + dest + b"\x83h\x02" + raw_tag]
    encode_parts(value, parts)
    return parts


def call_reply_parts(
    negotiated: int, sender: Pid, caller: Pid, tag: Any, value: Any
) -> list[bytes] | None:
    """Payload parts of the reply to a call from ``caller`` with ``tag``, as ``gen:reply/2`` does.

    To the tag's alias (ALIAS_SEND) when the tag is ``[alias | Ref]`` and
    the peer negotiated ALIAS, else to ``caller`` (SEND_SENDER).  ``None``
    when the fast path does not apply (any other tag shape included: the
    caller then routes the reply itself); the codec's ``EncodeError`` for a
    value with no Erlang form.
    """
    if negotiated & _HEADER_FLAGS:
        return None
    # {ok | error, Binary}, the reply of most mod_kazoo requests, is written
    # into the packet's first piece; anything else goes through the codec.
    body = b""
    if type(value) is tuple and len(value) == 2:
        first, second = value
        if type(first) is Atom and type(second) is bytes and len(second) < _SPLICE_MAX:
            atom = first._ext  # what the codec writes for it
            if atom is not None:
                body = b"h\x02" + atom + b"m" + _PACK_U32(len(second)) + second
    kind = type(tag)
    if kind is ImproperList:
        ref = tag.tail
        items = tag.items
        if type(ref) is not Reference or len(items) != 1 or items[0] is not _A_ALIAS:
            return None
        raw = _enc_ref(ref)
        if raw is None:
            return None
        if negotiated & _ALIAS:
            head = _alias_send_head(sender)
            if head is None:
                return None
            parts = [head + raw + _REPLY_ALIAS_HEAD + raw + body]
        else:
            head = _send_sender_head(sender, caller, negotiated)
            if head is None:
                return None
            parts = [head + _REPLY_ALIAS_HEAD + raw + body]
    elif kind is Reference:
        raw = _enc_ref(tag)
        head = _send_sender_head(sender, caller, negotiated)
        if raw is None or head is None:
            return None
        parts = [head + b"\x83h\x02" + raw + body]
    else:
        return None
    if not body:
        encode_parts(value, parts)
    return parts


# Binaries up to this size are copied into the reply's first piece (one piece
# per reply for the writer); bigger ones stay pieces of their own.
_SPLICE_MAX: Final = 4096


_REPLY_ALIAS_HEAD: Final = b"\x83h\x02" + _ALIAS_HEAD


_last_alias_head: tuple[Pid | None, bytes | None] = (None, None)


def _alias_send_head(sender: Pid) -> bytes | None:
    global _last_alias_head
    if _last_alias_head[0] is sender:
        return _last_alias_head[1]  # a server replies from the same pid over and over
    frm = _enc_pid(sender)
    head = None if frm is None else b"p\x83h\x03a\x21" + frm
    _last_alias_head = (sender, head)
    return head


def _send_sender_head(sender: Pid, caller: Pid, negotiated: int) -> bytes | None:
    if not negotiated & _SEND_SENDER:
        return None
    frm = _enc_pid(sender)
    to = _pid_bytes.get(caller)
    if to is None:
        to = _enc_pid(caller)
    if frm is None or to is None:
        return None
    return b"p\x83h\x03a\x16" + frm + to
