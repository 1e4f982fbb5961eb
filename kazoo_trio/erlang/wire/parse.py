"""Reading packets: :func:`read_packet`, the one way to turn a frame's payload into a message.

A packet (the payload of one frame; a tick is not one) holds a control tuple
``{Op, ...}`` and, for sends, payload exits and spawn requests, a second
term.  Without DIST_HDR_ATOM_CACHE and FRAGMENTS it is pass-through, ``'p',
131, Ctl, [131, Msg]``; with either negotiated every packet carries the
``131, 68`` distribution header, atom cache references included.

:func:`read_packet` returns one message class per operation; the ``_TT``
(trace token) and ``PAYLOAD_`` variants read as the same classes as the
plain ones.  A well-formed packet with an unknown operation or an unexpected
shape becomes :class:`~kazoo_trio.erlang.wire.messages.Unknown` (log and
ignore it); bytes that are not terms at all raise :class:`DistProtocolError`
(close the connection, as OTP does with "corrupted external term").

It owns the choice between the two ways of reading: pass-through packets of
the shapes every gen_server call produces go to the fixed-offset readers of
:mod:`~kazoo_trio.erlang.wire.hot` first, everything else (and whatever
those decline) to :func:`parse_general`, the general codec.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import attrs

from kazoo_trio.erlang.flags import DFlag
from kazoo_trio.erlang.wire.errors import DistProtocolError
from kazoo_trio.erlang.wire.hot import read_hot
from kazoo_trio.erlang.wire.messages import (
    ALIAS_SEND,
    ALIAS_SEND_TT,
    DEMONITOR_P,
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
    UNLINK,
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
from kazoo_trio.term import (
    Atom,
    DecodeError,
    Pid,
    Reference,
    decode_body,
    decode_prefixed,
)

__all__ = ["AtomCache", "parse_general", "read_packet"]

# Either flag switches every packet to the 131,68 header (flags.uses_dist_header).
_DIST_HEADER: Final = int(DFlag.DIST_HDR_ATOM_CACHE | DFlag.FRAGMENTS)
_NO_MSG: Final = object()  # a packet without a second term


def read_packet(
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
    (plus message) in the expected framing; returns
    :class:`~kazoo_trio.erlang.wire.messages.Unknown` for a well-formed
    packet with an unknown operation or shape.
    """
    data = payload if type(payload) is bytes else bytes(payload)
    if not negotiated & _DIST_HEADER:
        try:
            msg = read_hot(data)
        except DecodeError:
            msg = None  # the general parse says what is wrong with it
        if msg is not None:
            return msg
    return parse_general(data, negotiated=negotiated, atom_cache=atom_cache)


@attrs.define(eq=False)
class AtomCache:
    """One direction's atom cache of a connection using the ``131, 68`` header.

    Entries persist across packets, so the reader keeps one per connection.
    A slot is segment index * 256 + internal index (8 segments).
    """

    slots: list[Atom | None] = attrs.field(factory=lambda: [None] * 2048, repr=False)


def parse_general(
    payload: bytes | bytearray | memoryview,
    *,
    negotiated: int,
    atom_cache: AtomCache | None = None,
) -> ControlMessage:
    """:func:`read_packet` through the general codec only, whatever the packet.

    The hot shapes' readers must agree with it; the tests compare them here.
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
                atom = Atom.from_wire(text.decode("utf-8"))
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


def _is_proc(x: object) -> bool:
    return type(x) is Pid or type(x) is Atom


def _monitor(cls: type[MonitorP | DemonitorP]) -> _Parser:
    def parse(c: tuple[object, ...], m: object) -> ControlMessage | None:
        if (
            len(c) == 4
            and m is _NO_MSG
            and type(c[1]) is Pid
            and _is_proc(c[2])
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
        and _is_proc(c[1])
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
        and _is_proc(c[1])
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
        and _is_proc(c[4])
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
