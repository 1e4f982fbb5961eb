"""One FreeSWITCH shared by the test modules that neither kill it nor need SIP.

Each start costs 2-5 s; the modules that kill and restart FreeSWITCH, or need SIP,
start their own (``freeswitch_instance`` in a module-scoped fixture).  Tests on the
shared one end the channels they create.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.freeswitch.fsmin import FreeSwitch, freeswitch_instance


@pytest.fixture(scope="package")
def shared_fs() -> Iterator[FreeSwitch]:
    with freeswitch_instance() as instance:
        yield instance
