"""The switch's event value, shared by every backend and by the mod_kazoo server."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

__all__ = ["Event"]


def _headers(value: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    # A tuple is taken as it is: events are copied on hot paths (one private copy
    # per stream and event), and re-validating 90 pairs each time costs more than
    # the rest of the copy.  Other iterables are normalised to (str, str) pairs.
    if type(value) is tuple:
        return value
    # A list first: a tuple built from a generator costs more per item.
    return tuple([(str(name), str(val)) for name, val in value])


@attrs.frozen
class Event:
    """A FreeSWITCH event: a name, ordered and repeatable headers, an optional body.

    ``headers`` keeps FreeSWITCH's order; a name may appear more than once
    (a multi-value header).  ``name`` is the core event name (``"CUSTOM"`` for
    custom events, whose ``subclass`` then names them, e.g. ``"sofia::register"``).
    Events are immutable: code that needs a changed copy (a stream adding
    ``Target-Node``) builds a new one with :meth:`with_headers`, so one event can be
    handed to many consumers safely.
    """

    name: str
    headers: tuple[tuple[str, str], ...] = attrs.field(converter=_headers, default=())
    body: str | None = None
    subclass: str | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name``, compared exactly (see :meth:`get_ci`)."""
        for key, value in self.headers:
            if key == name:
                return value
        return default

    def get_ci(self, name: str, default: str | None = None) -> str | None:
        """Like :meth:`get` but ignoring ASCII case, as ``switch_event_get_header`` does."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.headers)

    def __contains__(self, name: object) -> bool:
        return any(key == name for key, _ in self.headers)

    @property
    def unique_id(self) -> str | None:
        return self.get("Unique-ID")

    def with_headers(self, *extra: tuple[str, str]) -> Event:
        """A copy with ``extra`` headers appended."""
        # Built directly: attrs.evolve looks the class's fields up on every call, and
        # events are copied on hot paths (each lookup, each stream's private copy).
        return Event(self.name, self.headers + extra, self.body, self.subclass)

    def replace_headers(self, headers: Iterable[tuple[str, str]]) -> Event:
        """A copy with ``headers`` instead of its own."""
        return Event(self.name, headers, self.body, self.subclass)
