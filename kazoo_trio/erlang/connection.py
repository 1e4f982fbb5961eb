"""One established distribution connection: reader, writer and ticker in their own nursery.

The node creates a :class:`Connection` once a handshake succeeded and awaits
:meth:`Connection.run` in the task that owns the socket (the acceptor's
handler task or the connector task).  ``run`` returns the reason the
connection ended (``connection_closed``, ``net_tick_timeout``, a protocol
error...); it never raises for network trouble or for bad bytes from the
peer, so a failing connection takes down nothing but itself.

Outgoing frames go through an in-memory queue drained by the writer, which
sends everything queued so far with a single write (a task batching replies
can also write its batch itself, see :class:`Deferral`).  The queue is
bounded in bytes: :meth:`Connection.send` (used for messages from local
processes) waits while more than :data:`HIGH_WATER` bytes are queued, while
:meth:`Connection.send_nowait` (used by the reader for answers it must give
at once: tick answers, ``UNLINK_ID_ACK``, ``noproc`` signals, exit signals
of processes killed synchronously) always queues.  A ``trio`` memory channel
was not used: its bound counts items and its ``send`` is a checkpoint per
item, where this queue counts bytes and costs a list append per frame.

The reader and the writer use the socket's file descriptor directly and wait
with ``trio.lowlevel.wait_readable``/``wait_writable`` only when the kernel has
nothing to give or no room: a small request then costs no scheduler pass of
its own (the reader still yields every :data:`_READS_PER_YIELD` full reads).
After a read that emptied the socket the reader waits for readability instead
of trying again, so the processes it woke run, and their replies go out,
before it reads the next batch.  Each read is split into frames by the
wire package's :class:`~kazoo_trio.erlang.wire.FrameSplitter`; pass-through
packets go first to the node's ``on_packet`` hook, which handles the packets
of a gen_server call straight from their bytes, and whatever it declines is
read by :func:`~kazoo_trio.erlang.wire.read_packet` into a control message
for ``on_frame``.

Reading can be paused (:meth:`Connection.hold_reading`) by a local process
that has too much of this peer's work queued: TCP then slows the peer down,
while writing and ticking go on.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from kazoo_trio.erlang.flags import DFlag, uses_dist_header
from kazoo_trio.erlang.wire import (
    TICK,
    AtomCache,
    ControlMessage,
    DistProtocolError,
    FrameSplitter,
    FrameTooLarge,
    frame_header,
    packet_parts,
    read_packet,
)
from kazoo_trio.term import DecodeError
from kazoo_trio.term.types import Atom

__all__ = ["HIGH_WATER", "RECV_SIZE", "TICK_INTENSITY", "Connection", "Deferral"]

log = logging.getLogger("kazoo_trio.erlang.connection")

# One read takes whatever the kernel has, up to this; big enough that a burst
# of small requests is handled in one pass, and a 10 MB message in ~40 reads.
RECV_SIZE = 256 * 1024

# Reads that find data waiting do not yield to the scheduler; after this many
# in a row the reader yields anyway, so one busy peer cannot starve the rest.
_READS_PER_YIELD = 16

# Senders wait while more than this many bytes are queued for the socket, so a
# slow peer costs bounded memory; big enough that the writer's batches are large.
HIGH_WATER = 4 * 1024 * 1024

# OTP's net_tickintensity default: ticks are sent every ticktime/4 and a peer
# is declared down after ticktime * (1 + 1/4) without any incoming byte.
TICK_INTENSITY = 4


@attrs.define(eq=False)
class Deferral:
    """Lets one task batch its outgoing packets and write them itself.

    While :attr:`task` is the running task, packets it queues on a connection
    whose writer is idle do not wake that writer; :meth:`flush` (which the
    task must call before it next blocks) writes them with one system call
    per connection.  That saves a writer task switch per batch of replies.
    Every other task's packets wake the writer as usual.
    """

    task: trio.lowlevel.Task | None = None
    dirty: list[Connection] = attrs.field(factory=list)

    def flush(self) -> None:
        dirty = self.dirty
        if dirty:
            self.dirty = []
            for conn in dirty:
                conn._flush_now()


@attrs.define(eq=False, repr=False)
class Connection:
    """A live connection to ``peer``.  ``flags`` are the negotiated capability flags."""

    peer: Atom
    stream: trio.SocketStream
    flags: int
    peer_creation: int = attrs.field(kw_only=True)
    _on_frame: Callable[[Connection, Any], None] = attrs.field(kw_only=True)
    _on_packet: Callable[[Connection, bytes], bool] | None = attrs.field(default=None, kw_only=True)
    # After the packets of one read: what to await before blocking (see the reader).
    _after_read: Callable[[Connection, bool], Awaitable[None] | None] | None = attrs.field(
        default=None, kw_only=True
    )
    net_ticktime: float = attrs.field(kw_only=True)
    _max_frame: int = attrs.field(kw_only=True)
    # Bytes the handshake read past its own end: the first frames.
    _trailing: bytes = attrs.field(default=b"", kw_only=True, alias="trailing_data")
    _deferral: Deferral = attrs.field(factory=Deferral, kw_only=True)
    # What the peer negotiated, as the senders ask it.
    alias: bool = attrs.field(init=False)
    payload_exit: bool = attrs.field(init=False)
    send_sender: bool = attrs.field(init=False)
    monitors: bool = attrs.field(init=False)
    local_address: tuple[str, int] | None = attrs.field(init=False)
    peer_address: tuple[str, int] | None = attrs.field(init=False)
    reason: str | None = attrs.field(default=None, init=False)
    reads: int = attrs.field(default=0, init=False)  # socket reads, watched by the ticker
    enqueued: int = attrs.field(default=0, init=False)  # frames queued, watched by the ticker
    _out: list[bytes] = attrs.field(factory=list, init=False)
    _out_bytes: int = attrs.field(default=0, init=False)
    # The writer parks here while nothing is queued; senders park in _space
    # while the queue is over HIGH_WATER.
    _writer_wakeup: trio.lowlevel.ParkingLot = attrs.field(
        factory=trio.lowlevel.ParkingLot, init=False
    )
    # Whether the writer is parked and nobody has woken it yet: what
    # len(_writer_wakeup) says, read once per packet, for a tenth of the cost.
    _writer_idle: bool = attrs.field(default=False, init=False)
    _space: trio.lowlevel.ParkingLot = attrs.field(factory=trio.lowlevel.ParkingLot, init=False)
    _tick_mark: int = attrs.field(default=0, init=False)
    # Reading is paused while _holds > 0 (see hold_reading); _held_recently
    # tells the ticker that silence was ours, not the peer's.
    _holds: int = attrs.field(default=0, init=False)
    _held_recently: bool = attrs.field(default=False, init=False)
    _resume: trio.lowlevel.ParkingLot = attrs.field(factory=trio.lowlevel.ParkingLot, init=False)
    _dirty: bool = attrs.field(default=False, init=False)
    _scope: trio.CancelScope = attrs.field(factory=trio.CancelScope, init=False)

    def __attrs_post_init__(self) -> None:
        flags = self.flags
        self.alias = bool(flags & DFlag.ALIAS)
        self.payload_exit = bool(flags & DFlag.EXIT_PAYLOAD)
        self.send_sender = bool(flags & DFlag.SEND_SENDER)
        self.monitors = bool(flags & DFlag.DIST_MONITOR and flags & DFlag.DIST_MONITOR_NAME)
        try:
            self.local_address = _addr(self.stream.socket.getsockname())
            self.peer_address = _addr(self.stream.socket.getpeername())
        except OSError:
            self.local_address = self.peer_address = None

    def __repr__(self) -> str:
        return f"<Connection to {self.peer.name}>"

    @property
    def closed(self) -> bool:
        return self.reason is not None

    # -- sending -------------------------------------------------------------------------------

    def send_nowait(self, msg: ControlMessage) -> None:
        """Queue a control message (and its payload) without waiting; dropped once closed.

        Raises ``ValueError`` for an operation the peer did not negotiate and
        the codec's ``EncodeError`` for a value with no Erlang form.
        """
        if self.reason is None:
            self.send_parts_nowait(packet_parts(msg, negotiated=self.flags))

    def send_parts_nowait(self, payload_parts: list[bytes]) -> None:
        """Queue one packet given as the pieces of its payload."""
        if self.reason is not None:
            return
        size = 0
        for part in payload_parts:
            size += len(part)
        self._out.append(frame_header(size))
        self._out += payload_parts
        self._out_bytes += size + 4
        self.enqueued += 1
        if self._writer_idle:
            deferral = self._deferral
            if deferral.task is not None and deferral.task is trio.lowlevel.current_task():
                if not self._dirty:
                    self._dirty = True
                    deferral.dirty.append(self)
            else:
                self._wake_writer()

    def _flush_now(self) -> None:
        """Write what is queued right away (the writer is idle); hand any rest to the writer."""
        self._dirty = False
        if not self._out or not self._writer_idle or self.reason is not None:
            if self._out:
                self._wake_writer()
            return
        out = self._out
        data = out[0] if len(out) == 1 else b"".join(out)
        try:
            sent = os.write(self.stream.socket.fileno(), data)
        except OSError:
            sent = 0  # BlockingIOError, or an error the writer will meet and report
        if sent == len(data):
            self._out = []
            self._out_bytes = 0
        else:
            self._out = [data[sent:]]
            self._out_bytes = len(data) - sent
            self._wake_writer()

    def _wake_writer(self) -> None:
        self._writer_idle = False
        self._writer_wakeup.unpark_all()

    async def send_parts(self, payload_parts: list[bytes]) -> None:
        """:meth:`send_parts_nowait`, then wait while the queue is over :data:`HIGH_WATER`."""
        self.send_parts_nowait(payload_parts)
        if self._out_bytes > HIGH_WATER:
            await self.wait_space()
        else:
            await trio.lowlevel.checkpoint_if_cancelled()

    async def send(self, msg: ControlMessage) -> None:
        """Queue a message; waits (a checkpoint) only while the queue is over :data:`HIGH_WATER`."""
        self.send_nowait(msg)
        if self._out_bytes > HIGH_WATER:
            await self.wait_space()
        else:
            await trio.lowlevel.checkpoint_if_cancelled()

    @property
    def over_high_water(self) -> bool:
        return self._out_bytes > HIGH_WATER

    async def wait_space(self) -> None:
        """Wait until the outgoing queue is under :data:`HIGH_WATER` (or the connection ended)."""
        while self._out_bytes > HIGH_WATER and self.reason is None:
            self._wake_writer()  # it may have been deferred
            await self._space.park()

    # -- flow control ------------------------------------------------------------------------

    def hold_reading(self) -> None:
        """Stop reading from the peer (after the current read) until :meth:`release_reading`.

        The backpressure of a local process that has too much of this peer's
        work queued: the kernel's buffers fill and the peer's senders wait,
        as Erlang's own busy distribution port makes them.  Writing goes on,
        ticks included, so the peer still sees this node alive; and this
        node does not count the peer as silent meanwhile.  Holds nest.
        """
        self._holds += 1
        self._held_recently = True

    def release_reading(self) -> None:
        if self._holds > 0:
            self._holds -= 1
            if not self._holds:
                self._resume.unpark_all()

    @property
    def reading_held(self) -> bool:
        return self._holds > 0

    def _send_tick(self) -> None:
        if self.reason is None:
            self._out.append(TICK)
            self._out_bytes += 4
            self.enqueued += 1
            if self._writer_idle:
                self._wake_writer()

    # -- lifetime ------------------------------------------------------------------------------

    def close(self, reason: str) -> None:
        """End the connection (from any task); :meth:`run` returns ``reason``."""
        if self.reason is None:
            self.reason = reason
        self._scope.cancel()
        self._space.unpark_all()
        self._resume.unpark_all()

    async def run(self) -> str:
        """Serve the connection until it ends; returns why.  Closes the socket."""
        try:
            with self._scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._guard, self._reader, "reader")
                    nursery.start_soon(self._guard, self._writer, "writer")
                    nursery.start_soon(self._guard, self._ticker, "ticker")
        finally:
            if self.reason is None:
                self.reason = "shutdown"
            self._space.unpark_all()
            await trio.aclose_forcefully(self.stream)
        return self.reason

    async def _guard(self, task: Callable[[], Any], what: str) -> None:
        try:
            await task()
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            self.close(f"{what}: {type(exc).__name__}: {exc}")
        except (DistProtocolError, DecodeError) as exc:
            log.warning("closing connection to %s: protocol error: %s", self.peer.name, exc)
            self.close(f"protocol error: {exc}")
        except Exception:
            log.exception("closing connection to %s: internal error in %s", self.peer.name, what)
            self.close(f"internal error in {what}")

    async def _reader(self) -> None:
        # Reads go to the file descriptor directly: trio's receive_some yields
        # to the scheduler even when data is waiting, which costs more than
        # the work for a small request.  We yield after at most
        # _READS_PER_YIELD reads that did not have to wait, so a busy peer
        # cannot starve the others.
        fd = self.stream.socket.fileno()
        # Only pass-through packets (no distribution header) can be hot; the
        # header form needs the atom cache the peer fills packet by packet.
        header = uses_dist_header(self.flags)
        atom_cache = AtomCache() if header else None
        handle = functools.partial(
            self._handle_frames, None if header else self._on_packet, atom_cache
        )
        after_read = self._after_read
        split = FrameSplitter(self._max_frame).feed
        data = self._trailing
        self._trailing = b""
        streak = 0
        drained = False
        # One receive buffer for the connection's life: os.read would allocate
        # RECV_SIZE bytes per call (an mmap/munmap pair at this size) only to
        # shrink them to what arrived.
        buf = bytearray(RECV_SIZE)
        view = memoryview(buf)
        bufs = [buf]
        readv = os.readv
        while True:
            if data:
                failure: FrameTooLarge | None = None
                try:
                    frames = split(data)
                except FrameTooLarge as exc:
                    # The frames before the bad length are handled first.
                    frames, failure = exc.frames, exc
                try:
                    handle(frames)
                except BaseException:
                    if after_read is not None:
                        after_read(self, True)
                    raise
                if failure is not None:
                    if after_read is not None:
                        after_read(self, True)
                    raise failure
                if after_read is not None:
                    # The processes this read woke may be served right here, with
                    # no task switch (see Process.deliver_from_reader).
                    work = after_read(self, False)
                    if work is not None:
                        await work
            while self._holds and self.reason is None:
                self._held_recently = True
                await self._resume.park()
            if drained:
                # The last read emptied the socket: wait for more rather than
                # trying a read that would fail.  Processes it woke run (and
                # their replies go out) before the next poll, so the next
                # read finds a batch, not a trickle.
                drained = False
                streak = 0
                await trio.lowlevel.wait_readable(fd)
            try:
                got = readv(fd, bufs)
            except BlockingIOError:
                data = b""
                streak = 0
                await trio.lowlevel.wait_readable(fd)
                continue
            if not got:
                self.close("connection_closed")
                return
            data = bytes(view[:got])
            self.reads += 1
            if got < RECV_SIZE:
                drained = True
            else:
                streak += 1
                if streak >= _READS_PER_YIELD:
                    streak = 0
                    await trio.lowlevel.checkpoint()

    def _handle_frames(
        self,
        on_packet: Callable[[Connection, bytes], bool] | None,
        atom_cache: AtomCache | None,
        frames: list[bytes],
    ) -> None:
        """Hand the packets of one read over (answering ticks), in order."""
        on_frame = self._on_frame
        flags = self.flags
        for payload in frames:
            if not payload:
                # Answer a tick unless we wrote something since the last
                # one: that keeps OTP happy (it does not answer ticks)
                # and cannot ping-pong between two nodes that both answer.
                if self.enqueued == self._tick_mark:
                    self._send_tick()
                self._tick_mark = self.enqueued
                continue
            if on_packet is not None:
                try:
                    if on_packet(self, payload):
                        continue
                except DecodeError:
                    raise
                except Exception:
                    log.exception("error handling a packet from %s; dropped", self.peer.name)
                    continue
            msg = read_packet(payload, negotiated=flags, atom_cache=atom_cache)
            try:
                on_frame(self, msg)
            except Exception:
                log.exception(
                    "error handling %s from %s; message dropped",
                    type(msg).__name__,
                    self.peer.name,
                )

    async def _writer(self) -> None:
        fd = self.stream.socket.fileno()
        while True:
            while not self._out:
                self._writer_idle = True
                try:
                    await self._writer_wakeup.park()
                finally:
                    self._writer_idle = False
            out = self._out
            self._out = []
            self._out_bytes = 0
            if len(self._space):
                self._space.unpark_all()
            data = memoryview(out[0] if len(out) == 1 else b"".join(out))
            while data:
                try:
                    sent = os.write(fd, data)
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(fd)
                    continue
                data = data[sent:]

    async def _ticker(self) -> None:
        interval = self.net_ticktime / TICK_INTENSITY
        idle = 0
        reads = self.reads
        written = self.enqueued
        while True:
            await trio.sleep(interval)
            held, self._held_recently = self._held_recently, self._holds > 0
            if self.reads == reads and not held:
                idle += 1
                if idle >= TICK_INTENSITY:
                    log.warning(
                        "node %s not responding: nothing received for %.1f s (net_ticktime %g s)",
                        self.peer.name,
                        idle * interval,
                        self.net_ticktime,
                    )
                    self.close("net_tick_timeout")
                    return
            else:
                idle = 0
                reads = self.reads
            if self.enqueued == written:
                self._send_tick()
            written = self.enqueued


def _addr(sockaddr: Any) -> tuple[str, int] | None:
    """``(ip, port)`` of an IPv4/IPv6 socket address; None for other families."""
    if isinstance(sockaddr, tuple) and len(sockaddr) >= 2:
        return (str(sockaddr[0]), int(sockaddr[1]))
    return None


def set_nodelay(stream: trio.SocketStream) -> None:
    """Small request/reply frames must not wait for Nagle's algorithm."""
    with contextlib.suppress(OSError):
        stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
