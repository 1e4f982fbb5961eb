"""A nursery held open for tasks that are started later, from synchronous code."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import trio

__all__ = ["hold_nursery"]


async def hold_nursery(
    attach: Callable[[trio.Nursery | None], None],
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Open a nursery, hand it to ``attach`` and keep it open until cancelled.

    For services (bgapi jobs, event streams, the kazoo.conf lookup) whose tasks
    are started by request handlers long after the service itself started:
    they live in this nursery, so cancelling the service cancels them all.
    ``attach(None)`` is called once the nursery has closed, so a late request
    finds no nursery instead of a dead one.
    """
    async with trio.open_nursery() as nursery:
        attach(nursery)
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            attach(None)
