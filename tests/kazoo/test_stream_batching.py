"""Queued frames leave in one socket write (the sender joins them, up to a batch size)."""

from __future__ import annotations

import pytest
import trio

from kazoo_trio.kazoo.stream import SEND_BATCH_BYTES
from tests.kazoo.test_stream import event, new_stream, running, wait_for


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
        await wait_for(lambda: stream.stats.events_sent == 40)
        await client.aclose()
    # 40 queued frames, one write (a short write would add a second one for the rest).
    assert sum(writes) == queued
    assert 1 <= len(writes) <= 2, writes
    assert stream.stats.bytes_sent == queued
