"""Setting up distribution connections: accepting, dialing, and what happens around them.

:class:`ConnectionSetup` is the part of :class:`~kazoo_trio.erlang.node.Node`
that turns sockets into :class:`~kazoo_trio.erlang.connection.Connection` objects:
the acceptor side (handshake under ``handshake_timeout``, the status answer
for simultaneous connects and ``alive``), the initiator side (EPMD lookup,
TCP connect, handshake; messages sent meanwhile wait in a :class:`_Pending`),
and the bookkeeping when a connection comes up or goes down (NodeUp/NodeDown,
``noconnection`` for links and monitors).  Every task started here catches
what it does not expect, logs it and drops only its own connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import attrs
import trio

from kazoo_trio.erlang.connection import Connection, Deferral, set_nodelay
from kazoo_trio.erlang.epmd import port_please
from kazoo_trio.erlang.handshake import (
    AliveAnswered,
    Connected,
    Failed,
    Handshake,
    HandshakeConfig,
    NameReceived,
    PeerAlive,
    Role,
)
from kazoo_trio.erlang.mailbox import Wakeup
from kazoo_trio.erlang.names import split_node_name
from kazoo_trio.erlang.process import A_NOCONNECTION
from kazoo_trio.erlang.signals import SendOp
from kazoo_trio.term import EncodeError
from kazoo_trio.term.types import Atom

__all__ = ["ConnectionSetup", "NodeDown", "NodeUp"]

log = logging.getLogger("kazoo_trio.erlang.setup")


@attrs.frozen
class NodeUp:
    """A connection to ``node`` was established."""

    node: Atom


@attrs.frozen
class NodeDown:
    """The connection to ``node`` ended; ``reason`` says why (``net_tick_timeout``...)."""

    node: Atom
    reason: str


class _Pending:
    """An outgoing connection being set up, and what local processes sent meanwhile."""

    def __init__(self, peer: Atom) -> None:
        self.peer = peer
        self.ops: list[SendOp] = []
        self.scope: trio.CancelScope | None = None
        self.done = Wakeup()
        self.finished = False

    def add(self, op: SendOp) -> None:
        self.ops.append(op)


class ConnectionSetup:
    """Accepting and dialing connections; mixed into the node."""

    name: Atom
    cookie: bytes
    flags: int
    creation: int
    epmd_port: int
    handshake_timeout: float
    net_ticktime: float
    max_frame: int
    _conns: dict[Atom, Connection]
    _pending: dict[Atom, _Pending]
    _nursery: trio.Nursery | None
    _deferral: Deferral
    _on_frame: Callable[[Connection, Any], None]
    _on_hot_packet: Callable[[Connection, bytes], bool]

    def _node_lost(self, peer: Atom, reason: object) -> None:
        raise NotImplementedError

    def _notify(self, event: NodeUp | NodeDown) -> None:
        raise NotImplementedError

    def _handshake_config(self) -> HandshakeConfig:
        return HandshakeConfig(self.name.name, self.cookie, self.flags, self.creation)

    async def _serve_incoming(self, stream: trio.SocketStream) -> None:
        """Acceptor side (one task per accepted socket); nothing escapes it but cancellation."""
        try:
            await self._accept(stream)
        except Exception:
            log.exception("internal error serving a connection; it was dropped")
            await trio.aclose_forcefully(stream)

    async def _accept(self, stream: trio.SocketStream) -> None:
        """Handshake under a deadline, then serve the connection."""
        set_nodelay(stream)
        peer_addr = _peer(stream)
        hs = Handshake(Role.ACCEPTOR, self._handshake_config())
        try:
            with trio.fail_after(self.handshake_timeout):
                event = await self._drive(stream, hs)
        except trio.TooSlowError:
            log.warning(
                "handshake from %s (%s) timed out after %g s",
                peer_addr,
                hs.peer_name or "unknown node",
                self.handshake_timeout,
            )
            await trio.aclose_forcefully(stream)
            return
        except (OSError, trio.BrokenResourceError) as exc:
            log.warning("handshake from %s failed: %s", peer_addr, exc)
            await trio.aclose_forcefully(stream)
            return
        if isinstance(event, Failed):
            # Losing a simultaneous connect (nok) is routine, not a problem.
            level = logging.INFO if "answered nok" in event.reason else logging.WARNING
            log.log(level, "handshake from %s refused: %s", peer_addr, event.reason)
            await trio.aclose_forcefully(stream)
            return
        await self._run_connection(stream, event, hs.trailing_data)

    def _decide(self, event: NameReceived) -> str:
        peer = Atom(event.peer_name)
        if peer is self.name:
            return "not_allowed"
        if peer in self._conns:
            return "alive"
        pending = self._pending.get(peer)
        if pending is not None and pending.scope is not None:
            # Both sides dial at once: the greater name's attempt wins (§2.5).
            if self.name.name > peer.name:
                return "nok"
            pending.scope.cancel()
            pending.scope = None
            return "ok_simultaneous"
        return "ok"

    async def _drive(self, stream: trio.SocketStream, hs: Handshake) -> Connected | Failed:
        """Run a handshake to its end (caller applies the deadline)."""
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
                    old = self._conns.get(Atom(hs.peer_name or ""))
                    if old is not None:
                        self._drop_connection(old, "replaced by a new connection")
            elif isinstance(event, PeerAlive):
                hs.answer_alive(Atom(hs.peer_name or "") not in self._conns)
            out = hs.data_to_send()
            if out:
                await stream.send_all(out)
            if isinstance(event, Connected | Failed):
                return event

    def _connect(self, peer: Atom) -> _Pending:
        pending = self._pending[peer] = _Pending(peer)
        assert self._nursery is not None
        self._nursery.start_soon(self._connector, pending)
        return pending

    async def _connector(self, pending: _Pending) -> None:
        """Initiator side (a task in the node's nursery); nothing escapes it but cancellation."""
        try:
            await self._connect_and_serve(pending)
        except Exception:
            log.exception("internal error in the connection to %s; it was dropped", pending.peer)
            if self._pending.get(pending.peer) is pending:
                self._fail_pending(pending)

    async def _connect_and_serve(self, pending: _Pending) -> None:
        """Dial, then serve the connection, or fail what was queued for it."""
        peer = pending.peer
        outcome: tuple[trio.SocketStream, Connected, bytes] | str | None = None
        with trio.CancelScope() as scope:
            pending.scope = scope
            outcome = await self._dial(peer)
        pending.scope = None
        if isinstance(outcome, tuple):
            await self._run_connection(*outcome)
            return
        if outcome is None or "answered nok" in outcome:
            # The peer's simultaneous attempt won (§2.5): its incoming
            # connection takes over what we queued, unless it fails too.
            with trio.move_on_after(self.handshake_timeout):
                while not pending.finished:
                    await pending.done.wait()
            if pending.finished:
                return
            outcome = "the connection from the peer did not complete"
        if self._pending.get(peer) is pending:
            log.warning("cannot connect to %s: %s", peer.name, outcome)
            self._fail_pending(pending)

    async def _dial(self, peer: Atom) -> tuple[trio.SocketStream, Connected, bytes] | str:
        """EPMD lookup, TCP connect and handshake; a failure is returned as its reason."""
        stream: trio.SocketStream | None = None
        try:
            with trio.fail_after(self.handshake_timeout):
                alive, host = split_node_name(peer)
                entry = await port_please(alive, host=host, port=self.epmd_port)
                if entry is None:
                    return f"{alive} is not registered with EPMD on {host}"
                stream = await trio.open_tcp_stream(host, entry.port)
                set_nodelay(stream)
                hs = Handshake(Role.INITIATOR, self._handshake_config(), peer_name=peer.name)
                event = await self._drive(stream, hs)
            if isinstance(event, Failed):
                return event.reason
            s, stream = stream, None
            return s, event, hs.trailing_data
        except trio.TooSlowError:
            return f"no connection within {self.handshake_timeout} s"
        except (OSError, trio.BrokenResourceError) as exc:
            return f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # EPMD errors and anything unexpected stay contained here
            return f"{type(exc).__name__}: {exc}"
        finally:
            if stream is not None:
                await trio.aclose_forcefully(stream)

    def _fail_pending(self, pending: _Pending) -> None:
        del self._pending[pending.peer]
        pending.finished = True
        pending.ops.clear()
        pending.done.set()
        self._node_lost(pending.peer, A_NOCONNECTION)

    async def _run_connection(
        self, stream: trio.SocketStream, event: Connected, trailing: bytes
    ) -> None:
        peer = Atom(event.peer_name)
        if peer in self._conns:
            log.warning("dropping a second connection to %s", peer.name)
            await trio.aclose_forcefully(stream)
            return
        conn = Connection(
            peer,
            stream,
            event.negotiated_flags,
            peer_creation=event.peer_creation,
            on_frame=self._on_frame,
            on_packet=self._on_hot_packet,
            net_ticktime=self.net_ticktime,
            max_frame=self.max_frame,
            trailing_data=trailing,
            deferral=self._deferral,
        )
        self._conns[peer] = conn
        pending = self._pending.pop(peer, None)
        if pending is not None:
            pending.finished = True
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
        if self._conns.get(conn.peer) is not conn:
            return
        del self._conns[conn.peer]
        log.info("connection to %s closed: %s", conn.peer.name, conn.reason)
        self._node_lost(conn.peer, A_NOCONNECTION)
        self._notify(NodeDown(conn.peer, conn.reason or reason))


def _peer(stream: trio.SocketStream) -> str:
    try:
        host, port = stream.socket.getpeername()[:2]
    except OSError:
        return "unknown peer"
    return f"{host}:{port}"
