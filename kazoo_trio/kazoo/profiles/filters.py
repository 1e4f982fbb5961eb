"""Profile filters compiled into predicates over a :class:`HeaderView`.

A predicate returns ``True`` when the item *passes*.  An ``include`` filter
passes when its comparison holds, an ``exclude`` filter when it does not; a
list of filters passes when every one does (mod_kazoo stops at the first that
rejects).  Comparisons, as in ``kazoo_message.c``:

* ``exists``: the header ``name`` exists;
* ``value``: the header (or, for a ``name`` starting with ``$``, the expansion
  of ``name``) equals ``value``;
* ``field``: it equals the value of the header named by ``value`` (``""`` when
  that header is missing);
* ``prefix``: some header *name* starts with ``value`` (``name`` is unused);
* ``list``: the value starts with one of the ``|``-separated items of ``value``;
* ``regex``: the value matches the regular expression ``value`` anywhere
  (mod_kazoo never implemented it: there it always failed to match).

:func:`compile_quick_check` answers the same question before an event exists, from
the few headers a switch knows when it is about to make one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import cast

from kazoo_trio.kazoo.profiles.functions import separate_string
from kazoo_trio.kazoo.profiles.spec import FilterSpec
from kazoo_trio.kazoo.profiles.template import compile_template
from kazoo_trio.kazoo.profiles.view import HeaderView

__all__ = ["Predicate", "QuickCheck", "compile_filters", "compile_quick_check", "filter_prefixes"]

Predicate = Callable[[HeaderView], bool]


QuickCheck = Callable[[Mapping[str, "str | None"]], bool]
"""``known`` (lower-cased header name → the event's only value under it, ``None`` for
none) → ``False`` when the filters surely reject the event."""


class _Source:
    """The Python expression of a filter list, written once per list.

    Each filter becomes a boolean expression over ``view`` and ``first`` (the
    view's index) with its names and values as literals, so a list is one
    generated function (``and`` stops at the first filter that rejects) rather
    than a closure per filter and a generator over them.
    """

    def __init__(self) -> None:
        self.env: dict[str, object] = {}
        self.temps = 0

    def name(self, value: object) -> str:
        label = f"_v{len(self.env)}"
        self.env[label] = value
        return label

    def value_of(self, name: str) -> str:
        """An expression of the value a comparison reads (``None`` when missing)."""
        if name.startswith("$"):
            return f"{self.name(compile_template(name))}(view)"
        if name == "_body":
            return f"view.text({name!r})"
        return f"first.get({name.lower()!r})"

    def temp(self) -> str:
        """A local variable of its own for one comparison."""
        self.temps += 1
        return f"_t{self.temps}"

    def holds(self, spec: FilterSpec) -> str:
        """An expression that is true when ``spec``'s comparison holds."""
        compare = spec.compare
        name = spec.name
        expected = spec.value
        if compare == "prefix":
            return f"(not not view.with_prefix({expected or ''!r}))"
        assert name is not None
        if compare == "exists":
            if name == "_body":
                return "(view.body is not None)"
            return f"({name.lower()!r} in first)"
        assert expected is not None
        value = self.value_of(name)
        if compare == "value":
            return f"({value} == {expected!r})"
        temp = self.temp()
        if compare == "field":
            return (
                f"(({temp} := {value}) is not None"
                f" and {temp} == first.get({expected.lower()!r}, ''))"
            )
        if compare == "list":
            items = tuple(separate_string(expected, "|", 25))
            return f"(({temp} := {value}) is not None and {temp}.startswith({items!r}))"
        pattern = self.name(re.compile(expected))
        return f"(({temp} := {value}) is not None and {pattern}.search({temp}) is not None)"

    def passes(self, spec: FilterSpec) -> str:
        holds = self.holds(spec)
        return holds if spec.type == "include" else f"(not {holds})"

    def predicate(self, specs: Sequence[FilterSpec]) -> Predicate:
        terms = [self.passes(spec) for spec in specs]
        source = f"def predicate(view):\n    first = view.first\n    return {' and '.join(terms)}\n"
        namespace = dict(self.env)
        exec(compile(source, "<kazoo profile filter>", "exec"), namespace)
        predicate = namespace["predicate"]
        assert callable(predicate)
        return cast(Predicate, predicate)


def _compile_one(spec: FilterSpec) -> Predicate:
    return _Source().predicate((spec,))


def compile_filters(specs: Sequence[FilterSpec]) -> Predicate | None:
    """One predicate for a filter list, or ``None`` when the list is empty (always passes)."""
    if not specs:
        return None
    return _Source().predicate(specs)


def filter_prefixes(specs: Sequence[FilterSpec]) -> set[str]:
    """The header-name prefixes ``prefix`` filters look for (the view must index them)."""
    return {spec.value or "" for spec in specs if spec.compare == "prefix"}


def _decided_by(spec: FilterSpec) -> frozenset[str] | None:
    """The lower-cased header names whose values alone decide ``spec``, or ``None``
    when something else takes part (other header names, the body, globals)."""
    name = spec.name
    if spec.compare == "prefix" or name is None or name.startswith("$"):
        return None
    names = {name.lower()}
    if spec.compare == "field":
        if spec.value is None or spec.value.startswith("$"):
            return None
        names.add(spec.value.lower())
    if "_body" in names:
        return None
    return frozenset(names)


class _KnownHeaders:
    """What a decided filter reads of a view (``first`` only: see :func:`_decided_by`)."""

    __slots__ = ("first",)

    def __init__(self, first: dict[str, str]) -> None:
        self.first = first


def _known_view(first: dict[str, str]) -> HeaderView:
    # The predicates of decided filters read nothing but ``first``; a whole view of
    # the known headers would cost more than the check saves.
    return cast(HeaderView, _KnownHeaders(first))


def compile_quick_check(specs: Sequence[FilterSpec]) -> QuickCheck | None:
    """A check of ``specs`` against a few known headers, or ``None`` when no filter of
    the list can be decided from header values alone.

    The check returns ``False`` when a filter whose headers are all known rejects: the
    whole list then rejects the event, whatever its other headers.  Otherwise it
    returns ``True`` (the event may pass).  Each decided filter is the very predicate
    :func:`compile_filters` makes, run on a view of the known headers only: it reads
    no other header, so its answer is the one it gives on the whole event.
    """
    decided = [
        (names, _compile_one(spec)) for spec in specs if (names := _decided_by(spec)) is not None
    ]
    if not decided:
        return None
    checks = tuple(decided)

    def may_pass(known: Mapping[str, str | None]) -> bool:
        view: HeaderView | None = None
        keys = known.keys()
        for names, passes in checks:
            if names <= keys:
                if view is None:
                    view = _known_view({k: v for k, v in known.items() if v is not None})
                if not passes(view):
                    return False
        return True

    return may_pass
