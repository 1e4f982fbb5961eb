"""One Erlang node running the mod_kazoo server over a switch: the embedding entry point.

:func:`serve` is what a program embedding kazoo_trio runs (in its own
nursery), with the switch backend it chose
(:class:`~kazoo_trio.switch.protocol.SwitchBackend`); the
``kazoo-trio`` command (:mod:`kazoo_trio.app`) runs it with the simulated one.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack

import trio

from kazoo_trio.erlang.admission import AdmissionSettings
from kazoo_trio.erlang.names import is_long_name
from kazoo_trio.erlang.node import Node
from kazoo_trio.kazoo.config import Settings, SettingsError
from kazoo_trio.kazoo.fetch.kazoo_conf import load_default_profiles
from kazoo_trio.kazoo.profiles import ProfileError, ProfileSet
from kazoo_trio.kazoo.server import ModKazooServer
from kazoo_trio.switch.kz.tweaks import TweakConfigurable
from kazoo_trio.switch.protocol import Switch, SwitchBackend

__all__ = ["initial_profiles", "serve"]

log = logging.getLogger("kazoo_trio")


async def serve(
    settings: Settings,
    switch: SwitchBackend,
    *,
    task_status: trio.TaskStatus[ModKazooServer] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the node, ``switch`` and the server until cancelled; reports the server
    once it accepts connections.

    The settings' global variables are set on ``switch`` first.  Cancellation
    stops the server, then the switch, then the node.

    Raises :class:`~kazoo_trio.kazoo.config.SettingsError` for unusable settings
    and ``OSError`` when the listener or EPMD cannot be set up.
    """
    node_name = settings.node_name()
    cookie = settings.resolve_cookie()
    for name, value in settings.variables:
        switch.set_global(name, value)
    if settings.kz_tweaks is not None and isinstance(switch, TweakConfigurable):
        switch.set_kz_tweaks(settings.kz_tweaks)
    profiles = initial_profiles(settings, switch)
    node = Node(
        node_name,
        cookie=cookie,
        listen_host=settings.listen_ip,
        listen_port=settings.listen_port,
        epmd=settings.epmd,
        epmd_port=settings.epmd_port,
        long_names=is_long_name(node_name),
        admission=AdmissionSettings(
            max_unauthenticated=settings.handshake_max_unauthenticated,
            max_per_host=settings.handshake_max_per_host,
        ),
    )
    async with AsyncExitStack() as stack:
        try:
            await stack.enter_async_context(node)
        except OSError as exc:
            # The only plain OSError of a node's start is its listener's (EPMD's
            # are EpmdError): say which settings to change, and what they were.
            raise OSError(
                exc.errno,
                f"cannot listen on {settings.listen_ip}:{settings.listen_port}"
                f" (settings listen-ip, listen-port): {exc.strerror or exc}",
            ) from exc
        nursery = await stack.enter_async_context(trio.open_nursery())
        # The switch first: the server binds its XML sections and listens to its events.
        await nursery.start(switch.run)
        server = ModKazooServer(node, switch, settings, initial_profiles=profiles)
        await nursery.start(server.run)
        log.info(
            "kazoo-trio: node %s accepting connections on %s:%d",
            node.name.name,
            settings.listen_ip,
            node.port,
        )
        task_status.started(server)


def initial_profiles(settings: Settings, switch: Switch) -> ProfileSet | None:
    """The profiles of a kazoo.conf.xml settings file over the defaults; None without.

    Raises :class:`~kazoo_trio.kazoo.config.SettingsError` when they do not compile.
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
