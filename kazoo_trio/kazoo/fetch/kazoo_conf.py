"""The profiles in force and the ``kazoo.conf`` lookup that replaces them.

At start the compiled-in default profiles are in force.  After the first
``bind`` of the ``configuration`` section (and after every ``config``
request), once ``delay-before-initial-fetch`` has passed, the switch looks up
``kazoo.conf`` in the configuration section with ``Action`` =
``request-handlers``; ecallmgr answers with its own definitions, event
profile and fetch profiles.  A good answer replaces the profile set at once:
existing streams switch to it for their next event and fetch requests use it
for the next lookup.  A "not found", a timeout or a document that does not
compile keeps the current set (and is logged).

``request-filter`` (the legacy header filter) is asked for too when a node
uses the legacy encoding; an ``<event-filter>`` in its answer replaces the
filter of new and existing streams.

Requests that arrive while a lookup is already scheduled join it: a burst of
``config`` requests makes one lookup.  Lookups run one after the other in the
task of :meth:`KazooConf.run`; a request that arrives during a lookup schedules
the next one.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from typing import NoReturn

import attrs
import trio

from kazoo_trio.kazoo.fetch.agents import FetchRequestBuilder
from kazoo_trio.kazoo.profiles import ProfileError, ProfileSet, default_profiles
from kazoo_trio.kazoo.requests.options import OptionsTable
from kazoo_trio.kazoo.streams.encoding import JSON, MAP, LegacyFilter
from kazoo_trio.kazoo.streams.table import StreamTable
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import Switch

__all__ = ["KazooConf", "ProfileFetchBuilder", "Profiles", "load_default_profiles"]

log = logging.getLogger(__name__)


def load_default_profiles(switch: Switch) -> ProfileSet | None:
    """The compiled-in profiles, or None (events then go out verbosely) if they fail."""
    try:
        return default_profiles().with_global_lookup(switch.get_global)
    except (ProfileError, NotImplementedError) as exc:
        log.warning("default profiles unavailable (%s): events are sent verbosely", exc)
        return None


@attrs.define
class Profiles:
    """The profile set in force (``None``: verbose encoding everywhere)."""

    current: ProfileSet | None = None


@attrs.define(eq=False)
class ProfileFetchBuilder(FetchRequestBuilder):
    """Fetch requests built by the fetch profile of the section.

    Without any profile set the request is verbose; with a set that has no
    profile for the section, nothing is sent (mod_kazoo's behaviour).
    """

    _profiles: Profiles

    def fetch_timeout_us(self, section: str) -> int | None:
        current = self._profiles.current
        plan = current.fetch_plan(section) if current is not None else None
        return plan.timeout_us if plan is not None else None

    def build(self, section: str, event: Event, *, map_encoding: bool) -> object | None:
        current = self._profiles.current
        if current is None:
            return super().build(section, event, map_encoding=map_encoding)
        return current.build_fetch(section, event, encoding=MAP if map_encoding else JSON)


@attrs.define
class KazooConf:
    """Schedules and performs the ``kazoo.conf`` lookups; installs what they bring.

    :meth:`request` only schedules (it is called while a request is answered);
    :meth:`run` performs the lookups, and cancelling it abandons a scheduled or
    running one.  Requests made while :meth:`run` is not running wait for it.
    """

    switch: Switch
    streams: StreamTable
    options: OptionsTable
    profiles: Profiles
    delay: float = 10.0
    _scheduled: bool = False
    _configuration_bound: bool = False
    lookups: int = 0  # completed lookups, for diagnostics and tests
    # One slot: a scheduled lookup is one item, and later requests join it.
    _wake: trio.MemorySendChannel[None] = attrs.field(init=False)
    _woken: trio.MemoryReceiveChannel[None] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._wake, self._woken = trio.open_memory_channel[None](1)
        self.install(self.profiles.current)

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Perform the scheduled lookups, each after the delay, until cancelled."""
        task_status.started()
        while True:
            await self._woken.receive()
            try:
                await trio.sleep(self.delay)
            finally:
                self._scheduled = False
            try:
                await self.fetch_now()
            except Exception:
                log.exception("kazoo.conf lookup failed")

    def install(self, profiles: ProfileSet | None) -> None:
        """Put ``profiles`` in force for streams and fetches."""
        self.profiles.current = profiles
        if profiles is not None:
            self.streams.set_json_encoder(profiles.encoder(self.switch.get_global))

    def configuration_bound(self) -> None:
        """A ``bind`` of ``configuration`` succeeded; the first one schedules a lookup."""
        if not self._configuration_bound:
            self._configuration_bound = True
            self.request()

    def request(self) -> None:
        """Schedule a lookup after the delay, unless one is already scheduled."""
        if self._scheduled:
            return
        self._scheduled = True
        self._wake.send_nowait(None)  # never full: the slot is taken only while scheduled

    async def fetch_now(self) -> bool:
        """Look up ``kazoo.conf`` now; True when new profiles were installed."""
        installed = False
        nodes = self.options.nodes()
        if not nodes or self.options.any_non_legacy():
            installed = await self._request_handlers()
        if self.options.any_legacy():
            await self._request_filter()
        self.lookups += 1
        return installed

    async def _lookup(self, action: str) -> str | None:
        return await self.switch.xml_lookup(
            "configuration", "configuration", "name", "kazoo.conf", [("Action", action)]
        )

    async def _request_handlers(self) -> bool:
        xml = await self._lookup("request-handlers")
        if xml is None:
            log.info("kazoo.conf request-handlers: no answer; keeping the current profiles")
            return False
        try:
            profiles = ProfileSet.from_xml(
                xml, base=self.profiles.current, global_lookup=self.switch.get_global
            )
        except ProfileError as exc:
            log.warning("kazoo.conf request-handlers: %s; keeping the current profiles", exc)
            return False
        for warning in profiles.warnings:
            log.warning("kazoo.conf profiles: %s", warning)
        self.install(profiles)
        log.info(
            "kazoo.conf: new profiles installed (%d events, %d streams updated)",
            len(profiles.event_names),
            len(self.streams),
        )
        return True

    async def _request_filter(self) -> None:
        xml = await self._lookup("request-filter")
        if xml is None:
            return
        try:
            root = ET.fromstring(xml)
        except ET.ParseError as exc:
            log.warning("kazoo.conf request-filter: not XML (%s)", exc)
            return
        names = [
            h.get("name", "")
            for f in root.iter("event-filter")
            for h in f.iter("header")
            if h.get("name")
        ]
        if names:
            current = self.streams.legacy_filter
            legacy_filter = LegacyFilter(
                event_filter=frozenset(names),
                var_prefixes=current.var_prefixes,
                send_all_headers=current.send_all_headers,
                send_all_private_headers=current.send_all_private_headers,
            )
            self.streams.set_legacy_filter(legacy_filter)
            log.info("kazoo.conf: legacy event filter replaced (%d headers)", len(names))
