"""Header building: the linear ``add_headers`` gives exactly what FreeSWITCH's rules,
applied one header at a time over the whole list, give; so do the events built from it."""

from __future__ import annotations

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.kazoo.streams.encoding import decoded_headers, prepare
from kazoo_trio.switch.bus import EventBus
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.headers import EventOrigin, StandardHeaders, add_headers
from kazoo_trio.switch.protocol import SwitchIdentity


def reference_add_headers(
    headers: list[tuple[str, str]], extra: list[tuple[str, str]], unique: bool
) -> str | None:
    """``switch_event_add_header_string`` one header at a time, the whole list rescanned
    for each deletion: the rule itself, however slow."""
    body: str | None = None
    for name, value in extra:
        if name == "_body":
            body = value
        if not value or unique:
            headers[:] = [(k, v) for k, v in headers if k.lower() != name.lower()]
            if not value:
                continue
        if value.startswith("ARRAY::"):
            headers.extend((name, item) for item in value[len("ARRAY::") :].split("|:"))
        else:
            headers.append((name, value))
    return body


# Few names, in several cases, so that deletions and replacements happen often.
names = st.sampled_from(
    [
        *("Unique-ID", "unique-id", "UNIQUE-ID", "variable_x", "Variable_X", "_body"),
        *("A", "a", "É", "é", "İ", "i̇", "ΑΣ", "ας", "a\0b", "b"),
    ]
)
values = st.one_of(
    st.just(""),
    st.sampled_from(["1", "x y", "ARRAY::p|:q", "ARRAY::", "ARRAY::|:", "%41"]),
    st.text(max_size=6),
)
pairs = st.lists(st.tuples(names, values), max_size=25)


@settings(max_examples=200, deadline=None)
@given(start=pairs, extra=pairs, unique=st.booleans())
def test_add_headers_matches_the_rule(
    start: list[tuple[str, str]], extra: list[tuple[str, str]], unique: bool
) -> None:
    fast, slow = list(start), list(start)
    assert add_headers(fast, extra, unique) == reference_add_headers(slow, extra, unique)
    assert fast == slow


@settings(max_examples=200, deadline=None)
@given(start=pairs, first=pairs, second=pairs, unique=st.booleans())
def test_add_headers_in_steps_matches_the_rule(
    start: list[tuple[str, str]],
    first: list[tuple[str, str]],
    second: list[tuple[str, str]],
    unique: bool,
) -> None:
    # A second call starts from the first one's result (nothing carried over).
    fast, slow = list(start), list(start)
    add_headers(fast, iter(first), unique)
    reference_add_headers(slow, first, unique)
    assert add_headers(fast, second, unique) == reference_add_headers(slow, second, unique)
    assert fast == slow


class _FixedClock:
    def wall_us(self) -> int:
        return 1_700_000_000_123_456

    def monotonic_us(self) -> int:
        return 0


IDENTITY = SwitchIdentity("fs1", "fs1", "10.0.0.1", "::1", "0c3a5e2e-8b71-4b0e-a0f5-6d2f1c9a7b31")


@settings(max_examples=200, deadline=None)
@given(extra=pairs, name=st.sampled_from(["CHANNEL_DATA", "CHANNEL_ANSWER", "REQUEST_PARAMS"]))
def test_built_events_match_the_rule(extra: list[tuple[str, str]], name: str) -> None:
    clock = _FixedClock()
    bus = EventBus(IDENTITY, clock)
    origin = EventOrigin("switch_channel.c", "switch_channel_event_set_data", 1)
    event = bus.new_event(name, headers=extra, origin=origin)
    expected = StandardHeaders(IDENTITY).build(name, None, 1, clock.wall_us(), origin)
    body = reference_add_headers(expected, extra, unique=name in ("CHANNEL_DATA", "REQUEST_PARAMS"))
    assert event == Event(name, tuple(expected), body)


@given(st.lists(st.tuples(st.text(max_size=4), st.text(max_size=4)), max_size=10))
def test_event_headers_from_a_list_are_the_same_pairs(headers: list[tuple[str, str]]) -> None:
    assert Event("CUSTOM", headers).headers == tuple(headers)


def test_names_that_are_not_text_are_still_normalised() -> None:
    bus = EventBus(IDENTITY, _FixedClock())
    origin = EventOrigin("switch_event.c", "x", 1)
    event = bus.new_event("CUSTOM", subclass="a::b", headers=[(7, "x")], origin=origin)  # type: ignore[list-item]
    assert event.headers[-1] == ("7", "x")
    assert all(type(k) is str and type(v) is str for k, v in event.headers)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.lists(st.tuples(names, values), max_size=15),
    body=st.one_of(st.none(), st.text(max_size=3)),
    subclass=st.one_of(st.none(), st.just("kazoo::noop")),
)
def test_stream_copy_is_the_evolved_event(
    headers: list[tuple[str, str]], body: str | None, subclass: str | None
) -> None:
    event = Event("CUSTOM", headers, body, subclass)
    copy = prepare(event, "ecallmgr@h", "freeswitch@h")
    assert copy == attrs.evolve(
        event,
        headers=(
            *decoded_headers(event),
            ("Target-Node", "ecallmgr@h"),
            ("Switch-Nodename", "freeswitch@h"),
        ),
    )


@settings(max_examples=100, deadline=None)
@given(extra=pairs)
def test_pairs_given_as_lists_are_added_as_tuples(extra: list[tuple[str, str]]) -> None:
    fast: list[tuple[str, str]] = [("Event-Name", "CUSTOM")]
    slow = list(fast)
    as_lists = [[name, value] for name, value in extra]
    add_headers(fast, as_lists, False)  # type: ignore[arg-type]
    reference_add_headers(slow, extra, False)
    assert [tuple(pair) for pair in fast] == slow
    bus = EventBus(IDENTITY, _FixedClock())
    event = bus.new_event("CUSTOM", headers=as_lists, origin=EventOrigin("f.c", "f", 1))  # type: ignore[arg-type]
    assert all(type(pair) is tuple for pair in event.headers)


@settings(max_examples=100, deadline=None)
@given(headers=pairs, extra=pairs, body=st.one_of(st.none(), st.just("b")))
def test_event_copies_are_the_evolved_event(
    headers: list[tuple[str, str]], extra: list[tuple[str, str]], body: str | None
) -> None:
    event = Event("CUSTOM", headers, body, "kazoo::noop")
    assert event.with_headers(*extra) == attrs.evolve(event, headers=event.headers + tuple(extra))
    assert event.replace_headers(extra) == attrs.evolve(event, headers=extra)
    built = list(event.headers)
    added_body = reference_add_headers(built, list(extra), unique=False)
    assert EventBus.add_headers(event, extra) == attrs.evolve(
        event, headers=built, body=event.body if added_body is None else added_body
    )
