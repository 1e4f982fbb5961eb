"""What a channel's tasks wait on, made small: a channel lives as long as its call, and
a parked call mostly waits.  :class:`Flag` is a ``trio.Event`` made only once a task
waits on it; :class:`PrivateQueue` is a bounded queue with the semantics of
``trio.open_memory_channel`` (one sending side, receivers in the channel's session)
whose buffer and wait lists exist only while something is in them.
Layer: bottom (no imports from the simulated core).
"""

from __future__ import annotations

import functools
from typing import Generic, TypeVar

import attrs
import outcome
import trio

__all__ = ["Flag", "PrivateQueue"]

T = TypeVar("T")


@attrs.define(eq=False, weakref_slot=False)
class Flag:
    """``trio.Event``'s ``set``/``is_set``/``wait``, the event made by the first wait.

    A ``trio.Event`` and its waiter set cost about 300 bytes; a channel has several
    that most calls never wait on.
    """

    # False: not set, nobody waiting; a trio.Event: waited on, not set; True: set.
    _state: trio.Event | bool = False

    def set(self) -> None:
        state = self._state
        self._state = True
        if isinstance(state, trio.Event):
            state.set()

    def is_set(self) -> bool:
        return self._state is True

    async def wait(self) -> None:
        state = self._state
        if state is True:
            await trio.lowlevel.checkpoint()
            return
        if state is False:
            state = self._state = trio.Event()
        await state.wait()


@attrs.define(eq=False, weakref_slot=False)
class PrivateQueue(Generic[T]):
    """A FIFO of at most ``max_buffer_size`` items, as a memory channel pair behaves:
    :meth:`send` waits while it is full, an item sent while a receiver waits goes to
    the longest-waiting receiver, every ``async`` method is a checkpoint, and after
    :meth:`close` (the sending side) senders get ``trio.ClosedResourceError`` and
    receivers, once the buffer is empty, ``trio.EndOfChannel``.

    A memory channel pair costs about 1.8 KB whether used or not; this one keeps a
    list only while items or tasks wait in it.
    """

    max_buffer_size: int
    _buffer: list[T] | None = None
    _receivers: list[trio.lowlevel.Task] | None = None
    _senders: list[tuple[trio.lowlevel.Task, T]] | None = None
    _closed: bool = False

    def statistics(self) -> trio.MemoryChannelStatistics:
        """As ``MemoryReceiveChannel.statistics`` (no peak is kept: 0)."""
        return trio.MemoryChannelStatistics(
            current_buffer_used=len(self._buffer or ()),
            max_buffer_size=self.max_buffer_size,
            open_send_channels=0 if self._closed else 1,
            open_receive_channels=1,
            tasks_waiting_send=len(self._senders or ()),
            tasks_waiting_receive=len(self._receivers or ()),
            peak_buffer_used=0,
        )

    def send_nowait(self, value: T) -> None:
        """Hand ``value`` to a waiting receiver, else buffer it; ``trio.WouldBlock``
        when full, ``trio.ClosedResourceError`` once closed."""
        if self._closed:
            raise trio.ClosedResourceError
        receivers = self._receivers
        if receivers:
            task = receivers.pop(0)
            if not receivers:
                self._receivers = None
            trio.lowlevel.reschedule(task, outcome.Value(value))
            return
        buffer = self._buffer
        if buffer is None:
            self._buffer = [value]
        elif len(buffer) < self.max_buffer_size:
            buffer.append(value)
        else:
            raise trio.WouldBlock

    async def send(self, value: T) -> None:
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            self.send_nowait(value)
        except trio.WouldBlock:
            pass
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        task = trio.lowlevel.current_task()
        entry = (task, value)
        if self._senders is None:
            self._senders = []
        self._senders.append(entry)

        def abort(_: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
            self._forget_sender(entry)
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def _forget_sender(self, entry: tuple[trio.lowlevel.Task, T]) -> None:
        senders = self._senders
        if senders is not None:
            for i, waiting in enumerate(senders):
                if waiting is entry:
                    del senders[i]
                    break
            if not senders:
                self._senders = None

    def has_room(self) -> bool:
        """Whether :meth:`send_nowait` would take an item now (a waiting receiver takes
        it directly; else it needs a free slot), closed or not."""
        return bool(self._receivers) or len(self._buffer or ()) < self.max_buffer_size

    def ready(self) -> bool:
        """Whether :meth:`receive_nowait` would give an item now (no exception to
        raise and catch between a dialplan's applications, which mostly find none)."""
        return bool(self._buffer or self._senders)

    def receive_nowait(self) -> T:
        """The oldest item; ``trio.WouldBlock`` when there is none, ``trio.EndOfChannel``
        when there is none and the queue is closed."""
        senders = self._senders
        if senders:
            task, value = senders.pop(0)
            if not senders:
                self._senders = None
            trio.lowlevel.reschedule(task)
            if self._buffer is None:
                self._buffer = []
            self._buffer.append(value)
        buffer = self._buffer
        if buffer:
            value = buffer.pop(0)
            if not buffer:
                self._buffer = None
            return value
        if self._closed:
            raise trio.EndOfChannel
        raise trio.WouldBlock

    async def receive(self) -> T:
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            value = self.receive_nowait()
        except trio.WouldBlock:
            pass
        else:
            await trio.lowlevel.cancel_shielded_checkpoint()
            return value
        task = trio.lowlevel.current_task()
        if self._receivers is None:
            self._receivers = []
        self._receivers.append(task)
        # A partial costs less than a closure, and a parked call keeps it.
        abort = functools.partial(self._abort_receive, task)
        handed: T = await trio.lowlevel.wait_task_rescheduled(abort)
        return handed

    def _abort_receive(
        self, task: trio.lowlevel.Task, _: trio.lowlevel.RaiseCancelT
    ) -> trio.lowlevel.Abort:
        receivers = self._receivers
        if receivers is not None:
            receivers.remove(task)
            if not receivers:
                self._receivers = None
        return trio.lowlevel.Abort.SUCCEEDED

    def close(self) -> None:
        """Close the sending side: waiting senders get ``trio.ClosedResourceError``,
        waiting receivers ``trio.EndOfChannel``; items already queued can still be
        received."""
        if self._closed:
            return
        self._closed = True
        senders, self._senders = self._senders or [], None
        for task, _ in senders:
            trio.lowlevel.reschedule(task, outcome.Error(trio.ClosedResourceError()))
        receivers, self._receivers = self._receivers or [], None
        for task in receivers:
            trio.lowlevel.reschedule(task, outcome.Error(trio.EndOfChannel()))
