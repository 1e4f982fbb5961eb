"""An embedded EPMD, for hosts where no system ``epmd`` runs.

It speaks the protocol of OTP's ``epmd`` closely enough that ``erl`` nodes
(``ERL_EPMD_PORT=P erl -start_epmd false``), ``net_adm:names/0`` and this
package's own client use it unchanged: one request per connection, a
registration lives exactly as long as the connection that made it, names are
unique among live registrations, and creations are non-zero and change on each
re-registration of a name.

Misbehaving peers only ever lose their own connection: garbage, oversize or
malformed requests, requests that do not arrive within ``request_timeout``, and
connections beyond ``max_connections`` are closed with one log line each.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import NoReturn

import attrs
import trio

from kazoo_trio.erlang.epmd_protocol import (
    DUPLICATE_CREATION,
    Alive2Request,
    DumpRequest,
    EpmdProtocolError,
    KillRequest,
    NamesRequest,
    NodeEntry,
    PortPlease2Request,
    Request,
    StopRequest,
    alive2_response,
    alive2_x_response,
    dump_response,
    names_response,
    parse_request,
    port2_response,
)

__all__ = ["EpmdServer"]

log = logging.getLogger("kazoo_trio.erlang.epmd.server")

# Real epmd closes a connection that has not completed its request after its
# packet timeout; a lookup from a live node takes milliseconds, so a few
# seconds only ever catches stalled or hostile peers.
REQUEST_TIMEOUT = 5.0
# Every registered node holds one connection for its whole life; this bounds
# file descriptors and memory while leaving room for far more nodes than one
# host runs.
MAX_CONNECTIONS = 512
# Names seen before keep their creation counter (so a restarted node gets a new
# creation); real epmd keeps up to 1000 such "unused" slots.
MAX_REMEMBERED_NAMES = 1000
_CREATION_LIMIT = 0xFFFFFFFF
# Real epmd never hands out a v6 creation below 4 (0..3 were the old 2-bit range).
_MIN_CREATION = 4


@attrs.frozen
class Registration:
    entry: NodeEntry
    creation: int


def _is_local(peer: tuple[str, int], local: tuple[str, int]) -> bool:
    """Loopback, or the host's own address (what real epmd accepts registrations from)."""
    addr = ipaddress.ip_address(peer[0].partition("%")[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback or peer[0] == local[0]


@attrs.define
class EpmdServer:
    """Registrations and creation counters of one embedded EPMD.

    :meth:`serve` runs it; the object can be inspected from tests or the node.
    """

    request_timeout: float = REQUEST_TIMEOUT
    max_connections: int = MAX_CONNECTIONS
    _registrations: dict[str, Registration] = attrs.field(factory=dict)
    _counters: dict[str, int] = attrs.field(factory=dict)
    _connections: int = 0

    @property
    def registrations(self) -> dict[str, Registration]:
        """Live registrations by name, in registration order (a copy)."""
        return dict(self._registrations)

    @property
    def connections(self) -> int:
        return self._connections

    async def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 4369,
        *,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> NoReturn:
        """Listen on host:port and serve until cancelled; ``started()`` gives the bound port.

        Binding errors (port taken, bad address) raise ``OSError`` before
        ``started()``.  Every connection runs in this call's own nursery, so
        cancelling it closes all of them, which also drops every registration.
        """
        listeners = await trio.open_tcp_listeners(port, host=host)
        bound = listeners[0].socket.getsockname()[1]
        log.info("embedded EPMD listening on %s:%d", host, bound)
        try:
            async with trio.open_nursery() as nursery:
                task_status.started(bound)
                await trio.serve_listeners(self._handle, listeners, handler_nursery=nursery)
        finally:
            self._registrations.clear()

    async def _handle(self, stream: trio.SocketStream) -> None:
        try:
            peer = stream.socket.getpeername()
            local = stream.socket.getsockname()
        except OSError:  # the peer is already gone
            await trio.aclose_forcefully(stream)
            return
        where = f"{peer[0]}:{peer[1]}"
        if self._connections >= self.max_connections:
            log.warning("refusing EPMD connection from %s: %d open", where, self._connections)
            await trio.aclose_forcefully(stream)
            return
        self._connections += 1
        try:
            await self._converse(stream, peer, local, where)
        except (OSError, trio.BrokenResourceError) as exc:
            log.debug("EPMD connection from %s failed: %s", where, exc)
        finally:
            self._connections -= 1
            await trio.aclose_forcefully(stream)

    async def _converse(
        self,
        stream: trio.SocketStream,
        peer: tuple[str, int],
        local: tuple[str, int],
        where: str,
    ) -> None:
        request = await self._read_request(stream, where)
        if request is None:
            return
        if isinstance(request, Alive2Request):
            if not _is_local(peer, local):
                log.warning("refusing ALIVE2 for %r from non-local %s", request.entry.name, where)
                return
            await self._keep_registration(stream, request.entry, where)
            return
        reply = self._answer(request, local[1])
        if reply:
            with trio.move_on_after(self.request_timeout) as scope:
                await stream.send_all(reply)
            if scope.cancelled_caught:
                log.warning("dropping EPMD connection from %s: reply not taken", where)

    async def _read_request(self, stream: trio.SocketStream, where: str) -> Request | None:
        buf = bytearray()
        with trio.move_on_after(self.request_timeout):
            while True:
                try:
                    request = parse_request(buf)
                except EpmdProtocolError as exc:
                    log.warning("dropping EPMD connection from %s: %s", where, exc)
                    return None
                if request is not None:
                    return request
                chunk = await stream.receive_some()
                if not chunk:
                    if buf:
                        log.warning(
                            "EPMD connection from %s closed after %d bytes of a request",
                            *(where, len(buf)),
                        )
                    return None
                buf += chunk
        log.warning(
            "dropping EPMD connection from %s: no complete request in %g s",
            *(where, self.request_timeout),
        )
        return None

    def _answer(self, request: Request, local_port: int) -> bytes:
        if isinstance(request, PortPlease2Request):
            registration = self._registrations.get(request.name)
            return port2_response(registration.entry if registration else None)
        nodes = [(r.entry.name, r.entry.port) for r in self._registrations.values()]
        if isinstance(request, NamesRequest):
            return names_response(local_port, nodes)
        if isinstance(request, DumpRequest):
            return dump_response(local_port, nodes)
        if isinstance(request, KillRequest):
            # The embedded EPMD lives and dies with its node, never by request.
            return b"NO"
        assert isinstance(request, StopRequest)
        # Real epmd ignores STOP unless started with -relaxed_command_check.
        log.info("ignoring EPMD STOP request")
        return b""

    def _next_creation(self, name: str, highest: int) -> int:
        counter = self._counters.pop(name, None)
        if counter is None:
            # Seeded from the clock like real epmd, so a restarted EPMD does not
            # hand a name the creation its previous incarnation had.
            counter = int(time.time())
        else:
            counter += 1
        if not _MIN_CREATION <= counter <= _CREATION_LIMIT:
            counter = _MIN_CREATION
        self._counters[name] = counter  # re-inserted last: most recently used
        if len(self._counters) > MAX_REMEMBERED_NAMES:
            for old in self._counters:
                if old not in self._registrations:
                    del self._counters[old]
                    break
        # Nodes older than the v6 handshake only understand creations 1..3.
        return counter if highest >= 6 else counter % 3 + 1

    async def _keep_registration(
        self, stream: trio.SocketStream, entry: NodeEntry, where: str
    ) -> None:
        respond = alive2_x_response if entry.highest_version >= 6 else alive2_response
        if entry.name in self._registrations:
            log.warning("refusing ALIVE2 for %r from %s: name in use", entry.name, where)
            with trio.move_on_after(self.request_timeout):
                await stream.send_all(respond(1, DUPLICATE_CREATION))
            return
        creation = self._next_creation(entry.name, entry.highest_version)
        registration = Registration(entry, creation)
        self._registrations[entry.name] = registration
        try:
            log.info(
                "registered %r at port %d (creation %d) for %s",
                *(entry.name, entry.port, creation, where),
            )
            with trio.move_on_after(self.request_timeout) as scope:
                await stream.send_all(respond(0, creation))
            if scope.cancelled_caught:
                log.warning("dropping ALIVE2 of %r from %s: reply not taken", entry.name, where)
                return
            try:
                data = await stream.receive_some()
            except (OSError, trio.BrokenResourceError) as exc:
                reason = f"connection error: {exc}"
            else:
                # Any byte after the reply ends the registration, as in real epmd.
                reason = f"sent {len(data)} bytes" if data else "closed"
            log.info("unregistered %r (%s)", entry.name, reason)
        finally:
            if self._registrations.get(entry.name) is registration:
                del self._registrations[entry.name]
