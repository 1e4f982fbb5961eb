"""Per-event processing and the legacy / verbose JSON encodings of event streams."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.kazoo.config import Settings
from kazoo_trio.kazoo.profiles import default_profiles
from kazoo_trio.kazoo.streams.encoding import (
    DEFAULT_EVENT_FILTER,
    JSON,
    MAP,
    JsonEncoder,
    LegacyFilter,
    encode_json_event,
    encode_legacy_event,
    prepare,
    prepared_known,
    url_decode,
    verbose_encoder,
)
from kazoo_trio.kazoo.streams.queue import frame_header, max_payload
from kazoo_trio.switch.event import Event
from kazoo_trio.term import Atom, decode, encode
from tests.erlnode import erl_node

UUID = "6b5c3a9e-0d1f-4c59-9f0e-3e5c1d2b7a10"


def channel_event() -> Event:
    return Event(
        "CHANNEL_CREATE",
        [
            ("Event-Name", "CHANNEL_CREATE"),
            ("Core-UUID", "c0re"),
            ("Event-Date-Timestamp", "1700000000123456"),
            ("Unique-ID", UUID),
            ("Caller-Caller-ID-Name", "Alice%20Smith"),
            ("variable_sip_h_X-Custom", "a%2541"),
            ("variable_ecallmgr_Account-ID", "acc%3D1"),
            ("variable_cav_Flow", "f"),
            ("X-Thing", "x"),
            ("variable_not_in_filter", "dropped"),
            ("_json_Data", "%7B%7D"),
            ("variable_presence_id", "1000@example.com"),
            ("variable_presence_id", "1001@example.com"),
        ],
    )


def cdr_event() -> Event:
    return Event(
        "CUSTOM",
        [
            ("Event-Name", "CUSTOM"),
            ("Event-Subclass", "KZ_CDR"),
            ("Unique-ID", UUID),
            ("Event-Date-Timestamp", "1700000000000001"),
        ],
        body="line 1%20\n",
        subclass="KZ_CDR",
    )


# -- URL decoding and the private copy ----------------------------------------------


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("plain", "plain"),
        ("Alice%20Smith", "Alice Smith"),
        ("a+b", "a+b"),
        ("100%", "100%"),
        ("%zz%4", "%zz%4"),
        ("%2541", "%41"),
        ("caf%C3%A9", "café"),
        ("%E9t%E9", "\ufffdt\ufffd"),
    ],
)
def test_url_decode(raw: str, decoded: str) -> None:
    assert url_decode(raw) == decoded


def test_prepare_decodes_a_private_copy_once_and_adds_the_node_headers() -> None:
    event = channel_event()
    before = event.headers
    copy = prepare(event, "ecallmgr@host", "freeswitch@fs1")
    assert event.headers is before  # the shared event is untouched
    assert event.get("Caller-Caller-ID-Name") == "Alice%20Smith"
    assert copy.get("Caller-Caller-ID-Name") == "Alice Smith"
    assert copy.get("variable_sip_h_X-Custom") == "a%41"  # once, not twice
    assert copy.get("_json_Data") == "%7B%7D"  # _json_ headers are not decoded
    assert copy.headers[-2:] == (
        ("Target-Node", "ecallmgr@host"),
        ("Switch-Nodename", "freeswitch@fs1"),
    )
    assert (copy.name, copy.subclass, copy.body) == (event.name, event.subclass, event.body)
    # A second stream gets its own copy, decoded once as well (no double decoding).
    again = prepare(event, "ecallmgr@other", "freeswitch@fs1")
    assert again.get("variable_sip_h_X-Custom") == "a%41"
    assert again.get("Target-Node") == "ecallmgr@other"
    assert copy.get("Target-Node") == "ecallmgr@host"


@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=12)), max_size=8))
def test_prepare_never_changes_the_event(headers: list[tuple[str, str]]) -> None:
    event = Event("CHANNEL_STATE", headers)
    snapshot = Event("CHANNEL_STATE", headers)
    copy = prepare(event, "t@h", "s@h")
    assert event == snapshot
    # The copy is a well-formed Event, equal to one built the ordinary way.
    assert copy == Event(copy.name, copy.headers, copy.body, copy.subclass)
    assert len(copy.headers) == len(headers) + 2
    for (name, raw), (copy_name, value) in zip(headers, copy.headers, strict=False):
        assert copy_name == name
        assert value == (raw if name.startswith("_json_") else url_decode(raw))


# -- legacy ---------------------------------------------------------------------------


def legacy_pairs(payload: bytes) -> tuple[object, list[tuple[bytes, bytes]]]:
    term = decode(payload)
    assert isinstance(term, tuple)
    assert term[0] == Atom("event")
    uid, *pairs = term[1]
    return uid, pairs


def test_default_event_filter_is_mod_kazoo_list() -> None:
    assert len(DEFAULT_EVENT_FILTER) > 250
    for name in ("Unique-ID", "Event-Name", "Caller-Caller-ID-Name", "Hangup-Cause"):
        assert name in DEFAULT_EVENT_FILTER
    assert "Target-Node" not in DEFAULT_EVENT_FILTER
    assert "Switch-Nodename" not in DEFAULT_EVENT_FILTER


def test_legacy_filters_headers_and_decodes_values_twice() -> None:
    payload = encode_legacy_event(channel_event(), "ecallmgr@host", "fs@h", LegacyFilter())
    uid, pairs = legacy_pairs(payload)
    assert uid == UUID.encode()
    assert pairs == [
        (b"Event-Name", b"CHANNEL_CREATE"),
        (b"Event-Date-Timestamp", b"1700000000123456"),
        (b"Unique-ID", UUID.encode()),
        (b"Caller-Caller-ID-Name", b"Alice Smith"),
        (b"variable_sip_h_X-Custom", b"aA"),  # decoded twice, as mod_kazoo does
        (b"variable_ecallmgr_Account-ID", b"acc=1"),
        (b"variable_cav_Flow", b"f"),
        (b"X-Thing", b"x"),
        (b"variable_presence_id", b"1000@example.com"),
        (b"variable_presence_id", b"1001@example.com"),
    ]


def test_legacy_options_change_the_filter() -> None:
    no_private = LegacyFilter(send_all_private_headers=False, var_prefixes=("variable_cav_",))
    _, pairs = legacy_pairs(encode_legacy_event(channel_event(), "t@h", "s@h", no_private))
    names = [name for name, _ in pairs]
    assert b"X-Thing" not in names
    assert b"variable_sip_h_X-Custom" not in names
    assert b"variable_ecallmgr_Account-ID" not in names
    assert b"variable_cav_Flow" in names

    everything = LegacyFilter(send_all_headers=True)
    _, pairs = legacy_pairs(encode_legacy_event(channel_event(), "t@h", "s@h", everything))
    assert (b"variable_not_in_filter", b"dropped") in pairs
    assert (b"_json_Data", b"{}") in pairs  # decoded by the second (encoding) pass only
    assert pairs[-2:] == [(b"Target-Node", b"t@h"), (b"Switch-Nodename", b"s@h")]

    only = LegacyFilter(event_filter=frozenset({"Core-UUID"}), send_all_private_headers=False)
    uid, pairs = legacy_pairs(encode_legacy_event(channel_event(), "t@h", "s@h", only))
    assert uid == Atom("undefined")  # Unique-ID did not pass the filter
    assert [name for name, _ in pairs] == [
        b"Core-UUID",
        b"variable_ecallmgr_Account-ID",
        b"variable_cav_Flow",
    ]


def test_legacy_filter_from_settings() -> None:
    settings = Settings(
        kazoo_var_prefix="kz_;",
        event_filter=("Core-UUID",),
        send_all_private_headers=False,
    )
    f = LegacyFilter.from_settings(settings)
    assert f.event_filter == frozenset({"Core-UUID"})
    assert f.var_prefixes == ("variable_kz_",)
    assert not f.send_all_private_headers
    assert LegacyFilter.from_settings(Settings()).event_filter is DEFAULT_EVENT_FILTER


def test_legacy_custom_event_drops_subclass_and_ends_with_body() -> None:
    payload = encode_legacy_event(cdr_event(), "t@h", "s@h", LegacyFilter())
    uid, pairs = legacy_pairs(payload)
    assert uid == UUID.encode()
    assert pairs == [
        (b"Event-Name", b"CUSTOM"),
        (b"Unique-ID", UUID.encode()),
        (b"Event-Date-Timestamp", b"1700000000000001"),
        (b"body", b"line 1%20\n"),  # bodies are not URL-decoded
    ]


def test_legacy_values_decode_byte_exactly() -> None:
    event = Event("CHANNEL_CREATE", [("Unique-ID", "u"), ("Answer-State", "%E9t%E9")])
    _, pairs = legacy_pairs(encode_legacy_event(event, "t@h", "s@h", LegacyFilter()))
    assert pairs == [(b"Unique-ID", b"u"), (b"Answer-State", b"\xe9t\xe9")]
    # Text carrying undecodable bytes as lone surrogates goes back to those bytes.
    event = Event("CHANNEL_CREATE", [("Unique-ID", "u\udce9"), ("Answer-State", "ok")])
    uid, pairs = legacy_pairs(encode_legacy_event(event, "t@h", "s@h", LegacyFilter()))
    assert uid == b"u\xe9"
    assert pairs == [(b"Unique-ID", b"u\xe9"), (b"Answer-State", b"ok")]


# -- verbose JSON ---------------------------------------------------------------------


def test_default_encoder_is_the_profile_engines_verbose_event() -> None:
    # The stream's private copy, decoded, with the node headers, all in the object.
    event = prepare(channel_event(), "ecallmgr@host", "fs@h")
    term = decode(encode_json_event(event, "ALL", "json", verbose_encoder) or b"")
    assert term[:2] == (Atom("event"), Atom("json"))
    fields = term[2][0]
    obj = dict(fields)
    assert [k for k, _ in fields][:3] == [b"Event-Name", b"Core-UUID", b"Event-Date-Timestamp"]
    assert obj[b"Caller-Caller-ID-Name"] == b"Alice Smith"
    assert obj[b"variable_presence_id"] == [b"1000@example.com", b"1001@example.com"]
    assert obj[b"Target-Node"] == b"ecallmgr@host"
    assert obj[b"Switch-Nodename"] == b"fs@h"
    assert obj[b"Event-Timestamp"] == 1700000000123456
    as_map = decode(encode_json_event(event, "ALL", "map", verbose_encoder) or b"")
    assert as_map[:2] == (Atom("event"), Atom("map"))
    assert as_map[2] == obj


def test_encode_json_event_wraps_the_object_and_honours_a_declining_encoder() -> None:
    event = prepare(cdr_event(), "t@h", "s@h")
    term = decode(encode_json_event(event, "KZ_CDR", "json", verbose_encoder) or b"")
    assert term[:2] == (Atom("event"), Atom("json"))
    assert dict(term[2][0])[b"Event-Subclass"] == b"KZ_CDR"
    term = decode(encode_json_event(event, "KZ_CDR", "map", verbose_encoder) or b"")
    assert term[:2] == (Atom("event"), Atom("map"))
    assert term[2][b"Target-Node"] == b"t@h"
    seen: list[object] = []

    def declining(event: Event, binding: str | None, encoding: str) -> object:
        seen.append((binding, encoding))
        return None

    assert encode_json_event(event, "KZ_CDR", "json", declining) is None
    assert seen == [("KZ_CDR", "json")]


# -- framing --------------------------------------------------------------------------


def test_prepared_known_is_what_the_prepared_copy_holds() -> None:
    known: dict[str, str | None] = {
        "Application": "playback",
        "Application-Data": "tone%3A%2F%2F440",
        "_json_Data": "%7B%7D",
        "Caller-Name": None,
        "X-Twice": "a",
        "x-twice": "b",
        "Target-Node": "spoofed",
        "switch-nodename": "spoofed",
        "SWITCH-NODENAME": "again",
        "_BODY": "body",
        "": "nameless",
    }
    expected = {
        "application": "playback",
        "application-data": "tone://440",
        "_json_data": "%7B%7D",
        "caller-name": None,
        "": "nameless",
    }
    # Twice: the second time the names are known from the first.
    assert prepared_known(known) == expected
    assert prepared_known(known) == expected
    # A name clashing once lower-cased is left out however many times it comes.
    assert prepared_known({"Ab": "1", "aB": "2", "AB": "3", "c": "4"}) == {"c": "4"}


def test_frame_limits_are_exact() -> None:
    assert [max_payload(n) for n in (1, 2, 4)] == [255, 65535, 2**32 - 1]
    assert frame_header(65535, 2) == b"\xff\xff"
    assert frame_header(70_000, 4) == b"\x00\x01\x11\x70"
    with pytest.raises(OverflowError):
        frame_header(256, 1)


# -- what erl makes of it -------------------------------------------------------------


def erl_bin(data: bytes) -> str:
    return "<<" + ",".join(map(str, data)) + ">>"


@pytest.mark.erl
async def test_erl_decodes_both_encodings_to_the_expected_shapes() -> None:
    legacy = encode_legacy_event(channel_event(), "ecallmgr@host", "fs@h", LegacyFilter())
    event = prepare(channel_event(), "ecallmgr@host", "fs@h")
    json_payload = encode_json_event(event, "CHANNEL_CREATE", "json", verbose_encoder)
    map_payload = encode_json_event(event, "CHANNEL_CREATE", "map", verbose_encoder)
    assert json_payload is not None
    assert map_payload is not None
    async with erl_node() as n:
        assert (
            await n.eval(
                f"{{event, [U | Ps]}} = binary_to_term({erl_bin(legacy)}),"
                ' {U, proplists:get_value(<<"Caller-Caller-ID-Name">>, Ps),'
                ' proplists:get_all_values(<<"variable_presence_id">>, Ps),'
                " lists:all(fun({K, V}) -> is_binary(K) andalso is_binary(V) end, Ps)}."
            )
            == f'{{<<"{UUID}">>,<<"Alice Smith">>,'
            '[<<"1000@example.com">>,<<"1001@example.com">>],true}'
        )
        assert (
            await n.eval(
                f"{{event, json, {{Fs}}}} = binary_to_term({erl_bin(json_payload)}),"
                ' {proplists:get_value(<<"Event-Timestamp">>, Fs),'
                ' proplists:get_value(<<"Target-Node">>, Fs),'
                ' proplists:get_value(<<"Switch-Nodename">>, Fs),'
                ' proplists:get_value(<<"variable_presence_id">>, Fs),'
                ' proplists:get_value(<<"Caller-Caller-ID-Name">>, Fs)}.'
            )
            == '{1700000000123456,<<"ecallmgr@host">>,<<"fs@h">>,'
            '[<<"1000@example.com">>,<<"1001@example.com">>],<<"Alice Smith">>}'
        )
        assert (
            await n.eval(
                f"{{event, map, M}} = binary_to_term({erl_bin(map_payload)}),"
                ' {maps:get(<<"Target-Node">>, M), maps:get(<<"Event-Timestamp">>, M)}.'
            )
            == '{<<"ecallmgr@host">>,1700000000123456}'
        )


# -- the legacy fast path against the general encoder ----------------------------------


def reference_legacy(event: Event, target: str, switch: str, f: LegacyFilter) -> bytes:
    """The legacy term built the slow, obvious way and encoded by the general encoder."""

    def raw(text: str) -> bytes:
        return text.encode("utf-8", "surrogateescape")

    def unescape(data: bytes) -> bytes:
        return unquote_to_bytes(data)

    uid: object = None
    pairs: list[tuple[bytes, bytes]] = []
    for name, value in event.headers:
        if name in ("Target-Node", "Switch-Nodename"):
            continue
        if event.subclass is not None and name == "Event-Subclass":
            continue
        if not f.keeps(name):
            continue
        once = raw(value) if name.startswith("_json_") else unescape(raw(value))
        if uid is None and name.lower() == "unique-id":
            uid = once
        pairs.append((raw(name), unescape(once)))
    for name, value in (("Target-Node", target), ("Switch-Nodename", switch)):
        if f.keeps(name):
            pairs.append((raw(name), unescape(raw(value))))
    if event.body is not None:
        pairs.append((b"body", raw(event.body)))
    return encode((Atom("event"), [uid if uid is not None else Atom("undefined"), *pairs]))


_header_names = st.sampled_from(
    [
        "Unique-ID",
        "unique-id",
        "Event-Name",
        "Event-Subclass",
        "_json_Data",
        "X-Thing",
        "variable_sip_h_X-A",
        "variable_ecallmgr_Acc",
        "variable_other",
        "Target-Node",
        "Caller-Caller-ID-Name",
    ]
)
_header_values = st.one_of(
    st.text(max_size=10),
    st.lists(st.sampled_from(["a", "%20", "%2541", "%E9", "%", "\udce9", "é", "+"])).map("".join),
)


_SHARED_FILTERS = {
    (send_all, private): LegacyFilter(send_all_headers=send_all, send_all_private_headers=private)
    for send_all in (False, True)
    for private in (False, True)
}


@settings(max_examples=300)
@given(
    headers=st.lists(st.tuples(_header_names, _header_values), max_size=12),
    body=st.one_of(st.none(), _header_values),
    custom=st.booleans(),
    send_all=st.booleans(),
    private=st.booleans(),
    # Several streams (node names) share a filter and its caches.
    target=st.sampled_from(["t%41@h", "t@h", "t\udce9@h", "X-%E9@h"]),
    switch=st.sampled_from(["s@h", "s%25@h"]),
)
def test_legacy_fast_path_matches_the_general_encoder(
    headers: list[tuple[str, str]],
    body: str | None,
    custom: bool,
    send_all: bool,
    private: bool,
    target: str,
    switch: str,
) -> None:
    event = Event(
        "CUSTOM" if custom else "CHANNEL_DATA",
        headers,
        body,
        "my::subclass" if custom else None,
    )
    # Filters shared by all examples, so their caches carry over from one event to the next.
    f = _SHARED_FILTERS[send_all, private]
    expected = reference_legacy(event, target, switch, f)
    assert encode_legacy_event(event, target, switch, f) == expected
    # Again, now from the filter's caches.
    assert encode_legacy_event(event, target, switch, f) == expected


@settings(max_examples=300, deadline=None)
@given(
    headers=st.lists(st.tuples(_header_names, _header_values), max_size=12),
    body=st.one_of(st.none(), _header_values),
    encoding=st.sampled_from([JSON, MAP]),
)
def test_json_payload_paths_match_encoding_the_term(
    headers: list[tuple[str, str]], body: str | None, encoding: str
) -> None:
    event = prepare(Event("CHANNEL_DATA", headers, body), "t%41@h", "s@h")
    tag = Atom(encoding)
    profiles = default_profiles()
    encoders: list[JsonEncoder] = [verbose_encoder, profiles.encoder()]
    for encoder in encoders:
        for binding in ("CHANNEL_DATA", "CHANNEL_CREATE", "ALL"):
            term = encoder(event, binding, encoding)
            expected = None if term is None else encode((Atom("event"), tag, term))
            assert encode_json_event(event, binding, encoding, encoder) == expected

            def plain(event: Event, binding: str | None, encoding: str) -> object:
                return encoder(event, binding, encoding)  # noqa: B023 (called right here)

            # A bare callable (no payload method) takes the term-then-encode path.
            assert encode_json_event(event, binding, encoding, plain) == expected
