"""Wiring: one Erlang node, the mod_kazoo server and a switch backend in one ``trio.run``.

:func:`serve` runs until cancelled; :func:`run` is the process entry point
that turns SIGINT and SIGTERM into that cancellation and returns 0 after a
clean shutdown (streams closed, jobs cancelled, EPMD registration dropped).
"""

from __future__ import annotations

import logging
import signal
from functools import partial

import trio

from kazoo_trio.erlang.names import is_long_name
from kazoo_trio.erlang.node import Node
from kazoo_trio.kazoo.config import Settings, SettingsError
from kazoo_trio.kazoo.kazoo_conf import load_default_profiles
from kazoo_trio.kazoo.profiles import ProfileError, ProfileSet
from kazoo_trio.kazoo.server import ModKazooServer
from kazoo_trio.switch.protocol import Switch
from kazoo_trio.switch.sim.traffic import TrafficGenerator, TrafficSpec

__all__ = ["default_switch", "initial_profiles", "run", "serve"]

log = logging.getLogger("kazoo_trio")


def default_switch(settings: Settings, node_name: str) -> Switch:
    """The embedded simulated switch."""
    from kazoo_trio.switch.sim import SimSwitch

    switch: Switch = SimSwitch()
    return switch


async def serve(
    settings: Settings,
    *,
    switch: Switch | None = None,
    traffic: TrafficSpec | None = None,
    task_status: trio.TaskStatus[ModKazooServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the node and the server until cancelled; reports the server when it accepts
    connections.

    With ``traffic`` (and the simulated switch) inbound calls are generated once the
    server accepts connections.  Cancellation hangs up every call with
    ``SYSTEM_SHUTDOWN`` before the node closes.

    Raises :class:`~kazoo_trio.kazoo.config.SettingsError` for an unusable cookie
    setting and ``OSError`` when the listener or EPMD cannot be set up.
    """
    node_name = settings.node_name()
    cookie = settings.resolve_cookie()
    if switch is None:
        switch = default_switch(settings, node_name)
    for name, value in settings.variables:
        switch.set_global(name, value)
    profiles = initial_profiles(settings, switch)
    async with (
        Node(
            node_name,
            cookie=cookie,
            listen_host=settings.listen_ip,
            listen_port=settings.listen_port,
            epmd=settings.epmd,
            epmd_port=settings.epmd_port,
            long_names=is_long_name(node_name),
        ) as node,
        trio.open_nursery() as nursery,
    ):
        await nursery.start(switch.run)
        server = ModKazooServer(node, switch, settings, initial_profiles=profiles)
        await nursery.start(server.run)
        log.info(
            "kazoo-trio: node %s accepting connections on %s:%d",
            node.name.name,
            settings.listen_ip,
            node.port,
        )
        if traffic is not None:
            from kazoo_trio.switch.sim import SimSwitch

            if not isinstance(switch, SimSwitch):
                raise SettingsError("simulated traffic needs the simulated switch")
            await nursery.start(TrafficGenerator(switch, traffic).run)
            log.info(
                "kazoo-trio: simulated traffic: %g call(s)/s held %g s, to %s in %s",
                traffic.rate, traffic.hold, traffic.destination, traffic.context,
            )  # fmt: skip
        task_status.started(server)


def initial_profiles(settings: Settings, switch: Switch) -> ProfileSet | None:
    """The profiles of a kazoo.conf.xml settings file over the defaults; None without.

    Raises :class:`SettingsError` when they do not compile.
    """
    if settings.profiles_xml is None:
        return None
    try:
        return ProfileSet.from_xml(
            settings.profiles_xml,
            base=load_default_profiles(switch),
            global_lookup=switch.get_global,
        )
    except ProfileError as exc:
        raise SettingsError(f"profiles in the settings file: {exc}") from exc


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
