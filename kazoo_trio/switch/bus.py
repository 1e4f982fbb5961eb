"""A switch's event bus: events built with FreeSWITCH's standard headers, and their
synchronous fan-out to listeners.  Shared by every switch backend; above :mod:`.headers`
and :mod:`.clock`."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Mapping
from operator import itemgetter
from typing import Protocol, runtime_checkable

import attrs

from kazoo_trio.switch.clock import Clock
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.headers import (
    UNIQUE_HEADER_EVENTS,
    EventOrigin,
    PlainHeaders,
    StandardHeaders,
    add_headers,
)
from kazoo_trio.switch.names import core_event_name
from kazoo_trio.switch.protocol import EventListener, EventNameError, SwitchIdentity

__all__ = [
    "EVERY_EVENT",
    "EventBus",
    "EventNames",
    "ReservedEvent",
    "SelectiveListener",
    "selective",
]

log = logging.getLogger(__name__)


# The names events are made with most, already canonical: no parsing for them.
_CANONICAL = {
    name: name
    for name in (
        "API",
        "GENERAL",
        "CUSTOM",
        "CHANNEL_STATE",
        "CHANNEL_CALLSTATE",
        "CHANNEL_CREATE",
        "CHANNEL_ANSWER",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_DESTROY",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_DATA",
        "CHANNEL_PARK",
    )
}


@attrs.frozen
class EventNames:
    """Which events a listener may want, by name: core event names (``CUSTOM`` for
    CUSTOM events of any subclass) and CUSTOM subclasses, or ``every`` event."""

    core: frozenset[str] = frozenset()
    subclasses: frozenset[str] = frozenset()
    every: bool = False

    def __or__(self, other: EventNames) -> EventNames:
        if self.every or other.every:
            return EVERY_EVENT
        return EventNames(self.core | other.core, self.subclasses | other.subclasses)


EVERY_EVENT = EventNames(every=True)


@runtime_checkable
class SelectiveListener(Protocol):
    """An event listener that says which events it wants before any is built.

    Events nobody wants are not built at all (their sequence number is still
    taken, so what is delivered is numbered as if they had been).  A listener
    without ``wants`` wants every event.

    It may also have ``wants_headers(name, subclass, known)``: the same question for
    an event that will hold the ``known`` headers (header name → the event's only
    value under that name, compared ignoring case, or ``None`` when it will have
    none).  It is asked instead of ``wants`` when the switch knows such headers, and
    must answer ``False`` only for events it would ignore whatever their other headers.

    It may also have ``wanted_names()``: an :class:`EventNames` covering every event
    ``wants`` may accept now, for a switch that receives its events from elsewhere
    only as far as they are named.  Such a listener tells the switch when its names
    change (:class:`~kazoo_trio.switch.protocol.FollowsListeners`).  Without it, or for
    a listener that is not selective, the switch receives every event.
    """

    def __call__(self, event: Event) -> None: ...

    def wants(self, name: str, subclass: str | None) -> bool:
        """Whether an event ``name`` (a core event name) with ``subclass`` may concern it."""
        ...


HeadersPredicate = Callable[[str, "str | None", Mapping[str, "str | None"]], bool]


@attrs.frozen(eq=False)
class _Selective:
    listener: EventListener
    predicate: Callable[[str, str | None], bool]
    names: Callable[[], EventNames] | None = attrs.field(default=None, kw_only=True)

    def __call__(self, event: Event) -> None:
        self.listener(event)

    def wants(self, name: str, subclass: str | None) -> bool:
        return self.predicate(name, subclass)

    def wanted_names(self) -> EventNames:
        return EVERY_EVENT if self.names is None else self.names()


@attrs.frozen(eq=False)
class _HeadersSelective(_Selective):
    headers_predicate: HeadersPredicate

    def wants_headers(
        self, name: str, subclass: str | None, known: Mapping[str, str | None]
    ) -> bool:
        return self.headers_predicate(name, subclass, known)


def selective(
    listener: EventListener,
    wants: Callable[[str, str | None], bool],
    *,
    wants_headers: HeadersPredicate | None = None,
    names: Callable[[], EventNames] | None = None,
) -> SelectiveListener:
    """``listener``, declaring that it only cares for the events ``wants`` accepts
    (and, when given, ``wants_headers``, and ``names`` naming them: see
    :class:`SelectiveListener`)."""
    if wants_headers is None:
        return _Selective(listener, wants, names=names)
    return _HeadersSelective(listener, wants, wants_headers, names=names)


@attrs.frozen(eq=False)
class _Subscription:
    listener: EventListener
    # What fire() calls: the listener, or the one a selective() wrapper passes events to.
    deliver: EventListener
    wants: Callable[[str, str | None], bool] | None
    wants_headers: HeadersPredicate | None = None
    names: Callable[[], EventNames] | None = None


@attrs.frozen
class ReservedEvent:
    """An event whose number and time are taken but whose headers are not built yet.

    :meth:`EventBus.build` makes it, identical to the event :meth:`EventBus.new_event`
    would have made at the moment it was reserved.
    """

    name: str
    subclass: str | None
    sequence: int
    now_us: int
    origin: EventOrigin


_name_of = itemgetter(0)


def _text_pairs(
    built: list[tuple[str, str]],
) -> tuple[tuple[str, str], ...] | list[tuple[str, str]]:
    """``built`` as the tuple :class:`Event` keeps, when it needs no normalising.

    :func:`add_headers` appends only pairs it made, with text values (anything else
    fails there or, when empty, is left out), and the standard headers are text: only
    a name can be something else, which one joining pass finds without a Python loop.
    Otherwise the list goes to :class:`Event`, which turns every name and value into text.
    """
    try:
        "".join(map(_name_of, built))
    except TypeError:
        return built
    return tuple(built)


def _new_identity(bus: EventBus, attribute: object, identity: SwitchIdentity) -> SwitchIdentity:
    bus._standard = StandardHeaders(identity)
    return identity


@attrs.define(eq=False)
class EventBus:
    """Builds events as ``switch_event_create`` does (sequence numbers, the switch's
    identity, the clock) and fires them to every listener, in subscription order.

    ``identity`` may be replaced at any time; later events carry the new values.
    """

    identity: SwitchIdentity = attrs.field(on_setattr=_new_identity)
    clock: Clock
    _standard: StandardHeaders = attrs.field(init=False)
    _sequence: itertools.count[int] = attrs.field(init=False, factory=lambda: itertools.count(1))
    # Replaced, never changed in place: fire() goes through the subscriptions of the
    # moment it starts without copying them, whatever its listeners add or remove.
    _listeners: tuple[_Subscription, ...] = attrs.field(init=False, default=())

    def __attrs_post_init__(self) -> None:
        self._standard = StandardHeaders(self.identity)

    def new_event(
        self,
        name: str,
        *,
        subclass: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: str | None = None,
        origin: EventOrigin,
    ) -> Event:
        """See :meth:`kazoo_trio.switch.protocol.Switch.new_event`."""
        return self.build(self.reserve(name, subclass=subclass, origin=origin), headers, body)

    def reserve(
        self, name: str, *, subclass: str | None = None, origin: EventOrigin
    ) -> ReservedEvent:
        """Take the next event's sequence number and time, for :meth:`build` later.

        Code that may not need its event (nobody :meth:`wanted` it) reserves it where
        it would have created it, so the numbering and times of every other event
        stay those of a switch that builds them all.
        """
        canonical = _CANONICAL.get(name)
        if canonical is None:
            canonical = core_event_name(name)
            if canonical is None:
                raise EventNameError(f"unknown core event name {name!r}")
        if subclass is not None and canonical not in ("CUSTOM", "CLONE"):
            raise EventNameError(f"a subclass needs a CUSTOM event, not {canonical}")
        return ReservedEvent(
            canonical, subclass, next(self._sequence), self.clock.wall_us(), origin
        )

    def skip(self) -> None:
        """Take an event's sequence number for an event that is never used (nor built)."""
        next(self._sequence)

    def build(
        self,
        reserved: ReservedEvent,
        headers: Iterable[tuple[str, str]] = (),
        body: str | None = None,
    ) -> Event:
        """The event ``reserved`` stands for, with ``headers`` added (see :meth:`new_event`)."""
        name = reserved.name
        built = self._standard.build(
            name, reserved.subclass, reserved.sequence, reserved.now_us, reserved.origin
        )
        body_header = add_headers(built, headers, unique=name in UNIQUE_HEADER_EVENTS)
        if body is None:
            body = body_header
        if type(headers) is PlainHeaders and headers.plain == len(headers):
            # Every name is text: the standard headers' and the vouched pairs'.
            return Event(name, tuple(built), body, reserved.subclass)
        return Event(name, _text_pairs(built), body, reserved.subclass)

    def wanted(
        self,
        name: str,
        subclass: str | None = None,
        known: Mapping[str, str | None] | None = None,
    ) -> bool:
        """Whether firing an event ``name``/``subclass`` now would reach any listener
        that looks at it (see :class:`SelectiveListener`).

        ``known``: headers the event will hold (name → its only value under that name,
        compared ignoring case; ``None`` for none), for listeners that can judge by
        them.  Only what is certain belongs there: a header the event may also carry
        under another spelling or with more values must be left out.
        """
        if name not in _CANONICAL:
            name = core_event_name(name) or name
        for subscription in self._listeners:
            wants = subscription.wants
            if wants is None:
                return True
            by_headers = subscription.wants_headers
            if known is not None and by_headers is not None:
                if by_headers(name, subclass, known):
                    return True
            elif wants(name, subclass):
                return True
        return False

    def wanted_names(self) -> EventNames:
        """Every event some listener may want now, by name (see :class:`SelectiveListener`):
        :data:`EVERY_EVENT` as soon as one listener cannot name what it wants."""
        found = EventNames()
        for subscription in self._listeners:
            if subscription.names is None:
                return EVERY_EVENT
            found |= subscription.names()
            if found.every:
                break
        return found

    @staticmethod
    def add_headers(event: Event, headers: Iterable[tuple[str, str]]) -> Event:
        """``event`` with ``headers`` added by FreeSWITCH's rules (see :meth:`new_event`)."""
        built = list(event.headers)
        body = add_headers(built, headers, unique=event.name in UNIQUE_HEADER_EVENTS)
        return Event(event.name, built, event.body if body is None else body, event.subclass)

    def fire(self, event: Event) -> None:
        """See :meth:`kazoo_trio.switch.protocol.Switch.fire`."""
        for subscription in self._listeners:
            try:
                subscription.deliver(event)
            except Exception:
                log.exception("event listener %r failed on %s", subscription.listener, event.name)

    def add_listener(self, listener: EventListener) -> Callable[[], None]:
        """See :meth:`kazoo_trio.switch.protocol.Switch.add_listener`."""
        # A wrapper per subscription: the same callable may be added twice, and each
        # remove function must take away its own subscription only.
        wants: Callable[[str, str | None], bool] | None = (
            listener.wants if isinstance(listener, SelectiveListener) else None
        )
        by_headers: HeadersPredicate | None = (
            getattr(listener, "wants_headers", None) if wants is not None else None
        )
        deliver = listener
        if isinstance(listener, _Selective):
            # Asked about every event the switch may make: the predicates themselves,
            # not the methods that only pass the question on (nor the event).
            deliver = listener.listener
            wants = listener.predicate
            if isinstance(listener, _HeadersSelective):
                by_headers = listener.headers_predicate
        names: Callable[[], EventNames] | None = (
            getattr(listener, "wanted_names", None) if wants is not None else None
        )
        subscription = _Subscription(listener, deliver, wants, by_headers, names)
        self._listeners = (*self._listeners, subscription)

        def remove() -> None:
            listeners = self._listeners
            if subscription in listeners:
                index = listeners.index(subscription)
                self._listeners = listeners[:index] + listeners[index + 1 :]

        return remove
