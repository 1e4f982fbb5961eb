"""The event-socket client when replies are late or never come, against an event
socket served here (a real FreeSWITCH cannot be made slow on demand)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import attrs
import pytest
import trio
import trio.testing

from kazoo_trio.switch.freeswitch import esl
from kazoo_trio.switch.freeswitch.connection import (
    EslClient,
    EslDisconnected,
    EslReplyTimeout,
)
from tests.waiting import wait_until

TIMEOUT = 10.0


@pytest.fixture
def clock() -> trio.testing.MockClock:
    # Virtual time that jumps once everything has waited a moment of real time: the
    # sockets are real, and their bytes must be delivered before time jumps.
    return trio.testing.MockClock(autojump_threshold=0.02)


@attrs.define(eq=False)
class FakeEventSocket:
    """mod_event_socket as far as the client uses it here: ``auth`` and ``event`` are
    accepted, ``api <word>`` is answered ``<word>`` once ``holds[word]`` (if any)
    returns, one command after the other on each connection, as FreeSWITCH does;
    ``bgapi <word>`` likewise with ``+OK``, then its job's event on the connection
    that subscribed."""

    holds: dict[str, Callable[[], Awaitable[object]]] = attrs.field(factory=dict)
    connections: int = 0
    received: list[str] = attrs.field(factory=list)
    _arrived: trio.Event = attrs.field(factory=trio.Event)
    _events: trio.SocketStream | None = None

    async def serve(self, stream: trio.SocketStream) -> None:
        self.connections += 1
        await stream.send_all(b"Content-Type: auth/request\n\n")
        buffer = b""
        while True:
            while b"\n\n" not in buffer:
                data = await stream.receive_some()
                if not data:
                    return
                buffer += data
            block, _, buffer = buffer.partition(b"\n\n")
            line = block.split(b"\n")[0].decode()
            if line.startswith(("auth ", "event ")):
                if line.startswith("event "):
                    self._events = stream
                await stream.send_all(b"Content-Type: command/reply\nReply-Text: +OK\n\n")
                continue
            command, _, word = line.partition(" ")
            self.received.append(word)
            self._arrived.set()
            self._arrived = trio.Event()
            hold = self.holds.get(word)
            if hold is not None:
                await hold()
            if command == "bgapi":
                await self._job(stream, block.split(b"Job-UUID: ")[1].split(b"\n")[0], word)
                continue
            body = word.encode()
            await stream.send_all(
                b"Content-Type: api/response\nContent-Length: %d\n\n%s" % (len(body), body)
            )

    async def _job(self, stream: trio.SocketStream, job: bytes, word: str) -> None:
        await stream.send_all(
            b"Content-Type: command/reply\nReply-Text: +OK Job-UUID: %s\n\n" % job
        )
        event = json.dumps(
            {"Event-Name": "BACKGROUND_JOB", "Job-UUID": job.decode(), "_body": word},
            separators=(",", ":"),
        ).encode()
        assert self._events is not None
        await self._events.send_all(
            b"Content-Length: %d\nContent-Type: text/event-json\n\n%s" % (len(event), event)
        )

    async def until_received(self, word: str) -> None:
        while word not in self.received:
            await self._arrived.wait()


@asynccontextmanager
async def client_of(
    switch: FakeEventSocket, events: list[esl.EslEvent] | None = None
) -> AsyncIterator[EslClient]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    # One command connection: every command shares it, and its replies' order.
    client = EslClient(
        port=port,
        reply_timeout=TIMEOUT,
        command_lines=1,
        backoff_max=0.5,
        on_event=(events if events is not None else []).append,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, switch.serve, listeners)
        await nursery.start(client.run)
        with trio.fail_after(5):
            await client.wait_connected()
        yield client
        nursery.cancel_scope.cancel()


async def test_a_late_reply_fails_its_requester_only(clock: trio.testing.MockClock) -> None:
    release = trio.Event()
    switch = FakeEventSocket(
        holds={"slow": lambda: trio.sleep(TIMEOUT * 0.6), "late": release.wait}
    )
    answers: dict[str, str | BaseException] = {}
    answered = trio.Event()

    async def ask(word: str) -> None:
        try:
            reply = await client.command(esl.api(word))
        except EslDisconnected as exc:
            answers[word] = exc
        else:
            assert isinstance(reply, esl.ApiResponse)
            answers[word] = reply.text
        answered.set()

    with trio.fail_after(120):
        async with client_of(switch) as client, trio.open_nursery() as nursery:
            # A line owing nothing is not watched, however long it is quiet.
            await trio.sleep(TIMEOUT * 3)
            nursery.start_soon(ask, "slow")
            await switch.until_received("slow")
            written = trio.current_time()
            nursery.start_soon(ask, "late")
            await trio.testing.wait_all_tasks_blocked()
            while "late" not in answers:
                await answered.wait()
                answered = trio.Event()
            failed = answers["late"]
            assert isinstance(failed, EslReplyTimeout), failed
            assert trio.current_time() - written >= TIMEOUT
            # The slow reply came in between: the line is alive and kept.
            assert answers["slow"] == "slow"
            assert client.connected and client.connects == 1
            release.set()
            reply = await client.command(esl.api("next"))
            # Its own reply, not the late one (which came first, and was dropped).
            assert reply == esl.ApiResponse("next")
            assert switch.received == ["slow", "late", "next"]
            assert client.connects == 1 and switch.connections == 2


async def test_a_silent_line_is_dropped_and_connected_again(
    clock: trio.testing.MockClock,
) -> None:
    switch = FakeEventSocket(holds={"stuck": trio.sleep_forever})
    with trio.fail_after(120):
        async with client_of(switch) as client:
            with pytest.raises(EslDisconnected):
                await client.command(esl.api("stuck"))
            # Dropped for owing a reply and delivering nothing for the whole timeout.
            await wait_until(lambda: client.connects == 2, timeout=TIMEOUT)
            assert switch.connections == 4
            assert await client.command(esl.api("fine")) == esl.ApiResponse("fine")


async def test_a_late_bgapi_reply_and_its_job_are_dropped(clock: trio.testing.MockClock) -> None:
    release = trio.Event()
    switch = FakeEventSocket(
        holds={"slow": lambda: trio.sleep(TIMEOUT * 0.6), "late": release.wait}
    )
    events: list[esl.EslEvent] = []
    with trio.fail_after(120):
        async with client_of(switch, events) as client, trio.open_nursery() as nursery:
            nursery.start_soon(client.api, "slow")
            await switch.until_received("slow")
            with pytest.raises(EslReplyTimeout):
                await client.api("late")
            release.set()
            # Answered after the late reply and its job's event: neither went astray.
            assert await client.api("next") == "next"
            assert switch.received == ["slow", "late", "next"]
            assert events == [] and client.connects == 1
