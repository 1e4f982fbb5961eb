"""The simulated core: the parts composed (event bus, API registries, modules, XML
bindings), the global variables, the channel table, and the backend's own tasks.

:class:`SimCore` implements :class:`~kazoo_trio.switch.protocol.SwitchBackend` and
the call layer's :class:`~kazoo_trio.switch.sim.channel.ChannelHost`; it has no
commands or applications of its own (:class:`~kazoo_trio.switch.sim.simswitch.SimSwitch`
loads FreeSWITCH's).
Layer: above the parts (:mod:`.bus`, :mod:`.apis`, :mod:`.modules`, :mod:`.xmlbind`,
:mod:`.variables`) and the call layer's :mod:`.session`.
"""

from __future__ import annotations

import functools
import logging
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import NoReturn

import attrs
import trio

from kazoo_trio.switch.apis import ApiCommands, JsonApiCommands
from kazoo_trio.switch.bus import EventBus
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.identity import discover_identity
from kazoo_trio.switch.protocol import (
    ApiHandler,
    ApiOutput,
    ApiResult,
    EventListener,
    FetchHandler,
    JsonApiHandler,
    SwitchIdentity,
)
from kazoo_trio.switch.sim.channel import (
    Action,
    Application,
    Channel,
    Endpoint,
    SwitchNotRunning,
)
from kazoo_trio.switch.sim.channels import ChannelRegistry
from kazoo_trio.switch.sim.clock import Clock, SimTimings, SystemClock
from kazoo_trio.switch.sim.modules import ModuleTable
from kazoo_trio.switch.sim.session import run_session
from kazoo_trio.switch.sim.status import uptime_text
from kazoo_trio.switch.sim.variables import GlobalVariables
from kazoo_trio.switch.xmlbind import XmlBindings

__all__ = ["SimCore", "SyncApiFunction"]

log = logging.getLogger(__name__)

# FreeSWITCH fires HEARTBEAT every event-heartbeat-interval seconds (default 20).
HEARTBEAT_INTERVAL = 20.0

# runtime.sps_total and the default max-sessions of switch.conf.
DEFAULT_SPS = 30
DEFAULT_SESSION_LIMIT = 1000

SyncApiFunction = Callable[["SimCore", str], ApiOutput]
"""An API command that never waits, given the core it runs on."""

_HEARTBEAT_ORIGIN = EventOrigin("switch_core.c", "send_heartbeat", 95)


# The bus stamps every event with the identity and the clock: it must see the ones the
# core has now.
def _identity_changed(core: SimCore, attribute: object, identity: SwitchIdentity) -> SwitchIdentity:
    core.bus.identity = identity
    return identity


def _clock_changed(core: SimCore, attribute: object, clock: Clock) -> Clock:
    core.bus.clock = clock
    return clock


@attrs.define(eq=False)
class SimCore:
    """The simulated switch's core, without commands.

    Construct with no arguments for a core named after this host; pass an identity
    (see :func:`~kazoo_trio.switch.identity.discover_identity`) or a clock to
    control what it reports.  :meth:`run` must be running for the heartbeat and for
    calls; the rest works without it.  Not thread-safe: use it from the trio thread
    that owns it.
    """

    identity: SwitchIdentity = attrs.field(factory=discover_identity, on_setattr=_identity_changed)
    clock: Clock = attrs.field(factory=SystemClock, on_setattr=_clock_changed)
    heartbeat_interval: float = HEARTBEAT_INTERVAL
    base_dir: str = "/usr/local/freeswitch"
    channels: ChannelRegistry = attrs.field(factory=ChannelRegistry)
    session_limit: int = DEFAULT_SESSION_LIMIT
    sps: int = DEFAULT_SPS
    timings: SimTimings = attrs.field(factory=SimTimings)

    bus: EventBus = attrs.field(init=False, repr=False)
    variables: GlobalVariables = attrs.field(init=False, factory=GlobalVariables, repr=False)
    apis: ApiCommands = attrs.field(init=False, repr=False)
    json_apis: JsonApiCommands = attrs.field(init=False, factory=JsonApiCommands, repr=False)
    modules: ModuleTable = attrs.field(init=False, factory=ModuleTable, repr=False)
    xml: XmlBindings = attrs.field(init=False, factory=XmlBindings, repr=False)
    applications: dict[str, Application] = attrs.field(init=False, factory=dict, repr=False)
    # Endpoint name -> its outgoing_channel (mod_sofia's, mod_kazoo's ``kz``...).
    endpoint_routines: dict[str, Endpoint] = attrs.field(init=False, factory=dict, repr=False)
    # switch_core_add_state_handler's on_init handlers (mod_kazoo's tweaks).
    init_handlers: list[Callable[[Channel], None]] = attrs.field(
        init=False, factory=list, repr=False
    )
    # Endpoint name -> the module registering it (what ``show endpoint`` lists while
    # that module is loaded).
    endpoints: dict[str, str] = attrs.field(init=False, factory=dict, repr=False)
    # Chat interface name -> its module (``show chat``).
    chat_interfaces: dict[str, str] = attrs.field(init=False, factory=dict, repr=False)
    shutdown_hangups: int = attrs.field(init=False, default=0)
    _started_us: int = attrs.field(init=False, default=0)
    _nursery: trio.Nursery | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        self.bus = EventBus(self.identity, self.clock)
        self.apis = ApiCommands(self.bus, self.variables.get)
        self._started_us = self.clock.monotonic_us()
        self._preset_globals()

    def _preset_globals(self) -> None:
        # The variables switch_core_init sets, in its order.
        base = self.base_dir
        ident = self.identity
        preset = [
            ("hostname", ident.hostname),
            ("local_ip_v4", ident.ipv4),
            ("local_ip_v6", ident.ipv6),
            ("base_dir", base),
            ("recordings_dir", f"{base}/recordings"),
            ("sound_prefix", f"{base}/sounds"),
            ("sounds_dir", f"{base}/sounds"),
            ("conf_dir", f"{base}/conf"),
            ("log_dir", f"{base}/log"),
            ("run_dir", f"{base}/run"),
            ("db_dir", f"{base}/db"),
            ("mod_dir", f"{base}/mod"),
            ("htdocs_dir", f"{base}/htdocs"),
            ("script_dir", f"{base}/scripts"),
            ("temp_dir", "/tmp"),
            ("grammar_dir", f"{base}/grammar"),
            ("fonts_dir", f"{base}/fonts"),
            ("images_dir", f"{base}/images"),
            ("certs_dir", f"{base}/certs"),
            ("storage_dir", f"{base}/storage"),
            ("cache_dir", f"{base}/cache"),
            ("data_dir", base),
            ("localstate_dir", base),
            ("core_uuid", ident.core_uuid),
        ]
        for name, value in preset:
            self.variables.set(name, value)

    def uptime_us(self) -> int:
        """``switch_core_uptime()``: microseconds since this core was created."""
        return max(0, self.clock.monotonic_us() - self._started_us)

    # -- events ---------------------------------------------------------------------

    def new_event(
        self,
        name: str,
        *,
        subclass: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: str | None = None,
        origin: EventOrigin | None = None,
    ) -> Event:
        """See :meth:`Switch.new_event`.  ``origin`` defaults to the calling Python code."""
        return self.bus.new_event(
            name,
            subclass=subclass,
            headers=headers,
            body=body,
            origin=EventOrigin.caller() if origin is None else origin,
        )

    def fire(self, event: Event) -> None:
        self.bus.fire(event)

    def event_wanted(
        self,
        name: str,
        subclass: str | None = None,
        known: Mapping[str, str | None] | None = None,
    ) -> bool:
        return self.bus.wanted(name, subclass, known)

    def skip_event(self) -> None:
        self.bus.skip()

    def add_listener(self, listener: EventListener) -> Callable[[], None]:
        return self.bus.add_listener(listener)

    # -- variables and expansion ----------------------------------------------------

    def get_global(self, name: str) -> str | None:
        return self.variables.get(name)

    def set_global(self, name: str, value: str | None) -> None:
        """``switch_core_set_variable``: ``None``/``""`` deletes; ``${`` is stored as ``%{``."""
        self.variables.set(name, value)

    def expand(self, template: str, event: Event | None = None) -> str:
        """See :meth:`.ApiCommands.expand`."""
        return self.apis.expand(template, event)

    def api_function(self, name: str, args: str, *, fire_event: bool = True) -> str | None:
        """See :meth:`.ApiCommands.api_function`; commands registered with
        :meth:`register_api` cannot run here (they may wait) and give ``None``."""
        return self.apis.api_function(name, args, fire_event=fire_event)

    # -- API commands ---------------------------------------------------------------

    def register_api(
        self,
        name: str,
        handler: ApiHandler,
        description: str = "",
        *,
        syntax: str = "",
        module: str = "",
    ) -> None:
        self.apis.register(name, handler, description, syntax=syntax, module=module)
        if module:
            self.modules.add(module)

    def register_sync_api(
        self,
        name: str,
        function: SyncApiFunction,
        description: str = "",
        *,
        syntax: str = "",
        module: str = "mod_commands",
    ) -> None:
        """Register a command that never waits, so expansions can call it too."""
        bound = functools.partial(function, self)
        self.apis.register_sync(name, bound, description, syntax=syntax, module=module)
        if module:
            self.modules.add(module)

    async def api(self, command: str, args: str, *, expand: bool = True) -> ApiResult:
        return await self.apis.api(command, args, expand=expand)

    def api_never_waits(self, command: str) -> bool:
        return self.apis.never_waits(command)

    def register_json_api(self, name: str, handler: JsonApiHandler, description: str = "") -> None:
        self.json_apis.register(name, handler, description)

    async def json_api(self, request: dict[str, object]) -> tuple[bool, dict[str, object]]:
        return await self.json_apis.json_api(request)

    async def json_call(self, command: str, data: object = None) -> tuple[bool, object]:
        """Run JSON API ``command`` directly (``kz_json_api``): (success, response)."""
        return await self.json_apis.json_call(command, data)

    # -- modules --------------------------------------------------------------------

    def add_module(self, name: str, *, loaded: bool = True) -> None:
        """Declare a module (``mod_sofia``...) as loaded or only available."""
        self.modules.add(name, loaded=loaded)

    def module_exists(self, name: str) -> bool:
        return self.modules.exists(name)

    # -- XML fetch bindings ---------------------------------------------------------

    def bind_xml(self, sections: Iterable[str], handler: FetchHandler) -> Callable[[], None]:
        return self.xml.bind(sections, handler)

    async def xml_lookup(
        self,
        section: str,
        tag_name: str,
        key_name: str,
        key_value: str,
        params: Iterable[tuple[str, str]] = (),
    ) -> str | None:
        """See :meth:`Switch.xml_lookup`.  An :class:`Event` passed as ``params`` is
        handed to the bindings as it is; other pairs become a ``REQUEST_PARAMS`` event."""
        if not isinstance(params, Event):
            params = self.new_event("REQUEST_PARAMS", headers=params)
        return await self.xml.lookup(section, tag_name, key_name, key_value, params)

    async def xml_lookup_document(
        self, section: str, tag_name: str, key_name: str, key_value: str, params: Event
    ) -> tuple[str, ET.Element] | None:
        """:meth:`xml_lookup` with the answer's root element (the caller's own)."""
        return await self.xml.lookup_document(section, tag_name, key_name, key_value, params)

    # -- channels -------------------------------------------------------------------

    def channel_exists(self, uuid: str) -> bool:
        return uuid in self.channels

    def channel_headers(self, uuid: str) -> list[tuple[str, str]] | None:
        channel = self.channels.get(uuid)
        return channel.event_headers() if channel is not None else None

    async def queue_private_event(self, uuid: str, event: Event) -> bool:
        channel = self.channels.get(uuid)
        if channel is None:
            return False
        await channel.queue_private_event(event)
        return True

    def private_queue_has_room(self, uuid: str) -> bool:
        channel = self.channels.get(uuid)
        if channel is None:
            return True
        if not isinstance(channel, Channel):
            return False  # a channel of some other kind may wait
        if not channel.up:
            return True  # its queue_private_event drops the event at once
        return channel.private_receive.has_room()

    def queue_private_event_nowait(self, uuid: str, event: Event) -> bool | None:
        channel = self.channels.get(uuid)
        if channel is None:
            return False
        if not isinstance(channel, Channel):
            return None
        if not channel.up:
            return True  # dropped, as queue_private_event does
        return True if channel.queue_nowait(event) else None

    def application(self, name: str) -> Application | None:
        return self.applications.get(name)

    def endpoint(self, tech: str) -> Endpoint | None:
        return self.endpoint_routines.get(tech.lower())

    def hangup_all(self, cause: str, variable: str = "", value: str = "") -> int:
        """``hupall``: hang up every channel (with ``variable`` = ``value`` if given)."""
        count = 0
        for uuid in self.channels.uuids():
            channel = self.channels.get(uuid)
            if not isinstance(channel, Channel):
                continue
            if variable and channel.get_variable(variable) != value:
                continue
            if channel.hangup(cause):
                count += 1
        return count

    # -- the backend's own tasks ----------------------------------------------------

    def heartbeat_event(self) -> Event:
        """A ``HEARTBEAT`` event with FreeSWITCH's headers and the current figures."""
        uptime = self.uptime_us()
        return self.new_event(
            "HEARTBEAT",
            headers=[
                ("Event-Info", "System Ready"),
                ("Up-Time", uptime_text(uptime)),
                ("FreeSWITCH-Version", self.identity.version_full),
                ("Uptime-msec", str(uptime // 1000)),
                ("Session-Count", str(len(self.channels))),
                ("Max-Sessions", str(self.session_limit)),
                ("Session-Per-Sec", str(self.sps)),
                ("Session-Per-Sec-Last", "0"),
                ("Session-Per-Sec-Max", "0"),
                ("Session-Per-Sec-FiveMin", "0"),
                ("Session-Since-Startup", str(self.channels.created_total)),
                ("Session-Peak-Max", str(self.channels.peak)),
                ("Session-Peak-FiveMin", "0"),
                ("Idle-CPU", "100.000000"),
            ],
            origin=_HEARTBEAT_ORIGIN,
        )

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Fire ``HEARTBEAT`` at start and every :attr:`heartbeat_interval` seconds until
        cancelled (FreeSWITCH's core scheduler does the same), and host every channel's
        session.  Cancellation hangs up every channel with ``SYSTEM_SHUTDOWN`` (each
        fires its closing events) before this returns."""
        self.shutdown_hangups = 0
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                try:
                    task_status.started()
                    while True:
                        self.fire(self.heartbeat_event())
                        await trio.sleep(self.heartbeat_interval)
                finally:
                    self._nursery = None
                    self.shutdown_hangups += self.hangup_all("SYSTEM_SHUTDOWN")
        finally:
            # After the nursery: every session has ended, whichever saw the
            # cancellation first (it or this task).
            if self.shutdown_hangups:
                log.info(
                    "switch stopped: %d channel(s) hung up (SYSTEM_SHUTDOWN)",
                    self.shutdown_hangups,
                )

    async def start_channel(self, channel: Channel, action: Action) -> None:
        """Start ``channel``'s session running ``action`` in the switch's nursery;
        returns once the channel exists (``CHANNEL_CREATE`` fired).

        :class:`SwitchNotRunning` when :meth:`run` is not running (no calls without a
        switch)."""
        if self._nursery is None:
            raise SwitchNotRunning("the simulated switch is not running")
        await self._nursery.start(run_session, channel, action)

    def start_task(self, function: Callable[..., Awaitable[object]], *args: object) -> None:
        """Run ``function(*args)`` in the switch's nursery (a call's timer); cancelled
        when the switch stops.  :class:`SwitchNotRunning` when :meth:`run` is not running."""
        if self._nursery is None:
            raise SwitchNotRunning("the simulated switch is not running")
        self._nursery.start_soon(function, *args)
