"""Profile specs → plans of closures, built once per profile document.

Compilation does everything that does not depend on the event: references are
resolved by name (in any document order, unlike mod_kazoo, which only saw
definitions parsed before the referring one) and inlined, reference cycles are
rejected, ``first-of`` lists are split, literal values converted, filters turned
into predicates, templates prepared (:mod:`~kazoo_trio.kazoo.profiles.template`),
each field list fused into one function (:mod:`~kazoo_trio.kazoo.profiles.fuse`),
and the header-name prefixes the plans need are collected so that each event
is scanned for them once.

Field semantics follow ``kazoo_message.c``:

* the key is ``as`` or ``name`` (``static`` fields always use ``name``);
  assigning a key that exists replaces it and moves it to the end;
* ``copy`` (``_body`` is the event body), ``first-of`` (``#text`` items are
  literal defaults, every time — mod_kazoo lost them after the first event) and
  a multi-value header give an array; ``as-array`` wraps a single value;
* ``expand`` adds nothing when the expansion is empty;
* ``serialize-as="object"`` makes an (empty) object whenever the field would
  produce a value; the field's children are added inside it, after all headers
  when the children's ``<fields verbose="true">``; children of other fields are
  added to the enclosing object, only when the field produced something;
* ``prefix`` adds every header starting with ``name`` (its children are never
  used, as in mod_kazoo); ``group`` adds its children to the enclosing object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from kazoo_trio.kazoo.profiles.errors import ProfileError
from kazoo_trio.kazoo.profiles.filters import (
    Predicate,
    compile_filters,
    compile_quick_check,
    filter_prefixes,
)
from kazoo_trio.kazoo.profiles.functions import separate_string, switch_true
from kazoo_trio.kazoo.profiles.fuse import describe, fuse, touches, touches_all
from kazoo_trio.kazoo.profiles.jsonterm import number_term, raw_term
from kazoo_trio.kazoo.profiles.model import EVENT_TIMESTAMP, Apply, EventPlan, FetchPlan
from kazoo_trio.kazoo.profiles.spec import (
    DefinitionSpec,
    EventProfileSpec,
    EventSpec,
    FetchProfileSpec,
    FieldSpec,
    FieldsSpec,
)
from kazoo_trio.kazoo.profiles.template import compile_template
from kazoo_trio.kazoo.profiles.view import HeaderView, to_binary

__all__ = ["Compiler"]

Convert = Callable[[str, HeaderView], object]
Produce = Callable[[HeaderView, dict[bytes, object]], object]

_MAX_LIST = 25  # MAX_LIST_FIELDS


def _string(text: str, view: HeaderView) -> object:
    return text.encode("utf-8", "surrogateescape")


def _number(text: str, view: HeaderView) -> object:
    return number_term(text)


# FreeSWITCH truth of recent texts: the values of boolean fields are few
# ("true", "false", "0", "1", ...), and testing them is all the work there is.
_truth: dict[str, bool] = {}
_TRUTH_MAX = 1024


def _boolean(text: str, view: HeaderView) -> object:
    found = _truth.get(text)
    if found is None:
        found = switch_true(text)
        if len(_truth) >= _TRUTH_MAX:
            _truth.clear()
        _truth[text] = found
    return found


def _raw(text: str, view: HeaderView) -> object:
    return raw_term(text, encoding=view.encoding)


_CONVERTERS: dict[str, Convert] = {
    "string": _string,
    "number": _number,
    "boolean": _boolean,
    "raw": _raw,
}


def _new_object(dst: dict[bytes, object], key: bytes) -> dict[bytes, object]:
    obj: dict[bytes, object] = {}
    dst.pop(key, None)
    dst[key] = obj
    return obj


class Compiler:
    """Compiles the fields of one profile set against its definitions.

    ``prefixes`` accumulates the header-name prefixes the compiled plans scan
    for; ``warnings`` what was tolerated (a reference to a missing definition
    is skipped, as mod_kazoo does).
    """

    def __init__(self, definitions: Iterable[DefinitionSpec]) -> None:
        self.definitions: dict[str, DefinitionSpec] = {}
        self.warnings: list[str] = []
        for definition in definitions:
            if definition.name in self.definitions:
                self.warnings.append(
                    f"{definition.where}: defined more than once; the last one is used"
                )
            self.definitions[definition.name] = definition
        self.prefixes: set[str] = set()
        self._references: dict[str, tuple[Predicate | None, tuple[Apply, ...]]] = {}
        self._stack: list[str] = []

    # ---------------------------------------------------------------- plans

    def event_plans(self, profile: EventProfileSpec) -> dict[str, EventPlan]:
        """One plan per event of ``profile``, keyed by event name (first one wins)."""
        profile_fields = self.fields(profile.fields.fields) if profile.fields else ()
        plans: dict[str, EventPlan] = {}
        for event in profile.events:
            if event.name in plans:
                self.warnings.append(f"{event.where}: listed more than once; the first is used")
                continue
            plans[event.name] = self._event_plan(profile, profile_fields, event)
        return plans

    def _event_plan(
        self, profile: EventProfileSpec, profile_fields: tuple[Apply, ...], event: EventSpec
    ) -> EventPlan:
        filters = (*profile.filters, *event.filters)
        self.prefixes |= filter_prefixes(filters)
        event_fields = self.fields(event.fields.fields) if event.fields else ()
        verbose = _verbose(profile.fields, event.fields)
        return EventPlan(
            name=event.name,
            where=event.where,
            verbose=verbose,
            filter=compile_filters(filters),
            fields=_fused(profile_fields + event_fields, _start_keys(verbose)),
            quick=compile_quick_check(filters),
        )

    def fetch_plan(self, profile: FetchProfileSpec) -> FetchPlan:
        verbose = _verbose(profile.fields, None)
        return FetchPlan(
            name=profile.name,
            where=profile.where,
            sections=profile.sections,
            timeout_us=profile.timeout_us,
            verbose=verbose,
            fields=(
                _fused(self.fields(profile.fields.fields), _start_keys(verbose))
                if profile.fields
                else ()
            ),
        )

    # ---------------------------------------------------------------- fields

    def fields(self, specs: Sequence[FieldSpec]) -> tuple[Apply, ...]:
        """Compile a field list, inlining references (their own filters guard them)."""
        result: list[Apply] = []
        for spec in specs:
            if spec.type == "reference":
                assert spec.name is not None
                found = self._reference(spec.name, spec.where)
                if found is None:
                    continue
                predicate, applies = found
                if predicate is None:
                    result.extend(applies)
                else:
                    result.append(_guarded(predicate, applies))
            else:
                result.append(self._field(spec))
        return tuple(result)

    def _reference(
        self, name: str, where: str
    ) -> tuple[Predicate | None, tuple[Apply, ...]] | None:
        cached = self._references.get(name)
        if cached is not None:
            return cached
        definition = self.definitions.get(name)
        if definition is None:
            self.warnings.append(f"{where}: no definition named {name!r}; field skipped")
            return None
        if name in self._stack:
            cycle = " -> ".join([*self._stack[self._stack.index(name) :], name])
            raise ProfileError(f"{where}: definitions reference each other in a cycle ({cycle})")
        self._stack.append(name)
        try:
            self.prefixes |= filter_prefixes(definition.filters)
            compiled = (compile_filters(definition.filters), self.fields(definition.fields))
        finally:
            self._stack.pop()
        self._references[name] = compiled
        return compiled

    def _field(self, spec: FieldSpec) -> Apply:
        self.prefixes |= filter_prefixes(spec.filters)
        predicate = compile_filters(spec.filters)
        is_object = spec.serialize_as == "object"
        produce = self._producer(spec, is_object)
        children: tuple[Apply, ...] | None = None
        verbose_children = False
        if spec.children is not None and spec.type != "prefix":
            children = self.fields(spec.children.fields)
            verbose_children = spec.children.verbose and is_object
        if children is None and not verbose_children:
            if predicate is None:
                return produce

            def filtered(view: HeaderView, dst: dict[bytes, object]) -> object:
                if predicate(view):
                    produce(view, dst)
                return None

            describe(filtered, ("filtered", predicate, produce))
            return filtered
        kids = _fused(children or ())
        # A group's children, and those of a field that is not an object, go
        # into the enclosing object.
        own = touches(produce)
        inner: frozenset[bytes] | None = frozenset()
        if spec.type == "group" or not is_object:
            inner = None if verbose_children else touches_all(kids)
        keys = own | inner if own is not None and inner is not None else None

        def with_children(view: HeaderView, dst: dict[bytes, object]) -> object:
            if predicate is not None and not predicate(view):
                return None
            made = produce(view, dst)
            if made is None:
                return None
            target: dict[bytes, object] = made if is_object and isinstance(made, dict) else dst
            if verbose_children:
                view.copy_all(target)
            for apply in kids:
                apply(view, target)
            return None

        if is_object and spec.type == "static":
            # The object is always made; its children go inside it.
            key = to_binary(spec.name or "")
            describe(with_children, ("object", key, predicate, children or (), verbose_children))
        elif spec.type == "group" and not verbose_children:
            describe(with_children, ("group", predicate, children or ()))
        else:
            _assigns(with_children, keys)
        return with_children

    def _producer(self, spec: FieldSpec, is_object: bool) -> Produce:
        if spec.type == "group":
            return _assigns(lambda view, dst: dst, frozenset())
        assert spec.name is not None
        key = to_binary(spec.name if spec.type == "static" else spec.as_ or spec.name)
        keys = frozenset((key,))
        convert = _CONVERTERS.get(spec.serialize_as, _string)
        if spec.type == "copy":
            return _assigns(_copy(spec.name, key, convert, is_object, spec.as_array), keys)
        if spec.type == "static":
            produce = _static(spec.value, key, convert, is_object, spec.serialize_as)
            return _assigns(produce, keys)
        if spec.type == "first-of":
            assert spec.value is not None
            return _assigns(_first_of(spec.value, key, convert, is_object), keys)
        if spec.type == "expand":
            assert spec.value is not None
            return _assigns(_expand(spec.value, key, convert, is_object), keys)
        self.prefixes.add(spec.name)
        return _prefix(spec.name, spec.exclude_prefix, convert, is_object)


def _fused(
    applies: tuple[Apply, ...], present: frozenset[bytes] | None = None
) -> tuple[Apply, ...]:
    return (fuse(applies, present),) if len(applies) > 1 else applies


def _start_keys(verbose: bool) -> frozenset[bytes] | None:
    """The keys an object may hold before its fields run (``start_object``)."""
    return None if verbose else frozenset((EVENT_TIMESTAMP,))


def _assigns(apply: Apply, keys: frozenset[bytes] | None) -> Apply:
    """Record that ``apply`` assigns at most ``keys`` (unless it says so itself)."""
    if keys is not None and touches(apply) is None:
        describe(apply, ("keys", keys))
    return apply


def _verbose(first: FieldsSpec | None, second: FieldsSpec | None) -> bool:
    if first is None and second is None:
        return True
    return bool((first is not None and first.verbose) or (second is not None and second.verbose))


def _guarded(predicate: Predicate, applies: tuple[Apply, ...]) -> Apply:
    def guarded(view: HeaderView, dst: dict[bytes, object]) -> object:
        if predicate(view):
            for apply in applies:
                apply(view, dst)
        return None

    describe(guarded, ("guard", predicate, applies))
    return guarded


def _values(view: HeaderView, lowered: str, text: str, convert: Convert, as_array: bool) -> object:
    multi = view.multi
    if multi is not None and lowered in multi:
        return [convert(value, view) for value in multi[lowered]]
    if as_array:
        return [convert(text, view)]
    return convert(text, view)


def _copy(name: str, key: bytes, convert: Convert, is_object: bool, as_array: bool) -> Produce:
    lowered = name.lower()
    if name == "_body":

        def copy_body(view: HeaderView, dst: dict[bytes, object]) -> object:
            body = view.body
            if is_object:
                return _new_object(dst, key)
            if body is None:
                return None
            value = convert(body, view)
            dst.pop(key, None)
            dst[key] = [value] if as_array else value
            return True

        return copy_body
    if is_object:

        def copy_object(view: HeaderView, dst: dict[bytes, object]) -> object:
            return _new_object(dst, key) if lowered in view.first else None

        return copy_object
    if convert is _string and not as_array:

        def copy_string(view: HeaderView, dst: dict[bytes, object]) -> object:
            text = view.first.get(lowered)
            if text is None:
                return None
            multi = view.multi
            dst.pop(key, None)
            if multi is not None and lowered in multi:
                dst[key] = [to_binary(value) for value in multi[lowered]]
            else:
                dst[key] = text.encode("utf-8", "surrogateescape")
            return True

        describe(copy_string, ("copy", key, lowered))
        return copy_string

    def copy(view: HeaderView, dst: dict[bytes, object]) -> object:
        text = view.first.get(lowered)
        if text is None:
            return None
        value = _values(view, lowered, text, convert, as_array)
        dst.pop(key, None)
        dst[key] = value
        return True

    if not as_array:
        describe(copy, ("convert", key, lowered, convert))
    return copy


def _static(
    value: str | None, key: bytes, convert: Convert, is_object: bool, serialize_as: str
) -> Produce:
    if is_object:
        return lambda view, dst: _new_object(dst, key)
    if value is None:
        return lambda view, dst: None
    text = value
    if serialize_as == "raw":

        def static_raw(view: HeaderView, dst: dict[bytes, object]) -> object:
            dst.pop(key, None)
            dst[key] = raw_term(text, encoding=view.encoding)
            return True

        return static_raw
    # Strings, numbers and booleans are immutable terms: convert once.
    constant = _CONVERTERS[serialize_as](text, _NO_VIEW)

    def static(view: HeaderView, dst: dict[bytes, object]) -> object:
        dst.pop(key, None)
        dst[key] = constant
        return True

    describe(static, ("static", key, constant))
    return static


_NO_VIEW = HeaderView((), None, prefixes=(), global_lookup=lambda name: None, encoding="json")


def _first_of(value: str, key: bytes, convert: Convert, is_object: bool) -> Produce:
    items: tuple[tuple[bool, str], ...] = tuple(
        (True, item[1:]) if item.startswith("#") else (False, item.lower())
        for item in separate_string(value, "|", _MAX_LIST)
    )

    if not is_object and convert is _string and all(not literal for literal, _ in items):
        names = tuple(item for _, item in items)

        def first_of_headers(view: HeaderView, dst: dict[bytes, object]) -> object:
            first = view.first
            for name in names:
                text = first.get(name)
                if text is not None:
                    multi = view.multi
                    dst.pop(key, None)
                    if multi is not None and name in multi:
                        dst[key] = [to_binary(value) for value in multi[name]]
                    else:
                        dst[key] = text.encode("utf-8", "surrogateescape")
                    return True
            return None

        describe(first_of_headers, ("first-of", key, names))
        return first_of_headers

    def first_of(view: HeaderView, dst: dict[bytes, object]) -> object:
        first = view.first
        for literal, item in items:
            if literal:
                text: str | None = item
            else:
                text = first.get(item)
                if text is None:
                    continue
            if is_object:
                return _new_object(dst, key)
            assert text is not None
            result = convert(text, view) if literal else _values(view, item, text, convert, False)
            dst.pop(key, None)
            dst[key] = result
            return True
        return None

    return first_of


def _expand(template: str, key: bytes, convert: Convert, is_object: bool) -> Produce:
    render = compile_template(template)

    def expand(view: HeaderView, dst: dict[bytes, object]) -> object:
        text = render(view)
        if not text:
            return None
        if is_object:
            return _new_object(dst, key)
        dst.pop(key, None)
        dst[key] = convert(text, view)
        return True

    if not is_object:
        describe(expand, ("expand", key, render, None if convert is _string else convert))
    return expand


def _prefix(prefix: str, exclude_prefix: bool, convert: Convert, is_object: bool) -> Produce:
    cut = len(prefix) if exclude_prefix else 0
    if convert is _string and not is_object:

        def prefixed_strings(view: HeaderView, dst: dict[bytes, object]) -> object:
            # The usual prefix field (Custom-Channel-Vars), with _string inlined.
            for name, value in view.with_prefix(prefix):
                key = name[cut:].encode("utf-8", "surrogateescape")
                dst.pop(key, None)
                if isinstance(value, list):
                    dst[key] = [to_binary(item) for item in value]
                else:
                    dst[key] = value.encode("utf-8", "surrogateescape")
            return None

        describe(prefixed_strings, ("prefix", prefix, cut))
        return prefixed_strings

    def prefixed(view: HeaderView, dst: dict[bytes, object]) -> object:
        for name, value in view.with_prefix(prefix):
            key = to_binary(name[cut:])
            dst.pop(key, None)
            if is_object:
                dst[key] = {}
            elif isinstance(value, list):
                dst[key] = [convert(item, view) for item in value]
            else:
                dst[key] = convert(value, view)
        return None

    return prefixed
