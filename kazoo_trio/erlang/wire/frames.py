"""Post-handshake framing: ``Len:32`` frames, where an empty frame is a tick.

:class:`FrameSplitter` turns the bytes of successive socket reads into frame
payloads; it is what a connection's reader calls.  :func:`frame_parts` goes
the other way.  Pure code, no I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Final

import attrs

from kazoo_trio.erlang.wire.errors import FrameTooLarge

__all__ = ["DEFAULT_MAX_FRAME", "TICK", "FrameSplitter", "frame", "frame_header", "frame_parts"]

# The keep-alive: a frame of length 0 (OTP sends it every net_ticktime/4
# when it has written nothing, and we answer each one).
TICK: Final = b"\x00\x00\x00\x00"

# OTP puts no limit on a frame but 2**32 - 1.  Kazoo legitimately sends
# messages of tens of megabytes (XML fetch replies, big bgapi results), so the
# cap sits far above those, yet low enough that a length read from a stream
# that lost sync (a random 32-bit number is above 256 MiB 94 % of the time) is
# refused at once instead of buffering gigabytes waiting for it.
DEFAULT_MAX_FRAME: Final = 256 * 1024 * 1024

_U32: Final = struct.Struct(">I").unpack_from


@attrs.define(eq=False, on_setattr=attrs.setters.NO_OP)
class FrameSplitter:
    """Reassembles 4-byte length-prefixed frames from arbitrarily split reads.

    :meth:`feed` takes the bytes of one read and returns the payloads of every
    frame completed by them, oldest first, as ``bytes`` (a tick as ``b""``).
    Each byte is copied a bounded number of times whatever the chunking: one
    read holding hundreds of small frames costs one pass, and a frame bigger
    than a read is joined once, when its last byte arrives.

    A length above ``max_frame`` raises :class:`FrameTooLarge` carrying the
    frames that preceded it in that feed.  The stream cannot be resynchronised
    after that, so every later feed raises again: close the connection.
    """

    # Checked once, when made (on_setattr=NO_OP: a validating __setattr__
    # would tax every state update in feed()).
    max_frame: int = attrs.field(default=DEFAULT_MAX_FRAME)
    # The start of an incomplete frame, and the size it must reach to hold the
    # whole frame (0 after an oversize length: re-split and raise again).
    _partial: bytearray = attrs.field(factory=bytearray, init=False, repr=False)
    _need: int = attrs.field(default=0, init=False, repr=False)

    @max_frame.validator
    def _check_max_frame(self, attribute: object, value: int) -> None:
        if not 0 < value < 1 << 32:
            raise ValueError("max_frame must be between 1 and 2**32 - 1")

    def __len__(self) -> int:
        """Bytes buffered that do not yet form a complete frame."""
        return len(self._partial)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """The payloads of the frames completed by ``data`` (bytes read from the socket)."""
        if self._partial:
            partial = self._partial
            partial += data
            if len(partial) < self._need:
                return []
            if len(partial) == self._need > 4:
                # Exactly the frame it waited for (a big one, as a rule):
                # copied out once, not joined and then sliced.
                self._partial = bytearray()
                with memoryview(partial) as view:
                    return [bytes(view[4:])]
            data = bytes(partial)
            self._partial = bytearray()
        elif type(data) is not bytes:
            data = bytes(data)  # slices of it become the payloads
        n = len(data)
        if n < 4:
            if n:
                self._partial = bytearray(data)
                self._need = 4
            return []
        limit = self.max_frame
        (size,) = _U32(data, 0)
        end = 4 + size
        if end == n and size <= limit:
            return [data[4:]]  # the usual read of a quiet link: exactly one frame
        frames: list[bytes] = []
        pos = 0
        while True:
            if size > limit:
                self._partial = bytearray(data[pos:])
                self._need = 0
                raise FrameTooLarge(
                    f"frame of {size} bytes exceeds the limit of {limit} bytes "
                    "(corrupt stream or max_frame too small)",
                    frames,
                )
            if end > n:
                self._partial = bytearray(data[pos:])
                self._need = end - pos
                return frames
            frames.append(data[pos + 4 : end])
            pos = end
            if n - pos < 4:
                break
            (size,) = _U32(data, pos)
            end = pos + 4 + size
        if pos < n:
            self._partial = bytearray(data[pos:])
            self._need = 4
        return frames


def frame_header(size: int) -> bytes:
    """The 4-byte length prefix of a frame of ``size`` payload bytes: the one place
    that writes it (the connection's writer and :func:`frame_parts` both call it)."""
    if size >= 1 << 32:
        raise ValueError(f"a frame holds at most 2**32 - 1 bytes, not {size}")
    return size.to_bytes(4, "big")


def frame(payload: bytes) -> bytes:
    """One frame: the 4-byte length followed by ``payload``."""
    return frame_header(len(payload)) + payload


def frame_parts(payload_parts: Iterable[bytes]) -> list[bytes]:
    """The pieces of one frame: its length prefix, then ``payload_parts`` unchanged.

    The writer collects the pieces of many frames and joins them once per
    socket send, so nothing is copied twice.
    """
    parts = list(payload_parts)
    parts.insert(0, frame_header(sum(map(len, parts))))
    return parts
