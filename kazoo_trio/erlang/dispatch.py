"""Control messages from peers, applied to the local processes.

:class:`Dispatcher` is what every connection hands its incoming packets to:
:meth:`Dispatcher.on_packet` takes the packets of a gen_server call straight
from their bytes (the hot path), :meth:`Dispatcher.on_frame` takes every
other control message once parsed.  Messages are delivered through the
:class:`~kazoo_trio.erlang.process_table.ProcessTable`, links and monitors
go to the :class:`~kazoo_trio.erlang.links.LinkTable`, and what they set off
is carried out by :class:`~kazoo_trio.erlang.signals.Signals`.  Direct answers
go back on the connection the message came from: ``noproc`` for links and
monitors on what does not exist, ``UNLINK_ID_ACK`` before anything else,
``notsup`` for spawn requests.  ``exit/2`` signals to a process that ignores
them (:attr:`~kazoo_trio.erlang.process.Process.ignore_exit2`) are counted and
dropped here.

Everything here runs synchronously in a connection's reader and never blocks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from kazoo_trio.erlang.connection import Connection
from kazoo_trio.erlang.flags import DFlag
from kazoo_trio.erlang.links import A_NOPROC, LinkTable
from kazoo_trio.erlang.process import Envelope, Process, ProcessExit
from kazoo_trio.erlang.process_table import ProcessTable
from kazoo_trio.erlang.signals import Signals
from kazoo_trio.erlang.wire import HOT_HEAD, monitor_key, read_monitor, read_reg_send
from kazoo_trio.erlang.wire import messages as c
from kazoo_trio.erlang.wire.messages import DEMONITOR_P, MONITOR_P, REG_SEND
from kazoo_trio.ratelimit import RateLimitedLog
from kazoo_trio.term.types import Atom, Pid

__all__ = ["Dispatcher"]

log = logging.getLogger("kazoo_trio.erlang.dispatch")

A_NOTSUP = Atom("notsup")


@attrs.define(eq=False)
class Dispatcher:
    """Applies incoming control messages to the local processes of node ``name``."""

    name: Atom
    processes: ProcessTable
    links: LinkTable
    signals: Signals
    _handlers: dict[type, Callable[[Connection, Any], None]] = attrs.field(init=False)
    # What on_packet needs, bound once: it runs for every packet of every call.
    _by_name: dict[Atom, Process] = attrs.field(init=False)
    _remote_monitor: Callable[[Pid, bytes, Pid, Pid | Atom], bool] = attrs.field(init=False)
    _remote_demonitor: Callable[[Pid, bytes], bool] = attrs.field(init=False)
    _exit2_log: RateLimitedLog = attrs.field(init=False)
    # Processes given messages by a reader that drains them after its read
    # (see Process.deliver_from_reader); shared by the readers of all connections.
    _due: list[Process] = attrs.field(factory=list, init=False)

    def __attrs_post_init__(self) -> None:
        self._by_name = self.processes.by_name
        self._remote_monitor = self.links.remote_monitor
        self._remote_demonitor = self.links.remote_demonitor
        self._exit2_log = RateLimitedLog(log)
        self._handlers = {
            c.Send: self._on_send,
            c.SendSender: self._on_send_sender,
            c.RegSend: self._on_reg_send,
            c.AliasSend: self._on_alias_send,
            c.Link: self._on_link,
            c.Unlink: self._on_unlink,
            c.UnlinkId: self._on_unlink_id,
            c.UnlinkIdAck: self._on_unlink_id_ack,
            c.Exit: self._on_exit,
            c.Exit2: self._on_exit2,
            c.MonitorP: self._on_monitor,
            c.DemonitorP: self._on_demonitor,
            c.MonitorPExit: self._on_monitor_exit,
            c.SpawnRequest: self._on_spawn_request,
            c.GroupLeader: self._on_group_leader,
        }

    # -- what connections call -----------------------------------------------------------------

    def on_packet(self, conn: Connection, data: bytes) -> bool:
        """Handle a pass-through packet of a gen_server call here; False if it is not one.

        MONITOR_P and DEMONITOR_P on a live local process, and REG_SEND to a
        registered name, are applied straight from the packet bytes with the
        same effect as their general handlers; a monitor is keyed by its
        reference's bytes (see :func:`~kazoo_trio.erlang.wire.read_monitor`).
        Everything else, including the error answers (``noproc``), is left to
        the general parser and :meth:`on_frame`.  Raises the codec's
        ``DecodeError`` for a message that is not a valid term.
        """
        # HOT_HEAD ends just before the operation byte, which a truncated packet lacks.
        if len(data) <= len(HOT_HEAD) or not data.startswith(HOT_HEAD):
            return False
        op = data[5]
        if op == REG_SEND:
            sent = read_reg_send(data)
            if sent is None:
                return False
            proc = self._by_name.get(sent[1])
            if proc is None:
                return False
            proc.deliver_from_reader(Envelope(sent[0], sent[2]), self._due)
            return True
        if op in (MONITOR_P, DEMONITOR_P):
            mon = read_monitor(data)
            if mon is None:
                return False
            target = mon[1]
            if isinstance(target, Atom):
                proc = self._by_name.get(target)
                if proc is None:
                    return False
                # A registered process has its record in the link table from
                # before it is registered until after it is not: the record is
                # at hand, no need to look its pid up (as remote_monitor and
                # remote_demonitor would).
                monitored_by = proc.link_state.monitored_by
                if op == MONITOR_P:
                    monitored_by[mon[2]] = (mon[0], target)
                    return True
                return monitored_by.pop(mon[2], None) is not None
            if op == MONITOR_P:
                return self._remote_monitor(target, mon[2], mon[0], target)
            return self._remote_demonitor(target, mon[2])
        return False

    def on_frame(self, conn: Connection, msg: Any) -> None:
        """Handle a parsed control message (unsupported ones are logged and dropped)."""
        handler = self._handlers.get(type(msg))
        if handler is None:
            log.warning("ignoring unsupported control message from %s: %r", conn.peer, msg)
            return
        handler(conn, msg)

    def after_read(self, conn: Connection, failed: bool) -> Awaitable[None] | None:
        """What a reader awaits after handing over the packets of one read, before it
        blocks: the drains of the processes it delivered to (None: nothing to do).
        After a read that ``failed`` half-way, those processes are only woken."""
        if not self._due:
            return None
        if failed:
            self._wake_due()
            return None
        return self._drain_due()

    async def _drain_due(self) -> None:
        due = self._due
        try:
            while due:
                proc = due.pop(0)
                try:
                    await proc.drain()
                except ProcessExit:
                    pass  # the process's own task meets it too
                except Exception:
                    log.exception("draining %r failed; its task takes over", proc)
        finally:
            self._wake_due()

    def _wake_due(self) -> None:
        due = self._due
        while due:
            due.pop().wake_instead_of_draining()

    def node_lost(self, peer: Atom, reason: object) -> None:
        """The connection to ``peer`` ended (or never came up)."""
        self.signals.node_lost(peer, reason)

    # -- handlers ------------------------------------------------------------------------------

    def _target(self, target: Pid | Atom) -> Process | None:
        processes = self.processes
        if isinstance(target, Pid):
            return processes.by_pid.get(target)
        return processes.by_name.get(target)

    def _on_send(self, conn: Connection, msg: c.Send) -> None:
        proc = self.processes.by_pid.get(msg.to_pid)
        if proc is not None:
            proc.deliver(Envelope(None, msg.message))

    def _on_send_sender(self, conn: Connection, msg: c.SendSender) -> None:
        proc = self.processes.by_pid.get(msg.to_pid)
        if proc is not None:
            proc.deliver_from_reader(Envelope(msg.from_pid, msg.message), self._due)

    def _on_reg_send(self, conn: Connection, msg: c.RegSend) -> None:
        proc = self.processes.by_name.get(msg.to_name)
        if proc is not None:
            proc.deliver_from_reader(Envelope(msg.from_pid, msg.message), self._due)
        else:
            log.debug("message from %s to unregistered name %s dropped", conn.peer, msg.to_name)

    def _on_alias_send(self, conn: Connection, msg: c.AliasSend) -> None:
        proc = self.processes.by_alias.get(msg.alias)
        if proc is not None:
            proc.deliver(Envelope(msg.from_pid, msg.message))

    def _on_link(self, conn: Connection, msg: c.Link) -> None:
        to = msg.to_pid
        if not self.links.remote_link(msg.from_pid, to) and to.node is self.name:
            conn.send_nowait(c.Exit(to, msg.from_pid, A_NOPROC))

    def _on_unlink(self, conn: Connection, msg: c.Unlink) -> None:
        self.links.remote_unlink(msg.from_pid, msg.to_pid)

    def _on_unlink_id(self, conn: Connection, msg: c.UnlinkId) -> None:
        # The ack goes out before anything else we might send to the unlinker.
        conn.send_nowait(c.UnlinkIdAck(msg.id, msg.to_pid, msg.from_pid))
        self.links.remote_unlink(msg.from_pid, msg.to_pid)

    def _on_unlink_id_ack(self, conn: Connection, msg: c.UnlinkIdAck) -> None:
        self.links.remote_unlink(msg.from_pid, msg.to_pid, msg.id)

    def _on_exit(self, conn: Connection, msg: c.Exit) -> None:
        self.signals.apply(self.links.exit_signal(msg.to_pid, msg.from_pid, msg.reason, link=True))

    def _on_exit2(self, conn: Connection, msg: c.Exit2) -> None:
        proc = self.processes.by_pid.get(msg.to_pid)
        if proc is not None and proc.ignore_exit2:
            # A C node never dies of exit/2; neither does a process standing in
            # for one, or any connected node could end it for every other.
            proc.ignored_exit2 += 1
            self._exit2_log.warn(
                "ignoring exit(%r, %.200r) from %s (%d ignored in all)",
                *(msg.to_pid, msg.reason, conn.peer.name, proc.ignored_exit2),
            )
            return
        self.signals.apply(self.links.exit_signal(msg.to_pid, msg.from_pid, msg.reason, link=False))

    def _on_monitor(self, conn: Connection, msg: c.MonitorP) -> None:
        target = msg.to_proc
        proc = self._target(target)
        if proc is not None and self.links.remote_monitor(proc.pid, msg.ref, msg.from_pid, target):
            return
        if isinstance(target, Atom) or target.node is self.name:
            conn.send_nowait(c.MonitorPExit(target, msg.from_pid, msg.ref, A_NOPROC))

    def _on_demonitor(self, conn: Connection, msg: c.DemonitorP) -> None:
        proc = self._target(msg.to_proc)
        if proc is None or self.links.remote_demonitor(proc.pid, msg.ref):
            return
        # Set up by on_packet: keyed by the reference's bytes.
        key = monitor_key(msg.ref)
        if key is not None:
            self.links.remote_demonitor(proc.pid, key)

    def _on_monitor_exit(self, conn: Connection, msg: c.MonitorPExit) -> None:
        self.signals.apply(self.links.down(msg.to_pid, msg.ref, msg.reason))

    def _on_spawn_request(self, conn: Connection, msg: c.SpawnRequest) -> None:
        log.info(
            "refusing spawn request %s:%s/%d from %s: not supported",
            *(msg.module, msg.function, msg.arity, conn.peer),
        )
        if conn.flags & DFlag.SPAWN:
            conn.send_nowait(c.SpawnReply(msg.req_id, msg.from_pid, 0, A_NOTSUP))

    def _on_group_leader(self, conn: Connection, msg: c.GroupLeader) -> None:
        log.debug("ignoring group_leader from %s for %r", conn.peer, msg.to_pid)
