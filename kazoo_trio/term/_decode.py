"""External term format to Python values; every malformed input is a DecodeError.

Mapping (the reverse of the encoder's, see ``_encode``): binary -> ``bytes``,
atom -> :class:`Atom` (``true``/``false`` -> ``bool``; ``undefined`` stays an
atom), STRING_EXT -> ``list`` of ints (``bytes`` with ``strings_as_bytes``),
map -> ``dict`` in wire order, or :class:`MapPairs` when Python cannot hold
the keys (an unhashable key such as a list or a map, or two keys Erlang tells
apart but Python does not, like ``1`` and ``1.0``).  Deprecated forms decode to
the same values as their modern forms (PID_EXT to :class:`Pid` ...) and
re-encode in the modern form, exactly as OTP 23+ does.

Robustness, for bytes from an untrusted peer:

* The decoder is iterative (an explicit stack), so nesting is bounded only by
  ``max_depth`` (default 1,000), never by Python's recursion limit.
* Every length is checked against the bytes left before anything is sliced,
  allocated or computed: a tuple of 2^32 elements in a 10-byte buffer fails at
  once.  Big integers are built with ``int.from_bytes`` (linear; the 3.11
  int/str digit limit never applies).
* A compressed term must inflate to exactly the size in its header.  A header
  over ``max_inflated`` (default 64 MiB) is refused before inflating, and the
  inflater is never asked for more than the header's size plus one byte, so a
  zlib bomb costs at most the cap.
* Atom text must be valid UTF-8 (or Latin-1 for the old tags) and at most 255
  characters, as ``binary_to_term`` requires.
* A list in tail position (``[1 | [2]]``, which OTP never writes) continues
  the open list, so chains of tails cost linear time and no nesting depth.
* A map key nested more than 100 levels deep is not hashed (CPython hashes
  tuples recursively in C, beyond the reach of the recursion limit); its map
  becomes a :class:`MapPairs`.
* Any problem raises :class:`DecodeError` with the offset and the reason; no
  other exception escapes (a final guard turns anything unexpected into one).

Caches (all bounded): decoded atoms by their UTF-8 text (those the program
knows, and the 1,024 most recent others; the Atom intern table is the real
store, holding atoms only peers use just while some term does) and pids by
their exact bytes (4,096, started afresh when full), so the peer pids and
atoms that recur in every control message cost one dictionary lookup.

ATOM_CACHE_REF (82) is resolved through ``atom_refs``, the atoms the
distribution header of the same packet listed; without it, tag 82 is an error.
A fun received with atom-cache references inside is re-encoded with plain
atoms, so the :class:`Fun` stays valid outside that packet.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from struct import Struct, unpack_from
from struct import error as StructError
from typing import Any, Final

from kazoo_trio.term import _tags as T
from kazoo_trio.term._encode import encode_body
from kazoo_trio.term._errors import DecodeError
from kazoo_trio.term._maps import map_value
from kazoo_trio.term.types import (
    Atom,
    BitString,
    Export,
    Fun,
    ImproperList,
    Pid,
    Port,
    Reference,
)

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_INFLATED",
    "decode",
    "decode_body",
    "decode_prefixed",
]

DEFAULT_MAX_DEPTH: Final = 1000
DEFAULT_MAX_INFLATED: Final = 64 * 1024 * 1024

_U16: Final = Struct(">H").unpack_from
_U32: Final = Struct(">I").unpack_from
_I32: Final = Struct(">i").unpack_from
_F64: Final = Struct(">d").unpack_from
_U32x3: Final = Struct(">III").unpack_from
_U32x2: Final = Struct(">II").unpack_from
_U64U32: Final = Struct(">QI").unpack_from
_U32U8: Final = Struct(">IB").unpack_from
_U32x2U8: Final = Struct(">IIB").unpack_from
# The event fast path reads `104, 2, 109, Len:32` and `109, Len:32` in one call each.
_PAIR_HEAD: Final = Struct(">HBI").unpack_from
_BIN_HEAD: Final = Struct(">BI").unpack_from

# Decoded atoms by their UTF-8 text (the Atom intern table is the real store).
# Atoms the program knows stay cached up to _ATOMS_MAX entries; of the atoms
# only peers use, the most recent _WIRE_ATOMS_MAX are cached too, so an atom a
# peer repeats is cheap while a flood of distinct ones keeps at most that many
# alive here.
_ATOMS: Final[dict[bytes, Atom]] = {}
# The same, as term values (`true`/`false` as bools), for the inlined atom path.
_ATOM_TERMS: Final[dict[bytes, Atom | bool]] = {}
_ATOMS_MAX: Final = 65536
_WIRE_KEYS: Final[list[bytes]] = []
_WIRE_ATOMS_MAX: Final = 1024
_PIDS: Final[dict[bytes, Pid]] = {}
_PIDS_MAX: Final = 4096
_TRUE_ATOM: Final = Atom("true")
_FALSE_ATOM: Final = Atom("false")

# What `io_lib_format:fwrite_g`/`"%.20e"` can write into FLOAT_EXT's 31 bytes.
_FLOAT_TEXT: Final = re.compile(rb"[+-]?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?")

# Frame kinds of the decoder's explicit stack.
_TUPLE: Final = 0
_LIST: Final = 1
_MAP: Final = 2
_FUN: Final = 3
_EXPORT: Final = 4


def decode(
    data: bytes | bytearray | memoryview,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_inflated: int = DEFAULT_MAX_INFLATED,
    strings_as_bytes: bool = False,
) -> Any:
    """Decode a whole buffer holding exactly one 131-prefixed term.

    Trailing bytes after the term are an error.
    """
    data = _as_bytes(data)
    term, end = decode_prefixed(
        data, 0, max_depth=max_depth, max_inflated=max_inflated, strings_as_bytes=strings_as_bytes
    )
    if end != len(data):
        raise DecodeError(end, f"{len(data) - end} trailing bytes after the term")
    return term


def decode_prefixed(
    data: bytes | bytearray | memoryview,
    offset: int = 0,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_inflated: int = DEFAULT_MAX_INFLATED,
    strings_as_bytes: bool = False,
) -> tuple[Any, int]:
    """Decode one 131-prefixed term at ``offset``; return it and its end offset.

    A pass-through distribution frame holds ``131 Ctl 131 Msg``: call this
    twice, the second time at the first call's end offset.
    """
    data = _as_bytes(data)
    if offset >= len(data) or offset < 0:
        raise DecodeError(offset, "truncated: no version byte")
    if data[offset] != T.VERSION:
        raise DecodeError(offset, f"version byte is {data[offset]}, not 131")
    pos = offset + 1
    if pos < len(data) and data[pos] == T.COMPRESSED:
        return _decode_compressed(data, pos, max_depth, max_inflated, strings_as_bytes)
    return _guarded(data, pos, None, max_depth, strings_as_bytes)


def decode_body(
    data: bytes | bytearray | memoryview,
    offset: int = 0,
    *,
    atom_refs: Sequence[Atom] | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_inflated: int = DEFAULT_MAX_INFLATED,
    strings_as_bytes: bool = False,
) -> tuple[Any, int]:
    """Decode one term without a version byte at ``offset``; return it and its end.

    ``atom_refs`` resolves ATOM_CACHE_REF (82): index ``i`` is ``atom_refs[i]``.
    Compression only exists after a version byte, so ``max_inflated`` has no
    effect here; it is accepted so that one set of limits fits every entry point.
    """
    del max_inflated
    data = _as_bytes(data)
    refs = None if atom_refs is None else tuple(atom_refs)
    if offset < 0:
        raise DecodeError(offset, "negative offset")
    return _guarded(data, offset, refs, max_depth, strings_as_bytes)


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    if data.__class__ is bytes:
        return data
    try:
        return bytes(data)
    except TypeError:
        raise DecodeError(0, f"cannot decode a {type(data).__name__}; bytes expected") from None


def _guarded(
    data: bytes, pos: int, refs: tuple[Atom, ...] | None, max_depth: int, as_bytes: bool
) -> tuple[Any, int]:
    try:
        return _decode(data, pos, refs, max_depth, as_bytes)
    except DecodeError:
        raise
    except (IndexError, StructError):
        # A fixed-size field ran past the end (the hot paths do not bounds-check
        # single bytes; the exception is the check).
        raise DecodeError(len(data), "truncated term") from None
    except Exception as exc:  # the promise: nothing but DecodeError leaves the decoder
        raise DecodeError(pos, f"malformed term ({type(exc).__name__})") from None


def _decode_compressed(
    data: bytes, pos: int, max_depth: int, max_inflated: int, as_bytes: bool
) -> tuple[Any, int]:
    if pos + 5 > len(data):
        raise DecodeError(len(data), "truncated compressed term header")
    (size,) = _U32(data, pos + 1)
    if size > max_inflated:
        raise DecodeError(pos + 1, f"compressed term inflates to {size} bytes, over the cap")
    start = pos + 5
    inflater = zlib.decompressobj()
    try:
        inner = inflater.decompress(data[start:], size + 1)
        if len(inner) == size and not inflater.eof:
            # Output may be complete while the stream's end marker is unread.
            inner += inflater.decompress(inflater.unconsumed_tail, 1)
    except zlib.error as exc:
        raise DecodeError(start, f"bad zlib data ({exc})") from None
    if len(inner) != size:
        raise DecodeError(pos + 1, "compressed term's inflated size differs from its header")
    if not inflater.eof:
        raise DecodeError(len(data), "truncated zlib stream")
    end = len(data) - len(inflater.unused_data)
    try:
        term, inner_end = _guarded(inner, 0, None, max_depth, as_bytes)
    except DecodeError as exc:
        raise DecodeError(exc.offset, f"{exc.reason} inside the inflated data") from None
    if inner_end != size:
        raise DecodeError(inner_end, "bytes left over inside the inflated data")
    return term, end


def _atom(data: bytes, pos: int, refs: tuple[Atom, ...] | None) -> tuple[Atom, int]:
    """Read an atom in any of its forms; return it (never a bool) and its end."""
    tag = data[pos]
    if tag == T.SMALL_ATOM_UTF8_EXT:
        start = pos + 2
        end = start + data[pos + 1]
        utf8 = True
    elif tag == T.ATOM_UTF8_EXT:
        start = pos + 3
        end = start + _U16(data, pos + 1)[0]
        utf8 = True
    elif tag == T.ATOM_CACHE_REF:
        index = data[pos + 1]
        if refs is None:
            raise DecodeError(pos, "ATOM_CACHE_REF outside a distribution message")
        if index >= len(refs):
            raise DecodeError(pos, f"ATOM_CACHE_REF {index} but the header lists {len(refs)}")
        return refs[index], pos + 2
    elif tag == T.ATOM_EXT:
        start = pos + 3
        end = start + _U16(data, pos + 1)[0]
        utf8 = False
    elif tag == T.SMALL_ATOM_EXT:
        start = pos + 2
        end = start + data[pos + 1]
        utf8 = False
    else:
        raise DecodeError(pos, f"expected an atom, found tag {tag}")
    if end > len(data):
        raise DecodeError(pos, f"atom length {end - start} exceeds the bytes left")
    raw = data[start:end]
    if utf8:
        atom = _ATOMS.get(raw)
        if atom is not None:
            return atom, end
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(pos, "atom text is not valid UTF-8") from None
    else:
        text = raw.decode("latin-1")
    if len(text) > T.ATOM_MAX_CHARS:
        raise DecodeError(pos, "atom longer than 255 characters")
    atom = Atom.from_wire(text)
    if utf8 and len(_ATOMS) < _ATOMS_MAX:
        if not Atom.is_known(atom):
            if len(_WIRE_KEYS) >= _WIRE_ATOMS_MAX:
                _forget_wire_atoms()
            _WIRE_KEYS.append(raw)
        _ATOMS[raw] = atom
        _ATOM_TERMS[raw] = True if atom is _TRUE_ATOM else False if atom is _FALSE_ATOM else atom
    return atom, end


def _forget_wire_atoms() -> None:
    # An atom cached as wire-only may have become known since; it is simply
    # cached again on its next use.
    for key in _WIRE_KEYS:
        _ATOMS.pop(key, None)
        _ATOM_TERMS.pop(key, None)
    _WIRE_KEYS.clear()


def _scan(data: bytes, pos: int, items: list[Any], count: int) -> int:
    """Append binaries and ``{Bin, Bin}`` pairs at ``pos`` while the list has room.

    The shape of every event (``[UniqueId | [{Name, Value}, ...]]``), read
    without pushing a frame per pair.  Stops at anything else (or at bad bytes,
    which the general path then reports precisely).
    """
    n = len(data)
    append = items.append
    try:
        for _ in range(count - len(items)):
            # One unpack reads `104, 2, 109, Len`; a lone binary starts `109, Len`.
            head, tag, size = _PAIR_HEAD(data, pos)
            if head == 0x6802 and tag == 109:
                start = pos + 7
                mid = start + size
                tag, size = _BIN_HEAD(data, mid)
                end = mid + 5 + size
                if tag != 109 or end > n:
                    break
                append((data[start:mid], data[mid + 5 : end]))
                pos = end
            elif head >> 8 == 109:
                end = pos + 5 + _U32(data, pos + 1)[0]
                if end > n:
                    break
                append(data[pos + 5 : end])
                pos = end
            else:
                break
    except StructError:
        pass  # fewer than 7 bytes left: the general path reports it precisely
    return pos


def _decode(
    data: bytes, pos: int, refs: tuple[Atom, ...] | None, max_depth: int, as_bytes: bool
) -> tuple[Any, int]:
    n = len(data)
    # Frames: [kind, items, count, start offset, extra].
    stack: list[list[Any]] = []
    value: Any
    while True:
        if pos >= n:
            raise DecodeError(pos, "truncated term")
        tag = data[pos]
        if tag == 119:  # SMALL_ATOM_UTF8_EXT, the common atom: inlined
            end = pos + 2 + data[pos + 1]
            value = _ATOM_TERMS.get(data[pos + 2 : end]) if end <= n else None
            if value is None:
                value, end = _atom(data, pos, refs)
                if value is _TRUE_ATOM:
                    value = True
                elif value is _FALSE_ATOM:
                    value = False
            pos = end
        elif tag == 109:  # BINARY_EXT
            (size,) = _U32(data, pos + 1)
            start = pos + 5
            pos = start + size
            if pos > n:
                raise DecodeError(start - 5, f"binary length {size} exceeds the bytes left")
            value = data[start:pos]
        elif tag == 104 or tag == 105:  # SMALL_TUPLE_EXT, LARGE_TUPLE_EXT
            if tag == 104:
                arity = data[pos + 1]
                pos += 2
            else:
                (arity,) = _U32(data, pos + 1)
                pos += 5
            if arity == 0:
                value = ()
            else:
                if arity > n - pos:
                    raise DecodeError(pos, f"tuple arity {arity} exceeds the {n - pos} bytes left")
                if len(stack) >= max_depth:
                    raise DecodeError(pos, f"nesting deeper than {max_depth}")
                stack.append([_TUPLE, [], arity, pos, None])
                continue
        elif tag == 108:  # LIST_EXT
            (count,) = _U32(data, pos + 1)
            pos += 5
            if count >= n - pos:  # each element and the tail take a byte at least
                raise DecodeError(pos - 5, f"list length {count} exceeds the {n - pos} bytes left")
            if stack:
                frame = stack[-1]
                if frame[0] == _LIST and len(frame[1]) == frame[2] - 1:
                    # A list in tail position continues the open list (`[1 | [2]]`
                    # is `[1, 2]`): extend it in place, linear however long the chain.
                    frame[2] += count
                    pos = _scan(data, pos, frame[1], frame[2] - 1)
                    continue
            if len(stack) >= max_depth:
                raise DecodeError(pos, f"nesting deeper than {max_depth}")
            items: list[Any] = []
            stack.append([_LIST, items, count + 1, pos, None])
            pos = _scan(data, pos, items, count)
            continue
        elif tag == 106:  # NIL_EXT
            value = []
            pos += 1
        elif tag == 119 or tag == 118 or tag == 100 or tag == 115 or tag == 82:
            value, pos = _atom(data, pos, refs)
            if value is _TRUE_ATOM:
                value = True
            elif value is _FALSE_ATOM:
                value = False
        elif tag == 97:  # SMALL_INTEGER_EXT
            value = data[pos + 1]
            pos += 2
        elif tag == 98:  # INTEGER_EXT
            (value,) = _I32(data, pos + 1)
            pos += 5
        elif tag == 107:  # STRING_EXT
            (size,) = _U16(data, pos + 1)
            start = pos + 3
            pos = start + size
            if pos > n:
                raise DecodeError(start - 3, f"string length {size} exceeds the bytes left")
            value = data[start:pos] if as_bytes else list(data[start:pos])
        elif tag == 116:  # MAP_EXT
            (arity,) = _U32(data, pos + 1)
            pos += 5
            if arity == 0:
                value = {}
            else:
                if 2 * arity > n - pos:
                    raise DecodeError(pos - 5, f"map size {arity} exceeds the {n - pos} bytes left")
                if len(stack) >= max_depth:
                    raise DecodeError(pos, f"nesting deeper than {max_depth}")
                stack.append([_MAP, [], 2 * arity, pos, None])
                continue
        elif tag == 70:  # NEW_FLOAT_EXT
            (value,) = _F64(data, pos + 1)
            if value - value != 0.0:
                raise DecodeError(pos, "NaN or infinite float")
            pos += 9
        elif tag == 110 or tag == 111:  # SMALL_BIG_EXT, LARGE_BIG_EXT
            if tag == 110:
                size = data[pos + 1]
                start = pos + 3
            else:
                (size,) = _U32(data, pos + 1)
                start = pos + 6
            if start + size > n or start > n:
                raise DecodeError(pos, f"bignum of {size} bytes exceeds the bytes left")
            sign = data[start - 1]
            value = int.from_bytes(data[start : start + size], "little")
            if sign:
                value = -value
            pos = start + size
        elif tag == 88 or tag == 103:  # NEW_PID_EXT, PID_EXT
            # The same few peer pids arrive again and again: reuse the value
            # decoded from identical bytes (only plain-atom nodes, never cache refs).
            plain = tag == 88 and data[pos + 1] == 119
            end = pos + 15 + data[pos + 2] if plain else 0
            value = _PIDS.get(data[pos:end]) if plain and end <= n else None
            if value is not None:
                pos = end
            else:
                start = pos
                node, pos = _atom(data, pos + 1, refs)
                if tag == 88:
                    pid_id, serial, creation = _U32x3(data, pos)
                    pos += 12
                else:
                    pid_id, serial, creation = _U32x2U8(data, pos)
                    pos += 9
                value = Pid(node, pid_id, serial, creation)
                if plain:
                    if len(_PIDS) >= _PIDS_MAX:
                        _PIDS.clear()  # pids come and go; start over rather than grow
                    _PIDS[data[start:pos]] = value
        elif tag == 90 or tag == 114:  # NEWER_REFERENCE_EXT, NEW_REFERENCE_EXT
            (words,) = _U16(data, pos + 1)
            node, pos = _atom(data, pos + 3, refs)
            if tag == 90:
                (creation,) = _U32(data, pos)
                pos += 4
            else:
                creation = data[pos]
                pos += 1
            if pos + 4 * words > n:
                raise DecodeError(pos, f"reference of {words} words exceeds the bytes left")
            ids = unpack_from(f">{words}I", data, pos)
            pos += 4 * words
            value = Reference(node, creation, ids)
        elif tag == 101:  # REFERENCE_EXT
            node, pos = _atom(data, pos + 1, refs)
            ref_id, creation = _U32U8(data, pos)
            pos += 5
            value = Reference(node, creation, (ref_id,))
        elif tag == 89 or tag == 102 or tag == 120:  # NEW_PORT_EXT, PORT_EXT, V4_PORT_EXT
            node, pos = _atom(data, pos + 1, refs)
            if tag == 89:
                port_id, creation = _U32x2(data, pos)
                pos += 8
            elif tag == 102:
                port_id, creation = _U32U8(data, pos)
                pos += 5
            else:
                port_id, creation = _U64U32(data, pos)
                pos += 12
            value = Port(node, port_id, creation)
        elif tag == 77:  # BIT_BINARY_EXT
            size, bits = _U32U8(data, pos + 1)
            start = pos + 6
            if start + size > n:
                raise DecodeError(pos, f"bit string length {size} exceeds the bytes left")
            if size == 0 or not 1 <= bits <= 8:
                raise DecodeError(pos, "bit string needs data and 1..8 used bits in its last byte")
            value = BitString(data[start : start + size], bits)
            pos = start + size
        elif tag == 112:  # NEW_FUN_EXT
            (size,) = _U32(data, pos + 1)
            if pos + 1 + size > n:
                raise DecodeError(pos, f"fun size {size} exceeds the bytes left")
            if size < 4 + 1 + 16 + 4 + 4:
                raise DecodeError(pos, "fun size too small for its fixed fields")
            (free,) = _U32(data, pos + 26)
            if free > n - pos - 30:
                raise DecodeError(pos, f"fun with {free} free variables exceeds the bytes left")
            if len(stack) >= max_depth:
                raise DecodeError(pos, f"nesting deeper than {max_depth}")
            stack.append([_FUN, [], 4 + free, pos + 30, pos])
            pos += 30
            continue
        elif tag == 113:  # EXPORT_EXT
            if len(stack) >= max_depth:
                raise DecodeError(pos, f"nesting deeper than {max_depth}")
            stack.append([_EXPORT, [], 3, pos + 1, pos])
            pos += 1
            continue
        elif tag == 99:  # FLOAT_EXT
            value = _float_text(data, pos)
            pos += 32
        else:
            raise DecodeError(pos, _unknown(tag))

        # Hand the finished value to the innermost open container; close every
        # container that it completes.
        while stack:
            frame = stack[-1]
            items = frame[1]
            items.append(value)
            if len(items) < frame[2]:
                if frame[0] == _LIST:
                    pos = _scan(data, pos, items, frame[2] - 1)
                break
            stack.pop()
            value = _close(frame, data, pos, refs)
        else:
            return value, pos


def _close(frame: list[Any], data: bytes, pos: int, refs: tuple[Atom, ...] | None) -> Any:
    kind, items = frame[0], frame[1]
    if kind == _TUPLE:
        return tuple(items)
    if kind == _LIST:
        tail = items.pop()
        if not items:  # `[ | Tail]` with no elements is just Tail
            return tail
        if tail.__class__ is list:
            # `[]` closes a proper list; a STRING_EXT tail (never sent by OTP) continues it.
            items += tail
            return items
        return ImproperList(items, tail)
    if kind == _MAP:
        return map_value(items)
    if kind == _FUN:
        return _fun(frame, data, pos, refs)
    module, function, arity = items
    if not (_is_atom(module) and _is_atom(function)) or arity.__class__ is not int:
        raise DecodeError(frame[4], "EXPORT_EXT needs two atoms and a small integer")
    if not 0 <= arity <= 255:
        raise DecodeError(frame[4], "EXPORT_EXT arity must be 0..255")
    return Export(_as_atom(module), _as_atom(function), arity)


def _fun(frame: list[Any], data: bytes, pos: int, refs: tuple[Atom, ...] | None) -> Fun:
    start = frame[4]
    items = frame[1]
    (size,) = _U32(data, start + 1)
    if start + 1 + size != pos:
        raise DecodeError(start, "NEW_FUN_EXT size field disagrees with its contents")
    module, old_index, old_uniq, pid = items[:4]
    if not _is_atom(module) or old_index.__class__ is not int or old_uniq.__class__ is not int:
        raise DecodeError(start, "NEW_FUN_EXT needs a module atom and integer old index/uniq")
    if pid.__class__ is not Pid:
        raise DecodeError(start, "NEW_FUN_EXT needs a creator pid")
    if refs is None or T.ATOM_CACHE_REF not in data[start:pos]:
        return Fun(data[start:pos])
    # Atom-cache references only mean something inside their packet: rebuild
    # the fun with plain atoms so it can be sent anywhere.
    fixed = data[start + 5 : start + 30]
    rest = fixed + b"".join(encode_body(x) for x in items)
    return Fun(b"p" + (len(rest) + 4).to_bytes(4, "big") + rest)


def _is_atom(x: object) -> bool:
    return x.__class__ is Atom or x.__class__ is bool


def _as_atom(x: Atom | bool) -> Atom:
    if x is True:
        return _TRUE_ATOM
    if x is False:
        return _FALSE_ATOM
    return x


def _float_text(data: bytes, pos: int) -> float:
    if pos + 32 > len(data):
        raise DecodeError(pos, "truncated FLOAT_EXT")
    text = data[pos + 1 : pos + 32].rstrip(b"\x00").strip()
    if not _FLOAT_TEXT.fullmatch(text):
        raise DecodeError(pos, "FLOAT_EXT text is not a number")
    value = float(text)
    if value - value != 0.0:
        raise DecodeError(pos, "FLOAT_EXT out of range")
    return value


def _unknown(tag: int) -> str:
    if tag == T.FUN_EXT:
        return "old FUN_EXT (117) is not supported (OTP 23+ never sends it)"
    if tag == T.LOCAL_EXT:
        return "LOCAL_EXT (121) can only be decoded by the node that wrote it"
    if tag == T.COMPRESSED:
        return "compressed term (80) is only allowed right after the version byte"
    if tag == T.VERSION:
        return "unexpected version byte 131 inside a term"
    return f"unknown tag {tag}"
