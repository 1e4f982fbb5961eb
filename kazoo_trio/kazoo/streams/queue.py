"""The bounded frame queue of one event stream, without any I/O.

Payloads are queued without their ``{packet, N}`` length header, which
:meth:`StreamQueue.take_batch` adds while joining them (saving a copy of every
event); the byte bound counts whole frames, headers included.  Past either
bound the *oldest* frames are dropped (the newest one is always kept): a slow
reader loses old events, never the stream.

The sender's cycle is ``take_batch`` → write the bytes → ``account`` with how
many bytes were written: frames a failed write left unsent go back to the head
of the queue, whole, for the next client.
"""

from __future__ import annotations

from collections import deque
from typing import Final

import attrs

__all__ = ["SEND_BATCH_BYTES", "StreamQueue", "frame_header", "max_payload"]

# Queued frames are joined into one send up to this size: large enough that
# per-call overhead vanishes and that one send takes all the switch queued
# during the previous one (about 220 e90 events; with less, a backlog builds up
# while the socket could take more); small enough to keep the copy cheap.
SEND_BATCH_BYTES: Final = 1024 * 1024


def max_payload(framing: int) -> int:
    """The largest payload a ``framing``-byte length header can describe."""
    return (1 << (8 * framing)) - 1


def frame_header(size: int, framing: int) -> bytes:
    """The big-endian length header of a ``size``-byte payload (``{packet, framing}``)."""
    return size.to_bytes(framing, "big")


@attrs.define
class StreamQueue:
    """Frames waiting for the client, bounded in events and in bytes.

    ``dropped`` counts the frames dropped to stay within the bounds, over the
    queue's life.
    """

    framing: int
    max_events: int
    max_bytes: int
    dropped: int = attrs.field(default=0, init=False)
    _frames: deque[bytes] = attrs.field(factory=deque, init=False)
    _bytes: int = attrs.field(default=0, init=False)

    def __len__(self) -> int:
        return len(self._frames)

    def __bool__(self) -> bool:
        return bool(self._frames)

    @property
    def queued_bytes(self) -> int:
        """The bytes the queued frames take on the wire, length headers included."""
        return self._bytes

    def offer(self, payload: bytes) -> int:
        """Queue ``payload`` (it must fit the framing); how many old frames were dropped."""
        frames = self._frames
        frames.append(payload)
        self._bytes += len(payload) + self.framing
        if len(frames) > self.max_events or self._bytes > self.max_bytes:
            return self.trim()
        return 0

    def trim(self) -> int:
        """Drop the oldest frames until within the bounds (keeping the newest); how many."""
        frames = self._frames
        framing = self.framing
        dropped = 0
        while len(frames) > 1 and (len(frames) > self.max_events or self._bytes > self.max_bytes):
            self._bytes -= len(frames.popleft()) + framing
            dropped += 1
        self.dropped += dropped
        return dropped

    def take_batch(self, limit: int = SEND_BATCH_BYTES) -> tuple[list[bytes], bytes]:
        """Take the oldest frames, joined with their headers, up to ``limit`` bytes.

        At least one frame is taken (if any is queued), however large.  Returns
        the payloads taken (for :meth:`account`) and the bytes to write.
        """
        frames = self._frames
        if not frames:
            return [], b""
        framing = self.framing
        payload = frames.popleft()
        batch = [payload]
        parts = [frame_header(len(payload), framing), payload]
        size = len(payload) + framing
        while frames and size + len(frames[0]) + framing <= limit:
            payload = frames.popleft()
            batch.append(payload)
            parts.append(frame_header(len(payload), framing))
            parts.append(payload)
            size += len(payload) + framing
        self._bytes -= size
        return batch, b"".join(parts)

    def account(self, batch: list[bytes], sent: int) -> tuple[int, int]:
        """After writing ``sent`` bytes of ``batch``: ``(frames written, frames dropped)``.

        The frames not wholly written go back to the head of the queue: a frame
        partly written to a client that went away is sent again, whole, to the
        next client (which starts a new byte stream).  Putting them back may
        push the queue past its bounds, so the oldest are then dropped.
        """
        framing = self.framing
        done = 0
        for payload in batch:
            if sent < len(payload) + framing:
                break
            sent -= len(payload) + framing
            done += 1
        if done == len(batch):
            return done, 0
        rest = batch[done:]
        self._frames.extendleft(reversed(rest))
        self._bytes += sum(map(len, rest)) + framing * len(rest)
        if len(self._frames) > self.max_events or self._bytes > self.max_bytes:
            return done, self.trim()
        return done, 0

    def clear(self) -> None:
        self._frames.clear()
        self._bytes = 0
