"""The ``kazoo-trio`` program: the node and its switch in one ``trio.run``.

This is where the switch is chosen: :func:`serve` runs
:func:`kazoo_trio.kazoo.serve` with the switch the settings name (the simulated
one by default, or a real FreeSWITCH over its event socket, see
:func:`switch_from_settings`) unless given another, and, with ``traffic``, the
simulated inbound calls.  :func:`run` is
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

__all__ = ["run", "serve", "switch_from_settings"]

log = logging.getLogger("kazoo_trio")


def switch_from_settings(settings: Settings) -> SwitchBackend:
    """The switch ``settings.switch`` names, configured from the settings.

    Raises :class:`~kazoo_trio.kazoo.config.SettingsError` for an unusable address.
    """
    if settings.switch == "sim":
        return SimSwitch()
    from kazoo_trio.errors import ConfigurationError
    from kazoo_trio.switch.freeswitch import FreeSwitchBackend, FreeSwitchSettings, host_port

    try:
        esl_host, esl_port = host_port(settings.freeswitch_esl, 8021)
        curl_host, curl_port = host_port(settings.xml_curl_listen, 8090)
    except ConfigurationError as exc:
        raise SettingsError(str(exc)) from exc
    return FreeSwitchBackend(
        FreeSwitchSettings(
            esl_host=esl_host,
            esl_port=esl_port,
            esl_password=settings.freeswitch_esl_password,
            xml_curl_host=curl_host,
            xml_curl_port=curl_port,
            xml_curl_path=settings.xml_curl_path,
            connect_timeout=settings.freeswitch_connect_timeout,
            reply_timeout=settings.freeswitch_reply_timeout,
            lookup_timeout=settings.xml_curl_lookup_timeout,
        )
    )


async def serve(
    settings: Settings,
    *,
    switch: SwitchBackend | None = None,
    traffic: TrafficSpec | None = None,
    task_status: trio.TaskStatus[ModKazooServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the node and the server until cancelled; reports the server when it accepts
    connections.

    Without ``switch``, the one the settings name (:func:`switch_from_settings`).
    With ``traffic`` (which needs the simulated switch) inbound calls are generated
    once the server accepts connections.  Cancellation hangs up every call with ``SYSTEM_SHUTDOWN``
    before the node closes.

    Raises :class:`~kazoo_trio.kazoo.config.SettingsError` for unusable settings
    and ``OSError`` when the listener or EPMD cannot be set up.
    """
    if traffic is not None and switch is None and settings.switch != "sim":
        raise SettingsError("simulated traffic needs the simulated switch (switch = sim)")
    if switch is None:
        switch = switch_from_settings(settings)
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
