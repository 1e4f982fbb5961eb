"""JSON values as the Erlang terms kz_json expects, with exact numbers.

Mapping (both encodings): strings → binaries (UTF-8), arrays → lists,
``true``/``false`` → the atoms (Python ``bool``), ``null`` → the atom
``null``, numbers → integers whenever the value is integral (of any size, never
wrapped or rounded through a double) and floats otherwise.  Objects are
``{[{K, V}, ...]}`` (a 1-tuple holding a list of pairs) for ``"json"`` and
maps for ``"map"``; keys are binaries and never repeat (a repeated key keeps
its last value, at its last position).

Values that JSON cannot carry (``NaN``, infinities, an integer with more than
:data:`MAX_INTEGER_DIGITS` digits) become ``null`` rather than a term that
``binary_to_term`` or kz_json would reject.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Literal

from kazoo_trio.term import Atom

__all__ = [
    "MAX_INTEGER_DIGITS",
    "NULL",
    "Encoding",
    "NotJson",
    "freeze_object",
    "json_to_term",
    "number_term",
    "parse_json",
    "raw_term",
]

Encoding = Literal["json", "map"]

NULL = Atom("null")
MAX_INTEGER_DIGITS = 4000
"""Larger integers become ``null``: they cannot come from any real switch value,
and building them would let one header cost unbounded CPU and memory."""


class NotJson(ValueError):
    """The text is not one strict JSON value."""


def _decimal_term(value: Decimal) -> object:
    if not value.is_finite():
        return NULL
    if value == value.to_integral_value():
        if value.adjusted() > MAX_INTEGER_DIGITS:
            return NULL
        return int(value)
    result = float(value)
    return result if math.isfinite(result) else NULL


def _float_term(value: float) -> object:
    if not math.isfinite(value):
        return NULL
    if value.is_integer():
        return int(value)
    return value


def json_to_term(value: object, *, encoding: Encoding = "json") -> object:
    """Convert a decoded JSON value (``dict``/``list``/``str``/numbers/``bool``/``None``).

    ``Decimal`` numbers are accepted and converted exactly.  Raises
    ``TypeError`` for anything that is not a JSON value.
    """
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if value is True or value is False:
        return value
    if value is None:
        return NULL
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _float_term(value)
    if isinstance(value, Decimal):
        return _decimal_term(value)
    if isinstance(value, Mapping):
        if encoding == "map":
            return {_key(k): json_to_term(v, encoding=encoding) for k, v in value.items()}
        return ([(_key(k), json_to_term(v, encoding=encoding)) for k, v in value.items()],)
    if isinstance(value, list | tuple):
        return [json_to_term(item, encoding=encoding) for item in value]
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _key(key: object) -> bytes:
    if isinstance(key, str):
        return key.encode("utf-8", "surrogateescape")
    if isinstance(key, bytes):
        return key
    raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")


def _last_wins(pairs: Iterable[tuple[str, object]]) -> dict[str, object]:
    result: dict[str, object] = {}
    for key, value in pairs:
        result.pop(key, None)
        result[key] = value
    return result


def _reject_constant(name: str) -> object:
    raise NotJson(f"{name} is not JSON")


_DECODER = json.JSONDecoder(
    parse_float=Decimal,
    parse_int=Decimal,
    parse_constant=_reject_constant,
    object_pairs_hook=_last_wins,
)


def parse_json(text: str) -> object:
    """Strictly parse one JSON value (surrounding whitespace allowed), numbers as ``Decimal``.

    Raises :class:`NotJson` for anything else.
    """
    try:
        value, end = _DECODER.raw_decode(text, len(text) - len(text.lstrip()))
    except NotJson:
        raise
    except (ValueError, RecursionError) as exc:
        raise NotJson(str(exc)) from None
    if text[end:].strip():
        raise NotJson(f"trailing data at {end}")
    return value


def raw_term(text: str, *, encoding: Encoding = "json") -> object:
    """``serialize-as="raw"``: the JSON ``text`` as a term, or the text itself as a string.

    The C module produced the invalid term ``{}`` for text that is not JSON.
    """
    try:
        value = parse_json(text)
    except NotJson:
        return text.encode("utf-8", "surrogateescape")
    return json_to_term(value, encoding=encoding)


_STRTOD = re.compile(
    r"[ \t\n\v\f\r]*([+-]?)(?:"
    r"(?P<hex>0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)"
    r"|(?P<dec>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<special>[iI][nN][fF]|[nN][aA][nN]))"
)


def number_term(text: str) -> object:
    """``serialize-as="number"``: ``strtod``'s reading of ``text``, kept exact.

    Like ``strtod`` the longest numeric prefix counts (``"12abc"`` is 12, leading
    whitespace is skipped, hexadecimal is accepted) and text with no number is 0.
    Unlike the C module's double, integral values of any size stay exact
    integers; only non-integral values become floats.
    """
    if text.isdigit() and text.isascii() and len(text) <= MAX_INTEGER_DIGITS:
        return int(text)
    match = _STRTOD.match(text)
    if match is None:
        return 0
    sign = match.group(1)
    if match.group("dec") is not None:
        try:
            return _decimal_term(Decimal(sign + match.group("dec")))
        except InvalidOperation:
            return NULL
    if match.group("hex") is not None:
        digits = match.group("hex")
        if not any(c in digits for c in ".pP"):
            digits += "p0"
        try:
            return _float_term(float.fromhex(sign + digits))
        except (OverflowError, ValueError):
            return NULL
    return NULL


def freeze_object(obj: dict[bytes, object]) -> tuple[list[tuple[bytes, object]]]:
    """An object built as a ``dict`` (nested objects too) in the ``{[{K, V}]}`` form."""
    return (
        [
            (key, freeze_object(value) if type(value) is dict else value)
            for key, value in obj.items()
        ],
    )
