"""The event-socket connections to FreeSWITCH, kept up for the life of :meth:`EslClient.run`.

API commands are multiplexed with ``bgapi``: each runs in a thread of its own
inside FreeSWITCH and its output comes back as a ``BACKGROUND_JOB`` event carrying
the ``Job-UUID`` we chose, so a slow command (``originate`` waits for an answer)
never holds up a fast one.  A plain ``api`` would run in the connection's own
thread in FreeSWITCH and stall every reply and event behind it.

Events and commands use separate connections: one connection holds the event
subscription, ``command_lines`` others carry the commands.  mod_event_socket writes
a connection's queued events only while it is not receiving a command, and reads
commands a byte per system call, so under a steady flow of commands the events of
a shared connection would wait for a pause that never comes, and every command
would queue behind every other.  ``sendmsg`` for one channel always takes the same
command connection, so FreeSWITCH gets a channel's messages in the order they were
written; with ``command_lines=0`` everything shares the one connection.

The event connection receives what :meth:`EslClient.set_subscription` names (plus
``BACKGROUND_JOB``).  A change is applied by :meth:`EslClient.update_subscription`
as ``event`` for what is added, then ``nixevent`` for what is removed: an event
still named is never off in between.

Task tree: :meth:`EslClient.run` is the one task.  It connects, authenticates,
restores the subscriptions, then reads every connection of the session, one task
each in a nursery: replies go to the waiting requesters in the order their commands
were written on that connection (the event socket answers in order), job results
to the requester of that ``Job-UUID``, other events to ``on_event``.  When any
connection drops it closes the others, fails every waiting requester with
:class:`EslDisconnected` and tries again with exponential backoff.  Requesters run in
their own tasks and only write under their connection's lock and wait on their reply.

A requester whose reply is later than ``reply_timeout`` gets :class:`EslReplyTimeout`
(a cancel scope per command) and its place in the queue is kept, so that the late
reply is matched to it and dropped: a busy FreeSWITCH answers late, which is no
reason to fail every call in progress.  A connection is taken for dead, and the
session dropped, only when it owes replies and has delivered nothing at all for
``reply_timeout`` (one watch task per connection).
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import NoReturn

import attrs
import trio

from kazoo_trio.errors import RequestError, RuntimeFailure
from kazoo_trio.switch.freeswitch import esl
from kazoo_trio.switch.names import CORE_EVENT_NAMES, core_event_name
from kazoo_trio.uuids import uuid4_str

__all__ = [
    "EslAuthError",
    "EslClient",
    "EslCommandFailed",
    "EslDisconnected",
    "EslEventHandler",
    "EslReplyTimeout",
    "EventSubscription",
]

log = logging.getLogger(__name__)

EslEventHandler = Callable[[esl.EslEvent], None]
"""Called in the reader task for every event; must not block."""

# Events the client needs whatever its users ask for.
_ALWAYS = frozenset(("BACKGROUND_JOB",))

_ALL = "ALL"
_CUSTOM = "CUSTOM"
# Bytes read from a connection at once, at most (a stream's receive_some's).
_READ_SIZE = 65536
# Subclasses left out of the subscription that were warned about, at most.
_UNWRITABLE_KEPT = 1000


class EslDisconnected(RuntimeFailure):
    """The event socket is not connected (or the connection dropped while waiting)."""


class EslReplyTimeout(EslDisconnected):
    """A command's reply did not come within ``reply_timeout``; the connection stays
    (the reply is dropped when it comes)."""


class EslAuthError(RuntimeFailure):
    """FreeSWITCH refused the event-socket password."""


class EslCommandFailed(RequestError):
    """A command was answered ``-ERR ...``."""


@attrs.frozen
class EventSubscription:
    """What the event connection receives, in mod_event_socket's terms: core event
    names (``ALL``: every event, whatever its subclass; ``CUSTOM``: CUSTOM events
    without a subclass) and the CUSTOM subclasses (compared case-sensitively)."""

    names: frozenset[str] = frozenset()
    subclasses: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, words: Iterable[str]) -> EventSubscription:
        """The subscription of an ``event`` command's words: core event names, and
        after the word ``CUSTOM`` subclass names; other words are ignored, as
        mod_event_socket ignores them."""
        names: set[str] = set()
        subclasses: set[str] = set()
        custom = False
        for word in words:
            if custom:
                subclasses.add(word)
                continue
            name = core_event_name(word)
            if name == _CUSTOM:
                custom = True
            if name is not None:
                names.add(name)
        return cls(frozenset(names), frozenset(subclasses))

    @property
    def every(self) -> bool:
        return _ALL in self.names

    def __or__(self, other: EventSubscription) -> EventSubscription:
        return EventSubscription(self.names | other.names, self.subclasses | other.subclasses)

    def words(self) -> list[str]:
        """The ``event`` command's words for it (subclasses after ``CUSTOM``)."""
        if self.every:
            return [_ALL]
        return _words(self.names, self.subclasses)


def _words(names: Iterable[str], subclasses: Iterable[str]) -> list[str]:
    words = sorted(name for name in names if name != _CUSTOM)
    custom = sorted(subclasses)
    if custom or _CUSTOM in names:
        words.append(_CUSTOM)
    return words + custom


@attrs.define(eq=False)
class _Waiter:
    done: trio.Event = attrs.field(factory=trio.Event)
    result: esl.CommandReply | esl.ApiResponse | esl.EslEvent | None = None
    error: BaseException | None = None
    # When its command was written (trio's clock), for the watch on its connection.
    sent: float = 0.0
    # Its requester gave up on the reply (which is dropped when it comes).
    abandoned: bool = False
    # The job of a bgapi: forgotten if its reply, late, refuses the command.
    job: str | None = None

    def set(self, result: esl.CommandReply | esl.ApiResponse | esl.EslEvent) -> None:
        if not self.done.is_set():
            self.result = result
            self.done.set()

    def fail(self, error: BaseException) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()

    def abandon(self, error: BaseException) -> None:
        """Give up on the result: the requester gets ``error`` (unless the result came
        meanwhile), and the result is dropped when it comes."""
        self.abandoned = True
        self.fail(error)

    async def wait(self) -> esl.CommandReply | esl.ApiResponse | esl.EslEvent:
        await self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


@attrs.define(eq=False)
class _Line:
    """One connection of a session and the requesters waiting for its replies, in the
    order their commands were written."""

    stream: trio.SocketStream
    conn: esl.EslConnection
    lock: trio.Lock = attrs.field(factory=trio.Lock)
    replies: deque[_Waiter] = attrs.field(factory=deque)
    # When something was last read on it (trio's clock).
    last_read: float = 0.0


@attrs.define(eq=False)
class EslClient:
    """A self-reconnecting inbound event-socket client.

    Start :meth:`run` in a nursery; it reports started at once (FreeSWITCH may be
    down: requests then fail with :class:`EslDisconnected` until it is back).
    """

    host: str = "127.0.0.1"
    port: int = 8021
    password: str = "ClueCon"
    on_event: EslEventHandler = lambda event: None
    # Called instead of on_event with each event still serialised (a reader that
    # parses only the events it needs).
    on_message: Callable[[esl.EventMessage], None] | None = None
    on_connected: Callable[[], None] = lambda: None
    connect_timeout: float = 5.0
    # A reply later than this fails its requester; a connection owing replies that
    # delivers nothing for this long is dead.
    reply_timeout: float = 10.0
    backoff_initial: float = 0.1
    backoff_max: float = 5.0
    # Connections carrying commands besides the one holding the events (0: that one).
    command_lines: int = 4

    # The session's connections: the events' first, then the command lines.
    _lines: list[_Line] = attrs.field(init=False, factory=list)
    _next_line: int = attrs.field(init=False, default=0)
    _jobs: dict[str, _Waiter] = attrs.field(init=False, factory=dict)
    # What the event connection should receive, and what it does (None: no session).
    _wanted: EventSubscription = attrs.field(init=False, factory=lambda: EventSubscription(_ALWAYS))
    _held: EventSubscription | None = attrs.field(init=False, default=None)
    _subscribing: trio.Lock = attrs.field(init=False, factory=trio.Lock)
    _unwritable: set[str] = attrs.field(init=False, factory=set)
    _connected: trio.Event = attrs.field(init=False, factory=trio.Event)
    connects: int = attrs.field(init=False, default=0)

    @property
    def connected(self) -> bool:
        return bool(self._lines) and self._connected.is_set()

    async def wait_connected(self) -> None:
        await self._connected.wait()

    # -- the connection task --------------------------------------------------------

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        task_status.started()
        delay = self.backoff_initial
        while True:
            connects = self.connects
            try:
                await self._session()
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                log.warning("FreeSWITCH event socket %s:%d: %s", self.host, self.port, exc)
            except trio.TooSlowError:
                log.warning(
                    "FreeSWITCH event socket %s:%d: connect timed out", self.host, self.port
                )
            except esl.EslProtocolError as exc:
                log.error("FreeSWITCH event socket %s:%d: %s", self.host, self.port, exc)
            except EslAuthError as exc:
                log.error("%s", exc)
            except EslDisconnected as exc:
                log.warning("FreeSWITCH event socket %s:%d: %s", self.host, self.port, exc)
            if self.connects != connects:
                delay = self.backoff_initial  # it was up: FreeSWITCH restarting, retry soon
            await trio.sleep(delay)
            delay = min(self.backoff_max, delay * 2)

    async def _session(self) -> None:
        lines: list[_Line] = []
        try:
            for index in range(1 + max(0, self.command_lines)):
                with trio.fail_after(self.connect_timeout):
                    stream = await trio.open_tcp_stream(self.host, self.port)
                line = _Line(stream, esl.EslConnection())
                lines.append(line)
                try:
                    with trio.fail_after(self.reply_timeout):
                        await self._handshake(line, subscribe=index == 0)
                except trio.TooSlowError:
                    raise EslDisconnected("no answer to the handshake") from None
            self._lines = lines
            self.connects += 1
            self._connected.set()
            log.info("FreeSWITCH event socket %s:%d connected", self.host, self.port)
            try:
                self.on_connected()
                errors: list[Exception] = []
                async with trio.open_nursery() as nursery:
                    for line in lines:
                        line.last_read = trio.current_time()
                        nursery.start_soon(
                            self._until_failed, self._read, line, nursery.cancel_scope, errors
                        )
                        nursery.start_soon(
                            self._until_failed, self._watch, line, nursery.cancel_scope, errors
                        )
                if errors:
                    raise errors[0]
            finally:
                self._lines = []
                self._held = None
                self._connected = trio.Event()
                self._fail_waiters(lines, "FreeSWITCH event socket disconnected")
        finally:
            with trio.CancelScope(shield=True):
                for line in lines:
                    await line.stream.aclose()

    async def _handshake(self, line: _Line, *, subscribe: bool) -> None:
        stream, conn = line.stream, line.conn
        message = await _receive(stream, conn)
        if not isinstance(message, esl.AuthRequest):
            raise esl.EslProtocolError(f"expected auth/request, got {message!r}")
        await stream.send_all(esl.auth(self.password))
        reply = await _receive(stream, conn)
        if not isinstance(reply, esl.CommandReply) or not reply.ok:
            raise EslAuthError(
                f"FreeSWITCH event socket {self.host}:{self.port} refused the password"
            )
        if not subscribe:
            return
        wanted = self._wanted
        await stream.send_all(esl.event("json", wanted.words()))
        reply = await _receive(stream, conn)
        if not isinstance(reply, esl.CommandReply) or not reply.ok:
            raise esl.EslProtocolError(f"event subscription refused: {reply!r}")
        self._held = wanted

    async def _until_failed(
        self,
        task: Callable[[_Line], Awaitable[None]],
        line: _Line,
        session: trio.CancelScope,
        errors: list[Exception],
    ) -> None:
        # Any connection closing or dying ends the session: its other connections go
        # with it, and the first failure is the session's.
        try:
            await task(line)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            errors.append(exc)
        except (esl.EslProtocolError, EslDisconnected) as exc:
            errors.append(exc)
        finally:
            session.cancel()

    async def _watch(self, line: _Line) -> NoReturn:
        """Raises :class:`EslDisconnected` once the line owes replies and nothing at
        all was read on it for ``reply_timeout``: replies coming, however slowly, or
        events show the line alive (a late reply fails only its own requester, see
        :meth:`_reply`)."""
        timeout = self.reply_timeout
        replies = line.replies
        while True:
            if not replies:
                # A reply owed from now on is due a timeout from now at the earliest:
                # looked at again by then.
                await trio.sleep(timeout)
                continue
            since = max(line.last_read, replies[0].sent)
            if trio.current_time() - since >= timeout:
                raise EslDisconnected(
                    f"nothing read from FreeSWITCH in {timeout:g} s while replies are due"
                )
            await trio.sleep_until(since + timeout)

    async def _read(self, line: _Line) -> None:
        sock, conn = line.stream.socket, line.conn
        while True:
            message = conn.next_message()
            if message is esl.NEED_DATA:
                # Waited for, then read: what a stream's receive_some does, without
                # its failed first read and its extra trip through the scheduler.
                await trio.lowlevel.wait_readable(sock)
                data = _read_now(sock)
                if data is not None:
                    conn.receive_data(data)
                    line.last_read = trio.current_time()
                continue
            if isinstance(message, esl.EventMessage):
                self._dispatch_event(message)
            elif isinstance(message, esl.CommandReply | esl.ApiResponse):
                if line.replies:
                    waiter = line.replies.popleft()
                    if waiter.abandoned:
                        self._late(waiter, message)
                    else:
                        waiter.set(message)
                else:
                    log.warning("unexpected event-socket reply %r", message)
            elif isinstance(message, esl.ConnectionClosed):
                return
            elif isinstance(message, esl.DisconnectNotice):
                log.info("FreeSWITCH event socket: %s", message.text.strip())
            else:
                log.debug("event socket message ignored: %r", message)

    def _late(self, waiter: _Waiter, reply: esl.CommandReply | esl.ApiResponse) -> None:
        log.debug("late event-socket reply dropped: %.200r", reply)
        if waiter.job is not None and not (isinstance(reply, esl.CommandReply) and reply.ok):
            # Refused: no job event will come to take the job's entry away.
            self._jobs.pop(waiter.job, None)

    def _dispatch_event(self, message: esl.EventMessage) -> None:
        if self.on_message is not None:
            self._dispatch_message(message, self.on_message)
            return
        try:
            event = message.parse()
        except esl.EslProtocolError:
            log.exception("unparsable event from FreeSWITCH")
            return
        headers = event.headers
        if headers and headers[0] == ("Event-Name", "BACKGROUND_JOB"):
            waiter = self._jobs.pop(event.get("Job-UUID") or "", None)
            if waiter is not None:
                # Our own job: its requester gets it, nobody else sees it.
                waiter.set(event)
                return
        try:
            self.on_event(event)
        except Exception:
            log.exception("event handler failed")

    def _dispatch_message(
        self, message: esl.EventMessage, handler: Callable[[esl.EventMessage], None]
    ) -> None:
        try:
            if self._jobs and message.event_name() == "BACKGROUND_JOB":
                waiter = self._jobs.pop(message.header("Job-UUID") or "", None)
                if waiter is not None:
                    waiter.set(message.parse())
                    return
        except esl.EslProtocolError:
            log.exception("unparsable event from FreeSWITCH")
            return
        try:
            handler(message)
        except Exception:
            log.exception("event handler failed")

    def _fail_waiters(self, lines: list[_Line], reason: str) -> None:
        # One exception each: an exception raised in several tasks would share
        # (and overwrite) its traceback.
        for line in lines:
            while line.replies:
                line.replies.popleft().fail(EslDisconnected(reason))
        jobs, self._jobs = self._jobs, {}
        for waiter in jobs.values():
            waiter.fail(EslDisconnected(reason))

    # -- requests -------------------------------------------------------------------

    async def command(
        self, data: bytes, *, key: str | None = None
    ) -> esl.CommandReply | esl.ApiResponse:
        """Write one serialised command (see :mod:`.esl`) and return its reply.

        Commands with the same ``key`` (a channel's UUID) reach FreeSWITCH in the
        order they were written.  For commands FreeSWITCH answers at once: a reply
        later than ``reply_timeout`` raises :class:`EslReplyTimeout` (the connection
        stays).  API commands that may take long go through :meth:`bgapi`."""
        waiter = await self._send(data, key=key)
        return await self._reply(waiter)

    async def _reply(self, waiter: _Waiter) -> esl.CommandReply | esl.ApiResponse:
        timeout = self.reply_timeout
        with trio.move_on_after(timeout) as scope:
            result = await waiter.wait()
        if scope.cancelled_caught:
            # Its place in the queue stays: the reply, when it comes, is dropped.
            error = EslReplyTimeout(f"no reply from FreeSWITCH in {timeout:g} s")
            waiter.abandon(error)
            raise error
        assert isinstance(result, esl.CommandReply | esl.ApiResponse)
        return result

    def _line(self, lines: list[_Line], key: str | None, *, events: bool) -> _Line:
        if events or len(lines) == 1:
            return lines[0]
        if key is not None:
            return lines[1 + hash(key) % (len(lines) - 1)]
        self._next_line = self._next_line % (len(lines) - 1) + 1
        return lines[self._next_line]

    async def _send(
        self,
        data: bytes,
        job: tuple[str, _Waiter] | None = None,
        *,
        key: str | None = None,
        events: bool = False,
    ) -> _Waiter:
        lines = self._lines
        if not lines:
            raise EslDisconnected(f"FreeSWITCH event socket {self.host}:{self.port} not connected")
        line = self._line(lines, key, events=events)
        waiter = _Waiter()
        lock = line.lock
        if lock.locked():
            await lock.acquire()
        else:
            # Nobody is writing on the line: taken without yielding, so that the
            # command is written at once (see _write_now).
            lock.acquire_nowait()
        try:
            if self._lines is not lines:
                raise EslDisconnected("FreeSWITCH event socket disconnected")
            # Registered before writing: the reply may come before the write returns.
            waiter.sent = trio.current_time()
            line.replies.append(waiter)
            if job is not None:
                self._jobs[job[0]] = job[1]
                waiter.job = job[0]
            try:
                written = _write_now(line.stream, data)
                if written < len(data):
                    await self._write_rest(line, memoryview(data)[written:])
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                self._abort(str(exc))
                raise EslDisconnected(f"FreeSWITCH event socket: {exc}") from None
        finally:
            lock.release()
        return waiter

    async def _write_rest(self, line: _Line, data: memoryview) -> None:
        # A command half written would desynchronise the connection, so the write
        # is not cancellable; it is small and bounded in time.
        with trio.CancelScope(shield=True), trio.move_on_after(self.reply_timeout) as scope:
            await line.stream.send_all(data)
        if scope.cancelled_caught:
            self._abort("write to FreeSWITCH timed out")
            raise EslDisconnected("write to FreeSWITCH timed out")

    def _abort(self, reason: str) -> None:
        if self._lines:
            log.warning("dropping the FreeSWITCH event socket: %s", reason)
            # Closing the sockets wakes the readers, which fail every waiter.
            for line in self._lines:
                line.stream.socket.close()

    async def checked(self, data: bytes, *, key: str | None = None) -> esl.CommandReply:
        """:meth:`command` for commands answered by ``command/reply``; ``-ERR``
        raises :class:`EslCommandFailed`."""
        reply = await self.command(data, key=key)
        return _checked(reply)

    async def bgapi(self, command: str, args: str = "") -> esl.EslEvent:
        """Run an API command in the background; its ``BACKGROUND_JOB`` event (the
        output is the body).  Cancelling abandons the wait only: FreeSWITCH runs the
        command to its end."""
        job_uuid = uuid4_str()
        job = _Waiter()
        forget = True
        try:
            reply_waiter = await self._send(esl.bgapi(command, args, job_uuid), (job_uuid, job))
            try:
                reply = await self._reply(reply_waiter)
            except EslReplyTimeout as exc:
                # The late reply may yet accept the command: the job stays registered
                # so that its event is dropped, not handed to on_event.
                forget = False
                job.abandon(exc)
                raise
            if not isinstance(reply, esl.CommandReply) or not reply.ok:
                raise EslCommandFailed(getattr(reply, "reply_text", repr(reply)))
            result = await job.wait()
        finally:
            if forget:
                self._jobs.pop(job_uuid, None)
        assert isinstance(result, esl.EslEvent)
        return result

    async def api(self, command: str, args: str = "") -> str:
        """The output of an API command (run with :meth:`bgapi`)."""
        return (await self.bgapi(command, args)).body or ""

    async def subscribe(self, names: Iterable[str]) -> None:
        """Receive these events (an ``event`` command's words) from now on, besides
        those already subscribed, and again after every reconnection."""
        self.set_subscription(self._wanted | EventSubscription.parse(names))
        await self.update_subscription()

    @property
    def subscription(self) -> EventSubscription:
        """What the event connection is to receive (``BACKGROUND_JOB`` included)."""
        return self._wanted

    def set_subscription(self, subscription: EventSubscription) -> None:
        """Receive exactly these events (and ``BACKGROUND_JOB``) from the next
        :meth:`update_subscription` or connection on.  A subclass that cannot be
        written on a command line (empty, or with blanks) is left out, with a warning
        the first time."""
        subclasses = subscription.subclasses
        unwritable = {name for name in subclasses if not name or name.split() != [name]}
        if unwritable:
            for name in unwritable - self._unwritable:
                log.warning("event subclass %r cannot be subscribed to on the event socket", name)
            if len(self._unwritable) < _UNWRITABLE_KEPT:
                self._unwritable |= unwritable
            subscription = EventSubscription(subscription.names, subclasses - unwritable)
        self._wanted = subscription | EventSubscription(_ALWAYS)

    async def update_subscription(self) -> None:
        """Bring the event connection's subscription to :meth:`set_subscription`'s:
        returns once FreeSWITCH has taken it (at once when not connected: the next
        connection subscribes to it).  :class:`EslCommandFailed` when FreeSWITCH
        refuses a change (it is not asked again); :class:`EslDisconnected` when the
        connection drops meanwhile."""
        async with self._subscribing:
            lines, held, wanted = self._lines, self._held, self._wanted
            if not lines or held is None or held == wanted:
                return
            commands = _changes(held, wanted)
            try:
                for data in commands:
                    waiter = await self._send(data, events=True)
                    _checked(await self._reply(waiter))
            finally:
                if self._lines is lines:
                    self._held = wanted


def _changes(held: EventSubscription, wanted: EventSubscription) -> list[bytes]:
    """The commands taking an event connection from ``held`` to ``wanted``: first what
    is added, then what is removed, so that what both name never stops."""
    if wanted.every:
        return [] if held.every else [esl.event("json", [_ALL])]
    commands = []
    if held.every:
        # Leaving ALL: the subclasses are named first (ALL sends them whatever the
        # subclass list holds), then every other core type is taken off; the first
        # nixevent turns ALL into one flag per type.  Subclasses ALL added to the
        # list (every one reserved then) stay until the next connection.
        if wanted.subclasses or _CUSTOM in wanted.names:
            commands.append(esl.event("json", _words(wanted.names, wanted.subclasses)))
        off = [
            name
            for name in CORE_EVENT_NAMES
            if name not in wanted.names and name not in (_ALL, _CUSTOM)
        ]
        commands.append(esl.nixevent(off))
        return commands
    added = _words(wanted.names - held.names, wanted.subclasses - held.subclasses)
    if added:
        commands.append(esl.event("json", added))
    # The CUSTOM flag stays: nixevent cannot clear it (its CUSTOM starts the list of
    # subclasses), and with no subclass listed it lets only subclass-less events by.
    removed = sorted(held.names - wanted.names - {_CUSTOM})
    gone = sorted(held.subclasses - wanted.subclasses)
    if gone:
        removed += [_CUSTOM, *gone]
    if removed:
        commands.append(esl.nixevent(removed))
    return commands


def _write_now(stream: trio.SocketStream, data: bytes) -> int:
    """Write what the socket takes of ``data`` without waiting: the bytes written.

    A command is small and the socket's buffer nearly always has room: written
    straight away, a command costs one system call, where ``send_all`` adds two
    cancel scopes and a trip through the scheduler."""
    fd = stream.socket.fileno()
    if fd < 0:
        # Closed (by _abort, from another requester): the number may be reused.
        raise trio.ClosedResourceError("the event socket was closed")
    try:
        return os.write(fd, data)
    except BlockingIOError:
        return 0
    except OSError as exc:
        raise trio.BrokenResourceError(f"write failed: {exc}") from exc


def _read_now(sock: trio.socket.SocketType) -> bytes | None:
    """What the socket holds (``b""``: closed by the peer), or ``None`` if nothing
    after all."""
    fd = sock.fileno()
    if fd < 0:
        raise trio.ClosedResourceError("the event socket was closed")
    try:
        return os.read(fd, _READ_SIZE)
    except BlockingIOError:
        return None
    except OSError as exc:
        raise trio.BrokenResourceError(f"read failed: {exc}") from exc


def _checked(reply: esl.CommandReply | esl.ApiResponse) -> esl.CommandReply:
    if not isinstance(reply, esl.CommandReply):
        raise esl.EslProtocolError(f"expected command/reply, got {reply!r}")
    if not reply.ok:
        raise EslCommandFailed(reply.reply_text)
    return reply


async def _receive(stream: trio.SocketStream, conn: esl.EslConnection) -> esl.Message:
    while True:
        message = conn.next_message()
        if message is not esl.NEED_DATA:
            assert not isinstance(message, esl._NeedData)
            if isinstance(message, esl.ConnectionClosed):
                raise EslDisconnected("FreeSWITCH closed the event socket")
            return message
        conn.receive_data(await stream.receive_some())
