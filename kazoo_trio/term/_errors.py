"""The two exceptions of the codec.

:class:`DecodeError` is the only exception decoding raises for any input,
however malformed; it is a ``ValueError`` so callers that already guard
against bad values need nothing new.  :class:`EncodeError` is raised for
Python values that have no Erlang form; it is both a ``TypeError`` (wrong
kind of value) and a ``ValueError`` (an int or name out of range), so either
``except`` clause catches it.
"""

from __future__ import annotations

__all__ = ["DecodeError", "EncodeError"]


class DecodeError(ValueError):
    """Bytes that are not one valid external term.

    ``offset`` is the position in the buffer passed to the decoder where the
    problem was found (for a compressed term's contents: the position in the
    inflated data, which ``reason`` then says); ``reason`` says what is wrong.
    """

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"{reason} (at offset {offset})")
        self.offset = offset
        self.reason = reason


class EncodeError(TypeError, ValueError):
    """A Python value with no external-term form (names the offending type)."""
