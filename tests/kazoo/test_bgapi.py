"""bgapi jobs: one report per job, whatever the deadline does; the backlog of jobs to start."""

from __future__ import annotations

import pytest
import trio

from kazoo_trio.errors import RequestError
from kazoo_trio.kazoo.requests.bgapi import BgapiJobs, JobsBusy
from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.term.types import Atom, Pid
from tests.waiting import wait_until

NODE = Atom("e@h")
REQUESTER = Pid(NODE, 1, 0, 1)


def quick_switch() -> SimSwitch:
    switch = SimSwitch()

    async def quick(args: str) -> ApiOutput:
        return ApiOutput(f"+OK {args}")

    switch.register_api("kt_quick", quick)
    return switch


async def test_a_deadline_while_the_report_waits_sends_no_second_report(
    autojump_clock: trio.abc.Clock,
) -> None:
    # The command is done well within the deadline, but its report waits (the
    # connection's buffer is full) until past it: the job must report once, bgok.
    attempts: list[object] = []
    release = trio.Event()

    async def blocked_send(pid: Pid, message: object) -> None:
        attempts.append(message)
        await release.wait()

    jobs = BgapiJobs(quick_switch(), blocked_send, timeout=1.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(jobs.run)
        job_id = jobs.start(REQUESTER, NODE, "kt_quick", "done", four=False)
        await trio.sleep(10)  # far past the deadline, the report still waiting
        release.set()
        await wait_until(lambda: jobs.running() == 0)
        nursery.cancel_scope.cancel()
    assert attempts == [(Atom("bgok"), job_id.encode(), b"+OK done")]


async def test_a_full_backlog_refuses_the_job_without_waiting() -> None:
    async def send(pid: Pid, message: object) -> None:
        pass

    jobs = BgapiJobs(quick_switch(), send, backlog=2)
    # run() is not running: the jobs wait for it, up to the backlog.
    jobs.start(REQUESTER, NODE, "kt_quick", "1", four=False)
    jobs.start(REQUESTER, NODE, "kt_quick", "2", four=False)
    with pytest.raises(JobsBusy) as refused:
        jobs.start(REQUESTER, NODE, "kt_quick", "3", four=False)
    assert isinstance(refused.value, RequestError)
    assert jobs.running(NODE) == 2
    sent: list[object] = []

    async def record(pid: Pid, message: object) -> None:
        sent.append(message)

    jobs.send = record
    async with trio.open_nursery() as nursery:
        await nursery.start(jobs.run)
        await wait_until(lambda: not jobs.running(), timeout=5)
        nursery.cancel_scope.cancel()
    assert sorted(m[2] for m in sent) == [b"+OK 1", b"+OK 2"]  # type: ignore[index]


async def test_cancelling_run_forgets_the_jobs_not_started() -> None:
    async def send(pid: Pid, message: object) -> None:
        pass

    jobs = BgapiJobs(quick_switch(), send)
    jobs.start(REQUESTER, NODE, "kt_quick", "1", four=False)
    with trio.CancelScope() as scope:
        scope.cancel()
        await jobs.run()
    assert jobs.running() == 0
