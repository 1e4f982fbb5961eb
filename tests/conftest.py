from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.erlnode import epmd_daemon


@pytest.fixture
async def epmd() -> AsyncIterator[int]:
    """Port of a private, real ``epmd`` on 127.0.0.1 for this test."""
    async with epmd_daemon() as port:
        yield port
