"""How the simulated core builds events: FreeSWITCH's standard headers and header rules.
Shared by every switch backend."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from operator import itemgetter

import attrs

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import SwitchIdentity

__all__ = [
    "UNIQUE_HEADER_EVENTS",
    "EventOrigin",
    "PlainHeaders",
    "StandardHeaders",
    "add_headers",
    "event_index_lookup",
    "event_lookup",
    "gmt_date",
    "known_values",
    "local_date",
]

# Events of these types keep one value per header name (FreeSWITCH's EF_UNIQ_HEADERS).
UNIQUE_HEADER_EVENTS = frozenset({"REQUEST_PARAMS", "CHANNEL_DATA", "MESSAGE"})

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@attrs.frozen
class EventOrigin:
    """Where an event was created: ``Event-Calling-File/-Function/-Line-Number``."""

    file: str
    function: str
    line: int

    @classmethod
    def caller(cls, depth: int = 2) -> EventOrigin:
        """The Python code ``depth`` frames up, like FreeSWITCH's ``__FILE__``/``__LINE__``."""
        frame = sys._getframe(depth)
        code = frame.f_code
        return cls(os.path.basename(code.co_filename), code.co_name, frame.f_lineno)


def gmt_date(us: int) -> str:
    """apr_rfc822_date: ``Fri, 27 Nov 2026 13:36:45 GMT`` (English names, any locale)."""
    t = time.gmtime(us // 1_000_000)
    return (
        f"{_WEEKDAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def local_date(us: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us // 1_000_000))


class _Lowered(dict[str, str]):
    """Header name → its lower-cased form, remembered: names recur from event to event,
    and a dictionary hit costs less than the call."""

    LIMIT = 20_000

    def __missing__(self, name: str) -> str:
        if len(self) >= self.LIMIT:
            self.clear()
        lowered = self[name] = name.lower()
        return lowered


_lowered = _Lowered()


def _appended(
    headers: list[tuple[str, str]], pairs: list[tuple[str, str]] | tuple[tuple[str, str], ...]
) -> list[tuple[str, str]] | tuple[tuple[str, str], ...] | None:
    """The pairs :func:`add_headers` appends, unchanged, for ``pairs`` added to
    ``headers`` in an event without unique headers; ``None`` when that takes the
    general rules (an ``ARRAY::`` value, ``_body``, an empty value deleting an earlier
    header, anything but ``(text, text)`` tuples).

    Channel data is mostly plain pairs, and a few empty values that delete nothing:
    these tests run in C rather than once per pair in Python.
    """
    if not pairs:
        return pairs
    if set(map(type, pairs)) != _TUPLE_ONLY:
        return None
    try:
        names, values = zip(*pairs, strict=True)
        joined = "\0".join(values)
    except (ValueError, TypeError):
        return None
    if "_body" in names or values[0].startswith("ARRAY::") or "\0ARRAY::" in joined:
        return None
    if all(values):
        return pairs
    # An empty value adds nothing and deletes the earlier headers of its name: kept
    # out when there are none.
    try:
        lowered = list(map(_lowered.__getitem__, names))
        before = set(map(_lowered.__getitem__, [name for name, _ in headers]))
    except (AttributeError, TypeError):
        return None
    kept: list[tuple[str, str]] = []
    start = 0
    empty = values.index("")
    while True:
        low = lowered[empty]
        if low in before or low in lowered[:empty]:
            return None
        kept += pairs[start:empty]
        start = empty + 1
        try:
            empty = values.index("", start)
        except ValueError:
            break
    kept += pairs[start:]
    return kept


_TUPLE_ONLY = {tuple}

_name_of = itemgetter(0)
_value_of = itemgetter(1)


class PlainHeaders(list[tuple[str, str]]):
    """Header pairs whose first :attr:`plain` pairs :func:`add_headers` appends as they
    are to an event without unique headers: ``(text, text)`` tuples, none named
    ``_body``, none with an empty or ``ARRAY::`` value.  Made by :func:`vouched`;
    the pairs after them (appended later) are added by the rules as usual."""

    __slots__ = ("plain",)

    def __init__(self, pairs: Iterable[tuple[str, str]], plain: int) -> None:
        super().__init__(pairs)
        self.plain = plain


def vouched(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``pairs`` as :class:`PlainHeaders` when every value is non-empty text that does
    not start with ``ARRAY::``, else ``pairs`` unchanged.

    Only for pairs made as tuples whose names are text other than ``_body``: the
    values are then all that :func:`add_headers` would look at, and one joining pass
    in C checks them (a channel's data is most of every channel event).
    """
    try:
        joined = "\0".join(map(_value_of, pairs))
    except (TypeError, IndexError):
        return pairs
    if (
        not joined
        or joined[0] == "\0"
        or joined[-1] == "\0"
        or "\0\0" in joined
        or joined.startswith("ARRAY::")
        or "\0ARRAY::" in joined
    ):
        # An empty value (or a NUL in one, which only makes this look again).
        return pairs
    return PlainHeaders(pairs, len(pairs))


def _distinct_names(
    headers: list[tuple[str, str]], pairs: list[tuple[str, str]] | tuple[tuple[str, str], ...]
) -> bool:
    """Whether no two of ``pairs``, nor any of them and a header of ``headers``, share a
    name (ignoring case): then adding them to an event with unique headers replaces
    nothing, which is adding them by the plain rules."""
    lowered = _lowered.__getitem__
    try:
        names = set(map(lowered, map(_name_of, pairs)))
        return len(names) == len(pairs) and names.isdisjoint(map(lowered, map(_name_of, headers)))
    except (TypeError, AttributeError, IndexError, KeyError):
        return False


def add_headers(
    headers: list[tuple[str, str]], extra: Iterable[tuple[str, str]], unique: bool
) -> str | None:
    """Append like ``switch_event_add_header_string``; returns a ``_body`` value if any.

    Empty values are not added (FreeSWITCH deletes the header instead), ``ARRAY::a|:b``
    adds one header per item, and events with unique headers replace earlier values.
    """
    if unique:
        if type(extra) is not list and type(extra) is not tuple and type(extra) is not PlainHeaders:
            extra = list(extra)
        # Channel data and lookup parameters mostly have distinct names: nothing to
        # replace, and the plain rules' fast paths apply.
        unique = not _distinct_names(headers, extra)
    if not unique:
        if type(extra) is PlainHeaders:
            plain = extra.plain
            if plain >= len(extra):
                headers.extend(extra)
                return None
            headers.extend(extra[:plain])
            extra = extra[plain:]
        pairs = extra if type(extra) is list or type(extra) is tuple else list(extra)
        appended = _appended(headers, pairs)
        if appended is not None:
            headers.extend(appended)
            return None
        extra = pairs
    body: str | None = None
    # The lower-cased names of ``headers[:synced]``, made on the first deletion and
    # caught up only at the next one: channel data carries many empty values, and
    # scanning the whole list (or lower-casing each name as it is added) for each of
    # them cost more than building the rest of the event.
    present: set[str] | None = None
    synced = 0
    lowered = _lowered
    append = headers.append
    for name, value in extra:
        if name == "_body":
            body = value
        if value and not unique:
            if value.startswith("ARRAY::"):
                headers.extend((name, item) for item in value[7:].split("|:"))
            else:
                append((name, value))
            continue
        low = lowered[name]
        if present is None:
            present = set()
        if synced < len(headers):
            present.update([lowered[k] for k, _ in headers[synced:]])
            synced = len(headers)
        if low in present:
            headers[:] = [(k, v) for k, v in headers if lowered[k] != low]
            present.discard(low)
            synced = len(headers)
        if not value:
            continue
        if value.startswith("ARRAY::"):
            headers.extend((name, item) for item in value[7:].split("|:"))
        else:
            append((name, value))
    return body


def known_values(extra: Iterable[tuple[str, str]]) -> dict[str, str | None]:
    """What :func:`add_headers` makes of ``extra`` in an event without unique headers,
    as :meth:`~kazoo_trio.switch.bus.EventBus.wanted` takes it: name → the one value
    added, ``None`` for an empty value (nothing added).

    Names given more than once (ignoring case) and ``ARRAY::`` values, which add
    several headers, are left out.  Only right when the event's other headers never
    use these names.
    """
    known: dict[str, str | None] = {}
    names: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in extra:
        low = name.lower()
        if low in names or low in repeated:
            known.pop(names.pop(low, name), None)
            repeated.add(low)
            continue
        names[low] = name
        if value.startswith("ARRAY::"):
            continue
        known[name] = value or None
    return known


def event_lookup(event: Event | None) -> Callable[[str], str | None]:
    """``switch_event_get_header`` for expansion: case-insensitive, ``_body`` is the
    body, several values read as FreeSWITCH's ``ARRAY::a|:b`` text."""

    def lookup(name: str) -> str | None:
        if event is None:
            return None
        lowered = name.lower()
        values = [v for k, v in event.headers if k.lower() == lowered]
        if not values:
            return event.body if name == "_body" else None
        if len(values) == 1:
            return values[0]
        return "ARRAY::" + "|:".join(values)

    return lookup


def event_index_lookup(event: Event | None) -> Callable[[str, int], str | None]:
    """``${name[n]}``: the n-th value of a header that has several (else ``None``)."""

    def lookup(name: str, index: int) -> str | None:
        if event is None:
            return None
        lowered = name.lower()
        values = [v for k, v in event.headers if k.lower() == lowered]
        return values[index] if len(values) > 1 and index < len(values) else None

    return lookup


@attrs.define(eq=False)
class StandardHeaders:
    """The headers ``switch_event_prep_for_delivery`` gives every new event, in its
    order, then ``Event-Subclass`` for a subclassed event.

    Every event the switch makes starts here, so what does not change is made once:
    the identity's headers for the switch's life, the date texts once a second (and
    again when the time zone is reset with :func:`time.tzset`).
    """

    identity: SwitchIdentity
    _identity_headers: list[tuple[str, str]] = attrs.field(init=False)
    _dates: tuple[tuple[str, str], tuple[str, str]] = attrs.field(
        init=False, default=(("", ""),) * 2
    )
    _second: int = attrs.field(init=False, default=-1)
    _tzname: object = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        identity = self.identity
        self._identity_headers = []
        add_headers(
            self._identity_headers,
            [
                ("Core-UUID", identity.core_uuid),
                ("FreeSWITCH-Hostname", identity.hostname),
                ("FreeSWITCH-Switchname", identity.switchname or identity.hostname),
                ("FreeSWITCH-IPv4", identity.ipv4),
                ("FreeSWITCH-IPv6", identity.ipv6),
            ],
            unique=False,
        )

    def build(
        self, name: str, subclass: str | None, sequence: int, now_us: int, origin: EventOrigin
    ) -> list[tuple[str, str]]:
        """The standard headers of a new event ``name`` (a core event name)."""
        second = now_us // 1_000_000
        if second != self._second or time.tzname is not self._tzname:
            self._dates = (
                ("Event-Date-Local", local_date(now_us)),
                ("Event-Date-GMT", gmt_date(now_us)),
            )
            self._second = second
            self._tzname = time.tzname
        headers = [("Event-Name", name), *self._identity_headers, *self._dates]
        headers.append(("Event-Date-Timestamp", str(now_us)))
        file, function = origin.file, origin.function
        if _plain_text(file) and _plain_text(function):
            # What add_headers makes of them: no header before has their names.
            headers.append(("Event-Calling-File", file))
            headers.append(("Event-Calling-Function", function))
        else:
            add_headers(
                headers,
                (("Event-Calling-File", file), ("Event-Calling-Function", function)),
                unique=False,
            )
        headers.append(("Event-Calling-Line-Number", str(origin.line)))
        headers.append(("Event-Sequence", str(sequence)))
        if subclass:
            if _plain_text(subclass):
                headers.append(("Event-Subclass", subclass))
            else:
                add_headers(headers, (("Event-Subclass", subclass),), unique=False)
        return headers


def _plain_text(value: object) -> bool:
    """A value :func:`add_headers` appends as it is (under a name not seen before)."""
    return type(value) is str and value != "" and not value.startswith("ARRAY::")
