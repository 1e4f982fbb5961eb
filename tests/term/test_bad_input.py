"""Malformed input: always a DecodeError naming the offset and the reason, never anything else."""

from __future__ import annotations

import contextlib
import struct
import sys
import zlib
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kazoo_trio.term import (
    Atom,
    BitString,
    DecodeError,
    Export,
    Fun,
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
)
from tests.term.strategies import terms

# Hypothesis warns when it prints the (big) recursive term strategy; harmless.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")


def deep(levels: int) -> bytes:
    return b"\x83" + b"l\x00\x00\x00\x01" * levels + b"j" * (levels + 1)


def compressed(body: bytes, claimed: int | None = None) -> bytes:
    size = len(body) if claimed is None else claimed
    return b"\x83P" + struct.pack(">I", size) + zlib.compress(body)


BAD: list[tuple[str, bytes, int, str]] = [
    # (case, input, offset, reason fragment)
    ("empty", b"", 0, "no version byte"),
    ("wrong version", b"\x84a\x01", 0, "version byte is 132"),
    ("version only", b"\x83", 1, "truncated"),
    ("truncated small int", b"\x83a", 2, "truncated"),
    ("truncated tuple", b"\x83h\x02a\x01", 5, "truncated"),
    ("truncated pid", b"\x83Xw\x04a@vm\x00\x00", 10, "truncated"),
    ("trailing bytes", b"\x83a\x01\x00", 3, "1 trailing bytes"),
    ("unknown tag", b"\x83\xff", 1, "unknown tag 255"),
    ("old FUN_EXT", b"\x83u\x00\x00\x00\x00", 1, "FUN_EXT"),
    ("LOCAL_EXT", b"\x83y\x00", 1, "LOCAL_EXT"),
    ("131 inside", b"\x83h\x01\x83a\x01", 3, "version byte 131 inside"),
    ("binary too long", b"\x83m\xff\xff\xff\xffab", 1, "binary length 4294967295"),
    ("string too long", b"\x83k\xff\xffab", 1, "string length 65535"),
    ("list too long", b"\x83l\xff\xff\xff\xffj", 1, "list length 4294967295"),
    ("tuple too long", b"\x83i\xff\xff\xff\xffa\x01", 6, "tuple arity 4294967295"),
    ("small tuple too long", b"\x83h\xffa\x01", 3, "tuple arity 255"),
    ("map too big", b"\x83t\xff\xff\xff\xffa\x01", 1, "map size 4294967295"),
    ("huge bignum", b"\x83o\xff\xff\xff\xff\x00\x01", 1, "bignum of 4294967295 bytes"),
    ("small bignum short", b"\x83n\x09\x00\x01", 1, "bignum of 9 bytes"),
    ("ref words", b"\x83Z\xff\xffw\x01a\x00\x00\x00\x00", 11, "reference of 65535 words"),
    ("bit string too long", b"\x83M\x00\x00\x00\x09\x03\x00", 1, "bit string length 9"),
    ("bit string 0 bits", b"\x83M\x00\x00\x00\x01\x00\x00", 1, "1..8 used bits"),
    ("bit string 9 bits", b"\x83M\x00\x00\x00\x01\x09\x00", 1, "1..8 used bits"),
    ("empty bit string", b"\x83M\x00\x00\x00\x00\x03", 1, "needs data"),
    ("atom too long for buffer", b"\x83w\x09abc", 1, "atom length 9"),
    ("atom not UTF-8", b"\x83w\x02\xff\xfe", 1, "not valid UTF-8"),
    ("atom over 255 chars", b"\x83v\x01\x00" + b"a" * 256, 1, "longer than 255"),
    ("pid node not an atom", b"\x83Xa\x01" + b"\x00" * 12, 2, "expected an atom"),
    ("atom cache ref outside dist", b"\x83R\x00", 1, "ATOM_CACHE_REF outside"),
    ("NaN float", b"\x83F\x7f\xf8" + b"\x00" * 6, 1, "NaN or infinite"),
    ("infinite float", b"\x83F\x7f\xf0" + b"\x00" * 6, 1, "NaN or infinite"),
    ("FLOAT_EXT junk", b"\x83cnan" + b"\x00" * 28, 1, "not a number"),
    ("FLOAT_EXT underscores", b"\x83c1_0" + b"\x00" * 28, 1, "not a number"),
    ("FLOAT_EXT truncated", b"\x83c1.5", 1, "truncated FLOAT_EXT"),
    ("FLOAT_EXT overflow", b"\x83c9e999" + b"\x00" * 26, 1, "out of range"),
    ("export with integer module", b"\x83qa\x01w\x01fa\x02", 1, "EXPORT_EXT needs two atoms"),
    ("export arity", b"\x83qw\x01mw\x01fb\x00\x00\x01\x00", 1, "arity must be 0..255"),
    ("fun size small", b"\x83p\x00\x00\x00\x05" + b"\x00" * 30, 1, "too small"),
    ("fun size past end", b"\x83p\x00\x00\x01\x00" + b"\x00" * 30, 1, "fun size 256"),
    ("nesting 1001", deep(1001), 5006, "nesting deeper than 1000"),
    ("nesting 100000", deep(100_000), 5006, "nesting deeper than 1000"),
    ("compressed size mismatch", compressed(b"a\x01", claimed=3), 2, "differs from its header"),
    ("compressed over size", compressed(b"a\x01", claimed=1), 2, "differs from its header"),
    ("compressed over the cap", compressed(b"a\x01", claimed=65 * 2**20), 2, "over the cap"),
    ("compressed truncated", compressed(b"m\x00\x00\x01\x00" + b"x" * 256)[:-3], 19, "truncated"),
    ("compressed garbage", b"\x83P\x00\x00\x00\x02garbage", 6, "bad zlib data"),
    ("compressed bad inside", compressed(b"\xff\x00"), 0, "unknown tag 255 inside the inflated"),
    ("compressed short header", b"\x83P\x00\x00", 4, "truncated compressed"),
    ("compressed inner leftover", compressed(b"a\x01a\x02"), 2, "left over inside"),
]


@pytest.mark.parametrize(
    ("data", "offset", "reason"), [c[1:] for c in BAD], ids=[c[0] for c in BAD]
)
def test_bad_input_table(data: bytes, offset: int, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(data)
    assert reason in info.value.reason
    assert info.value.offset == offset
    assert isinstance(info.value, ValueError)
    assert str(offset) in str(info.value)


def test_depth_limit_is_exact_and_configurable() -> None:
    assert encode(decode(deep(1000))) == deep(1000)
    with pytest.raises(DecodeError, match="nesting deeper than 10"):
        decode(deep(11), max_depth=10)
    expected: Any = []
    for _ in range(10):
        expected = [expected]
    assert decode(deep(10), max_depth=10) == expected
    # Far deeper than Python's recursion limit, when the caller allows it.
    levels = 10 * sys.getrecursionlimit()
    assert encode(decode(deep(levels), max_depth=levels)) == deep(levels)


_decompressobj = zlib.decompressobj


class _CountingInflater:
    """A ``zlib.decompressobj`` that counts the bytes it hands out."""

    def __init__(self, inflated: list[int]) -> None:
        self._inflater = _decompressobj()
        self._inflated = inflated

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        out = self._inflater.decompress(data, max_length)
        self._inflated.append(len(out))
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inflater, name)


def test_zlib_bomb_stops_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    inflated: list[int] = []
    monkeypatch.setattr(zlib, "decompressobj", lambda: _CountingInflater(inflated))
    bomb = compressed(b"m" + struct.pack(">I", 50 * 2**20) + bytes(50 * 2**20))
    assert len(bomb) < 100_000
    with pytest.raises(DecodeError, match="over the cap"):
        decode(bomb, max_inflated=2**20)
    assert inflated == []  # refused from the header, nothing inflated
    # A lying header cannot make the inflater run past it.
    liar = b"\x83P" + struct.pack(">I", 1000) + bomb[6:]
    with pytest.raises(DecodeError, match="differs from its header"):
        decode(liar)
    assert 0 < sum(inflated) <= 1000 + 1  # one byte past the header's size proves the lie


def test_atom_cache_refs() -> None:
    refs = [Atom("rex"), Atom("true"), Atom("a@vm")]
    body = b"h\x03R\x00R\x01XR\x02" + struct.pack(">III", 1, 2, 3)
    term, end = decode_body(body, atom_refs=refs)
    assert term == (Atom("rex"), True, Pid("a@vm", 1, 2, 3))
    assert end == len(body)
    with pytest.raises(DecodeError, match="ATOM_CACHE_REF 3 but the header lists 3") as info:
        decode_body(b"R\x03", atom_refs=refs)
    assert info.value.offset == 0
    with pytest.raises(DecodeError, match="outside a distribution message"):
        decode_body(b"R\x00")


def test_fun_with_atom_cache_refs_is_rebuilt_with_plain_atoms() -> None:
    fixed = b"\x01" + bytes(range(16)) + struct.pack(">II", 5, 1)
    pid = b"XR\x01" + struct.pack(">III", 1, 2, 3)
    rest = fixed + b"R\x00" + b"a\x05" + b"b\x00\x00\x01\x00" + pid + b"a\x07"
    wire = b"p" + struct.pack(">I", len(rest) + 4) + rest
    fun, _ = decode_body(wire, atom_refs=[Atom("erl_eval"), Atom("a@vm")])
    assert isinstance(fun, Fun)
    plain = fixed + b"w\x08erl_eval" + b"a\x05" + b"b\x00\x00\x01\x00"
    plain += b"Xw\x04a@vm" + struct.pack(">III", 1, 2, 3) + b"a\x07"
    assert fun.raw == b"p" + struct.pack(">I", len(plain) + 4) + plain
    assert decode(b"\x83" + fun.raw) == fun  # and it stands on its own


def test_fun_size_field_must_match() -> None:
    fixed = b"\x01" + bytes(16) + struct.pack(">II", 5, 0)
    rest = fixed + b"w\x01m" + b"a\x05" + b"a\x06" + b"Xw\x01n" + bytes(12)
    wire = b"\x83p" + struct.pack(">I", len(rest) + 4 + 1) + rest + b"a\x00"
    with pytest.raises(DecodeError, match="size field disagrees"):
        decode(wire)


def test_bad_offsets_and_types() -> None:
    with pytest.raises(DecodeError):
        decode_prefixed(b"\x83a\x01", 5)
    with pytest.raises(DecodeError):
        decode_prefixed(b"\x83a\x01", -1)
    with pytest.raises(DecodeError):
        decode_body(b"a\x01", -1)
    with pytest.raises(DecodeError, match="bytes expected"):
        decode("not bytes")  # type: ignore[arg-type]
    assert decode(bytearray(b"\x83a\x01")) == 1
    assert decode(memoryview(b"\x00\x83a\x01")[1:]) == 1


def test_huge_integers_ignore_the_str_digit_limit() -> None:
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(640)
    try:
        value = 7 << 40_000
        data = encode(value)
        assert decode(data) == value
        with pytest.raises(DecodeError):
            decode(data[:-1])
        with pytest.raises(DecodeError):
            decode(data + b"\x00")
    finally:
        sys.set_int_max_str_digits(limit)


def only_decode_errors(data: bytes, **kwargs: Any) -> None:
    with contextlib.suppress(DecodeError):
        decode(data, **kwargs)
    with contextlib.suppress(DecodeError):
        decode_body(data, atom_refs=[Atom("a")])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
@example(b"\x83")
@example(b"\x83P\x00\x00\x00\x00")
def test_random_bytes_only_raise_decode_error(data: bytes) -> None:
    only_decode_errors(data)
    only_decode_errors(b"\x83" + data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(encode(draw(terms), compressed=draw(st.booleans())))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif data:
            del data[at]
    return bytes(data)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_terms_only_raise_decode_error(data: bytes) -> None:
    only_decode_errors(data, max_depth=50, max_inflated=2**20)


def test_every_tag_truncated_anywhere_is_a_decode_error() -> None:
    sample = (
        Atom("a"),
        1,
        300,
        2**40,
        2**3000,
        1.5,
        b"b",
        [1, 2],
        [Atom("x")],
        (),
        {1: 2},
        Pid("a@vm", 1, 2, 3),
        "s",
        BitString(b"\x80", 1),
        Export("m", "f", 1),
        Reference("a@vm", 1, (1, 2, 3)),
        Port("a@vm", 1, 1),
        Port("a@vm", 2**40, 1),
        ImproperList([1], 2),
        MapPairs([([1], 2)]),
        (Atom("event"), [b"u", (b"k", b"v")]),
    )
    body = encode_body(sample)
    for cut in range(len(body)):
        with pytest.raises(DecodeError):
            decode(b"\x83" + body[:cut])
