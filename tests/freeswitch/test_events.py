"""FreeSWITCH's serialised events as the event model holds them (no FreeSWITCH needed)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.freeswitch import esl
from kazoo_trio.switch.freeswitch.backend import _channel_data, _strip_standard, to_event

CAPTURES = Path(__file__).parent / "captures"


def events(name: str) -> list[esl.EslEvent]:
    conn = esl.EslConnection()
    conn.receive_data((CAPTURES / f"{name}.bin").read_bytes())
    out = []
    while (message := conn.next_message()) is not esl.NEED_DATA:
        if isinstance(message, esl.EventMessage):
            out.append(message.parse())
    return out


def test_plain_and_json_give_the_same_event_model() -> None:
    # Two captures of the same kind of call: the same header names, in the same order.
    plain = next(e for e in events("plain") if e.get("Event-Name") == "CHANNEL_CREATE")
    jsoned = next(e for e in events("json") if e.get("Event-Name") == "CHANNEL_CREATE")
    assert [k for k, _ in plain.headers] == [k for k, _ in jsoned.headers]
    event = to_event(jsoned)
    assert event.name == "CHANNEL_CREATE" and event.subclass is None and event.body is None
    assert event.headers == jsoned.headers
    assert event.unique_id == jsoned.get("Unique-ID")


def test_custom_events_carry_their_subclass() -> None:
    custom = next(e for e in events("misc") if e.get("Event-Name") == "CUSTOM")
    event = to_event(custom)
    assert (event.name, event.subclass, event.body) == ("CUSTOM", "kt::test", "hello")


def test_channel_data_is_the_channel_part_of_an_event() -> None:
    create = next(e for e in events("json") if e.get("Event-Name") == "CHANNEL_CREATE")
    data = _channel_data(create.headers)
    assert data is not None
    assert data[0] == ("Channel-State", "CS_INIT")
    assert data[-1][0].startswith("variable_")
    assert ("Unique-ID", create.get("Unique-ID")) in data
    extra = (*create.headers, ("Application", "park"), ("Application-UUID", "u"))
    assert _channel_data(extra) == data
    assert _channel_data((("Event-Name", "CUSTOM"),)) is None


def test_standard_headers_are_not_sent_back() -> None:
    event = Event(
        "SEND_MESSAGE",
        [("Event-Name", "SEND_MESSAGE"), ("Core-UUID", "c"), ("Event-Sequence", "1"),
         ("call-command", "hangup"), ("Event-Name", "kept: not in the leading block")],
    )  # fmt: skip
    assert _strip_standard(event) == [
        ("call-command", "hangup"),
        ("Event-Name", "kept: not in the leading block"),
    ]


names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_", min_size=1)
values = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1).filter(
    lambda v: not v.startswith("ARRAY::")
)


@given(
    headers=st.lists(st.tuples(names, values), min_size=1, max_size=20),
    body=st.none() | st.text(st.characters(blacklist_categories=("Cs",)), min_size=1),
)
def test_plain_serialisation_round_trips(headers: list[tuple[str, str]], body: str | None) -> None:
    # As switch_event_serialize writes it: URL-encoded values, then the body's length.
    headers = [(k, v) for k, v in headers if k != "Content-Length"] or [("X", "1")]
    lines = [f"{k}: {quote(v, safe='')}" for k, v in headers]
    payload = "\n".join(lines) + "\n"
    if body is not None:
        payload += f"Content-Length: {len(body.encode())}\n\n{body}"
    else:
        payload += "\n"
    parsed = esl.parse_event_plain(payload.encode())
    assert parsed.headers == tuple(headers) and parsed.body == body
