from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.erlnode import epmd_daemon

# Fixtures that start a real FreeSWITCH (tests/freeswitch): a start costs seconds.
_FREESWITCH_FIXTURES = frozenset({"fs", "shared_fs"})


@pytest.fixture
async def epmd() -> AsyncIterator[int]:
    """Port of a private, real ``epmd`` on 127.0.0.1 for this test."""
    async with epmd_daemon() as port:
        yield port


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Every test on a real FreeSWITCH is slow, whether its module starts its own or
    # it is the first to use the shared one: `scripts/test --quick` skips them all.
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if item.path.parent.name == "freeswitch" and _FREESWITCH_FIXTURES.intersection(fixtures):
            item.add_marker(pytest.mark.slow)
