"""The event streams of every Erlang process, one per requesting pid.

The table owns the streams' tasks (the nursery of its :meth:`StreamTable.run`),
is the switch's event listener and offers each fired event to every stream;
each stream's bindings decide whether it takes it.  Streams are created by the
first ``event`` request of a pid and closed when that pid exits, when its node
disconnects, or when the table is cancelled.

The request handler that creates a stream opens its listener itself (the reply
carries the port) and hands the stream to :meth:`StreamTable.run` through a
bounded channel, which never makes the handler wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Final, NoReturn

import attrs
import trio

from kazoo_trio.errors import RequestError
from kazoo_trio.kazoo.requests.options import OptionsTable
from kazoo_trio.kazoo.streams.encoding import (
    JSON,
    MAP,
    JsonEncoder,
    LegacyFilter,
    prepared_known,
    verbose_encoder,
)
from kazoo_trio.kazoo.streams.stream import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_EVENTS,
    EventStream,
    StreamOptions,
)
from kazoo_trio.switch.bus import EventNames
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import FollowsListeners
from kazoo_trio.term.types import Atom, Pid

__all__ = ["StreamTable", "StreamsBusy"]

log = logging.getLogger(__name__)

# Streams created and not yet started by run(), which starts them as fast as
# they come: this only fills when run() is not running.
STARTING_BACKLOG: Final = 256


class StreamsBusy(RequestError):
    """Too many new streams are waiting to start; the request is refused."""


@attrs.define(eq=False)
class _Entry:
    stream: EventStream
    node: Atom
    address: tuple[str, int]


@attrs.define
class StreamTable:
    """Streams by owner pid.

    ``json_encoder`` is what new and existing streams encode JSON events
    with; :meth:`set_json_encoder` swaps it everywhere (new profiles).
    ``max_events``/``max_bytes`` bound each stream's queue.  ``clients`` says who
    may connect to a stream (the ``event-stream-clients`` setting): ``node``
    (the address of the Erlang node that asked for the stream), ``any``, and/or
    IP addresses.
    """

    options: OptionsTable
    switch_nodename: str
    listen_ip: str = "0.0.0.0"
    json_encoding: str = JSON
    legacy_filter: LegacyFilter = attrs.field(factory=LegacyFilter)
    json_encoder: JsonEncoder = verbose_encoder
    max_events: int = DEFAULT_MAX_EVENTS
    max_bytes: int = DEFAULT_MAX_BYTES
    clients: tuple[str, ...] = ("node",)
    # A switch receiving only the events its listeners name: told whenever the
    # bindings change, and waited for after bindings are added.
    follower: FollowsListeners | None = None
    _streams: dict[Pid, _Entry] = attrs.field(factory=dict, init=False)
    _to_start: trio.MemorySendChannel[tuple[Pid, EventStream]] = attrs.field(init=False)
    _starting: trio.MemoryReceiveChannel[tuple[Pid, EventStream]] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._to_start, self._starting = trio.open_memory_channel[tuple[Pid, EventStream]](
            STARTING_BACKLOG
        )

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Run the streams until cancelled; cancellation closes every stream."""
        try:
            async with trio.open_nursery() as nursery:
                task_status.started()
                while True:
                    pid, stream = await self._starting.receive()
                    nursery.start_soon(self._run_stream, pid, stream)
        finally:
            self._streams.clear()
            self.bindings_changed()
            while True:
                try:
                    _, stream = self._starting.receive_nowait()
                except trio.WouldBlock:
                    break
                stream.discard()

    def offer(self, event: Event) -> None:
        """The switch's event listener: hand ``event`` to every stream (never blocks)."""
        for entry in list(self._streams.values()):
            entry.stream.offer(event)

    def wants(self, name: str, subclass: str | None) -> bool:
        """Whether some stream is bound to events ``name``/``subclass`` (so that the
        switch builds them only then)."""
        for entry in self._streams.values():
            if entry.stream.bindings.match_name(name, subclass) is not None:
                return True
        return False

    def wants_headers(
        self, name: str, subclass: str | None, known: Mapping[str, str | None]
    ) -> bool:
        """:meth:`wants`, also asking each stream's profile filter about an event that
        will hold the ``known`` headers (name → its only value, ``None`` for none)."""
        prepared: dict[str, str | None] | None = None
        for entry in self._streams.values():
            stream = entry.stream
            binding = stream.bindings.match_name(name, subclass)
            if binding is None:
                continue
            if prepared is None:
                prepared = prepared_known(known)
            if stream.may_take(binding, prepared):
                return True
        return False

    def wanted_names(self) -> EventNames:
        """Every event some stream is bound to, by name (see :meth:`wants`)."""
        found = EventNames()
        for entry in self._streams.values():
            found |= entry.stream.bindings.event_names()
            if found.every:
                break
        return found

    def bindings_changed(self) -> None:
        """Tell the switch that the streams' bindings may have changed (a stream's
        bindings were removed, or a stream closed)."""
        if self.follower is not None:
            self.follower.listeners_changed()

    async def subscribe(
        self, pid: Pid, node: Atom, names: list[str], allowed_host: str | None
    ) -> tuple[bool, tuple[str, int]]:
        """Add ``names`` to ``pid``'s stream, creating it first if needed.

        Returns ``(created, (ip, port))`` of the stream's listener.  Raises
        ``OSError`` when a new listener cannot be opened and :class:`StreamsBusy`
        when too many new streams wait for :meth:`run` (nothing is kept then).
        """
        entry = self._streams.get(pid)
        created = False
        if entry is None:
            entry = await self._create(pid, node, allowed_host)
            created = True
        entry.stream.bindings.add(names)
        if self.follower is not None:
            # The reply comes when the switch delivers what was bound, as mod_kazoo's did.
            self.follower.listeners_changed()
            await self.follower.listeners_followed()
        return created, entry.address

    async def _create(self, pid: Pid, node: Atom, allowed_host: str | None) -> _Entry:
        conn = self.options.get(node)
        options_table = self.options

        def legacy() -> bool:
            # The connection's current option: it changes at any time, and a
            # reconnect brings fresh options.
            return options_table.get(node).legacy

        stream = EventStream(
            options=StreamOptions(
                framing=conn.framing,
                keepalive=conn.keepalive,
                legacy=legacy,
                json_encoding=MAP if self.json_encoding == MAP else JSON,
                max_events=self.max_events,
                max_bytes=self.max_bytes,
                allowed_hosts=self.allowed_hosts(allowed_host),
            ),
            target_node=node.name,
            switch_nodename=self.switch_nodename,
            listen_ip=self.listen_ip,
            json_encoder=self.json_encoder,
            legacy_filter=self.legacy_filter,
            label=f"{pid!r}",
        )
        address = await stream.listen()
        try:
            self._to_start.send_nowait((pid, stream))
        except trio.WouldBlock:
            stream.discard()
            raise StreamsBusy(
                f"{STARTING_BACKLOG} new event streams are waiting to start"
            ) from None
        entry = _Entry(stream, node, address)
        self._streams[pid] = entry
        return entry

    def allowed_hosts(self, node_host: str | None) -> frozenset[str] | None:
        """The client addresses a stream of a node at ``node_host`` accepts (None: any).

        ``node`` with an unknown node address (its connection went away while
        the request was handled) adds nothing: the stream then accepts only the
        listed addresses, possibly none, rather than everybody.
        """
        if "any" in self.clients:
            return None
        hosts = {entry for entry in self.clients if entry != "node"}
        if "node" in self.clients:
            if node_host:
                hosts.add(node_host)
            else:
                log.warning("event stream: the requesting node's address is unknown")
        return frozenset(hosts)

    async def _run_stream(self, pid: Pid, stream: EventStream) -> None:
        try:
            await stream.run()
        finally:
            entry = self._streams.get(pid)
            if entry is not None and entry.stream is stream:
                del self._streams[pid]
                self.bindings_changed()

    def get(self, pid: Pid) -> EventStream | None:
        entry = self._streams.get(pid)
        return entry.stream if entry is not None else None

    def streams_of(self, node: Atom) -> list[tuple[Pid, EventStream]]:
        return [(pid, e.stream) for pid, e in self._streams.items() if e.node is node]

    def __len__(self) -> int:
        return len(self._streams)

    async def close(self, pid: Pid) -> bool:
        """Close ``pid``'s stream (listener, client, queue); False if it had none."""
        entry = self._streams.pop(pid, None)
        if entry is None:
            return False
        self.bindings_changed()
        await entry.stream.aclose()
        return True

    async def close_node(self, node: Atom) -> int:
        """Close every stream owned by a process of ``node``; how many there were.

        All of them leave the table before the first one is awaited, so no event
        reaches a stream of a node that is gone while the others close.
        """
        entries = [
            self._streams.pop(pid) for pid, e in list(self._streams.items()) if e.node is node
        ]
        if entries:
            self.bindings_changed()
        for entry in entries:
            await entry.stream.aclose()
        return len(entries)

    def set_json_encoder(self, encoder: JsonEncoder) -> None:
        """Encode with ``encoder`` from now on, in new and existing streams."""
        self.json_encoder = encoder
        for entry in self._streams.values():
            entry.stream.json_encoder = encoder

    def set_legacy_filter(self, legacy_filter: LegacyFilter) -> None:
        """Filter legacy events with ``legacy_filter`` from now on, everywhere."""
        self.legacy_filter = legacy_filter
        for entry in self._streams.values():
            entry.stream.legacy_filter = legacy_filter

    def bindings_of(self, pid: Pid) -> list[str]:
        entry = self._streams.get(pid)
        return entry.stream.bindings.names() if entry is not None else []

    def describe(self) -> Callable[[Atom], list[str]]:
        def lines(node: Atom) -> list[str]:
            out = []
            for pid, stream in self.streams_of(node):
                address = stream.address or ("?", 0)
                out.append(
                    f"{pid!r} {address[0]}:{address[1]} "
                    f"{'connected' if stream.connected else 'waiting'} "
                    f"queued={stream.queued_events} sent={stream.stats.events_sent} "
                    f"bindings={','.join(stream.bindings.names())}"
                )
            return out

        return lines
