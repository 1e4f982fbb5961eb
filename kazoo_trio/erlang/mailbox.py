"""A process mailbox.

Why not a ``trio`` memory channel: a channel's ``send`` is a checkpoint per
message and its bound blocks the sender.  A mailbox is filled synchronously by
a connection's reader, which serves every process behind that connection; it
must never block (see :class:`Mailbox` for the overload policy) and it must be
cheap, since every incoming message goes through it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

import attrs
import trio

from kazoo_trio.errors import RuntimeFailure
from kazoo_trio.term.types import Atom, Pid

__all__ = ["DEFAULT_MAILBOX_SIZE", "Backlog", "Mailbox", "MailboxClosed"]

log = logging.getLogger("kazoo_trio.erlang.mailbox")

# Large enough that a server draining its mailbox in batches never comes near
# it under normal load, small enough that a stuck process cannot hold more
# than a bounded number of messages (each at most one distribution frame).
DEFAULT_MAILBOX_SIZE = 100_000

_T = TypeVar("_T")


class MailboxClosed(RuntimeFailure):
    """The process that owned the mailbox has ended."""


class Mailbox(Generic[_T]):
    """A bounded FIFO of messages for one local process.

    Overload policy: when ``maxsize`` messages are waiting, a new message is
    **dropped** and counted (:attr:`dropped`), with a warning logged on the
    first drop and then at every power of two.  The alternative, blocking the
    connection's reader until the process catches up, was rejected: one
    connection carries the traffic of every process talking to that peer
    (and its ticks), so one slow process would stall all the others, could
    deadlock against its own pending calls, and would look dead to the peer.
    OTP's mailboxes are unbounded; a bound that large loads never reach
    keeps that behaviour in practice while capping memory when a process is
    stuck.  Local senders are treated the same way.  A process that must
    not lose messages to one flooding peer opts into a :class:`Backlog`,
    which pauses only that peer's connection.
    """

    __slots__ = ("_closed", "_items", "_lot", "_owner", "_waiting", "dropped", "maxsize")

    def __init__(self, maxsize: int = DEFAULT_MAILBOX_SIZE, owner: object = None) -> None:
        if maxsize < 1:
            raise ValueError("a mailbox holds at least one message")
        self.maxsize = maxsize
        self.dropped = 0
        self._items: deque[_T] = deque()
        self._lot = trio.lowlevel.ParkingLot()
        # Parked receivers, counted here because ``put`` checks on every
        # message and ``len(lot)`` is a Python-level call.
        self._waiting = 0
        self._closed = False
        self._owner = owner

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: _T) -> bool:
        """Append ``item``; returns False (and counts it) when full or closed. Never blocks."""
        if self._closed:
            return False
        if len(self._items) >= self.maxsize:
            self.dropped += 1
            if self.dropped & (self.dropped - 1) == 0:
                log.warning(
                    "mailbox of %s is full (%d messages): dropped %d message(s) so far",
                    self._owner,
                    self.maxsize,
                    self.dropped,
                )
            return False
        self._items.append(item)
        if self._waiting:
            self._lot.unpark_all()
        return True

    def put_quietly(self, item: _T) -> bool:
        """:meth:`put` without waking a parked receiver: whoever calls this takes the
        message out (or calls :meth:`wake`) before it next blocks."""
        if self._closed or len(self._items) >= self.maxsize:
            return self.put(item)  # refused and counted there
        self._items.append(item)
        return True

    def push_front(self, item: _T) -> None:
        """Give back the message just taken, so that it is the next one again."""
        self._items.appendleft(item)

    @property
    def receiver_parked(self) -> bool:
        """Whether a receiver waits in :meth:`get` and nothing has woken it yet."""
        return bool(self._waiting) and bool(len(self._lot))

    def wake(self) -> None:
        """Wake parked receivers if a message waits (after :meth:`put_quietly`)."""
        if self._items and self._waiting:
            self._lot.unpark_all()

    def get_nowait(self) -> _T:
        """The oldest message; ``trio.WouldBlock`` if empty, :class:`MailboxClosed` if closed."""
        if self._items:
            return self._items.popleft()
        if self._closed:
            raise MailboxClosed
        raise trio.WouldBlock

    def next_nowait(self) -> _T | None:
        """The oldest message, or None if none is waiting (also when closed)."""
        items = self._items
        return items.popleft() if items else None

    async def get(self) -> _T:
        """Wait for the oldest message.

        Always a checkpoint (one scheduler pass when a message is already
        waiting); drain bursts with :meth:`get_nowait` after it.  Raises
        :class:`MailboxClosed` once the mailbox is closed and empty.
        """
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._items:
            item = self._items.popleft()
            await trio.lowlevel.cancel_shielded_checkpoint()
            return item
        while not self._items:
            if self._closed:
                raise MailboxClosed
            self._waiting += 1
            try:
                await self._lot.park()
            finally:
                self._waiting -= 1
        return self._items.popleft()

    def close(self) -> None:
        """Refuse further messages; waiting receivers get :class:`MailboxClosed`."""
        self._closed = True
        self._lot.unpark_all()


@attrs.define(eq=False)
class Backlog:
    """Per peer node, the messages a process has received and not finished with.

    Fairness between peers (see the design notes): a process that opts in
    counts every message from a remote sender when it is delivered
    (:meth:`add`) until its handler is done with it (:meth:`done`), queued
    work included.  When one node has more than ``budget`` such messages,
    ``pause(node, True)`` is called (the node stops reading that peer's
    connection, so TCP slows the sender down and nothing is lost);
    ``pause(node, False)`` follows once the count is down to half the
    budget.  Other nodes' messages keep flowing meanwhile, so the mailbox
    never holds more than about ``budget`` messages of one node (plus one
    socket read) and cannot overflow for everybody because of one.
    """

    local: Atom
    budget: int
    pause: Callable[[Atom, bool], None]
    #: How many times a node was paused.
    pauses: int = attrs.field(default=0, init=False)
    #: The most messages of one node ever counted at once.
    peak: int = attrs.field(default=0, init=False)
    _counts: dict[Atom, int] = attrs.field(factory=dict, init=False)
    _paused: set[Atom] = attrs.field(factory=set, init=False)

    def add(self, sender: Pid | None) -> None:
        if sender is None:
            return
        node = sender.node
        if node is self.local:
            return
        count = self._counts.get(node, 0) + 1
        self._counts[node] = count
        if count > self.peak:
            self.peak = count
        if count > self.budget and node not in self._paused:
            self._paused.add(node)
            self.pauses += 1
            self.pause(node, True)

    def done(self, sender: Pid | None) -> None:
        if sender is None:
            return
        node = sender.node
        count = self._counts.get(node)
        if count is None:
            return
        if count <= 1:
            del self._counts[node]
            count = 0
        else:
            count -= 1
            self._counts[node] = count
        if count <= self.budget // 2 and node in self._paused:
            self._paused.discard(node)
            self.pause(node, False)

    def count(self, node: Atom) -> int:
        return self._counts.get(node, 0)

    def paused(self, node: Atom) -> bool:
        return node in self._paused

    def forget(self, node: Atom) -> None:
        """``node`` is gone: its messages will never be done."""
        self._counts.pop(node, None)
        if node in self._paused:
            self._paused.discard(node)
            self.pause(node, False)

    def clear(self) -> None:
        for node in list(self._counts):
            self.forget(node)
