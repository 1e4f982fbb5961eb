"""One FreeSWITCH for every scenario module: scenarios end the channels they create."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.freeswitch.fsmin import FreeSwitch, freeswitch_instance


@pytest.fixture(scope="package")
def fs() -> Iterator[FreeSwitch]:
    with freeswitch_instance() as instance:
        yield instance
