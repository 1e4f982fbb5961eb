"""Expansion templates prepared once per profile, so events do not re-scan them.

Expanding a template the usual way (:func:`~kazoo_trio.switch.expand.expand_variables`)
scans its text character by character on every event.  The profiles' templates
are fixed, so :func:`compile_template` runs the real expander *once*, with
lookups and functions that return placeholders instead of values.  What comes
back is the template's structure as the expander itself understood it: literal
text, ``${header}`` and ``$${global}`` slots, and function calls whose
argument text is again literal text and slots.  Rendering that structure for
an event is string concatenation plus the function calls, with the same result
as expanding the text, because the expander never re-reads the values it
inserts (only global values are expanded again, and the slots do that too).

An ``expr`` call whose argument is literal text around holes (the shipped
``Timestamp`` field: ``ceil((${Event-Date-Timestamp} / 1000000) +
${UNIX_EPOCH_IN_GREGORIAN})``) is evaluated from the holes' values when they
are plain integers (:class:`~kazoo_trio.kazoo.profiles.functions.ExprShape`),
without re-reading the text around them.

Templates whose value-dependent steps the placeholders cannot stand for keep
the plain, slower path: substrings (``${name:1:2}``), indexed headers
(``${name[1]}``), names built from other expansions (``${a${b}}``) and
templates containing the placeholder characters themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import cast

from kazoo_trio.kazoo.profiles.functions import FUNCTIONS, PURE_FUNCTIONS, ExprShape, expr
from kazoo_trio.kazoo.profiles.view import HeaderView
from kazoo_trio.switch.expand import expand_variables, needs_expansion

__all__ = ["Render", "compile_template"]

Render = Callable[[HeaderView], str]

# Private-use characters: never part of a profile template (checked below).
_OPEN = "\ue000"
_CLOSE = "\ue001"
_PLACEHOLDER = re.compile("\ue000([0-9]+)\ue001")

_Part = str | int  # literal text, or the index of a slot
_MEMO_SIZE = 256


def _plain_references(template: str) -> bool:
    """No ``${...}`` whose name (before ``}``, ``(`` or a space) has ``: [ $ {``."""
    start = template.find("${")
    while start != -1:
        pos = start + 2
        while pos < len(template) and template[pos] not in "}( ":
            if template[pos] in ":[${":
                return False
            pos += 1
        start = template.find("${", start + 2)
    return True


def _split(text: str, slots: int) -> list[_Part] | None:
    """Literal pieces and slot indexes, or ``None`` if a placeholder was damaged."""
    parts: list[_Part] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(text):
        if match.start() > pos:
            parts.append(text[pos : match.start()])
        index = int(match.group(1))
        if index >= slots:
            return None
        parts.append(index)
        pos = match.end()
    if pos < len(text):
        parts.append(text[pos:])
    if any(isinstance(part, str) and (_OPEN in part or _CLOSE in part) for part in parts):
        return None
    return parts


class _Recorder:
    """Placeholder-returning callbacks for one run of the expander."""

    def __init__(self) -> None:
        self.slots: list[tuple[str, str, list[_Part] | None]] = []
        self.failed = False

    def _slot(self, kind: str, name: str, args: list[_Part] | None) -> str:
        if _OPEN in name or _CLOSE in name:
            self.failed = True
        self.slots.append((kind, name, args))
        return f"{_OPEN}{len(self.slots) - 1}{_CLOSE}"

    def lookup(self, name: str) -> str | None:
        return self._slot("header", name, None)

    def global_lookup(self, name: str) -> str | None:
        return self._slot("global", name, None)

    def lookup_index(self, name: str, index: int) -> str | None:
        self.failed = True
        return None

    def call(self, name: str, args: str) -> str | None:
        parts = _split(args, len(self.slots))
        if parts is None:
            self.failed = True
        return self._slot("call", name, parts)


def compile_template(template: str) -> Render:
    """A function giving, for a :class:`HeaderView`, what ``view.expand(template)`` gives."""
    if not needs_expansion(template):
        return lambda view: template
    fallback: Render = lambda view: view.expand(template)  # noqa: E731
    if _OPEN in template or _CLOSE in template or not _plain_references(template):
        return fallback
    recorder = _Recorder()
    try:
        shape = expand_variables(
            template,
            lookup=recorder.lookup,
            global_lookup=recorder.global_lookup,
            call=recorder.call,
            lookup_index=recorder.lookup_index,
        )
    except RecursionError:
        return fallback
    parts = _split(shape, len(recorder.slots))
    if recorder.failed or parts is None:
        return fallback
    renders: list[Render] = []
    for kind, name, args in recorder.slots:
        renders.append(_slot_render(kind, name, args, renders))
    return _render(parts, renders)


def _slot_render(kind: str, name: str, args: list[_Part] | None, earlier: list[Render]) -> Render:
    if kind == "header":
        if name.lower() == "_body":
            return lambda view: view.text_or_global(name) or ""
        lowered = name.lower()

        def header(view: HeaderView) -> str:
            # view.text_or_global, with the name lowered once.
            value = view.first.get(lowered)
            if value is None:
                value = view.expanded_global(name)
            return value or ""

        return header
    if kind == "global":
        return lambda view: view.expanded_global(name) or ""
    function = FUNCTIONS.get(name.strip())
    if function is None:
        return lambda view: ""
    assert args is not None
    render_args = _render(args, earlier)
    if name.strip() not in PURE_FUNCTIONS:

        def call(view: HeaderView) -> str:
            return function(render_args(view).strip(), view.text) or ""

        return call
    # A pure function of its argument text: remember recent results (most
    # arguments repeat, e.g. the channel states a regex strips).
    memo: dict[str, str] = {}
    if name.strip() == "expr":
        fixed = _fixed_expr(args, earlier)
        if fixed is not None:
            return fixed

    def call_pure(view: HeaderView) -> str:
        text = render_args(view).strip()
        found = memo.get(text)
        if found is None:
            found = function(text, view.text) or ""
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[text] = found
        return found

    return call_pure


def _fixed_expr(args: list[_Part], slots: list[Render]) -> Render | None:
    """``expr`` over text whose holes hold integers (the ``Timestamp`` fields), or ``None``.

    The arithmetic runs on the holes' values directly (:class:`ExprShape`), so
    an event does not pay for re-parsing the text around them; any value that
    is not plain digits takes the general path.
    """
    shape = ExprShape.make([None if isinstance(part, int) else part for part in args])
    if shape is None:
        return None
    holes = tuple(slots[part] for part in args if isinstance(part, int))
    render_args = _render(args, slots)
    run = shape.run
    if len(holes) == 2:
        # The Timestamp fields: an event's header and a global.
        first, second = holes

        def call_fixed_2(view: HeaderView) -> str:
            found = run([first(view), second(view)])
            if found is None:
                found = expr(render_args(view).strip())
            return found

        return call_fixed_2

    def call_fixed(view: HeaderView) -> str:
        found = run([hole(view) for hole in holes])
        if found is None:
            found = expr(render_args(view).strip())
        return found

    return call_fixed


def _render(parts: list[_Part], slots: list[Render]) -> Render:
    if not parts:
        return lambda view: ""
    if len(parts) == 1:
        only = parts[0]
        if isinstance(only, str):
            return lambda view: only
        return slots[only]
    # One concatenation written out (literals inline, a call per slot): no loop
    # and no type test per piece.  Every slot's render gives a str.
    env: dict[str, object] = {}
    terms: list[str] = []
    for part in parts:
        if isinstance(part, str):
            terms.append(repr(part))
        else:
            label = f"_s{len(env)}"
            env[label] = slots[part]
            terms.append(f"{label}(view)")
    source = f"def join(view):\n    return {' + '.join(terms)}\n"
    exec(compile(source, "<kazoo profile template>", "exec"), env)
    join = env["join"]
    assert callable(join)
    return cast(Render, join)
