"""Distribution control messages: typed values, and their packets in both directions.

A packet (the payload of one 4-byte frame) holds a control tuple ``{Op, ...}``
and, for sends, payload exits and spawn requests, a second term.  Without the
DIST_HDR_ATOM_CACHE and FRAGMENTS flags (we never advertise them) a packet is
pass-through: ``'p', 131, Ctl, [131, Msg]``.  With either negotiated every
packet carries the ``131, 68`` distribution header instead; :func:`parse_packet`
reads that form too, atom cache references included, and :func:`packet_parts`
writes it with zero cache references (OTP accepts that).

:func:`parse_packet` returns one value class per operation; the ``_TT``
(trace token) and ``PAYLOAD_`` variants decode to the same classes as the
plain ones.  A well-formed packet with an unknown operation or an unexpected
shape becomes :class:`Unknown` (log and ignore it); bytes that are not terms
at all raise :class:`DistProtocolError` (close the connection, as OTP does
with "corrupted external term").

:func:`packet_parts` picks the operation from the negotiated flags
(PAYLOAD_EXIT vs EXIT, SEND_SENDER vs SEND) and raises ``ValueError`` for an
operation the peer did not negotiate, so the caller can fall back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import attrs

from kazoo_trio.erlang.flags import DFlag, flag_names, uses_dist_header
from kazoo_trio.erlang.framing import DistProtocolError
from kazoo_trio.term import (
    Atom,
    DecodeError,
    Pid,
    Reference,
    decode_body,
    decode_prefixed,
    encode_parts,
)

__all__ = [
    "EMPTY",
    "SPAWN_REPLY_LINK",
    "SPAWN_REPLY_MONITOR",
    "AliasSend",
    "AtomCache",
    "ControlMessage",
    "DemonitorP",
    "DistProtocolError",
    "Exit",
    "Exit2",
    "GroupLeader",
    "Link",
    "MonitorP",
    "MonitorPExit",
    "RegSend",
    "Send",
    "SendSender",
    "SpawnReply",
    "SpawnRequest",
    "Unknown",
    "Unlink",
    "UnlinkId",
    "UnlinkIdAck",
    "packet_parts",
    "parse_packet",
]

# Operation numbers (erts dist.h DOP_*).
LINK: Final = 1
SEND: Final = 2
EXIT: Final = 3
UNLINK: Final = 4
REG_SEND: Final = 6
GROUP_LEADER: Final = 7
EXIT2: Final = 8
SEND_TT: Final = 12
EXIT_TT: Final = 13
REG_SEND_TT: Final = 16
EXIT2_TT: Final = 18
MONITOR_P: Final = 19
DEMONITOR_P: Final = 20
MONITOR_P_EXIT: Final = 21
SEND_SENDER: Final = 22
SEND_SENDER_TT: Final = 23
PAYLOAD_EXIT: Final = 24
PAYLOAD_EXIT_TT: Final = 25
PAYLOAD_EXIT2: Final = 26
PAYLOAD_EXIT2_TT: Final = 27
PAYLOAD_MONITOR_P_EXIT: Final = 28
SPAWN_REQUEST: Final = 29
SPAWN_REQUEST_TT: Final = 30
SPAWN_REPLY: Final = 31
SPAWN_REPLY_TT: Final = 32
ALIAS_SEND: Final = 33
ALIAS_SEND_TT: Final = 34
UNLINK_ID: Final = 35
UNLINK_ID_ACK: Final = 36

# Either flag switches every packet to the 131,68 header (flags.uses_dist_header).
_DIST_HEADER: Final = (DFlag.DIST_HDR_ATOM_CACHE | DFlag.FRAGMENTS).value

# The "Unused" element of SEND and REG_SEND: erts writes the empty atom.
EMPTY: Final = Atom("")

# SPAWN_REPLY flag bits.
SPAWN_REPLY_LINK: Final = 1
SPAWN_REPLY_MONITOR: Final = 2


@attrs.frozen
class Link:
    from_pid: Pid
    to_pid: Pid


@attrs.frozen
class Unlink:
    """The pre-OTP-26 UNLINK (op 4).  Received from OTP 25 peers without UNLINK_ID; never sent."""

    from_pid: Pid
    to_pid: Pid


@attrs.frozen
class UnlinkId:
    id: int
    from_pid: Pid
    to_pid: Pid


@attrs.frozen
class UnlinkIdAck:
    id: int
    from_pid: Pid
    to_pid: Pid


@attrs.frozen
class Send:
    """SEND: ``to_pid ! message`` with no sender.  Use :class:`SendSender` when there is one."""

    to_pid: Pid
    message: object
    trace_token: object = None


@attrs.frozen
class SendSender:
    """``to_pid ! message`` from ``from_pid``: SEND_SENDER if negotiated, else a plain SEND."""

    from_pid: Pid
    to_pid: Pid
    message: object
    trace_token: object = None


@attrs.frozen
class RegSend:
    from_pid: Pid
    to_name: Atom
    message: object
    trace_token: object = None


@attrs.frozen
class AliasSend:
    """A message to an alias (the reply to an ``[alias | Ref]`` call tag); needs ALIAS."""

    from_pid: Pid
    alias: Reference
    message: object
    trace_token: object = None


@attrs.frozen
class Exit:
    """A link exit signal: EXIT, or PAYLOAD_EXIT when EXIT_PAYLOAD is negotiated."""

    from_pid: Pid
    to_pid: Pid
    reason: object
    trace_token: object = None


@attrs.frozen
class Exit2:
    """``exit(to_pid, reason)``: EXIT2, or PAYLOAD_EXIT2 when EXIT_PAYLOAD is negotiated."""

    from_pid: Pid
    to_pid: Pid
    reason: object
    trace_token: object = None


@attrs.frozen
class MonitorP:
    """``from_pid`` monitors ``to_proc`` (a pid, or a registered name on the receiver)."""

    from_pid: Pid
    to_proc: Pid | Atom
    ref: Reference


@attrs.frozen
class DemonitorP:
    from_pid: Pid
    to_proc: Pid | Atom
    ref: Reference


@attrs.frozen
class MonitorPExit:
    """The monitored process ended; ``from_proc`` is the name if it was monitored by name."""

    from_proc: Pid | Atom
    to_pid: Pid
    ref: Reference
    reason: object


@attrs.frozen
class SpawnRequest:
    """``spawn_request``/rpc from the peer: run ``module:function(*args)`` (needs SPAWN)."""

    req_id: Reference
    from_pid: Pid
    group_leader: Pid
    module: Atom
    function: Atom
    arity: int
    options: list[object]
    args: list[object]
    trace_token: object = None


@attrs.frozen
class SpawnReply:
    """The answer to a SPAWN_REQUEST: ``result`` is the new pid or an error atom.

    ``flags``: :data:`SPAWN_REPLY_LINK` and/or :data:`SPAWN_REPLY_MONITOR` set up.
    """

    req_id: Reference
    to_pid: Pid
    flags: int
    result: Pid | Atom
    trace_token: object = None


@attrs.frozen
class GroupLeader:
    from_pid: Pid
    to_pid: Pid


@attrs.frozen
class Unknown:
    """A decodable packet we do not understand: unknown ``op`` (``None`` if the
    control term is not a tuple starting with an integer) or a known op with an
    unexpected shape.  ``message`` is ``None`` when the packet had no second term.
    Sent raw by :func:`packet_parts`."""

    op: int | None
    control: object
    message: object | None


ControlMessage = (
    Link
    | Unlink
    | UnlinkId
    | UnlinkIdAck
    | Send
    | SendSender
    | RegSend
    | AliasSend
    | Exit
    | Exit2
    | MonitorP
    | DemonitorP
    | MonitorPExit
    | SpawnRequest
    | SpawnReply
    | GroupLeader
    | Unknown
)


@attrs.define(eq=False)
class AtomCache:
    """One direction's atom cache of a connection using the ``131, 68`` header.

    Entries persist across packets, so the reader keeps one per connection.
    A slot is segment index * 256 + internal index (8 segments).
    """

    slots: list[Atom | None] = attrs.field(factory=lambda: [None] * 2048, repr=False)


# ---------------------------------------------------------------------------
# Receiving

_NO_MSG: Final = object()  # a packet without a second term


def parse_packet(
    payload: bytes | bytearray | memoryview,
    *,
    negotiated: int,
    atom_cache: AtomCache | None = None,
) -> ControlMessage:
    """Decode one packet (a frame's payload; not a tick) into a control message.

    ``negotiated`` decides the framing (pass-through or header).  With the
    header form, ``atom_cache`` carries cache entries between packets of one
    connection; without one, packets that refer to earlier entries fail.

    Raises :class:`DistProtocolError` when the bytes are not a control term
    (plus message) in the expected framing; returns :class:`Unknown` for a
    well-formed packet with an unknown operation or shape.
    """
    data = payload if isinstance(payload, bytes) else bytes(payload)
    size = len(data)
    if not size:
        raise DistProtocolError("empty packet (a tick is not a control message)")
    try:
        if negotiated & _DIST_HEADER:
            offset, refs = _read_header(data, atom_cache or AtomCache())
            ctl, end = decode_body(data, offset, atom_refs=refs)
            msg: object = _NO_MSG
            if end < size:
                msg, end = decode_body(data, end, atom_refs=refs)
        else:
            if data[0] != 112:  # 'p'
                raise DistProtocolError(
                    f"expected a pass-through packet starting with 'p', got byte {data[0]}"
                    + (" (a distribution header)" if data[:2] == b"\x83D" else "")
                )
            ctl, end = decode_prefixed(data, 1)
            msg = _NO_MSG
            if end < size:
                msg, end = decode_prefixed(data, end)
    except DecodeError as exc:
        raise DistProtocolError(f"corrupted external term in packet: {exc}") from exc
    if end != size:
        raise DistProtocolError(f"{size - end} bytes left over after the message term")
    if type(ctl) is tuple and ctl and type(ctl[0]) is int:
        op: int = ctl[0]
        parser = _PARSERS.get(op)
        if parser is not None:
            parsed = parser(ctl, msg)
            if parsed is not None:
                return parsed
        return Unknown(op, ctl, None if msg is _NO_MSG else msg)
    return Unknown(None, ctl, None if msg is _NO_MSG else msg)


def _read_header(data: bytes, cache: AtomCache) -> tuple[int, list[Atom]]:
    if len(data) < 3 or data[0] != 131:
        raise DistProtocolError("expected a distribution header (131, 68)")
    kind = data[1]
    if kind in (69, 70):
        raise DistProtocolError("fragmented message, but FRAGMENTS is not supported")
    if kind != 68:
        raise DistProtocolError(f"expected a distribution header (131, 68), got 131, {kind}")
    count = data[2]
    offset = 3
    refs: list[Atom] = []
    if not count:
        return offset, refs
    flags = data[offset : offset + count // 2 + 1]
    offset += count // 2 + 1
    if len(flags) != count // 2 + 1:
        raise DistProtocolError("distribution header truncated in its flags")
    long_atoms = (flags[count // 2] >> (4 * (count % 2))) & 1
    slots = cache.slots
    try:
        for i in range(count):
            nibble = (flags[i // 2] >> (4 * (i % 2))) & 0xF
            slot = (nibble & 7) * 256 + data[offset]
            offset += 1
            if nibble & 8:
                if long_atoms:
                    length = (data[offset] << 8) | data[offset + 1]
                    offset += 2
                else:
                    length = data[offset]
                    offset += 1
                text = data[offset : offset + length]
                if len(text) != length:
                    raise DistProtocolError("distribution header truncated in an atom")
                offset += length
                atom = Atom(text.decode("utf-8"))
                slots[slot] = atom
            else:
                cached = slots[slot]
                if cached is None:
                    raise DistProtocolError(f"atom cache reference to empty slot {slot}")
                atom = cached
            refs.append(atom)
    except IndexError:
        raise DistProtocolError("distribution header truncated") from None
    except UnicodeDecodeError:
        raise DistProtocolError("atom in distribution header is not UTF-8") from None
    return offset, refs


_Parser = Callable[[tuple[object, ...], object], "ControlMessage | None"]


def _pair(cls: type[Link | Unlink | GroupLeader]) -> _Parser:
    def parse(c: tuple[object, ...], m: object) -> ControlMessage | None:
        if len(c) == 3 and m is _NO_MSG and type(c[1]) is Pid and type(c[2]) is Pid:
            return cls(c[1], c[2])
        return None

    return parse


def _unlink_id(cls: type[UnlinkId | UnlinkIdAck]) -> _Parser:
    def parse(c: tuple[object, ...], m: object) -> ControlMessage | None:
        if (
            len(c) == 4
            and m is _NO_MSG
            and type(c[1]) is int
            and type(c[2]) is Pid
            and type(c[3]) is Pid
        ):
            return cls(c[1], c[2], c[3])
        return None

    return parse


def _send(c: tuple[object, ...], m: object) -> ControlMessage | None:
    # {2, Unused, To} / {12, Unused, To, Token}
    n = len(c)
    if m is not _NO_MSG and n == (3 if c[0] == SEND else 4) and type(c[2]) is Pid:
        return Send(c[2], m, c[3] if n == 4 else None)
    return None


def _send_sender(c: tuple[object, ...], m: object) -> ControlMessage | None:
    # {22, From, To} / {23, From, To, Token}
    n = len(c)
    if (
        m is not _NO_MSG
        and n == (3 if c[0] == SEND_SENDER else 4)
        and type(c[1]) is Pid
        and type(c[2]) is Pid
    ):
        return SendSender(c[1], c[2], m, c[3] if n == 4 else None)
    return None


def _reg_send(c: tuple[object, ...], m: object) -> ControlMessage | None:
    # {6, From, Unused, ToName} / {16, From, Unused, ToName, Token}
    n = len(c)
    if (
        m is not _NO_MSG
        and n == (4 if c[0] == REG_SEND else 5)
        and type(c[1]) is Pid
        and type(c[3]) is Atom
    ):
        return RegSend(c[1], c[3], m, c[4] if n == 5 else None)
    return None


def _alias_send(c: tuple[object, ...], m: object) -> ControlMessage | None:
    # {33, From, Alias} / {34, From, Alias, Token}
    n = len(c)
    if (
        m is not _NO_MSG
        and n == (3 if c[0] == ALIAS_SEND else 4)
        and type(c[1]) is Pid
        and type(c[2]) is Reference
    ):
        return AliasSend(c[1], c[2], m, c[3] if n == 4 else None)
    return None


def _exit(cls: type[Exit | Exit2], plain: int) -> _Parser:
    # {3, From, To, Reason} / {13, From, To, Token, Reason}
    def parse(c: tuple[object, ...], m: object) -> ControlMessage | None:
        n = len(c)
        if (
            m is _NO_MSG
            and n == (4 if c[0] == plain else 5)
            and type(c[1]) is Pid
            and type(c[2]) is Pid
        ):
            return cls(c[1], c[2], c[-1], c[3] if n == 5 else None)
        return None

    return parse


def _payload_exit(cls: type[Exit | Exit2], plain: int) -> _Parser:
    # {24, From, To} + Reason / {25, From, To, Token} + Reason
    def parse(c: tuple[object, ...], m: object) -> ControlMessage | None:
        n = len(c)
        if (
            m is not _NO_MSG
            and n == (3 if c[0] == plain else 4)
            and type(c[1]) is Pid
            and type(c[2]) is Pid
        ):
            return cls(c[1], c[2], m, c[3] if n == 4 else None)
        return None

    return parse


def _proc(x: object) -> bool:
    return type(x) is Pid or type(x) is Atom


def _monitor(cls: type[MonitorP | DemonitorP]) -> _Parser:
    def parse(c: tuple[object, ...], m: object) -> ControlMessage | None:
        if (
            len(c) == 4
            and m is _NO_MSG
            and type(c[1]) is Pid
            and _proc(c[2])
            and type(c[3]) is Reference
        ):
            return cls(c[1], c[2], c[3])  # type: ignore[arg-type]
        return None

    return parse


def _monitor_p_exit(c: tuple[object, ...], m: object) -> ControlMessage | None:
    # {21, FromProc, To, Ref, Reason}
    if (
        len(c) == 5
        and m is _NO_MSG
        and _proc(c[1])
        and type(c[2]) is Pid
        and type(c[3]) is Reference
    ):
        return MonitorPExit(c[1], c[2], c[3], c[4])  # type: ignore[arg-type]
    return None


def _payload_monitor_p_exit(c: tuple[object, ...], m: object) -> ControlMessage | None:
    # {28, FromProc, To, Ref} + Reason
    if (
        len(c) == 4
        and m is not _NO_MSG
        and _proc(c[1])
        and type(c[2]) is Pid
        and type(c[3]) is Reference
    ):
        return MonitorPExit(c[1], c[2], c[3], m)  # type: ignore[arg-type]
    return None


def _spawn_request(c: tuple[object, ...], m: object) -> ControlMessage | None:
    # {29, ReqId, From, GroupLeader, {M, F, Arity}, Opts} + Args, _TT: + Token
    n = len(c)
    if n != (6 if c[0] == SPAWN_REQUEST else 7) or type(m) is not list:
        return None
    req_id, from_pid, leader, mfa, opts = c[1:6]
    if not (
        type(req_id) is Reference
        and type(from_pid) is Pid
        and type(leader) is Pid
        and type(mfa) is tuple
        and len(mfa) == 3
        and type(mfa[0]) is Atom
        and type(mfa[1]) is Atom
        and type(mfa[2]) is int
        and type(opts) is list
    ):
        return None
    return SpawnRequest(
        req_id, from_pid, leader, mfa[0], mfa[1], mfa[2], opts, m, c[6] if n == 7 else None
    )


def _spawn_reply(c: tuple[object, ...], m: object) -> ControlMessage | None:
    # {31, ReqId, To, Flags, Result}, _TT: + Token
    n = len(c)
    if (
        m is _NO_MSG
        and n == (5 if c[0] == SPAWN_REPLY else 6)
        and type(c[1]) is Reference
        and type(c[2]) is Pid
        and type(c[3]) is int
        and _proc(c[4])
    ):
        return SpawnReply(c[1], c[2], c[3], c[4], c[5] if n == 6 else None)  # type: ignore[arg-type]
    return None


_PARSERS: dict[int, _Parser] = {
    LINK: _pair(Link),
    SEND: _send,
    EXIT: _exit(Exit, EXIT),
    UNLINK: _pair(Unlink),
    REG_SEND: _reg_send,
    GROUP_LEADER: _pair(GroupLeader),
    EXIT2: _exit(Exit2, EXIT2),
    SEND_TT: _send,
    EXIT_TT: _exit(Exit, EXIT),
    REG_SEND_TT: _reg_send,
    EXIT2_TT: _exit(Exit2, EXIT2),
    MONITOR_P: _monitor(MonitorP),
    DEMONITOR_P: _monitor(DemonitorP),
    MONITOR_P_EXIT: _monitor_p_exit,
    SEND_SENDER: _send_sender,
    SEND_SENDER_TT: _send_sender,
    PAYLOAD_EXIT: _payload_exit(Exit, PAYLOAD_EXIT),
    PAYLOAD_EXIT_TT: _payload_exit(Exit, PAYLOAD_EXIT),
    PAYLOAD_EXIT2: _payload_exit(Exit2, PAYLOAD_EXIT2),
    PAYLOAD_EXIT2_TT: _payload_exit(Exit2, PAYLOAD_EXIT2),
    PAYLOAD_MONITOR_P_EXIT: _payload_monitor_p_exit,
    SPAWN_REQUEST: _spawn_request,
    SPAWN_REQUEST_TT: _spawn_request,
    SPAWN_REPLY: _spawn_reply,
    SPAWN_REPLY_TT: _spawn_reply,
    ALIAS_SEND: _alias_send,
    ALIAS_SEND_TT: _alias_send,
    UNLINK_ID: _unlink_id(UnlinkId),
    UNLINK_ID_ACK: _unlink_id(UnlinkIdAck),
}


# ---------------------------------------------------------------------------
# Sending

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

    No length prefix (see ``framing.frame_parts``).  Raises ``ValueError`` if
    ``msg`` needs a capability the peer did not negotiate (ALIAS_SEND without
    ALIAS, monitors without DIST_MONITOR and DIST_MONITOR_NAME, spawn messages
    without SPAWN) or is the obsolete UNLINK; the term codec's ``EncodeError``
    for values with no Erlang form.
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
    header = uses_dist_header(negotiated)
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
