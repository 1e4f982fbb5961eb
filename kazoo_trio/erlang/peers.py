"""The node's peers: accepting and dialing connections, and routing control messages to them.

:class:`Peers` turns sockets into :class:`~kazoo_trio.erlang.connection.Connection`
objects and keeps them by peer name: the acceptor side (handshake under
``handshake_timeout``, the status answer for simultaneous connects and
``alive``), the initiator side (EPMD lookup, TCP connect, handshake; what local
processes send meanwhile waits in the :class:`PendingDial`), and what happens
when a connection comes up or goes down (:class:`NodeUp`/:class:`NodeDown` to
node monitors, the handler's ``node_lost`` for links and monitors).

Every task here runs in the nursery of :meth:`Peers.serve` and catches what it
does not expect, logs it and drops only its own connection.

    Peers.serve                      (a task of the node's nursery)
    ├─ _accept_loop                  one per listener, paused while too many strangers wait
    │  └─ _serve_incoming            one per accepted socket: handshake, then the connection
    ├─ RefusalLog.run                summary lines for refused handshakes
    └─ _connector                    one per dialed peer: dial, then the connection

Connections that have not authenticated yet are bounded in total and per
source address (see :mod:`~kazoo_trio.erlang.admission`), and refused
handshakes are logged at a bounded rate, so a storm of bad connections
cannot starve the connected nodes.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

import attrs
import trio

from kazoo_trio.erlang.admission import Admission, AdmissionSettings, RefusalLog
from kazoo_trio.erlang.connection import Connection, Deferral, set_nodelay
from kazoo_trio.erlang.epmd import port_please
from kazoo_trio.erlang.handshake import (
    AliveAnswered,
    Connected,
    Failed,
    FailureKind,
    Handshake,
    HandshakeConfig,
    NameReceived,
    PeerAlive,
    Role,
    Status,
)
from kazoo_trio.erlang.links import A_NOCONNECTION
from kazoo_trio.erlang.names import NodeIdentity, split_node_name
from kazoo_trio.erlang.wire import messages as c
from kazoo_trio.term import EncodeError
from kazoo_trio.term.types import Atom

__all__ = [
    "PENDING_LIMIT",
    "ConnectionHandler",
    "NodeDown",
    "NodeUp",
    "PeerSettings",
    "Peers",
    "PendingDial",
    "SendOp",
]

log = logging.getLogger("kazoo_trio.erlang.peers")

# How many control messages may wait for a connection that is being set up
# before senders wait for the outcome; the handshake takes milliseconds, so
# this is only reached by a burst aimed at a node that does not answer.
PENDING_LIMIT = 10_000

#: Something to do with a connection once there is one.
SendOp = Callable[[Connection], None]

# Sent only to peers that negotiated monitors (DIST_MONITOR and DIST_MONITOR_NAME).
_NEEDS_MONITORS = (c.MonitorP, c.DemonitorP)


@attrs.frozen
class NodeUp:
    """A connection to ``node`` was established."""

    node: Atom


@attrs.frozen
class NodeDown:
    """The connection to ``node`` ended; ``reason`` says why (``net_tick_timeout``...)."""

    node: Atom
    reason: str


class ConnectionHandler(Protocol):
    """What the peers hand incoming traffic and lost connections to (the node's dispatcher)."""

    def on_packet(self, conn: Connection, data: bytes) -> bool: ...

    def on_frame(self, conn: Connection, msg: Any) -> None: ...

    def after_read(self, conn: Connection, failed: bool) -> Awaitable[None] | None: ...

    def node_lost(self, peer: Atom, reason: object) -> None: ...


@attrs.frozen
class PeerSettings:
    """How connections are made and kept (see :class:`~kazoo_trio.erlang.node.Node`)."""

    cookie: bytes = attrs.field(repr=False)
    flags: int
    epmd_port: int
    handshake_timeout: float
    net_ticktime: float
    max_frame: int
    admission: AdmissionSettings = attrs.Factory(AdmissionSettings)


@attrs.define(eq=False)
class PendingDial:
    """An outgoing connection being set up, and what local processes sent meanwhile."""

    peer: Atom
    ops: list[SendOp] = attrs.Factory(list)
    #: The dial, while it can still be called off by a simultaneous connect.
    scope: trio.CancelScope | None = None
    #: Set once the dial is over: connected (``ops`` were run) or failed (dropped).
    done: trio.Event = attrs.Factory(trio.Event)

    def add(self, op: SendOp) -> None:
        self.ops.append(op)


@attrs.define(eq=False)
class Peers:
    """Connections to other nodes, by name, and the dials under way."""

    identity: NodeIdentity
    settings: PeerSettings
    deferral: Deferral
    #: Where incoming traffic goes; the node sets it right after creating both.
    handler: ConnectionHandler | None = None
    #: Live connections by peer name (read directly by the routing hot paths).
    connections: dict[Atom, Connection] = attrs.field(factory=dict, init=False)
    pending: dict[Atom, PendingDial] = attrs.field(factory=dict, init=False)
    _monitors: list[trio.MemorySendChannel[NodeUp | NodeDown]] = attrs.field(
        factory=list, init=False
    )
    _nursery: trio.Nursery | None = attrs.field(default=None, init=False)
    admission: Admission = attrs.field(init=False)
    refusals: RefusalLog = attrs.field(factory=RefusalLog, init=False)

    def __attrs_post_init__(self) -> None:
        self.admission = Admission(self.settings.admission)

    # -- lifetime ------------------------------------------------------------------------------

    async def serve(
        self,
        listeners: list[trio.SocketListener],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Accept on ``listeners`` and dial on demand until cancelled."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self.refusals.run)
                for listener in listeners:
                    nursery.start_soon(self._accept_loop, listener, nursery)
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None
            for send in self._monitors:
                send.close()

    # -- node monitors -------------------------------------------------------------------------

    @asynccontextmanager
    async def monitor_nodes(
        self, buffer: int = 256
    ) -> AsyncIterator[trio.MemoryReceiveChannel[NodeUp | NodeDown]]:
        """A channel of :class:`NodeUp`/:class:`NodeDown` for the block's duration.

        Events are dropped (with a warning) for a reader more than ``buffer``
        events behind, rather than stalling the connections that report them.
        """
        send, receive = trio.open_memory_channel[NodeUp | NodeDown](buffer)
        self._monitors.append(send)
        try:
            yield receive
        finally:
            self._monitors.remove(send)
            send.close()

    def _notify(self, event: NodeUp | NodeDown) -> None:
        for send in self._monitors:
            try:
                send.send_nowait(event)
            except trio.WouldBlock:
                log.warning("node monitor is not keeping up; dropped %r", event)
            except trio.ClosedResourceError:
                pass

    # -- routing -------------------------------------------------------------------------------

    def outbox(self, peer: Atom, *, connect: bool = True) -> Connection | PendingDial | None:
        """The connection to ``peer``, else its dial (started when ``connect``), else None."""
        conn = self.connections.get(peer)
        if conn is not None:
            return conn
        pending = self.pending.get(peer)
        if pending is None and connect:
            pending = self._dial(peer)
        return pending

    def transmit(self, peer: Atom, msg: c.ControlMessage, *, connect: bool = False) -> None:
        """Queue ``msg`` for ``peer`` without waiting.

        Without a connection, ``msg`` waits for the dial when ``connect`` is
        set (dialing if need be) and is dropped otherwise: signals about a
        peer that is not connected have no one to reach.
        """
        conn = self.connections.get(peer)
        if conn is not None:
            _send_control(msg, conn)
        elif connect:
            pending = self.pending.get(peer) or self._dial(peer)
            if pending is not None:
                pending.add(lambda conn: _send_control(msg, conn))

    async def send_pending(self, peer: Atom, op: SendOp) -> None:
        """Run ``op`` on the connection to ``peer`` once there is one (dialing it).

        Waits while the connection's queue is over its limit, or while too
        many operations wait for the dial.
        """
        out = self.outbox(peer)
        if isinstance(out, Connection):
            op(out)
            await out.wait_space()
            return
        if out is None:
            await trio.lowlevel.checkpoint_if_cancelled()
            return
        out.add(op)
        if len(out.ops) > PENDING_LIMIT:
            await out.done.wait()
        await trio.lowlevel.checkpoint_if_cancelled()

    def disconnect(self, peer: Atom) -> bool:
        """Drop the connection to ``peer`` (``erlang:disconnect_node/1``)."""
        conn = self.connections.get(peer)
        if conn is None:
            return False
        conn.close("disconnect")
        return True

    # -- accepting -----------------------------------------------------------------------------

    def _handshake_config(self) -> HandshakeConfig:
        settings = self.settings
        return HandshakeConfig(
            self.identity.name.name, settings.cookie, settings.flags, self.identity.creation
        )

    async def _accept_loop(self, listener: trio.SocketListener, nursery: trio.Nursery) -> None:
        """Accept while strangers are under their limit (``trio.serve_listeners``' error rules)."""
        admission = self.admission
        async with listener:
            while True:
                await admission.wait_room()
                try:
                    stream = await listener.accept()
                except OSError as exc:
                    if exc.errno not in _ACCEPT_CAPACITY_ERRNOS:
                        raise
                    self.refusals.refused(
                        "accept",
                        f"accept failed: {os.strerror(exc.errno or 0)}; retrying in 0.1 s",
                        logging.ERROR,
                    )
                    await trio.sleep(0.1)
                    continue
                admission.accepted()
                nursery.start_soon(self._serve_incoming, stream)

    async def _serve_incoming(self, stream: trio.SocketStream) -> None:
        """Acceptor side (one task per accepted socket); nothing escapes it but cancellation."""
        counted = True
        try:
            event, hs = await self._admit(stream)
            counted = False
            self.admission.finished()
            if event is not None:
                await self._run_connection(stream, event, hs.trailing_data)
        except Exception:
            log.exception("internal error serving a connection; it was dropped")
            await trio.aclose_forcefully(stream)
        finally:
            if counted:
                self.admission.finished()

    async def _admit(self, stream: trio.SocketStream) -> tuple[Connected | None, Handshake]:
        """A handshake slot for the source address, then the handshake, under one deadline.

        Returns the :class:`Connected` event, or None when the stream was
        refused (and closed).
        """
        set_nodelay(stream)
        host, peer_addr = _peer(stream)
        hs = Handshake(Role.ACCEPTOR, self._handshake_config())
        timeout = self.settings.handshake_timeout
        slot: trio.Semaphore | None = None
        failed = True
        try:
            with trio.fail_after(timeout):
                slot = await self.admission.host_slot(host)
                event = await self._drive(stream, hs)
            failed = isinstance(event, Failed)
        except trio.TooSlowError:
            waited = "waiting for a handshake slot" if slot is None else "in the handshake"
            self.refusals.refused(
                "timed out",
                f"handshake from {peer_addr} ({hs.peer_name or 'unknown node'}) timed out "
                f"after {timeout:g} s {waited}",
            )
            await trio.aclose_forcefully(stream)
            return None, hs
        except (OSError, trio.BrokenResourceError) as exc:
            self.refusals.refused("broken", f"handshake from {peer_addr} failed: {exc}")
            await trio.aclose_forcefully(stream)
            return None, hs
        finally:
            if slot is not None:
                # Not awaited here: the stream is closed at once, only the slot is held.
                assert self._nursery is not None
                self._nursery.start_soon(self._release, host, slot, failed)
        if isinstance(event, Failed):
            detail = f"handshake from {peer_addr} refused: {event.reason}"
            if event.kind is FailureKind.NOK_SIMULTANEOUS:
                # Losing a simultaneous connect (nok) is routine, not a problem.
                log.info("%s", detail)
            else:
                self.refusals.refused(event.kind.value, detail)
            await trio.aclose_forcefully(stream)
            return None, hs
        return event, hs

    async def _release(self, host: str, slot: trio.Semaphore, failed: bool) -> None:
        await self.admission.release(host, slot, failed=failed)

    def _decide(self, event: NameReceived) -> Status:
        """The acceptor's answer to a peer that named itself (``dist_util:mark_pending``)."""
        # Not yet authenticated: the name must not become a permanent atom.
        peer = Atom.from_wire(event.peer_name)
        name = self.identity.name
        if peer is name:
            return Status.NOT_ALLOWED
        if peer in self.connections:
            return Status.ALIVE
        pending = self.pending.get(peer)
        if pending is not None and pending.scope is not None:
            # Both sides dial at once: the attempt of the node with the greater name wins.
            if name.name > peer.name:
                return Status.NOK
            pending.scope.cancel()
            pending.scope = None
            return Status.OK_SIMULTANEOUS
        return Status.OK

    async def _drive(self, stream: trio.SocketStream, hs: Handshake) -> Connected | Failed:
        """Run a handshake to its end (the caller applies the deadline)."""
        while True:
            event = hs.next_event()
            if event is None:
                out = hs.data_to_send()
                if out:
                    await stream.send_all(out)
                data = await stream.receive_some(4096)
                hs.receive_data(data)
                continue
            if isinstance(event, NameReceived):
                hs.decide_status(self._decide(event))
            elif isinstance(event, AliveAnswered):
                if event.keep:
                    old = self.connections.get(Atom.from_wire(hs.peer_name or ""))
                    if old is not None:
                        self._drop_connection(old, "replaced by a new connection")
            elif isinstance(event, PeerAlive):
                hs.answer_alive(Atom.from_wire(hs.peer_name or "") not in self.connections)
            out = hs.data_to_send()
            if out:
                await stream.send_all(out)
            if isinstance(event, Connected | Failed):
                return event

    # -- dialing -------------------------------------------------------------------------------

    def _dial(self, peer: Atom) -> PendingDial | None:
        """Start dialing ``peer``; None when the node is not running (nothing is sent)."""
        if self._nursery is None:
            log.warning("not connecting to %s: the node is not running", peer.name)
            return None
        pending = self.pending[peer] = PendingDial(peer)
        self._nursery.start_soon(self._connector, pending)
        return pending

    async def _connector(self, pending: PendingDial) -> None:
        """Initiator side; nothing escapes it but cancellation."""
        try:
            await self._connect_and_serve(pending)
        except Exception:
            log.exception("internal error in the connection to %s; it was dropped", pending.peer)
            if self.pending.get(pending.peer) is pending:
                self._fail_pending(pending)

    async def _connect_and_serve(self, pending: PendingDial) -> None:
        """Dial, then serve the connection, or fail what was queued for it."""
        peer = pending.peer
        outcome: tuple[trio.SocketStream, Connected, bytes] | Failed | str | None = None
        with trio.CancelScope() as scope:
            pending.scope = scope
            outcome = await self._handshake_with(peer)
        pending.scope = None
        if isinstance(outcome, tuple):
            await self._run_connection(*outcome)
            return
        if outcome is None or (
            isinstance(outcome, Failed) and outcome.kind is FailureKind.NOK_SIMULTANEOUS
        ):
            # The peer's simultaneous attempt won: its incoming connection
            # takes over what we queued, unless it fails too.
            with trio.move_on_after(self.settings.handshake_timeout):
                await pending.done.wait()
            if pending.done.is_set():
                return
            outcome = "the connection from the peer did not complete"
        if self.pending.get(peer) is pending:
            reason = outcome.reason if isinstance(outcome, Failed) else outcome
            log.warning("cannot connect to %s: %s", peer.name, reason)
            self._fail_pending(pending)

    async def _handshake_with(
        self, peer: Atom
    ) -> tuple[trio.SocketStream, Connected, bytes] | Failed | str:
        """EPMD lookup, TCP connect and handshake; a failure is returned, as its reason."""
        stream: trio.SocketStream | None = None
        timeout = self.settings.handshake_timeout
        try:
            with trio.fail_after(timeout):
                alive, host = split_node_name(peer)
                entry = await port_please(alive, host=host, port=self.settings.epmd_port)
                if entry is None:
                    return f"{alive} is not registered with EPMD on {host}"
                stream = await trio.open_tcp_stream(host, entry.port)
                set_nodelay(stream)
                hs = Handshake(Role.INITIATOR, self._handshake_config(), peer_name=peer.name)
                event = await self._drive(stream, hs)
            if isinstance(event, Failed):
                return event
            s, stream = stream, None
            return s, event, hs.trailing_data
        except trio.TooSlowError:
            return f"no connection within {timeout} s"
        except (OSError, trio.BrokenResourceError) as exc:
            return f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # EPMD errors and anything unexpected stay contained here
            return f"{type(exc).__name__}: {exc}"
        finally:
            if stream is not None:
                await trio.aclose_forcefully(stream)

    def _fail_pending(self, pending: PendingDial) -> None:
        del self.pending[pending.peer]
        pending.ops.clear()
        pending.done.set()
        self._node_lost(pending.peer, A_NOCONNECTION)

    # -- connections ---------------------------------------------------------------------------

    async def _run_connection(
        self, stream: trio.SocketStream, event: Connected, trailing: bytes
    ) -> None:
        peer = Atom(event.peer_name)
        if peer in self.connections:
            log.warning("dropping a second connection to %s", peer.name)
            await trio.aclose_forcefully(stream)
            return
        handler = self.handler
        assert handler is not None, "Peers.handler is set by the node"
        settings = self.settings
        conn = Connection(
            peer,
            stream,
            event.negotiated_flags,
            peer_creation=event.peer_creation,
            on_frame=handler.on_frame,
            on_packet=handler.on_packet,
            after_read=handler.after_read,
            net_ticktime=settings.net_ticktime,
            max_frame=settings.max_frame,
            trailing_data=trailing,
            deferral=self.deferral,
        )
        self.connections[peer] = conn
        pending = self.pending.pop(peer, None)
        if pending is not None:
            for op in pending.ops:
                try:
                    op(conn)
                except (EncodeError, ValueError) as exc:
                    log.warning("dropped a message queued for %s: %s", peer.name, exc)
            pending.ops.clear()
            pending.done.set()
        log.info("connected to %s (flags 0x%x)", peer.name, event.negotiated_flags)
        self._notify(NodeUp(peer))
        reason = "shutdown"
        try:
            reason = await conn.run()
        finally:
            self._drop_connection(conn, reason)

    def _drop_connection(self, conn: Connection, reason: str) -> None:
        """Forget ``conn`` (once) and deliver the local consequences of losing it."""
        conn.close(reason)
        if self.connections.get(conn.peer) is not conn:
            return
        del self.connections[conn.peer]
        log.info("connection to %s closed: %s", conn.peer.name, conn.reason)
        self._node_lost(conn.peer, A_NOCONNECTION)
        self._notify(NodeDown(conn.peer, conn.reason or reason))

    def _node_lost(self, peer: Atom, reason: object) -> None:
        if self.handler is not None:
            self.handler.node_lost(peer, reason)


def _send_control(msg: c.ControlMessage, conn: Connection) -> None:
    if isinstance(msg, _NEEDS_MONITORS) and not conn.monitors:
        return
    conn.send_nowait(msg)


def _peer(stream: trio.SocketStream) -> tuple[str, str]:
    """The source address of ``stream``, and how log lines show it (address and port)."""
    try:
        host, port = stream.socket.getpeername()[:2]
    except OSError:
        return "unknown", "unknown peer"
    return str(host), f"{host}:{port}"


# Errors of accept(2) that mean "overloaded": wait and retry rather than stop listening.
_ACCEPT_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
