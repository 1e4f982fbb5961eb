"""The local node: identity, processes, names, connections, and the signals between them.

``async with Node(...) as node`` opens the node's nursery, which owns the
EPMD registration (and the embedded EPMD when one is needed), the acceptor,
the ``net_kernel`` emulation, outgoing connection attempts and every
connection.  Leaving the block cancels all of them; processes opened with
:meth:`Node.process` belong to their own blocks and must end before the
node's block does (they are ended with reason ``shutdown`` otherwise).

A failing connection is contained: its task logs why, the node forgets it,
linked local processes get ``noconnection`` exit signals, monitors get
``DOWN`` with ``noconnection``, node monitors get :class:`NodeDown`; the node
keeps serving everything else.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import trio

from kazoo_trio.erlang import control as c
from kazoo_trio.erlang.connection import Connection, Deferral
from kazoo_trio.erlang.cookie import read_cookie
from kazoo_trio.erlang.epmd import EpmdMode, ensure_epmd, keep_registered
from kazoo_trio.erlang.flags import RECOMMENDED
from kazoo_trio.erlang.framing import DEFAULT_MAX_FRAME
from kazoo_trio.erlang.mailbox import DEFAULT_MAILBOX_SIZE
from kazoo_trio.erlang.names import complete_node_name, split_node_name
from kazoo_trio.erlang.net_kernel import run_net_kernel
from kazoo_trio.erlang.process import (
    A_NORMAL,
    A_SHUTDOWN,
    CallError,
    Dest,
    Envelope,
    Process,
    ProcessExit,
    exception_reason,
)
from kazoo_trio.erlang.setup import ConnectionSetup, NodeDown, NodeUp, _Pending
from kazoo_trio.erlang.signals import LocalSignals, SendOp
from kazoo_trio.term import encode
from kazoo_trio.term.types import Atom, Pid, Reference

__all__ = ["Node", "NodeDown", "NodeUp"]

log = logging.getLogger("kazoo_trio.erlang.node")

# How many control messages may wait for a connection that is being set up
# before senders wait for the outcome; the handshake takes milliseconds, so
# this is only reached by a burst aimed at a node that does not answer.
PENDING_LIMIT = 10_000


class Node(LocalSignals, ConnectionSetup):
    """A hidden Erlang node.  See the module docstring for lifetimes and failure handling.

    ``name`` may be ``alive@host`` or just ``alive`` (the host is appended as
    ``erl`` does; ``long_names`` picks FQDN over the short host name).
    The cookie comes from ``cookie``, else ``cookie_file``, else
    ``~/.erlang.cookie`` (files must be readable by their owner only).
    ``epmd`` is ``auto`` (use the EPMD at epmd_host:epmd_port, or start the
    embedded one if nothing listens there), ``external`` or ``embedded``.

    Entering the block raises start-up errors as they are (``CookieError``
    from the constructor; ``DuplicateName``, ``EpmdError``, ``OSError`` for
    the listen port), with nothing left running.  Like a nursery, the block
    wraps an exception from its body in an ``ExceptionGroup``.
    """

    def __init__(
        self,
        name: str,
        cookie: str | bytes | None = None,
        cookie_file: str | None = None,
        listen_host: str = "0.0.0.0",
        listen_port: int = 0,
        epmd: EpmdMode = "auto",
        epmd_host: str = "127.0.0.1",
        epmd_port: int = 4369,
        net_ticktime: float = 60.0,
        handshake_timeout: float = 10.0,
        *,
        long_names: bool = False,
        flags: int = RECOMMENDED,
        max_frame: int = DEFAULT_MAX_FRAME,
    ) -> None:
        self.name: Atom = complete_node_name(name, long_names=long_names)
        self.alive_name, self.host = split_node_name(self.name)
        if cookie is None:
            self.cookie = read_cookie(cookie_file)
        else:
            self.cookie = cookie.encode() if isinstance(cookie, str) else cookie
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.epmd_mode: EpmdMode = epmd
        self.epmd_host = epmd_host
        self.epmd_port = epmd_port
        self.net_ticktime = net_ticktime
        self.handshake_timeout = handshake_timeout
        self.flags = flags
        self.max_frame = max_frame
        self.creation = 0
        self.port = 0

        self._procs: dict[Pid, Process] = {}
        self._names: dict[Atom, Process] = {}
        self._aliases: dict[Reference, Process] = {}
        self._conns: dict[Atom, Connection] = {}
        self._pending: dict[Atom, _Pending] = {}
        self._node_monitors: list[trio.MemorySendChannel[NodeUp | NodeDown]] = []
        self._pid_counter = 0
        self._ref_counter = 0
        self._ref_salt = secrets.randbits(32)
        self._unlink_id = 0
        self._deferral = Deferral()
        self._nursery: trio.Nursery | None = None
        self._nursery_cm: Any = None
        self._handlers = self._handler_table()

    def __repr__(self) -> str:
        return f"<Node {self.name.name}>"

    # -- lifetime ------------------------------------------------------------------------------

    async def __aenter__(self) -> Node:
        self._nursery_cm = trio.open_nursery()
        nursery = await self._nursery_cm.__aenter__()
        try:
            await self._start(nursery)
        except BaseException:
            # Stop what did start, then raise the start-up error itself (not
            # wrapped in an exception group): DuplicateName, EpmdError, OSError...
            nursery.cancel_scope.cancel()
            await self._nursery_cm.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._nursery is not None
        self._nursery.cancel_scope.cancel()
        try:
            result: bool | None = await self._nursery_cm.__aexit__(exc_type, exc, tb)
        finally:
            for proc in list(self._procs.values()):
                self._kill(proc, A_SHUTDOWN)
            for send in self._node_monitors:
                send.close()
        return result

    async def _start(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        listeners = await trio.open_tcp_listeners(self.listen_port, host=self.listen_host)
        try:
            self.port = listeners[0].socket.getsockname()[1]
            await ensure_epmd(self.epmd_mode, nursery, host=self.epmd_host, port=self.epmd_port)
            self.creation = await nursery.start(
                _keep_registered,
                self.alive_name,
                self.port,
                self.epmd_host,
                self.epmd_port,
                self._set_creation,
            )
            await nursery.start(run_net_kernel, self)
        except BaseException:
            for listener in listeners:
                await trio.aclose_forcefully(listener)
            raise
        await nursery.start(trio.serve_listeners, self._serve_incoming, listeners)
        log.info(
            "node %s up: listening on %s:%d, creation %d",
            self.name.name,
            self.listen_host,
            self.port,
            self.creation,
        )

    def _set_creation(self, creation: int) -> None:
        log.info("node %s: creation changed %d -> %d", self.name.name, self.creation, creation)
        self.creation = creation

    # -- identities ----------------------------------------------------------------------------

    def make_pid(self) -> Pid:
        n = self._pid_counter = self._pid_counter + 1
        # Stay within 15/13 bits as pre-V4_NC peers expect; wrap after 2**28 pids.
        return Pid(self.name, n & 0x7FFF, (n >> 15) & 0x1FFF, self.creation)

    def make_ref(self) -> Reference:
        n = self._ref_counter = self._ref_counter + 1
        ids: tuple[int, ...] = (n & 0x3FFFF, (n >> 18) & 0xFFFFFFFF, self._ref_salt)
        return Reference(self.name, self.creation, ids)

    # -- processes and names -------------------------------------------------------------------

    @asynccontextmanager
    async def process(
        self, name: str | Atom | None = None, mailbox_size: int = DEFAULT_MAILBOX_SIZE
    ) -> AsyncIterator[Process]:
        """A local process for the duration of the block (see :mod:`kazoo_trio.erlang.process`).

        With ``name``, the process is registered under it (``ValueError`` if
        the name is taken).
        """
        proc = Process(self, self.make_pid(), mailbox_size)
        if name is not None:
            self.register(name, proc)
        self._procs[proc.pid] = proc
        try:
            with proc.scope:
                yield proc
        except BaseException as exc:
            if proc.alive:
                self._finish(proc, exception_reason(exc))
                raise
            # Already ended (killed or exit()): a ProcessExit that a receive()
            # outside the cancelled region raised is that same end, reported below.
            if not isinstance(exc, ProcessExit | BaseExceptionGroup) or (
                exception_reason(exc) is not proc.exit_reason
            ):
                raise
        else:
            if proc.alive:
                self._finish(proc, A_NORMAL)
        if proc.killed:
            raise ProcessExit(proc.exit_reason)

    def register(self, name: str | Atom, proc: Process) -> None:
        """Register ``proc`` under ``name``; ``ValueError`` if the name is taken or proc is dead."""
        atom = Atom(name) if isinstance(name, str) else name
        if not proc.alive:
            raise ValueError(f"cannot register {atom.name}: {proc!r} has ended")
        if atom in self._names:
            raise ValueError(f"the name {atom.name} is already registered")
        self._names[atom] = proc
        proc.names.add(atom)

    def unregister(self, name: str | Atom) -> None:
        atom = Atom(name) if isinstance(name, str) else name
        proc = self._names.pop(atom, None)
        if proc is not None:
            proc.names.discard(atom)

    def whereis(self, name: str | Atom) -> Process | None:
        atom = Atom(name) if isinstance(name, str) else name
        return self._names.get(atom)

    def registered(self) -> list[Atom]:
        return list(self._names)

    # -- conveniences --------------------------------------------------------------------------

    async def send(self, dest: Dest, message: Any) -> None:
        """Send from a temporary process (the message's sender is that process)."""
        async with self.process() as proc:
            await proc.send(dest, message)

    async def cast(self, dest: Dest, request: Any) -> None:
        async with self.process() as proc:
            await proc.cast(dest, request)

    async def call(self, dest: Dest, request: Any, timeout: float | None = 5.0) -> Any:
        """``gen_server:call`` from a temporary process; raises :class:`CallError`."""
        async with self.process() as proc:
            return await proc.call(dest, request, timeout)

    async def ping(self, node: str | Atom, timeout: float = 10.0) -> bool:
        """``net_adm:ping/1``: True when ``node``'s net_kernel answers ``yes``."""
        peer = Atom(node) if isinstance(node, str) else node
        if peer is self.name:
            return True
        try:
            reply = await self.call(
                (Atom("net_kernel"), peer), (Atom("is_auth"), self.name), timeout
            )
        except CallError:
            return False
        return reply is Atom("yes")

    @asynccontextmanager
    async def monitor_nodes(
        self, buffer: int = 256
    ) -> AsyncIterator[trio.MemoryReceiveChannel[NodeUp | NodeDown]]:
        """A channel of :class:`NodeUp`/:class:`NodeDown` for the block's duration.

        Events are dropped (with a warning) for a reader more than ``buffer``
        events behind, rather than stalling the connections that report them.
        """
        send, receive = trio.open_memory_channel[NodeUp | NodeDown](buffer)
        self._node_monitors.append(send)
        try:
            yield receive
        finally:
            self._node_monitors.remove(send)
            send.close()

    def connected_nodes(self) -> list[Atom]:
        return list(self._conns)

    def connection_addresses(
        self, peer: Atom | str
    ) -> tuple[tuple[str, int], tuple[str, int]] | None:
        """``((local_ip, local_port), (peer_ip, peer_port))`` of the connection to ``peer``."""
        conn = self._conns.get(Atom(peer) if isinstance(peer, str) else peer)
        if conn is None or conn.local_address is None or conn.peer_address is None:
            return None
        return conn.local_address, conn.peer_address

    def disconnect(self, peer: Atom | str) -> bool:
        """Drop the connection to ``peer`` (``erlang:disconnect_node/1``)."""
        conn = self._conns.get(Atom(peer) if isinstance(peer, str) else peer)
        if conn is None:
            return False
        conn.close("disconnect")
        return True

    def _notify(self, event: NodeUp | NodeDown) -> None:
        for send in self._node_monitors:
            try:
                send.send_nowait(event)
            except trio.WouldBlock:
                log.warning("node monitor is not keeping up; dropped %r", event)
            except trio.ClosedResourceError:
                pass

    # -- routing -------------------------------------------------------------------------------

    def _outbox(self, peer: Atom, connect: bool = True) -> Connection | _Pending | None:
        conn = self._conns.get(peer)
        if conn is not None:
            return conn
        pending = self._pending.get(peer)
        if pending is None and connect:
            pending = self._connect(peer)
        return pending

    def _signal(self, peer: Atom, op: SendOp, connect: bool = True) -> None:
        """Send a control message built by ``op`` to ``peer`` (queued while connecting)."""
        out = self._outbox(peer, connect)
        if out is None:
            return
        if isinstance(out, Connection):
            op(out)
        else:
            out.add(op)

    async def _send(self, sender: Pid, dest: Dest, message: Any, strict: bool = True) -> None:
        cls = type(dest)
        if cls is Pid:
            assert isinstance(dest, Pid)
            if dest.node is self.name:
                proc = self._procs.get(dest)
                if proc is not None:
                    proc.deliver(Envelope(sender, message))
                await trio.lowlevel.checkpoint_if_cancelled()
                return
            conn = self._conns.get(dest.node)
            if conn is not None:
                await conn.send(c.SendSender(sender, dest, message))
                return
            to = dest
            encode(message)  # an unencodable message fails here, not at connect time
            await self._send_pending(
                dest.node, lambda cn: cn.send_nowait(c.SendSender(sender, to, message))
            )
            return
        if cls is Atom:
            assert isinstance(dest, Atom)
            proc = self._names.get(dest)
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
                proc = self._names.get(name)
                if proc is not None:
                    proc.deliver(Envelope(sender, message))
                await trio.lowlevel.checkpoint_if_cancelled()
                return
            conn = self._conns.get(node)
            if conn is not None:
                await conn.send(c.RegSend(sender, name, message))
                return
            encode(message)
            await self._send_pending(
                node, lambda cn: cn.send_nowait(c.RegSend(sender, name, message))
            )
            return
        if cls is Reference:
            assert isinstance(dest, Reference)
            if dest.node is self.name:
                proc = self._aliases.get(dest)
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

            await self._send_pending(dest.node, op)
            return
        raise TypeError(f"cannot send to {dest!r}: expected a pid, name, (name, node) or alias")

    async def _send_pending(self, peer: Atom, op: SendOp) -> None:
        out = self._outbox(peer)
        if isinstance(out, Connection):
            op(out)
            await out.wait_space()
            return
        assert out is not None
        out.add(op)
        while len(out.ops) > PENDING_LIMIT and not out.finished:
            await out.done.wait()
        await trio.lowlevel.checkpoint_if_cancelled()

    def _on_frame(self, conn: Connection, msg: Any) -> None:
        handler = self._handlers.get(type(msg))
        if handler is None:
            log.warning("ignoring unsupported control message from %s: %r", conn.peer, msg)
            return
        handler(conn, msg)


async def _keep_registered(
    alive: str,
    port: int,
    epmd_host: str,
    epmd_port: int,
    on_creation: Callable[[int], None],
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    await keep_registered(
        alive,
        port,
        host=epmd_host,
        port=epmd_port,
        on_creation=on_creation,
        task_status=task_status,
    )
