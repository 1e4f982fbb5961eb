"""The event fast path: encode_event equals the general encoder; the decoder's pair scan."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.term import Atom, EncodeError, ImproperList, _encode, decode, encode, encode_event

texts = st.binary(max_size=40) | st.text(max_size=20)
headers = st.lists(st.tuples(texts, texts), max_size=30)


def as_bytes(x: bytes | str) -> bytes:
    return x.encode() if isinstance(x, str) else x


@settings(max_examples=300, deadline=None)
@given(st.none() | texts, headers, st.none() | texts)
def test_encode_event_is_the_general_encoding(
    uid: bytes | str | None, pairs: list[tuple[Any, Any]], body: bytes | str | None
) -> None:
    items: list[Any] = [uid, *pairs]
    if body is not None:
        items.append((b"body", body))
    data = encode_event(uid, pairs, body)
    assert data == encode((Atom("event"), items))
    expected_uid = Atom("undefined") if uid is None else as_bytes(uid)
    expected = [expected_uid, *((as_bytes(k), as_bytes(v)) for k, v in pairs)]
    if body is not None:
        expected.append((b"body", as_bytes(body)))
    assert decode(data) == (Atom("event"), expected)


def test_long_values_and_names() -> None:
    long_value = b"v" * 70_000
    long_name = "n" * 5000
    data = encode_event("u", [(long_name, long_value)], body=b"b" * 5000)
    assert data == encode((Atom("event"), ["u", (long_name, long_value), (b"body", b"b" * 5000)]))
    assert decode(data)[1][1] == (long_name.encode(), long_value)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ([(b"a", 1)], None),
        ([(1, b"a")], None),
        ([(b"a", b"b")], 5),
        ([(b"a", "\ud800")], None),
        ([(b"a", b"b", b"c")], None),
        ([None], None),
        ([b"ab"], None),
    ],
)
def test_encode_event_refuses_non_text(headers: Any, body: Any) -> None:
    with pytest.raises(EncodeError):
        encode_event(b"u", headers, body)


def test_header_cache_is_bounded() -> None:
    before = dict(_encode.PAIR_HEADS)
    try:
        _encode.PAIR_HEADS.clear()
        many = [(f"X-Header-{i}", "v") for i in range(_encode.PAIR_HEADS_MAX + 500)]
        data = encode_event(None, many)
        assert len(_encode.PAIR_HEADS) == _encode.PAIR_HEADS_MAX
        # Names past the bound are still encoded correctly, just not cached.
        assert decode(data)[1][-1] == (f"X-Header-{len(many) - 1}".encode(), b"v")
        assert data == encode((Atom("event"), [None, *many]))
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

    data = encode_event(b"uid", [(b"Event-Name", b"CHANNEL_CREATE")] * 3, b"body")
    for cut in range(1, len(data)):
        with pytest.raises(DecodeError):
            decode(data[:cut])
