"""What the wire code raises when a peer's bytes are not distribution traffic."""

from __future__ import annotations

from kazoo_trio.errors import ProtocolError

__all__ = ["DistProtocolError", "FrameTooLarge"]


class DistProtocolError(ProtocolError):
    """The peer sent bytes that are not valid distribution traffic; close the connection."""


class FrameTooLarge(DistProtocolError):
    """A frame header announced more bytes than the configured limit.

    ``frames`` holds the complete frames that preceded the bad header in the
    same feed, so a reader can still handle them before it closes the connection.
    """

    def __init__(self, message: str, frames: list[bytes] | None = None) -> None:
        super().__init__(message)
        self.frames: list[bytes] = frames if frames is not None else []
