"""Python values to external term format, in the forms OTP itself emits.

Mapping, and the choices made where Python and Erlang differ:

* ``bytes`` (also ``bytearray``/``memoryview``) -> binary; ``str`` -> a UTF-8
  binary (every text mod_kazoo sends is a binary; a ``str`` with lone
  surrogates cannot be UTF-8 and raises :class:`EncodeError`).
* ``list`` -> list.  A non-empty list of plain ``int`` 0..255 of at most 65535
  elements is STRING_EXT, as OTP writes short byte lists; that is how an Erlang
  string (``"10.0.0.1"``) is sent: ``list(b"10.0.0.1")``.  ``bool`` elements
  are atoms, never bytes.
* ``None`` -> the atom ``undefined`` (what Erlang code uses for "no value").
  Decoding gives ``Atom("undefined")`` back, not ``None``.
* ``True``/``False`` -> ``true``/``false``; ``int`` -> SMALL_INTEGER (0..255),
  INTEGER (32-bit) or SMALL/LARGE_BIG; ``float`` -> NEW_FLOAT (NaN and
  infinities have no Erlang form: :class:`EncodeError`).
* ``tuple`` (and named tuples) -> tuple; ``dict`` -> map in the dict's order
  (decoded maps keep the order they arrived in, so round trips are exact);
  :class:`MapPairs` -> map in its pair order.
* :class:`Pid` -> NEW_PID, :class:`Reference` -> NEWER_REFERENCE,
  :class:`Port` -> NEW_PORT (V4_PORT past 28 bits, like OTP 25),
  :class:`Fun` -> its raw bytes, :class:`Export` -> EXPORT,
  :class:`BitString` -> BIT_BINARY, :class:`ImproperList` -> LIST with its tail.

The encoder is iterative (a stack of iterators), so nesting is not limited by
Python's recursion limit; a self-containing (cyclic) value is refused with
:class:`EncodeError` once it is nested :data:`MAX_ENCODE_DEPTH` deep.
Error messages name types, never values (printing a huge int can itself fail).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from itertools import chain, islice
from struct import Struct, pack
from struct import error as StructError
from typing import Any, Final

from kazoo_trio.term._errors import EncodeError
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

__all__ = ["MAX_ENCODE_DEPTH", "encode", "encode_body", "encode_parts"]

# Nesting beyond this is taken for a cyclic value; decoded terms are limited to
# far less (max_depth), so anything that decoded re-encodes.
MAX_ENCODE_DEPTH: Final = 100_000

_U32: Final = Struct(">I").pack
_I32: Final = Struct(">i").pack
_F64: Final = Struct(">d").pack
_PID_TAIL: Final = Struct(">III").pack
_PORT_TAIL: Final = Struct(">II").pack
_V4_PORT_TAIL: Final = Struct(">QI").pack


class _Piece(bytes):
    """Pre-encoded bytes queued between the values (the NIL closing a list)."""

    __slots__ = ()


_NIL: Final = b"j"
_NIL_ONLY: Final = (_Piece(_NIL),)

# BINARY_EXT headers for short binaries, built once: most values are short.
_HDR_TABLE: Final = 4096
BIN_HDR: Final = tuple(b"m" + _U32(n) for n in range(_HDR_TABLE))
_SMALL_INTS: Final = tuple(bytes((97, n)) for n in range(256))
_SMALL_TUPLES: Final = tuple(bytes((104, n)) for n in range(256))
# Shared with the fast paths in _event.
HDR_TABLE: Final = _HDR_TABLE
SMALL_INTS: Final = _SMALL_INTS

_TRUE: Final = b"w\x04true"
_FALSE: Final = b"w\x05false"
_UNDEFINED: Final = b"w\x09undefined"

# Encoded `{Name, ` heads (SMALL_TUPLE 2 + the name binary) of the header names
# seen in pairs of binaries; FreeSWITCH has a few hundred distinct names, and
# the bound keeps arbitrary peers' names from growing it without end.
PAIR_HEADS: Final[dict[bytes | str, bytes]] = {}
PAIR_HEADS_MAX: Final = 4096


def bin_hdr(size: int) -> bytes:
    """BINARY_EXT tag and length for a binary of ``size`` bytes."""
    if size < _HDR_TABLE:
        return BIN_HDR[size]
    if size > 0xFFFFFFFF:
        raise EncodeError("binary longer than 2^32-1 bytes")
    return b"m" + _U32(size)


def utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise EncodeError("str with lone surrogates cannot be encoded as UTF-8") from None


def pair_head(name: bytes | str) -> bytes:
    """The cached ``{Name,`` prefix of a ``{NameBin, ValueBin}`` pair."""
    head = PAIR_HEADS.get(name)
    if head is None:
        raw = utf8(name) if isinstance(name, str) else bytes(name)
        head = b"h\x02" + bin_hdr(len(raw)) + raw
        if len(PAIR_HEADS) < PAIR_HEADS_MAX:
            PAIR_HEADS[name] = head
    return head


def encode(term: object, *, compressed: bool | int = False) -> bytes:
    """The whole external term (leading 131), optionally compressed (tag 80).

    ``compressed`` is a zlib level 0..9, or ``True`` for OTP's default level 6.
    Like ``term_to_binary(T, [compressed])``, the compressed form is used only
    when it is smaller.
    """
    parts: list[bytes] = [b"\x83"]
    encode_parts(term, parts)
    if compressed is False:
        return b"".join(parts)
    level = 6 if compressed is True else int(compressed)
    if not 0 <= level <= 9:
        raise EncodeError("compression level must be 0..9")
    body = b"".join(parts[1:])
    packed = zlib.compress(body, level)
    if len(packed) + 5 >= len(body):
        return b"\x83" + body
    return b"\x83P" + _U32(len(body)) + packed


def encode_body(term: object) -> bytes:
    """The term without the version byte (what follows a distribution header)."""
    parts: list[bytes] = []
    encode_parts(term, parts)
    return b"".join(parts)


def encode_parts(term: object, parts: list[bytes]) -> None:
    """Append the pieces of ``term``'s encoding (no 131) to ``parts``.

    A writer can collect many terms into one list and join it once.  On
    :class:`EncodeError` the pieces appended so far stay in ``parts``; callers
    that reuse the list should cut it back.
    """
    append = parts.append
    heads = PAIR_HEADS
    stack: list[Iterator[Any]] = []
    it: Iterator[Any] = iter((term,))
    while True:
        for t in it:
            cls = t.__class__
            if cls is bytes:
                n = len(t)
                append(BIN_HDR[n] if n < _HDR_TABLE else bin_hdr(n))
                append(t)
            elif cls is tuple:
                n = len(t)
                if n == 2:
                    # The event shape: {NameBin, ValueBin} pairs, done inline.
                    name, value = t
                    vcls = value.__class__
                    if vcls is str:
                        value = utf8(value)
                        vcls = bytes
                    if vcls is bytes and (name.__class__ is bytes or name.__class__ is str):
                        try:
                            head = heads[name]
                        except KeyError:
                            head = pair_head(name)
                        vn = len(value)
                        append(head)
                        append(BIN_HDR[vn] if vn < _HDR_TABLE else bin_hdr(vn))
                        append(value)
                        continue
                if n < 256:
                    append(_SMALL_TUPLES[n])
                else:
                    append(b"i" + _u32(n, "tuple arity"))
                if n:
                    stack.append(it)
                    it = iter(t)
                    break
            elif cls is Atom:
                ext = t._ext
                if ext is None:
                    raise EncodeError("atom name longer than 255 characters or not valid Unicode")
                append(ext)
            elif cls is str:
                raw = utf8(t)
                n = len(raw)
                append(BIN_HDR[n] if n < _HDR_TABLE else bin_hdr(n))
                append(raw)
            elif cls is list:
                if not t:
                    append(_NIL)
                    continue
                n = len(t)
                if t[0].__class__ is int and n <= 65535:
                    chars = _byte_list(t)
                    if chars is not None:
                        append(b"k" + n.to_bytes(2, "big"))
                        append(chars)
                        continue
                append(b"l" + _u32(n, "list length"))
                done = _binary_run(t, parts)
                if done == n:
                    append(_NIL)
                    continue
                stack.append(it)
                stack.append(iter(_NIL_ONLY))
                it = islice(t, done, None) if done else iter(t)
                break
            elif cls is int:
                if 0 <= t < 256:
                    append(_SMALL_INTS[t])
                else:
                    append(_int(t))
            elif cls is _Piece:
                append(t)
            else:
                children = _other(t, append)
                if children is not None:
                    stack.append(it)
                    it = children
                    break
        else:
            # `it` is used up: resume the enclosing container, or finish.
            if not stack:
                return
            it = stack.pop()
            continue
        # A `break` above descended into a container.
        if len(stack) > MAX_ENCODE_DEPTH:
            raise EncodeError("value nested too deeply (cyclic?)")


def _binary_run(items: list[Any], parts: list[bytes]) -> int:
    """Encode the leading binaries and ``{Bin, Bin}`` pairs of a list; return how many.

    The event shape (``[UniqueId | [{Name, Value}, ...]]``) in one tight loop
    instead of one trip through the general dispatch per element.
    """
    heads = PAIR_HEADS
    hdrs = BIN_HDR
    done = 0
    try:
        for item in items:
            cls = item.__class__
            if cls is tuple and len(item) == 2:
                name, value = item
                if value.__class__ is not bytes:
                    if value.__class__ is not str:
                        break
                    value = value.encode()
                try:
                    parts += (heads[name], hdrs[len(value)], value)
                except (KeyError, IndexError, TypeError):
                    # Only bytes/str names are cached, so anything else lands here.
                    if name.__class__ is not bytes and name.__class__ is not str:
                        break
                    parts += (pair_head(name), bin_hdr(len(value)), value)
            elif cls is bytes:
                size = len(item)
                parts += (hdrs[size] if size < _HDR_TABLE else bin_hdr(size), item)
            else:
                break
            done += 1
    except UnicodeEncodeError:
        raise EncodeError("str with lone surrogates cannot be encoded as UTF-8") from None
    return done


def _u32(n: int, what: str) -> bytes:
    if n > 0xFFFFFFFF:
        raise EncodeError(f"{what} does not fit 32 bits")
    return _U32(n)


def _byte_list(items: list[Any]) -> bytes | None:
    for x in items:
        if x.__class__ is not int:
            return None
    try:
        return bytes(items)
    except ValueError:  # an int outside 0..255
        return None


def _int(n: int) -> bytes:
    if -0x80000000 <= n <= 0x7FFFFFFF:
        if 0 <= n < 256:
            return _SMALL_INTS[n]
        return b"b" + _I32(n)
    sign = 0
    if n < 0:
        sign = 1
        n = -n
    size = (n.bit_length() + 7) >> 3
    digits = n.to_bytes(size, "little")
    if size < 256:
        return bytes((110, size, sign)) + digits
    return b"o" + _u32(size, "integer size in bytes") + bytes((sign,)) + digits


def _float(f: float) -> bytes:
    if f - f != 0.0:  # NaN or an infinity: Erlang floats are finite
        raise EncodeError("NaN and infinite floats have no Erlang form")
    return b"F" + _F64(f)


def _atom_of(a: Atom) -> bytes:
    ext = a._ext
    if ext is None:
        raise EncodeError("atom name longer than 255 characters or not valid Unicode")
    return ext


def _other(t: object, add: Callable[[bytes], None]) -> Iterator[Any] | None:
    """Encode the less common values; return the children to encode next, if any."""
    # Pids, refs and the call tag first: every control message has them.
    if isinstance(t, Pid):
        try:
            add(b"X" + _atom_of(t.node) + _PID_TAIL(t.id, t.serial, t.creation))
        except StructError:
            raise EncodeError("Pid id, serial or creation outside 0..2^32-1") from None
    elif isinstance(t, Reference):
        ids = t.ids
        if len(ids) > 0xFFFF:
            raise EncodeError("Reference with more than 65535 words")
        try:
            tail = pack(f">{len(ids) + 1}I", t.creation, *ids)
        except StructError:
            raise EncodeError("Reference creation or ids outside 0..2^32-1") from None
        add(b"Z" + len(ids).to_bytes(2, "big") + _atom_of(t.node) + tail)
    elif isinstance(t, ImproperList):
        end = t.tail
        if end.__class__ is list and not end:
            # `[a, b | []]` is the proper list `[a, b]`.
            return iter((list(t.items),))
        if not t.items:
            return iter((end,))
        add(b"l" + _u32(len(t.items), "list length"))
        return chain(t.items, (end,))
    elif t is True:
        add(_TRUE)
    elif t is False:
        add(_FALSE)
    elif t is None:
        add(_UNDEFINED)
    elif isinstance(t, float):
        add(_float(t))
    elif isinstance(t, dict):
        add(b"t" + _u32(len(t), "map size"))
        return chain.from_iterable(t.items())
    elif isinstance(t, Port):
        try:
            if 0 <= t.id <= 0x0FFFFFFF:
                add(b"Y" + _atom_of(t.node) + _PORT_TAIL(t.id, t.creation))
            else:
                add(b"x" + _atom_of(t.node) + _V4_PORT_TAIL(t.id, t.creation))
        except StructError:
            raise EncodeError("Port id or creation out of range") from None
    elif isinstance(t, Fun):
        add(t.raw)
    elif isinstance(t, Export):
        if not isinstance(t.arity, int) or not 0 <= t.arity <= 255:
            raise EncodeError("Export arity must be 0..255")
        add(b"q" + _atom_of(t.module) + _atom_of(t.function) + _SMALL_INTS[t.arity])
    elif isinstance(t, BitString):
        n = len(t.data)
        add(b"M" + _u32(n, "bit string length") + bytes((t.bits,)) + t.data)
    elif isinstance(t, MapPairs):
        add(b"t" + _u32(len(t.pairs), "map size"))
        return chain.from_iterable(t.pairs)
    # Subclasses of the builtin types (IntEnum, named tuples, OrderedDict...).
    elif isinstance(t, int):
        add(_int(int(t)))
    elif isinstance(t, (bytes, bytearray, memoryview)):
        raw = bytes(t)
        add(bin_hdr(len(raw)))
        add(raw)
    elif isinstance(t, str):
        raw = utf8(str(t))
        add(bin_hdr(len(raw)))
        add(raw)
    elif isinstance(t, tuple):
        return iter((tuple(t),))
    elif isinstance(t, list):
        return iter((list(t),))
    else:
        raise EncodeError(f"cannot encode a {type(t).__name__} as an Erlang term")
    return None
