"""Background API jobs (``bgapi`` and ``bgapi4``; §2.3).

The request is answered ``{ok, JobId}`` at once; the command then runs in its
own task in the jobs' nursery, under a cancel scope with a deadline.  When it
finishes the requester gets ``{bgok | bgerror, JobId, Text}`` (``bgapi``) or
``{bgok | bgerror, JobId, Text, HeaderList}`` (``bgapi4``).

Edges: a job that runs past its deadline is cancelled and reported as
``bgerror`` with a text saying so; the jobs of an Erlang node that disconnects
are cancelled and report nothing (there is nobody left to tell), so node
teardown never waits for a job (mod_kazoo waited for all of them, §8.12).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import NoReturn

import attrs
import trio

from kazoo_trio.kazoo.api_reply import api_outcome, legacy_header_list
from kazoo_trio.kazoo.arguments import to_binary
from kazoo_trio.kazoo.tasks import hold_nursery
from kazoo_trio.switch.protocol import Switch
from kazoo_trio.term.types import Atom, Pid

__all__ = ["BgapiJobs"]

log = logging.getLogger(__name__)

A_BGOK = Atom("bgok")
A_BGERROR = Atom("bgerror")

Sender = Callable[[Pid, object], Awaitable[None]]


@attrs.define
class BgapiJobs:
    """The running jobs, grouped by the Erlang node that asked for them.

    :meth:`run` must be running (started in the owner's nursery) before
    :meth:`start` is called.
    """

    switch: Switch
    send: Sender
    timeout: float = 360.0
    _nursery: trio.Nursery | None = None
    _by_node: dict[Atom, set[trio.CancelScope]] = attrs.field(factory=dict)

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Own the jobs' tasks until cancelled; cancellation cancels every job."""
        await hold_nursery(partial(setattr, self, "_nursery"), task_status)

    def start(self, requester: Pid, node: Atom, command: str, args: str, *, four: bool) -> str:
        """Start a job; returns its Job-UUID (36 characters, lower case)."""
        if self._nursery is None:
            raise RuntimeError("BgapiJobs.run is not running")
        job_id = str(uuid.uuid4())
        scope = trio.CancelScope()
        self._by_node.setdefault(node, set()).add(scope)
        self._nursery.start_soon(self._job, scope, requester, node, job_id, command, args, four)
        return job_id

    def running(self, node: Atom | None = None) -> int:
        if node is not None:
            return len(self._by_node.get(node, ()))
        return sum(len(s) for s in self._by_node.values())

    def node_down(self, node: Atom) -> None:
        """Cancel every job of ``node``; they end without sending anything."""
        for scope in self._by_node.pop(node, set()):
            scope.cancel()

    async def _job(
        self,
        scope: trio.CancelScope,
        requester: Pid,
        node: Atom,
        job_id: str,
        command: str,
        args: str,
        four: bool,
    ) -> None:
        try:
            with scope:
                message: tuple[object, ...]
                with trio.move_on_after(self.timeout):
                    result = await self.switch.api(command, args)
                    ok, text = api_outcome(command, result)
                    message = (A_BGOK if ok else A_BGERROR, to_binary(job_id), to_binary(text))
                    if four:
                        message += (legacy_header_list(result.event),)
                    await self.send(requester, message)
                    return
                log.warning(
                    "bgapi %s %s (job %s) timed out after %s s", command, args, job_id, self.timeout
                )
                text = f"-ERR {command}: timed out after {self.timeout:g} s"
                message = (A_BGERROR, to_binary(job_id), to_binary(text))
                if four:
                    message += ([Atom("undefined")],)
                await self.send(requester, message)
        except Exception:
            log.exception("bgapi job %s (%s %s) failed", job_id, command, args)
        finally:
            scopes = self._by_node.get(node)
            if scopes is not None:
                scopes.discard(scope)
                if not scopes:
                    del self._by_node[node]
