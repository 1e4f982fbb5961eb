"""Post-handshake framing: ``Len:32`` frames, where an empty frame is a tick.

:class:`FrameBuffer` turns the bytes of successive socket reads into frame
payloads; :func:`frame_parts` goes the other way.  Pure code, no I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

import attrs

__all__ = [
    "DEFAULT_MAX_FRAME",
    "TICK",
    "DistProtocolError",
    "FrameBuffer",
    "FrameTooLarge",
    "frame",
    "frame_parts",
]

# The keep-alive: a frame of length 0 (OTP sends it every net_ticktime/4
# when it has written nothing, and we answer each one).
TICK = b"\x00\x00\x00\x00"

# OTP puts no limit on a frame but 2**32 - 1.  Kazoo legitimately sends
# messages of tens of megabytes (XML fetch replies, big bgapi results), so the
# cap sits far above those, yet low enough that a length read from a stream
# that lost sync (a random 32-bit number is above 256 MiB 94 % of the time) is
# refused at once instead of buffering gigabytes waiting for it.
DEFAULT_MAX_FRAME = 256 * 1024 * 1024

_LENGTH = struct.Struct(">I")

# Above this payload size a frame is copied out through a memoryview (one
# copy) instead of a slice (two copies, but less overhead per call).
_COPY_ONCE = 8192


class DistProtocolError(Exception):
    """The peer sent bytes that are not valid distribution traffic; close the connection."""


class FrameTooLarge(DistProtocolError):
    """A frame header announced more bytes than the configured limit."""


@attrs.define(eq=False)
class FrameBuffer:
    """Reassembles 4-byte length-prefixed frames from arbitrarily split reads.

    Feed every read with :meth:`feed`, then drain :meth:`frames`.  Payloads
    are yielded in order as ``bytes`` (a tick as ``b""``); their copies are
    independent of the buffer, so they stay valid after later feeds.  Each
    byte is copied a bounded number of times whatever the chunking, so one
    read holding hundreds of small frames costs one pass.

    :meth:`frames` raises :class:`FrameTooLarge` for a length above
    ``max_frame``; the stream cannot be resynchronised after that, so the
    buffer keeps raising and the connection must be closed.
    """

    max_frame: int = attrs.field(default=DEFAULT_MAX_FRAME)
    _buf: bytearray = attrs.field(factory=bytearray, init=False, repr=False)
    _pos: int = attrs.field(default=0, init=False, repr=False)  # first unconsumed byte

    @max_frame.validator
    def _check_max_frame(self, attribute: object, value: int) -> None:
        if not 0 < value < 1 << 32:
            raise ValueError("max_frame must be between 1 and 2**32 - 1")

    def __len__(self) -> int:
        """Bytes buffered that do not yet form a complete frame (or were not drained)."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes read from the socket."""
        if self._pos:
            # Drop what frames() consumed; at most one partial frame moves.
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def frames(self) -> Iterator[bytes]:
        """Yield every complete frame payload buffered so far, oldest first.

        Stopping the iteration early loses nothing: the next call resumes.
        """
        buf = self._buf
        unpack = _LENGTH.unpack_from
        limit = self.max_frame
        while True:
            pos = self._pos
            end = len(buf)
            if end - pos < 4:
                return
            (size,) = unpack(buf, pos)
            if size > limit:
                raise FrameTooLarge(
                    f"frame of {size} bytes exceeds the limit of {limit} bytes "
                    "(corrupt stream or max_frame too small)"
                )
            stop = pos + 4 + size
            if stop > end:
                return
            self._pos = stop
            if size < _COPY_ONCE:
                # Slicing copies twice (bytearray, then bytes) but is the
                # cheapest way for the many small frames of a busy link.
                yield bytes(buf[pos + 4 : stop])
            else:
                # One copy through a short-lived view: a bytearray with live
                # exports cannot grow, and the caller may feed() while this
                # generator waits.
                with memoryview(buf) as view:
                    payload = bytes(view[pos + 4 : stop])
                yield payload


def frame(payload: bytes) -> bytes:
    """One frame: the 4-byte length followed by ``payload``."""
    return len(payload).to_bytes(4, "big") + payload


def frame_parts(payload_parts: Iterable[bytes]) -> list[bytes]:
    """The pieces of one frame: its length prefix, then ``payload_parts`` unchanged.

    The writer collects the pieces of many frames and joins them once per
    socket send, so nothing is copied twice.
    """
    parts = list(payload_parts)
    size = sum(map(len, parts))
    if size >= 1 << 32:
        raise ValueError(f"a frame holds at most 2**32 - 1 bytes, not {size}")
    parts.insert(0, size.to_bytes(4, "big"))
    return parts
