"""Fusing a plan's field list into one generated function.

The compiled fields are closures; calling sixty of them per event costs more
than the work most of them do (one dictionary lookup and one assignment).  The
common kinds — copying a header as a string, ``first-of`` over headers, a
static value, a reference guarded by its definition's filters — register a
description of themselves here, and :func:`fuse` writes the straight-line
Python those descriptions stand for, with every name and key a literal.  Any
other field stays a call to its closure, so the fused function does exactly
what the loop over the closures does.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence

from kazoo_trio.kazoo.profiles.view import HeaderView, to_binary

__all__ = ["Fields", "describe", "fuse"]

Fields = Callable[[HeaderView, dict[bytes, object]], object]

# ("copy", key, lowered) | ("first-of", key, lowered names) | ("static", key, term)
# | ("guard", predicate, fields)
_STEPS: weakref.WeakKeyDictionary[Callable[..., object], tuple[object, ...]] = (
    weakref.WeakKeyDictionary()
)


def describe(apply: Callable[..., object], step: tuple[object, ...]) -> None:
    """Record what a compiled field does, for :func:`fuse`."""
    _STEPS[apply] = step


def _literal(value: object) -> bool:
    return type(value) in (bytes, str, int, bool)


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.env: dict[str, object] = {"to_binary": to_binary}

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
                key, lowered = self.name(step[1]), self.name(step[2])
                self._store(pad, key, lowered, f"first.get({lowered})")
            elif step is not None and kind == "first-of":
                key = self.name(step[1])
                names = step[2]
                assert isinstance(names, tuple)
                self.lines.append(f"{pad}for _n in {self.name(names)}:")
                self._store(pad + "    ", key, "_n", "first.get(_n)", stop="break")
            elif step is not None and kind == "static":
                key, value = self.name(step[1]), self.name(step[2])
                self.lines.append(f"{pad}pop({key}, None)")
                self.lines.append(f"{pad}dst[{key}] = {value}")
            elif step is not None and kind == "guard":
                inner = step[2]
                assert isinstance(inner, tuple)
                self.lines.append(f"{pad}if {self.name(step[1])}(view):")
                self.lines.append(f"{pad}    pass")
                self.emit(inner, pad + "    ")
            else:
                self.lines.append(f"{pad}{self.name(apply)}(view, dst)")

    def _store(self, pad: str, key: str, lowered: str, lookup: str, stop: str = "") -> None:
        self.lines += [
            f"{pad}_t = {lookup}",
            f"{pad}if _t is not None:",
            f"{pad}    pop({key}, None)",
            f"{pad}    if multi is not None and {lowered} in multi:",
            f"{pad}        dst[{key}] = [to_binary(_x) for _x in multi[{lowered}]]",
            f"{pad}    else:",
            f'{pad}        dst[{key}] = _t.encode("utf-8", "surrogateescape")',
        ]
        if stop:
            self.lines.append(f"{pad}    {stop}")


def fuse(fields: Sequence[Fields]) -> Fields:
    """One function applying ``fields`` in order (the same effects as calling each)."""
    writer = _Writer()
    writer.lines += [
        "def fused(view, dst):",
        "    first = view.first",
        "    multi = view.multi",
        "    pop = dst.pop",
    ]
    writer.emit(fields, "    ")
    writer.lines.append("    return None")
    namespace: dict[str, object] = dict(writer.env)
    exec(compile("\n".join(writer.lines), "<kazoo profile plan>", "exec"), namespace)
    fused = namespace["fused"]
    assert callable(fused)
    return fused
