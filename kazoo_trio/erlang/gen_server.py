"""gen_server conventions: recognising calls and casts, replying, and a tiny serve loop.

A call arrives as ``{'$gen_call', {CallerPid, Tag}, Request}``.  ``Tag`` is a
plain reference before OTP 24 and ``[alias | Ref]`` (an
:class:`~kazoo_trio.term.types.ImproperList`) from OTP 24 on; it is kept
opaque and echoed back term-for-term in the reply ``{Tag, Reply}``.
"""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar, cast

import attrs
import trio

from kazoo_trio.erlang.connection import Connection, Deferral
from kazoo_trio.erlang.process import A_GEN_CAST, Envelope, Process
from kazoo_trio.erlang.wire import call_reply_parts, gen_call, reply_parts
from kazoo_trio.erlang.wire import messages as c
from kazoo_trio.term.types import Atom, ImproperList, Pid, Reference

__all__ = [
    "GenCall",
    "GenCast",
    "alias_of",
    "parse",
    "reply",
    "reply_soon",
    "reply_to",
    "run_deferred",
    "serve",
]

A_ALIAS = Atom("alias")
_T = TypeVar("_T")


@attrs.frozen(slots=True)
class GenCall:
    """A ``gen_server:call``: answer it with :func:`reply`."""

    sender: Pid
    tag: Any
    request: Any


@attrs.frozen(slots=True)
class GenCast:
    """A ``gen_server:cast``; never answered."""

    request: Any


def parse(envelope: Envelope) -> GenCall | GenCast | None:
    """The call or cast in ``envelope``, or ``None`` for any other message."""
    msg = envelope.message
    call = gen_call(msg)
    if call is not None:
        return GenCall(*call)
    if type(msg) is tuple and len(msg) == 2 and msg[0] is A_GEN_CAST:
        return GenCast(msg[1])
    return None


def alias_of(tag: Any) -> Reference | None:
    """The alias in an OTP 24+ tag ``[alias | Ref]`` (or ``[[alias | Ref] | _]``), else None."""
    if type(tag) is ImproperList:
        head = tag.items[0] if len(tag.items) == 1 else None
        if head is A_ALIAS and type(tag.tail) is Reference:
            return tag.tail
        if type(head) is ImproperList:
            return alias_of(head)
    return None


async def reply(proc: Process, call: GenCall, value: Any) -> None:
    """Send ``{Tag, Value}`` to the caller, as ``gen:reply/2`` does.

    Through the alias (ALIAS_SEND) when the tag carries one and the caller's
    connection negotiated ALIAS, so a reply to an abandoned call is dropped
    by the caller's node; otherwise to the caller's pid.  Waits only while
    the connection's outgoing queue is over its limit (so it is usually not
    a checkpoint: a server answering a batch does not yield per reply).
    """
    await reply_to(proc, call.sender, call.tag, value)


async def reply_to(proc: Process, caller: Pid, tag: Any, value: Any) -> None:
    """:func:`reply` to the call from ``caller`` with ``tag``, without a :class:`GenCall`."""
    wait = reply_soon(proc, caller, tag, value)
    if wait is not None:
        await wait


def reply_soon(proc: Process, caller: Pid, tag: Any, value: Any) -> Awaitable[None] | None:
    """:func:`reply_to` as far as it goes without waiting: the rest to await, if any.

    The reply is queued on the caller's connection at once in the usual case
    (None is returned); a server answering a batch then makes no coroutine
    per reply.
    """
    conn = _reply_nowait(proc, caller, tag, value)
    if conn is None:
        return _reply_general(proc, caller, tag, value)
    if conn.over_high_water:
        return conn.wait_space()
    return None


def _reply_nowait(proc: Process, caller: Pid, tag: Any, value: Any) -> Connection | None:
    """Queue the reply on the caller's connection if the fast path applies; that connection."""
    node = proc.node
    conn = node.peers.connections.get(caller.node)
    if conn is None or caller.node is node.name or not proc.alive:
        return None
    parts = call_reply_parts(conn.flags, proc.pid, caller, tag, value)
    if parts is None:
        return None
    conn.send_parts_nowait(parts)
    return conn


async def _reply_general(proc: Process, caller: Pid, tag: Any, value: Any) -> None:
    message = (tag, value)
    node = proc.node
    if caller.node is not node.name:
        conn = node.peers.connections.get(caller.node)
        if conn is not None and proc.alive:
            alias = alias_of(tag) if conn.alias else None
            parts = reply_parts(
                conn.flags, proc.pid, caller if alias is None else alias, tag, value
            )
            if parts is not None:
                conn.send_parts_nowait(parts)
                if conn.over_high_water:
                    await conn.wait_space()
            elif alias is not None:
                await conn.send(c.AliasSend(proc.pid, alias, message))
            else:
                await conn.send(c.SendSender(proc.pid, caller, message))
            return
    await proc.send(caller, message)


async def serve(
    proc: Process,
    handle_call: Callable[[Any, Pid], Awaitable[Any]],
    handle_cast: Callable[[Any], Awaitable[None]] | None = None,
) -> None:
    """Answer calls with ``await handle_call(request, sender)`` until cancelled.

    Messages are handled one at a time in arrival order, draining whatever
    is already queued before waiting again.  Other messages and casts
    without ``handle_cast`` are ignored.  An exception from a handler ends
    the loop (and so the process, with that exception as its reason).

    Replies to a batch of requests are written together, by this task, once
    the batch is done or as soon as a handler has to wait for something
    (so a slow handler never holds back the replies computed before it).
    """
    deferral = proc.node.deferral
    task = trio.lowlevel.current_task()
    next_nowait = proc.mailbox.next_nowait
    while True:
        envelope = await proc.receive()
        deferral.task = task
        try:
            while True:
                # The loop runs once per request: no GenCall object is made.
                msg = envelope.message
                call = gen_call(msg)
                if call is not None:
                    caller, tag, request = call
                    # run_deferred inlined: a handler that does not block completes
                    # on its first step.
                    it = handle_call(request, caller).__await__()
                    try:
                        yielded = it.send(None)
                    except StopIteration as done:
                        value = done.value
                    else:
                        value = await _finish_run(it, yielded, deferral, task)
                    conn = _reply_nowait(proc, caller, tag, value)
                    if conn is None:
                        await _reply_general(proc, caller, tag, value)
                    elif conn.over_high_water:
                        await conn.wait_space()
                elif (
                    handle_cast is not None
                    and type(msg) is tuple
                    and len(msg) == 2
                    and msg[0] is A_GEN_CAST
                ):
                    await run_deferred(handle_cast(msg[1]), deferral, task)
                # An empty (or closed) mailbox ends the batch; receive() then
                # waits, or raises ProcessExit once the process has ended.
                next_envelope = next_nowait()
                if next_envelope is None:
                    break
                envelope = next_envelope
        finally:
            deferral.task = None
            deferral.flush()


async def run_deferred(
    awaitable: Awaitable[_T], deferral: Deferral, task: trio.lowlevel.Task
) -> _T:
    """Await ``awaitable`` while ``task`` (the running task) defers its output.

    If the awaitable completes without yielding to trio, the packets it
    queued stay deferred (for the caller's :meth:`Deferral.flush`); if it
    would block, the deferred output is written first and the deferral is
    suspended until it is done, so nothing waits behind a blocked task.
    """
    it = awaitable.__await__()
    try:
        yielded = it.send(None)
    except StopIteration as done:
        return cast(_T, done.value)
    return await _finish_run(it, yielded, deferral, task)


async def _finish_run(
    it: Generator[Any, Any, _T], yielded: Any, deferral: Deferral, task: trio.lowlevel.Task
) -> _T:
    """Flush deferred output, then let trio run the rest of a started awaitable."""
    deferral.task = None
    deferral.flush()
    try:
        return await _resume(it, yielded)
    finally:
        deferral.task = task


@types.coroutine
def _resume(it: Generator[Any, Any, _T], yielded: Any) -> Generator[Any, Any, _T]:
    """Continue a started awaitable, passing its traps to trio and the results back."""
    while True:
        try:
            sent = yield yielded
        except BaseException as exc:  # cancellation and the like go into the awaitable
            try:
                yielded = it.throw(exc)
            except StopIteration as done:
                return cast(_T, done.value)
        else:
            try:
                yielded = it.send(sent)
            except StopIteration as done:
                return cast(_T, done.value)
