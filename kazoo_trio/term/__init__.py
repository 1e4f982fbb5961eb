"""The Erlang external term format: value types and the codec (sans-IO).

``encode(term) -> bytes`` and ``decode(data) -> term`` handle whole terms with
the leading version byte 131; :func:`encode_parts`, :func:`encode_body`,
:func:`decode_body` and :func:`decode_prefixed` are the pieces the
distribution layer needs (terms after a distribution header carry no 131, a
pass-through frame holds two 131-terms back to back, atom-cache references
resolve through ``atom_refs``).  :func:`encode_object_event` writes a JSON
event straight from a ``dict``, byte-identical to the general encoder.

Python ``str`` encodes as a UTF-8 binary and ``None`` as the atom
``undefined``; a list of ints 0..255 (at most 65535 long) is an Erlang string
(STRING_EXT).  Decoding never raises anything but :class:`DecodeError`.
See the ``_encode`` and ``_decode`` module docstrings for every edge case.
"""

from kazoo_trio.term._decode import (
    DEFAULT_MAX_DEPTH,
    DEFAULT_MAX_INFLATED,
    decode,
    decode_body,
    decode_prefixed,
)
from kazoo_trio.term._encode import encode, encode_body, encode_parts
from kazoo_trio.term._errors import DecodeError, EncodeError
from kazoo_trio.term._event import encode_object_event
from kazoo_trio.term.types import (
    Atom,
    BitString,
    Export,
    Fun,
    ImproperList,
    MapPairs,
    Pid,
    Port,
    Reference,
)

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_INFLATED",
    "Atom",
    "BitString",
    "DecodeError",
    "EncodeError",
    "Export",
    "Fun",
    "ImproperList",
    "MapPairs",
    "Pid",
    "Port",
    "Reference",
    "decode",
    "decode_body",
    "decode_prefixed",
    "encode",
    "encode_body",
    "encode_object_event",
    "encode_parts",
]
