"""The legacy event encoder is the general encoding; the decoder's pair scan.

The legacy ``{event, [UniqueId | Pairs]}`` form has one encoder,
:func:`~kazoo_trio.kazoo.streams.encoding.encode_legacy_event`; with a filter
that keeps every header and values without escapes it must write exactly what
the general encoder writes for that term.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.kazoo.streams import encoding
from kazoo_trio.kazoo.streams.encoding import LegacyFilter, encode_legacy_event
from kazoo_trio.switch.event import Event
from kazoo_trio.term import Atom, ImproperList, _encode, decode, encode

KEEP_ALL = LegacyFilter(send_all_headers=True)
TARGET = "ecallmgr@host"
SWITCH = "freeswitch@host"
NODE_PAIRS = [(b"Target-Node", TARGET.encode()), (b"Switch-Nodename", SWITCH.encode())]

# Text the encoder takes as it is: no URL escapes, and none of the names it treats
# specially (the UniqueId, the node headers it adds itself, JSON-valued headers).
plain = st.text(max_size=20).filter(lambda t: "%" not in t)
names = plain.filter(
    lambda n: (
        n.lower() != "unique-id"
        and n not in ("Target-Node", "Switch-Nodename")
        and not n.startswith("_json_")
    )
)
headers = st.lists(st.tuples(names, plain), max_size=30)


def legacy(uid: str | None, pairs: list[tuple[str, str]], body: str | None = None) -> bytes:
    first = [] if uid is None else [("Unique-ID", uid)]
    return encode_legacy_event(Event("CHANNEL_DATA", first + pairs, body), TARGET, SWITCH, KEEP_ALL)


def utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


@settings(max_examples=300, deadline=None)
@given(st.none() | plain, headers, st.none() | plain)
def test_legacy_encoder_is_the_general_encoding(
    uid: str | None, pairs: list[tuple[str, str]], body: str | None
) -> None:
    items: list[Any] = [Atom("undefined") if uid is None else uid.encode()]
    if uid is not None:
        items.append((b"Unique-ID", uid.encode()))
    items += [(utf8(k), utf8(v)) for k, v in pairs]
    items += NODE_PAIRS
    if body is not None:
        items.append((b"body", utf8(body)))
    data = legacy(uid, pairs, body)
    assert data == encode((Atom("event"), items))
    assert decode(data) == (Atom("event"), items)


def test_long_values_and_names() -> None:
    long_value = "v" * 70_000
    long_name = "n" * 5000
    data = legacy("u", [(long_name, long_value)], body="b" * 5000)
    expected = [
        b"u",
        (b"Unique-ID", b"u"),
        (long_name.encode(), long_value.encode()),
        *NODE_PAIRS,
        (b"body", b"b" * 5000),
    ]
    assert data == encode((Atom("event"), expected))
    assert decode(data)[1][2] == (long_name.encode(), long_value.encode())


def test_text_that_is_not_unicode_is_sent_as_its_bytes() -> None:
    # Lone surrogates stand for bytes that were not UTF-8 upstream: they go back to them.
    data = legacy(None, [("X-Raw", "a\udce9b")])
    assert decode(data)[1][1] == (b"X-Raw", b"a\xe9b")


def test_header_name_caches_are_bounded() -> None:
    # Header names come from the outside: neither the codec's cache of `{Name,`
    # heads nor the legacy filter's caches may grow without bound.
    before = dict(_encode.PAIR_HEADS)
    try:
        _encode.PAIR_HEADS.clear()
        count = max(_encode.PAIR_HEADS_MAX, encoding._NAME_CACHE_MAX) + 500
        many = [(f"X-Header-{i}", "v") for i in range(count)]
        keep_all = LegacyFilter(send_all_headers=True)
        data = encode_legacy_event(Event("CHANNEL_DATA", many), TARGET, SWITCH, keep_all)
        expected = [Atom("undefined"), *((k.encode(), b"v") for k, _ in many), *NODE_PAIRS]
        assert encode((Atom("event"), expected)) == data
        assert len(_encode.PAIR_HEADS) == _encode.PAIR_HEADS_MAX
        assert len(keep_all._codes) == encoding._NAME_CACHE_MAX
        # Names past the bounds are still encoded correctly, just not cached.
        assert decode(data)[1][count] == (f"X-Header-{count - 1}".encode(), b"v")
    finally:
        _encode.PAIR_HEADS.clear()
        _encode.PAIR_HEADS.update(before)


@pytest.mark.parametrize(
    "term",
    [
        # The pair scan must hand over to the general decoder wherever the shape changes.
        [b"u", (b"a", b"b"), (b"c", Atom("x")), (b"d", b"e"), (b"f", b"g", b"h"), b"i"],
        [b"u", (b"a", b"b"), (1, b"e"), (b"k", b"v")],
        [(b"a", b"b"), [(b"c", b"d")], (b"e", b"f")],
        ImproperList([b"u", (b"a", b"b")], (b"t", b"t")),
        ImproperList([(b"a", b"b")], b"tail"),
        [(b"", b""), b"", ((b"x", b"y"), b"z")],
        (Atom("event"), [Atom("undefined"), (b"a", b"b")]),
    ],
)
def test_pair_scan_hands_over_at_any_shape_change(term: Any) -> None:
    data = encode(term)
    assert decode(data) == term
    assert encode(decode(data)) == data


def test_truncated_events_fail_cleanly() -> None:
    from kazoo_trio.term import DecodeError

    data = legacy("uid", [("Event-Name", "CHANNEL_CREATE")] * 3, "body")
    for cut in range(1, len(data)):
        with pytest.raises(DecodeError):
            decode(data[:cut])
