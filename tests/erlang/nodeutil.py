"""Helpers for the node tests: a Python node on a private EPMD and small servers on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio

from kazoo_trio.erlang import Node, Process, gen_server
from kazoo_trio.erlang.wire import messages as c
from kazoo_trio.term import Atom, Pid

COOKIE = "kazoo_trio_test"
PY = "py@127.0.0.1"
A = Atom


@asynccontextmanager
async def py_node(epmd_port: int, name: str = PY, **kwargs: Any) -> AsyncIterator[Node]:
    kwargs.setdefault("cookie", COOKIE)
    kwargs.setdefault("epmd", "external")
    kwargs.setdefault("listen_host", "127.0.0.1")
    async with Node(name, epmd_port=epmd_port, **kwargs) as node:
        yield node


async def standard_call(request: Any, sender: Pid, proc: Process) -> Any:
    """``getpid`` → our pid, ``{echo, X}`` → X, ``{size, B}`` → its size, else ``{ok, Req}``."""
    if request is A("getpid"):
        return proc.pid
    if type(request) is tuple and len(request) == 2 and request[0] is A("echo"):
        return request[1]
    if type(request) is tuple and len(request) == 2 and request[0] is A("size"):
        return len(request[1])
    return (A("ok"), request)


@asynccontextmanager
async def server(
    node: Node,
    name: str | None,
    handler: Callable[[Any, Pid, Process], Awaitable[Any]] = standard_call,
    casts: trio.MemorySendChannel[Any] | None = None,
) -> AsyncIterator[Process]:
    """A gen_server on ``node`` in a background task; yields its process."""
    async with trio.open_nursery() as nursery:
        proc_box: list[Process] = []

        async def run(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            async with node.process(name) as proc:
                proc_box.append(proc)
                task_status.started()

                async def on_call(req: Any, sender: Pid) -> Any:
                    return await handler(req, sender, proc)

                async def on_cast(req: Any) -> None:
                    if casts is not None:
                        await casts.send(req)

                await gen_server.serve(proc, on_call, on_cast)

        await nursery.start(run)
        yield proc_box[0]
        nursery.cancel_scope.cancel()


async def give_pid(e: Any, proc: Process, var: str) -> None:
    """Bind ``var`` in the erl shell ``e`` to ``proc``'s pid (sent as a message)."""
    shell = await e.term("self().")
    await proc.send(shell, (A("kt_pid"), proc.pid))
    await e.eval(f"{var} = receive {{kt_pid, Kt{var}}} -> Kt{var} after 5000 -> timeout end.")


def linked(var: str, count: int = 1) -> str:
    """Erlang condition: the erl process bound to ``var`` has ``count`` links."""
    return f"length(element(2, process_info({var}, links))) =:= {count}"


async def shielded_eval(e: Any, expr: str) -> str:
    """``e.eval`` that a kill of the calling process cannot interrupt halfway.

    An eval cancelled between its request and its reply line would leave the
    harness one reply behind for the rest of the test.
    """
    with trio.CancelScope(shield=True):
        result: str = await e.eval(expr)
    return result


class RecordingConnection:
    """What the node's dispatcher needs of a connection: it records what is sent."""

    def __init__(self) -> None:
        self.sent: list[c.ControlMessage] = []
        self.monitors = True

    def send_nowait(self, msg: c.ControlMessage) -> None:
        self.sent.append(msg)
