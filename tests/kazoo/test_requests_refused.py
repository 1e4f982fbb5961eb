"""Refused requests are counted, and logged at a bounded rate (a retry loop cannot fill
the log)."""

from __future__ import annotations

import logging

import pytest

from kazoo_trio.kazoo.requests.bgapi import BgapiJobs, JobsBusy
from kazoo_trio.term.types import Atom
from tests.kazoo.test_requests import harness


async def test_refused_requests_are_counted_and_logged_once_per_interval(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def busy(*args: object, **kwargs: object) -> str:
        raise JobsBusy("9 background jobs are waiting to start")

    monkeypatch.setattr(BgapiJobs, "start", busy)
    caplog.set_level(logging.WARNING, logger="kazoo_trio.kazoo.requests.handlers")
    async with harness() as h:
        replies = [await h.call((Atom("bgapi"), Atom("status"), b"")) for _ in range(50)]
    assert replies == [(Atom("error"), b"9 background jobs are waiting to start")] * 50
    assert h.services.refused == 50
    lines = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].endswith("(1 refused in all)")
    assert h.services.refused_log.held == 49
