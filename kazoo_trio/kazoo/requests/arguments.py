"""Decoding the arguments of mod_kazoo requests.

Pure functions over decoded terms.  Each raises :class:`BadArg` for a value the
request cannot take; the dispatcher turns that into ``{error, badarg}``.

Where mod_kazoo's decoders misbehave this module does the sensible thing
instead: an empty string (``NIL_EXT``, ``[]``) is an empty value and decoding
goes on with the next element; limits are checked without an off-by-one; a
non-tuple element in a header list is an error, not the silent end of the list.
"""

from __future__ import annotations

from collections.abc import Sequence

from kazoo_trio.errors import RequestError
from kazoo_trio.term.types import Atom

__all__ = [
    "MAX_ATOM_BYTES",
    "MAX_HEADER_NAME_BYTES",
    "MAX_UUID_BYTES",
    "BadArg",
    "argument",
    "atom_list",
    "atom_name",
    "header_list",
    "text",
]

# Erlang's own atom limit (255 characters; mod_kazoo's buffer is in bytes).
MAX_ATOM_BYTES = 255
# mod_kazoo reads header names into 1024-byte buffers.
MAX_HEADER_NAME_BYTES = 1024
# mod_kazoo's UUID buffer is 37 bytes, which refuses the longer custom channel
# UUIDs FreeSWITCH allows; FreeSWITCH itself caps a UUID string at 255 bytes.
MAX_UUID_BYTES = 255

# Text travels as bytes; surrogateescape keeps non-UTF-8 bytes intact when the
# text goes back to Erlang.
_ENCODING = "utf-8"
_ERRORS = "surrogateescape"


class BadArg(RequestError, ValueError):
    """An argument the request cannot accept (answered with ``{error, badarg}``)."""


def argument(request: tuple[object, ...], index: int) -> object:
    """Element ``index`` of a request tuple (extra trailing elements are ignored)."""
    if index >= len(request):
        raise BadArg(f"missing argument {index} of {request[0]!r}")
    return request[index]


def atom_name(term: object) -> str:
    """The text of an atom; fails for anything else or an over-long atom."""
    if not isinstance(term, Atom):
        raise BadArg(f"expected an atom, got {term!r}")
    name = term.name
    # An ASCII name is as long in bytes as in characters: no encoding to check it.
    if name.isascii():
        if len(name) > MAX_ATOM_BYTES:
            raise BadArg("atom longer than 255 bytes")
    elif len(name.encode(_ENCODING, _ERRORS)) > MAX_ATOM_BYTES:
        raise BadArg("atom longer than 255 bytes")
    return name


def text(term: object, limit: int | None = None) -> str:
    """A "string or binary": a binary, a string (list of bytes 0-255) or ``[]``.

    ``limit`` (bytes) bounds the length for UUIDs and header names.  Anything
    else (an iolist, a list holding a code point above 255, an atom) fails.
    """
    if isinstance(term, bytes):
        raw = term
    elif isinstance(term, list):
        if not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in term):
            raise BadArg("expected a string of bytes or a binary")
        raw = bytes(term)
    elif isinstance(term, str):
        # A codec asked to decode STRING_EXT as text hands over a str.
        raw = term.encode(_ENCODING, _ERRORS)
    else:
        raise BadArg(f"expected a string or binary, got {term!r}")
    if limit is not None and len(raw) > limit:
        raise BadArg(f"value longer than {limit} bytes")
    return raw.decode(_ENCODING, _ERRORS)


def to_binary(value: str) -> bytes:
    """The inverse of :func:`text`, for values sent back to Erlang."""
    return value.encode(_ENCODING, _ERRORS)


def header_list(term: object) -> list[tuple[str, str]]:
    """A proper list of ``{Name, Value}`` pairs, both strings or binaries."""
    if not isinstance(term, list):
        raise BadArg("headers must be a list of {Name, Value} tuples")
    headers: list[tuple[str, str]] = []
    for item in term:
        if not isinstance(item, tuple) or len(item) != 2:
            raise BadArg(f"header {item!r} is not a {{Name, Value}} tuple")
        name = text(item[0], MAX_HEADER_NAME_BYTES)
        if not name:
            raise BadArg("empty header name")
        headers.append((name, text(item[1])))
    return headers


def atom_list(term: object) -> list[str]:
    """A non-empty proper list of atoms (``event``, ``nixevent``)."""
    if not isinstance(term, list) or not term:
        raise BadArg("expected a non-empty list of atoms")
    return [atom_name(item) for item in term]


def request_parts(request: object) -> tuple[str, tuple[object, ...]]:
    """``(name, request_tuple)`` of a bare-atom or tuple request."""
    if isinstance(request, Atom):
        return request.name, (request,)
    if isinstance(request, tuple) and request and isinstance(request[0], Atom):
        return request[0].name, request
    raise BadArg(f"not a request: {request!r}")


def as_sequence(term: object) -> Sequence[object]:
    if not isinstance(term, list):
        raise BadArg("expected a list")
    return term
