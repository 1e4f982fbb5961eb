"""Queued frames leave in one socket write (the sender joins them, up to a batch size)."""

from __future__ import annotations

import pytest
import trio

from kazoo_trio.kazoo.streams.queue import SEND_BATCH_BYTES
from kazoo_trio.term import Atom, decode
from tests.kazoo.test_stream import event, new_stream, running
from tests.waiting import wait_until


async def test_queued_frames_are_joined_into_one_send(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = new_stream(framing=4)
    writes: list[int] = []
    probe = trio.socket.socket()
    socket_type = type(probe)
    probe.close()
    original = socket_type.send

    async def counting_send(self: trio.socket.SocketType, data: bytes, *args: int) -> int:
        client = stream._client
        if client is not None and self is client.sock:
            writes.append(len(data))
        return await original(self, data, *args)

    monkeypatch.setattr(socket_type, "send", counting_send)
    async with running(stream) as port:
        for seq in range(1, 41):
            stream.offer(event(seq))
        queued = stream.queued_bytes
        assert queued < SEND_BATCH_BYTES
        client = await trio.open_tcp_stream("127.0.0.1", port)
        received = 0
        with trio.fail_after(10):
            while received < queued:
                received += len(await client.receive_some(1 << 20))
        await wait_until(lambda: stream.stats.events_sent == 40)
        await client.aclose()
    # 40 queued frames, one write (a short write would add a second one for the rest).
    assert sum(writes) == queued
    assert 1 <= len(writes) <= 2, writes
    assert stream.stats.bytes_sent == queued


def _seq(payload: bytes) -> int:
    tag, encoding, (fields,) = decode(payload)
    assert (tag, encoding) == (Atom("event"), Atom("json"))
    return int(dict(fields)[b"Seq"])


async def test_a_backlog_larger_than_a_batch_leaves_in_order_in_bounded_writes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = new_stream(framing=4)
    writes: list[int] = []
    probe = trio.socket.socket()
    socket_type = type(probe)
    probe.close()
    original = socket_type.send

    async def counting_send(self: trio.socket.SocketType, data: bytes, *args: int) -> int:
        client = stream._client
        if client is not None and self is client.sock:
            writes.append(len(data))
        return await original(self, data, *args)

    monkeypatch.setattr(socket_type, "send", counting_send)
    count = 120
    async with running(stream) as port:
        for seq in range(1, count + 1):
            stream.offer(event(seq, pad=20_000))
        queued = stream.queued_bytes
        assert queued > 2 * SEND_BATCH_BYTES
        client = await trio.open_tcp_stream("127.0.0.1", port)
        data = bytearray()
        seqs: list[int] = []
        with trio.fail_after(10):
            while len(seqs) < count:
                data += await client.receive_some(1 << 20)
                while len(data) >= 4 and len(data) >= 4 + int.from_bytes(data[:4], "big"):
                    size = int.from_bytes(data[:4], "big")
                    seqs.append(_seq(bytes(data[4 : 4 + size])))
                    del data[: 4 + size]
        await wait_until(lambda: stream.stats.events_sent == count)
        await client.aclose()
    assert seqs == list(range(1, count + 1))
    assert not data
    assert stream.stats.bytes_sent == queued
    # Several batches, none larger than the bound (a short write's rest is smaller still).
    assert max(writes) <= SEND_BATCH_BYTES
    assert len(writes) >= 3, writes
