"""The profile set in force: compiled once, then used for every event and XML lookup.

A :class:`ProfileSet` is immutable and compiled when it is made, so a profile
document that fails to parse or compile raises :class:`ProfileError` and never
replaces the set in force (callers swap sets only after a successful build).
Building an object never raises for any event content: values that do not fit
their ``serialize-as`` are converted the way mod_kazoo does (a non-number is
``0``, non-JSON raw text a string).

:meth:`ProfileSet.build_payload` (and the streams' :class:`ProfileEncoder`)
give the encoded ``{event, json, JObj}`` directly: the object is built as a
``dict`` and written by the codec's JSON-object fast path, byte for byte what
encoding the :meth:`~ProfileSet.build_event` term gives.

Globals (``${UNIX_EPOCH_IN_GREGORIAN}`` in the shipped timestamp fields) are
looked up first in the ``<variables>`` of the document, then in the
``global_lookup`` given to the set (the switch's global variables, which a
single call may override), then in :data:`BUILTIN_GLOBALS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Literal

import attrs

from kazoo_trio.kazoo.profiles.compile import Compiler
from kazoo_trio.kazoo.profiles.errors import ProfileError
from kazoo_trio.kazoo.profiles.jsonterm import Encoding, freeze_object
from kazoo_trio.kazoo.profiles.model import EventPlan, FetchPlan, start_object
from kazoo_trio.kazoo.profiles.parse import (
    Document,
    parse_definitions,
    parse_document,
    parse_event_profile,
    parse_events,
    parse_fetch_profile,
)
from kazoo_trio.kazoo.profiles.payload import EVENT, JSON, MAP
from kazoo_trio.kazoo.profiles.payload import verbose_payload as _verbose_payload
from kazoo_trio.kazoo.profiles.spec import (
    DefinitionSpec,
    EventProfileSpec,
    EventSpec,
    FetchProfileSpec,
)
from kazoo_trio.kazoo.profiles.view import GlobalLookup, HeaderView, PrefixMatcher
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.names import core_event_name
from kazoo_trio.switch.sections import parse_sections
from kazoo_trio.term import encode
from kazoo_trio.term._event import encode_object_event

__all__ = [
    "BUILTIN_GLOBALS",
    "EVENT_PROFILE_NAME",
    "JsonEncoder",
    "ProfileEncoder",
    "ProfileSet",
    "binding_key",
    "verbose_event",
    "verbose_payload",
]

BUILTIN_GLOBALS: Mapping[str, str] = {"UNIX_EPOCH_IN_GREGORIAN": "62167219200"}
"""Globals mod_kazoo sets at load (from its compiled-in kazoo.conf ``<variables>``);
the shipped ``Timestamp`` fields need ``UNIX_EPOCH_IN_GREGORIAN``."""

EVENT_PROFILE_NAME = "default"
"""The event profile mod_kazoo uses (the others in ``<event-handlers>`` are ignored)."""

JsonEncoder = Callable[[Event, "str | None", str], object]

_BINDING_MEMO_MAX = 1024


def _no_globals(name: str) -> str | None:
    return None


def binding_key(name: str) -> str:
    """How a binding or ``<event name>`` is matched: core names canonically, subclasses by case."""
    core = core_event_name(name)
    return core if core is not None else "custom:" + name.lower()


def _check_encoding(encoding: str) -> Encoding:
    if encoding == "json":
        return "json"
    if encoding == "map":
        return "map"
    raise ValueError(f"encoding must be 'json' or 'map', not {encoding!r}")


def _finish(obj: dict[bytes, object], encoding: Encoding) -> object:
    return freeze_object(obj) if encoding == "json" else obj


def _general_verbose_payload(event: Event) -> bytes:
    return encode((EVENT, JSON, verbose_event(event)))


def verbose_payload(event: Event) -> bytes:
    """``term_to_binary({event, json, verbose_event(event)})``, written from the headers."""
    return _verbose_payload(event, _general_verbose_payload)


def verbose_event(event: Event, *, encoding: Literal["json", "map"] = "json") -> object:
    """Every header (``_json_*`` excepted; repeated names as arrays) plus ``Event-Timestamp``.

    The encoding of an event whose binding has no profile definition (mod_kazoo
    crashed on those).
    """
    checked = _check_encoding(encoding)
    view = HeaderView(
        event.headers, event.body, prefixes=(), global_lookup=_no_globals, encoding=checked
    )
    return _finish(start_object(view, True), checked)


@attrs.frozen
class ProfileSet:
    """Definitions, the ``default`` event profile and the fetch profiles, compiled.

    Make one with :meth:`from_xml`, :meth:`from_parts` or
    :func:`~kazoo_trio.kazoo.profiles.defaults.default_profiles`.
    """

    definitions: tuple[DefinitionSpec, ...]
    event_profile: EventProfileSpec | None
    fetch_profiles: tuple[FetchProfileSpec, ...]
    variables: tuple[tuple[str, str], ...] = ()
    global_lookup: GlobalLookup | None = attrs.field(default=None, eq=False, repr=False)
    warnings: tuple[str, ...] = attrs.field(init=False, eq=False, repr=False)
    _events: Mapping[str, EventPlan] = attrs.field(init=False, eq=False, repr=False)
    _fetch: tuple[FetchPlan, ...] = attrs.field(init=False, eq=False, repr=False)
    _prefixes: PrefixMatcher = attrs.field(init=False, eq=False, repr=False)
    _variables: Mapping[str, str] = attrs.field(init=False, eq=False, repr=False)
    _by_binding: dict[str, EventPlan | None] = attrs.field(
        init=False, eq=False, repr=False, factory=dict
    )
    _by_section: dict[str, FetchPlan | None] = attrs.field(
        init=False, eq=False, repr=False, factory=dict
    )
    # The last globals lookup made by _globals, for the fallback it was made for.
    _last_globals: list[tuple[GlobalLookup | None, GlobalLookup]] = attrs.field(
        init=False, eq=False, repr=False, factory=list
    )

    def __attrs_post_init__(self) -> None:
        compiler = Compiler(self.definitions)
        plans: dict[str, EventPlan] = {}
        if self.event_profile is not None:
            for plan in compiler.event_plans(self.event_profile).values():
                plans.setdefault(binding_key(plan.name), plan)
        fetch = tuple(compiler.fetch_plan(profile) for profile in self.fetch_profiles)
        object.__setattr__(self, "warnings", tuple(compiler.warnings))
        object.__setattr__(self, "_events", plans)
        object.__setattr__(self, "_fetch", fetch)
        object.__setattr__(self, "_prefixes", PrefixMatcher(tuple(sorted(compiler.prefixes))))
        object.__setattr__(self, "_variables", {**BUILTIN_GLOBALS, **dict(self.variables)})

    # ---------------------------------------------------------------- constructors

    @classmethod
    def from_xml(
        cls,
        xml_text: str | bytes,
        *,
        base: ProfileSet | None = None,
        global_lookup: GlobalLookup | None = None,
    ) -> ProfileSet:
        """A kazoo.conf document, as ecallmgr answers the ``request-handlers`` lookup.

        Sections the document lacks (``<definitions>``, ``<event-handlers>``,
        ``<fetch-handlers>``, ``<variables>``) are taken from ``base`` (the set in
        force), as mod_kazoo keeps its current ones.  ``<event-handlers>``
        without a profile named ``default`` is an error.
        """
        document = parse_document(xml_text)
        return cls._from_document(document, base, global_lookup)

    @classmethod
    def _from_document(
        cls, document: Document, base: ProfileSet | None, global_lookup: GlobalLookup | None
    ) -> ProfileSet:
        event_profile = base.event_profile if base is not None else None
        if document.event_profiles is not None:
            named = [p for p in document.event_profiles if p.name == EVENT_PROFILE_NAME]
            if not named:
                raise ProfileError(
                    f"event-handlers: no <profile name={EVENT_PROFILE_NAME!r}>"
                    " (the only event profile used)"
                )
            event_profile = named[0]
        definitions = document.definitions
        if definitions is None:
            definitions = base.definitions if base is not None else ()
        fetch = document.fetch_profiles
        if fetch is None:
            fetch = base.fetch_profiles if base is not None else ()
        variables = document.variables
        if variables is None:
            variables = base.variables if base is not None else ()
        if global_lookup is None and base is not None:
            global_lookup = base.global_lookup
        return cls(
            definitions=definitions,
            event_profile=event_profile,
            fetch_profiles=fetch,
            variables=variables,
            global_lookup=global_lookup,
        )

    @classmethod
    def from_parts(
        cls,
        definitions: Iterable[str | bytes],
        events: Iterable[str | bytes],
        fetch: Iterable[str | bytes],
        event_profile: str | bytes | None = None,
        *,
        variables: Iterable[tuple[str, str]] = (),
        global_lookup: GlobalLookup | None = None,
    ) -> ProfileSet:
        """Build from separate files, as Kazoo keeps them (``definitions/*.xml`` and so on).

        ``event_profile`` is the event ``<profile>`` wrapper (its name, filters and
        fields); it defaults to an empty profile named ``default``.  The ``<event>``
        files give the events; an event the wrapper merely lists (an empty
        ``<event name=.../>``) is kept only when no file defines it.
        """
        definition_specs: list[DefinitionSpec] = []
        for text in definitions:
            definition_specs.extend(parse_definitions(text))
        event_specs: list[EventSpec] = []
        for text in events:
            event_specs.extend(parse_events(text))
        fetch_specs = tuple(parse_fetch_profile(text) for text in fetch)
        if event_profile is None:
            profile = EventProfileSpec(
                name=EVENT_PROFILE_NAME,
                filters=(),
                fields=None,
                events=(),
                where="event-handlers > profile 'default'",
            )
        else:
            profile = parse_event_profile(event_profile)
        defined = {binding_key(spec.name) for spec in event_specs}
        listed = [
            spec
            for spec in profile.events
            if not (spec.is_empty and binding_key(spec.name) in defined)
        ]
        profile = attrs.evolve(profile, events=(*event_specs, *listed))
        return cls(
            definitions=tuple(definition_specs),
            event_profile=profile,
            fetch_profiles=fetch_specs,
            variables=tuple(variables),
            global_lookup=global_lookup,
        )

    def with_global_lookup(self, global_lookup: GlobalLookup | None) -> ProfileSet:
        """The same profiles answering globals from ``global_lookup`` (recompiles)."""
        return attrs.evolve(self, global_lookup=global_lookup)

    # ---------------------------------------------------------------- lookups

    @property
    def event_names(self) -> tuple[str, ...]:
        return tuple(plan.name for plan in self._events.values())

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Header-name prefixes the plans scan events for."""
        return self._prefixes.prefixes

    def event_definition(self, binding: str) -> EventPlan | None:
        """The plan for a binding: a core event name (any case, optional ``SWITCH_EVENT_``)
        or a CUSTOM subclass (case-insensitive)."""
        return self._events.get(binding_key(binding))

    def _plan(self, binding: str) -> EventPlan | None:
        # Streams name the same few bindings for every event.
        memo = self._by_binding
        try:
            return memo[binding]
        except KeyError:
            pass
        plan = self._events.get(binding_key(binding))
        if len(memo) >= _BINDING_MEMO_MAX:
            memo.clear()
        memo[binding] = plan
        return plan

    def may_pass(self, binding: str, known: Mapping[str, str | None]) -> bool:
        """``False`` when the events of ``binding`` holding the ``known`` headers
        (lower-cased name → the event's only value under it, ``None`` for none) are
        surely rejected by a filter: :meth:`build_event` would give ``None`` for each."""
        plan = self._plan(binding)
        return plan is None or plan.may_pass(known)

    def fetch_plan(self, section: str) -> FetchPlan | None:
        """The first fetch profile serving ``section`` (``None``: FreeSWITCH gets nothing)."""
        # Lookups name the same few sections: remember the answers (bounded).
        memo = self._by_section
        try:
            return memo[section]
        except KeyError:
            pass
        plan = self._fetch_plan(section)
        if len(memo) >= _BINDING_MEMO_MAX:
            memo.clear()
        memo[section] = plan
        return plan

    def _fetch_plan(self, section: str) -> FetchPlan | None:
        wanted = parse_sections(section)
        if not wanted:
            return None
        for plan in self._fetch:
            if wanted & plan.sections:
                return plan
        return None

    def _globals(self, override: GlobalLookup | None) -> GlobalLookup:
        # An encoder passes the same override for every event: make its lookup once.
        last = self._last_globals
        if last and last[0][0] is override:
            return last[0][1]
        variables = self._variables
        fallback = override if override is not None else self.global_lookup
        if fallback is None:
            found: GlobalLookup = variables.get
        else:

            def lookup(name: str) -> str | None:
                value = variables.get(name)
                return value if value is not None else fallback(name)

            found = lookup
        last[:] = [(override, found)]
        return found

    def _view(
        self,
        headers: tuple[tuple[str, str], ...],
        body: str | None,
        encoding: Encoding,
        global_lookup: GlobalLookup | None,
    ) -> HeaderView:
        return HeaderView(
            headers,
            body,
            prefixes=self._prefixes,
            global_lookup=self._globals(global_lookup),
            encoding=encoding,
        )

    # ---------------------------------------------------------------- building

    def build_event(
        self,
        event: Event,
        *,
        binding: str | None = None,
        encoding: Literal["json", "map"] = "json",
        global_lookup: GlobalLookup | None = None,
    ) -> object | None:
        """The JObj term for ``{event, json, JObj}`` (or the map for ``map``).

        ``binding`` is the name the stream bound (defaults to the event's own
        name, its subclass for CUSTOM events).  ``None`` when a profile or event
        filter rejects the event (it must not be sent).  A binding without a
        definition gets :func:`verbose_event`.
        """
        checked = _check_encoding(encoding)
        if binding is None:
            binding = _event_binding(event)
        plan = self._plan(binding)
        if plan is None:
            return verbose_event(event, encoding=checked)
        obj = plan.build(self._view(event.headers, event.body, checked, global_lookup))
        if obj is None:
            return None
        return _finish(obj, checked)

    def build_fetch(
        self,
        section: str,
        headers: Event | Iterable[tuple[str, str]],
        *,
        encoding: Literal["json", "map"] = "json",
        global_lookup: GlobalLookup | None = None,
    ) -> object | None:
        """The JObj term for ``{fetch, JObj}`` of an XML lookup in ``section``.

        ``headers`` is the lookup's parameter event (with ``Fetch-*`` headers
        already added).  ``None`` when no fetch profile serves the section.
        """
        checked = _check_encoding(encoding)
        plan = self.fetch_plan(section)
        if plan is None:
            return None
        if isinstance(headers, Event):
            pairs, body = headers.headers, headers.body
        else:
            pairs, body = tuple((str(k), str(v)) for k, v in headers), None
        return _finish(plan.build(self._view(pairs, body, checked, global_lookup)), checked)

    def build_payload(
        self,
        event: Event,
        *,
        binding: str | None = None,
        encoding: Literal["json", "map"] = "json",
        global_lookup: GlobalLookup | None = None,
    ) -> bytes | None:
        """``term_to_binary({event, json | map, JObj})`` of :meth:`build_event`'s JObj.

        The same bytes as encoding the term, written straight from the object
        being built (and, for bindings without a definition, from the headers:
        :func:`verbose_payload`).  ``None`` when a filter rejects the event.
        """
        checked = _check_encoding(encoding)
        if checked == "json":
            if binding is None:
                binding = _event_binding(event)
            plan = self._plan(binding)
            if plan is None:
                return verbose_payload(event)
            obj = plan.build(self._view(event.headers, event.body, checked, global_lookup))
            if obj is None:
                return None
            return encode_object_event(JSON, obj)
        term = self.build_event(
            event, binding=binding, encoding=checked, global_lookup=global_lookup
        )
        if term is None:
            return None
        return encode((EVENT, MAP, term))

    def encoder(self, global_lookup: GlobalLookup | None = None) -> ProfileEncoder:
        """A ``(event, binding, encoding) -> JObj | None`` callable for the event streams.

        Its :meth:`~ProfileEncoder.payload` gives the encoded event directly.
        """
        return ProfileEncoder(self, global_lookup)


@attrs.frozen
class ProfileEncoder:
    """The event streams' :data:`JsonEncoder` for one profile set (and globals lookup).

    Calling it gives the JObj term; :meth:`payload` the whole encoded
    ``{event, json | map, JObj}``, byte-identical and faster.
    """

    profiles: ProfileSet
    global_lookup: GlobalLookup | None = None

    def __call__(self, event: Event, binding: str | None, encoding: str) -> object:
        return self.profiles.build_event(
            event,
            binding=binding,
            encoding=_check_encoding(encoding),
            global_lookup=self.global_lookup,
        )

    def may_pass(self, binding: str, known: Mapping[str, str | None]) -> bool:
        """See :meth:`ProfileSet.may_pass` (the globals take no part in it)."""
        return self.profiles.may_pass(binding, known)

    def payload(self, event: Event, binding: str | None, encoding: str) -> bytes | None:
        return self.profiles.build_payload(
            event,
            binding=binding,
            encoding=_check_encoding(encoding),
            global_lookup=self.global_lookup,
        )


def _event_binding(event: Event) -> str:
    if event.name.upper() == "CUSTOM":
        subclass = event.subclass or event.get("Event-Subclass")
        if subclass:
            return subclass
    return event.name
