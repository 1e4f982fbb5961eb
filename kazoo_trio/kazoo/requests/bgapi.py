"""Background API jobs (``bgapi`` and ``bgapi4``).

The request is answered ``{ok, JobId}`` at once; the command then runs in its
own task in the jobs' nursery, under a cancel scope with a deadline.  When it
finishes the requester gets ``{bgok | bgerror, JobId, Text}`` (``bgapi``) or
``{bgok | bgerror, JobId, Text, HeaderList}`` (``bgapi4``): exactly one report
per job, sent after the deadline scope has closed, so a deadline that fires
while the report waits for buffer space cannot add a second one.

Edges: a job that runs past its deadline is cancelled and reported as
``bgerror`` with a text saying so; the jobs of an Erlang node that disconnects
are cancelled and report nothing (there is nobody left to tell), so node
teardown never waits for a job (mod_kazoo waited for all of them).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, NoReturn

import attrs
import trio

from kazoo_trio.errors import RequestError
from kazoo_trio.kazoo.requests.api_reply import api_outcome, legacy_header_list
from kazoo_trio.kazoo.requests.arguments import to_binary
from kazoo_trio.switch.protocol import Switch
from kazoo_trio.term.types import Atom, Pid
from kazoo_trio.uuids import uuid4_str

__all__ = ["BgapiJobs", "JobsBusy"]

log = logging.getLogger(__name__)

A_BGOK: Final = Atom("bgok")
A_BGERROR: Final = Atom("bgerror")
A_UNDEFINED: Final = Atom("undefined")

# Jobs handed to run() and not yet started.  run() starts them as fast as the
# request handlers hand them over, so this only fills when run() is not running.
DEFAULT_BACKLOG: Final = 1024

Sender = Callable[[Pid, object], Awaitable[None]]


class JobsBusy(RequestError):
    """Too many jobs are waiting to start; the request is refused."""


@attrs.frozen(eq=False)
class _Job:
    scope: trio.CancelScope
    requester: Pid
    node: Atom
    job_id: str
    command: str
    args: str
    four: bool


@attrs.define
class BgapiJobs:
    """The running jobs, grouped by the Erlang node that asked for them.

    :meth:`start` is synchronous (it is called while a request is answered) and
    hands the job to :meth:`run`, which owns every job's task.  Jobs started
    while :meth:`run` is not running wait for it.
    """

    switch: Switch
    send: Sender
    timeout: float = 360.0
    backlog: int = DEFAULT_BACKLOG
    _by_node: dict[Atom, set[trio.CancelScope]] = attrs.field(factory=dict, init=False)
    _to_start: trio.MemorySendChannel[_Job] = attrs.field(init=False)
    _starting: trio.MemoryReceiveChannel[_Job] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._to_start, self._starting = trio.open_memory_channel[_Job](self.backlog)

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Run the jobs handed over by :meth:`start` until cancelled.

        Cancellation cancels every job (none reports) and forgets the ones not
        started yet.
        """
        receive = self._starting
        try:
            async with trio.open_nursery() as nursery:
                task_status.started()
                while True:
                    nursery.start_soon(self._run_job, await receive.receive())
        finally:
            while True:
                try:
                    self._forget(receive.receive_nowait())
                except trio.WouldBlock:
                    break

    def start(self, requester: Pid, node: Atom, command: str, args: str, *, four: bool) -> str:
        """Start a job; returns its Job-UUID (36 characters, lower case).

        Raises :class:`JobsBusy` when :attr:`backlog` jobs are already waiting
        to start: the request handler must never wait here.
        """
        job = _Job(trio.CancelScope(), requester, node, uuid4_str(), command, args, four)
        try:
            self._to_start.send_nowait(job)
        except trio.WouldBlock:
            raise JobsBusy(f"{self.backlog} background jobs are waiting to start") from None
        self._by_node.setdefault(node, set()).add(job.scope)
        return job.job_id

    def running(self, node: Atom | None = None) -> int:
        if node is not None:
            return len(self._by_node.get(node, ()))
        return sum(len(s) for s in self._by_node.values())

    def node_down(self, node: Atom) -> None:
        """Cancel every job of ``node``; they end without sending anything."""
        for scope in self._by_node.pop(node, set()):
            scope.cancel()

    def _forget(self, job: _Job) -> None:
        scopes = self._by_node.get(job.node)
        if scopes is not None:
            scopes.discard(job.scope)
            if not scopes:
                del self._by_node[job.node]

    async def _run_job(self, job: _Job) -> None:
        try:
            with job.scope:
                report = await self._outcome(job)
                await self.send(job.requester, report)
        except Exception:
            log.exception("bgapi job %s (%s %s) failed", job.job_id, job.command, job.args)
        finally:
            self._forget(job)

    async def _outcome(self, job: _Job) -> tuple[object, ...]:
        """The job's report: its command's result, or ``bgerror`` past the deadline."""
        job_id = to_binary(job.job_id)
        with trio.move_on_after(self.timeout):
            result = await self.switch.api(job.command, job.args)
            ok, text = api_outcome(job.command, result)
            report: tuple[object, ...] = (A_BGOK if ok else A_BGERROR, job_id, to_binary(text))
            return (*report, legacy_header_list(result.event)) if job.four else report
        log.warning(
            "bgapi %s %s (job %s) timed out after %s s",
            job.command,
            job.args,
            job.job_id,
            self.timeout,
        )
        text = f"-ERR {job.command}: timed out after {self.timeout:g} s"
        report = (A_BGERROR, job_id, to_binary(text))
        return (*report, [A_UNDEFINED]) if job.four else report
