"""Fusing a plan's field list into one generated function.

The compiled fields are closures; calling sixty of them per event costs more
than the work most of them do (one dictionary lookup and one assignment).  The
common kinds — copying a header as a string, ``first-of`` over headers, a
static value, an expansion, a string ``prefix`` field, a field with filters, a
reference guarded by its definition's filters, a static object with its
children (``Custom-Channel-Vars``), a group — register a description of
themselves here, and :func:`fuse` writes the straight-line Python those
descriptions stand for, with every name and key a literal and the children of
objects filled inline.  Any other field stays a call to its closure, so the
fused function does exactly what the loop over the closures does.

Three savings need knowledge of the whole list.  Assigning a key normally
removes it first (so that a replaced key moves to the end); the writer knows
which keys the object can hold at each line (from the fields before it, each
of which records the keys it may assign) and leaves out removals of keys that
cannot be there.  A filter that guards two references to the same definition
is tested once: filters read only the headers, which do not change while an
object is built.  And a static value or object that a later field of the same
list always replaces is not built at all (see :func:`_live`).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from types import CodeType

from kazoo_trio.kazoo.profiles.view import HeaderView, to_binary

__all__ = ["Fields", "describe", "fuse", "touches", "touches_all"]

Fields = Callable[[HeaderView, dict[bytes, object]], object]

# ("copy", key, lowered) | ("convert", key, lowered, convert) | ("first-of", key,
# lowered names) | ("static", key, term) | ("guard", predicate, fields)
# | ("expand", key, render, convert or None for strings) | ("prefix", prefix, cut)
# | ("filtered", predicate, field) | ("object", key, predicate or None, children,
# verbose) | ("group", predicate or None, children)
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
    if kind in ("copy", "convert", "first-of", "static", "expand", "object"):
        key = step[1]
        assert isinstance(key, bytes)
        return frozenset((key,))
    if kind == "filtered":
        produce = step[2]
        assert callable(produce)
        return touches(produce)
    if kind == "group":
        children = step[2]
        assert isinstance(children, tuple)
        return touches_all(children)
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


def _always_assigns(apply: Callable[..., object]) -> bytes | None:
    """The key a field assigns whatever the event (a static value or object), if any."""
    step = _STEPS.get(apply)
    if step is None:
        return None
    if step[0] == "static" or (step[0] == "object" and step[2] is None):
        key = step[1]
        assert isinstance(key, bytes)
        return key
    return None


def _live(fields: Sequence[Fields]) -> list[Fields]:
    """``fields`` without those whose work a later field of the list always replaces.

    A field that always assigns a key (a static value or object: Kazoo's
    ``Custom-Channel-Vars`` is referenced twice by some profiles) is left out
    when a later field of the same list always assigns that key too: fields
    never read the object, and the key ends where the last assignment puts
    it (an assignment removes the key first), so the object comes out the same.
    """
    replaced: set[bytes] = set()
    kept: list[Fields] = []
    for apply in reversed(fields):
        key = _always_assigns(apply)
        if key is not None:
            if key in replaced:
                continue
            replaced.add(key)
        kept.append(apply)
    kept.reverse()
    return kept


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
        # The object the lines being written fill, and its pop.
        self.dst = "dst"
        self.pop = "pop"
        self.objects = 0

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
        for apply in _live(fields):
            self.emit_one(apply, pad)

    def emit_one(self, apply: Fields, pad: str) -> None:
        dst, pop_ = self.dst, self.pop
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
                *([f"{pad}    {pop_}({key}, None)"] if pop else []),
                f"{pad}    if multi is not None and {lowered} in multi:",
                f"{pad}        {dst}[{key}] = [{convert}(_x, view) for _x in multi[{lowered}]]",
                f"{pad}    else:",
                f"{pad}        {dst}[{key}] = {convert}(_t, view)",
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
                self.lines.append(f"{pad}{pop_}({key}, None)")
            self.lines.append(f"{pad}{dst}[{key}] = {value}")
        elif step is not None and kind == "guard":
            inner = step[2]
            assert isinstance(inner, tuple)
            self.lines.append(f"{pad}if {self._test(step[1], pad)}:")
            self.lines.append(f"{pad}    pass")
            self.emit(inner, pad + "    ")
        elif step is not None and kind == "expand":
            pop = self.claim(step[1])
            key, render = self.name(step[1]), self.name(step[2])
            converter = step[3]
            value = (
                '_t.encode("utf-8", "surrogateescape")'
                if converter is None
                else f"{self.name(converter)}(_t, view)"
            )
            self.lines += [
                f"{pad}_t = {render}(view)",
                f"{pad}if _t:",
                *([f"{pad}    {pop_}({key}, None)"] if pop else []),
                f"{pad}    {dst}[{key}] = {value}",
            ]
        elif step is not None and kind == "prefix":
            prefix, cut = step[1], step[2]
            assert isinstance(cut, int)
            name = f"_n[{cut}:]" if cut else "_n"
            self.lines += [
                f"{pad}for _n, _x in view.with_prefix({self.name(prefix)}):",
                f'{pad}    _k = {name}.encode("utf-8", "surrogateescape")',
                f"{pad}    {pop_}(_k, None)",
                f"{pad}    if _x.__class__ is list:",
                f"{pad}        {dst}[_k] = [to_binary(_i) for _i in _x]",
                f"{pad}    else:",
                f'{pad}        {dst}[_k] = _x.encode("utf-8", "surrogateescape")',
            ]
            self.present = None
        elif step is not None and kind == "filtered":
            produce = step[2]
            assert callable(produce)
            self.lines.append(f"{pad}if {self._test(step[1], pad)}:")
            self.lines.append(f"{pad}    pass")
            self.emit_one(produce, pad + "    ")
        elif step is not None and kind == "group":
            children = step[2]
            assert isinstance(children, tuple)
            inner_pad = pad
            if step[1] is not None:
                self.lines.append(f"{pad}if {self._test(step[1], pad)}:")
                self.lines.append(f"{pad}    pass")
                inner_pad = pad + "    "
            self.emit(children, inner_pad)
        elif step is not None and kind == "object":
            self._object(step, pad)
        else:
            self.lines.append(f"{pad}{self.name(apply)}(view, {dst})")
            keys = touches(apply)
            if keys is None:
                self.present = None
            elif self.present is not None:
                self.present |= keys

    def _object(self, step: tuple[object, ...], pad: str) -> None:
        """A ``serialize-as="object"`` static field: a new object, its children inside."""
        _, key, predicate, children, verbose = step
        assert isinstance(children, tuple)
        if predicate is not None:
            self.lines.append(f"{pad}if {self._test(predicate, pad)}:")
            self.lines.append(f"{pad}    pass")
            pad += "    "
        pop = self.claim(key)
        label = self.name(key)
        self.objects += 1
        obj = f"_o{self.objects}"
        self.lines.append(f"{pad}{obj} = {{}}")
        if pop:
            self.lines.append(f"{pad}{self.pop}({label}, None)")
        self.lines.append(f"{pad}{self.dst}[{label}] = {obj}")
        outer = (self.dst, self.pop, self.present)
        self.dst, self.pop = obj, f"{obj}.pop"
        self.present = set()
        if verbose:
            self.lines.append(f"{pad}view.copy_all({obj})")
            self.present = None
        self.emit(children, pad)
        self.dst, self.pop, self.present = outer

    def _store(
        self, pad: str, key: str, lowered: str, lookup: str, pop: bool, stop: str = ""
    ) -> None:
        dst = self.dst
        self.lines += [
            f"{pad}_t = {lookup}",
            f"{pad}if _t is not None:",
            *([f"{pad}    {self.pop}({key}, None)"] if pop else []),
            f"{pad}    if multi is not None and {lowered} in multi:",
            f"{pad}        {dst}[{key}] = [to_binary(_x) for _x in multi[{lowered}]]",
            f"{pad}    else:",
            f'{pad}        {dst}[{key}] = _t.encode("utf-8", "surrogateescape")',
        ]
        if stop:
            self.lines.append(f"{pad}    {stop}")


# Compiled plans by source text.  A profile document pushed again (ecallmgr pushes
# the same one to every node, and again on each reconnect) writes the same
# sources; compiling them is most of the time a profile set takes to build.
_CODE: dict[str, CodeType] = {}
_CODE_MAX = 128  # about two documents of plans (about 1 MB each)


def _code(source: str) -> CodeType:
    code = _CODE.get(source)
    if code is None:
        code = compile(source, "<kazoo profile plan>", "exec")
        if len(_CODE) >= _CODE_MAX:
            _CODE.clear()
        _CODE[source] = code
    return code


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
    exec(_code("\n".join(writer.lines)), namespace)
    fused = namespace["fused"]
    assert callable(fused)
    return fused
