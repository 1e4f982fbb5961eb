"""Fusing a plan's field list into one generated function.

The compiled fields are closures; calling sixty of them per event costs more
than the work most of them do (one dictionary lookup and one assignment).  The
common kinds — copying a header as a string, ``first-of`` over headers, a
static value, a reference guarded by its definition's filters — register a
description of themselves here, and :func:`fuse` writes the straight-line
Python those descriptions stand for, with every name and key a literal.  Any
other field stays a call to its closure, so the fused function does exactly
what the loop over the closures does.

Two savings need knowledge of the whole list.  Assigning a key normally
removes it first (so that a replaced key moves to the end); the writer knows
which keys the object can hold at each line (from the fields before it, each
of which records the keys it may assign) and leaves out removals of keys that
cannot be there.  And a filter that guards two references to the same
definition is tested once: filters read only the headers, which do not change
while an object is built.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

from kazoo_trio.kazoo.profiles.view import HeaderView, to_binary

__all__ = ["Fields", "describe", "fuse", "touches", "touches_all"]

Fields = Callable[[HeaderView, dict[bytes, object]], object]

# ("copy", key, lowered) | ("convert", key, lowered, convert) | ("first-of", key,
# lowered names) | ("static", key, term) | ("guard", predicate, fields)
# | ("keys", frozenset of the keys it may assign): an opaque field, called as it is
_STEPS: weakref.WeakKeyDictionary[Callable[..., object], tuple[object, ...]] = (
    weakref.WeakKeyDictionary()
)


def describe(apply: Callable[..., object], step: tuple[object, ...]) -> None:
    """Record what a compiled field does, for :func:`fuse`."""
    _STEPS[apply] = step


def touches(apply: Callable[..., object]) -> frozenset[bytes] | None:
    """The keys a compiled field may assign in the object it gets (``None``: unknown)."""
    step = _STEPS.get(apply)
    if step is None:
        return None
    kind = step[0]
    if kind in ("copy", "convert", "first-of", "static"):
        key = step[1]
        assert isinstance(key, bytes)
        return frozenset((key,))
    if kind == "keys":
        keys = step[1]
        assert isinstance(keys, frozenset)
        return keys
    if kind == "guard":
        inner = step[2]
        assert isinstance(inner, tuple)
        return touches_all(inner)
    return None


def touches_all(fields: Sequence[Callable[..., object]]) -> frozenset[bytes] | None:
    """The keys any of ``fields`` may assign (``None``: unknown)."""
    keys: frozenset[bytes] = frozenset()
    for apply in fields:
        more = touches(apply)
        if more is None:
            return None
        keys |= more
    return keys


_TOP = "    "  # the indentation of the fused function's own statements


def _literal(value: object) -> bool:
    return type(value) in (bytes, str, int, bool)


class _Writer:
    """Writes the fused function's lines.

    ``present`` holds every key the object may already have at the line being
    written (``None``: any key).  Assigning a key it cannot have needs no
    ``pop`` first: a new key goes to the end anyway.
    """

    def __init__(self, present: frozenset[bytes] | None) -> None:
        self.lines: list[str] = []
        self.env: dict[str, object] = {"to_binary": to_binary}
        self.present: set[bytes] | None = None if present is None else set(present)
        self.tested: dict[object, str] = {}

    def _test(self, predicate: object, pad: str) -> str:
        """The condition testing ``predicate``.

        A predicate reads only the headers, which do not change while an
        object is built, so a definition referenced twice (Kazoo's
        ``debug-call``) is tested once: top-level tests keep their result.
        """
        if pad != _TOP:
            return f"{self.name(predicate)}(view)"
        label = self.tested.get(predicate)
        if label is None:
            label = f"_g{len(self.tested)}"
            self.tested[predicate] = label
            self.lines.append(f"{pad}{label} = {self.name(predicate)}(view)")
        return label

    def claim(self, key: object) -> bool:
        """Note that ``key`` may be assigned from here on; whether it may exist already."""
        present = self.present
        if present is None:
            return True
        assert isinstance(key, bytes)
        if key in present:
            return True
        present.add(key)
        return False

    def name(self, value: object) -> str:
        if _literal(value):
            return repr(value)
        label = f"_v{len(self.env)}"
        self.env[label] = value
        return label

    def emit(self, fields: Sequence[Fields], pad: str) -> None:
        for apply in fields:
            step = _STEPS.get(apply)
            kind = step[0] if step else None
            if step is not None and kind == "copy":
                pop = self.claim(step[1])
                key, lowered = self.name(step[1]), self.name(step[2])
                self._store(pad, key, lowered, f"first.get({lowered})", pop)
            elif step is not None and kind == "convert":
                pop = self.claim(step[1])
                key, lowered, convert = self.name(step[1]), self.name(step[2]), self.name(step[3])
                self.lines += [
                    f"{pad}_t = first.get({lowered})",
                    f"{pad}if _t is not None:",
                    *([f"{pad}    pop({key}, None)"] if pop else []),
                    f"{pad}    if multi is not None and {lowered} in multi:",
                    f"{pad}        dst[{key}] = [{convert}(_x, view) for _x in multi[{lowered}]]",
                    f"{pad}    else:",
                    f"{pad}        dst[{key}] = {convert}(_t, view)",
                ]
            elif step is not None and kind == "first-of":
                pop = self.claim(step[1])
                key = self.name(step[1])
                names = step[2]
                assert isinstance(names, tuple)
                self.lines.append(f"{pad}for _n in {self.name(names)}:")
                self._store(pad + "    ", key, "_n", "first.get(_n)", pop, stop="break")
            elif step is not None and kind == "static":
                pop = self.claim(step[1])
                key, value = self.name(step[1]), self.name(step[2])
                if pop:
                    self.lines.append(f"{pad}pop({key}, None)")
                self.lines.append(f"{pad}dst[{key}] = {value}")
            elif step is not None and kind == "guard":
                inner = step[2]
                assert isinstance(inner, tuple)
                self.lines.append(f"{pad}if {self._test(step[1], pad)}:")
                self.lines.append(f"{pad}    pass")
                self.emit(inner, pad + "    ")
            else:
                self.lines.append(f"{pad}{self.name(apply)}(view, dst)")
                keys = touches(apply)
                if keys is None:
                    self.present = None
                elif self.present is not None:
                    self.present |= keys

    def _store(
        self, pad: str, key: str, lowered: str, lookup: str, pop: bool, stop: str = ""
    ) -> None:
        self.lines += [
            f"{pad}_t = {lookup}",
            f"{pad}if _t is not None:",
            *([f"{pad}    pop({key}, None)"] if pop else []),
            f"{pad}    if multi is not None and {lowered} in multi:",
            f"{pad}        dst[{key}] = [to_binary(_x) for _x in multi[{lowered}]]",
            f"{pad}    else:",
            f'{pad}        dst[{key}] = _t.encode("utf-8", "surrogateescape")',
        ]
        if stop:
            self.lines.append(f"{pad}    {stop}")


def fuse(fields: Sequence[Fields], present: frozenset[bytes] | None = None) -> Fields:
    """One function applying ``fields`` in order (the same effects as calling each).

    ``present``: the keys the objects it will get may already hold (``None``:
    any), so that assignments of keys they cannot hold skip removing them first.
    """
    writer = _Writer(present)
    writer.lines += [
        "def fused(view, dst):",
        "    first = view.first",
        "    multi = view.multi",
        "    pop = dst.pop",
    ]
    writer.emit(fields, _TOP)
    writer.lines.append("    return None")
    namespace: dict[str, object] = dict(writer.env)
    exec(compile("\n".join(writer.lines), "<kazoo profile plan>", "exec"), namespace)
    fused = namespace["fused"]
    assert callable(fused)
    return fused
