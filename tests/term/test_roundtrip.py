"""Encoding forms, decode(encode(t)) round trips, and the Python/Erlang mapping choices."""

from __future__ import annotations

import struct
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.term import (
    Atom,
    BitString,
    DecodeError,
    EncodeError,
    Export,
    ImproperList,
    MapPairs,
    Pid,
    Port,
    Reference,
    decode,
    decode_body,
    decode_prefixed,
    encode,
    encode_body,
    encode_parts,
)
from tests.term.strategies import terms

# Hypothesis warns when it prints the (big) recursive term strategy; harmless.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")


def same(a: Any, b: Any) -> bool:
    """Equality that also tells -0.0 from 0.0 (Python's == does not)."""
    return encode(a) == encode(b) and a == b


@settings(max_examples=300, deadline=None)
@given(terms)
def test_decode_inverts_encode(term: Any) -> None:
    data = encode(term)
    back = decode(data)
    assert back == term
    assert encode(back) == data


@settings(max_examples=100, deadline=None)
@given(terms, terms)
def test_body_parts_and_prefixed_agree(a: Any, b: Any) -> None:
    body = encode_body(a)
    assert encode(a) == b"\x83" + body
    parts: list[bytes] = []
    encode_parts(a, parts)
    encode_parts(b, parts)
    joined = b"".join(parts)
    first, end = decode_body(joined)
    second, end2 = decode_body(joined, end)
    assert (first, second, end2) == (a, b, len(joined))
    frame = b"p" + encode(a) + encode(b)  # a pass-through distribution frame
    ctl, mid = decode_prefixed(frame, 1)
    msg, stop = decode_prefixed(frame, mid)
    assert (ctl, msg, stop) == (a, b, len(frame))


@settings(max_examples=100, deadline=None)
@given(terms, st.sampled_from([True, 1, 9]))
def test_compressed_round_trip(term: Any, level: bool | int) -> None:
    data = encode(term, compressed=level)
    assert decode(data) == term
    assert len(data) <= len(encode(term))  # compressed only when it pays, like OTP


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (0, b"a\x00"),
        (255, b"a\xff"),
        (256, b"b\x00\x00\x01\x00"),
        (-1, b"b\xff\xff\xff\xff"),
        (2**31 - 1, b"b\x7f\xff\xff\xff"),
        (-(2**31), b"b\x80\x00\x00\x00"),
        (2**31, b"n\x04\x00\x00\x00\x00\x80"),
        (-(2**31) - 1, b"n\x04\x01\x01\x00\x00\x80"),
        (2**2040 - 1, b"n\xff\x00" + b"\xff" * 255),
        (2**2040, b"o\x00\x00\x01\x00\x00" + b"\x00" * 255 + b"\x01"),
        (-0.0, b"F\x80" + b"\x00" * 7),
        (1.5, b"F" + struct.pack(">d", 1.5)),
        (Atom("ok"), b"w\x02ok"),
        (Atom("é" * 200), b"v\x01\x90" + "é".encode() * 200),
        (True, b"w\x04true"),
        (None, b"w\x09undefined"),
        ("héllo", b"m\x00\x00\x00\x06h\xc3\xa9llo"),
        (b"ab", b"m\x00\x00\x00\x02ab"),
        ([], b"j"),
        ([1, 2], b"k\x00\x02\x01\x02"),
        ([1, 256], b"l\x00\x00\x00\x02a\x01b\x00\x00\x01\x00j"),
        ([True], b"l\x00\x00\x00\x01w\x04truej"),
        ((), b"h\x00"),
        (tuple(range(3)), b"h\x03a\x00a\x01a\x02"),
        (ImproperList([1], Atom("t")), b"l\x00\x00\x00\x01a\x01w\x01t"),
        (ImproperList([1], []), b"k\x00\x01\x01"),  # [1 | []] is the proper list [1]
        (BitString(b"\xe0", 3), b"M\x00\x00\x00\x01\x03\xe0"),
        (Export("lists", "map", 2), b"qw\x05listsw\x03mapa\x02"),
        (Pid("a@vm", 1, 2, 3), b"Xw\x04a@vm" + struct.pack(">III", 1, 2, 3)),
        (Reference("a@vm", 5, (1, 2, 3)), b"Z\x00\x03w\x04a@vm" + struct.pack(">4I", 5, 1, 2, 3)),
        (Port("a@vm", 0x0FFFFFFF, 2), b"Yw\x04a@vm" + struct.pack(">II", 0x0FFFFFFF, 2)),
        (Port("a@vm", 0x10000000, 2), b"xw\x04a@vm" + struct.pack(">QI", 0x10000000, 2)),
        ({Atom("a"): 1}, b"t\x00\x00\x00\x01w\x01aa\x01"),
        (MapPairs([([1], 2)]), b"t\x00\x00\x00\x01k\x00\x01\x01a\x02"),
    ],
)
def test_emits_the_forms_otp_emits(value: Any, wire: bytes) -> None:
    assert encode_body(value) == wire


def test_string_ext_limits() -> None:
    assert encode_body([7] * 65535)[:3] == b"k\xff\xff"
    long_list = encode_body([7] * 65536)
    assert long_list[:5] == b"l\x00\x01\x00\x00"
    assert decode(b"\x83" + long_list) == [7] * 65536
    assert encode_body(list(range(256)))[:1] == b"k"
    assert decode(b"\x83k\x00\x02ab") == [97, 98]
    assert decode(b"\x83k\x00\x02ab", strings_as_bytes=True) == b"ab"


def test_large_tuple() -> None:
    big = tuple(range(300))
    data = encode(big)
    assert data[:6] == b"\x83i\x00\x00\x01\x2c"
    assert decode(data) == big


def test_none_and_str_are_one_way() -> None:
    assert decode(encode(None)) is Atom("undefined")
    assert decode(encode("text")) == b"text"
    assert decode(encode({"k": None})) == {b"k": Atom("undefined")}


def test_subclasses_encode_as_their_base() -> None:
    from collections import OrderedDict, namedtuple
    from enum import IntEnum

    class Level(IntEnum):
        HIGH = 300

    point = namedtuple("point", "x y")
    assert encode(Level.HIGH) == encode(300)
    assert encode(point(1, 2)) == encode((1, 2))
    assert encode(OrderedDict(a=1)) == encode({"a": 1})
    assert encode(bytearray(b"x")) == encode(b"x") == encode(memoryview(b"x"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (object(), "object"),
        (float("nan"), "NaN"),
        (float("inf"), "infinite"),
        ("\ud800", "surrogates"),
        ([(b"k", "\ud800")], "surrogates"),
        ((b"k", "\ud800"), "surrogates"),
        (Atom("x" * 256), "atom"),
        (Pid("a@b", 2**32, 0, 0), "Pid"),
        (Reference("a@b", 0, (2**32,)), "Reference"),
        (Port("a@b", 2**64, 0), "Port"),
        (Export("m", "f", 256), "arity"),
        ({1: {2: set()}}, "set"),
    ],
)
def test_unencodable_values_name_the_problem(value: Any, message: str) -> None:
    with pytest.raises(EncodeError, match=message) as info:
        encode(value)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)


def test_cyclic_value_is_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(EncodeError, match="nested too deeply"):
        encode(loop)


def test_deep_nesting_has_no_recursion_limit() -> None:
    term: Any = []
    for _ in range(5 * sys.getrecursionlimit()):
        term = [term]
    data = encode(term)
    assert encode(decode(data, max_depth=10**6)) == data
    with pytest.raises(DecodeError, match="nesting deeper than 1000"):
        decode(data)


def test_map_keys_python_cannot_hold() -> None:
    # #{1 => a, 1.0 => b}: distinct keys in Erlang, one key in a dict.
    data = b"\x83t\x00\x00\x00\x02a\x01w\x01aF" + struct.pack(">d", 1.0) + b"w\x01b"
    value = decode(data)
    assert value == MapPairs([(1, Atom("a")), (1.0, Atom("b"))])
    assert encode(value) == data
    # #{[1] => x}: a list key is unhashable.
    data = b"\x83t\x00\x00\x00\x01k\x00\x01\x01w\x01x"
    assert decode(data) == MapPairs([([1], Atom("x"))])
    # A map used as a key of a map.
    inner = b"t\x00\x00\x00\x01a\x01a\x02"
    data = b"\x83t\x00\x00\x00\x01" + inner + b"a\x03"
    assert decode(data) == MapPairs([({1: 2}, 3)])
    assert encode(decode(data)) == data


def test_map_order_is_kept() -> None:
    data = b"\x83t\x00\x00\x00\x02w\x01za\x01w\x01aa\x02"
    value = decode(data)
    assert list(value) == [Atom("z"), Atom("a")]
    assert encode(value) == data


def test_non_canonical_list_tail_is_joined() -> None:
    # [1 | [2]] written as two LIST_EXTs is the proper list [1, 2].
    assert decode(b"\x83l\x00\x00\x00\x01a\x01l\x00\x00\x00\x01a\x02j") == [1, 2]
    nested = b"\x83l\x00\x00\x00\x01a\x01l\x00\x00\x00\x01a\x02w\x01t"
    assert decode(nested) == ImproperList([1, 2], Atom("t"))
    # A LIST_EXT with no elements is its tail.
    assert decode(b"\x83l\x00\x00\x00\x00w\x01t") is Atom("t")
    assert decode(b"\x83l\x00\x00\x00\x00j") == []


def test_same_helper_sees_negative_zero() -> None:
    assert not same(0.0, -0.0)
    assert same(-0.0, decode(encode(-0.0)))


N = b"w\x01n"  # the node atom 'n'


def words(*values: int) -> bytes:
    return struct.pack(f">{len(values)}I", *values)


@pytest.mark.parametrize(
    ("wire", "value", "modern"),
    [
        # Forms OTP 25 no longer puts on the distribution; they decode to the
        # same values and re-encode in the modern form, as OTP 23+ does.
        (b"d\x00\x03abc", Atom("abc"), b"w\x03abc"),
        (b"s\x03h\xe9l", Atom("hél"), b"w\x04h\xc3\xa9l"),
        (b"d\x00\x04true", True, b"w\x04true"),
        (b"c" + b"1.50000000000000000000e+00".ljust(31, b"\x00"), 1.5, None),
        (b"g" + N + struct.pack(">IIB", 5, 6, 3), Pid("n", 5, 6, 3), b"X" + N + words(5, 6, 3)),
        (b"f" + N + struct.pack(">IB", 9, 2), Port("n", 9, 2), b"Y" + N + words(9, 2)),
        (b"ew\x01n" + struct.pack(">IB", 9, 2), Reference("n", 2, (9,)), None),
        (
            b"r\x00\x02w\x01n\x01" + struct.pack(">II", 7, 8),
            Reference("n", 1, (7, 8)),
            b"Z\x00\x02w\x01n" + struct.pack(">III", 1, 7, 8),
        ),
        (b"x" + N + struct.pack(">QI", 7, 1), Port("n", 7, 1), b"Y" + N + words(7, 1)),
    ],
)
def test_deprecated_forms_decode(wire: bytes, value: Any, modern: bytes | None) -> None:
    decoded = decode(b"\x83" + wire)
    assert decoded == value
    if modern is not None:
        assert encode_body(decoded) == modern


def test_deep_map_keys_are_not_hashed() -> None:
    # Hashing a deeply nested tuple recurses in C and can crash the process;
    # such a key stays in a MapPairs instead.
    for levels, kind in [(50, dict), (50_000, MapPairs)]:
        data = b"\x83t\x00\x00\x00\x01" + b"h\x01" * levels + b"a\x01" + b"a\x02"
        value = decode(data, max_depth=10**5)
        assert isinstance(value, kind)
        assert encode(value) == data


def test_long_chain_of_list_tails_is_one_list() -> None:
    # `[1 | [1 | [1 | ...]]]` written as nested LIST_EXT tails: one flat list,
    # decoded in linear time and without counting as nesting.
    levels = 50_000
    improper = b"\x83" + b"l\x00\x00\x00\x01a\x01" * levels + b"w\x01t"
    assert decode(improper) == ImproperList([1] * levels, Atom("t"))
    proper = b"\x83" + b"l\x00\x00\x00\x01a\x01" * levels + b"j"
    assert decode(proper) == [1] * levels


def test_pid_reuse_cache_is_exact_and_bounded() -> None:
    from kazoo_trio.term import _decode

    pids = [Pid("a@vm", i, 0, creation) for i in range(3000) for creation in (1, 2)]
    data = encode(pids)
    assert decode(data) == pids
    assert decode(data) == pids  # now from the cache
    assert len(_decode._PIDS) <= _decode._PIDS_MAX
    # Same bytes with an atom-cache node are never taken from the cache.
    body = b"XR\x00" + struct.pack(">III", 0, 0, 1)
    assert decode_body(body, atom_refs=[Atom("b@vm")])[0] == Pid("b@vm", 0, 0, 1)
