"""A switch's API and JSON API commands: their registries, running them as mod_kazoo's
requests do, and ``${name(args)}`` calls inside variable expansion.
Shared by every switch backend; above :mod:`.bus` (fires the ``API`` events)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import attrs

from kazoo_trio.switch.bus import EventBus, ReservedEvent
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.expand import expand_variables
from kazoo_trio.switch.headers import EventOrigin, event_index_lookup, event_lookup
from kazoo_trio.switch.protocol import ApiHandler, ApiOutput, ApiResult, JsonApiHandler

__all__ = ["ApiCommands", "ApiEntry", "JsonApiCommands", "SyncApi"]

log = logging.getLogger(__name__)

SyncApi = Callable[[str], ApiOutput]
"""An API command that never waits: the argument text in, the output out."""

# An API function called from inside an expansion may expand again (eval, expand);
# this bounds the nesting so a self-referencing template cannot recurse without end.
_MAX_FUNCTION_NESTING = 16

# switch_strip_whitespace removes CR, LF, tab, space and vertical tab.
_WHITESPACE = "\r\n\t \v"

# Where FreeSWITCH creates the events the core makes on mod_kazoo's behalf.
_KAZOO_EXPAND_ORIGIN = EventOrigin("kazoo_node.c", "kazoo_api_execute", 218)
_KAZOO_API_ORIGIN = EventOrigin("kazoo_node.c", "kazoo_api_execute", 226)
_API_EXECUTE_ORIGIN = EventOrigin("switch_loadable_module.c", "switch_api_execute", 3140)


@attrs.frozen
class ApiEntry:
    """A registered API command.  ``sync`` is set for commands that can also run inside
    a variable expansion (``${name(args)}``), which cannot wait."""

    name: str
    handler: ApiHandler
    description: str = ""
    syntax: str = ""
    module: str = ""
    sync: SyncApi | None = None


@attrs.define(eq=False)
class ApiCommands:
    """API commands by name.  ``get_global`` gives expansions the global variables."""

    bus: EventBus
    get_global: Callable[[str], str | None]
    _entries: dict[str, ApiEntry] = attrs.field(init=False, factory=dict)
    _nesting: int = attrs.field(init=False, default=0)

    def register(
        self,
        name: str,
        handler: ApiHandler,
        description: str = "",
        *,
        syntax: str = "",
        module: str = "",
    ) -> None:
        self._entries[name] = ApiEntry(name, handler, description, syntax, module)

    def register_sync(
        self, name: str, function: SyncApi, description: str = "", *, syntax: str, module: str
    ) -> None:
        """Register a command that never waits, so expansions can call it too."""

        async def handler(args: str) -> ApiOutput:
            return function(args)

        self._entries[name] = ApiEntry(name, handler, description, syntax, module, function)

    def entries(self) -> list[ApiEntry]:
        return list(self._entries.values())

    def expand(self, template: str, event: Event | None = None) -> str:
        """Expand ``template`` against ``event``'s headers (case-insensitive) and the
        globals; ``${api(args)}`` runs the commands that never wait (:meth:`api_function`)."""
        return expand_variables(
            template,
            lookup=event_lookup(event),
            global_lookup=self.get_global,
            call=self.api_function,
            lookup_index=event_index_lookup(event),
        )

    def api_function(self, name: str, args: str, *, fire_event: bool = True) -> str | None:
        """Run API command ``name`` synchronously, as ``${name(args)}`` in an expansion does.

        ``switch_api_execute`` semantics: command and argument are stripped of
        surrounding whitespace, the output is returned only when the command succeeds
        (``None`` for failure, unknown commands and commands registered without
        ``sync``, which cannot run without waiting), and an ``API`` event with
        ``API-Command``/``API-Command-Argument`` is fired unless ``fire_event`` is false
        (mod_kazoo's own expansion fires none).
        """
        command = name.strip(_WHITESPACE)
        argument = args.strip(_WHITESPACE)
        reserved: ReservedEvent | None = None
        if fire_event:
            reserved = self.bus.reserve("API", origin=_API_EXECUTE_ORIGIN)
        entry = self._entries.get(command)
        output: ApiOutput | None = None
        if entry is None or entry.sync is None:
            if entry is not None:
                log.warning("API %s cannot run inside a variable expansion", command)
        elif self._nesting >= _MAX_FUNCTION_NESTING:
            log.warning("API %s nested too deeply inside expansions", command)
        else:
            self._nesting += 1
            try:
                output = entry.sync(argument)
            except Exception:
                log.exception("API %s failed inside an expansion", command)
            finally:
                self._nesting -= 1
        if reserved is not None and self.bus.wanted("API"):
            headers = [("API-Command", command), ("API-Command-Argument", argument)]
            self.bus.fire(self.bus.build(reserved, headers))
        if output is None or not output.ok:
            return None
        return output.text

    def never_waits(self, command: str) -> bool:
        """Whether :meth:`api` for ``command`` completes without waiting for anything
        (it is unknown, or registered with :meth:`register_sync`)."""
        entry = self._entries.get(command)
        return entry is None or entry.sync is not None

    async def api(self, command: str, args: str, *, expand: bool = True) -> ApiResult:
        """See :meth:`kazoo_trio.switch.protocol.Switch.api`.

        The ``GENERAL`` event of the expansion is made only when ``args`` has
        something to expand, and the ``API`` event only when a listener wants it or
        the caller reads :attr:`ApiResult.event`; both are numbered and timed where
        they would have been made, so every event delivered is the same either way.
        """
        bus = self.bus
        if expand and _may_expand(args):
            general = bus.new_event("GENERAL", origin=_KAZOO_EXPAND_ORIGIN)
            argument = self.expand(args, general)
        else:
            if expand:
                # The expansion's GENERAL event is never delivered: only its number counts.
                bus.skip()
            argument = args
        reserved = bus.reserve("API", origin=_KAZOO_API_ORIGIN)
        entry = self._entries.get(command)
        if entry is None:
            event = self._api_event(reserved, command, argument, None)
            return ApiResult(False, "", event, found=False)
        try:
            # A command that never waits is called as it is, not through its coroutine.
            sync = entry.sync
            output = sync(argument) if sync is not None else await entry.handler(argument)
        except Exception as exc:
            log.exception("API %s %r failed", command, argument)
            output = ApiOutput(f"-ERR {type(exc).__name__}: {exc}\n", ok=False)
        event = self._api_event(reserved, command, argument, output)
        return ApiResult(output.ok, output.text, event)

    def _api_event(
        self, reserved: ReservedEvent, command: str, argument: str, output: ApiOutput | None
    ) -> Event | Callable[[], Event]:
        """Fire the ``API`` event if anybody wants it; else how to build it on demand
        (``output`` None: no such command)."""
        bus = self.bus
        if bus.wanted("API"):
            event = _build_api_event(bus, reserved, command, argument, output)
            bus.fire(event)
            return event
        return functools.partial(_build_api_event, bus, reserved, command, argument, output)


def _build_api_event(
    bus: EventBus, reserved: ReservedEvent, command: str, argument: str, output: ApiOutput | None
) -> Event:
    headers = [
        ("API-Command", command),
        ("API-Command-Argument", argument),
        ("API-Command-Argument-Expanded", argument),
    ]
    if output is None:
        headers += [("API-Result", "error"), ("API-Error", "invalid command")]
    elif output.ok:
        headers += [("API-Result", "success"), ("API-Output", output.text)]
    else:
        headers += [("API-Result", "error"), ("API-Error", output.text)]
    return bus.build(reserved, headers)


def _may_expand(text: str) -> bool:
    """False when expanding ``text`` gives ``text`` back for sure (no variable, no
    escape, no NUL): then the expansion and its event are not needed."""
    return "$" in text or "\\" in text or "\0" in text


@attrs.frozen
class _JsonEntry:
    name: str
    handler: JsonApiHandler
    description: str


@attrs.define(eq=False)
class JsonApiCommands:
    """JSON API commands by name (``switch_json_api_execute``)."""

    _entries: dict[str, _JsonEntry] = attrs.field(init=False, factory=dict)

    def register(self, name: str, handler: JsonApiHandler, description: str = "") -> None:
        self._entries[name] = _JsonEntry(name, handler, description)

    async def json_api(self, request: dict[str, object]) -> tuple[bool, dict[str, object]]:
        """See :meth:`kazoo_trio.switch.protocol.Switch.json_api`."""
        reply = dict(request)
        command = reply.get("command")
        entry = self._entries.get(command) if isinstance(command, str) else None
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
        entry = self._entries.get(command)
        if entry is None:
            return False, None
        request: dict[str, object] = {"command": command, "data": {} if data is None else data}
        return await entry.handler(request)
