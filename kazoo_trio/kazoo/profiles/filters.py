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
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from kazoo_trio.kazoo.profiles.functions import separate_string
from kazoo_trio.kazoo.profiles.spec import FilterSpec
from kazoo_trio.kazoo.profiles.template import compile_template
from kazoo_trio.kazoo.profiles.view import HeaderView

__all__ = ["Predicate", "compile_filters", "filter_prefixes"]

Predicate = Callable[[HeaderView], bool]


def _value_of(name: str) -> Callable[[HeaderView], str | None]:
    if name.startswith("$"):
        return compile_template(name)
    if name == "_body":
        return lambda view: view.text(name)
    lowered = name.lower()
    return lambda view: view.first.get(lowered)


def _holds(spec: FilterSpec) -> Predicate:
    compare = spec.compare
    name = spec.name
    expected = spec.value
    if compare == "prefix":
        prefix = expected or ""
        return lambda view: bool(view.with_prefix(prefix))
    assert name is not None
    if compare == "exists":
        if name == "_body":
            return lambda view: view.body is not None
        lowered = name.lower()
        return lambda view: lowered in view.first
    assert expected is not None
    value_of = _value_of(name)
    if compare == "value":

        def equals(view: HeaderView) -> bool:
            return value_of(view) == expected

        return equals
    if compare == "field":
        other = expected.lower()

        def same_as_field(view: HeaderView) -> bool:
            value = value_of(view)
            return value is not None and value == view.first.get(other, "")

        return same_as_field
    if compare == "list":
        items = tuple(separate_string(expected, "|", 25))

        def starts_with_item(view: HeaderView) -> bool:
            value = value_of(view)
            return value is not None and value.startswith(items)

        return starts_with_item
    pattern = re.compile(expected)

    def matches(view: HeaderView) -> bool:
        value = value_of(view)
        return value is not None and pattern.search(value) is not None

    return matches


def _compile_one(spec: FilterSpec) -> Predicate:
    holds = _holds(spec)
    if spec.type == "include":
        return holds
    return lambda view: not holds(view)


def compile_filters(specs: Sequence[FilterSpec]) -> Predicate | None:
    """One predicate for a filter list, or ``None`` when the list is empty (always passes)."""
    predicates = tuple(_compile_one(spec) for spec in specs)
    if not predicates:
        return None
    if len(predicates) == 1:
        return predicates[0]

    def every(view: HeaderView) -> bool:
        return all(predicate(view) for predicate in predicates)

    return every


def filter_prefixes(specs: Sequence[FilterSpec]) -> set[str]:
    """The header-name prefixes ``prefix`` filters look for (the view must index them)."""
    return {spec.value or "" for spec in specs if spec.compare == "prefix"}
