"""Compiled plans: what building one JSON object runs, with no XML left in it.

A plan is a filter predicate plus its fields: closures (references already
inlined, literal values already converted), fused into one generated function
by :mod:`~kazoo_trio.kazoo.profiles.fuse`.  ``build`` fills a ``dict``
with binary keys; :func:`~kazoo_trio.kazoo.profiles.jsonterm.freeze_object`
turns it into the ``{[{K, V}]}`` form when the caller wants that encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from kazoo_trio.kazoo.profiles.filters import Predicate, QuickCheck
from kazoo_trio.kazoo.profiles.jsonterm import number_term
from kazoo_trio.kazoo.profiles.view import HeaderView

__all__ = ["EVENT_TIMESTAMP", "Apply", "EventPlan", "FetchPlan", "start_object"]

Apply = Callable[[HeaderView, dict[bytes, object]], object]
"""A compiled field: adds its keys (if any) to the object being built; the result is unused."""

EVENT_TIMESTAMP = b"Event-Timestamp"
"""The only key an object built without ``verbose`` holds before its fields run."""


def start_object(view: HeaderView, verbose: bool) -> dict[bytes, object]:
    """The initial object: every header when verbose, then ``Event-Timestamp``."""
    obj: dict[bytes, object] = {}
    if verbose:
        view.copy_all(obj)
    stamp = view.first.get("event-date-timestamp")
    if stamp is not None:
        obj.pop(EVENT_TIMESTAMP, None)
        obj[EVENT_TIMESTAMP] = number_term(stamp)
    return obj


@attrs.frozen
class EventPlan:
    """The compiled ``<event>`` of the event profile (profile filters and fields included)."""

    name: str
    where: str
    verbose: bool
    filter: Predicate | None = attrs.field(repr=False)
    fields: tuple[Apply, ...] = attrs.field(repr=False)
    # The filter's verdict from a few headers known before the event is made.
    quick: QuickCheck | None = attrs.field(default=None, repr=False)

    def may_pass(self, known: Mapping[str, str | None]) -> bool:
        """``False`` when the filter surely rejects an event holding the ``known``
        headers (lower-cased name → its only value, ``None`` for none)."""
        return self.quick is None or self.quick(known)

    def build(self, view: HeaderView) -> dict[bytes, object] | None:
        """The object for one event, or ``None`` when a profile or event filter rejects it."""
        if self.filter is not None and not self.filter(view):
            return None
        obj = start_object(view, self.verbose)
        for apply in self.fields:
            apply(view, obj)
        return obj


@attrs.frozen
class FetchPlan:
    """A compiled fetch profile: the sections it serves and its ``fetch-timeout`` (µs)."""

    name: str
    where: str
    sections: frozenset[str]
    timeout_us: int
    verbose: bool
    fields: tuple[Apply, ...] = attrs.field(repr=False)

    def build(self, view: HeaderView) -> dict[bytes, object]:
        obj = start_object(view, self.verbose)
        for apply in self.fields:
            apply(view, obj)
        return obj
