"""The distribution's wire formats after the handshake, sans I/O (in the style of h11).

| module | holds |
|---|---|
| :mod:`.messages` | control messages as values, one class per operation |
| :mod:`.parse` | :func:`read_packet`, the one way to read a packet, and the general parse |
| :mod:`.hot` | fixed-offset readers of the gen_server call packets, for read_packet and the node |
| :mod:`.build` | :func:`packet_parts`, and gen_server replies written without the codec |
| :mod:`.frames` | :class:`FrameSplitter` (what the reader splits frames with), ticks |
| :mod:`.errors` | :class:`DistProtocolError`, :class:`FrameTooLarge` |
"""

from __future__ import annotations

from kazoo_trio.erlang.wire.build import call_reply_parts, packet_parts, reply_parts
from kazoo_trio.erlang.wire.errors import DistProtocolError, FrameTooLarge
from kazoo_trio.erlang.wire.frames import (
    DEFAULT_MAX_FRAME,
    TICK,
    FrameSplitter,
    frame,
    frame_header,
    frame_parts,
)
from kazoo_trio.erlang.wire.hot import (
    HOT_HEAD,
    gen_call,
    monitor_key,
    read_monitor,
    read_reg_send,
)
from kazoo_trio.erlang.wire.messages import (
    EMPTY,
    SPAWN_REPLY_LINK,
    SPAWN_REPLY_MONITOR,
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
from kazoo_trio.erlang.wire.parse import AtomCache, read_packet

__all__ = [
    "DEFAULT_MAX_FRAME",
    "EMPTY",
    "HOT_HEAD",
    "SPAWN_REPLY_LINK",
    "SPAWN_REPLY_MONITOR",
    "TICK",
    "AliasSend",
    "AtomCache",
    "ControlMessage",
    "DemonitorP",
    "DistProtocolError",
    "Exit",
    "Exit2",
    "FrameSplitter",
    "FrameTooLarge",
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
    "call_reply_parts",
    "frame",
    "frame_header",
    "frame_parts",
    "gen_call",
    "monitor_key",
    "packet_parts",
    "read_monitor",
    "read_packet",
    "read_reg_send",
    "reply_parts",
]
