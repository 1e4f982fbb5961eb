"""Fetch agents: XML lookups of the switch answered by Erlang processes.

An Erlang process becomes a handler of an XML section with ``{bind, Section}``.
When the switch needs XML for that section, :meth:`FetchAgents.lookup` picks an
Erlang node round-robin, sends its newest handler a ``{fetch, …}`` request and
waits for the matching ``{fetch_reply, Section, FetchUUID, XML}``.

Differences from mod_kazoo, all deliberate:

* the wait is a cancel scope of the advertised ``Fetch-Timeout``, not a fixed 3 s;
* a node without a live handler is skipped and the next node tried; a node (or
  handler process) that goes away while a lookup waits on it makes the lookup
  move on to the next node at once instead of running into the timeout;
* the legacy request carries the atom ``undefined`` for a missing tag or key,
  not the binary ``<<"undefined">>``.

A lookup that finds nobody, times out, or gets ecallmgr's "not found" document
returns ``None``: the switch then falls back to its other XML sources.
"""

from __future__ import annotations

import logging
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Sequence
from itertools import chain
from operator import itemgetter
from urllib.parse import unquote

import attrs
import trio

from kazoo_trio.kazoo.profiles import verbose_event
from kazoo_trio.kazoo.requests.arguments import BadArg, atom_name, text, to_binary
from kazoo_trio.kazoo.version import BUNDLE, RELEASE, VERSION
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import XmlLookup
from kazoo_trio.switch.xmlbind import ParsedXml
from kazoo_trio.term.types import Atom, Pid
from kazoo_trio.uuids import uuid4_str

__all__ = [
    "SECTIONS",
    "FetchAgents",
    "FetchRequestBuilder",
    "expand_globals",
    "is_not_found",
    "parse_section",
    "request_event",
]

log = logging.getLogger(__name__)

A_OK = Atom("ok")
A_ERROR = Atom("error")
A_BADARG = Atom("badarg")
A_BADUUID = Atom("baduuid")
A_FETCH = Atom("fetch")
A_UNDEFINED = Atom("undefined")

# FreeSWITCH's XML sections, with the word switch_xml_parse_section_string
# looks for in a section name (a substring match: "configuration" contains "config").
SECTIONS: dict[str, str] = {
    "config": "configuration",
    "directory": "directory",
    "dialplan": "dialplan",
    "languages": "languages",
    "chatplan": "chatplan",
    "channels": "channels",
}

# Fetch-UUIDs we generate are 36 characters; anything longer cannot be ours.
MAX_FETCH_UUID_BYTES = 255

# The channel that contributes its data to a lookup, in mod_kazoo's order.
_CHANNEL_HEADERS = ("Fetch-Call-UUID", "refer-from-channel-id", "sip_call_id")

_GLOBAL = re.compile(r"\$\$\{([^}]*)\}")

_name_of = itemgetter(0)
_value_of = itemgetter(1)
_TUPLE = {tuple}
_PAIR = {2}
_STR = {str}


def parse_section(term: object) -> str:
    """The section an atom names, by FreeSWITCH's rule: exactly one section word inside it.

    ``configuration``, ``config`` and ``Dialplan`` are fine; ``foo`` and
    ``directory_dialplan`` raise :class:`BadArg`.
    """
    name = atom_name(term).lower()
    found = [section for word, section in SECTIONS.items() if word in name]
    if len(found) != 1:
        raise BadArg(f"{name!r} does not name exactly one XML section")
    return found[0]


def expand_globals(xml: str, get_global: Callable[[str], str | None]) -> str:
    """Replace every ``$${name}`` with the global variable (unknown: empty)."""
    return _GLOBAL.sub(lambda m: get_global(m.group(1)) or "", xml)


def is_not_found(document: ET.Element) -> bool:
    """Whether ``document`` is a "result: not found" answer (a miss, not XML to use)."""
    for section in document.iter("section"):
        if section.get("name") == "result":
            result = section.find("result")
            if result is not None and result.get("status") == "not found":
                return True
    return False


def url_decode(value: str) -> str:
    """FreeSWITCH's ``switch_url_decode``: ``%XX`` sequences only (``+`` stays)."""
    if "%" not in value:
        return value
    return unquote(value, encoding="utf-8", errors="surrogateescape")


class FetchRequestBuilder:
    """How fetch requests are encoded: verbosely (every header) unless a profile engine
    replaces it."""

    def fetch_timeout_us(self, section: str) -> int | None:
        """The section's profile ``fetch-timeout``, or None to use the settings' default."""
        return None

    def build(self, section: str, event: Event, *, map_encoding: bool) -> object | None:
        """The non-legacy ``JObj`` for ``event``, or None when no profile covers ``section``."""
        return verbose_event(event, encoding="map" if map_encoding else "json")


@attrs.define
class _Client:
    """The handlers one Erlang node registered for a section, newest first."""

    node: Atom
    pids: list[Pid] = attrs.field(factory=list)


@attrs.define(eq=False)
class _Pending:
    fetch_uuid: str
    section: str
    node: Atom
    pid: Pid
    answered: trio.Event = attrs.field(factory=trio.Event)
    xml: str | None = None
    failed: bool = False

    def fail(self) -> None:
        if not self.answered.is_set():
            self.failed = True
            self.answered.set()


Sender = Callable[[Pid, object], Awaitable[None]]


@attrs.define
class FetchAgents:
    """Handlers per section per node, and the lookups waiting for their replies.

    ``send`` delivers a request to a handler pid; ``is_legacy(node)`` and
    ``map_encoding`` decide the request shape per node; ``channel_headers``
    returns a live channel's data (None for an unknown UUID); ``get_global``
    reads FreeSWITCH global variables for ``$${…}`` expansion.
    """

    send: Sender
    switch_nodename: str
    is_legacy: Callable[[Atom], bool]
    channel_headers: Callable[[str], Sequence[tuple[str, str]] | None]
    get_global: Callable[[str], str | None]
    builder: FetchRequestBuilder = attrs.field(factory=FetchRequestBuilder)
    default_timeout_us: int = 2_000_000
    expand_headers: bool = True
    map_encoding: bool = False
    _clients: dict[str, list[_Client]] = attrs.field(factory=dict)
    _next: dict[str, int] = attrs.field(factory=dict)
    _pending: dict[str, _Pending] = attrs.field(factory=dict)

    # -- registration ---------------------------------------------------------------------------

    def bind(self, section: str, node: Atom, pid: Pid) -> bool:
        """Register ``pid`` for ``section``; False when it already was (no new link needed)."""
        clients = self._clients.setdefault(section, [])
        for client in clients:
            if client.node is node:
                if pid in client.pids:
                    return False
                client.pids.insert(0, pid)
                return True
        clients.append(_Client(node, [pid]))
        return True

    def handlers(self, section: str) -> list[tuple[Atom, list[Pid]]]:
        return [(c.node, list(c.pids)) for c in self._clients.get(section, [])]

    def sections_of(self, node: Atom) -> dict[str, list[Pid]]:
        """Diagnostics: the pids ``node`` registered, per section."""
        found: dict[str, list[Pid]] = {}
        for section, clients in self._clients.items():
            for client in clients:
                if client.node is node and client.pids:
                    found[section] = list(client.pids)
        return found

    def pid_exited(self, pid: Pid) -> None:
        """Forget ``pid`` everywhere; lookups waiting on it move on to the next node."""
        for section in list(self._clients):
            for client in self._clients[section]:
                if pid in client.pids:
                    client.pids.remove(pid)
            self._prune(section)
        for pending in self._pending.values():
            if pending.pid == pid:
                pending.fail()

    def node_down(self, node: Atom) -> None:
        """Forget every handler of ``node``; its waiting lookups move on at once."""
        for section in list(self._clients):
            for client in self._clients[section]:
                if client.node is node:
                    client.pids.clear()  # lookups in progress hold these objects
            self._prune(section)
        for pending in self._pending.values():
            if pending.node is node:
                pending.fail()

    def forget_all(self) -> None:
        """Forget every handler; waiting lookups end as misses."""
        for clients in self._clients.values():
            for client in clients:
                client.pids.clear()  # lookups in progress hold these objects
        self._clients.clear()
        for pending in self._pending.values():
            pending.fail()

    def _prune(self, section: str) -> None:
        clients = [c for c in self._clients[section] if c.pids]
        if clients:
            self._clients[section] = clients
        else:
            del self._clients[section]

    # -- the switch side --------------------------------------------------------------------------

    async def lookup(self, lookup: XmlLookup) -> str | None:
        """Ask Erlang for the XML of ``lookup``; the XML text, or None for a miss.

        Tries each node of the section at most once, starting with the next one
        in round-robin order; each try waits at most the advertised
        ``Fetch-Timeout``.  Cancellation (the switch giving up) abandons the
        wait; a reply arriving afterwards gets ``{error, baduuid}``.
        """
        section = lookup.section
        clients = list(self._clients.get(section, ()))
        if not clients:
            return None
        start = self._next.get(section, 0) % len(clients)
        self._next[section] = start + 1
        timeout_us = self.builder.fetch_timeout_us(section) or self.default_timeout_us
        for i in range(len(clients)):
            client = clients[(start + i) % len(clients)]
            if not client.pids:
                continue
            pid = client.pids[0]
            fetch_uuid = uuid4_str()
            event = self._request_event(lookup, fetch_uuid, timeout_us)
            legacy = self.is_legacy(client.node)
            if legacy:
                request = self._legacy_request(lookup, fetch_uuid, event)
            else:
                jobj = self.builder.build(section, event, map_encoding=self.map_encoding)
                if jobj is None:
                    log.warning("no fetch profile for section %s: lookup not sent", section)
                    return None
                request = (A_FETCH, jobj)
            pending = _Pending(fetch_uuid, section, client.node, pid)
            self._pending[fetch_uuid] = pending
            try:
                try:
                    await self.send(pid, request)
                except Exception as exc:  # a connection that just went away
                    log.info("fetch request to %r not sent: %s", pid, exc)
                    continue
                with trio.move_on_after(timeout_us / 1e6):
                    await pending.answered.wait()
            finally:
                del self._pending[fetch_uuid]
            if pending.xml is not None:
                return self._accept(pending.xml, section, fetch_uuid)
            if not pending.failed:
                log.warning(
                    "fetch %s for %s timed out after %.3f s waiting on %r",
                    fetch_uuid,
                    section,
                    timeout_us / 1e6,
                    pid,
                )
                return None
            log.info("fetch %s: %s went away, trying the next node", fetch_uuid, client.node)
        return None

    def _request_event(self, lookup: XmlLookup, fetch_uuid: str, timeout_us: int) -> Event:
        return request_event(
            lookup,
            fetch_uuid,
            nodename=self.switch_nodename,
            timeout_us=timeout_us,
            timestamp_us=time.time_ns() // 1000,
            channel_headers=self.channel_headers,
        )

    def _legacy_request(self, lookup: XmlLookup, fetch_uuid: str, event: Event) -> object:
        def opt(value: str | None) -> object:
            return to_binary(value) if value else A_UNDEFINED

        unique_id = event.get("Unique-ID")
        header_list: list[object] = [to_binary(unique_id) if unique_id else A_UNDEFINED]
        header_list += [(to_binary(k), to_binary(v)) for k, v in event.headers]
        if event.body is not None:
            header_list.append((b"body", to_binary(event.body)))
        return (
            A_FETCH,
            Atom(lookup.section),
            opt(lookup.tag_name),
            opt(lookup.key_name),
            opt(lookup.key_value),
            to_binary(fetch_uuid),
            header_list,
        )

    def _accept(self, xml: str, section: str, fetch_uuid: str) -> str | None:
        if self.expand_headers and "$${" in xml:
            xml = expand_globals(xml, self.get_global)
        try:
            document = ET.fromstring(xml)
        except ET.ParseError as exc:
            log.warning("fetch %s for %s: reply is not XML (%s)", fetch_uuid, section, exc)
            return None
        if is_not_found(document):
            return None
        # The switch's bindings take the tree as it is instead of parsing it again.
        return ParsedXml(xml, document)

    # -- the Erlang side --------------------------------------------------------------------

    def reply(self, request: object) -> object:
        """Handle ``{fetch_reply, Section, FetchUUID, XML}``; the term to answer a call with.

        Anything else (a bare ``fetch_reply`` atom, a short tuple) is ``{error, badarg}``.
        """
        try:
            if not isinstance(request, tuple) or len(request) < 4:
                raise BadArg("fetch_reply needs a section, a fetch UUID and XML")
            section = parse_section(request[1])
            fetch_uuid = text(request[2], MAX_FETCH_UUID_BYTES)
            xml = text(request[3])
            if not fetch_uuid or not xml:
                raise BadArg("empty fetch UUID or XML")
        except BadArg as exc:
            log.info("bad fetch_reply: %s", exc)
            return (A_ERROR, A_BADARG)
        pending = self._pending.get(fetch_uuid)
        if pending is None or pending.section != section or pending.answered.is_set():
            return (A_ERROR, A_BADUUID)
        pending.xml = xml
        pending.answered.set()
        return A_OK

    def pending_count(self) -> int:
        return len(self._pending)


def request_event(
    lookup: XmlLookup,
    fetch_uuid: str,
    *,
    nodename: str,
    timeout_us: int,
    timestamp_us: int,
    channel_headers: Callable[[str], Sequence[tuple[str, str]] | None] | None = None,
) -> Event:
    """The event a lookup is asked with (mod_kazoo's fetch request): the lookup's
    parameters, the channel's data when they name a channel (``channel_headers``) but
    carry no ``Unique-ID``, then the fetch's own headers; values URL-decoded."""
    params = lookup.params
    headers: list[tuple[str, str]] = list(params.headers)
    has_uuid = "Unique-ID" in map(_name_of, headers)
    headers.append(("Switch-Nodename", nodename))
    if not has_uuid and channel_headers is not None:
        for key in _CHANNEL_HEADERS:
            channel = params.get(key)
            data = channel_headers(channel) if channel else None
            if data is not None:
                headers.extend(data)
                break
    headers.append(("Fetch-UUID", fetch_uuid))
    headers.append(("Fetch-Section", lookup.section))
    for key, value in (
        ("Fetch-Tag", lookup.tag_name),
        ("Fetch-Key-Name", lookup.key_name),
        ("Fetch-Key-Value", lookup.key_value),
    ):
        if value:
            headers.append((key, value))
    headers += [
        ("Fetch-Timeout", str(timeout_us)),
        ("Fetch-Timestamp-Micro", str(timestamp_us)),
        ("Kazoo-Version", VERSION),
        ("Kazoo-Bundle", BUNDLE),
        ("Kazoo-Release", RELEASE),
    ]
    # Most lookups have no "%" anywhere: then every value stays as it is, and pairs
    # of text need no normalising by the event either (passes in C instead of a
    # loop in Python).
    if (
        set(map(type, headers)) == _TUPLE
        and set(map(len, headers)) == _PAIR
        and set(map(type, chain.from_iterable(headers))) == _STR
        and "%" not in "".join(map(_value_of, headers))
    ):
        return params.replace_headers(tuple(headers))
    return params.replace_headers([(k, url_decode(v)) for k, v in headers])
