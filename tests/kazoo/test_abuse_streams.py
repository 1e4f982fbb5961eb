"""An overflowing event stream reports its whole drop count at a bounded rate."""

from __future__ import annotations

import logging

import pytest

from tests.kazoo.test_stream import event, new_stream, running
from tests.waiting import wait_until


async def test_drop_count_is_reported_after_a_burst(caplog: pytest.LogCaptureFixture) -> None:
    stream = new_stream(framing=4, max_events=10)
    stream._overflow_log.interval = 0.2
    caplog.set_level(logging.WARNING, logger="kazoo_trio.kazoo.streams.stream")

    def reports() -> list[str]:
        return [r.getMessage() for r in caplog.records if "dropped so far" in r.getMessage()]

    async with running(stream):
        # No client: a burst of 5,000 events overflows a 10-event queue.
        for seq in range(1, 5_001):
            stream.offer(event(seq, tiny=True))
        assert stream.stats.events_dropped_overflow == 4_990
        assert len(reports()) == 1  # the first drop, at once; the rest held back
        # Once the burst is over, the held-back drops are reported with the full count.
        await wait_until(lambda: len(reports()) == 2, timeout=5)
        assert "4990 dropped so far" in reports()[1]
        assert "4989 similar" in reports()[1]
