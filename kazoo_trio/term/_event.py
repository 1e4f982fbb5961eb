"""The JSON event fast path: ``{event, json, {[{Key, Value}, ...]}}`` in one go.

:func:`encode_object_event` produces exactly the bytes the general encoder
would for a JSON object held as a ``dict`` (the profile engine's): keys are
looked up in the bounded cache of encoded ``{Key,`` heads shared with the
general encoder, binary headers come from a prebuilt table, and the pieces are
joined once.  (The legacy ``{event, [UniqueId | Headers]}`` form has one
encoder, with mod_kazoo's per-event processing:
``kazoo_trio.kazoo.streams.encoding.encode_legacy_event``.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from kazoo_trio.term._encode import (
    BIN_HDR,
    HDR_TABLE,
    PAIR_HEADS,
    SMALL_INTS,
    bin_hdr,
    encode_body,
    encode_parts,
    pair_head,
)
from kazoo_trio.term._encode import _int as encode_int
from kazoo_trio.term._errors import EncodeError
from kazoo_trio.term.types import Atom

__all__ = ["encode_object_event", "encode_object_parts"]

# ---------------------------------------------------------------- JSON objects

# {event, : the head of {event, json | map, JObj}.
_JSON_EVENT_PREFIX: Final = b"\x83h\x03w\x05event"
_OBJECT_EMPTY: Final = b"h\x01j"  # {[]}
_TRUE: Final = b"w\x04true"
_FALSE: Final = b"w\x05false"
_MAX_OBJECT_DEPTH: Final = 256
# {[ and the list's length, for the object sizes events have.
_OBJECT_HEADS: Final = tuple(b"h\x01l" + n.to_bytes(4, "big") for n in range(256))


def encode_object_event(tag: Atom, obj: Mapping[bytes, object]) -> bytes:
    """``{event, Tag, {[{K, V}, ...]}}`` from a ``dict`` object, nested ``dict`` values as objects.

    The bytes are exactly ``encode((Atom("event"), tag, frozen))`` where
    ``frozen`` is ``obj`` in the ``{[{K, V}]}`` form: ``([(k, v), ...],)``
    with every ``dict`` that is directly a value (of ``obj`` or of a nested
    object) frozen the same way; values inside lists are encoded as they are.
    Keys are normally ``bytes``.  Raises :class:`EncodeError`
    for what the general encoder refuses, and for objects nested more than
    256 deep.
    """
    ext = tag._ext
    if ext is None:
        raise EncodeError("atom name longer than 255 characters or not valid Unicode")
    parts = [_JSON_EVENT_PREFIX, ext]
    encode_object_parts(obj, parts)
    return b"".join(parts)


def encode_object_parts(obj: Mapping[bytes, object], parts: list[bytes], depth: int = 0) -> None:
    """Append the encoding of ``obj`` as ``{[{K, V}, ...]}`` (see :func:`encode_object_event`)."""
    if not obj:
        parts.append(_OBJECT_EMPTY)
        return
    if depth >= _MAX_OBJECT_DEPTH:
        raise EncodeError("JSON object nested too deeply")
    size = len(obj)
    parts.append(_OBJECT_HEADS[size] if size < 256 else b"h\x01l" + size.to_bytes(4, "big"))
    append = parts.append
    heads = PAIR_HEADS
    hdrs = BIN_HDR
    items: Iterable[tuple[Any, Any]] = obj.items()
    for key, value in items:
        cls = value.__class__
        if cls is bytes:
            try:
                # The common pair: a known key and a short binary.
                parts += (heads[key], hdrs[len(value)], value)
                continue
            except (KeyError, IndexError):
                pass
        head = heads.get(key)
        if head is None:
            head = _key_head(key)
        if cls is bytes:
            n = len(value)
            parts += (head, hdrs[n] if n < HDR_TABLE else bin_hdr(n), value)
        elif cls is dict:
            if value:
                append(head)
                encode_object_parts(value, parts, depth + 1)
            else:
                parts += (head, _OBJECT_EMPTY)
        elif cls is bool:
            parts += (head, _TRUE if value else _FALSE)
        elif cls is int:
            # Timestamps are most of them: too large for the table, and the
            # general encoder's container machinery is not needed for a number.
            parts += (head, SMALL_INTS[value] if 0 <= value < 256 else encode_int(value))
        elif cls is list and value and _all_bytes(value):
            parts += (head, b"l" + len(value).to_bytes(4, "big"))
            for item in value:
                n = len(item)
                parts += (hdrs[n] if n < HDR_TABLE else bin_hdr(n), item)
            append(b"j")
        else:
            append(head)
            encode_parts(value, parts)
    append(b"j")


def _key_head(key: object) -> bytes:
    if key.__class__ is bytes or key.__class__ is str:
        return pair_head(key)
    return b"h\x02" + encode_body(key)


def _all_bytes(items: list[Any]) -> bool:
    return all(item.__class__ is bytes for item in items)
