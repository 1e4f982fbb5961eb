"""The simulated channel's small structures behave as what they replace: :class:`Flag`
as ``trio.Event``, :class:`PrivateQueue` as a memory channel pair, :class:`AppLog` as
a list of :class:`AppLogEntry`, and a channel's containers made on first use."""

from __future__ import annotations

import contextlib

import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from kazoo_trio.switch.kz.cdr import AppLogEntry
from kazoo_trio.switch.sim.applog import AppLog
from kazoo_trio.switch.sim.channels import SHARED_TEXT_MAX, shared_text
from kazoo_trio.switch.sim.waits import Flag, PrivateQueue
from tests.switch.callhelpers import running_switch
from tests.waiting import wait_until

# -- Flag ----------------------------------------------------------------------------------


async def test_flag_wakes_every_waiter_and_stays_set() -> None:
    flag = Flag()
    woken: list[int] = []

    async def waiter(n: int) -> None:
        await flag.wait()
        woken.append(n)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            for n in range(3):
                nursery.start_soon(waiter, n)
            await trio.testing.wait_all_tasks_blocked()
            assert not flag.is_set() and woken == []
            flag.set()
        assert flag.is_set() and sorted(woken) == [0, 1, 2]
        # Set already: waiting returns at once (still a checkpoint).
        with trio.testing.assert_checkpoints():
            await flag.wait()


async def test_flag_set_before_any_wait_and_cancelled_waits() -> None:
    flag = Flag()
    with trio.move_on_after(0.01) as scope:
        await flag.wait()
    assert scope.cancelled_caught and not flag.is_set()
    flag.set()
    flag.set()
    with trio.fail_after(5):
        await flag.wait()
    assert flag.is_set()


# -- PrivateQueue --------------------------------------------------------------------------

Op = tuple[str, int]
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(0, 99)),
        st.tuples(st.just("receive"), st.just(0)),
        st.tuples(st.just("close"), st.just(0)),
    ),
    max_size=40,
)


def _outcomes(
    send: object, receive: object, stats: object, ops: list[Op]
) -> list[tuple[str, object]]:
    """What each operation gives: a value, an exception name, then the statistics."""
    seen: list[tuple[str, object]] = []
    for op, value in ops:
        try:
            if op == "send":
                send.send_nowait(value)  # type: ignore[attr-defined]
                result: object = None
            elif op == "receive":
                result = receive.receive_nowait()  # type: ignore[attr-defined]
            else:
                send.close()  # type: ignore[attr-defined]
                result = None
        except Exception as exc:
            result = type(exc).__name__
        s = stats.statistics()  # type: ignore[attr-defined]
        seen.append((op, (result, s.current_buffer_used, s.open_send_channels, s.max_buffer_size)))
    return seen


@given(st.integers(1, 4), OPS)
def test_private_queue_without_waiting_matches_a_memory_channel(size: int, ops: list[Op]) -> None:
    send, receive = trio.open_memory_channel[int](size)
    queue = PrivateQueue[int](size)
    assert _outcomes(queue, queue, queue, ops) == _outcomes(send, receive, receive, ops)


@given(st.integers(1, 4), OPS)
def test_ready_and_has_room_say_what_the_nowait_calls_do(size: int, ops: list[Op]) -> None:
    queue = PrivateQueue[int](size)
    for op, value in ops:
        if op == "send":
            with contextlib.suppress(trio.WouldBlock, trio.ClosedResourceError):
                queue.send_nowait(value)
        elif op == "close":
            queue.close()
        ready = queue.ready()
        try:
            queue.receive_nowait()
        except (trio.WouldBlock, trio.EndOfChannel):
            assert not ready
        else:
            assert ready
        room = queue.has_room()
        try:
            queue.send_nowait(value)
        except trio.WouldBlock:
            assert not room
        except trio.ClosedResourceError:
            pass
        else:
            assert room


async def test_private_queue_hands_items_to_waiting_receivers_in_order() -> None:
    queue = PrivateQueue[int](2)
    got: list[tuple[str, int]] = []

    async def receiver(name: str) -> None:
        got.append((name, await queue.receive()))

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(receiver, "first")
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(receiver, "second")
            await trio.testing.wait_all_tasks_blocked()
            assert queue.statistics().tasks_waiting_receive == 2
            queue.send_nowait(1)
            queue.send_nowait(2)
            # Handed over, not buffered.
            assert queue.statistics().current_buffer_used == 0
        # The longest-waiting receiver had the first item (they may run in any order).
        assert sorted(got) == [("first", 1), ("second", 2)]
        assert queue.statistics().tasks_waiting_receive == 0


async def test_private_queue_sender_waits_while_full() -> None:
    queue = PrivateQueue[int](1)
    sent: list[int] = []

    async def sender() -> None:
        for n in (1, 2, 3):
            await queue.send(n)
            sent.append(n)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            await trio.testing.wait_all_tasks_blocked()
            assert sent == [1] and queue.statistics().tasks_waiting_send == 1
            assert await queue.receive() == 1
            await trio.testing.wait_all_tasks_blocked()
            assert sent == [1, 2]
            assert [await queue.receive(), await queue.receive()] == [2, 3]
        assert queue.statistics().tasks_waiting_send == 0


async def test_private_queue_close_fails_senders_and_ends_receivers() -> None:
    queue = PrivateQueue[int](1)
    results: list[str] = []

    async def sender() -> None:
        try:
            await queue.send(2)
        except trio.ClosedResourceError:
            results.append("sender closed")

    with trio.fail_after(5):
        queue.send_nowait(1)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            await trio.testing.wait_all_tasks_blocked()
            queue.close()
        assert results == ["sender closed"]
        # What was queued can still be received; then the queue has ended.
        assert await queue.receive() == 1
        try:
            await queue.receive()
        except trio.EndOfChannel:
            results.append("end")
        assert results == ["sender closed", "end"]

        other = PrivateQueue[int](1)

        async def receiver() -> None:
            try:
                await other.receive()
            except trio.EndOfChannel:
                results.append("receiver ended")

        async with trio.open_nursery() as nursery:
            nursery.start_soon(receiver)
            await trio.testing.wait_all_tasks_blocked()
            other.close()
        assert results[-1] == "receiver ended"


async def test_private_queue_cancelled_waits_leave_nothing_behind() -> None:
    queue = PrivateQueue[int](1)
    with trio.move_on_after(0.01):
        await queue.receive()
    assert queue.statistics().tasks_waiting_receive == 0
    queue.send_nowait(1)
    with trio.move_on_after(0.01):
        await queue.send(2)
    assert queue.statistics().tasks_waiting_send == 0
    # The cancelled send left nothing queued: only the first item is there.
    assert queue.receive_nowait() == 1
    assert queue.statistics().current_buffer_used == 0


# -- AppLog --------------------------------------------------------------------------------


@given(st.lists(st.tuples(st.text(max_size=5), st.text(max_size=5), st.integers(0, 2**62))))
def test_app_log_reads_as_the_list_of_its_entries(items: list[tuple[str, str, int]]) -> None:
    entries = [AppLogEntry(*item) for item in items]
    log = AppLog()
    for entry in entries:
        log.append(entry)
    assert list(log) == entries and len(log) == len(entries) and bool(log) == bool(entries)
    for i in range(-len(entries), len(entries)):
        assert log[i] == entries[i]
    assert log[1:] == entries[1:] and log[::-2] == entries[::-2]


def test_app_log_index_out_of_range() -> None:
    log = AppLog()
    log.append(AppLogEntry("park", "", 1))
    for index in (1, -2):
        try:
            log[index]
        except IndexError:
            continue
        raise AssertionError(f"index {index} read")


# -- shared texts and a channel's containers -----------------------------------------------


def test_shared_text_gives_one_copy_of_short_texts() -> None:
    short = "".join(["kzctl@", "127.0.0.1"])
    again = "".join(["kzctl@127", ".0.0.1"])
    assert short is not again
    assert shared_text(short) is shared_text(again) and shared_text(short) == short
    long = "x" * (SHARED_TEXT_MAX + 1)
    assert shared_text(long) is long


async def test_channel_containers_made_on_first_use_still_work() -> None:
    async with running_switch() as (sw, rec):
        result = await sw.api("originate", "null/1000 &park()")
        uuid = result.text[4:].strip()
        await rec.wait_event("CHANNEL_PARK", uuid)
        channel = sw.channels.get(uuid)
        ran: list[str] = []
        channel.hangup_hooks.append(lambda: ran.append("hook"))  # type: ignore[union-attr]
        assert channel.recordings == [] and channel.past_profiles == []  # type: ignore[union-attr]
        assert (await sw.api("uuid_kill", uuid)).text == "+OK\n"
        await rec.wait_event("CHANNEL_DESTROY", uuid)
        await wait_until(lambda: ran == ["hook"], what="the hang-up hook ran")
