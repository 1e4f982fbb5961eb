"""A switch's event bus: events built with FreeSWITCH's standard headers, and their
synchronous fan-out to listeners.  Shared by every switch backend; above :mod:`.headers`
and :mod:`.clock`."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable

import attrs

from kazoo_trio.switch.clock import Clock
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.headers import (
    UNIQUE_HEADER_EVENTS,
    EventOrigin,
    StandardHeaders,
    add_headers,
)
from kazoo_trio.switch.names import core_event_name
from kazoo_trio.switch.protocol import EventListener, EventNameError, SwitchIdentity

__all__ = ["EventBus"]

log = logging.getLogger(__name__)


@attrs.frozen(eq=False)
class _Subscription:
    listener: EventListener


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
    _listeners: list[_Subscription] = attrs.field(init=False, factory=list)

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
        canonical = core_event_name(name)
        if canonical is None:
            raise EventNameError(f"unknown core event name {name!r}")
        if subclass is not None and canonical not in ("CUSTOM", "CLONE"):
            raise EventNameError(f"a subclass needs a CUSTOM event, not {canonical}")
        built = self._standard.build(
            canonical, subclass, next(self._sequence), self.clock.wall_us(), origin
        )
        body_header = add_headers(built, headers, unique=canonical in UNIQUE_HEADER_EVENTS)
        if body is None:
            body = body_header
        return Event(canonical, built, body, subclass)

    @staticmethod
    def add_headers(event: Event, headers: Iterable[tuple[str, str]]) -> Event:
        """``event`` with ``headers`` added by FreeSWITCH's rules (see :meth:`new_event`)."""
        built = list(event.headers)
        body = add_headers(built, headers, unique=event.name in UNIQUE_HEADER_EVENTS)
        return attrs.evolve(event, headers=built, body=event.body if body is None else body)

    def fire(self, event: Event) -> None:
        """See :meth:`kazoo_trio.switch.protocol.Switch.fire`."""
        for subscription in list(self._listeners):
            try:
                subscription.listener(event)
            except Exception:
                log.exception("event listener %r failed on %s", subscription.listener, event.name)

    def add_listener(self, listener: EventListener) -> Callable[[], None]:
        """See :meth:`kazoo_trio.switch.protocol.Switch.add_listener`."""
        # A wrapper per subscription: the same callable may be added twice, and each
        # remove function must take away its own subscription only.
        subscription = _Subscription(listener)
        self._listeners.append(subscription)

        def remove() -> None:
            if subscription in self._listeners:
                self._listeners.remove(subscription)

        return remove
