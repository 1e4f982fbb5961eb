"""The ``mod_kazoo`` process: receives requests, runs them per sender, replies.

Concurrency model (mod_kazoo ran requests on a shared worker pool, which broke
Erlang's ordering and let slow commands starve everything):

* every sender pid with requests queued has a *lane*: a FIFO and a task that runs
  that sender's requests one after the other, in arrival order (Erlang
  guarantees order between two processes; so does this server);
* lanes run concurrently, at most ``max-concurrent-requests`` requests at a
  time over all lanes (a :class:`trio.CapacityLimiter`); a lane with nothing
  left to do ends, and the next request of that sender starts a new one;
* the receive loop never waits for a lane: memory is bounded per *node*
  instead (``node-backlog``): the process counts each node's messages from
  delivery until they are handled, and past the budget stops reading that
  node's connection until half of them are done (TCP backpressure on that
  node alone, no message lost; see :class:`~kazoo_trio.erlang.mailbox.Backlog`),
  so one flooding node never delays or drops anybody else's messages;
* requests that never wait (``version``, ``sendevent``, ``bgapi``..., ``api``
  for the commands the switch says never wait, such as ``status`` or
  ``uuid_exists``, and ``sendmsg`` to a channel whose queue has room) from a
  sender with nothing queued are answered by the receive loop itself: the order
  is the same, and no lane is needed; their replies are written together at the
  end of each batch of messages (the node's ``Deferral``);
* ``fetch_reply`` is answered by the receive loop itself, never queued behind
  the sender's earlier requests: it only wakes a waiting lookup, and an
  ``api`` request waiting for that lookup (possibly of the same sender) must
  not be able to block it.

Cleanup: the process traps exits.  An ``EXIT`` from a linked pid closes
its event stream and removes its fetch handlers (after the requests of that pid
still queued in its lane, since Erlang sends the exit after them); a lost node
(``NodeDown``) also cancels its lanes and bgapi jobs and forgets its connection
options.  ``exit/2`` signals to the process are ignored (``kill`` included),
as the C module ignores them: no node can end the server for the others.
Should the process end anyway, a new one takes over at once and everything
else (streams, bindings, jobs, per-node options, links) carries on (see
:meth:`run`).
"""

from __future__ import annotations

import collections
import functools
import logging
from typing import Any

import attrs
import trio

from kazoo_trio.erlang import gen_server
from kazoo_trio.erlang.connection import Connection
from kazoo_trio.erlang.gen_server import GenCall, GenCast
from kazoo_trio.erlang.mailbox import Backlog
from kazoo_trio.erlang.node import Node, NodeDown, NodeUp
from kazoo_trio.erlang.process import A_GEN_CAST, Envelope, Process, ProcessExit
from kazoo_trio.erlang.wire import gen_call
from kazoo_trio.kazoo.config import Settings
from kazoo_trio.kazoo.fetch.agents import FetchAgents
from kazoo_trio.kazoo.fetch.kazoo_conf import (
    KazooConf,
    ProfileFetchBuilder,
    Profiles,
    load_default_profiles,
)
from kazoo_trio.kazoo.profiles import ProfileSet
from kazoo_trio.kazoo.requests.arguments import BadArg, request_parts
from kazoo_trio.kazoo.requests.bgapi import BgapiJobs
from kazoo_trio.kazoo.requests.handlers import BADARG, Requester, Services, handle_request
from kazoo_trio.kazoo.requests.options import ErlangCommand, OptionsTable
from kazoo_trio.kazoo.streams.encoding import JSON, MAP, LegacyFilter
from kazoo_trio.kazoo.streams.table import StreamTable
from kazoo_trio.kazoo.version import VERSION
from kazoo_trio.ratelimit import RateLimitedLog
from kazoo_trio.switch.bus import selective
from kazoo_trio.switch.protocol import (
    XML_SECTIONS,
    ApiOutput,
    ApiWaitHint,
    FollowsListeners,
    PrivateQueueNowait,
    Switch,
)
from kazoo_trio.term.types import Atom, Pid

__all__ = ["ModKazooServer"]

log = logging.getLogger(__name__)

A_EXIT = Atom("EXIT")
REGISTERED_NAME = "mod_kazoo"

# Requests whose handling never waits for anything (no API command, no lookup, no
# channel queue): the receive loop answers them itself when the sender has nothing
# queued, instead of starting a lane.  So are ``api``/``api4`` requests for the
# commands the switch says never wait (see ``_api_never_waits``).
INLINE_REQUESTS = frozenset(
    {
        "version",
        "getpid",
        "noevents",
        "nixevent",
        "sendevent",
        "config",
        "bgapi",
        "bgapi4",
        "link",
        "bind",
        "exit",
    }
)


@attrs.frozen
class _Exited:
    """The lane's sender exited: cleanup runs after its queued requests."""

    reason: object


# The request and the sender its message was counted for in the backlog (None:
# not counted).
_LaneItem = tuple[Pid | None, GenCall | GenCast | _Exited]


@attrs.define(eq=False)
class _Lane:
    node: Atom
    # Unbounded: the node's backlog bounds what can be queued here.  A plain queue:
    # the lane only ever takes what is already there, it never waits for more.
    queue: collections.deque[_LaneItem] = attrs.field(factory=collections.deque)
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)


@attrs.define(eq=False)
class _NodeControl:
    """:class:`~kazoo_trio.kazoo.requests.handlers.NodeControl` over the real node.

    ``nursery`` is the one of the ``mod_kazoo`` process this serves: a
    disconnect asked for by its ``exit`` request dies with it.
    """

    _node: Node
    _proc: Process
    _nursery: trio.Nursery

    @property
    def self_pid(self) -> Pid:
        return self._proc.pid

    async def link(self, pid: Pid) -> None:
        await self._proc.link(pid)

    def disconnect_soon(self, node: Atom) -> None:
        async def later() -> None:
            # Let the lane hand the reply to the connection first.
            await trio.lowlevel.checkpoint()
            self._node.disconnect(node)

        self._nursery.start_soon(later)

    def addresses(self, node: Atom) -> tuple[str, str] | None:
        found = self._node.connection_addresses(node)
        if found is None:
            return None
        (local_ip, _), (peer_ip, _) = found
        return local_ip, peer_ip


@attrs.define(eq=False)
class ModKazooServer:
    """The registered ``mod_kazoo`` process and everything it owns.

    Use :meth:`run` inside the node's lifetime: it registers the process,
    binds the switch's XML sections and its ``erlang`` command, reports
    started, then serves until cancelled.  Cancellation closes every stream,
    cancels every job and lane, and unbinds from the switch.
    """

    node: Node
    switch: Switch
    settings: Settings = attrs.field(factory=Settings)
    # None: the compiled-in default profiles.
    initial_profiles: ProfileSet | None = None
    profiles: Profiles = attrs.field(init=False)
    kazoo_conf: KazooConf = attrs.field(init=False)
    options: OptionsTable = attrs.field(init=False)
    fetch: FetchAgents = attrs.field(init=False)
    streams: StreamTable = attrs.field(init=False)
    bgapi: BgapiJobs = attrs.field(init=False)
    services: Services | None = attrs.field(default=None, init=False)
    proc: Process | None = attrs.field(default=None, init=False)
    _lanes: dict[Pid, _Lane] = attrs.field(factory=dict, init=False)
    _limiter: trio.CapacityLimiter = attrs.field(init=False)
    #: Each node's messages not yet handled; outlives any one process.
    backlog: Backlog = attrs.field(init=False)
    # Connections whose reading the backlog paused, to resume the same one.
    _paused: dict[Atom, Connection] = attrs.field(factory=dict, init=False)
    _pause_log: RateLimitedLog = attrs.field(factory=lambda: RateLimitedLog(log), init=False)
    _ignored_log: RateLimitedLog = attrs.field(factory=lambda: RateLimitedLog(log), init=False)
    _wait_hint: ApiWaitHint | None = attrs.field(default=None, init=False)
    _queue_hint: PrivateQueueNowait | None = attrs.field(default=None, init=False)
    #: Messages that were not requests, ignored.
    ignored_messages: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        settings = self.settings
        nodename = self.node.name.name
        self.options = OptionsTable(settings)
        initial = self.initial_profiles
        if initial is None:
            initial = load_default_profiles(self.switch)
        self.profiles = Profiles(initial)
        self.fetch = FetchAgents(
            send=self._send,
            switch_nodename=nodename,
            is_legacy=lambda node: self.options.get(node).legacy,
            channel_headers=self.switch.channel_headers,
            get_global=self.switch.get_global,
            builder=ProfileFetchBuilder(self.profiles),
            default_timeout_us=settings.fetch_timeout_us,
            expand_headers=settings.expand_headers_on_fetch,
            map_encoding=settings.json_term_encoding == "map",
        )
        self.streams = StreamTable(
            options=self.options,
            switch_nodename=nodename,
            listen_ip=settings.listen_ip,
            json_encoding=MAP if settings.json_term_encoding == "map" else JSON,
            legacy_filter=LegacyFilter.from_settings(settings),
            max_events=settings.event_stream_max_events,
            max_bytes=settings.event_stream_max_bytes,
            clients=settings.event_stream_clients,
            follower=self.switch if isinstance(self.switch, FollowsListeners) else None,
        )
        self.bgapi = BgapiJobs(self.switch, self._send, settings.bgapi_timeout)
        self.kazoo_conf = KazooConf(
            self.switch,
            self.streams,
            self.options,
            self.profiles,
            delay=settings.delay_before_initial_fetch,
        )
        self._limiter = trio.CapacityLimiter(settings.max_concurrent_requests)
        if isinstance(self.switch, ApiWaitHint):
            self._wait_hint = self.switch
        if isinstance(self.switch, PrivateQueueNowait):
            self._queue_hint = self.switch
        self.backlog = Backlog(self.node.name, settings.node_backlog, self._pause)

    async def _send(self, pid: Pid, message: object) -> None:
        if self.proc is None:
            raise RuntimeError("mod_kazoo is not running")
        await self.proc.send(pid, message)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled.

        Streams, bgapi jobs, kazoo.conf lookups and node watching belong to
        the server, not to the ``mod_kazoo`` process: the process ignores
        ``exit/2`` (as the C module does), and if it ends all the same (a bug)
        a new one takes over at once, linked to the same pids, with every
        stream and binding intact; only requests in progress are lost.
        """
        unbind_xml = self.switch.bind_xml(XML_SECTIONS, self.fetch.lookup)
        # Selective: events no stream is bound to (or whose profile filter surely
        # rejects them) need not be built at all.
        remove_listener = self.switch.add_listener(
            selective(
                self.streams.offer,
                self.streams.wants,
                wants_headers=self.streams.wants_headers,
                names=self.streams.wanted_names,
            )
        )
        command = ErlangCommand(self.options, _Diagnostics(self), self._disconnect)

        async def erlang_api(args: str) -> ApiOutput:
            return ApiOutput(await command.run(args))

        self.switch.register_api("erlang", erlang_api, "mod_kazoo connections")
        status: trio.TaskStatus[None] = task_status
        try:
            async with (
                self.node.monitor_nodes() as node_events,
                trio.open_nursery() as nursery,
            ):
                # Event streams, one task per stream.
                await nursery.start(self.streams.run)
                # bgapi jobs, one task per job; they report through the current process.
                await nursery.start(self.bgapi.run)
                # The kazoo.conf lookups, one at a time.
                await nursery.start(self.kazoo_conf.run)
                # Node up/down: per-node options, cleanup of a lost node.
                nursery.start_soon(self._watch_nodes, node_events)
                for peer in self.node.connected_nodes():
                    self.options.connected(peer)
                linked: set[Pid] = set()
                while True:
                    try:
                        await self._incarnation(linked, status)
                    except ProcessExit as exc:
                        reason = exc.reason
                    else:
                        reason = self.proc.exit_reason if self.proc is not None else None
                    log.error("mod_kazoo ended (%r); starting a new process", reason)
                    if self.services is not None:
                        linked = self.services.linked
                    self._reset()
                    status = trio.TASK_STATUS_IGNORED
        finally:
            self.proc = None
            self.backlog.clear()
            unbind_xml()
            remove_listener()

    async def _incarnation(self, linked: set[Pid], status: trio.TaskStatus[None]) -> None:
        """One ``mod_kazoo`` process: its request lanes live and die with it."""
        async with (
            self.node.process(name=REGISTERED_NAME) as proc,
            trio.open_nursery() as nursery,
        ):
            proc.trap_exit = True
            proc.ignore_exit2 = True
            proc.backlog = self.backlog
            self.proc = proc
            proc.drain_hook = functools.partial(self._drain, proc, nursery)
            # Request lanes (one per sender with requests queued) and the
            # disconnect of an ``exit`` request are started in this nursery.
            self.services = self._services(proc, nursery)
            for pid in linked:
                # Whatever the last process was linked to stays linked; a pid
                # that died meanwhile answers with an exit, which cleans up.
                await proc.link(pid)
                self.services.linked.add(pid)
            log.info("%s: %s ready as %r", self.node.name.name, VERSION, proc.pid)
            status.started()
            await self._receive_loop(proc, nursery)

    def _services(self, proc: Process, nursery: trio.Nursery) -> Services:
        return Services(
            switch=self.switch,
            node=_NodeControl(self.node, proc, nursery),
            options=self.options,
            fetch=self.fetch,
            bgapi=self.bgapi,
            streams=self.streams,
            configuration_bound=self.kazoo_conf.configuration_bound,
            config_requested=self.kazoo_conf.request,
            queue_nowait=(
                None if self._queue_hint is None else self._queue_hint.queue_private_event_nowait
            ),
        )

    def _reset(self) -> None:
        """Forget what the ended process owned: its lanes (already cancelled)."""
        self.proc = None
        self.services = None
        self._lanes.clear()
        # The queued requests went with the lanes: nothing is pending any more.
        self.backlog.clear()

    def _pause(self, node: Atom, pause: bool) -> None:
        """The backlog's verdict on ``node``: stop or resume reading its connection."""
        if not pause:
            conn = self._paused.pop(node, None)
            if conn is not None:
                conn.release_reading()
            return
        conn = self.node.peers.connections.get(node)
        if conn is None or node in self._paused:
            return
        conn.hold_reading()
        self._paused[node] = conn
        self._pause_log.warn(
            "mod_kazoo: %s has %d messages not yet handled; reading from it paused"
            " until half are (%d pauses in all)",
            *(node.name, self.backlog.count(node), self.backlog.pauses),
        )

    async def _disconnect(self, node: Atom) -> None:
        self.node.disconnect(node)
        await self._node_gone(node)

    # -- receiving -------------------------------------------------------------------------------

    async def _receive_loop(self, proc: Process, lanes: trio.Nursery) -> None:
        # The replies this loop gives itself are written by this task, all of a batch
        # at once, instead of waking each connection's writer per reply; a request
        # that has to wait has what was deferred before it written first.
        deferral = proc.node.deferral
        task = trio.lowlevel.current_task()
        next_nowait = proc.mailbox.next_nowait
        while True:
            # Raises ProcessExit once the process has ended (and its mailbox is empty).
            envelope = await proc.receive()
            deferral.task = task
            try:
                while True:
                    await gen_server.run_deferred(
                        self._dispatch_safely(proc, envelope, lanes), deferral, task
                    )
                    next_envelope = next_nowait()
                    if next_envelope is None:
                        break
                    envelope = next_envelope
            finally:
                deferral.task = None
                deferral.flush()

    async def _dispatch_safely(
        self, proc: Process, envelope: Envelope, lanes: trio.Nursery, quick_only: bool = False
    ) -> bool:
        """:meth:`_dispatch`, where a failure costs that message only (logged);
        False if ``quick_only`` left the message untouched.

        A message this code cannot cope with must never stop the server for
        everybody else: it is logged, and a call is answered ``{error, badarg}``.
        The process being killed (``ProcessExit``) and cancellation still end
        the loop.
        """
        queued: bool | None = False
        try:
            queued = await self._dispatch(proc, envelope, lanes, quick_only=quick_only)
            if queued is None:
                return False
        except ProcessExit:
            raise
        except Exception:
            log.exception("mod_kazoo: failed on %r from %r", envelope.message, envelope.sender)
            # A caller must not be left waiting because of a failure on this side.
            request = gen_server.parse(envelope)
            if isinstance(request, GenCall):
                try:
                    await gen_server.reply(proc, request, BADARG)
                except ProcessExit:
                    raise
                except Exception:
                    log.exception("mod_kazoo: cannot answer %r", request.sender)
        finally:
            if queued is False:
                self.backlog.done(envelope.sender)
        return True

    async def _dispatch(
        self, proc: Process, envelope: Envelope, lanes: trio.Nursery, *, quick_only: bool = False
    ) -> bool | None:
        """Handle ``envelope``, or queue it in its sender's lane (True: the lane finishes it).

        With ``quick_only``, a message that needs a lane or a cleanup is left
        untouched (None).
        """
        message = envelope.message
        if type(message) is tuple and len(message) == 3 and message[0] is A_EXIT:
            if quick_only:
                return None
            pid = message[1]
            if isinstance(pid, Pid):
                exit_lane = self._lanes.get(pid)
                if exit_lane is None:
                    await self._pid_exited(pid, message[2])
                else:
                    # Erlang delivers the exit after the pid's messages: clean up
                    # after the requests still queued (an event request there
                    # would otherwise create a stream for a dead process).
                    exit_lane.queue.append((envelope.sender, _Exited(message[2])))
                    return True
            return False
        # A call's parts, as gen_server.parse reads them; the GenCall (or GenCast)
        # object is made only for a request that goes to a lane.
        call = gen_call(message)
        if call is not None:
            caller, tag, body = call
        elif type(message) is tuple and len(message) == 2 and message[0] is A_GEN_CAST:
            caller, tag, body = None, None, message[1]
        else:
            self._ignored(envelope, "not a request")
            return False
        sender = envelope.sender
        if sender is None:
            if caller is not None:
                sender = caller
            else:
                self._ignored(envelope, "a cast without a sender")
                return False
        parsed = _parsed_request(body)
        name = None if parsed is None else parsed[0]
        if name == "fetch_reply":
            reply = self.fetch.reply(body)
            if caller is not None:
                await gen_server.reply_to(proc, caller, tag, reply)
            return False
        lanes_open = self._lanes
        lane = lanes_open.get(sender) if lanes_open else None
        if lane is None:
            if name in INLINE_REQUESTS or self._never_waits(name, body):
                # Nothing of this sender is queued, so answering here keeps its order,
                # and saves a lane for the most frequent quick requests.
                assert self.services is not None
                requester = Requester(sender, sender.node)
                reply = await handle_request(
                    self.services, requester, body, call=caller is not None, parsed=parsed
                )
                if caller is not None:
                    wait = gen_server.reply_soon(proc, caller, tag, reply)
                    if wait is not None:
                        await wait
                return False
            if quick_only:
                return None
            lane = self._open_lane(sender, lanes)
        elif quick_only:
            return None
        request = GenCast(body) if caller is None else GenCall(caller, tag, body)
        lane.queue.append((envelope.sender, request))
        return True

    async def _drain(self, proc: Process, lanes: trio.Nursery) -> None:
        """The process's ``drain_hook``: the quick requests at the head of its mailbox,
        answered by the connection reader that delivered them, as the receive loop
        would answer them (same order, replies written once at the end)."""
        deferral = proc.node.deferral
        task = trio.lowlevel.current_task()
        mailbox = proc.mailbox
        previous = deferral.task
        deferral.task = task
        try:
            while True:
                envelope = mailbox.next_nowait()
                if envelope is None:
                    return
                handled = await gen_server.run_deferred(
                    self._dispatch_safely(proc, envelope, lanes, quick_only=True), deferral, task
                )
                if not handled:
                    # For the process's own task, which the drain wakes when it ends.
                    mailbox.push_front(envelope)
                    return
        finally:
            deferral.task = previous
            deferral.flush()

    def _never_waits(self, name: str | None, request: object) -> bool:
        """An ``api``/``api4`` request for a command the switch runs without waiting, or
        a ``sendmsg`` to a channel whose queue has room (as the switch says)."""
        if name == "api" or name == "api4":
            hint = self._wait_hint
            if hint is None:
                return False
            command = request[1] if isinstance(request, tuple) and len(request) == 3 else None
            return isinstance(command, Atom) and hint.api_never_waits(command.name)
        if name == "sendmsg":
            queue_hint = self._queue_hint
            if queue_hint is None or not isinstance(request, tuple) or len(request) < 3:
                return False
            channel = request[1]
            # Other spellings of the UUID (strings) take a lane, as everything used to.
            return type(channel) is bytes and queue_hint.private_queue_has_room(
                channel.decode("utf-8", "surrogateescape")
            )
        return False

    def _ignored(self, envelope: Envelope, why: str) -> None:
        # Anyone can send anything: logged at a bounded rate, counted.
        self.ignored_messages += 1
        self._ignored_log.warn(
            "mod_kazoo: ignoring %.200r from %r: %s (%d ignored in all)",
            *(envelope.message, envelope.sender, why, self.ignored_messages),
        )

    def _open_lane(self, sender: Pid, nursery: trio.Nursery) -> _Lane:
        lane = _Lane(sender.node)
        self._lanes[sender] = lane
        nursery.start_soon(self._run_lane, sender, lane)
        return lane

    async def _run_lane(self, sender: Pid, lane: _Lane) -> None:
        proc = self.proc
        services = self.services
        assert proc is not None and services is not None
        requester = Requester(sender, sender.node)
        try:
            with lane.scope:
                while True:
                    try:
                        counted, request = lane.queue.popleft()
                    except IndexError:
                        # Nothing more from this sender: end the lane.  No checkpoint
                        # between the empty check and the removal, so a request cannot
                        # slip into a lane that is going away.
                        return
                    try:
                        if isinstance(request, _Exited):
                            await self._pid_exited(sender, request.reason)
                            continue
                        call = isinstance(request, GenCall)
                        async with self._limiter:
                            reply = await handle_request(
                                services, requester, request.request, call=call
                            )
                        if isinstance(request, GenCall):
                            await gen_server.reply(proc, request, reply)
                    finally:
                        self.backlog.done(counted)
        finally:
            if self._lanes.get(sender) is lane:
                del self._lanes[sender]

    # -- cleanup ---------------------------------------------------------------------------------

    async def _pid_exited(self, pid: Pid, reason: object) -> None:
        log.debug("mod_kazoo: %r exited (%r)", pid, reason)
        if self.services is not None:
            self.services.linked.discard(pid)
        self.fetch.pid_exited(pid)
        await self.streams.close(pid)

    async def _watch_nodes(self, events: trio.MemoryReceiveChannel[NodeUp | NodeDown]) -> None:
        async for event in events:
            if isinstance(event, NodeUp):
                log.info("mod_kazoo: %s connected", event.node.name)
                self.options.connected(event.node)
            else:
                log.info("mod_kazoo: %s disconnected (%s)", event.node.name, event.reason)
                await self._node_gone(event.node)

    async def _node_gone(self, node: Atom) -> None:
        # Its queued messages are cancelled with its lanes below.
        self.backlog.forget(node)
        self._paused.pop(node, None)
        self.fetch.node_down(node)
        self.bgapi.node_down(node)
        for lane in [lane for lane in self._lanes.values() if lane.node is node]:
            lane.scope.cancel()
        if self.services is not None:
            self.services.linked = {p for p in self.services.linked if p.node is not node}
        # Streams first: an event offered to a stream reads its node's options, and
        # would bring back the options of a node that is gone.
        await self.streams.close_node(node)
        self.options.disconnected(node)

    def lanes(self) -> int:
        return len(self._lanes)

    def paused_nodes(self) -> list[Atom]:
        """The nodes whose connection is not read until their backlog halves."""
        return list(self._paused)


def _parsed_request(request: Any) -> tuple[str, tuple[object, ...]] | None:
    """``request_parts(request)``, or None for a term that is no request."""
    try:
        return request_parts(request)
    except BadArg:
        return None


@attrs.define(eq=False)
class _Diagnostics:
    """The ``erlang`` command's human-readable views of the server."""

    _server: ModKazooServer

    def status_lines(self) -> list[str]:
        s = self._server
        return [
            f"Running {VERSION}",
            f"Node {s.node.name.name} listening on port {s.node.port}",
            f"Connected nodes: {len(s.options.nodes())}",
            f"Event streams: {len(s.streams)}",
            f"Pending fetches: {s.fetch.pending_count()}",
            f"Running bgapi jobs: {s.bgapi.running()}",
            f"Active request lanes: {s.lanes()}",
            f"Nodes not read for their backlog: {len(s.paused_nodes())}",
        ]

    def event_filter_lines(self) -> list[str]:
        return sorted(self._server.streams.legacy_filter.event_filter)

    def connection_lines(self, node: Atom) -> list[str]:
        s = self._server
        options = s.options.get(node)
        found = s.node.connection_addresses(node)
        address = f"{found[1][0]}:{found[1][1]}" if found is not None else "unknown"
        return [
            f"Node {node.name} from {address}",
            f"event-stream-framing {options.framing}",
            f"event-stream-keepalive {int(options.keepalive)}",
            f"enable-legacy {'true' if options.legacy else 'false'}",
            f"bgapi jobs {s.bgapi.running(node)}",
        ]

    def event_stream_lines(self, node: Atom) -> list[str]:
        return self._server.streams.describe()(node)

    def fetch_binding_lines(self, node: Atom) -> list[str]:
        sections = self._server.fetch.sections_of(node)
        return [f"{section} {' '.join(map(repr, pids))}" for section, pids in sections.items()]
