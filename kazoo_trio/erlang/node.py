"""The local node: one facade over the parts that make it up.

``async with Node(...) as node`` opens the node's nursery, which owns the
EPMD registration (and the embedded EPMD when one is needed), the
``net_kernel`` emulation and the peers (the acceptor, outgoing connection
attempts and every connection).  Leaving the block cancels all of them;
processes opened with :meth:`Node.process` belong to their own blocks and
must end before the node's block does (they are ended with reason
``shutdown`` otherwise).

A failing connection is contained: its task logs why, the node forgets it,
linked local processes get ``noconnection`` exit signals, monitors get
``DOWN`` with ``noconnection``, node monitors get :class:`NodeDown`; the node
keeps serving everything else.

The parts, each with one job:

=================  ===================================================================
``processes``      :class:`~kazoo_trio.erlang.process_table.ProcessTable`: pids, names,
                   aliases, new pids and references
``links``          :class:`~kazoo_trio.erlang.links.LinkTable`: links and monitors, and
                   what exits and lost nodes mean for them (pure)
``peers``          :class:`~kazoo_trio.erlang.peers.Peers`: connections, dials, nodeup/down
``signals``        :class:`~kazoo_trio.erlang.signals.Signals`: what local processes do
``dispatch``       :class:`~kazoo_trio.erlang.dispatch.Dispatcher`: control messages from
                   peers
``deferral``       :class:`~kazoo_trio.erlang.connection.Deferral`: replies a gen_server
                   batches and writes itself
=================  ===================================================================

The task tree::

    Node._running                    the node's nursery
    ├─ EmbeddedEpmd                  only when no EPMD answers (``epmd="auto"``) or asked for
    ├─ keep_registered               the EPMD registration, held open for the node's life
    ├─ run_net_kernel                the registered process ``net_kernel``
    └─ Peers.serve                   acceptor, dials and connections (see peers)
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from types import TracebackType
from typing import Any

import trio

from kazoo_trio.erlang.admission import AdmissionSettings
from kazoo_trio.erlang.connection import Deferral
from kazoo_trio.erlang.cookie import read_cookie
from kazoo_trio.erlang.dispatch import Dispatcher
from kazoo_trio.erlang.epmd import EpmdMode, ensure_epmd, keep_registered
from kazoo_trio.erlang.flags import RECOMMENDED
from kazoo_trio.erlang.links import LinkTable
from kazoo_trio.erlang.mailbox import DEFAULT_MAILBOX_SIZE
from kazoo_trio.erlang.names import NodeIdentity, complete_node_name, split_node_name
from kazoo_trio.erlang.net_kernel import run_net_kernel
from kazoo_trio.erlang.peers import NodeDown, NodeUp, Peers, PeerSettings
from kazoo_trio.erlang.process import (
    A_NORMAL,
    A_SHUTDOWN,
    CallError,
    Dest,
    Process,
    ProcessExit,
    exception_reason,
)
from kazoo_trio.erlang.process_table import ProcessTable
from kazoo_trio.erlang.signals import Signals
from kazoo_trio.erlang.wire import DEFAULT_MAX_FRAME
from kazoo_trio.term.types import Atom, Pid, Reference

__all__ = ["Node", "NodeDown", "NodeUp"]

log = logging.getLogger("kazoo_trio.erlang.node")


class Node:
    """A hidden Erlang node.  See the module docstring for lifetimes and failure handling.

    ``name`` may be ``alive@host`` or just ``alive`` (the host is appended as
    ``erl`` does; ``long_names`` picks FQDN over the short host name).
    The cookie comes from ``cookie``, else ``cookie_file``, else
    ``~/.erlang.cookie`` (files must be readable by their owner only).
    ``epmd`` is ``auto`` (use the EPMD at epmd_host:epmd_port, or start the
    embedded one if nothing listens there), ``external`` or ``embedded``.
    ``admission`` bounds connections that have not authenticated yet (see
    :mod:`~kazoo_trio.erlang.admission`).

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
        admission: AdmissionSettings | None = None,
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
        self.port = 0

        self.identity = NodeIdentity(self.name)
        #: Replies a gen_server batches and writes itself (see :func:`~.gen_server.serve`).
        self.deferral = Deferral()
        self.processes = ProcessTable(self.identity)
        self.links = LinkTable(self.name)
        self.peers = Peers(
            self.identity,
            PeerSettings(
                cookie=self.cookie,
                flags=flags,
                epmd_port=epmd_port,
                handshake_timeout=handshake_timeout,
                net_ticktime=net_ticktime,
                max_frame=max_frame,
                admission=admission or AdmissionSettings(),
            ),
            self.deferral,
        )
        self.signals = Signals(self.name, self.processes, self.links, self.peers)
        self.dispatch = Dispatcher(self.name, self.processes, self.links, self.signals)
        # Connections feed the dispatcher, whose answers go out through the peers.
        self.peers.handler = self.dispatch
        self._stack: AsyncExitStack | None = None

    def __repr__(self) -> str:
        return f"<Node {self.name.name}>"

    @property
    def creation(self) -> int:
        """The creation EPMD gave this node (0 until registered); stamped on pids and refs."""
        return self.identity.creation

    # -- lifetime ------------------------------------------------------------------------------

    async def __aenter__(self) -> Node:
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self._running())
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        stack, self._stack = self._stack, None
        assert stack is not None, "the node is not running"
        return await stack.__aexit__(exc_type, exc, tb)

    @asynccontextmanager
    async def _running(self) -> AsyncIterator[None]:
        failed: BaseException | None = None
        try:
            async with trio.open_nursery() as nursery:
                try:
                    await self._start(nursery)
                except BaseException as exc:
                    # Stop what did start, then raise the start-up error itself
                    # (not wrapped in an exception group) below.
                    failed = exc
                    nursery.cancel_scope.cancel()
                else:
                    try:
                        yield
                    finally:
                        nursery.cancel_scope.cancel()
        finally:
            for proc in self.processes:
                self.signals.end(proc, A_SHUTDOWN)
        if failed is not None:
            raise failed

    async def _start(self, nursery: trio.Nursery) -> None:
        listeners = await trio.open_tcp_listeners(self.listen_port, host=self.listen_host)
        try:
            self.port = listeners[0].socket.getsockname()[1]
            await ensure_epmd(self.epmd_mode, nursery, host=self.epmd_host, port=self.epmd_port)
            self.identity.creation = await nursery.start(self._keep_registered)
            await nursery.start(run_net_kernel, self)
        except BaseException:
            for listener in listeners:
                await trio.aclose_forcefully(listener)
            raise
        await nursery.start(self.peers.serve, listeners)
        log.info(
            "node %s up: listening on %s:%d, creation %d",
            self.name.name,
            self.listen_host,
            self.port,
            self.creation,
        )

    async def _keep_registered(
        self, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
    ) -> None:
        await keep_registered(
            self.alive_name,
            self.port,
            host=self.epmd_host,
            port=self.epmd_port,
            on_creation=self._set_creation,
            task_status=task_status,
        )

    def _set_creation(self, creation: int) -> None:
        log.info("node %s: creation changed %d -> %d", self.name.name, self.creation, creation)
        self.identity.creation = creation

    # -- identities ----------------------------------------------------------------------------

    def make_pid(self) -> Pid:
        return self.processes.make_pid()

    def make_ref(self) -> Reference:
        return self.processes.make_ref()

    # -- processes and names -------------------------------------------------------------------

    @asynccontextmanager
    async def process(
        self, name: str | Atom | None = None, mailbox_size: int = DEFAULT_MAILBOX_SIZE
    ) -> AsyncIterator[Process]:
        """A local process for the duration of the block (see :mod:`kazoo_trio.erlang.process`).

        With ``name``, the process is registered under it (``ValueError`` if
        the name is taken).
        """
        proc = Process(self, self.processes.make_pid(), mailbox_size)
        if name is not None:
            self.register(name, proc)
        self.processes.add(proc)
        self.links.add(proc.pid, proc.link_state)
        try:
            with proc.scope:
                yield proc
        except BaseException as exc:
            if proc.alive:
                self.signals.finish(proc, exception_reason(exc))
                raise
            # Already ended (killed or exit()): a ProcessExit that a receive()
            # outside the cancelled region raised is that same end, reported below.
            if not isinstance(exc, ProcessExit | BaseExceptionGroup) or (
                exception_reason(exc) is not proc.exit_reason
            ):
                raise
        else:
            if proc.alive:
                self.signals.finish(proc, A_NORMAL)
        if proc.killed:
            raise ProcessExit(proc.exit_reason)

    def register(self, name: str | Atom, proc: Process) -> None:
        """Register ``proc`` under ``name``; ``ValueError`` if the name is taken or proc is dead."""
        self.processes.register(_atom(name), proc)

    def unregister(self, name: str | Atom) -> None:
        self.processes.unregister(_atom(name))

    def whereis(self, name: str | Atom) -> Process | None:
        return self.processes.whereis(_atom(name))

    def registered(self) -> list[Atom]:
        return self.processes.registered()

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
        peer = _atom(node)
        if peer is self.name:
            return True
        try:
            reply = await self.call(
                (Atom("net_kernel"), peer), (Atom("is_auth"), self.name), timeout
            )
        except CallError:
            return False
        return reply is Atom("yes")

    # -- peers ---------------------------------------------------------------------------------

    def monitor_nodes(
        self, buffer: int = 256
    ) -> AbstractAsyncContextManager[trio.MemoryReceiveChannel[NodeUp | NodeDown]]:
        """A channel of :class:`NodeUp`/:class:`NodeDown` for the block's duration.

        Events are dropped (with a warning) for a reader more than ``buffer``
        events behind, rather than stalling the connections that report them.
        """
        return self.peers.monitor_nodes(buffer)

    def connected_nodes(self) -> list[Atom]:
        return list(self.peers.connections)

    def connection_addresses(
        self, peer: Atom | str
    ) -> tuple[tuple[str, int], tuple[str, int]] | None:
        """``((local_ip, local_port), (peer_ip, peer_port))`` of the connection to ``peer``."""
        conn = self.peers.connections.get(_atom(peer))
        if conn is None or conn.local_address is None or conn.peer_address is None:
            return None
        return conn.local_address, conn.peer_address

    def disconnect(self, peer: Atom | str) -> bool:
        """Drop the connection to ``peer`` (``erlang:disconnect_node/1``)."""
        return self.peers.disconnect(_atom(peer))


def _atom(name: str | Atom) -> Atom:
    return Atom(name) if isinstance(name, str) else name
