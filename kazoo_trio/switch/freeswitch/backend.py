"""A real FreeSWITCH as the switch backend: its event socket and mod_xml_curl.

:class:`FreeSwitchBackend` implements :class:`~kazoo_trio.switch.protocol.SwitchBackend`
over a stock FreeSWITCH (no mod_kazoo):

* API commands run on FreeSWITCH with ``bgapi`` (see :mod:`.connection`); the
  commands registered here (mod_kazoo's ``erlang``) are answered here.  JSON API
  commands go through FreeSWITCH's ``json`` command.
* FreeSWITCH's events, as its event socket delivers them, are the events the
  listeners get, with FreeSWITCH's own header order and values; events the
  server fires (``sendevent``) are sent to FreeSWITCH, which delivers them back
  like any other.  The event socket subscribes to what the listeners name
  (:class:`~kazoo_trio.switch.protocol.FollowsListeners`) and what the backend
  needs itself (see :meth:`FreeSwitchBackend.subscription`), so FreeSWITCH neither
  serialises nor sends the others.
* The synchronous parts of the interface (globals, channels) read local copies:
  the globals are read from FreeSWITCH at every connection and written through;
  the channel table follows ``CHANNEL_CREATE``/``CHANNEL_DESTROY`` (a channel's
  data is that of its latest channel event received: commands that need it
  exact read ``uuid_dump``) and is reloaded from ``show channels`` and
  ``uuid_dump`` at every connection.
* XML lookups arrive over HTTP from mod_xml_curl (:mod:`.xmlcurl`) and go to the
  fetch bindings.
* mod_kazoo's own ``kz_*`` API commands are answered here, and its applications
  are rewritten into stock ones in route XML and ``sendmsg`` (:mod:`.modkazoo`).

Task tree of :meth:`FreeSwitchBackend.run` (one nursery): the event-socket client
(:meth:`.EslClient.run`), the XML endpoint (:meth:`.XmlCurlServer.run` and its
connection tasks), the sender of fired events and global variables, the task
applying subscription changes, and after each (re)connection a short-lived task
reloading identity, globals and channels.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NoReturn

import attrs
import trio

from kazoo_trio.errors import ConfigurationError, RequestError

# Backend-neutral parts that live with the simulated switch for now.
from kazoo_trio.switch.apis import JsonApiCommands
from kazoo_trio.switch.bus import EventBus, ReservedEvent
from kazoo_trio.switch.clock import SystemClock
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.expand import needs_expansion
from kazoo_trio.switch.freeswitch import esl
from kazoo_trio.switch.freeswitch.cdr import kz_cdr_event_headers
from kazoo_trio.switch.freeswitch.connection import (
    EslClient,
    EslCommandFailed,
    EslDisconnected,
    EventSubscription,
)
from kazoo_trio.switch.freeswitch.modkazoo import (
    FsKzHost,
    LookupChannel,
    kz_api_handlers,
    rewrite_dialplan,
    rewrite_message,
)
from kazoo_trio.switch.freeswitch.xmlcurl import LookupRequest, XmlCurlServer
from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.identity import discover_identity
from kazoo_trio.switch.kz.cdr import CDR_ORIGIN, KZ_CDR
from kazoo_trio.switch.names import core_event_name
from kazoo_trio.switch.protocol import (
    ApiHandler,
    ApiOutput,
    ApiResult,
    EventListener,
    FetchHandler,
    JsonApiHandler,
    SwitchBackend,
    SwitchIdentity,
)
from kazoo_trio.switch.xmlbind import XmlBindings

__all__ = [
    "FreeSwitchBackend",
    "FreeSwitchSettings",
    "SwitchUnavailable",
    "host_port",
    "to_event",
]

log = logging.getLogger(__name__)

_API_ORIGIN = EventOrigin("kazoo_commands.c", "api_exec", 0)

# The headers every event gets from switch_event_prep_for_delivery: FreeSWITCH adds
# its own to what is sent with sendevent/sendmsg, so ours are not sent.
_STANDARD = frozenset(
    (
        "Event-Name",
        "Core-UUID",
        "FreeSWITCH-Hostname",
        "FreeSWITCH-Switchname",
        "FreeSWITCH-IPv4",
        "FreeSWITCH-IPv6",
        "Event-Date-Local",
        "Event-Date-GMT",
        "Event-Date-Timestamp",
        "Event-Calling-File",
        "Event-Calling-Function",
        "Event-Calling-Line-Number",
        "Event-Sequence",
    )
)

# Fired events and global variables waiting for the connection.
_OUTGOING_LIMIT = 1000

# kz_* executions whose events are renamed back, at most (a channel hung up before
# its execution completes leaves its entry behind).
_RENAMES_LIMIT = 10_000

_EVERY = EventSubscription(frozenset(("ALL",)))
# The channel table follows the channels' creation and destruction whoever listens.
_TRACKING = frozenset(("CHANNEL_CREATE", "CHANNEL_DESTROY"))
_EXECUTIONS = ("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE")
# The global that makes FreeSWITCH attach the XML CDR to CHANNEL_HANGUP_COMPLETE,
# from which KZ_CDR is made.
_CDR_GLOBAL = "hangup_complete_with_xml"
_TRUE_WORDS = frozenset(("yes", "on", "true", "t", "enabled", "active", "allow"))


def _switch_true(text: str | None) -> bool:
    # switch_true: the words, or a number other than 0.
    if not text:
        return False
    word = text.strip().lower()
    if word in _TRUE_WORDS:
        return True
    try:
        return int(word) != 0
    except ValueError:
        return False


class SwitchUnavailable(RequestError):
    """FreeSWITCH is not connected, or dropped the connection while answering."""


@attrs.frozen
class FreeSwitchSettings:
    """Where FreeSWITCH is and where it posts lookups (the bundled config's defaults)."""

    esl_host: str = "127.0.0.1"
    esl_port: int = 8021
    esl_password: str = "ClueCon"
    xml_curl_host: str = "127.0.0.1"
    xml_curl_port: int = 8090
    xml_curl_path: str = "/fsxml"
    connect_timeout: float = 5.0
    reply_timeout: float = 10.0
    # Longer than any fetch-timeout of the profiles, shorter than mod_xml_curl's own.
    lookup_timeout: float = 4.5
    # What the event socket subscribes to besides what the listeners name and the
    # backend needs (an event command's words; "ALL" for everything).
    events: tuple[str, ...] = ()
    # Event-socket connections for commands besides the one holding the events.
    command_connections: int = 4
    # How long run() waits for FreeSWITCH before reporting started without it, so
    # that the server starts with FreeSWITCH's identity and globals when it is up.
    startup_wait: float = 5.0


def host_port(text: str, default_port: int) -> tuple[str, int]:
    """``host:port``, ``host``, ``:port`` or ``[v6]:port`` (settings such as
    ``freeswitch-esl`` and ``xml-curl-listen``)."""
    host, port = text.strip(), ""
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        port = rest.removeprefix(":")
    elif host.count(":") == 1:
        host, _, port = host.partition(":")
    try:
        number = int(port) if port else default_port
    except ValueError:
        raise ConfigurationError(f"bad port in {text!r}") from None
    if not 0 <= number <= 65535:
        raise ConfigurationError(f"port out of range in {text!r}")
    return host or "127.0.0.1", number


def to_event(parsed: esl.EslEvent) -> Event:
    """The event model's value of an event as FreeSWITCH serialised it."""
    headers = parsed.headers
    name = headers[0][1] if headers and headers[0][0] == "Event-Name" else parsed.get("Event-Name")
    subclass = parsed.get("Event-Subclass") if name == "CUSTOM" else None
    return Event(name or "CUSTOM", headers, parsed.body, subclass)


def _channel_data(headers: tuple[tuple[str, str], ...]) -> list[tuple[str, str]] | None:
    # switch_channel_event_set_data adds the channel's part as one run: from
    # Channel-State to the last variable_ (or Caller- field when it adds no variables);
    # what an event adds after it (Application-*, Hangup-Cause ...) is not the channel's.
    start = -1
    end = -1
    for index, (name, _) in enumerate(headers):
        if start < 0:
            if name == "Channel-State":
                start = index
        elif name.startswith(("variable_", "Caller-", "Channel-", "Unique-ID")):
            end = index
    if start < 0:
        return None
    return list(headers[start : max(end, start) + 1])


@attrs.define
class _Snapshot:
    """A channel's data as its latest event carried it, worked out when first read:
    most channel events are never asked about."""

    message: esl.EventMessage | None = None
    headers: tuple[tuple[str, str], ...] | None = None
    data: list[tuple[str, str]] | None = None

    def data_now(self) -> list[tuple[str, str]]:
        if self.data is None:
            headers = self.headers
            if headers is None:
                assert self.message is not None
                headers = self.message.parse().headers
            # Only events with a Channel-State are kept, so there is channel data.
            self.data = _channel_data(headers) or []
            self.message = self.headers = None
        return self.data


def _strip_standard(event: Event) -> list[tuple[str, str]]:
    headers = list(event.headers)
    index = 0
    while index < len(headers) and headers[index][0] in _STANDARD:
        index += 1
    return headers[index:]


def _version_identity(identity: SwitchIdentity, version: str) -> SwitchIdentity:
    # "FreeSWITCH Version 1.11.3-dev~64bit ( 64bit)"
    words = version.split()
    if len(words) < 3:
        return identity
    number = words[2].split("~", 1)[0]
    parts = number.split(".", 2)
    if len(parts) != 3:
        return identity
    return attrs.evolve(
        identity, version_major=parts[0], version_minor=parts[1], version_micro=parts[2]
    )


@attrs.define(eq=False)
class FreeSwitchBackend:
    """The switch backend for a stock FreeSWITCH; see the module text."""

    settings: FreeSwitchSettings = attrs.field(factory=FreeSwitchSettings)
    identity: SwitchIdentity = attrs.field(factory=discover_identity)

    _bus: EventBus = attrs.field(init=False)
    _client: EslClient = attrs.field(init=False)
    _xmlcurl: XmlCurlServer = attrs.field(init=False)
    _bindings: XmlBindings = attrs.field(init=False, factory=XmlBindings)
    _apis: dict[str, ApiHandler] = attrs.field(init=False, factory=dict)
    _json_apis: JsonApiCommands = attrs.field(init=False, factory=JsonApiCommands)
    _json_names: set[str] = attrs.field(init=False, factory=set)
    _globals: dict[str, str] = attrs.field(init=False, factory=dict)
    # Globals set through this backend: written again after every (re)connection.
    _own_globals: dict[str, str] = attrs.field(init=False, factory=dict)
    # Whether the backend turned _CDR_GLOBAL on (KZ_CDR is wanted) in the FreeSWITCH
    # of core _cdr_core, and the value it had before.
    _cdr_set: bool = attrs.field(init=False, default=False)
    _cdr_prior: str | None = attrs.field(init=False, default=None)
    _cdr_core: str | None = attrs.field(init=False, default=None)
    _follow_lock: trio.Lock = attrs.field(init=False, factory=trio.Lock)
    _follow_wakeup: trio.Event = attrs.field(init=False, factory=trio.Event)
    # The connection (EslClient.connects) whose globals _globals holds.
    _loaded: int = attrs.field(init=False, default=-1)
    _channels: dict[str, _Snapshot] = attrs.field(init=False, factory=dict)
    _send: trio.MemorySendChannel[bytes] = attrs.field(init=False)
    _receive: trio.MemoryReceiveChannel[bytes] = attrs.field(init=False)
    _nursery: trio.Nursery | None = attrs.field(init=False, default=None)
    _synced: trio.Event = attrs.field(init=False, factory=trio.Event)
    # Application-UUID of a rewritten kz_* execution -> the application and data asked,
    # and the response mod_kazoo gives.
    _renames: dict[str, tuple[str, str, str | None]] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        s = self.settings
        for name, handler, _description, _syntax in kz_api_handlers(FsKzHost(self)):
            self._apis[name] = handler
        self._bus = EventBus(self.identity, SystemClock())
        self._client = EslClient(
            host=s.esl_host,
            port=s.esl_port,
            password=s.esl_password,
            on_message=self._on_message,
            on_connected=self._on_connected,
            connect_timeout=s.connect_timeout,
            reply_timeout=s.reply_timeout,
            command_lines=s.command_connections,
        )
        self._xmlcurl = XmlCurlServer(
            self._on_lookup,
            host=s.xml_curl_host,
            port=s.xml_curl_port,
            path=s.xml_curl_path,
            lookup_timeout=s.lookup_timeout,
        )
        self._send, self._receive = trio.open_memory_channel[bytes](_OUTGOING_LIMIT)

    @property
    def client(self) -> EslClient:
        return self._client

    @property
    def xml_curl_port(self) -> int:
        """The port the XML endpoint listens on (the setting may be 0)."""
        return self._xmlcurl.bound_port

    async def wait_ready(self) -> None:
        """Until connected and the identity, globals and channels are loaded."""
        await self._synced.wait()

    # -- the backend's tasks --------------------------------------------------------

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        self._client.set_subscription(self.subscription())
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                await nursery.start(self._xmlcurl.run)
                nursery.start_soon(self._sender)
                nursery.start_soon(self._follower)
                await nursery.start(self._client.run)
                with trio.move_on_after(self.settings.startup_wait):
                    await self._synced.wait()
                if not self._synced.is_set():
                    log.warning(
                        "FreeSWITCH at %s:%d not reached yet; starting without it",
                        self.settings.esl_host, self.settings.esl_port,
                    )  # fmt: skip
                task_status.started()
                await trio.sleep_forever()
            finally:
                self._nursery = None
        raise AssertionError("unreachable")

    def _on_connected(self) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(self._sync)

    async def _sync(self) -> None:
        connects = self._client.connects
        try:
            for name, value in self._own_globals.items():
                await self._client.api("global_setvar", f"{name}={value}")
            self._globals = dict(_parse_globals(await self._client.api("global_getvar")))
            await self._load_identity()
            core = self.identity.core_uuid
            if core != self._cdr_core:
                # Another FreeSWITCH (or the same restarted): none of its globals is ours.
                self._cdr_core, self._cdr_set, self._cdr_prior = core, False, None
            self._loaded = connects
            await self._load_channels()
        except (EslDisconnected, EslCommandFailed) as exc:
            log.warning("FreeSWITCH state not loaded: %s", exc)
            return
        await self._follow()
        self._synced.set()

    async def _load_identity(self) -> None:
        g = self._globals
        identity = attrs.evolve(
            self.identity,
            hostname=g.get("hostname", self.identity.hostname),
            switchname=g.get("switchname", "") or g.get("hostname", self.identity.switchname),
            ipv4=g.get("local_ip_v4", self.identity.ipv4),
            ipv6=g.get("local_ip_v6", self.identity.ipv6),
            core_uuid=g.get("core_uuid", self.identity.core_uuid),
        )
        identity = _version_identity(identity, await self._client.api("version"))
        self.identity = identity
        self._bus.identity = identity

    async def _load_channels(self) -> None:
        # Channels created while the command ran are not in its output: only those
        # known before it are taken away.
        known = list(self._channels)
        text = await self._client.api("show", "channels as json")
        try:
            rows = json.loads(text).get("rows", [])
        except (ValueError, AttributeError):
            log.warning("unexpected 'show channels' output: %.200r", text)
            return
        present = {row["uuid"] for row in rows if isinstance(row, dict) and "uuid" in row}
        for uuid in known:
            if uuid not in present:
                self._channels.pop(uuid, None)
        for uuid in present - set(self._channels):
            dump = await self._client.api("uuid_dump", f"{uuid} json")
            try:
                data = _channel_data(esl.parse_event_json(dump.encode()).headers)
            except esl.EslProtocolError:
                continue  # gone meanwhile
            if data is not None:
                self._channels.setdefault(uuid, _Snapshot(data=data))

    async def _sender(self) -> None:
        async for data in self._receive:
            # What is queued before the first connection waits for it; globals are
            # written again at every connection anyway (see _sync).
            await self._client.wait_connected()
            try:
                reply = await self._client.command(data)
            except EslDisconnected as exc:
                log.warning("not sent to FreeSWITCH (%s): %.60r", exc, data)
                continue
            if isinstance(reply, esl.CommandReply) and not reply.ok:
                log.warning("FreeSWITCH refused %.60r: %s", data, reply.reply_text)

    def _queue(self, data: bytes) -> None:
        try:
            self._send.send_nowait(data)
        except trio.WouldBlock:
            log.error("FreeSWITCH unreachable: %.60r dropped", data)

    # -- what the event socket subscribes to ----------------------------------------

    def subscription(self) -> EventSubscription:
        """What the event socket is to receive: every event a listener names (all of
        them as soon as one cannot name what it wants), the channels' creation and
        destruction (the channel table), ``CHANNEL_EXECUTE_COMPLETE`` with
        ``CHANNEL_EXECUTE`` (where the renaming of a ``kz_*`` execution ends),
        ``CHANNEL_HANGUP_COMPLETE`` when ``KZ_CDR`` is wanted (it is made from it),
        and the settings' ``events``.  ``BACKGROUND_JOB`` is the client's own."""
        extra = EventSubscription.parse(self.settings.events)
        names = self._bus.wanted_names()
        if names.every or "CUSTOM" in names.core:
            # The event socket has no "every subclass" short of ALL.
            return _EVERY | extra
        core = set(_TRACKING)
        core.update(filter(None, map(core_event_name, names.core)))
        if "CHANNEL_EXECUTE" in core:
            core.add("CHANNEL_EXECUTE_COMPLETE")
        if self._bus.wanted("CUSTOM", KZ_CDR):
            core.add("CHANNEL_HANGUP_COMPLETE")
        return EventSubscription(frozenset(core), names.subclasses) | extra

    def listeners_changed(self) -> None:
        """See :meth:`kazoo_trio.switch.protocol.FollowsListeners.listeners_changed`."""
        self._client.set_subscription(self.subscription())
        self._follow_wakeup.set()

    async def listeners_followed(self) -> None:
        """See :meth:`kazoo_trio.switch.protocol.FollowsListeners.listeners_followed`."""
        await self._follow()

    async def _follower(self) -> NoReturn:
        while True:
            await self._follow_wakeup.wait()
            self._follow_wakeup = trio.Event()
            await self._follow()

    async def _follow(self) -> None:
        async with self._follow_lock:
            try:
                await self._client.update_subscription()
                await self._follow_cdr()
            except EslDisconnected:
                pass  # the next connection subscribes anew, and _sync comes here again
            except (EslCommandFailed, esl.EslCommandError, esl.EslProtocolError) as exc:
                log.warning("FreeSWITCH subscription not changed: %s", exc)

    async def _follow_cdr(self) -> None:
        """The XML CDR is attached (for KZ_CDR) only while KZ_CDR is wanted: making it
        costs FreeSWITCH at every hang-up.  A value FreeSWITCH had already is left,
        and restored when KZ_CDR is no more wanted."""
        if self._loaded != self._client.connects:
            return  # the globals of this connection are not read yet
        wanted = self._bus.wanted("CUSTOM", KZ_CDR)
        if wanted and not self._cdr_set:
            current = self._globals.get(_CDR_GLOBAL)
            if _switch_true(current):
                return
            await self._client.api("global_setvar", f"{_CDR_GLOBAL}=true")
            self._cdr_set, self._cdr_prior = True, current
            self._globals[_CDR_GLOBAL] = "true"
        elif not wanted and self._cdr_set:
            prior = self._cdr_prior
            await self._client.api("global_setvar", f"{_CDR_GLOBAL}={prior or ''}")
            self._cdr_set, self._cdr_prior = False, None
            if prior:
                self._globals[_CDR_GLOBAL] = prior
            else:
                self._globals.pop(_CDR_GLOBAL, None)

    # -- events ---------------------------------------------------------------------

    def _on_message(self, message: esl.EventMessage) -> None:
        """An event as the event socket delivered it: parsed only when a listener
        wants it or a pending ``kz_*`` rename needs it; the channel table follows
        every channel event either way (the channel's data parsed when read)."""
        try:
            name = message.event_name()
            if name is None:
                self._on_event(message.parse())
                return
            subclass = message.header("Event-Subclass") if name == "CUSTOM" else None
            execution = name in ("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE")
            renames = execution and bool(self._renames)
            cdr = name == "CHANNEL_HANGUP_COMPLETE" and self._bus.wanted("CUSTOM", KZ_CDR)
            # An execution event names its application once: listeners that filter on
            # it (Kazoo's profiles take few) answer before the event is parsed.
            known = {"Application": message.header("Application")} if execution else None
            if renames or cdr or self._bus.wanted(name, subclass, known):
                self._on_event(message.parse(), message)
                return
            if name.startswith(("CHANNEL_", "CALL_")):
                uuid = message.header("Unique-ID")
                if uuid is not None:
                    self._track(name, uuid, message, None)
        except esl.EslProtocolError:
            log.exception("unparsable event from FreeSWITCH")

    def _on_event(self, parsed: esl.EslEvent, message: esl.EventMessage | None = None) -> None:
        event = to_event(parsed)
        if event.name in ("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"):
            event = self._renamed(event)
        elif event.name == "CHANNEL_HANGUP_COMPLETE" and event.body is not None:
            event = self._reported(event)
        uuid = event.get("Unique-ID")
        if uuid is not None and event.name.startswith(("CHANNEL_", "CALL_")):
            self._track(event.name, uuid, message, event.headers)
        self._bus.fire(event)

    def _reported(self, event: Event) -> Event:
        """mod_kazoo's ``KZ_CDR``, fired (to whoever wants it) from the XML CDR that
        FreeSWITCH attaches to ``CHANNEL_HANGUP_COMPLETE``, before that event, as
        mod_kazoo fired it in ``CS_REPORTING``; the event passed on keeps the CDR only
        if its channel asked for it itself (the backend sets the global while KZ_CDR
        is wanted)."""
        assert event.body is not None
        if self._bus.wanted("CUSTOM", KZ_CDR):
            found = kz_cdr_event_headers(event.body, event.headers)
            if found is not None:
                # Hangup-Cause (first) and CDR-Attached (last) are the event's own; the
                # channel data lies between.
                own = _strip_standard(event)
                data = own[1:] if own and own[0][0] == "Hangup-Cause" else own
                data = [(k, v) for k, v in data if k != "CDR-Attached"]
                self._bus.fire(
                    self._bus.new_event(
                        "CUSTOM", subclass=KZ_CDR, headers=[*found, *data], origin=CDR_ORIGIN
                    )
                )
        if event.get("variable_hangup_complete_with_xml") is not None:
            return event
        headers = [(k, v) for k, v in event.headers if k != "CDR-Attached"]
        return Event(event.name, headers, None, event.subclass)

    def _track(
        self,
        name: str,
        uuid: str,
        message: esl.EventMessage | None,
        headers: tuple[tuple[str, str], ...] | None,
    ) -> None:
        if name == "CHANNEL_DESTROY":
            self._channels.pop(uuid, None)
        elif name == "CHANNEL_CREATE" or uuid in self._channels:
            # Only CHANNEL_CREATE adds: events of a channel already destroyed
            # (a late CHANNEL_STATE) must not bring it back.  An event without
            # Channel-State carries no channel data and changes nothing.
            if headers is not None:
                if any(key == "Channel-State" for key, _ in headers):
                    self._channels[uuid] = _Snapshot(headers=headers)
            elif message is not None and message.has_header("Channel-State"):
                self._channels[uuid] = _Snapshot(message=message)

    def _renamed(self, event: Event) -> Event:
        """The last stock step of a rewritten ``kz_*`` execution, as the application and
        data the ``sendmsg`` asked for (and its response, when mod_kazoo sets one)."""
        key = event.get("Application-UUID")
        if key is None or key not in self._renames:
            return event
        application, data, response = self._renames[key]
        replace = {"Application": application, "Application-Data": data}
        if event.name == "CHANNEL_EXECUTE_COMPLETE":
            del self._renames[key]
            if response is not None:
                replace["Application-Response"] = response
        headers = [(name, replace.get(name, value)) for name, value in event.headers]
        return Event(event.name, headers, event.body, event.subclass)

    def new_event(
        self,
        name: str,
        *,
        subclass: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: str | None = None,
        origin: EventOrigin | None = None,
    ) -> Event:
        return self._bus.new_event(
            name,
            subclass=subclass,
            headers=headers,
            body=body,
            origin=origin or EventOrigin.caller(),
        )

    def fire(self, event: Event) -> None:
        """Send ``event`` to FreeSWITCH (``sendevent``); it comes back to the listeners
        as FreeSWITCH delivers it.  An event naming a live channel goes to the listeners
        directly: the event socket would queue it to that channel instead of firing it
        (``sendevent`` in mod_event_socket.c), where mod_kazoo fired it for everyone."""
        target = next((v for k, v in event.headers if k.lower() == "unique-id"), None)
        if target is not None and target in self._channels:
            self._bus.fire(event)
            return
        if not self._client.connected:
            # An event fired while FreeSWITCH is away would reach it late, out of
            # its context: it is dropped, as it would be with the switch down.
            log.warning("event %s not sent: FreeSWITCH is not connected", event.name)
            return
        headers = _strip_standard(event)
        if event.subclass and not any(name == "Event-Subclass" for name, _ in headers):
            headers.insert(0, ("Event-Subclass", event.subclass))
        try:
            self._queue(esl.sendevent(event.name, headers, event.body))
        except esl.EslCommandError as exc:
            log.warning("event %s not sent: %s", event.name, exc)

    def add_listener(self, listener: EventListener) -> Callable[[], None]:
        remove = self._bus.add_listener(listener)
        self.listeners_changed()

        def removed() -> None:
            remove()
            self.listeners_changed()

        return removed

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
        self._apis[name] = handler

    async def api(self, command: str, args: str, *, expand: bool = True) -> ApiResult:
        handler = self._apis.get(command)
        if handler is not None:
            try:
                output = await handler(args)
            except Exception as exc:
                log.exception("API %s %r failed", command, args)
                output = ApiOutput(f"-ERR {type(exc).__name__}: {exc}\n", ok=False)
            return ApiResult(output.ok, output.text, self._api_event(command, args, output))
        name, argument = command, args
        if expand and needs_expansion(args):
            # FreeSWITCH's "expand" runs a command on its arguments expanded
            # against a fresh event, as mod_kazoo did.
            name, argument = "expand", f"{command} {args}"
        try:
            text = await self._client.api(name, argument)
        except (EslDisconnected, EslCommandFailed, esl.EslCommandError) as exc:
            output = ApiOutput(f"-ERR {exc}", ok=False)
            return ApiResult(False, output.text, self._api_event(command, args, output))
        if text == f"-ERR {command} Command not found!\n":
            event = self.new_event(
                "API",
                headers=[
                    ("API-Command", command),
                    ("API-Command-Argument", args),
                    ("API-Result", "error"),
                    ("API-Error", "invalid command"),
                ],
            )
            return ApiResult(False, "", event, found=False)
        if command == "global_setvar" and text.startswith("+OK"):
            await self._reload_global(args)
        output = ApiOutput(text)
        return ApiResult(True, text, self._api_event(command, args, output))

    async def _reload_global(self, args: str) -> None:
        """Keep the local copy of a global set on FreeSWITCH through this backend: read
        back, since a conditional set (``name=value=expected``) may not have changed it."""
        name = args.partition("=")[0]
        if not name or needs_expansion(name):
            return
        try:
            value = await self._client.api("global_getvar", name)
        except (EslDisconnected, EslCommandFailed, esl.EslCommandError):
            return
        if value:
            self._globals[name] = value
        else:
            self._globals.pop(name, None)

    def _api_event(self, command: str, args: str, output: ApiOutput) -> Callable[[], Event]:
        """How to make the result's ``API`` event, when it is read (most callers never
        read it); numbered and timed now, as if made now."""
        reserved = self._bus.reserve("API", origin=_API_ORIGIN)
        return functools.partial(self._build_api_event, reserved, command, args, output)

    def _build_api_event(
        self, reserved: ReservedEvent, command: str, args: str, output: ApiOutput
    ) -> Event:
        result = [("API-Result", "success"), ("API-Output", output.text)]
        if not output.ok:
            result = [("API-Result", "error"), ("API-Error", output.text)]
        headers = [
            ("API-Command", command),
            ("API-Command-Argument", args),
            ("API-Command-Argument-Expanded", args),
            *result,
        ]
        return self._bus.build(reserved, headers)

    def register_json_api(self, name: str, handler: JsonApiHandler, description: str = "") -> None:
        self._json_apis.register(name, handler, description)
        self._json_names.add(name)

    async def json_api(self, request: dict[str, object]) -> tuple[bool, dict[str, object]]:
        command = request.get("command")
        if command in self._json_names:
            return await self._json_apis.json_api(request)
        failed = dict(request, status="error", response=None)
        try:
            text = await self._client.api("json", json.dumps(request, separators=(",", ":")))
        except (EslDisconnected, EslCommandFailed, esl.EslCommandError) as exc:
            return False, dict(failed, message=str(exc))
        try:
            reply = json.loads(text)
        except ValueError:
            return False, dict(failed, message=text.strip())
        if not isinstance(reply, dict):
            return False, dict(failed, message=text.strip())
        return reply.get("status") == "success", reply

    # -- globals --------------------------------------------------------------------

    def get_global(self, name: str) -> str | None:
        return self._globals.get(name)

    def set_global(self, name: str, value: str | None) -> None:
        if value:
            self._globals[name] = self._own_globals[name] = value
        else:
            self._globals.pop(name, None)
            self._own_globals.pop(name, None)
        try:
            self._queue(esl.api("global_setvar", f"{name}={value or ''}"))
        except esl.EslCommandError as exc:
            log.warning("global %s not set on FreeSWITCH: %s", name, exc)

    # -- channels -------------------------------------------------------------------

    def channel_exists(self, uuid: str) -> bool:
        return uuid in self._channels

    def channel_headers(self, uuid: str) -> list[tuple[str, str]] | None:
        snapshot = self._channels.get(uuid)
        if snapshot is None:
            return None
        try:
            return list(snapshot.data_now())
        except esl.EslProtocolError:
            log.exception("unparsable event from FreeSWITCH")
            del self._channels[uuid]
            return None

    async def live_channel(self, uuid: str) -> list[tuple[str, str]] | None:
        """The channel's data as ``uuid_dump`` gives it now (the local copy refreshed);
        ``None`` when FreeSWITCH has no such channel."""
        try:
            dump = await self._client.api("uuid_dump", f"{uuid} json")
        except (EslDisconnected, EslCommandFailed) as exc:
            raise SwitchUnavailable(str(exc)) from None
        try:
            data = _channel_data(esl.parse_event_json(dump.encode()).headers)
        except esl.EslProtocolError:
            return None
        if data is not None and uuid in self._channels:
            self._channels[uuid] = _Snapshot(data=data)
        return data

    async def raw_api(self, command: str, args: str) -> str:
        """A FreeSWITCH API command run as it is (its arguments not expanded)."""
        try:
            return await self._client.api(command, args)
        except (EslDisconnected, EslCommandFailed, esl.EslCommandError) as exc:
            raise SwitchUnavailable(str(exc)) from None

    async def execute_on(self, uuid: str, application: str, data: str) -> None:
        """Queue stock ``application`` on the channel, after what it has queued."""
        headers = [
            ("call-command", "execute"),
            ("execute-app-name", application),
            ("execute-app-arg", data),
            ("event-lock", "true"),
        ]
        await self._sendmsg(uuid, headers, None)

    async def queue_private_event(self, uuid: str, event: Event) -> bool:
        if uuid not in self._channels:
            return False
        headers = _strip_standard(event)
        rewritten = None
        if any(v.startswith(("kz_", "noop")) for k, v in headers
               if k.lower() in ("execute-app-name", "application")):  # fmt: skip
            live = await self.live_channel(uuid)
            if live is None:
                self._channels.pop(uuid, None)
                return False
            view = LookupChannel(uuid, tuple(live), self.channel_exists)
            rewritten = rewrite_message(headers, view)
        if rewritten is None:
            return await self._sendmsg(uuid, headers, event.body)
        if rewritten.application_uuid is not None and any(map(self._bus.wanted, _EXECUTIONS)):
            # Kept only for listeners of the execution's events, whose last one
            # (CHANNEL_EXECUTE_COMPLETE) is then subscribed and ends it.
            if len(self._renames) >= _RENAMES_LIMIT:
                del self._renames[next(iter(self._renames))]
            self._renames[rewritten.application_uuid] = (
                rewritten.application,
                rewritten.data,
                rewritten.response,
            )
        for message in rewritten.messages:
            if not await self._sendmsg(uuid, message, event.body):
                return False
        for step in rewritten.apis:
            # mod_kazoo's own commands (kz_uuid_multiset's) run here, not in the
            # channel's queue: at once, after the messages were queued.
            result = await self.api(step.command, step.args, expand=False)
            if not result.ok:
                log.warning("%s %s on %s: %s", step.command, step.args, uuid, result.text)
        return True

    async def _sendmsg(self, uuid: str, headers: list[tuple[str, str]], body: str | None) -> bool:
        try:
            await self._client.checked(esl.sendmsg(uuid, headers, body), key=uuid)
        except EslCommandFailed as exc:
            if "invalid session id" in str(exc):
                self._channels.pop(uuid, None)
                return False
            raise SwitchUnavailable(f"sendmsg refused: {exc}") from None
        except EslDisconnected as exc:
            raise SwitchUnavailable(str(exc)) from None
        return True

    # -- XML lookups ----------------------------------------------------------------

    def bind_xml(self, sections: Iterable[str], handler: FetchHandler) -> Callable[[], None]:
        return self._bindings.bind(sections, handler)

    async def xml_lookup(
        self,
        section: str,
        tag_name: str,
        key_name: str,
        key_value: str,
        params: Iterable[tuple[str, str]] = (),
    ) -> str | None:
        if not isinstance(params, Event):
            params = self.new_event("REQUEST_PARAMS", headers=params)
        return await self._bindings.lookup(section, tag_name, key_name, key_value, params)

    async def _on_lookup(self, request: LookupRequest) -> str | None:
        # The posted parameters are the lookup event's headers as FreeSWITCH built
        # them (standard headers included): the event is taken as it is.
        name = "REQUEST_PARAMS"
        for key, value in request.params:
            if key == "Event-Name":
                name = value
                break
        params = Event(name, request.params)
        document = await self.xml_lookup(
            request.section, request.tag_name, request.key_name, request.key_value, params
        )
        if document is not None and request.section == "dialplan":
            document = rewrite_dialplan(document, request.params, self.channel_exists)
        return document


def _parse_globals(text: str) -> Iterable[tuple[str, str]]:
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name:
            yield name, value


if TYPE_CHECKING:
    # The backend must stay a complete SwitchBackend.
    _backend: SwitchBackend = FreeSwitchBackend()
