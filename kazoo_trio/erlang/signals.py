"""What exit signals, links and monitors do to local processes (Erlang's rules).

:class:`LocalSignals` is the part of :class:`~kazoo_trio.erlang.node.Node` that
keeps link and monitor state for local processes, applies exit signals
(``kill`` is untrappable, ``normal`` is ignored unless trapped, a trapping
process gets ``{'EXIT', From, Reason}`` messages), reports the end of a
process to its links and monitors (§5.7 of the protocol notes), turns a lost
connection into ``noconnection`` signals, and answers the control messages
a peer sends: ``noproc`` for links and monitors on what does not exist,
``UNLINK_ID_ACK`` before anything else, ``notsup`` for spawn requests.

Everything here is synchronous: it runs inside a connection's reader or a
process's own task and never blocks, so a signal is applied completely
before anything else happens on this node.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kazoo_trio.erlang import control as c
from kazoo_trio.erlang.fastpath import monitor_key, parse_monitor, parse_reg_send
from kazoo_trio.erlang.flags import DFlag
from kazoo_trio.erlang.process import (
    A_DOWN,
    A_EXIT,
    A_KILL,
    A_KILLED,
    A_NOPROC,
    A_NORMAL,
    A_PROCESS,
    Envelope,
    MonitorOut,
    Process,
)
from kazoo_trio.term import EncodeError, decode_body, encode
from kazoo_trio.term.types import Atom, Pid, Reference

if TYPE_CHECKING:
    from kazoo_trio.erlang.connection import Connection

__all__ = ["LocalSignals", "SendOp"]

log = logging.getLogger("kazoo_trio.erlang.signals")


def _encodable(reason: object) -> object:
    """``reason``, or a description of it when it has no Erlang form (a Python object)."""
    try:
        encode(reason)
    except EncodeError:
        return (Atom("unencodable_reason"), repr(reason).encode("utf-8", "replace")[:1000])
    return reason


A_NOTSUP = Atom("notsup")

SendOp = Callable[["Connection"], None]

# How every packet of a gen_server call to this node starts in pass-through
# framing: version byte 131, then a 4-tuple whose first element is a small int.
_HOT_HEAD = b"p\x83h\x04a"


class LocalSignals:
    """Link, monitor and exit-signal handling; mixed into the node."""

    name: Atom
    _procs: dict[Pid, Process]
    _names: dict[Atom, Process]
    _aliases: dict[Reference, Process]
    _conns: dict[Atom, Connection]
    _unlink_id: int

    def make_ref(self) -> Reference:
        raise NotImplementedError

    def _signal(self, peer: Atom, op: SendOp, connect: bool = True) -> None:
        raise NotImplementedError

    def _handler_table(self) -> dict[type, Callable[[Connection, Any], None]]:
        return {
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

    # -- links, monitors and exits of local processes ---------------------------------------------

    def _link(self, proc: Process, pid: Pid) -> None:
        if pid == proc.pid:
            return
        if pid.node is self.name:
            other = self._procs.get(pid)
            if other is None:
                self._exit_signal(proc, pid, A_NOPROC, link=False, from_link_setup=True)
                return
            proc.links[pid] = 0
            other.links[proc.pid] = 0
            return
        if proc.links.get(pid) == 0:
            return
        proc.links[pid] = 0
        me = proc.pid
        self._signal(pid.node, lambda cn: cn.send_nowait(c.Link(me, pid)))

    def _unlink(self, proc: Process, pid: Pid) -> None:
        state = proc.links.get(pid)
        if state is None:
            return
        if pid.node is self.name:
            del proc.links[pid]
            other = self._procs.get(pid)
            if other is not None:
                other.links.pop(proc.pid, None)
            return
        if state != 0:
            return  # already unlinking
        if pid.node not in self._conns:
            del proc.links[pid]
            return
        self._unlink_id += 1
        uid = proc.links[pid] = self._unlink_id
        self._conns[pid.node].send_nowait(c.UnlinkId(uid, proc.pid, pid))

    def _monitor(
        self,
        proc: Process,
        target: Pid | Atom | tuple[Atom, Atom],
        ref: Reference | None = None,
    ) -> Reference:
        if ref is None:
            ref = self.make_ref()
        what: Pid | Atom
        if isinstance(target, Pid):
            node, what = target.node, target
        elif isinstance(target, Atom):
            node, what = self.name, target
        elif isinstance(target, tuple) and len(target) == 2:
            what, node = target
            if not isinstance(what, Atom) or not isinstance(node, Atom):
                raise TypeError(f"cannot monitor {target!r}")
        else:
            raise TypeError(f"cannot monitor {target!r}")
        mon = MonitorOut(what, node)
        proc.monitors[ref] = mon
        if node is self.name:
            other = self._procs.get(what) if isinstance(what, Pid) else self._names.get(what)
            if other is None or not other.alive:
                self._down(proc, ref, A_NOPROC)
            else:
                other.monitored_by[ref] = (proc.pid, what)
                mon.local = other.pid
            return ref
        me = proc.pid

        def op(cn: Connection) -> None:
            if cn.monitors:
                cn.send_nowait(c.MonitorP(me, what, ref))

        self._signal(node, op)
        return ref

    def _demonitor(self, proc: Process, ref: Reference) -> None:
        mon = proc.monitors.pop(ref, None)
        if mon is None:
            return
        if mon.node is self.name:
            other = self._procs.get(mon.local)  # type: ignore[arg-type]
            if other is not None:
                other.monitored_by.pop(ref, None)
            return
        conn = self._conns.get(mon.node)
        if conn is not None and conn.monitors:
            conn.send_nowait(c.DemonitorP(proc.pid, mon.target, ref))

    def _down(self, watcher: Process, ref: Reference, reason: object) -> None:
        """Deliver ``DOWN`` for the monitor ``ref`` of ``watcher`` (once; then forget it)."""
        mon = watcher.monitors.pop(ref, None)
        if mon is None:
            return
        watcher.deliver(Envelope(None, (A_DOWN, ref, A_PROCESS, mon.down_object(), reason)))

    def _exit_signal(
        self,
        proc: Process,
        sender: Pid,
        reason: object,
        *,
        link: bool,
        from_link_setup: bool = False,
    ) -> None:
        """An exit signal from ``sender`` reaches local ``proc`` (Erlang's rules)."""
        if not proc.alive:
            return
        if link:
            if proc.links.get(sender) != 0:
                return  # no active link: ignored
            del proc.links[sender]
        elif reason is A_KILL and not from_link_setup:
            self._kill(proc, A_KILLED)
            return
        if proc.trap_exit:
            proc.deliver(Envelope(sender, (A_EXIT, sender, reason)))
        elif reason is not A_NORMAL:
            self._kill(proc, reason)

    def _kill(self, proc: Process, reason: object, by_signal: bool = True) -> None:
        """End ``proc`` now with ``reason``: signal links/monitors, cancel its block."""
        if not proc.alive:
            return
        proc.killed = by_signal
        self._finish(proc, reason)
        proc.scope.cancel()

    def _finish(self, proc: Process, reason: object) -> None:
        """Forget ``proc`` and send its exit to links and monitors (see §5.7)."""
        proc.alive = False
        proc.exit_reason = reason
        self._procs.pop(proc.pid, None)
        for name in proc.names:
            if self._names.get(name) is proc:
                del self._names[name]
        for alias in [a for a, p in self._aliases.items() if p is proc]:
            del self._aliases[alias]
        me = proc.pid
        links, proc.links = proc.links, {}
        monitored_by, proc.monitored_by = proc.monitored_by, {}
        monitors, proc.monitors = proc.monitors, {}
        if links or monitored_by:
            reason = _encodable(reason)
        for pid, state in links.items():
            if pid.node is self.name:
                other = self._procs.get(pid)
                if other is not None:
                    self._exit_signal(other, me, reason, link=True)
            elif state == 0:
                conn = self._conns.get(pid.node)
                if conn is not None:
                    conn.send_nowait(c.Exit(me, pid, reason))
        for key, (watcher, target) in monitored_by.items():
            ref: Reference = decode_body(key)[0] if isinstance(key, bytes) else key
            if watcher.node is self.name:
                w = self._procs.get(watcher)
                if w is not None:
                    self._down(w, ref, reason)
            else:
                conn = self._conns.get(watcher.node)
                if conn is not None:
                    conn.send_nowait(c.MonitorPExit(target, watcher, ref, reason))
        for ref, mon in monitors.items():
            if mon.node is self.name:
                other = self._procs.get(mon.local)  # type: ignore[arg-type]
                if other is not None:
                    other.monitored_by.pop(ref, None)
            else:
                conn = self._conns.get(mon.node)
                if conn is not None and conn.monitors:
                    conn.send_nowait(c.DemonitorP(me, mon.target, ref))
        for slot in list(proc._calls.values()):
            slot.wakeup.set()
        proc.mailbox.close()

    def _node_lost(self, peer: Atom, reason: object) -> None:
        """Local consequences of losing (or never getting) the connection to ``peer``."""
        for proc in list(self._procs.values()):
            if not proc.alive:
                continue
            for ref, mon in list(proc.monitors.items()):
                if mon.node is peer:
                    self._down(proc, ref, reason)
            for key, (watcher, _) in list(proc.monitored_by.items()):
                if watcher.node is peer:
                    del proc.monitored_by[key]
            for pid, state in list(proc.links.items()):
                if pid.node is peer:
                    if state == 0:
                        self._exit_signal(proc, pid, reason, link=True)
                    else:
                        del proc.links[pid]

    # -- incoming control messages -------------------------------------------------------------

    def _on_hot_packet(self, conn: Connection, data: bytes) -> bool:
        """Handle a pass-through packet of a gen_server call here; False if it is not one.

        MONITOR_P and DEMONITOR_P on a live local process, and REG_SEND to a
        registered name, are applied straight from the packet bytes with
        the same effect as :meth:`_on_monitor`, :meth:`_on_demonitor` and
        :meth:`_on_reg_send`; a monitor is keyed by its reference's bytes
        (see :func:`~kazoo_trio.erlang.fastpath.parse_monitor`).  Everything
        else, including the error answers (``noproc``), is left to the
        general parser and handlers.  Raises the codec's ``DecodeError`` for
        a message that is not a valid term.
        """
        if not data.startswith(_HOT_HEAD):
            return False
        op = data[5]
        if op == 6:
            sent = parse_reg_send(data)
            if sent is None:
                return False
            proc = self._names.get(sent[1])
            if proc is None:
                return False
            proc.deliver(Envelope(sent[0], sent[2]))
            return True
        if op == 19 or op == 20:
            mon = parse_monitor(data)
            if mon is None:
                return False
            target = mon[1]
            names, procs = self._names, self._procs
            proc = names.get(target) if isinstance(target, Atom) else procs.get(target)
            if proc is None or not proc.alive:
                return False
            if op == 19:
                proc.monitored_by[mon[2]] = (mon[0], target)
                return True
            return proc.monitored_by.pop(mon[2], None) is not None
        return False

    def _on_send(self, conn: Connection, msg: c.Send) -> None:
        proc = self._procs.get(msg.to_pid)
        if proc is not None:
            proc.deliver(Envelope(None, msg.message))

    def _on_send_sender(self, conn: Connection, msg: c.SendSender) -> None:
        proc = self._procs.get(msg.to_pid)
        if proc is not None:
            proc.deliver(Envelope(msg.from_pid, msg.message))

    def _on_reg_send(self, conn: Connection, msg: c.RegSend) -> None:
        proc = self._names.get(msg.to_name)
        if proc is not None:
            proc.deliver(Envelope(msg.from_pid, msg.message))
        else:
            log.debug("message from %s to unregistered name %s dropped", conn.peer, msg.to_name)

    def _on_alias_send(self, conn: Connection, msg: c.AliasSend) -> None:
        proc = self._aliases.get(msg.alias)
        if proc is not None:
            proc.deliver(Envelope(msg.from_pid, msg.message))

    def _on_link(self, conn: Connection, msg: c.Link) -> None:
        sender, to = msg.from_pid, msg.to_pid
        proc = self._procs.get(to)
        if proc is None or not proc.alive:
            if to.node is self.name:
                conn.send_nowait(c.Exit(to, sender, A_NOPROC))
            return
        if sender in proc.links:
            return  # already linked, or our UNLINK_ID is in flight: ignore (§5.3)
        proc.links[sender] = 0

    def _on_unlink(self, conn: Connection, msg: c.Unlink) -> None:
        proc = self._procs.get(msg.to_pid)
        if proc is not None and proc.links.get(msg.from_pid) == 0:
            del proc.links[msg.from_pid]

    def _on_unlink_id(self, conn: Connection, msg: c.UnlinkId) -> None:
        # The ack goes out before anything else we might send to the unlinker.
        conn.send_nowait(c.UnlinkIdAck(msg.id, msg.to_pid, msg.from_pid))
        proc = self._procs.get(msg.to_pid)
        if proc is not None and proc.links.get(msg.from_pid) == 0:
            del proc.links[msg.from_pid]

    def _on_unlink_id_ack(self, conn: Connection, msg: c.UnlinkIdAck) -> None:
        proc = self._procs.get(msg.to_pid)
        if proc is not None and proc.links.get(msg.from_pid) == msg.id:
            del proc.links[msg.from_pid]

    def _on_exit(self, conn: Connection, msg: c.Exit) -> None:
        proc = self._procs.get(msg.to_pid)
        if proc is not None:
            self._exit_signal(proc, msg.from_pid, msg.reason, link=True)

    def _on_exit2(self, conn: Connection, msg: c.Exit2) -> None:
        proc = self._procs.get(msg.to_pid)
        if proc is not None:
            self._exit_signal(proc, msg.from_pid, msg.reason, link=False)

    def _on_monitor(self, conn: Connection, msg: c.MonitorP) -> None:
        target = msg.to_proc
        proc = self._procs.get(target) if isinstance(target, Pid) else self._names.get(target)
        if proc is None or not proc.alive:
            if isinstance(target, Atom) or target.node is self.name:
                conn.send_nowait(c.MonitorPExit(target, msg.from_pid, msg.ref, A_NOPROC))
            return
        proc.monitored_by[msg.ref] = (msg.from_pid, target)

    def _on_demonitor(self, conn: Connection, msg: c.DemonitorP) -> None:
        target = msg.to_proc
        proc = self._procs.get(target) if isinstance(target, Pid) else self._names.get(target)
        if proc is not None and proc.monitored_by.pop(msg.ref, None) is None:
            # Set up by _on_hot_packet: keyed by the reference's bytes.
            key = monitor_key(msg.ref)
            if key is not None:
                proc.monitored_by.pop(key, None)

    def _on_monitor_exit(self, conn: Connection, msg: c.MonitorPExit) -> None:
        proc = self._procs.get(msg.to_pid)
        if proc is not None:
            self._down(proc, msg.ref, msg.reason)

    def _on_spawn_request(self, conn: Connection, msg: c.SpawnRequest) -> None:
        log.info(
            "refusing spawn request %s:%s/%d from %s: not supported",
            *(msg.module, msg.function, msg.arity, conn.peer),
        )
        if conn.flags & DFlag.SPAWN:
            conn.send_nowait(c.SpawnReply(msg.req_id, msg.from_pid, 0, A_NOTSUP))

    def _on_group_leader(self, conn: Connection, msg: c.GroupLeader) -> None:
        log.debug("ignoring group_leader from %s for %r", conn.peer, msg.to_pid)
