"""The ``kazoo-trio`` program: the node with the simulated switch in one ``trio.run``.

This is where the switch is chosen: :func:`serve` runs
:func:`kazoo_trio.kazoo.serve` with the simulated switch (unless given
another) and, with ``traffic``, the simulated inbound calls.  :func:`run` is
the process entry point that turns SIGINT and SIGTERM into cancellation and
returns 0 after a clean shutdown (streams closed, jobs cancelled, EPMD
registration dropped).
"""

from __future__ import annotations

import logging
import signal
from functools import partial

import trio

from kazoo_trio.kazoo import ModKazooServer, Settings, SettingsError
from kazoo_trio.kazoo import serve as serve_kazoo
from kazoo_trio.switch.protocol import SwitchBackend
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.switch.sim.traffic import TrafficGenerator, TrafficSpec

__all__ = ["run", "serve"]

log = logging.getLogger("kazoo_trio")


async def serve(
    settings: Settings,
    *,
    switch: SwitchBackend | None = None,
    traffic: TrafficSpec | None = None,
    task_status: trio.TaskStatus[ModKazooServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the node and the server until cancelled; reports the server when it accepts
    connections.

    Without ``switch``, the simulated switch.  With ``traffic`` (which needs the
    simulated switch) inbound calls are generated once the server accepts
    connections.  Cancellation hangs up every call with ``SYSTEM_SHUTDOWN``
    before the node closes.

    Raises :class:`~kazoo_trio.kazoo.config.SettingsError` for unusable settings
    and ``OSError`` when the listener or EPMD cannot be set up.
    """
    if switch is None:
        switch = SimSwitch()
    if traffic is not None and not isinstance(switch, SimSwitch):
        raise SettingsError("simulated traffic needs the simulated switch")
    async with trio.open_nursery() as nursery:
        server: ModKazooServer = await nursery.start(serve_kazoo, settings, switch)
        if traffic is not None:
            assert isinstance(switch, SimSwitch)
            # Calls are placed only once the server can route them to Erlang.
            await nursery.start(TrafficGenerator(switch, traffic).run)
            log.info(
                "kazoo-trio: simulated traffic: %g call(s)/s held %g s, to %s in %s",
                traffic.rate, traffic.hold, traffic.destination, traffic.context,
            )  # fmt: skip
        task_status.started(server)


async def _main(settings: Settings, traffic: TrafficSpec | None) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(partial(serve, settings, traffic=traffic))
            async for signum in signals:
                log.info("kazoo-trio: %s received, stopping", signal.Signals(signum).name)
                nursery.cancel_scope.cancel()
                break


def run(settings: Settings, *, traffic: TrafficSpec | None = None) -> int:
    """Serve until SIGINT or SIGTERM; 0 after a clean shutdown.

    A failure to start (bad settings, a port in use, no EPMD) is raised as the
    single exception it is, not wrapped in an exception group.
    """
    try:
        trio.run(_main, settings, traffic)
    except BaseExceptionGroup as group:
        leaf = _only_leaf(group)
        if leaf is None:
            raise
        raise leaf from None
    return 0


def _only_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    while len(group.exceptions) == 1:
        inner = group.exceptions[0]
        if not isinstance(inner, BaseExceptionGroup):
            return inner
        group = inner
    return None
