"""The JSON-object fast path: encode_object_event equals the general encoder of the frozen term."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.term import Atom, EncodeError, decode, encode
from kazoo_trio.term._event import encode_object_event
from tests.term.strategies import floats, integers, scalars

EVENT = Atom("event")
JSON = Atom("json")


def frozen(obj: dict[Any, Any]) -> tuple[list[tuple[Any, Any]]]:
    """The ``{[{K, V}]}`` form: dicts that are values become objects, others stay as they are."""
    return ([(k, frozen(v) if type(v) is dict else v) for k, v in obj.items()],)


keys = st.binary(max_size=30) | st.text(max_size=12) | st.integers() | st.just(Atom("k"))
json_scalars = (
    st.binary(max_size=40)
    | st.text(max_size=20)
    | integers
    | floats
    | st.booleans()
    | st.none()
    | st.sampled_from([Atom("null"), Atom("undefined")])
)
json_values = st.recursive(
    json_scalars | scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.lists(st.binary(max_size=8), min_size=1, max_size=5)
        | st.dictionaries(keys, inner, max_size=5)
        | st.lists(inner, max_size=4).map(lambda items: (items,))
        | st.tuples(inner, inner)
    ),
    max_leaves=25,
)
objects = st.dictionaries(keys, json_values, max_size=25)


@pytest.mark.slow  # 300 examples of nested JSON objects
@settings(max_examples=300, deadline=None)
@given(objects, st.sampled_from([JSON, Atom("map"), Atom("x")]))
def test_object_event_is_the_general_encoding_of_the_frozen_term(
    obj: dict[Any, Any], tag: Atom
) -> None:
    data = encode_object_event(tag, obj)
    assert data == encode((EVENT, tag, frozen(obj)))
    assert decode(data)[:2] == (EVENT, tag)


def test_nested_objects_and_lists_of_objects() -> None:
    inner = {b"a": b"1", b"n": 300}
    obj = {b"obj": inner, b"list": [inner, b"x"], b"empty": {}, b"bins": [b"p", b"q"]}
    data = encode_object_event(JSON, obj)
    assert data == encode((EVENT, JSON, frozen(obj)))
    # Only a dict that is a value is an object; inside a list it is a map.
    assert decode(data) == (
        EVENT,
        JSON,
        (
            [
                (b"obj", ([(b"a", b"1"), (b"n", 300)],)),
                (b"list", [inner, b"x"]),
                (b"empty", ([],)),
                (b"bins", [b"p", b"q"]),
            ],
        ),
    )


def test_long_values_use_the_long_header() -> None:
    obj = {b"k" * 5000: b"v" * 70_000, b"list": [b"w" * 5000]}
    assert encode_object_event(JSON, obj) == encode((EVENT, JSON, frozen(obj)))


@pytest.mark.parametrize("size", [255, 256, 300])
def test_objects_of_many_keys_and_integers_of_every_size(size: int) -> None:
    numbers = [0, 255, 256, -1, 2**31 - 1, 2**31, -(2**31) - 1, 63_800_000_000_000_000, -(2**900)]
    inner = {f"n{i}".encode(): numbers[i % len(numbers)] for i in range(size)}
    obj = {b"inner": inner, b"empty": {}, **{f"k{i}".encode(): b"v" for i in range(size)}}
    data = encode_object_event(JSON, obj)
    assert data == encode((EVENT, JSON, frozen(obj)))
    assert decode(data) == (EVENT, JSON, frozen(obj))


@pytest.mark.parametrize(
    "obj",
    [
        {b"k": float("nan")},
        {b"k": {b"inner": float("inf")}},
        {b"k": "\udcff"},
        {b"k": object()},
    ],
)
def test_refuses_what_the_general_encoder_refuses(obj: dict[Any, Any]) -> None:
    with pytest.raises(EncodeError):
        encode((EVENT, JSON, frozen(obj)))
    with pytest.raises(EncodeError):
        encode_object_event(JSON, obj)


def test_objects_nested_too_deeply_are_refused() -> None:
    obj: dict[bytes, object] = {}
    for _ in range(300):
        obj = {b"k": obj}
    with pytest.raises(EncodeError):
        encode_object_event(JSON, obj)
    shallow: dict[bytes, object] = {}
    for _ in range(100):
        shallow = {b"k": shallow}
    assert decode(encode_object_event(JSON, shallow))[:2] == (EVENT, JSON)
