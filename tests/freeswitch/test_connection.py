"""The event-socket client against the real FreeSWITCH."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio
import trio.testing

from kazoo_trio.switch.freeswitch import esl
from kazoo_trio.switch.freeswitch.connection import EslClient, EslDisconnected
from tests.freeswitch.fsmin import FreeSwitch, freeswitch_instance
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def fs() -> Iterator[FreeSwitch]:
    with freeswitch_instance() as instance:
        yield instance


def client_for(fs: FreeSwitch, **kwargs: object) -> EslClient:
    return EslClient(port=fs.esl_port, backoff_max=0.5, **kwargs)  # type: ignore[arg-type]


async def test_api_status_and_version(fs: FreeSwitch) -> None:
    client = client_for(fs)
    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        with trio.fail_after(5):
            await client.wait_connected()
        assert "is ready" in await client.api("status")
        assert (await client.api("version")).startswith("FreeSWITCH Version 1.11")
        assert await client.api("global_getvar", "esl_listen_port") == str(fs.esl_port)
        assert (await client.api("nosuchcmd")).startswith("-ERR nosuchcmd Command not found")
        reply = await client.command(esl.api("uuid_exists", "no-such-uuid"))
        assert reply == esl.ApiResponse("false")
        nursery.cancel_scope.cancel()


async def test_a_slow_api_does_not_block_a_fast_one(fs: FreeSwitch) -> None:
    client = client_for(fs)
    done: list[str] = []

    async def slow() -> None:
        await client.api("msleep", "1500")
        done.append("slow")

    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        with trio.fail_after(5):
            await client.wait_connected()
        nursery.start_soon(slow)
        # Every task parked: the slow command has been written and waits for its reply.
        await trio.testing.wait_all_tasks_blocked()
        assert "is ready" in await client.api("status")
        # The slow command is still running, so the fast one did not queue behind it.
        assert done == []
        await wait_until(lambda: bool(done), timeout=10)
        nursery.cancel_scope.cancel()


async def test_events_reach_the_handler_and_own_jobs_do_not(fs: FreeSwitch) -> None:
    events: list[esl.EslEvent] = []
    client = client_for(fs, on_event=events.append)
    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        with trio.fail_after(5):
            await client.wait_connected()
        await client.subscribe(["CUSTOM", "kt::conn"])
        reply = await client.checked(
            esl.sendevent("CUSTOM", [("Event-Subclass", "kt::conn"), ("X-A", "1")], "b")
        )
        assert reply.ok
        await client.api("status")
        await wait_until(lambda: any(e.get("Event-Subclass") == "kt::conn" for e in events))
        custom = next(e for e in events if e.get("Event-Subclass") == "kt::conn")
        assert custom.get("X-A") == "1" and custom.body == "b"
        assert not any(e.get("Event-Name") == "BACKGROUND_JOB" for e in events)
        nursery.cancel_scope.cancel()


async def test_killed_and_restarted_freeswitch(fs: FreeSwitch) -> None:
    events: list[esl.EslEvent] = []
    client = client_for(fs, on_event=events.append)
    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        with trio.fail_after(5):
            await client.wait_connected()
        await client.subscribe(["CUSTOM", "kt::again"])
        pending = nursery.start_soon
        failures: list[BaseException] = []

        async def slow() -> None:
            try:
                await client.api("msleep", "5000")
            except EslDisconnected as exc:
                failures.append(exc)

        pending(slow)
        # Every task parked: the slow command is in FreeSWITCH when it dies.
        await trio.testing.wait_all_tasks_blocked()
        fs.kill()
        await wait_until(lambda: bool(failures) and not client.connected, timeout=5)
        # Refused without waiting for a reconnection (the bound only guards the test).
        with trio.fail_after(2), pytest.raises(EslDisconnected):
            await client.api("status")
        await trio.to_thread.run_sync(fs.start)
        with trio.fail_after(10):
            await client.wait_connected()
        assert client.connects == 2
        assert "is ready" in await client.api("status")
        # The subscription came back with the connection.
        await client.checked(esl.sendevent("CUSTOM", [("Event-Subclass", "kt::again")]))
        await wait_until(lambda: any(e.get("Event-Subclass") == "kt::again" for e in events))
        nursery.cancel_scope.cancel()


async def flow_of_commands(fs: FreeSwitch, command_lines: int) -> tuple[int, int]:
    """Events that arrived while four tasks kept writing commands for a second, and
    all of them once the commands stopped."""
    events: list[esl.EslEvent] = []
    client = client_for(fs, on_event=events.append, command_lines=command_lines)
    async with trio.open_nursery() as nursery:
        await nursery.start(client.run)
        with trio.fail_after(5):
            await client.wait_connected()
        await client.subscribe(["CUSTOM", "kt::flow"])
        sent = [0]

        async def writer() -> None:
            while True:
                fired = esl.sendevent("CUSTOM", [("Event-Subclass", "kt::flow")])
                await client.checked(fired, key=str(sent[0]))
                sent[0] += 1

        with trio.move_on_after(1.0):
            async with trio.open_nursery() as writers:
                for _ in range(4):
                    writers.start_soon(writer)
        during = len(events)
        await wait_until(lambda: len(events) >= sent[0], timeout=10)
        nursery.cancel_scope.cancel()
    return during, sent[0]


async def test_events_arrive_while_commands_flow(fs: FreeSwitch) -> None:
    # mod_event_socket writes a connection's events only between the commands it
    # receives: on a connection of their own they are not held back by the commands.
    during, sent = await flow_of_commands(fs, command_lines=2)
    assert sent > 0
    assert during >= sent * 3 // 4
