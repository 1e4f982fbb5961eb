"""What local processes do to each other and to remote ones: messages, links, monitors, exits.

:class:`Signals` is the part of the node that local processes act through.
It resolves destinations in the :class:`~kazoo_trio.erlang.process_table.ProcessTable`,
asks the :class:`~kazoo_trio.erlang.links.LinkTable` what a link, a monitor
or the end of a process means, and carries out the signals the table
returns: local deliveries, processes ended by exit signals, control messages
for peers.

Everything but :meth:`Signals.send` is synchronous and never blocks, so a
signal is applied completely before anything else happens on this node.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
import trio

from kazoo_trio.erlang.connection import Connection
from kazoo_trio.erlang.links import Deliver, LinkTable, Signal, Terminate
from kazoo_trio.erlang.peers import Peers
from kazoo_trio.erlang.process import Dest, Envelope, Process
from kazoo_trio.erlang.process_table import ProcessTable
from kazoo_trio.erlang.wire import messages as c
from kazoo_trio.term import encode
from kazoo_trio.term.types import Atom, Pid, Reference

__all__ = ["Signals"]

log = logging.getLogger("kazoo_trio.erlang.signals")


@attrs.define(eq=False)
class Signals:
    """Sends, links, monitors and exits of the local processes of node ``name``."""

    name: Atom
    processes: ProcessTable
    links: LinkTable
    peers: Peers

    # -- carrying out what the link table decided ----------------------------------------------

    def apply(self, signals: list[Signal]) -> None:
        for signal in signals:
            if isinstance(signal, Deliver):
                proc = self.processes.by_pid.get(signal.to)
                if proc is not None:
                    proc.deliver(Envelope(signal.sender, signal.message))
            elif isinstance(signal, Terminate):
                proc = self.processes.by_pid.get(signal.pid)
                if proc is not None:
                    self.end(proc, signal.reason)
            else:
                self.peers.transmit(signal.peer, signal.message, connect=signal.connect)

    # -- the end of a process ------------------------------------------------------------------

    def end(self, proc: Process, reason: object, *, by_signal: bool = True) -> None:
        """End ``proc`` now with ``reason``: signal links/monitors, cancel its block."""
        if not proc.alive:
            return
        proc.killed = by_signal
        self.finish(proc, reason)
        proc.scope.cancel()

    def finish(self, proc: Process, reason: object) -> None:
        """Forget ``proc`` and send its exit to its links and monitors."""
        proc.alive = False
        proc.exit_reason = reason
        self.processes.remove(proc)
        self.apply(self.links.exited(proc.pid, reason))
        proc.ended()

    def exit_signal(self, proc: Process, sender: Pid, reason: object, *, link: bool) -> None:
        """An exit signal from ``sender`` reaches local ``proc`` (``link``: from a link)."""
        self.apply(self.links.exit_signal(proc.pid, sender, reason, link=link))

    def node_lost(self, peer: Atom, reason: object) -> None:
        """Local consequences of losing (or never getting) the connection to ``peer``."""
        self.apply(self.links.node_lost(peer, reason))

    # -- links and monitors --------------------------------------------------------------------

    def link(self, proc: Process, pid: Pid) -> None:
        self.apply(self.links.link(proc.pid, pid))

    def unlink(self, proc: Process, pid: Pid) -> None:
        connected = pid.node in self.peers.connections
        self.apply(self.links.unlink(proc.pid, pid, connected=connected))

    def monitor(
        self,
        proc: Process,
        target: Pid | Atom | tuple[Atom, Atom],
        ref: Reference | None = None,
    ) -> Reference:
        """Monitor ``target`` from ``proc``; returns the reference (``ref`` when given)."""
        if ref is None:
            ref = self.processes.make_ref()
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
        local: Pid | None = None
        if node is self.name:
            table = self.processes
            other = table.by_pid.get(what) if isinstance(what, Pid) else table.by_name.get(what)
            if other is not None and other.alive:
                local = other.pid
        self.apply(self.links.monitor(proc.pid, ref, what, node, local))
        return ref

    def demonitor(self, proc: Process, ref: Reference) -> None:
        self.apply(self.links.demonitor(proc.pid, ref))

    # -- messages ------------------------------------------------------------------------------

    async def send(self, sender: Pid, dest: Dest, message: Any, strict: bool = True) -> None:
        """Deliver or transmit ``message`` from local ``sender`` to ``dest``.

        ``strict``: a bare local name that is not registered is a ``ValueError``.
        """
        cls = type(dest)
        processes = self.processes
        if cls is Pid:
            assert isinstance(dest, Pid)
            if dest.node is self.name:
                proc = processes.by_pid.get(dest)
                if proc is not None:
                    proc.deliver(Envelope(sender, message))
                await trio.lowlevel.checkpoint_if_cancelled()
                return
            conn = self.peers.connections.get(dest.node)
            if conn is not None:
                await conn.send(c.SendSender(sender, dest, message))
                return
            to = dest
            encode(message)  # an unencodable message fails here, not at connect time
            await self.peers.send_pending(
                dest.node, lambda cn: cn.send_nowait(c.SendSender(sender, to, message))
            )
            return
        if cls is Atom:
            assert isinstance(dest, Atom)
            proc = processes.by_name.get(dest)
            if proc is None:
                if strict:
                    raise ValueError(f"no process is registered as {dest.name}")
            else:
                proc.deliver(Envelope(sender, message))
            await trio.lowlevel.checkpoint_if_cancelled()
            return
        if cls is tuple:
            assert isinstance(dest, tuple)
            name, node = dest
            if type(name) is not Atom or type(node) is not Atom:
                raise TypeError(f"cannot send to {dest!r}: expected (Atom name, Atom node)")
            if node is self.name:
                proc = processes.by_name.get(name)
                if proc is not None:
                    proc.deliver(Envelope(sender, message))
                await trio.lowlevel.checkpoint_if_cancelled()
                return
            conn = self.peers.connections.get(node)
            if conn is not None:
                await conn.send(c.RegSend(sender, name, message))
                return
            encode(message)
            await self.peers.send_pending(
                node, lambda cn: cn.send_nowait(c.RegSend(sender, name, message))
            )
            return
        if cls is Reference:
            assert isinstance(dest, Reference)
            if dest.node is self.name:
                proc = processes.by_alias.get(dest)
                if proc is not None:
                    proc.deliver(Envelope(sender, message))
                await trio.lowlevel.checkpoint_if_cancelled()
                return
            alias = dest
            encode(message)

            def op(cn: Connection) -> None:
                if cn.alias:
                    cn.send_nowait(c.AliasSend(sender, alias, message))
                else:
                    log.warning("dropping a send to alias %r: %s lacks ALIAS", alias, cn.peer)

            await self.peers.send_pending(dest.node, op)
            return
        raise TypeError(f"cannot send to {dest!r}: expected a pid, name, (name, node) or alias")
