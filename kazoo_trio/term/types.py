"""Python values for the Erlang terms that have no natural Python type.

The mapping (see ``docs/design.md``):

========================  =====================================================
Erlang                    Python
========================  =====================================================
atom                      :class:`Atom` (``true``/``false`` are ``bool``)
binary                    ``bytes``
bit string                :class:`BitString`
integer, float            ``int``, ``float``
tuple                     ``tuple``
proper list               ``list``
improper list             :class:`ImproperList`
map                       ``dict`` (:class:`MapPairs` when Python cannot hold
                          the keys: unhashable, or equal in Python only)
pid, reference, port      :class:`Pid`, :class:`Reference`, :class:`Port`
fun, export               :class:`Fun` (opaque), :class:`Export`
========================  =====================================================
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import ClassVar

import attrs

__all__ = [
    "Atom",
    "BitString",
    "Export",
    "Fun",
    "ImproperList",
    "MapPairs",
    "Pid",
    "Port",
    "Reference",
]


class Atom:
    """An Erlang atom.

    Atoms are interned: ``Atom("ok") is Atom("ok")``, so equality and hashing
    are identity-based and as cheap as Python allows.  An ``Atom`` never equals
    a ``str``; that keeps ``Atom("ok")`` and the binary ``b"ok"`` (or a Python
    string) from being confused when terms are compared or used as dict keys.

    Atoms the program names (``Atom("ok")`` anywhere in code) are interned
    for the life of the process.  Atoms that only arrive from peers
    (:meth:`from_wire`, what the decoder uses) are interned weakly: shared by
    every term that holds them, and released once no term does, so a peer
    sending millions of distinct atoms cannot grow the table for ever.
    Identity is kept either way: while any reference to an atom exists, every
    lookup of its name returns that object, and ``Atom(name)`` on an atom that
    so far only came from the wire makes that same object permanent.

    Each atom carries its own external-format encoding (``_ext``, computed once
    when the atom is interned), so encoding an atom costs one attribute read.
    ``_ext`` is ``None`` for names Erlang cannot hold (more than 255 characters,
    or text that is not valid Unicode); encoding such an atom fails.
    """

    __slots__ = ("__weakref__", "_ext", "name")

    name: str
    _ext: bytes | None
    #: Atoms named by the program: kept for ever.
    _table: ClassVar[dict[str, Atom]] = {}
    #: Atoms only seen on the wire: kept while some term holds them.
    _wire: ClassVar[dict[str, _WireRef]] = {}
    #: The most entries ``_wire`` held since it was last compacted.
    _wire_high: ClassVar[int] = 0

    def __new__(cls, name: str) -> Atom:
        try:
            return cls._table[name]
        except KeyError:
            if not isinstance(name, str):
                raise TypeError(f"atom name must be str, not {type(name).__name__}") from None
            # A name the program uses becomes permanent, as the very object
            # that terms from peers may already hold.
            ref = cls._wire.pop(name, None)
            self = None if ref is None else ref()
            if self is None:
                self = cls._make(name)
            return cls._table.setdefault(name, self)

    @classmethod
    def from_wire(cls, name: str) -> Atom:
        """The atom ``name`` as received from a peer: interned only while referenced.

        Returns the permanent atom when the program knows the name, and
        otherwise the one live atom of that name, made if there is none.
        """
        atom = cls._table.get(name)
        if atom is None:
            ref = cls._wire.get(name)
            atom = None if ref is None else ref()
            if atom is None:
                atom = cls._make(name)
                wire = cls._wire
                wire[name] = _WireRef(atom, name)
                if len(wire) > cls._wire_high:
                    cls._wire_high = len(wire)
        return atom

    @classmethod
    def _released(cls, ref: _WireRef) -> None:
        wire = cls._wire
        if wire.get(ref.name) is ref:
            del wire[ref.name]
            # A dict never shrinks by deletion; after a flood of atoms has
            # gone, rebuild the table so that its memory goes too.
            if cls._wire_high >= 4096 and len(wire) <= cls._wire_high // 8:
                live = dict(wire)
                wire.clear()
                wire.update(live)
                cls._wire_high = len(wire)

    @classmethod
    def is_known(cls, atom: Atom) -> bool:
        """Whether ``atom`` is permanent (named by the program, not only received)."""
        return cls._table.get(atom.name) is atom

    @classmethod
    def _make(cls, name: str) -> Atom:
        self = object.__new__(cls)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "_ext", _atom_ext(name))
        return self

    def __setattr__(self, key: str, value: object) -> None:
        raise AttributeError("Atom is immutable")

    def __reduce__(self) -> tuple[type[Atom], tuple[str]]:
        return (Atom, (self.name,))

    def __copy__(self) -> Atom:
        return self

    def __deepcopy__(self, memo: object) -> Atom:
        return self

    def __repr__(self) -> str:
        return f"Atom({self.name!r})"

    def __str__(self) -> str:
        return self.name

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Atom):
            return NotImplemented
        # Erlang orders atoms by their text; code point order matches it.
        return self.name < other.name


class _WireRef(weakref.ref[Atom]):
    """A weak reference to a received atom that knows the name it is filed under."""

    __slots__ = ("name",)

    name: str

    def __new__(cls, atom: Atom, name: str) -> _WireRef:
        self = super().__new__(cls, atom, Atom._released)
        self.name = name
        return self


def _atom_ext(name: str) -> bytes | None:
    """SMALL_ATOM_UTF8_EXT, or ATOM_UTF8_EXT past 255 bytes, as OTP emits them."""
    if len(name) > 255:
        return None
    try:
        text = name.encode("utf-8")
    except UnicodeEncodeError:
        return None
    size = len(text)
    if size <= 255:
        return bytes((119, size)) + text
    return bytes((118, size >> 8, size & 0xFF)) + text


# Converters with concrete signatures: mypy's attrs plugin cannot solve the
# type variable of a bare ``tuple`` converter, so every call site would fail.
def _tuple(items: Iterable[object]) -> tuple[object, ...]:
    return tuple(items)


def _int_tuple(items: Iterable[int]) -> tuple[int, ...]:
    return tuple(items)


def _pair_tuple(items: Iterable[tuple[object, object]]) -> tuple[tuple[object, object], ...]:
    return tuple(items)


def _node_converter(node: Atom | str) -> Atom:
    return node if isinstance(node, Atom) else Atom(node)


@attrs.frozen(repr=False)
class Pid:
    """A process identifier: ``<node.id.serial>`` plus the node's creation."""

    node: Atom = attrs.field(converter=_node_converter)
    id: int
    serial: int = 0
    creation: int = 0

    def __repr__(self) -> str:
        return f"Pid({self.node.name!r}, {self.id}, {self.serial}, {self.creation})"

    def __str__(self) -> str:
        # How the pid reads in log lines: the node's name where Erlang prints
        # its connection index, e.g. <ecallmgr@host.81.0>.
        return f"<{self.node.name}.{self.id}.{self.serial}>"


@attrs.frozen(repr=False)
class Reference:
    """An Erlang reference; ``ids`` holds its 1 to 5 32-bit words in wire order."""

    node: Atom = attrs.field(converter=_node_converter)
    creation: int
    ids: tuple[int, ...] = attrs.field(converter=_int_tuple)

    def __repr__(self) -> str:
        return f"Reference({self.node.name!r}, {self.creation}, {self.ids!r})"

    def __str__(self) -> str:
        return f"#Ref<{self.node.name}.{'.'.join(map(str, reversed(self.ids)))}>"


@attrs.frozen(repr=False)
class Port:
    """A port identifier (ids above 28 bits need the V4 encoding)."""

    node: Atom = attrs.field(converter=_node_converter)
    id: int
    creation: int = 0

    def __repr__(self) -> str:
        return f"Port({self.node.name!r}, {self.id}, {self.creation})"

    def __str__(self) -> str:
        return f"#Port<{self.node.name}.{self.id}>"


@attrs.frozen
class ImproperList:
    """A list whose tail is not ``[]``, e.g. the OTP 24+ call tag ``[alias | Ref]``.

    ``items`` holds the elements before the tail (at least one); ``tail`` is any
    term other than the empty list.
    """

    items: tuple[object, ...] = attrs.field(converter=_tuple)
    tail: object


@attrs.frozen
class BitString:
    """A binary whose length is not a whole number of bytes.

    ``bits`` is the number of bits of the last byte that are used (1 to 8),
    counted from the most significant bit, as in BIT_BINARY_EXT.
    """

    data: bytes
    bits: int

    def __attrs_post_init__(self) -> None:
        if not 1 <= self.bits <= 8 or not self.data:
            raise ValueError("a bit string needs data and 1..8 used bits in its last byte")


@attrs.frozen
class Fun:
    """An Erlang fun, kept as the exact bytes it arrived in.

    Python cannot call it; it only needs to travel back to Erlang unchanged, so
    the codec stores the NEW_FUN_EXT bytes (tag included) and writes them back
    verbatim.
    """

    raw: bytes


@attrs.frozen
class Export:
    """``fun Module:Function/Arity``."""

    module: Atom = attrs.field(converter=_node_converter)
    function: Atom = attrs.field(converter=_node_converter)
    arity: int


@attrs.frozen
class MapPairs:
    """An Erlang map that a Python ``dict`` cannot hold, as its ordered key/value pairs.

    The decoder returns this instead of a ``dict`` when a key is unhashable in
    Python (a list or a map used as a key) or when two keys that Erlang tells
    apart are equal in Python (``1`` and ``1.0``, ``1`` and ``true``).  It
    re-encodes to the same MAP_EXT, pairs in the order given.
    """

    pairs: tuple[tuple[object, object], ...] = attrs.field(converter=_pair_tuple)
