"""Writing packets: control messages, and the replies of gen_server calls without the codec.

:func:`packet_parts` writes any control message.  It picks the operation from
the negotiated flags (PAYLOAD_EXIT vs EXIT, SEND_SENDER vs SEND) and raises
``ValueError`` for an operation the peer did not negotiate, so the caller can
fall back.  Without DIST_HDR_ATOM_CACHE and FRAGMENTS (we never advertise
them) a packet is pass-through, ``'p', 131, Ctl, [131, Msg]``; with either it
starts with the ``131, 68`` header with zero atom cache references (OTP
accepts that).

:func:`call_reply_parts` and :func:`reply_parts` write the reply to a
gen_server call, the one packet every call costs in this direction, from
cached pieces (the server's pid, the caller's pid, the atoms) with fixed
layouts; ``{ok | error, Binary}``, the reply of most mod_kazoo requests, is
written into the packet's first piece.  They return ``None`` for anything
they do not handle, and the caller then uses :func:`packet_parts`: the tests
compare both byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from struct import Struct
from typing import Any, Final

from kazoo_trio.erlang.flags import DFlag, flag_names
from kazoo_trio.erlang.wire.messages import (
    ALIAS_SEND,
    ALIAS_SEND_TT,
    DEMONITOR_P,
    EMPTY,
    EXIT,
    EXIT2,
    EXIT2_TT,
    EXIT_TT,
    GROUP_LEADER,
    LINK,
    MONITOR_P,
    MONITOR_P_EXIT,
    PAYLOAD_EXIT,
    PAYLOAD_EXIT2,
    PAYLOAD_EXIT2_TT,
    PAYLOAD_EXIT_TT,
    PAYLOAD_MONITOR_P_EXIT,
    REG_SEND,
    REG_SEND_TT,
    SEND,
    SEND_SENDER,
    SEND_SENDER_TT,
    SEND_TT,
    SPAWN_REPLY,
    SPAWN_REPLY_TT,
    SPAWN_REQUEST,
    SPAWN_REQUEST_TT,
    UNLINK_ID,
    UNLINK_ID_ACK,
    AliasSend,
    ControlMessage,
    DemonitorP,
    Exit,
    Exit2,
    GroupLeader,
    Link,
    MonitorP,
    MonitorPExit,
    RegSend,
    Send,
    SendSender,
    SpawnReply,
    SpawnRequest,
    Unknown,
    Unlink,
    UnlinkId,
    UnlinkIdAck,
)
from kazoo_trio.term import Atom, ImproperList, Pid, Reference, encode_parts

__all__ = [
    "ALIAS_TAG_HEAD",
    "call_reply_parts",
    "packet_parts",
    "ref_bytes",
    "reply_parts",
]

# Either flag switches every packet to the 131,68 header (flags.uses_dist_header).
_DIST_HEADER: Final = int(DFlag.DIST_HDR_ATOM_CACHE | DFlag.FRAGMENTS)
_ALIAS: Final = int(DFlag.ALIAS)
_SEND_SENDER: Final = int(DFlag.SEND_SENDER)
_NO_MSG: Final = object()  # a packet without a second term

_PASS_THROUGH: Final = b"p\x83"
_HEADER: Final = b"\x83D\x00"  # distribution header with no atom cache references
_MONITORS: Final = (DFlag.DIST_MONITOR | DFlag.DIST_MONITOR_NAME).value

# Packet starts up to the op: framing, SMALL_TUPLE_EXT with the arity (op
# plus ``n`` fields), SMALL_INTEGER_EXT op; indexed [op][n].
_PASS_THROUGH_HEADS: Final = [
    [_PASS_THROUGH + bytes((104, n + 1, 97, op)) for n in range(7)] for op in range(40)
]
_HEADER_HEADS: Final = [
    [_HEADER + bytes((104, n + 1, 97, op)) for n in range(7)] for op in range(40)
]

# (op, fields) of a control tuple, and the second term (or _NO_MSG).
_Control = tuple[int, tuple[object, ...], object]


def packet_parts(msg: ControlMessage, *, negotiated: int) -> list[bytes]:
    """The payload of one frame for ``msg``, in pieces to be joined by the writer.

    No length prefix (see :func:`~kazoo_trio.erlang.wire.frames.frame_parts`).
    Raises ``ValueError`` if ``msg`` needs a capability the peer did not
    negotiate (ALIAS_SEND without ALIAS, monitors without DIST_MONITOR and
    DIST_MONITOR_NAME, spawn messages without SPAWN) or is the obsolete
    UNLINK; the term codec's ``EncodeError`` for values with no Erlang form.
    """
    encoder = _ENCODERS.get(type(msg))
    if encoder is None:
        if type(msg) is Unknown:
            return _raw_parts(msg, negotiated)
        raise TypeError(f"not a control message: {type(msg).__name__}")
    op, fields, second = encoder(msg, negotiated)
    header = negotiated & _DIST_HEADER
    # The tuple is never built: its head is a constant, its elements go
    # straight out.
    parts = [(_HEADER_HEADS if header else _PASS_THROUGH_HEADS)[op][len(fields)]]
    for field in fields:
        encode_parts(field, parts)
    if second is not _NO_MSG:
        if not header:
            parts.append(b"\x83")
        encode_parts(second, parts)
    return parts


def _raw_parts(msg: Unknown, negotiated: int) -> list[bytes]:
    header = negotiated & _DIST_HEADER
    parts = [_HEADER if header else _PASS_THROUGH]
    encode_parts(msg.control, parts)
    if msg.message is not None:
        if not header:
            parts.append(b"\x83")
        encode_parts(msg.message, parts)
    return parts


def _need(negotiated: int, flags: int, what: str) -> None:
    if negotiated & flags != flags:
        missing = "|".join(flag_names(flags & ~negotiated))
        raise ValueError(f"{what} needs {missing}, which the peer did not negotiate")


def _enc_link(m: Link, neg: int) -> _Control:
    return LINK, (m.from_pid, m.to_pid), _NO_MSG


def _enc_group_leader(m: GroupLeader, neg: int) -> _Control:
    return GROUP_LEADER, (m.from_pid, m.to_pid), _NO_MSG


def _enc_unlink(m: Unlink, neg: int) -> _Control:
    raise ValueError("UNLINK (op 4) is obsolete and refused by OTP 26+; send UnlinkId")


def _enc_unlink_id(m: UnlinkId | UnlinkIdAck, neg: int) -> _Control:
    _need(neg, DFlag.UNLINK_ID, "UNLINK_ID")
    op = UNLINK_ID if type(m) is UnlinkId else UNLINK_ID_ACK
    return op, (m.id, m.from_pid, m.to_pid), _NO_MSG


def _enc_send(m: Send, neg: int) -> _Control:
    if m.trace_token is None:
        return SEND, (EMPTY, m.to_pid), m.message
    return SEND_TT, (EMPTY, m.to_pid, m.trace_token), m.message


def _enc_send_sender(m: SendSender, neg: int) -> _Control:
    if not neg & DFlag.SEND_SENDER:
        return _enc_send(Send(m.to_pid, m.message, m.trace_token), neg)
    if m.trace_token is None:
        return SEND_SENDER, (m.from_pid, m.to_pid), m.message
    return SEND_SENDER_TT, (m.from_pid, m.to_pid, m.trace_token), m.message


def _enc_reg_send(m: RegSend, neg: int) -> _Control:
    if m.trace_token is None:
        return REG_SEND, (m.from_pid, EMPTY, m.to_name), m.message
    return REG_SEND_TT, (m.from_pid, EMPTY, m.to_name, m.trace_token), m.message


def _enc_alias_send(m: AliasSend, neg: int) -> _Control:
    _need(neg, DFlag.ALIAS, "ALIAS_SEND")
    if m.trace_token is None:
        return ALIAS_SEND, (m.from_pid, m.alias), m.message
    return ALIAS_SEND_TT, (m.from_pid, m.alias, m.trace_token), m.message


def _enc_exit(m: Exit | Exit2, neg: int) -> _Control:
    plain = type(m) is Exit
    token = m.trace_token
    if neg & DFlag.EXIT_PAYLOAD:
        if token is None:
            return (PAYLOAD_EXIT if plain else PAYLOAD_EXIT2), (m.from_pid, m.to_pid), m.reason
        op = PAYLOAD_EXIT_TT if plain else PAYLOAD_EXIT2_TT
        return op, (m.from_pid, m.to_pid, token), m.reason
    if token is None:
        return (EXIT if plain else EXIT2), (m.from_pid, m.to_pid, m.reason), _NO_MSG
    return (EXIT_TT if plain else EXIT2_TT), (m.from_pid, m.to_pid, token, m.reason), _NO_MSG


def _enc_monitor(m: MonitorP | DemonitorP, neg: int) -> _Control:
    _need(neg, _MONITORS, "MONITOR_P/DEMONITOR_P")
    op = MONITOR_P if type(m) is MonitorP else DEMONITOR_P
    return op, (m.from_pid, m.to_proc, m.ref), _NO_MSG


def _enc_monitor_p_exit(m: MonitorPExit, neg: int) -> _Control:
    _need(neg, _MONITORS, "MONITOR_P_EXIT")
    if neg & DFlag.EXIT_PAYLOAD:
        return PAYLOAD_MONITOR_P_EXIT, (m.from_proc, m.to_pid, m.ref), m.reason
    return MONITOR_P_EXIT, (m.from_proc, m.to_pid, m.ref, m.reason), _NO_MSG


def _enc_spawn_request(m: SpawnRequest, neg: int) -> _Control:
    _need(neg, DFlag.SPAWN, "SPAWN_REQUEST")
    fields: tuple[object, ...] = (
        m.req_id,
        m.from_pid,
        m.group_leader,
        (m.module, m.function, m.arity),
        m.options,
    )
    if m.trace_token is None:
        return SPAWN_REQUEST, fields, m.args
    return SPAWN_REQUEST_TT, (*fields, m.trace_token), m.args


def _enc_spawn_reply(m: SpawnReply, neg: int) -> _Control:
    _need(neg, DFlag.SPAWN, "SPAWN_REPLY")
    fields = (m.req_id, m.to_pid, m.flags, m.result)
    if m.trace_token is None:
        return SPAWN_REPLY, fields, _NO_MSG
    return SPAWN_REPLY_TT, (*fields, m.trace_token), _NO_MSG


_ENCODERS: dict[type, Callable[[Any, int], _Control]] = {
    Link: _enc_link,
    GroupLeader: _enc_group_leader,
    Unlink: _enc_unlink,
    UnlinkId: _enc_unlink_id,
    UnlinkIdAck: _enc_unlink_id,
    Send: _enc_send,
    SendSender: _enc_send_sender,
    RegSend: _enc_reg_send,
    AliasSend: _enc_alias_send,
    Exit: _enc_exit,
    Exit2: _enc_exit,
    MonitorP: _enc_monitor,
    DemonitorP: _enc_monitor,
    MonitorPExit: _enc_monitor_p_exit,
    SpawnRequest: _enc_spawn_request,
    SpawnReply: _enc_spawn_reply,
}

# ---------------------------------------------------------------------------
# gen_server replies without the codec

_PACK_U32: Final = Struct(">I").pack
_PACK_REF3: Final = Struct(">IIII").pack  # creation + 3 id words
_A_ALIAS: Final = Atom("alias")
# ``[alias | `` of an OTP 24+ call tag, up to its reference.
ALIAS_TAG_HEAD: Final = b"l\x00\x00\x00\x01w\x05alias"
_REPLY_ALIAS_HEAD: Final = b"\x83h\x02" + ALIAS_TAG_HEAD
# Binaries up to this size are copied into the reply's first piece (one piece
# per reply for the writer); bigger ones stay pieces of their own.
_SPLICE_MAX: Final = 4096

# Caches keyed by the value; bounded so a peer cannot grow them without
# limit (they are simply emptied when full).
_CACHE_MAX: Final = 65536
_pid_bytes: dict[Pid, bytes] = {}
_atom_bytes: dict[Atom, bytes] = {}
_last_pid: Pid | None = None
_last_pid_bytes: bytes | None = None


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


def ref_bytes(ref: Reference) -> bytes | None:
    """``ref`` as a NEWER_REFERENCE_EXT with three words and a small UTF-8 node atom, else None.

    That is how OTP writes the references of calls; the reader keys a call's
    monitor by these bytes (see :func:`~kazoo_trio.erlang.wire.parse.read_monitor`).
    """
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
        return ref_bytes(tag)
    if type(tag) is ImproperList and tag.items == (_A_ALIAS,) and type(tag.tail) is Reference:
        ref = ref_bytes(tag.tail)
        return None if ref is None else ALIAS_TAG_HEAD + ref
    return None


def reply_parts(
    negotiated: int, sender: Pid, to: Pid | Reference, tag: Any, value: Any
) -> list[bytes] | None:
    """Payload parts of the reply ``{Tag, Value}`` as SEND_SENDER (to a pid) or ALIAS_SEND.

    ``None`` when the fast path does not apply (header framing, unusual tag
    or identifiers); the codec's ``EncodeError`` for a value with no Erlang form.
    """
    if negotiated & _DIST_HEADER:
        return None
    frm = _enc_pid(sender)
    if frm is None:
        return None
    if isinstance(to, Reference):
        if not negotiated & _ALIAS:
            return None
        dest = ref_bytes(to)
        head = b"p\x83h\x03a\x21"
        # The usual case: the alias is the tag's own reference, encoded once.
        if type(tag) is ImproperList and tag.tail is to and tag.items == (_A_ALIAS,):
            raw_tag = None if dest is None else ALIAS_TAG_HEAD + dest
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
    if negotiated & _DIST_HEADER:
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
        raw = ref_bytes(ref)
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
        raw = ref_bytes(tag)
        head = _send_sender_head(sender, caller, negotiated)
        if raw is None or head is None:
            return None
        parts = [head + b"\x83h\x02" + raw + body]
    else:
        return None
    if not body:
        encode_parts(value, parts)
    return parts


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
