"""Decoded Erlang maps: a ``dict`` when Python can hold the keys, else :class:`MapPairs`.

A ``dict`` cannot hold an Erlang map faithfully when a key is unhashable (a
list or a map used as a key) or when two keys Erlang tells apart are equal in
Python (``1`` and ``1.0``, ``1`` and ``true``, ``0.0`` and ``-0.0``); the
pairs are then kept in wire order in a :class:`MapPairs`, which re-encodes to
the same bytes.  A key nested more than ``_KEY_DEPTH`` levels deep is never
hashed: CPython hashes tuples recursively in C, where the recursion limit does
not reach, and a hostile key could crash the process.
"""

from __future__ import annotations

from typing import Any, Final

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

__all__ = ["map_value"]


def map_value(items: list[Any]) -> dict[Any, Any] | MapPairs:
    """The map whose keys and values alternate in ``items``."""
    result: dict[Any, Any] = {}
    try:
        for i in range(0, len(items), 2):
            key = items[i]
            if key.__class__ not in _FLAT_KEYS and not _shallow(key):
                raise TypeError("key too deep to hash safely")
            result[key] = items[i + 1]
    except (TypeError, RecursionError):  # an unhashable key, or one too deep to hash
        result = {}
    if 2 * len(result) == len(items):
        return result
    # Unhashable keys, or keys Python thinks equal (1, 1.0, true): keep the pairs.
    pairs: list[Any] = list(zip(items[0::2], items[1::2], strict=True))
    return MapPairs(pairs)


# Key types whose hash never recurses.
_FLAT_KEYS: Final = frozenset(
    {bytes, int, float, bool, Atom, Pid, Port, Reference, Fun, BitString, Export}
)
# Hashing a tuple recurses in C without Python's recursion check, so a key
# nested deeper than this is kept in a MapPairs rather than hashed.
_KEY_DEPTH: Final = 100


def _shallow(key: Any) -> bool:
    """Whether hashing ``key`` recurses at most ``_KEY_DEPTH`` levels (walked iteratively)."""
    todo: list[tuple[Any, int]] = [(key, 0)]
    while todo:
        x, depth = todo.pop()
        if depth > _KEY_DEPTH:
            return False
        cls = x.__class__
        if cls is tuple:
            todo.extend((y, depth + 1) for y in x)
        elif cls is ImproperList:
            todo.extend((y, depth + 1) for y in (*x.items, x.tail))
        elif cls is MapPairs:
            todo.extend((y, depth + 1) for pair in x.pairs for y in pair)
        # Lists and dicts end hashing with a TypeError; scalars end it anyway.
    return True
