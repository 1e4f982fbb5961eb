"""An event stream: the side TCP socket over which one Erlang process receives events.

The first ``{event, [...]}`` request of an Erlang process creates one
:class:`EventStream`: a listener on ``listen-ip`` with an ephemeral port, a
bounded queue of encoded frames (:class:`~kazoo_trio.kazoo.streams.queue.StreamQueue`,
which holds the bounds and the drop-oldest rule), and a sender.  The process connects with
``gen_tcp:connect(Ip, Port, [binary, {packet, N}])`` and then only reads.

Where this differs from mod_kazoo, on purpose:

* events fired before the client connects are queued and delivered once it
  does (mod_kazoo drops them);
* a slow reader never kills the stream: the queue is bounded in events and in
  bytes and, past the bound, the *oldest* events are dropped, counted and logged
  (mod_kazoo ends the stream on the first partial write);
* an event that does not fit the frame is counted and logged, never sent as a
  corrupt frame; the limit is exactly ``2^(8*framing) - 1`` payload bytes;
* only clients from the allowed hosts are accepted (by default the requesting
  node's host); a new allowed client replaces the current one, and the frames
  not yet written to the old client go to the new one;
* a send error closes that client only; the stream keeps its queue and waits
  for the next client.

Events are encoded in :meth:`EventStream.offer`, in the switch's fan-out path:
the legacy/JSON choice is the connection's option when the event fires (as in
mod_kazoo), the byte bound of the queue is exact, an oversized event is
reported at once, and the sender only joins ready frames (queued frames are
coalesced into one ``send``).  The cost is encoding work for events a full
queue later drops, which only happens when the reader is already too slow.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket as stdlib_socket
from collections.abc import Callable, Mapping
from typing import Final

import attrs
import trio

from kazoo_trio.kazoo.streams.bindings import Bindings
from kazoo_trio.kazoo.streams.encoding import (
    JSON,
    MAP,
    JsonEncoder,
    LegacyFilter,
    encode_json_event,
    encode_legacy_event,
    prepare,
    verbose_encoder,
)
from kazoo_trio.kazoo.streams.queue import StreamQueue, max_payload
from kazoo_trio.ratelimit import RateLimitedLog
from kazoo_trio.switch.event import Event

__all__ = ["EventStream", "StreamOptions", "StreamStats", "client_allowed"]

log = logging.getLogger(__name__)

# mod_kazoo's per-stream queue length (MAX_QUEUE_LEN); also our default bound.
DEFAULT_MAX_EVENTS: Final = 25_000
# About 7,000 e90 events; bounds memory when a reader stalls on large events.
DEFAULT_MAX_BYTES: Final = 32 * 1024 * 1024
# mod_kazoo's listen backlog.
LISTEN_BACKLOG: Final = 5
# Repeated warnings (drops under overload) are logged at most this often.
LOG_INTERVAL: Final = 5.0
# accept() errors that mean "out of resources, try again later" (as trio's serve_listeners).
_ACCEPT_CAPACITY_ERRORS: Final = frozenset(
    {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
)
_ACCEPT_RETRY_DELAY: Final = 0.1


def _legacy_option(value: bool | Callable[[], bool]) -> bool | Callable[[], bool]:
    return value if callable(value) else bool(value)


@attrs.frozen
class StreamOptions:
    """How one stream frames, sends and encodes; fixed when the stream is created.

    ``legacy`` is read for every event (the connection's ``enable-legacy``
    changes at any moment): a bool, or a callable returning the current value.
    ``allowed_hosts`` are the client addresses accepted (``None``: any); the
    server passes the requesting node's host address.
    """

    framing: int = attrs.field(default=2, validator=attrs.validators.in_((1, 2, 4)))
    keepalive: bool = True
    nodelay: bool = True
    legacy: bool | Callable[[], bool] = attrs.field(default=False, converter=_legacy_option)
    json_encoding: str = attrs.field(default=JSON, validator=attrs.validators.in_((JSON, MAP)))
    max_events: int = attrs.field(default=DEFAULT_MAX_EVENTS, validator=attrs.validators.ge(1))
    max_bytes: int = attrs.field(default=DEFAULT_MAX_BYTES, validator=attrs.validators.ge(1))
    allowed_hosts: frozenset[str] | None = None


@attrs.define
class StreamStats:
    """Counters of one stream (for diagnostics and tests)."""

    events_queued: int = 0
    events_sent: int = 0
    events_filtered: int = 0  # the JSON encoder (a profile filter) declined them
    events_dropped_overflow: int = 0
    events_dropped_too_large: int = 0
    events_dropped_error: int = 0  # the encoder raised
    bytes_sent: int = 0
    clients_accepted: int = 0
    clients_refused: int = 0
    clients_replaced: int = 0
    send_errors: int = 0


def _normal_host(host: str) -> str:
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def client_allowed(host: str, allowed_hosts: frozenset[str] | None) -> bool:
    """Whether a client connecting from ``host`` may receive the stream.

    Addresses are compared in their normal text form, an IPv4-mapped IPv6
    address (``::ffff:10.0.0.1``) being the IPv4 address it carries.
    """
    if allowed_hosts is None:
        return True
    wanted = _normal_host(host)
    return any(_normal_host(h) == wanted for h in allowed_hosts)


@attrs.define(eq=False)
class _Client:
    sock: trio.socket.SocketType
    peer: str
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)


@attrs.define(eq=False)
class EventStream:
    """One Erlang process's event stream.

    ``target_node`` is the Erlang node of the requester (``Target-Node``),
    ``switch_nodename`` our own node name (``Switch-Nodename``).  The server
    may replace ``json_encoder`` (the profile engine) at any time, and changes
    the bindings through ``bindings``.

    Lifetime: :meth:`run` inside a nursery of the server; cancelling it, or
    :meth:`aclose`, closes the listener and the client and discards the queue.
    """

    options: StreamOptions
    target_node: str
    switch_nodename: str
    listen_ip: str = "0.0.0.0"
    json_encoder: JsonEncoder = verbose_encoder
    legacy_filter: LegacyFilter = attrs.field(factory=LegacyFilter)
    label: str = ""  # who the stream is for, in log lines (the requester's pid)
    bindings: Bindings = attrs.field(factory=Bindings)
    stats: StreamStats = attrs.field(factory=StreamStats)
    address: tuple[str, int] | None = attrs.field(default=None, init=False)

    _queue: StreamQueue = attrs.field(init=False)
    _listener: trio.socket.SocketType | None = attrs.field(default=None, init=False)
    _work: trio.Event = attrs.field(factory=trio.Event, init=False)
    _client: _Client | None = attrs.field(default=None, init=False)
    _scope: trio.CancelScope | None = attrs.field(default=None, init=False)
    _finished: trio.Event = attrs.field(factory=trio.Event, init=False)
    _closed: bool = attrs.field(default=False, init=False)
    _overflow_log: RateLimitedLog = attrs.field(
        factory=lambda: RateLimitedLog(log, LOG_INTERVAL), init=False
    )
    _too_large_log: RateLimitedLog = attrs.field(
        factory=lambda: RateLimitedLog(log, LOG_INTERVAL), init=False
    )
    _error_log: RateLimitedLog = attrs.field(
        factory=lambda: RateLimitedLog(log, LOG_INTERVAL), init=False
    )

    def __attrs_post_init__(self) -> None:
        options = self.options
        self._queue = StreamQueue(options.framing, options.max_events, options.max_bytes)

    # -- the switch side ------------------------------------------------------------

    @property
    def queued_events(self) -> int:
        return len(self._queue)

    @property
    def queued_bytes(self) -> int:
        return self._queue.queued_bytes

    @property
    def connected(self) -> bool:
        return self._client is not None

    def offer(self, event: Event) -> None:
        """Queue ``event`` for the client if a binding matches it.  Never blocks.

        Never raises for a bad event either: an encoder failure, a profile filter
        and an event too large for the framing are counted and logged (the latter
        two rate-limited), and the stream carries on.  When the queue is past its
        bound the oldest queued events are dropped to make room.  After the stream
        closed, events are ignored.
        """
        if self._closed:
            return
        binding = self.bindings.match_name(event.name, event.subclass)
        if binding is None:
            return
        options = self.options
        legacy = options.legacy
        try:
            if legacy() if callable(legacy) else legacy:
                payload: bytes | None = encode_legacy_event(
                    event, self.target_node, self.switch_nodename, self.legacy_filter
                )
            else:
                payload = encode_json_event(
                    prepare(event, self.target_node, self.switch_nodename),
                    binding,
                    options.json_encoding,
                    self.json_encoder,
                )
        except Exception as exc:
            # A bad event or profile must cost this event only, never the stream.
            self.stats.events_dropped_error += 1
            self._error_log.warn(
                "event stream %s: cannot encode %s event: %r", self.label, _describe(event), exc
            )
            log.debug("encoding failure", exc_info=True)
            return
        if payload is None:
            self.stats.events_filtered += 1
            return
        size = len(payload)
        if size > max_payload(options.framing):
            self.stats.events_dropped_too_large += 1
            self._too_large_log.warn(
                "event stream %s: %s event of %d bytes does not fit %d-byte framing; not sent%s",
                self.label,
                _describe(event),
                size,
                options.framing,
                " (ask for framing 4)" if options.framing < 4 else "",
            )
            return
        self.stats.events_queued += 1
        dropped = self._queue.offer(payload)
        if dropped:
            self._dropped(dropped)
        work = self._work
        if not work.is_set():  # wake the sender once, not once per event
            work.set()

    def may_take(self, binding: str, known: Mapping[str, str | None]) -> bool:
        """Whether :meth:`offer` could queue an event its bindings take as ``binding``
        (what ``bindings.match_name`` gave) holding the ``known`` headers (as
        :func:`~kazoo_trio.kazoo.streams.encoding.prepared_known` gives them):
        ``False`` only when the JSON encoder's profile filter surely rejects it.  An
        encoder that cannot tell takes it.
        """
        if self._closed:
            return False
        legacy = self.options.legacy
        if legacy() if callable(legacy) else legacy:
            return True
        may_pass: Callable[[str, Mapping[str, str | None]], bool] | None = getattr(
            self.json_encoder, "may_pass", None
        )
        return may_pass is None or may_pass(binding, known)

    def _dropped(self, count: int) -> None:
        self.stats.events_dropped_overflow += count
        self._report_drops()

    def _report_drops(self) -> None:
        # Also called once the drops stop: the last report carries the full count,
        # not the count at the first drop of a burst.
        self._overflow_log.warn(
            "event stream %s: queue full (%d events, %d bytes), dropped the oldest;"
            " %d dropped so far",
            self.label,
            len(self._queue),
            self._queue.queued_bytes,
            self.stats.events_dropped_overflow,
        )

    # -- the TCP side ---------------------------------------------------------------

    async def listen(self) -> tuple[str, int]:
        """Open the listener unless it is open: its ``(ip, port)``.

        :meth:`run` calls it; calling it first gives the address before the
        stream's task is started.  Raises ``OSError`` if the listener cannot be
        opened.
        """
        if self._listener is not None and self.address is not None:
            return self.address
        family = stdlib_socket.AF_INET6 if ":" in self.listen_ip else stdlib_socket.AF_INET
        listener = trio.socket.socket(family, stdlib_socket.SOCK_STREAM)
        try:
            await listener.bind((self.listen_ip, 0))
            listener.listen(LISTEN_BACKLOG)
        except BaseException:
            listener.close()
            raise
        host, port = listener.getsockname()[:2]
        self._listener = listener
        self.address = (host, port)
        log.info("event stream %s: listening on %s:%d", self.label, host, port)
        return host, port

    async def run(
        self, *, task_status: trio.TaskStatus[tuple[str, int]] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen, report ``(ip, port)`` through ``task_status``, then accept and send.

        Returns when :meth:`aclose` is called; cancellation also ends it.  Either
        way the listener and the client are closed and the queue is discarded.
        Raises ``OSError`` (before ``started``) if the listener cannot be opened.
        """
        try:
            with trio.CancelScope() as self._scope:
                if self._closed:
                    self._scope.cancel()
                address = await self.listen()
                assert self._listener is not None
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._accept_loop, self._listener, nursery)
                    nursery.start_soon(self._send_loop)
                    task_status.started(address)
        finally:
            self.discard()
            self._finished.set()

    async def aclose(self) -> None:
        """Stop the stream and wait until :meth:`run` has cleaned up."""
        self._closed = True
        if self._scope is None:
            # run() never started (it will stop at once if it does): nothing
            # else holds the listener.
            self.discard()
            return
        self._scope.cancel()
        await self._finished.wait()

    def discard(self) -> None:
        """Close the listener and the client and drop the queue, at once.

        For a stream whose :meth:`run` is not running (it stops at once if it
        starts later); :meth:`aclose` is the way to stop a running one.
        """
        self._closed = True
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._drop_client()
        self._queue.clear()

    async def _accept_loop(self, listener: trio.socket.SocketType, nursery: trio.Nursery) -> None:
        while True:
            try:
                sock, address = await listener.accept()
            except OSError as exc:
                if exc.errno in _ACCEPT_CAPACITY_ERRORS:
                    log.error("event stream %s: accept failed: %s; retrying", self.label, exc)
                    await trio.sleep(_ACCEPT_RETRY_DELAY)
                else:  # the connection went away before we took it
                    log.info("event stream %s: accept failed: %s", self.label, exc)
                continue
            host, port = address[0], address[1]
            peer = f"{host}:{port}"
            if not client_allowed(host, self.options.allowed_hosts):
                self.stats.clients_refused += 1
                log.warning(
                    "event stream %s: refused client %s (allowed hosts: %s)",
                    self.label,
                    peer,
                    ", ".join(sorted(self.options.allowed_hosts or ())),
                )
                sock.close()
                continue
            try:
                self._configure(sock)
            except OSError as exc:
                log.warning("event stream %s: client %s: %s", self.label, peer, exc)
                sock.close()
                continue
            self._install(_Client(sock, peer), nursery)

    def _configure(self, sock: trio.socket.SocketType) -> None:
        if sock.family in (stdlib_socket.AF_INET, stdlib_socket.AF_INET6):
            nodelay = 1 if self.options.nodelay else 0
            sock.setsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY, nodelay)
        keepalive = 1 if self.options.keepalive else 0
        sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_KEEPALIVE, keepalive)

    def _install(self, client: _Client, nursery: trio.Nursery) -> None:
        old = self._client
        self.stats.clients_accepted += 1
        if old is not None:
            self.stats.clients_replaced += 1
            log.info("event stream %s: client %s replaces %s", self.label, client.peer, old.peer)
            self._drop_client()
        else:
            log.info("event stream %s: client %s connected", self.label, client.peer)
        self._client = client
        nursery.start_soon(self._watch, client)
        self._work.set()

    def _drop_client(self, client: _Client | None = None) -> None:
        """Close ``client`` (default: the current one); a send in progress ends with an error."""
        current = self._client
        if client is None:
            client = current
        if client is None:
            return
        if client is current:
            self._client = None
        client.scope.cancel()
        client.sock.close()

    async def _watch(self, client: _Client) -> None:
        """Notice the client closing its end while we have nothing to send.

        ecallmgr never writes; anything read is discarded.
        """
        reason = "closed the connection"
        with client.scope:
            try:
                while await client.sock.recv(4096):
                    pass
            except (OSError, trio.ClosedResourceError) as exc:
                reason = f"connection error: {exc}"
        if client is self._client:
            log.info("event stream %s: client %s %s", self.label, client.peer, reason)
            self._drop_client(client)

    async def _send_loop(self) -> None:
        queue = self._queue
        stats = self.stats
        while True:
            client = self._client
            if client is None or not queue:
                self._work = trio.Event()
                with trio.move_on_after(max(0.0, self._overflow_log.due_in())):
                    await self._work.wait()
                if self._overflow_log.due_in() <= 0:
                    self._report_drops()
                continue
            # Everything queued (up to the batch size) in one write: the frames the
            # switch queued while this task waited for the socket or its turn.
            batch, joined = queue.take_batch()
            data = memoryview(joined)
            size = len(joined)
            sent = 0
            try:
                while sent < size:
                    sent += await client.sock.send(data[sent:])
            except (OSError, trio.ClosedResourceError) as exc:
                if client is self._client:
                    stats.send_errors += 1
                    log.warning(
                        "event stream %s: send to %s failed: %s; waiting for a new client",
                        self.label,
                        client.peer,
                        exc,
                    )
                    self._drop_client(client)
            finally:
                stats.bytes_sent += sent
                done, dropped = queue.account(batch, sent)
                stats.events_sent += done
                if dropped:
                    self._dropped(dropped)


def _describe(event: Event) -> str:
    return event.subclass or event.name
