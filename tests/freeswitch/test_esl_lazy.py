"""Reading events without parsing them whole gives what parsing them gives."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.switch.freeswitch import esl
from tests.freeswitch.test_esl import capture, messages

NAMES = (
    "Event-Name", "Unique-ID", "Channel-State", "Job-UUID", "Event-Subclass", "X", "_body",
    "Content-Length",
)  # fmt: skip


def recorded_events() -> list[esl.EventMessage]:
    events = [m for m in messages(capture("json")) if isinstance(m, esl.EventMessage)]
    assert events
    return events


def test_headers_of_recorded_events_as_parsed() -> None:
    for message in recorded_events():
        parsed = message.parse()
        for name in {*NAMES, *(key for key, _ in parsed.headers)}:
            assert message.header(name) == parsed.get(name), name
            assert message.has_header(name) == any(k == name for k, _ in parsed.headers)
        assert message.event_name() == parsed.get("Event-Name") is not None


def test_recorded_stream_read_by_the_fast_path_and_the_general_one() -> None:
    # The same events, their header blocks written with an extra header that only
    # the general parser reads: the messages must be equal.
    data = capture("json")
    slow = data.replace(
        b"Content-Type: text/event-json\n", b"Content-Type: text/event-json\nX: 1\n"
    )
    assert slow != data
    fast_events = [m for m in messages(data) if isinstance(m, esl.EventMessage)]
    slow_events = [m for m in messages(slow) if isinstance(m, esl.EventMessage)]
    assert fast_events == slow_events and fast_events


values = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
headers = st.lists(
    st.tuples(st.sampled_from(NAMES), st.one_of(values, st.lists(values, max_size=3))),
    max_size=8,
)


@settings(max_examples=300)
@given(headers, st.booleans())
def test_header_agrees_with_parse_on_any_object(
    pairs: list[tuple[str, object]], pretty: bool
) -> None:
    body = "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}"
    if pretty:
        body = body.replace('":', '": ')
    message = esl.EventMessage("json", body.encode())
    parsed = message.parse()
    for name in NAMES:
        assert message.header(name) == parsed.get(name)
        assert message.has_header(name) == any(k == name for k, _ in parsed.headers)
    assert message.event_name() == parsed.get("Event-Name")
