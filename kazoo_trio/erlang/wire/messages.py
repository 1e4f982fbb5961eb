"""Distribution control messages as values: one class per operation.

A packet (the payload of one frame) holds a control tuple ``{Op, ...}`` and,
for sends, payload exits and spawn requests, a second term.  Each class here
is one operation; the ``_TT`` (trace token) and ``PAYLOAD_`` variants of an
operation are the same class, and :mod:`~kazoo_trio.erlang.wire.build` picks
the operation from the flags the peer negotiated.  A well-formed packet that
matches no class is an :class:`Unknown`, sent back out unchanged.
"""

from __future__ import annotations

from typing import Final

import attrs

from kazoo_trio.term import Atom, Pid, Reference

__all__ = [
    "EMPTY",
    "SPAWN_REPLY_LINK",
    "SPAWN_REPLY_MONITOR",
    "AliasSend",
    "ControlMessage",
    "DemonitorP",
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
    Sent raw by :func:`~kazoo_trio.erlang.wire.build.packet_parts`."""

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
