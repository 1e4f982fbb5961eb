"""Encoded ``{event, json, JObj}`` payloads written without building the term first.

:func:`verbose_payload` is the verbose encoding (every header, for bindings
without a profile definition) straight from the header pairs: the encoded
``{Name, Value}`` pair of a header is the same whenever the header recurs (the
switch's identity, a call's caller and SIP details on each of its events), so
it is looked up in a bounded cache instead of being converted and encoded
again.  Events the shortcut does not cover exactly (a repeated header name, a
header named ``Event-Timestamp``, names that are not valid Unicode) take the
general path; the bytes are those of encoding
:func:`~kazoo_trio.kazoo.profiles.engine.verbose_event` in every case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from kazoo_trio.kazoo.profiles.jsonterm import number_term
from kazoo_trio.switch.event import Event
from kazoo_trio.term import Atom, encode_parts
from kazoo_trio.term._encode import bin_hdr

__all__ = ["EVENT", "JSON", "MAP", "verbose_payload"]

EVENT: Final = Atom("event")
JSON: Final = Atom("json")
MAP: Final = Atom("map")

# 131, {event, json, : the fixed head of every payload.
_JSON_HEAD: Final = b"\x83h\x03w\x05eventw\x04json"
_EMPTY_OBJECT: Final = b"h\x01j"
_STAMP_HEADER: Final = "event-date-timestamp"
_STAMP_KEY: Final = b"Event-Timestamp"
_JSON_PREFIX: Final = "_json_"

_pairs: dict[tuple[str, str], bytes] = {}
_PAIRS_MAX: Final = 32768


def verbose_payload(event: Event, general: Callable[[Event], bytes]) -> bytes:
    """``term_to_binary({event, json, verbose_event(event)})``.

    ``general`` encodes the events this shortcut leaves to the general path.
    """
    headers = event.headers
    if len(dict(headers)) != len(headers):
        return general(event)  # repeated names become arrays
    parts = [_JSON_HEAD, b""]
    append = parts.append
    known = _pairs.get
    stamp: str | None = None
    for pair in headers:
        piece = known(pair)
        if piece is None:
            name, value = pair
            if name.startswith(_JSON_PREFIX):
                piece = b""
            else:
                try:
                    raw_name = name.encode()
                except UnicodeEncodeError:
                    return general(event)  # two such names may be one key
                is_stamp = len(name) == len(_STAMP_HEADER) and name.lower() == _STAMP_HEADER
                if is_stamp:
                    if stamp is not None:
                        return general(event)  # read as FreeSWITCH's ARRAY:: text
                    stamp = value
                elif raw_name == _STAMP_KEY:
                    return general(event)  # replaced by the one added at the end
                raw = value.encode("utf-8", "surrogateescape")
                piece = b"h\x02" + bin_hdr(len(raw_name)) + raw_name + bin_hdr(len(raw)) + raw
                if is_stamp:
                    append(piece)  # unique per event: not worth keeping
                    continue
            if len(_pairs) >= _PAIRS_MAX:
                _pairs.clear()
            _pairs[pair] = piece
        if piece:
            append(piece)
    count = len(parts) - 2
    if stamp is not None:
        encode_parts((_STAMP_KEY, number_term(stamp)), parts)
        count += 1
    if not count:
        return _JSON_HEAD + _EMPTY_OBJECT
    parts[1] = b"h\x01l" + count.to_bytes(4, "big")
    append(b"j")
    return b"".join(parts)
