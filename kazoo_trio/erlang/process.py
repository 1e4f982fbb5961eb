"""Local processes: a pid, a mailbox, links, monitors, and the gen_server call client.

A :class:`Process` lives exactly as long as the ``async with node.process()``
block that opened it.  Leaving the block ends it: with reason ``normal`` when
the block finishes, ``shutdown`` when it is cancelled from outside, and
``(exception, <<"Type: message">>)`` when an exception escapes (the
exception still propagates).  Links get exit signals and monitors get
``DOWN`` with that reason.

An exit signal that ends the process (a non-``normal`` reason from a link or
``exit/2`` while ``trap_exit`` is off, or ``kill`` in any case) cancels the
block's body; the ``async with`` then raises :class:`ProcessExit` carrying
the reason.  :meth:`Process.exit` ends it the same way but quietly.  The
signals to its links and monitors are sent at the moment it is killed, not
when the owner's code gets around to unwinding.

Messages are not copied between local processes (Erlang copies them):
treat received lists and dicts as read-only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs
import trio

from kazoo_trio.erlang.links import A_DOWN, MonitorOut, ProcessLinks
from kazoo_trio.erlang.mailbox import Backlog, Mailbox, MailboxClosed
from kazoo_trio.errors import RuntimeFailure
from kazoo_trio.term.types import Atom, Pid, Reference

if TYPE_CHECKING:
    from kazoo_trio.erlang.node import Node

__all__ = [
    "CallError",
    "Dest",
    "Envelope",
    "Process",
    "ProcessExit",
    "exception_reason",
]

A_NORMAL = Atom("normal")
A_TIMEOUT = Atom("timeout")
A_SHUTDOWN = Atom("shutdown")
A_EXCEPTION = Atom("exception")
A_GEN_CALL = Atom("$gen_call")
A_GEN_CAST = Atom("$gen_cast")

# What a message can be addressed to.
Dest = Pid | Atom | tuple[Atom, Atom] | Reference


@attrs.frozen(slots=True)
class Envelope:
    """A received message and, when the distribution message carried one, its sender.

    ``sender`` is set for REG_SEND, SEND_SENDER and ALIAS_SEND from remote
    nodes and for every local send; it is ``None`` for plain SEND and for
    messages the runtime makes itself (``DOWN``).
    """

    sender: Pid | None
    message: Any


class ProcessExit(RuntimeFailure):
    """The process was ended by an exit signal; ``reason`` is the Erlang exit reason."""

    def __init__(self, reason: object) -> None:
        super().__init__(reason)
        self.reason = reason


class CallError(RuntimeFailure):
    """A gen_server call failed: ``reason`` is ``noproc``, ``noconnection``, ``timeout``,
    or the exit reason of the server that died while handling the call."""

    def __init__(self, reason: object, dest: object = None) -> None:
        super().__init__(reason, dest)
        self.reason = reason
        self.dest = dest


def exception_reason(exc: BaseException) -> object:
    """The exit reason a process ends with when ``exc`` escapes its block."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, ProcessExit):
        return exc.reason
    if isinstance(exc, trio.Cancelled):
        return A_SHUTDOWN
    text = f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")
    return (A_EXCEPTION, text)


@attrs.define(slots=True)
class _CallSlot:
    wakeup: trio.lowlevel.ParkingLot = attrs.Factory(trio.lowlevel.ParkingLot)
    done: bool = False
    reply: Any = None
    down: bool = False
    down_reason: Any = None


class Process:
    """A local Erlang-style process.  Create it with ``node.process()``, never directly.

    The methods are meant for the task(s) of the block that owns the process;
    after the process ended they raise :class:`ProcessExit`.
    """

    def __init__(self, node: Node, pid: Pid, mailbox_size: int) -> None:
        self.node = node
        self.pid = pid
        self.mailbox: Mailbox[Envelope] = Mailbox(mailbox_size, owner=pid)
        #: What the node's link table records for this process while it lives.
        self.link_state = ProcessLinks()
        self.alive = True
        self.exit_reason: object = None
        self.killed = False
        self.names: set[Atom] = set()
        self.scope = trio.CancelScope()
        self._signals = node.signals
        self._calls: dict[Reference, _CallSlot] = {}
        #: Whether ``exit/2`` signals from other processes are ignored (``kill``
        #: included), as a C node ignores them; exits of linked processes still
        #: arrive.  Set by a process whose end would hurt unrelated peers.
        self.ignore_exit2 = False
        #: ``exit/2`` signals ignored so far.
        self.ignored_exit2 = 0
        #: Counts messages from peer nodes until their handler reports them done
        #: (see :class:`~kazoo_trio.erlang.mailbox.Backlog`); None: not counted.
        self.backlog: Backlog | None = None
        #: Set by a process whose first messages are often quick to answer: the
        #: connection reader that delivered them awaits it right after its read,
        #: instead of waking the process's own task (see :meth:`deliver_from_reader`).
        #: It takes messages from the mailbox while they are quick and gives the
        #: first other one back (:meth:`Mailbox.push_front`).
        self.drain_hook: Callable[[], Awaitable[None]] | None = None
        # A reader runs drain_hook now (it alone takes messages then), or will.
        self._draining = False
        self._drain_due = False

    def __repr__(self) -> str:
        return f"<Process {self.pid!r}{' dead' if not self.alive else ''}>"

    @property
    def trap_exit(self) -> bool:
        """Whether exit signals arrive as ``{'EXIT', From, Reason}`` messages."""
        return self.link_state.trap_exit

    @trap_exit.setter
    def trap_exit(self, value: bool) -> None:
        self.link_state.trap_exit = value

    @property
    def links(self) -> dict[Pid, int]:
        """Linked pid -> 0 when the link is active, else the id of our pending UNLINK_ID."""
        return self.link_state.links

    @property
    def monitors(self) -> dict[Reference, MonitorOut]:
        """Monitors this process holds: ref -> what it watches."""
        return self.link_state.monitors

    @property
    def monitored_by(self) -> dict[Reference | bytes, tuple[Pid, Pid | Atom]]:
        """Monitors on this process: ref (or its bytes) -> (watcher, our pid or name)."""
        return self.link_state.monitored_by

    def ended(self) -> None:
        """The process has ended: wake its calls and close its mailbox (called by the node)."""
        for slot in list(self._calls.values()):
            slot.wakeup.unpark_all()
        self.mailbox.close()

    # -- delivery (called by the node, never blocks) ---------------------------------------------

    def deliver(self, envelope: Envelope) -> bool:
        """Put ``envelope`` in the mailbox, or hand it to a waiting :meth:`call`."""
        if self._calls:
            msg = envelope.message
            if type(msg) is tuple:
                if len(msg) == 2:
                    slot = self._calls.get(msg[0])
                    if slot is not None and not slot.done:
                        slot.done = True
                        slot.reply = msg[1]
                        slot.wakeup.unpark_all()
                        return True
                elif len(msg) == 5 and msg[0] is A_DOWN:
                    slot = self._calls.get(msg[1])
                    if slot is not None and not slot.done:
                        slot.done = True
                        slot.down = True
                        slot.down_reason = msg[4]
                        slot.wakeup.unpark_all()
                        return True
        if self._draining:
            # The running drain takes this one too (or wakes the process for it):
            # waking the process now would let two tasks take messages at once.
            if not self.mailbox.put_quietly(envelope):
                return False
        elif not self.mailbox.put(envelope):
            return False
        backlog = self.backlog
        if backlog is not None:
            backlog.add(envelope.sender)
        return True

    def deliver_from_reader(self, envelope: Envelope, due: list[Process]) -> bool:
        """:meth:`deliver`, for a connection reader that runs :meth:`drain` for every
        process in ``due`` after its read, before it blocks.

        A process with a :attr:`drain_hook` whose task waits for messages is not
        woken: the reader answers what is quick itself (a task switch less per
        batch of requests), and the process's task wakes only for the rest.
        """
        if self.drain_hook is None or self._calls or not self.mailbox.receiver_parked:
            return self.deliver(envelope)
        if not self.mailbox.put_quietly(envelope):
            return False
        backlog = self.backlog
        if backlog is not None:
            backlog.add(envelope.sender)
        if not self._drain_due:
            self._drain_due = True
            due.append(self)
        return True

    def wake_instead_of_draining(self) -> None:
        """The reader cannot run :meth:`drain` after all: the process's task takes over."""
        self._drain_due = False
        if not self._draining:
            self.mailbox.wake()

    async def drain(self) -> None:
        """Run :attr:`drain_hook` (from the reader that delivered), then wake the
        process's task if messages are left.  Only one drain runs at a time; the
        messages delivered meanwhile are left to it."""
        self._drain_due = False
        hook = self.drain_hook
        if self._draining:
            return
        if hook is None or not self.alive:
            self.mailbox.wake()
            return
        self._draining = True
        try:
            await hook()
        finally:
            self._draining = False
            self.mailbox.wake()

    # -- receiving ------------------------------------------------------------------------------

    async def receive(self) -> Envelope:
        """The next message; waits for one.  Raises :class:`ProcessExit` once the process ended."""
        try:
            return await self.mailbox.get()
        except MailboxClosed:
            # Inside the process's block this raises the Cancelled that ends it.
            await trio.lowlevel.checkpoint()
            raise ProcessExit(self.exit_reason) from None

    def receive_nowait(self) -> Envelope:
        """The next message if one is waiting, else ``trio.WouldBlock``."""
        try:
            return self.mailbox.get_nowait()
        except MailboxClosed:
            raise ProcessExit(self.exit_reason) from None

    # -- sending --------------------------------------------------------------------------------

    def _check_alive(self) -> None:
        if not self.alive:
            raise ProcessExit(self.exit_reason)

    async def send(self, dest: Dest, message: Any) -> None:
        """Send ``message`` to a pid, a local name, ``(name, node)`` or an alias reference.

        Sending to a pid or remote name that does not exist is silently
        dropped (Erlang semantics); a bare local name that is not registered
        raises ``ValueError`` (Erlang's ``badarg``).  Sends to another node
        connect to it on demand; they wait only when that connection's
        outgoing queue is over its limit.
        """
        self._check_alive()
        await self._signals.send(self.pid, dest, message)

    async def cast(self, dest: Dest, request: Any) -> None:
        """``gen_server:cast``: sends ``{'$gen_cast', Request}``; a missing target is no error."""
        self._check_alive()
        await self._signals.send(self.pid, dest, (A_GEN_CAST, request), strict=False)

    # -- links ----------------------------------------------------------------------------------

    async def link(self, pid: Pid) -> None:
        """Link to ``pid``.  A pid that does not exist sends us an exit signal ``noproc``."""
        self._check_alive()
        await trio.lowlevel.checkpoint_if_cancelled()
        self._signals.link(self, pid)

    async def unlink(self, pid: Pid) -> None:
        """Remove the link to ``pid`` (remote: UNLINK_ID, exit signals ignored until acked)."""
        self._check_alive()
        await trio.lowlevel.checkpoint_if_cancelled()
        self._signals.unlink(self, pid)

    # -- monitors -------------------------------------------------------------------------------

    async def monitor(self, target: Pid | Atom | tuple[Atom, Atom]) -> Reference:
        """Monitor a pid, a local name or ``(name, node)``; returns the monitor reference.

        ``DOWN`` arrives as ``(Atom('DOWN'), ref, Atom('process'), obj, reason)``
        with ``obj`` the pid, or ``(name, node)`` for a name monitor; reason
        ``noproc`` when the target does not exist, ``noconnection`` when its
        node is or becomes unreachable.
        """
        self._check_alive()
        await trio.lowlevel.checkpoint_if_cancelled()
        return self._signals.monitor(self, target)

    async def demonitor(self, ref: Reference) -> None:
        """Stop monitoring; a ``DOWN`` already in the mailbox stays there."""
        await trio.lowlevel.checkpoint_if_cancelled()
        self._signals.demonitor(self, ref)

    # -- gen_server client ----------------------------------------------------------------------

    async def call(self, dest: Dest, request: Any, timeout: float | None = 5.0) -> Any:
        """``gen_server:call``: returns the reply, or raises :class:`CallError`.

        The target is monitored for the duration of the call, so a missing
        target fails at once with ``noproc`` and a lost node with
        ``noconnection``; no reply within ``timeout`` seconds raises
        ``CallError(timeout)``.  The monitor reference is the call tag (a
        plain reference, as OTP before 24 used: a reply comes back as a
        normal message to our pid).  Replies are matched by tag, so calls may
        run concurrently on one process without touching its mailbox.
        Cancellation abandons the call; a reply that arrives afterwards ends
        up in the mailbox.
        """
        self._check_alive()
        if isinstance(dest, Reference):
            raise TypeError("gen_server calls need a pid or a name, not an alias")
        signals = self._signals
        mref = self.node.make_ref()
        slot = _CallSlot()
        self._calls[mref] = slot
        try:
            signals.monitor(self, dest, mref)
            if not slot.done:
                await signals.send(
                    self.pid, dest, (A_GEN_CALL, (self.pid, mref), request), strict=False
                )
            with trio.move_on_after(float("inf") if timeout is None else timeout):
                while not slot.done and self.alive:
                    await slot.wakeup.park()
        finally:
            del self._calls[mref]
            if self.alive:
                signals.demonitor(self, mref)
        if not slot.done and not self.alive:
            raise ProcessExit(self.exit_reason)
        if not slot.done:
            raise CallError(A_TIMEOUT, dest)
        if slot.down:
            raise CallError(slot.down_reason, dest)
        return slot.reply

    # -- ending ---------------------------------------------------------------------------------

    def exit(self, reason: object) -> None:
        """End this process now with ``reason`` (like ``exit(Reason)`` in Erlang).

        Links and monitors are signalled at once and the block's body is
        cancelled; the ``async with`` then ends quietly (the owner asked for it).
        """
        self._signals.end(self, reason, by_signal=False)
