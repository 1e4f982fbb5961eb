"""Post-handshake framing: 4-byte lengths, ticks, arbitrary splits, the size limit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.erlang.framing import (
    DEFAULT_MAX_FRAME,
    TICK,
    DistProtocolError,
    FrameBuffer,
    FrameTooLarge,
    frame,
    frame_parts,
)


def test_tick_and_frames() -> None:
    buf = FrameBuffer()
    buf.feed(TICK + frame(b"abc") + TICK + frame(b"p\x83j"))
    assert list(buf.frames()) == [b"", b"abc", b"", b"p\x83j"]
    assert list(buf.frames()) == []
    assert len(buf) == 0


def test_split_length_and_payload() -> None:
    buf = FrameBuffer()
    data = frame(b"hello") + frame(b"world!")
    got = []
    for i in range(len(data)):
        buf.feed(data[i : i + 1])
        got += list(buf.frames())
    assert got == [b"hello", b"world!"]


def test_partial_frame_waits() -> None:
    buf = FrameBuffer()
    buf.feed(b"\0\0\0\x05he")
    assert list(buf.frames()) == []
    assert len(buf) == 6
    buf.feed(b"llo\0\0")
    assert list(buf.frames()) == [b"hello"]
    buf.feed(b"\0\0")
    assert list(buf.frames()) == [b""]


def test_many_frames_in_one_feed() -> None:
    payloads = [bytes([i % 256]) * (i % 7) for i in range(2000)]
    buf = FrameBuffer()
    buf.feed(b"".join(frame(p) for p in payloads))
    assert list(buf.frames()) == payloads


def test_payloads_survive_later_feeds() -> None:
    buf = FrameBuffer()
    buf.feed(frame(b"first") + frame(b"sec"))
    it = buf.frames()
    first = next(it)
    buf.feed(frame(b"third"))  # feeding while the generator is suspended
    assert first == b"first"
    assert list(it) == [b"sec", b"third"]


def test_stopping_early_loses_nothing() -> None:
    buf = FrameBuffer()
    buf.feed(frame(b"a") + frame(b"b") + frame(b"c"))
    for payload in buf.frames():
        assert payload == b"a"
        break
    assert list(buf.frames()) == [b"b", b"c"]


def test_oversize_is_refused_before_buffering() -> None:
    buf = FrameBuffer(max_frame=1000)
    buf.feed(frame(b"x" * 1000))
    assert list(buf.frames()) == [b"x" * 1000]
    buf.feed((1001).to_bytes(4, "big"))
    with pytest.raises(FrameTooLarge, match="1001 bytes exceeds the limit of 1000"):
        list(buf.frames())
    assert issubclass(FrameTooLarge, DistProtocolError)
    # Garbage read as a length (an HTTP request) trips the default limit at once.
    buf = FrameBuffer()
    buf.feed(b"GET / HTTP/1.1\r\n")
    with pytest.raises(FrameTooLarge):
        list(buf.frames())
    assert DEFAULT_MAX_FRAME >= 100 * 1024 * 1024
    with pytest.raises(ValueError):
        FrameBuffer(max_frame=0)


def test_large_frame_in_chunks() -> None:
    payload = bytes(range(256)) * 50_000  # 12.8 MB, like a big fetch reply
    data = frame(payload)
    buf = FrameBuffer()
    got = []
    for i in range(0, len(data), 65536):
        buf.feed(data[i : i + 65536])
        got += list(buf.frames())
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
    buf = FrameBuffer()
    got: list[bytes] = []
    pos = 0
    for cut in [*cuts, len(data)]:
        buf.feed(data[pos : pos + cut])
        pos += cut
        got += list(buf.frames())
    buf.feed(data[pos:])
    got += list(buf.frames())
    assert got == payloads
