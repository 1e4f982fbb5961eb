"""The event fast paths: ``{event, [UniqueId | [{Name, Value}, ...]]}`` and
``{event, json, {[{Key, Value}, ...]}}`` in one go.

:func:`encode_event` produces exactly the bytes the general encoder would for
``(Atom("event"), [uid, *pairs])``: header names are looked up in the bounded
cache of encoded ``{Name,`` heads shared with the general encoder, value
headers come from a prebuilt table, and the pieces are joined once.
:func:`encode_object_event` does the same for a JSON object held as a
``dict`` (the profile engine's), with the same cache for its keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
    utf8,
)
from kazoo_trio.term._errors import EncodeError
from kazoo_trio.term.types import Atom

__all__ = ["encode_event", "encode_object_event", "encode_object_parts"]

# 131, {event, [ ...: the tuple head and the atom never change.
_PREFIX: Final = b"\x83h\x02w\x05eventl"
_UNDEFINED: Final = b"w\x09undefined"
_BODY_HEAD: Final = b"h\x02m\x00\x00\x00\x04body"


def encode_event(
    unique_id: bytes | str | None,
    headers: Sequence[tuple[bytes | str, bytes | str]],
    body: bytes | str | None = None,
) -> bytes:
    """The whole 131-term ``{event, [UniqueId | [{NameBin, ValueBin}, ...]]}``.

    ``unique_id`` ``None`` is the atom ``undefined`` (an event without a
    channel); ``str`` names and values are UTF-8 binaries.  With ``body`` a
    final ``{<<"body">>, Body}`` pair is added.  Raises :class:`EncodeError`
    for anything that is not ``bytes``/``str``.
    """
    count = len(headers) + 1 if body is None else len(headers) + 2
    parts = [_PREFIX, count.to_bytes(4, "big")]
    append = parts.append
    if unique_id is None:
        append(_UNDEFINED)
    elif unique_id.__class__ is bytes or unique_id.__class__ is str:
        uid = _value(unique_id)
        append(bin_hdr(len(uid)))
        append(uid)
    else:
        encode_parts(unique_id, parts)
    heads = PAIR_HEADS
    hdrs = BIN_HDR
    try:
        for name, value in headers:
            if value.__class__ is not bytes:
                value = value.encode() if value.__class__ is str else _value(value)
            try:
                parts += (heads[name], hdrs[len(value)], value)
            except (KeyError, IndexError, TypeError):
                # A name not cached yet (or not cacheable), or a value too long
                # for the header table.
                parts += (_head(name), bin_hdr(len(value)), value)
    except EncodeError:
        raise
    except UnicodeEncodeError:
        raise EncodeError("str with lone surrogates cannot be encoded as UTF-8") from None
    except (ValueError, TypeError):  # an item that does not unpack into two
        raise EncodeError("each event header must be a (name, value) pair") from None
    if body is not None:
        raw = _value(body)
        append(_BODY_HEAD)
        append(bin_hdr(len(raw)))
        append(raw)
    append(b"j")
    return b"".join(parts)


def _head(name: object) -> bytes:
    if name.__class__ is not bytes and name.__class__ is not str:
        raise EncodeError(f"event header name must be bytes or str, not {type(name).__name__}")
    return pair_head(name)


def _value(value: object) -> bytes:
    if value.__class__ is bytes:
        return value
    if value.__class__ is str:
        return utf8(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise EncodeError(f"event header value must be bytes or str, not {type(value).__name__}")


# ---------------------------------------------------------------- JSON objects

# {event, : the head of {event, json | map, JObj}.
_JSON_EVENT_PREFIX: Final = b"\x83h\x03w\x05event"
_OBJECT_EMPTY: Final = b"h\x01j"  # {[]}
_TRUE: Final = b"w\x04true"
_FALSE: Final = b"w\x05false"
_MAX_OBJECT_DEPTH: Final = 256


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
    parts.append(b"h\x01l" + len(obj).to_bytes(4, "big"))
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
            append(head)
            encode_object_parts(value, parts, depth + 1)
        elif cls is bool:
            parts += (head, _TRUE if value else _FALSE)
        elif cls is int and 0 <= value < 256:
            parts += (head, SMALL_INTS[value])
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
