"""A connection's byte streams: direct writes next to the writer's queue, and the reader.

The connection runs over a local socket pair with small kernel buffers and a
peer that reads slowly, so direct writes are cut short and the writer has to
finish them; the frames the peer receives must be exactly those queued, in
queue order, whichever path wrote them.  In the other direction, frames cut
at any byte and frames bigger than one read must reach the packet hook intact.
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio

from kazoo_trio.erlang.connection import RECV_SIZE, Connection, Deferral
from kazoo_trio.term.types import Atom
from tests.waiting import wait_until

SMALL_BUFFER = 4096


def _frames(buf: bytearray) -> list[bytes]:
    """Take the complete frames off the front of ``buf``."""
    out = []
    while len(buf) >= 4:
        size = int.from_bytes(buf[:4], "big")
        if len(buf) < 4 + size:
            break
        out.append(bytes(buf[4 : 4 + size]))
        del buf[: 4 + size]
    return out


@asynccontextmanager
async def _connection(
    deferral: Deferral,
    on_packet: Callable[[Connection, bytes], bool] | None = None,
) -> AsyncIterator[tuple[Connection, trio.socket.SocketType, trio.Nursery, list[str]]]:
    """A running connection on one end of a socket pair; yields it, the peer end and the reason."""
    ours, peer = trio.socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL_BUFFER)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_BUFFER)
    conn = Connection(
        Atom("peer@127.0.0.1"),
        trio.SocketStream(ours),
        0,
        peer_creation=1,
        on_frame=lambda conn, msg: None,
        on_packet=on_packet,
        net_ticktime=600.0,
        max_frame=1 << 20,
        deferral=deferral,
    )
    reasons: list[str] = []

    async def run() -> None:
        reasons.append(await conn.run())

    with peer:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run)
            # Let the writer park: only then do deferred packets skip it.
            await wait_until(lambda: len(conn._writer_wakeup), timeout=5)
            yield conn, peer, nursery, reasons
            nursery.cancel_scope.cancel()


async def _read_frames(peer: trio.socket.SocketType, into: list[bytes]) -> None:
    """Append the frames the peer receives to ``into``, reading a few hundred bytes at a time."""
    buf = bytearray()
    while True:
        chunk = await peer.recv(300)
        assert chunk, "connection closed while frames were expected"
        buf += chunk
        into += _frames(buf)
        await trio.sleep(0)  # a checkpoint: a slow reader lets the writer hit full buffers


async def _frames_until(peer: trio.socket.SocketType, count: int) -> list[bytes]:
    received: list[bytes] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_read_frames, peer, received)
        await wait_until(lambda: len(received) >= count)
        nursery.cancel_scope.cancel()
    return received


async def test_direct_write_goes_out_before_the_task_yields() -> None:
    deferral = Deferral()
    async with _connection(deferral) as (conn, peer, _, _):
        deferral.task = trio.lowlevel.current_task()
        conn.send_parts_nowait([b"hello", b" world"])
        # Deferred: nothing written and the writer not woken until the flush.
        assert deferral.dirty == [conn]
        assert len(conn._writer_wakeup)
        deferral.task = None
        deferral.flush()
        # Written by this task, synchronously: the bytes are already at the peer.
        assert os.read(peer.fileno(), 100) == b"\x00\x00\x00\x0bhello world"
        assert not deferral.dirty


async def test_packets_of_other_tasks_wake_the_writer() -> None:
    deferral = Deferral()
    async with _connection(deferral) as (conn, peer, _, _):
        conn.send_parts_nowait([b"abc"])  # deferral.task is None: not deferred
        assert not deferral.dirty
        assert not len(conn._writer_wakeup)  # the writer was woken
        with trio.fail_after(5):
            assert await _frames_until(peer, 1) == [b"abc"]


async def test_order_kept_across_partial_direct_writes_and_the_writer() -> None:
    rng = random.Random(20261127)
    deferral = Deferral()
    async with _connection(deferral) as (conn, peer, nursery, _):
        task = trio.lowlevel.current_task()
        expected: list[bytes] = []
        received: list[bytes] = []
        seq = 0
        cut_short = 0  # direct writes that left bytes for the writer

        def payload() -> list[bytes]:
            nonlocal seq
            seq += 1
            body = seq.to_bytes(4, "big") + bytes([seq % 251]) * rng.choice([0, 10, 3000, 20000])
            expected.append(body)
            # Sent in pieces, as the reply encoders do.
            return [body[:3], body[3:]]

        def flush() -> None:
            nonlocal cut_short
            direct = bool(deferral.dirty)
            deferral.task = None
            deferral.flush()
            if direct and conn._out:
                cut_short += 1

        rounds = 400
        for i in range(rounds):
            op = rng.random()
            if op < 0.5:
                deferral.task = task
                conn.send_parts_nowait(payload())
            elif op < 0.65:
                deferral.task = None  # another task's packet
                conn.send_parts_nowait(payload())
            elif op < 0.7:
                conn._send_tick()
                expected.append(b"")
            elif op < 0.8:
                flush()
            else:
                # A deferring task flushes before it blocks; meanwhile the
                # writer and the slow peer make progress (or not).
                flush()
                await trio.sleep(0 if rng.random() < 0.7 else 0.002)
            if i == rounds // 4:
                # The peer starts reading late, so the first writes find full buffers.
                nursery.start_soon(_read_frames, peer, received)
        flush()
        await wait_until(lambda: len(received) >= len(expected))
        assert received == expected
        assert cut_short > 0, "no direct write was cut short: the test did not test that"
        assert conn.reason is None


async def test_direct_write_error_closes_only_the_connection() -> None:
    deferral = Deferral()
    async with _connection(deferral) as (conn, peer, _, reasons):
        # The peer stops reading: our writes now fail with EPIPE, while the
        # reader sees no end of stream.
        peer.shutdown(socket.SHUT_RD)
        deferral.task = trio.lowlevel.current_task()
        conn.send_parts_nowait([b"x" * 100])
        deferral.task = None
        deferral.flush()  # the error is left to the writer: no exception here
        await wait_until(lambda: reasons, timeout=5)
        assert reasons[0].startswith("writer: BrokenPipeError")
        assert conn.closed
        # Packets queued after the end are dropped, not written or raised.
        conn.send_parts_nowait([b"late"])
        deferral.flush()
        assert not deferral.dirty


async def test_reader_splits_frames_across_reads_of_any_size() -> None:
    # Frames bigger than one read, frames cut anywhere, ticks in between:
    # the reader reuses one receive buffer and must hand out each payload intact.
    rng = random.Random(7)
    payloads = [
        bytes([i % 256]) * rng.choice([1, 50, 5000, RECV_SIZE - 3, RECV_SIZE * 2 + 17])
        for i in range(40)
    ]
    stream = b"".join(
        (b"\x00\x00\x00\x00" if i % 7 == 0 else b"") + len(p).to_bytes(4, "big") + p
        for i, p in enumerate(payloads)
    )
    got: list[bytes] = []

    def on_packet(conn: Connection, payload: bytes) -> bool:
        got.append(payload)
        return True

    async with _connection(Deferral(), on_packet) as (conn, peer, _, _):
        with trio.fail_after(20):
            pos = 0
            while pos < len(stream):
                step = rng.choice([1, 3, 700, 70_000, 600_000])
                pos += await peer.send(stream[pos : pos + step])
            await wait_until(lambda: len(got) >= len(payloads), timeout=20)
        assert got == payloads

        assert conn.reason is None


async def test_frames_before_an_oversize_length_are_handled_then_the_connection_closes() -> None:
    got: list[bytes] = []

    def on_packet(conn: Connection, payload: bytes) -> bool:
        got.append(payload)
        return True

    async with _connection(Deferral(), on_packet) as (conn, peer, _, reasons):
        assert conn.reason is None
        # max_frame is 1 MiB: the third length is over it.
        await peer.send(b"\x00\x00\x00\x01a\x00\x00\x00\x01b\x7f\xff\xff\xffc")
        await wait_until(lambda: reasons, timeout=5)
        assert got == [b"a", b"b"]
        assert reasons[0].startswith("protocol error: frame of 2147483647 bytes")
        assert conn.closed
