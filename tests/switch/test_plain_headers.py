"""Events whose headers skip the rules' checks (a channel's data vouched for in one
pass, standard headers appended directly, lookup requests taken as they are) are
exactly the events the rules, applied one header at a time, give."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

from hypothesis import example, given, settings
from hypothesis import strategies as st

from kazoo_trio.kazoo.fetch.agents import FetchAgents, url_decode
from kazoo_trio.kazoo.version import BUNDLE, RELEASE, VERSION
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.headers import (
    EventOrigin,
    PlainHeaders,
    StandardHeaders,
    add_headers,
    known_values,
    vouched,
)
from kazoo_trio.switch.protocol import XmlLookup
from kazoo_trio.switch.sim.dialplan import dialplan_params
from kazoo_trio.switch.sim.session import _app_headers
from kazoo_trio.switch.sim.traffic import TrafficGenerator, TrafficSpec
from kazoo_trio.switch.xmlbind import ParsedXml, XmlBindings
from tests.switch.simhelpers import make_switch
from tests.switch.test_header_building import reference_add_headers

# No "_body": vouched() is only for pairs whose names are not (a channel's data).
vouchable_names = st.sampled_from(
    ["Unique-ID", "unique-id", "variable_x", "Variable_X", "A", "a", "İ", "i̇", "a\0b"]
)
values = st.one_of(
    st.sampled_from(["1", "x y", "%41", "ARRAY::p|:q", "xARRAY::", "a\0", "\0ARRAY::b"]),
    st.text(max_size=6),
    st.just(""),
)
any_names = st.sampled_from(["Unique-ID", "unique-id", "_body", "A", "a", "Channel-Name"])


@settings(max_examples=300, deadline=None)
@given(
    start=st.lists(st.tuples(any_names, values), max_size=6),
    pairs=st.lists(st.tuples(vouchable_names, values), max_size=12),
    extra=st.lists(st.tuples(any_names, values), max_size=6),
    unique=st.booleans(),
)
@example(start=[("A", "1")], pairs=[("a", "2"), ("B", "3")], extra=[("a", "")], unique=False)
@example(start=[("A", "1")], pairs=[("a", "2"), ("B", "3")], extra=[], unique=True)
def test_vouched_pairs_are_added_as_the_rules_add_them(
    start: list[tuple[str, str]],
    pairs: list[tuple[str, str]],
    extra: list[tuple[str, str]],
    unique: bool,
) -> None:
    given_pairs = vouched(list(pairs))
    plain = bool(pairs) and all(value and not value.startswith("ARRAY::") for _, value in pairs)
    if all("\0" not in value for _, value in pairs):
        # NULs only make it look again; otherwise the one pass decides exactly.
        assert (type(given_pairs) is PlainHeaders) == plain
    if type(given_pairs) is PlainHeaders:
        assert given_pairs.plain == len(pairs)
    given_pairs.extend(extra)
    fast, slow = list(start), list(start)
    body = add_headers(fast, given_pairs, unique)
    assert body == reference_add_headers(slow, [*pairs, *extra], unique)
    assert fast == slow


texts = st.one_of(st.sampled_from(["", "ARRAY::a|:b", "switch_channel.c", "ARRAY::"]), st.text())


@settings(max_examples=200, deadline=None)
@given(
    file=texts,
    function=texts,
    subclass=st.one_of(st.none(), texts),
    name=st.sampled_from(["CUSTOM", "CHANNEL_ANSWER"]),
)
def test_standard_headers_are_the_rules_headers(
    file: str, function: str, subclass: str | None, name: str
) -> None:
    sw, clock = make_switch()
    standard = StandardHeaders(sw.identity)
    origin = EventOrigin(file, function, 7)
    built = standard.build(name, subclass, 42, clock.wall, origin)
    identity = sw.identity
    expected = [("Event-Name", name)]
    reference_add_headers(
        expected,
        [
            ("Core-UUID", identity.core_uuid),
            ("FreeSWITCH-Hostname", identity.hostname),
            ("FreeSWITCH-Switchname", identity.switchname or identity.hostname),
            ("FreeSWITCH-IPv4", identity.ipv4),
            ("FreeSWITCH-IPv6", identity.ipv6),
        ],
        False,
    )
    expected += [
        (
            "Event-Date-Local",
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(clock.wall // 10**6)),
        ),
        ("Event-Date-GMT", built[len(expected) + 1][1]),
        ("Event-Date-Timestamp", str(clock.wall)),
    ]
    reference_add_headers(
        expected, [("Event-Calling-File", file), ("Event-Calling-Function", function)], False
    )
    expected += [("Event-Calling-Line-Number", "7"), ("Event-Sequence", "42")]
    if subclass:
        reference_add_headers(expected, [("Event-Subclass", subclass)], False)
    assert built == expected


variable_names = st.sampled_from(["presence_id", "x", "X", "sip_h_k-cid", "a b", "Unique-ID"])
variable_values = st.one_of(
    st.sampled_from(["1", "ARRAY::p|:q", "%41", "user@realm"]), st.text(max_size=5), st.just("")
)


@settings(max_examples=150, deadline=None)
@given(
    variables=st.dictionaries(variable_names, variable_values, max_size=6),
    application=st.tuples(
        st.sampled_from(["answer", "playback"]),
        variable_values,
        st.sampled_from(["", "uuid-1"]),
        variable_values,
    ),
    extra=st.lists(st.tuples(any_names, values), max_size=4),
    hung_up=st.booleans(),
)
@example(variables={}, application=("answer", "", "", ""), extra=[], hung_up=False)
@example(
    variables={"presence_id": "", "x": "1"},
    application=("park", "", "u", ""),
    extra=[("Channel-Presence-ID", "")],
    hung_up=True,
)
def test_channel_events_are_the_rules_events(
    variables: dict[str, str],
    application: tuple[str, str, str, str],
    extra: list[tuple[str, str]],
    hung_up: bool,
) -> None:
    sw, clock = make_switch()
    channel = TrafficGenerator(sw, TrafficSpec(rate=1.0, hold=1.0)).new_call(1)
    channel.variables.update(variables)  # written directly: empty values too
    if hung_up:
        channel.hangup_cause = "NORMAL_CLEARING"
    origin = EventOrigin("switch_channel.c", "f", 1)

    def reference(name: str, pairs: list[tuple[str, str]], unique: bool, sequence: str) -> Event:
        expected = StandardHeaders(sw.identity).build(name, None, int(sequence), clock.wall, origin)
        body = reference_add_headers(expected, pairs, unique)
        return Event(name, tuple(expected), body)

    # Its data as it is handed out elsewhere (lookups' channel data): every header,
    # an empty Channel-Presence-ID too.
    assert ("Channel-Presence-ID", variables.get("presence_id", "")) in channel.event_headers()
    # The channel's own events, with headers given after its data.
    event = channel.new_event("CHANNEL_ANSWER", extra, origin=origin)
    sequence = event.get("Event-Sequence") or ""
    assert event == reference("CHANNEL_ANSWER", [*channel.event_headers(), *extra], False, sequence)

    # An application's events: its empty values left out of the headers given.
    app, data, app_uuid, uuid_name = application
    pairs = [
        ("Application", app),
        ("Application-Data", data),
        ("Application-UUID", app_uuid),
        ("Application-UUID-Name", uuid_name),
    ]
    headers, known = _app_headers(app, data, app_uuid, uuid_name)
    assert known == known_values(pairs)
    event = channel.new_event("CHANNEL_EXECUTE", headers, origin=origin)
    sequence = event.get("Event-Sequence") or ""
    assert event == reference(
        "CHANNEL_EXECUTE", [*channel.event_headers(), *pairs], False, sequence
    )

    # The dialplan lookup's parameters (an event with unique headers).
    event = sw.new_event("REQUEST_PARAMS", headers=dialplan_params(channel), origin=origin)
    sequence = event.get("Event-Sequence") or ""
    hunt = channel.profile.headers("Hunt", channel.direction, channel.uuid, channel.name)
    assert event == reference("REQUEST_PARAMS", [*channel.event_headers(), *hunt], True, sequence)


def _agents(channel_data: list[tuple[str, str]]) -> FetchAgents:
    async def send(pid: object, request: object) -> None:
        raise AssertionError("not sent")

    return FetchAgents(
        send=send,
        switch_nodename="freeswitch@127.0.0.1",
        is_legacy=lambda node: False,
        channel_headers=lambda uuid: channel_data if uuid == "call-1" else None,
        get_global=lambda name: None,
    )


lookup_values = st.one_of(
    st.sampled_from(["%41", "a%2", "%zz", "x y", "100%", "", "call-1"]), st.text(max_size=5)
)


@settings(max_examples=200, deadline=None)
@given(
    params=st.lists(st.tuples(st.sampled_from(["A", "Fetch-Call-UUID", "b"]), lookup_values)),
    channel_data=st.lists(st.tuples(st.sampled_from(["Unique-ID", "variable_x"]), lookup_values)),
)
@example(params=[("Fetch-Call-UUID", "call-1")], channel_data=[("Unique-ID", "u%41")])
@example(params=[("Fetch-Call-UUID", "call-1")], channel_data=[("Unique-ID", "u")])
def test_lookup_requests_are_decoded_as_before(
    params: list[tuple[str, str]], channel_data: list[tuple[str, str]]
) -> None:
    event = Event("REQUEST_PARAMS", params)
    lookup = XmlLookup("dialplan", "", "", "", event)
    request = _agents(channel_data)._request_event(lookup, "fetch-1", 2_000_000)
    # The request as it always was: every value URL-decoded, then normalised.
    raw = [*params, ("Switch-Nodename", "freeswitch@127.0.0.1")]
    if event.get("Fetch-Call-UUID") == "call-1":
        raw += channel_data
    raw += [
        ("Fetch-UUID", "fetch-1"),
        ("Fetch-Section", "dialplan"),
        ("Fetch-Timeout", "2000000"),
        ("Fetch-Timestamp-Micro", request.get("Fetch-Timestamp-Micro") or ""),
        ("Kazoo-Version", VERSION),
        ("Kazoo-Bundle", BUNDLE),
        ("Kazoo-Release", RELEASE),
    ]
    assert request == Event("REQUEST_PARAMS", [(k, url_decode(v)) for k, v in raw])
    assert all(type(pair) is tuple for pair in request.headers)
    assert all(type(k) is str and type(v) is str for k, v in request.headers)


async def test_an_answer_parsed_by_its_handler_is_not_parsed_again() -> None:
    text = '<document type="freeswitch/xml"><section name="dialplan"/></document>'
    root = ET.fromstring(text)
    answers = [ParsedXml(text, root), ParsedXml("  " + text, root)]

    async def handler(lookup: XmlLookup) -> str | None:
        return answers.pop(0)

    bindings = XmlBindings()
    bindings.bind(["dialplan"], handler)
    params = Event("REQUEST_PARAMS")
    found = await bindings.lookup_document("dialplan", "", "", "", params)
    assert found is not None
    assert found[1] is root
    assert found[0] == text and type(found[0]) is str
    # Text before the first "<" is left out when parsing: that text is parsed again.
    found = await bindings.lookup_document("dialplan", "", "", "", params)
    assert found is not None
    assert found[1] is not root and ET.tostring(found[1]) == ET.tostring(root)
    assert found[0] == "  " + text and type(found[0]) is str
