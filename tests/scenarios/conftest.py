"""One FreeSWITCH for every scenario module: scenarios end the channels they create."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.freeswitch.fsmin import FreeSwitch, freeswitch_instance
from tests.scenarios.common import KAZOO_CONFIGS


@pytest.fixture(scope="package")
def fs() -> Iterator[FreeSwitch]:
    with freeswitch_instance(configs=KAZOO_CONFIGS) as instance:
        yield instance
