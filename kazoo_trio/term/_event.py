"""The event fast path: ``{event, [UniqueId | [{Name, Value}, ...]]}`` in one go.

:func:`encode_event` produces exactly the bytes the general encoder would for
``(Atom("event"), [uid, *pairs])``: header names are looked up in the bounded
cache of encoded ``{Name,`` heads shared with the general encoder, value
headers come from a prebuilt table, and the pieces are joined once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from kazoo_trio.term._encode import BIN_HDR, PAIR_HEADS, bin_hdr, encode_parts, pair_head, utf8
from kazoo_trio.term._errors import EncodeError

__all__ = ["encode_event"]

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
