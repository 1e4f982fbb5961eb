"""Post-handshake framing: 4-byte lengths, ticks, arbitrary splits, the size limit.

:class:`FrameSplitter` is what a connection's reader splits its reads with, so
these are the reader's framing rules.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.erlang.wire import (
    DEFAULT_MAX_FRAME,
    TICK,
    DistProtocolError,
    FrameSplitter,
    FrameTooLarge,
    frame,
    frame_parts,
)
from kazoo_trio.errors import ProtocolError


def test_tick_and_frames() -> None:
    buf = FrameSplitter()
    assert buf.feed(TICK + frame(b"abc") + TICK + frame(b"p\x83j")) == [b"", b"abc", b"", b"p\x83j"]
    assert buf.feed(b"") == []
    assert len(buf) == 0


def test_split_length_and_payload() -> None:
    buf = FrameSplitter()
    data = frame(b"hello") + frame(b"world!")
    got = []
    for i in range(len(data)):
        got += buf.feed(data[i : i + 1])
    assert got == [b"hello", b"world!"]


def test_partial_frame_waits() -> None:
    buf = FrameSplitter()
    assert buf.feed(b"\0\0\0\x05he") == []
    assert len(buf) == 6
    assert buf.feed(b"llo\0\0") == [b"hello"]
    assert buf.feed(b"\0\0") == [b""]


def test_many_frames_in_one_feed() -> None:
    payloads = [bytes([i % 256]) * (i % 7) for i in range(2000)]
    buf = FrameSplitter()
    assert buf.feed(b"".join(frame(p) for p in payloads)) == payloads


def test_payloads_survive_later_feeds() -> None:
    buf = FrameSplitter()
    chunk = bytearray(frame(b"first") + frame(b"sec")[:-1])
    first = buf.feed(chunk)
    chunk[:] = frame(b"third")  # the reader reuses its receive buffer
    assert buf.feed(b"c" + bytes(chunk)) == [b"sec", b"third"]
    assert first == [b"first"]
    assert all(type(p) is bytes for p in first)


def test_bytes_like_input() -> None:
    buf = FrameSplitter()
    assert buf.feed(memoryview(frame(b"ab") + b"\0")) == [b"ab"]
    assert buf.feed(bytearray(b"\0\0\x01z")) == [b"z"]


def test_oversize_is_refused_before_buffering() -> None:
    buf = FrameSplitter(max_frame=1000)
    assert buf.feed(frame(b"x" * 1000)) == [b"x" * 1000]
    with pytest.raises(FrameTooLarge, match="1001 bytes exceeds the limit of 1000"):
        buf.feed((1001).to_bytes(4, "big"))
    assert issubclass(FrameTooLarge, DistProtocolError)
    assert issubclass(DistProtocolError, ProtocolError)
    # Garbage read as a length (an HTTP request) trips the default limit at once.
    buf = FrameSplitter()
    with pytest.raises(FrameTooLarge):
        buf.feed(b"GET / HTTP/1.1\r\n")
    assert DEFAULT_MAX_FRAME >= 100 * 1024 * 1024
    with pytest.raises(ValueError):
        FrameSplitter(max_frame=0)


def test_frames_before_an_oversize_length_are_kept_and_the_error_sticks() -> None:
    buf = FrameSplitter(max_frame=10)
    with pytest.raises(FrameTooLarge) as info:
        buf.feed(frame(b"a") + TICK + (11).to_bytes(4, "big") + b"rest")
    assert info.value.frames == [b"a", b""]
    # The stream cannot be resynchronised: every later feed raises again.
    for _ in range(2):
        with pytest.raises(FrameTooLarge) as info:
            buf.feed(frame(b"b"))
        assert info.value.frames == []


def test_large_frame_in_chunks() -> None:
    payload = bytes(range(256)) * 50_000  # 12.8 MB, like a big fetch reply
    data = frame(payload)
    buf = FrameSplitter()
    got = []
    for i in range(0, len(data), 65536):
        got += buf.feed(data[i : i + 65536])
    assert len(got) == 1 and got[0] == payload


def test_frame_parts() -> None:
    parts = frame_parts([b"p\x83", b"h\x01", b"j"])
    assert parts == [b"\0\0\0\x05", b"p\x83", b"h\x01", b"j"]
    assert frame_parts([]) == [TICK]
    assert frame(b"") == TICK


@settings(deadline=None)  # timing on a shared CI machine is not what is tested
@given(st.lists(st.binary(max_size=50), max_size=30), st.lists(st.integers(1, 64), max_size=40))
def test_any_chunking_gives_the_same_frames(payloads: list[bytes], cuts: list[int]) -> None:
    data = b"".join(b"".join(frame_parts([p])) for p in payloads)
    buf = FrameSplitter()
    got: list[bytes] = []
    pos = 0
    for cut in [*cuts, len(data)]:
        got += buf.feed(data[pos : pos + cut])
        pos += cut
    got += buf.feed(data[pos:])
    assert got == payloads
    assert len(buf) == 0
