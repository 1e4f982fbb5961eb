"""Messages a connection reader answers itself (``Process.drain_hook``).

A process whose task waits for messages is not woken by the reader that
delivers them: the reader runs the process's drain hook right after its read,
which takes the quick messages and gives the first other one back.  These
tests check that nothing is lost or reordered between the drain and the
process's own task, that a drain that waits keeps every later message to
itself, and that a read that fails half-way wakes the process instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio.testing

from kazoo_trio.erlang import Node, Process
from kazoo_trio.erlang.flags import RECOMMENDED
from kazoo_trio.erlang.wire import messages as c
from kazoo_trio.erlang.wire import packet_parts
from kazoo_trio.term import Atom, Pid
from tests.erlang.nodeutil import RecordingConnection, give_pid, py_node
from tests.erlnode import erl_node
from tests.waiting import wait_until

A = Atom
PEER = A("e@127.0.0.1")
CALLER = Pid(PEER, 85, 0, 7)
A_QUICK = A("quick")
A_SLOW = A("slow")


def reg_send(to: str, message: Any) -> bytes:
    msg = c.RegSend(CALLER, A(to), message)
    return b"".join(packet_parts(msg, negotiated=RECOMMENDED))


class Recorder:
    """A drain hook taking ``{quick, N}`` messages; ``{slow, N}`` is left to the task."""

    def __init__(self, proc: Process, pause: trio.Event | None = None) -> None:
        self.proc = proc
        self.drained: list[Any] = []
        self.pause = pause
        self.paused = trio.Event()

    async def hook(self) -> None:
        mailbox = self.proc.mailbox
        while (envelope := mailbox.next_nowait()) is not None:
            msg = envelope.message
            if msg[0] is not A_QUICK:
                mailbox.push_front(envelope)
                return
            self.drained.append(msg[1])
            if self.pause is not None and not self.pause.is_set():
                self.paused.set()
                await self.pause.wait()


class Served:
    """Process ``srv`` with a task taking its messages (``got``), and the node's
    dispatcher as a connection's reader drives it."""

    def __init__(self, node: Node, proc: Process) -> None:
        self.node = node
        self.proc = proc
        self.conn = RecordingConnection()
        self.got: list[Any] = []

    def deliver(self, *messages: Any) -> None:
        for message in messages:
            assert self.node.dispatch.on_packet(self.conn, reg_send("srv", message))  # type: ignore[arg-type]

    def after_read(self, failed: bool = False) -> Awaitable[None] | None:
        return self.node.dispatch.after_read(self.conn, failed)  # type: ignore[arg-type]


@asynccontextmanager
async def served() -> AsyncIterator[Served]:
    node = Node("drain@127.0.0.1", cookie="x")
    async with node.process("srv") as proc, trio.open_nursery() as nursery:
        s = Served(node, proc)

        async def task() -> None:
            while True:
                s.got.append((await proc.receive()).message[1])

        nursery.start_soon(task)
        await wait_until(lambda: proc.mailbox.receiver_parked)
        yield s
        nursery.cancel_scope.cancel()


async def test_the_reader_answers_quick_messages_without_waking_the_process() -> None:
    async with served() as s:
        recorder = Recorder(s.proc)
        s.proc.drain_hook = recorder.hook
        s.deliver(*[(A_QUICK, n) for n in range(3)])
        work = s.after_read()
        assert work is not None
        await work
        assert recorder.drained == [0, 1, 2]
        assert s.proc.mailbox.receiver_parked and not s.got

        # A slow message stops the drain: it and what follows go to the task, in order.
        s.deliver((A_QUICK, 3), (A_SLOW, 4), (A_QUICK, 5))
        work = s.after_read()
        assert work is not None
        await work
        await wait_until(lambda: len(s.got) == 2)
        assert recorder.drained == [0, 1, 2, 3]
        assert s.got == [4, 5]


async def test_messages_arriving_while_a_drain_waits_are_left_to_it() -> None:
    pause = trio.Event()
    async with served() as s, trio.open_nursery() as nursery:
        recorder = Recorder(s.proc, pause)
        s.proc.drain_hook = recorder.hook
        s.deliver((A_QUICK, 0))
        work = s.after_read()
        assert work is not None
        nursery.start_soon(lambda: work)
        await recorder.paused.wait()
        # Another reader (and a local sender) deliver while the first drain waits:
        # the process's task must not take them behind the drain's back.
        s.deliver((A_QUICK, 1))
        second = s.after_read()
        assert second is not None
        await second  # returns at once: a drain is running
        await s.proc.send(s.proc.pid, (A_SLOW, 2))
        await trio.testing.wait_all_tasks_blocked()
        assert s.got == [] and recorder.drained == [0]
        pause.set()
        await wait_until(lambda: s.got == [2])
        assert recorder.drained == [0, 1]


async def test_a_read_that_failed_wakes_the_process_instead() -> None:
    async with served() as s:
        recorder = Recorder(s.proc)
        s.proc.drain_hook = recorder.hook
        s.deliver((A_QUICK, 0))
        assert s.after_read(failed=True) is None
        await wait_until(lambda: s.got == [0])
        assert recorder.drained == []


async def test_a_failing_drain_leaves_its_messages_to_the_process() -> None:
    async with served() as s:

        async def broken() -> None:
            raise RuntimeError("drain bug")

        s.proc.drain_hook = broken
        s.deliver((A_QUICK, 7))
        work = s.after_read()
        assert work is not None
        await work  # logged, not raised
        await wait_until(lambda: s.got == [7])


ORDERED_SENDERS = """
Send = fun(Pid, Me, N) ->
    [Pid ! {case I rem 3 of 0 -> slow; _ -> quick end, {Me, I}} || I <- lists:seq(1, N)]
end,
Parent = self(),
[spawn(fun() -> Send(Kt, K, 300), Parent ! {sent, K} end) || K <- lists:seq(1, 8)],
[receive {sent, K} -> K after 10000 -> timeout end || K <- lists:seq(1, 8)].
"""


async def test_each_senders_order_holds_across_the_drain_and_the_task(epmd: int) -> None:
    """Eight erl processes send mixed quick and slow messages; each sender's numbers
    arrive in order, whichever side took them, and both sides took some."""
    async with (
        py_node(epmd) as node,
        erl_node("e1@127.0.0.1", epmd_port=epmd) as e,
        node.process("ordered") as proc,
        trio.open_nursery() as nursery,
    ):
        seen: list[tuple[str, Any]] = []
        by_task = 0

        async def hook() -> None:
            mailbox = proc.mailbox
            while (envelope := mailbox.next_nowait()) is not None:
                msg = envelope.message
                if type(msg) is not tuple or msg[0] is not A_QUICK:
                    mailbox.push_front(envelope)
                    return
                seen.append(("drain", msg[1]))

        async def task() -> None:
            nonlocal by_task
            while True:
                msg = (await proc.receive()).message
                if type(msg) is tuple and len(msg) == 2 and msg[0] in (A_QUICK, A_SLOW):
                    await trio.lowlevel.checkpoint()  # a slow one waits a little
                    by_task += 1
                    seen.append(("task", msg[1]))

        proc.drain_hook = hook
        nursery.start_soon(task)
        await give_pid(e, proc, "Kt")
        assert "timeout" not in await e.eval(ORDERED_SENDERS)
        await wait_until(lambda: len(seen) == 8 * 300, timeout=20)
        last: dict[int, int] = {}
        for _, (sender, n) in seen:
            assert n > last.get(sender, 0), f"sender {sender}: {n} after {last.get(sender)}"
            last[sender] = n
        assert by_task >= 8 * 100  # every slow one, at least
        assert any(side == "drain" for side, _ in seen)
        nursery.cancel_scope.cancel()
