"""The event stream's frame queue, without I/O: bounds, drop-oldest, batches, accounting."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.kazoo.streams.queue import StreamQueue, frame_header, max_payload


def frames(data: bytes, framing: int) -> list[bytes]:
    """The payloads of a ``{packet, framing}`` byte stream."""
    out = []
    while data:
        size = int.from_bytes(data[:framing], "big")
        out.append(data[framing : framing + size])
        data = data[framing + size :]
    return out


def test_offer_counts_frames_and_bytes_with_headers() -> None:
    queue = StreamQueue(framing=2, max_events=10, max_bytes=1000)
    assert not queue and len(queue) == 0 and queue.queued_bytes == 0
    assert queue.offer(b"abc") == 0
    assert queue.offer(b"de") == 0
    assert len(queue) == 2
    assert queue.queued_bytes == 3 + 2 + 2 + 2


def test_event_bound_drops_the_oldest() -> None:
    queue = StreamQueue(framing=1, max_events=3, max_bytes=1000)
    for payload in (b"1", b"2", b"3"):
        assert queue.offer(payload) == 0
    assert queue.offer(b"4") == 1
    assert queue.offer(b"5") == 1
    assert queue.dropped == 2
    batch, data = queue.take_batch()
    assert batch == [b"3", b"4", b"5"]
    assert frames(data, 1) == batch


def test_byte_bound_drops_the_oldest_but_keeps_the_newest() -> None:
    queue = StreamQueue(framing=4, max_events=100, max_bytes=20)
    assert queue.offer(b"x" * 6) == 0  # 10 bytes with its header
    assert queue.offer(b"y" * 6) == 0  # 20
    assert queue.offer(b"z" * 2) == 1  # 26 > 20: the oldest goes
    assert queue.queued_bytes == 16
    # A frame larger than the bound alone is kept (the newest always is).
    assert queue.offer(b"w" * 50) == 2
    assert len(queue) == 1 and queue.queued_bytes == 54
    assert queue.dropped == 3


def test_take_batch_joins_up_to_the_limit_and_takes_at_least_one() -> None:
    queue = StreamQueue(framing=2, max_events=100, max_bytes=10_000)
    for n in range(5):
        queue.offer(bytes([65 + n]) * 10)  # 12 bytes each on the wire
    batch, data = queue.take_batch(limit=30)
    assert batch == [b"A" * 10, b"B" * 10]
    assert data == frame_header(10, 2) + b"A" * 10 + frame_header(10, 2) + b"B" * 10
    assert len(queue) == 3 and queue.queued_bytes == 36
    queue.offer(b"big" * 100)
    batch, _ = queue.take_batch(limit=1)  # smaller than any frame: one is taken anyway
    assert batch == [b"C" * 10]
    batch, _ = queue.take_batch()
    assert batch == [b"D" * 10, b"E" * 10, b"big" * 100]
    assert not queue and queue.queued_bytes == 0


def test_empty_queue_gives_an_empty_batch() -> None:
    assert StreamQueue(framing=2, max_events=1, max_bytes=1).take_batch() == ([], b"")


def test_account_counts_whole_frames_and_puts_the_rest_back_first() -> None:
    queue = StreamQueue(framing=2, max_events=100, max_bytes=10_000)
    for payload in (b"aaaa", b"bbbb", b"cccc"):
        queue.offer(payload)
    batch, _ = queue.take_batch()
    queue.offer(b"dddd")  # offered while the batch was being written
    # The first frame and half of the second were written.
    assert queue.account(batch, 6 + 3) == (1, 0)
    assert len(queue) == 3 and queue.queued_bytes == 18
    again, _ = queue.take_batch()
    assert again == [b"bbbb", b"cccc", b"dddd"]  # the partial frame is sent again, whole
    assert queue.account(again, 18) == (3, 0)
    assert not queue and queue.queued_bytes == 0


def test_account_trims_when_putting_back_overflows() -> None:
    queue = StreamQueue(framing=1, max_events=3, max_bytes=1000)
    for payload in (b"1", b"2", b"3"):
        queue.offer(payload)
    batch, _ = queue.take_batch()
    for payload in (b"4", b"5"):
        queue.offer(payload)
    # Nothing was written: five frames for three places, the two oldest go.
    assert queue.account(batch, 0) == (0, 2)
    assert queue.take_batch()[0] == [b"3", b"4", b"5"]
    assert queue.dropped == 2


def test_clear() -> None:
    queue = StreamQueue(framing=2, max_events=10, max_bytes=1000)
    queue.offer(b"abc")
    queue.clear()
    assert not queue and queue.queued_bytes == 0


def test_frame_limits() -> None:
    assert [max_payload(n) for n in (1, 2, 4)] == [255, 65535, 2**32 - 1]
    assert frame_header(258, 2) == b"\x01\x02"


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([1, 2, 4]),
    st.integers(1, 8),
    st.integers(1, 200),
    st.lists(st.binary(max_size=40) | st.integers(0, 300), max_size=60),
)
def test_bounds_and_byte_count_hold_under_any_sequence(
    framing: int, max_events: int, max_bytes: int, steps: list[bytes | int]
) -> None:
    # Payloads offered, and (integers) batches taken and partly written.
    queue = StreamQueue(framing=framing, max_events=max_events, max_bytes=max_bytes)
    offered = sent = 0
    for step in steps:
        if isinstance(step, bytes):
            queue.offer(step)
            offered += 1
        else:
            batch, data = queue.take_batch(limit=64)
            assert frames(data, framing) == batch
            done, _ = queue.account(batch, min(step, len(data)))
            sent += done
        assert len(queue) <= max_events
        assert queue.queued_bytes <= max_bytes or len(queue) == 1
        counted = queue.queued_bytes
        everything, _ = queue.take_batch(limit=1 << 30)
        assert queue.queued_bytes == 0
        assert counted == sum(len(p) + framing for p in everything)
        assert queue.account(everything, 0) == (0, 0)  # all back, in order, within bounds
    assert offered == sent + len(queue) + queue.dropped
