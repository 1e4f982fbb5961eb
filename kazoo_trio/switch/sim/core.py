"""The simulated switch core: event bus, global variables, API and JSON API registries,
XML fetch bindings, and the backend's own tasks.

It implements :class:`kazoo_trio.switch.protocol.Switch` with FreeSWITCH's behaviour
where Kazoo can see it.  Commands live in :mod:`.commands`, channels in
:mod:`.channels`; this module only holds the machinery they share.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import NoReturn

import attrs
import trio

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.expand import expand_variables
from kazoo_trio.switch.names import core_event_name
from kazoo_trio.switch.protocol import (
    ApiHandler,
    ApiOutput,
    ApiResult,
    EventListener,
    FetchHandler,
    JsonApiHandler,
    SwitchIdentity,
    XmlLookup,
)
from kazoo_trio.switch.sections import parse_sections
from kazoo_trio.switch.sim.channels import ChannelRegistry
from kazoo_trio.switch.sim.clock import Clock, SystemClock
from kazoo_trio.switch.sim.events import (
    UNIQUE_HEADER_EVENTS,
    EventOrigin,
    add_headers,
    event_index_lookup,
    event_lookup,
    standard_headers,
)
from kazoo_trio.switch.sim.identity import discover_identity
from kazoo_trio.switch.sim.xmltext import XmlError, is_not_found, parse_document

__all__ = ["ApiEntry", "SimSwitch", "SimTimings", "SyncApiFunction"]

log = logging.getLogger(__name__)

# FreeSWITCH fires HEARTBEAT every event-heartbeat-interval seconds (default 20).
HEARTBEAT_INTERVAL = 20.0

# runtime.sps_total and the default max-sessions of switch.conf.
DEFAULT_SPS = 30
DEFAULT_SESSION_LIMIT = 1000

# An API function called from inside an expansion may expand again (eval, expand);
# this bounds the nesting so a self-referencing template cannot recurse without end.
_MAX_FUNCTION_NESTING = 16

# switch_strip_whitespace removes CR, LF, tab, space and vertical tab.
_WHITESPACE = "\r\n\t \v"

SyncApiFunction = Callable[["SimSwitch", str], ApiOutput]


# Where FreeSWITCH creates the events the core makes on mod_kazoo's behalf.
_KAZOO_EXPAND_ORIGIN = EventOrigin("kazoo_node.c", "kazoo_api_execute", 218)
_KAZOO_API_ORIGIN = EventOrigin("kazoo_node.c", "kazoo_api_execute", 226)
_API_EXECUTE_ORIGIN = EventOrigin("switch_loadable_module.c", "switch_api_execute", 3140)
_HEARTBEAT_ORIGIN = EventOrigin("switch_core.c", "send_heartbeat", 95)


@attrs.frozen
class SimTimings:
    """How long simulated things take, in seconds (short values make quick tests).

    ``ring_delay``: a ``user/`` leg rings this long before answering;
    ``answer_delay``: a ``null/`` leg answers after this; ``playback``: a file plays
    this long (``silence_stream://N`` plays N ms, the channel variable
    ``sim_playback_ms`` overrides); ``record``: the longest a ``record`` runs.
    """

    ring_delay: float = 2.0
    answer_delay: float = 0.0
    playback: float = 1.0
    record: float = 5.0


@attrs.frozen
class ApiEntry:
    """A registered API command.  ``sync`` is set for commands that can also run inside
    a variable expansion (``${name(args)}``), which cannot wait."""

    name: str
    handler: ApiHandler
    description: str = ""
    syntax: str = ""
    module: str = ""
    sync: SyncApiFunction | None = None


@attrs.frozen
class _JsonEntry:
    name: str
    handler: JsonApiHandler
    description: str


@attrs.frozen(eq=False)
class _Subscription:
    listener: EventListener


@attrs.frozen(eq=False)
class _Binding:
    sections: frozenset[str]
    handler: FetchHandler


def _sanitize_global(value: str) -> str:
    """``switch_string_var_check(v, SWITCH_TRUE)``: a ``$`` opening ``${`` (backslashes
    may sit between) becomes ``%``, so a stored global can never expand further."""
    chars = list(value)
    dollar: int | None = None
    for i, ch in enumerate(chars):
        if ch == "$":
            dollar = i
        elif dollar is not None:
            if ch == "{":
                chars[dollar] = "%"
                dollar = None
            elif ch != "\\":
                dollar = None
    return "".join(chars)


@attrs.define(eq=False)
class SimSwitch:
    """The embedded simulated switch.

    Construct with no arguments for a switch named after this host; pass an identity
    (see :func:`~kazoo_trio.switch.sim.identity.discover_identity`) or a clock to
    control what it reports.  :meth:`run` must be running for the heartbeat; the rest
    works without it.  Not thread-safe: use it from the trio thread that owns it.
    """

    identity: SwitchIdentity = attrs.field(factory=discover_identity)
    clock: Clock = attrs.field(factory=SystemClock)
    heartbeat_interval: float = HEARTBEAT_INTERVAL
    base_dir: str = "/usr/local/freeswitch"
    channels: ChannelRegistry = attrs.field(factory=ChannelRegistry)
    session_limit: int = DEFAULT_SESSION_LIMIT
    sps: int = DEFAULT_SPS
    timings: SimTimings = attrs.field(factory=SimTimings)

    _sequence: itertools.count[int] = attrs.field(init=False, factory=lambda: itertools.count(1))
    _started_us: int = attrs.field(init=False, default=0)
    _listeners: list[_Subscription] = attrs.field(init=False, factory=list)
    _globals: dict[str, tuple[str, str]] = attrs.field(init=False, factory=dict)
    _apis: dict[str, ApiEntry] = attrs.field(init=False, factory=dict)
    _json_apis: dict[str, _JsonEntry] = attrs.field(init=False, factory=dict)
    _bindings: list[_Binding] = attrs.field(init=False, factory=list)
    _modules: dict[str, bool] = attrs.field(init=False, factory=dict)
    _function_nesting: int = attrs.field(init=False, default=0)
    _nursery: trio.Nursery | None = attrs.field(init=False, default=None)
    shutdown_hangups: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        self._started_us = self.clock.monotonic_us()
        self._preset_globals()
        # Imported here: the command modules import this one for their types.
        from kazoo_trio.switch.sim.callcommands import register_call_commands
        from kazoo_trio.switch.sim.commands import register_core_commands
        from kazoo_trio.switch.sim.jsonapi import register_core_json_apis

        register_core_commands(self)
        register_call_commands(self)
        register_core_json_apis(self)

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
            self.set_global(name, value)

    # -- time -----------------------------------------------------------------------

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
        canonical = core_event_name(name)
        if canonical is None:
            raise ValueError(f"unknown core event name {name!r}")
        if subclass is not None and canonical not in ("CUSTOM", "CLONE"):
            raise ValueError(f"a subclass needs a CUSTOM event, not {canonical}")
        if origin is None:
            origin = EventOrigin.caller()
        standard = standard_headers(
            self.identity, canonical, subclass, next(self._sequence), self.clock.wall_us(), origin
        )
        built: list[tuple[str, str]] = []
        add_headers(built, standard, unique=False)
        body_header = add_headers(built, headers, unique=canonical in UNIQUE_HEADER_EVENTS)
        if body is None:
            body = body_header
        return Event(canonical, built, body, subclass)

    def add_headers(self, event: Event, headers: Iterable[tuple[str, str]]) -> Event:
        """``event`` with ``headers`` added by FreeSWITCH's rules (see :meth:`new_event`)."""
        built = list(event.headers)
        body = add_headers(built, headers, unique=event.name in UNIQUE_HEADER_EVENTS)
        return attrs.evolve(event, headers=built, body=event.body if body is None else body)

    def fire(self, event: Event) -> None:
        for subscription in list(self._listeners):
            try:
                subscription.listener(event)
            except Exception:
                log.exception("event listener %r failed on %s", subscription.listener, event.name)

    def add_listener(self, listener: EventListener) -> Callable[[], None]:
        # A wrapper per subscription: the same callable may be added twice, and each
        # remove function must take away its own subscription only.
        subscription = _Subscription(listener)
        self._listeners.append(subscription)

        def remove() -> None:
            if subscription in self._listeners:
                self._listeners.remove(subscription)

        return remove

    # -- variables and expansion ----------------------------------------------------

    def get_global(self, name: str) -> str | None:
        found = self._globals.get(name.lower())
        return found[1] if found else None

    def set_global(self, name: str, value: str | None) -> None:
        """``switch_core_set_variable``: ``None``/``""`` deletes; ``${`` is stored as ``%{``."""
        key = name.lower()
        self._globals.pop(key, None)
        if value:
            self._globals[key] = (name, _sanitize_global(value))

    def set_global_conditional(self, name: str, value: str | None, expected: str | None) -> bool:
        """``switch_core_set_var_conditional``: set only if the current value is
        ``expected`` (or there is none and ``expected`` is empty)."""
        current = self.get_global(name)
        if current is not None:
            if expected is None or current != expected:
                return False
        elif expected:
            return False
        self.set_global(name, value)
        return True

    def globals(self) -> list[tuple[str, str]]:
        """All global variables in FreeSWITCH's order (oldest first)."""
        return list(self._globals.values())

    def expand(self, template: str, event: Event | None = None) -> str:
        return expand_variables(
            template,
            lookup=event_lookup(event),
            global_lookup=self.get_global,
            call=self.api_function,
            lookup_index=event_index_lookup(event),
        )

    def api_function(self, name: str, args: str, *, fire_event: bool = True) -> str | None:
        """See :meth:`Switch.api_function`.  Commands registered with
        :meth:`register_api` only (async) cannot run here and give ``None``."""
        command = name.strip(_WHITESPACE)
        argument = args.strip(_WHITESPACE)
        event: Event | None = None
        if fire_event:
            headers = [("API-Command", command), ("API-Command-Argument", argument)]
            event = self.new_event("API", headers=headers, origin=_API_EXECUTE_ORIGIN)
        entry = self._apis.get(command)
        output: ApiOutput | None = None
        if entry is None or entry.sync is None:
            if entry is not None:
                log.warning("API %s cannot run inside a variable expansion", command)
        elif self._function_nesting >= _MAX_FUNCTION_NESTING:
            log.warning("API %s nested too deeply inside expansions", command)
        else:
            self._function_nesting += 1
            try:
                output = entry.sync(self, argument)
            except Exception:
                log.exception("API %s failed inside an expansion", command)
            finally:
                self._function_nesting -= 1
        if event is not None:
            self.fire(event)
        if output is None or not output.ok:
            return None
        return output.text

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
        self._apis[name] = ApiEntry(name, handler, description, syntax, module)
        if module:
            self.add_module(module)

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

        async def handler(args: str) -> ApiOutput:
            return function(self, args)

        self._apis[name] = ApiEntry(name, handler, description, syntax, module, function)
        if module:
            self.add_module(module)

    def unregister_api(self, name: str) -> None:
        self._apis.pop(name, None)

    def api_entries(self) -> list[ApiEntry]:
        return list(self._apis.values())

    async def api(self, command: str, args: str, *, expand: bool = True) -> ApiResult:
        if expand:
            general = self.new_event("GENERAL", origin=_KAZOO_EXPAND_ORIGIN)
            argument = self.expand(args, general)
        else:
            argument = args
        event = self.new_event(
            "API",
            headers=[
                ("API-Command", command),
                ("API-Command-Argument", argument),
                ("API-Command-Argument-Expanded", argument),
            ],
            origin=_KAZOO_API_ORIGIN,
        )
        entry = self._apis.get(command)
        if entry is None:
            event = self.add_headers(
                event, [("API-Result", "error"), ("API-Error", "invalid command")]
            )
            self.fire(event)
            return ApiResult(False, "", event, found=False)
        try:
            output = await entry.handler(argument)
        except Exception as exc:
            log.exception("API %s %r failed", command, argument)
            output = ApiOutput(f"-ERR {type(exc).__name__}: {exc}\n", ok=False)
        if output.ok:
            extra = [("API-Result", "success"), ("API-Output", output.text)]
        else:
            extra = [("API-Result", "error"), ("API-Error", output.text)]
        event = self.add_headers(event, extra)
        self.fire(event)
        return ApiResult(output.ok, output.text, event)

    # -- JSON API -------------------------------------------------------------------

    def register_json_api(self, name: str, handler: JsonApiHandler, description: str = "") -> None:
        self._json_apis[name] = _JsonEntry(name, handler, description)

    async def json_api(self, request: dict[str, object]) -> tuple[bool, dict[str, object]]:
        reply = dict(request)
        command = reply.get("command")
        entry = self._json_apis.get(command) if isinstance(command, str) else None
        if entry is None or "data" not in reply:
            reply["status"] = "error"
            reply["message"] = "Invalid request or non-existant command"
            reply["response"] = None
            return False, reply
        try:
            ok, response = await entry.handler(reply)
        except Exception:
            log.exception("JSON API %s failed", command)
            ok, response = False, None
        if ok:
            reply["status"] = "success"
        else:
            reply["status"] = "error"
            reply["message"] = "The command returned an error"
        reply["response"] = response
        return ok, reply

    async def json_call(self, command: str, data: object = None) -> tuple[bool, object]:
        """Run JSON API ``command`` directly (``kz_json_api``): (success, response)."""
        entry = self._json_apis.get(command)
        if entry is None:
            return False, None
        request: dict[str, object] = {"command": command, "data": {} if data is None else data}
        return await entry.handler(request)

    # -- modules --------------------------------------------------------------------

    def add_module(self, name: str, *, loaded: bool = True) -> None:
        """Declare a module (``mod_commands``, ``mod_kazoo``...) as loaded or available."""
        self._modules[name] = loaded or self._modules.get(name, False)

    def unload_module(self, name: str) -> None:
        """Mark a loaded module as available only (``unload``)."""
        if name in self._modules:
            self._modules[name] = False

    def loaded_modules(self) -> list[str]:
        return [name for name, loaded in self._modules.items() if loaded]

    def available_modules(self) -> list[str]:
        return list(self._modules)

    def module_exists(self, name: str) -> bool:
        return self._modules.get(name, False)

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

    # -- XML fetch bindings ---------------------------------------------------------

    def bind_xml(self, sections: Iterable[str], handler: FetchHandler) -> Callable[[], None]:
        wanted: set[str] = set()
        for name in sections:
            parsed = parse_sections(name)
            if not parsed:
                raise ValueError(f"unknown XML section {name!r}")
            wanted |= parsed
        binding = _Binding(frozenset(wanted), handler)
        self._bindings.append(binding)

        def unbind() -> None:
            if binding in self._bindings:
                self._bindings.remove(binding)

        return unbind

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
        if isinstance(params, Event):
            params_event = params
        else:
            params_event = self.new_event("REQUEST_PARAMS", headers=params)
        lookup = XmlLookup(section, tag_name, key_name, key_value, params_event)
        wanted = parse_sections(section)
        for binding in list(self._bindings):
            if binding not in self._bindings:
                continue  # unbound while an earlier binding was answering
            if binding.sections and not (binding.sections & wanted):
                continue
            try:
                text = await binding.handler(lookup)
            except Exception:
                log.exception("XML binding %r failed for %s", binding.handler, section)
                continue
            if text is None:
                continue
            try:
                root = parse_document(text)
            except XmlError as exc:
                log.error("XML binding %r answered unparsable XML: %s", binding.handler, exc)
                continue
            if is_not_found(root):
                continue
            return text
        return None

    # -- the backend's own tasks ----------------------------------------------------

    def heartbeat_event(self) -> Event:
        """A ``HEARTBEAT`` event with FreeSWITCH's headers and the current figures."""
        from kazoo_trio.switch.sim.commands import uptime_text

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

    async def start_channel(self, channel: object, action: object) -> None:
        """Start ``channel``'s session running ``action`` in the switch's nursery;
        returns once the channel exists (``CHANNEL_CREATE`` fired).

        ``RuntimeError`` when :meth:`run` is not running (no calls without a switch)."""
        from kazoo_trio.switch.sim.session import run_session

        if self._nursery is None:
            raise RuntimeError("the simulated switch is not running")
        await self._nursery.start(run_session, channel, action)

    def start_task(self, function: Callable[..., Awaitable[object]], *args: object) -> None:
        """Run ``function(*args)`` in the switch's nursery (a call's timer); cancelled
        when the switch stops.  ``RuntimeError`` when :meth:`run` is not running."""
        if self._nursery is None:
            raise RuntimeError("the simulated switch is not running")
        self._nursery.start_soon(function, *args)

    def hangup_all(self, cause: str, variable: str = "", value: str = "") -> int:
        """``hupall``: hang up every channel (with ``variable`` = ``value`` if given)."""
        from kazoo_trio.switch.sim.channel import Channel

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
