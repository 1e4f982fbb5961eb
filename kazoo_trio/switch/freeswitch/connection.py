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

Task tree: :meth:`EslClient.run` is the one task.  It connects, authenticates,
restores the subscriptions, then reads every connection of the session, one task
each in a nursery: replies go to the waiting requesters in the order their commands
were written on that connection (the event socket answers in order), job results
to the requester of that ``Job-UUID``, other events to ``on_event``.  When any
connection drops it closes the others, fails every waiting requester with
:class:`EslDisconnected` and tries again with exponential backoff.  Requesters run in
their own tasks and only write under their connection's lock and wait on their reply.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from collections import deque
from collections.abc import Callable, Iterable
from typing import NoReturn

import attrs
import trio

from kazoo_trio.errors import RequestError, RuntimeFailure
from kazoo_trio.switch.freeswitch import esl

__all__ = ["EslAuthError", "EslClient", "EslCommandFailed", "EslDisconnected", "EslEventHandler"]

log = logging.getLogger(__name__)

EslEventHandler = Callable[[esl.EslEvent], None]
"""Called in the reader task for every event; must not block."""

# Events the client needs whatever its users ask for.
_ALWAYS = ("BACKGROUND_JOB",)


class EslDisconnected(RuntimeFailure):
    """The event socket is not connected (or the connection dropped while waiting)."""


class EslAuthError(RuntimeFailure):
    """FreeSWITCH refused the event-socket password."""


class EslCommandFailed(RequestError):
    """A command was answered ``-ERR ...``."""


@attrs.define(eq=False)
class _Waiter:
    done: trio.Event = attrs.field(factory=trio.Event)
    result: esl.CommandReply | esl.ApiResponse | esl.EslEvent | None = None
    error: BaseException | None = None

    def set(self, result: esl.CommandReply | esl.ApiResponse | esl.EslEvent) -> None:
        if not self.done.is_set():
            self.result = result
            self.done.set()

    def fail(self, error: BaseException) -> None:
        if not self.done.is_set():
            self.error = error
            self.done.set()

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
    # A command/reply that takes longer means the connection is dead.
    reply_timeout: float = 10.0
    backoff_initial: float = 0.1
    backoff_max: float = 5.0
    # Connections carrying commands besides the one holding the events (0: that one).
    command_lines: int = 4

    # The session's connections: the events' first, then the command lines.
    _lines: list[_Line] = attrs.field(init=False, factory=list)
    _next_line: int = attrs.field(init=False, default=0)
    _jobs: dict[str, _Waiter] = attrs.field(init=False, factory=dict)
    _subscriptions: dict[str, None] = attrs.field(init=False, factory=dict)
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
                        nursery.start_soon(
                            self._read_until_closed, line, nursery.cancel_scope, errors
                        )
                if errors:
                    raise errors[0]
            finally:
                self._lines = []
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
        await stream.send_all(esl.event("json", self._event_names()))
        reply = await _receive(stream, conn)
        if not isinstance(reply, esl.CommandReply) or not reply.ok:
            raise esl.EslProtocolError(f"event subscription refused: {reply!r}")

    def _event_names(self) -> list[str]:
        names = list(dict.fromkeys([*_ALWAYS, *self._subscriptions]))
        # CUSTOM subclasses must follow the word CUSTOM on the command line.
        plain = [n for n in names if "::" not in n]
        custom = [n for n in names if "::" in n]
        if custom and "ALL" not in plain:
            plain = [n for n in plain if n != "CUSTOM"] + ["CUSTOM"]
        return plain + custom if custom else plain

    async def _read_until_closed(
        self, line: _Line, session: trio.CancelScope, errors: list[Exception]
    ) -> None:
        # Any connection closing ends the session: its other connections go with it,
        # and the first failure is the session's.
        try:
            await self._read(line)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            errors.append(exc)
        except esl.EslProtocolError as exc:
            errors.append(exc)
        finally:
            session.cancel()

    async def _read(self, line: _Line) -> None:
        stream, conn = line.stream, line.conn
        while True:
            message = conn.next_message()
            if message is esl.NEED_DATA:
                conn.receive_data(await stream.receive_some())
                continue
            if isinstance(message, esl.EventMessage):
                self._dispatch_event(message)
            elif isinstance(message, esl.CommandReply | esl.ApiResponse):
                if line.replies:
                    line.replies.popleft().set(message)
                else:
                    log.warning("unexpected event-socket reply %r", message)
            elif isinstance(message, esl.ConnectionClosed):
                return
            elif isinstance(message, esl.DisconnectNotice):
                log.info("FreeSWITCH event socket: %s", message.text.strip())
            else:
                log.debug("event socket message ignored: %r", message)

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
            if self._jobs and message.header("Event-Name") == "BACKGROUND_JOB":
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
        later than ``reply_timeout`` drops the connection.  API commands that may take
        long go through :meth:`bgapi`."""
        waiter = await self._send(data, key=key)
        return await self._reply(waiter)

    async def _reply(self, waiter: _Waiter) -> esl.CommandReply | esl.ApiResponse:
        with trio.move_on_after(self.reply_timeout) as scope:
            result = await waiter.wait()
        if scope.cancelled_caught:
            self._abort("no reply from FreeSWITCH in time")
            raise EslDisconnected("no reply from FreeSWITCH in time")
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
        async with line.lock:
            if self._lines is not lines:
                raise EslDisconnected("FreeSWITCH event socket disconnected")
            # Registered before writing: the reply may come before send_all returns.
            line.replies.append(waiter)
            if job is not None:
                self._jobs[job[0]] = job[1]
            # A command half written would desynchronise the connection, so the
            # write is not cancellable; it is small and bounded in time.
            with trio.CancelScope(shield=True), trio.move_on_after(self.reply_timeout) as scope:
                try:
                    await line.stream.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                    self._abort(str(exc))
                    raise EslDisconnected(f"FreeSWITCH event socket: {exc}") from None
            if scope.cancelled_caught:
                self._abort("write to FreeSWITCH timed out")
                raise EslDisconnected("write to FreeSWITCH timed out")
        return waiter

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
        job_uuid = str(uuid_module.uuid4())
        job = _Waiter()
        try:
            reply_waiter = await self._send(esl.bgapi(command, args, job_uuid), (job_uuid, job))
            with trio.move_on_after(self.reply_timeout) as scope:
                reply = await reply_waiter.wait()
            if scope.cancelled_caught:
                self._abort("no reply from FreeSWITCH in time")
                raise EslDisconnected("no reply from FreeSWITCH in time")
            if not isinstance(reply, esl.CommandReply) or not reply.ok:
                raise EslCommandFailed(getattr(reply, "reply_text", repr(reply)))
            result = await job.wait()
        finally:
            self._jobs.pop(job_uuid, None)
        assert isinstance(result, esl.EslEvent)
        return result

    async def api(self, command: str, args: str = "") -> str:
        """The output of an API command (run with :meth:`bgapi`)."""
        return (await self.bgapi(command, args)).body or ""

    async def subscribe(self, names: Iterable[str]) -> None:
        """Receive these events from now on, and again after every reconnection."""
        new = [name for name in names if name not in self._subscriptions]
        if not new:
            return
        for name in new:
            self._subscriptions[name] = None
        if self.connected:
            waiter = await self._send(esl.event("json", self._event_names()), events=True)
            _checked(await self._reply(waiter))


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
