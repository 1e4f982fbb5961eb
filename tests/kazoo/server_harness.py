"""A running kazoo_trio node (``serve``: node + mod_kazoo + simulated switch) for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import attrs
import trio

from kazoo_trio.app import serve
from kazoo_trio.kazoo.config import Settings
from kazoo_trio.kazoo.server import ModKazooServer
from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.sim import SimSwitch

FS = "freeswitch@127.0.0.1"
COOKIE = "kazoo_trio_test"
# What erl evaluates to reach us.
MK = f"{{mod_kazoo, '{FS}'}}"


def make_settings(epmd: int, **changes: object) -> Settings:
    base = Settings(
        nodename=FS,
        cookie=COOKIE,
        listen_ip="127.0.0.1",
        epmd="external",
        epmd_port=epmd,
    )
    return attrs.evolve(base, **changes)  # type: ignore[arg-type]


def add_test_commands(switch: SimSwitch, log: list[str]) -> None:
    """``kt_sleep <s>`` waits then answers (and logs ``sleep <s>``)."""

    async def sleep(args: str) -> ApiOutput:
        await trio.sleep(float(args))
        log.append(f"sleep {args}")
        return ApiOutput(f"+OK slept {args}")

    switch.register_api("kt_sleep", sleep)


@asynccontextmanager
async def running_server(
    epmd: int, switch: SimSwitch | None = None, **changes: object
) -> AsyncIterator[ModKazooServer]:
    """``serve`` in a nursery; cancelled (clean shutdown) when the block ends."""
    switch = switch or SimSwitch()
    async with trio.open_nursery() as nursery:
        settings = make_settings(epmd, **changes)
        server: ModKazooServer = await nursery.start(partial(serve, settings, switch=switch))
        yield server
        nursery.cancel_scope.cancel()


def directory_profile(timeout_us: int) -> str:
    """A kazoo.conf document whose only fetch profile serves ``directory`` verbosely
    with ``fetch-timeout`` = ``timeout_us`` (for ``profiles_xml=``)."""
    return (
        '<configuration name="kazoo.conf"><fetch-handlers><profile name="directory">'
        '<fields verbose="true"/><params>'
        f'<param name="fetch-timeout" value="{timeout_us}"/>'
        '<param name="fetch-section" value="directory"/>'
        "</params></profile></fetch-handlers></configuration>"
    )
