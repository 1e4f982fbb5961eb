"""One handler per mod_kazoo request, independent of the network.

:func:`handle_request` takes the request term and a :class:`Requester` (the
Erlang process whose request it is) and returns the reply term, whether the
request came as a call or a cast (the caller drops the reply of a cast).
Everything the handlers act on is in :class:`Services`, so the handlers can be
exercised with the simulated switch and no Erlang node.

Errors: bad arguments give ``{error, badarg}`` and an unknown channel
``{error, baduuid}``, exactly as the per-request tables say.  A handler that
fails unexpectedly is logged and answered ``{error, badarg}`` too: an Erlang
caller must never be left waiting because of a bug on this side.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import attrs

from kazoo_trio.errors import RequestError
from kazoo_trio.kazoo.fetch.agents import FetchAgents, parse_section
from kazoo_trio.kazoo.requests.api_reply import api_outcome, legacy_header_list
from kazoo_trio.kazoo.requests.arguments import (
    MAX_UUID_BYTES,
    BadArg,
    argument,
    atom_list,
    atom_name,
    header_list,
    request_parts,
    text,
    to_binary,
)
from kazoo_trio.kazoo.requests.bgapi import BgapiJobs
from kazoo_trio.kazoo.requests.options import OptionsTable
from kazoo_trio.kazoo.streams.encoding import url_decode
from kazoo_trio.kazoo.streams.table import StreamTable
from kazoo_trio.kazoo.version import VERSION
from kazoo_trio.ratelimit import RateLimitedLog
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.names import core_event_name
from kazoo_trio.switch.protocol import Switch
from kazoo_trio.term.types import Atom, Pid
from kazoo_trio.uuids import uuid4_str

__all__ = [
    "NodeControl",
    "Requester",
    "Services",
    "handle_request",
]

log = logging.getLogger(__name__)

A_OK = Atom("ok")
A_ERROR = Atom("error")
A_BADARG = Atom("badarg")
A_BADUUID = Atom("baduuid")
A_PARSE_ERROR = Atom("parse_error")

BADARG = (A_ERROR, A_BADARG)
BADUUID = (A_ERROR, A_BADUUID)


class BadUuid(RequestError):
    """No such channel (answered with ``{error, baduuid}``)."""


@attrs.frozen
class Requester:
    """The Erlang process a request is from: the sender of the distribution message."""

    pid: Pid
    node: Atom


class NodeControl(Protocol):
    """What the handlers need from the local Erlang node."""

    @property
    def self_pid(self) -> Pid:
        """The mod_kazoo process's pid (``getpid``; the origin of links)."""
        ...

    async def link(self, pid: Pid) -> None: ...

    def disconnect_soon(self, node: Atom) -> None:
        """Drop ``node``'s connection once the current reply is on its way."""
        ...

    def addresses(self, node: Atom) -> tuple[str, str] | None:
        """``(local_ip, peer_ip)`` of the distribution connection with ``node``."""
        ...


@attrs.define
class Services:
    """Everything a request can touch."""

    switch: Switch
    node: NodeControl
    options: OptionsTable
    fetch: FetchAgents
    bgapi: BgapiJobs
    streams: StreamTable
    # Called after each successful bind of the configuration section (kazoo.conf).
    configuration_bound: Callable[[], None] = lambda: None
    # Called for the config request.
    config_requested: Callable[[], None] = lambda: None
    # Pids the mod_kazoo process links to; a pid is linked once.
    linked: set[Pid] = attrs.field(factory=set)
    # Fallback for the event reply when the node's address is unknown.
    default_ip: str = "127.0.0.1"
    #: Requests refused for want of room (too many jobs or streams waiting).
    refused: int = 0
    # A client retrying refused requests in a loop must not fill the log.
    refused_log: RateLimitedLog = attrs.field(factory=lambda: RateLimitedLog(log))
    # The switch's queue_private_event_nowait, if it has one: a sendmsg with room in
    # the channel's queue then completes without yielding (see PrivateQueueNowait).
    queue_nowait: Callable[[str, Event], bool | None] | None = None

    async def link_once(self, pid: Pid) -> None:
        if pid not in self.linked:
            await self.node.link(pid)
            self.linked.add(pid)


Handler = Callable[[Services, Requester, tuple[object, ...], bool], Awaitable[object]]


async def handle_request(
    services: Services,
    requester: Requester,
    request: object,
    *,
    call: bool = True,
    parsed: tuple[str, tuple[object, ...]] | None = None,
) -> object:
    """Execute ``request`` for ``requester``; the reply term (ignored for casts).

    ``parsed`` is ``request_parts(request)`` when the caller has it already.
    Cancellation propagates (the caller gets no reply, as when the node goes
    away); any other failure is an error reply.
    """
    if parsed is None:
        try:
            parsed = request_parts(request)
        except BadArg:
            log.info("unknown request %r from %r", request, requester.pid)
            return BADARG
    name, parts = parsed
    handler = HANDLERS.get(name)
    if handler is None:
        log.info("unimplemented request %r from %r", name, requester.pid)
        return BADARG
    try:
        return await handler(services, requester, parts, call)
    except BadArg as exc:
        log.info("%s from %r: bad argument: %s", name, requester.pid, exc)
        return BADARG
    except BadUuid as exc:
        log.info("%s from %r: %s", name, requester.pid, exc)
        return BADUUID
    except RequestError as exc:
        # A service refusing more work (too many jobs or streams waiting to start).
        services.refused += 1
        services.refused_log.warn(
            "%s from %r refused: %s (%d refused in all)",
            *(name, requester.pid, exc, services.refused),
        )
        return (A_ERROR, to_binary(str(exc)))
    except Exception:
        log.exception("%s from %r failed", name, requester.pid)
        return BADARG


# -- small requests ------------------------------------------------------------------------


async def _noevents(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    stream = s.streams.get(r.pid)
    if stream is not None:
        stream.bindings.clear()
        s.streams.bindings_changed()
    return A_OK


async def _exit(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    s.node.disconnect_soon(r.node)
    return A_OK


async def _link(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    await s.node.link(r.pid)
    s.linked.add(r.pid)
    return A_OK


async def _getpid(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    return (A_OK, s.node.self_pid)


async def _version(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    return (A_OK, VERSION.encode())


async def _config(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    s.config_requested()
    return A_OK


# -- events ----------------------------------------------------------------------------------


async def _event(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    names = atom_list(argument(parts, 1))
    addresses = s.node.addresses(r.node)
    local_ip, peer_ip = addresses if addresses is not None else (s.default_ip, None)
    created, (_, port) = await s.streams.subscribe(r.pid, r.node, names, peer_ip)
    if created:
        await s.link_once(r.pid)
    # ecallmgr parses the address with inet_parse:address/1: it must be a string.
    return (A_OK, (list(local_ip.encode("ascii")), port))


async def _nixevent(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    names = atom_list(argument(parts, 1))
    stream = s.streams.get(r.pid)
    if stream is not None:
        try:
            stream.bindings.remove(names)
        finally:
            # A bad name stops the removals after those made before it.
            s.streams.bindings_changed()
    return A_OK


# Where mod_kazoo created the events of these requests (kazoo_node.c at 5966077030):
# the events carry it, and naming it saves looking up the Python caller per request.
_SENDEVENT_ORIGIN = EventOrigin("kazoo_node.c", "handle_request_sendevent", 669)
_SENDEVENT_CUSTOM_ORIGIN = EventOrigin("kazoo_node.c", "handle_request_sendevent", 667)
_COMMAND_ORIGIN = EventOrigin("kazoo_node.c", "handle_request_command", 702)
_COMMANDS_ORIGIN = EventOrigin("kazoo_node.c", "handle_request_commands", 742)
_SENDMSG_ORIGIN = EventOrigin("kazoo_node.c", "handle_request_sendmsg", 776)


def _build_event(
    s: Services, name: str, subclass: str | None, raw_headers: object, origin: EventOrigin
) -> Event:
    """An event from a request header list (``body`` and the ``Call-ID`` merge)."""
    headers: list[tuple[str, str]] = []
    body: str | None = None
    for key, value in header_list(raw_headers):
        if key == "body":
            body = value
            continue
        if key.lower() == "call-id" and value:
            channel = s.switch.channel_headers(value)
            if channel is not None:
                headers.extend(channel)
        headers.append((key, value))
    try:
        return s.switch.new_event(
            name, subclass=subclass, headers=headers, body=body, origin=origin
        )
    except ValueError as exc:
        raise BadArg(str(exc)) from exc


async def _sendevent(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    name = core_event_name(atom_name(argument(parts, 1)))
    if name is None or name == "ALL":
        raise BadArg(f"{parts[1]!r} is not an event name")
    if name == "CUSTOM":
        subclass = atom_name(argument(parts, 2))
        event = _build_event(s, name, subclass, argument(parts, 3), _SENDEVENT_CUSTOM_ORIGIN)
    else:
        event = _build_event(s, name, None, argument(parts, 2), _SENDEVENT_ORIGIN)
    s.switch.fire(event)
    return A_OK


# -- channels --------------------------------------------------------------------------------


def _channel(s: Services, term: object) -> str:
    channel = text(term, MAX_UUID_BYTES)
    if not channel or not s.switch.channel_exists(channel):
        raise BadUuid(f"no channel {channel!r}")
    return channel


async def _queue(s: Services, channel: str, event: Event) -> None:
    nowait = s.queue_nowait
    queued = nowait(channel, event) if nowait is not None else None
    if queued is None:
        queued = await s.switch.queue_private_event(channel, event)
    if not queued:
        raise BadUuid(f"channel {channel!r} went away")


async def _sendmsg(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    channel = _channel(s, argument(parts, 1))
    event = _build_event(s, "SEND_MESSAGE", None, argument(parts, 2), _SENDMSG_ORIGIN)
    await _queue(s, channel, event)
    return A_OK


async def _command(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    channel = _channel(s, argument(parts, 1))
    event = _build_event(s, "COMMAND", None, argument(parts, 2), _COMMAND_ORIGIN)
    event_uuid = uuid4_str()
    await _queue(s, channel, event.with_headers(("event-uuid", event_uuid)))
    return (A_OK, to_binary(event_uuid))


async def _commands(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    channel = _channel(s, argument(parts, 1))
    lists = argument(parts, 2)
    if not isinstance(lists, list):
        raise BadArg("commands needs a list of header lists")
    # Every command is checked before any is queued: all or nothing.
    events = [_build_event(s, "COMMAND", None, headers, _COMMANDS_ORIGIN) for headers in lists]
    event_uuid = uuid4_str()
    for i, event in enumerate(events):
        last = i == len(events) - 1
        await _queue(s, channel, event.with_headers(("event-uuid", event_uuid if last else "null")))
    return (A_OK, to_binary(event_uuid))


# -- fetch -----------------------------------------------------------------------------------


async def _bind(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    section = parse_section(argument(parts, 1))
    s.fetch.bind(section, r.node, r.pid)
    await s.link_once(r.pid)
    if section == "configuration":
        s.configuration_bound()
    return A_OK


async def _fetch_reply(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    return s.fetch.reply(parts)


# -- API commands ----------------------------------------------------------------------------


def _api_args(parts: tuple[object, ...]) -> tuple[str, str]:
    return atom_name(argument(parts, 1)), text(argument(parts, 2))


async def _api(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    command, args = _api_args(parts)
    result = await s.switch.api(command, args)
    ok, output = api_outcome(command, result)
    return (A_OK if ok else A_ERROR, to_binary(output))


async def _api4(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    command, args = _api_args(parts)
    result = await s.switch.api(command, args)
    ok, output = api_outcome(command, result)
    if ok:
        return (A_OK, to_binary(output))
    return (A_ERROR, to_binary(output), legacy_header_list(result.event, url_decode))


async def _bgapi(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    command, args = _api_args(parts)
    job_id = s.bgapi.start(r.pid, r.node, command, args, four=False)
    return (A_OK, to_binary(job_id))


async def _bgapi4(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    command, args = _api_args(parts)
    job_id = s.bgapi.start(r.pid, r.node, command, args, four=True)
    return (A_OK, to_binary(job_id))


async def _json_api(s: Services, r: Requester, parts: tuple[object, ...], call: bool) -> object:
    if not call:
        # Nobody would see the answer (mod_kazoo crashed here).
        log.info("json_api cast from %r ignored", r.pid)
        return A_OK
    source = text(argument(parts, 1))
    try:
        request = json.loads(source)
    except json.JSONDecodeError as exc:
        return (A_ERROR, (A_PARSE_ERROR, to_binary(source[exc.pos :])))
    except RecursionError:
        # Nested deeper than the parser goes: cJSON stops at its nesting limit
        # and points there; so do we.
        return (A_ERROR, (A_PARSE_ERROR, to_binary(source[_too_deep_at(source) :])))
    if not isinstance(request, dict):
        raise BadArg("json_api needs a JSON object")
    channel = request.get("uuid")
    if channel is not None and not (isinstance(channel, str) and s.switch.channel_exists(channel)):
        raise BadUuid(f"no channel {channel!r}")
    ok, response = await s.switch.json_api(request)
    encoded = json.dumps(response, separators=(",", ":"), ensure_ascii=False)
    return (A_OK if ok else A_ERROR, encoded.encode("utf-8", "surrogateescape"))


# cJSON's CJSON_NESTING_LIMIT.
JSON_NESTING_LIMIT = 1000


def _too_deep_at(source: str) -> int:
    """Where ``source`` opens its array or object past :data:`JSON_NESTING_LIMIT` levels."""
    depth = 0
    in_string = escaped = False
    for pos, char in enumerate(source):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > JSON_NESTING_LIMIT:
                return pos
        elif char in "]}":
            depth -= 1
    return 0


HANDLERS: dict[str, Handler] = {
    "noevents": _noevents,
    "exit": _exit,
    "link": _link,
    "nixevent": _nixevent,
    "sendevent": _sendevent,
    "sendmsg": _sendmsg,
    "command": _command,
    "commands": _commands,
    "bind": _bind,
    "getpid": _getpid,
    "version": _version,
    "api": _api,
    "api4": _api4,
    "bgapi": _bgapi,
    "bgapi4": _bgapi4,
    "json_api": _json_api,
    "event": _event,
    "fetch_reply": _fetch_reply,
    "config": _config,
}
