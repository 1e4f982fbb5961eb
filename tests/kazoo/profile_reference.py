"""A plain interpreter of profile specs, the reference the compiled plans are held to.

It walks the parsed specs of a :class:`ProfileSet` for every event and reads the
headers by scanning them (ignoring ASCII case, repeated names as FreeSWITCH's
``ARRAY::`` text), expands templates with the plain expander, and applies the
field rules as ``kazoo_message.c`` states them (see ``profiles/compile.py``):
no index, no prefix table, no compiled filters or templates, no fusing, no
constant folding.  Slow on purpose and short enough to read.
"""

from __future__ import annotations

import re

from kazoo_trio.kazoo.profiles import ProfileSet
from kazoo_trio.kazoo.profiles.engine import binding_key
from kazoo_trio.kazoo.profiles.functions import FUNCTIONS, separate_string, switch_true
from kazoo_trio.kazoo.profiles.jsonterm import Encoding, number_term, raw_term
from kazoo_trio.kazoo.profiles.spec import FieldSpec, FieldsSpec, FilterSpec
from kazoo_trio.switch.expand import expand_variables, needs_expansion

__all__ = ["Reference"]

Obj = dict[bytes, object]
_STAMP_KEY = b"Event-Timestamp"


def _binary(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _set(dst: Obj, key: bytes, value: object) -> None:
    dst.pop(key, None)  # a replaced key moves to the end
    dst[key] = value


class _Event:
    """One event's headers, read the slow way."""

    def __init__(
        self,
        headers: list[tuple[str, str]],
        body: str | None,
        globals_: dict[str, str],
        encoding: Encoding,
    ) -> None:
        self.headers = headers
        self.body = body
        self.globals = globals_
        self.encoding = encoding

    def values(self, name: str) -> list[str]:
        low = name.lower()
        return [value for key, value in self.headers if key.lower() == low]

    def text(self, name: str) -> str | None:
        found = self.values(name)
        if not found:
            return self.body if name == "_body" else None
        return found[0] if len(found) == 1 else "ARRAY::" + "|:".join(found)

    def text_at(self, name: str, index: int) -> str | None:
        found = self.values(name)
        return found[index] if len(found) > 1 and index < len(found) else None

    def global_text(self, name: str) -> str | None:
        return self.globals.get(name)

    def call(self, name: str, args: str) -> str | None:
        function = FUNCTIONS.get(name.strip())
        return None if function is None else function(args.strip(), self.text)

    def expand(self, template: str) -> str:
        if not needs_expansion(template):
            return template
        return expand_variables(
            template,
            lookup=self.text,
            global_lookup=self.global_text,
            call=self.call,
            lookup_index=self.text_at,
        )

    def grouped(self) -> list[tuple[str, str | list[str]]]:
        """Headers by exact name at their first position, repeated ones as lists."""
        order: list[str] = []
        by_name: dict[str, list[str]] = {}
        for name, value in self.headers:
            if name not in by_name:
                order.append(name)
                by_name[name] = []
            by_name[name].append(value)
        return [(n, by_name[n] if len(by_name[n]) > 1 else by_name[n][0]) for n in order]

    def copy_all(self, dst: Obj) -> None:
        for name, value in self.grouped():
            if name.startswith("_json_"):
                continue
            _set(
                dst,
                _binary(name),
                [_binary(v) for v in value] if isinstance(value, list) else _binary(value),
            )


class Reference:
    """Objects of events and lookups as the profiles of ``profiles`` describe them."""

    def __init__(self, profiles: ProfileSet, globals_: dict[str, str]) -> None:
        self.profiles = profiles
        self.definitions = {d.name: d for d in profiles.definitions}
        self.globals = {"UNIX_EPOCH_IN_GREGORIAN": "62167219200", **globals_}
        self.globals.update(dict(profiles.variables))

    def event(
        self,
        binding: str,
        headers: list[tuple[str, str]],
        body: str | None = None,
        encoding: Encoding = "json",
    ) -> Obj | None:
        """The object (``dict``) for an event, ``None`` when a filter rejects it."""
        view = _Event(headers, body, self.globals, encoding)
        profile = self.profiles.event_profile
        assert profile is not None
        spec = next(
            (e for e in profile.events if binding_key(e.name) == binding_key(binding)), None
        )
        if spec is None:
            return self._start(view, True)
        if not self._passes(view, (*profile.filters, *spec.filters)):
            return None
        obj = self._start(view, self._verbose(profile.fields, spec.fields))
        for fields in (profile.fields, spec.fields):
            if fields is not None:
                self._fields(view, fields.fields, obj)
        return obj

    def fetch(
        self, section: str, headers: list[tuple[str, str]], encoding: Encoding = "json"
    ) -> Obj | None:
        plan = self.profiles.fetch_plan(section)
        if plan is None:
            return None
        spec = next(
            p
            for p in self.profiles.fetch_profiles
            if p.name == plan.name and p.sections == plan.sections
        )
        view = _Event(headers, None, self.globals, encoding)
        obj = self._start(view, self._verbose(spec.fields, None))
        if spec.fields is not None:
            self._fields(view, spec.fields.fields, obj)
        return obj

    # ---------------------------------------------------------------- rules

    @staticmethod
    def _verbose(first: FieldsSpec | None, second: FieldsSpec | None) -> bool:
        if first is None and second is None:
            return True
        return any(f is not None and f.verbose for f in (first, second))

    @staticmethod
    def _start(view: _Event, verbose: bool) -> Obj:
        obj: Obj = {}
        if verbose:
            view.copy_all(obj)
        stamp = view.text("Event-Date-Timestamp")
        if stamp is not None:
            _set(obj, _STAMP_KEY, number_term(stamp))
        return obj

    def _passes(self, view: _Event, filters: tuple[FilterSpec, ...]) -> bool:
        return all(self._holds(view, f) == (f.type == "include") for f in filters)

    @staticmethod
    def _holds(view: _Event, spec: FilterSpec) -> bool:
        if spec.compare == "prefix":
            return any(name.startswith(spec.value or "") for name, _ in view.headers)
        assert spec.name is not None
        if spec.compare == "exists":
            return view.body is not None if spec.name == "_body" else bool(view.values(spec.name))
        assert spec.value is not None
        value = view.expand(spec.name) if spec.name.startswith("$") else view.text(spec.name)
        if value is None:
            return False
        if spec.compare == "value":
            return value == spec.value
        if spec.compare == "field":
            # The other header only (never the body), "" when it is missing.
            other = view.text(spec.value) if view.values(spec.value) else ""
            return value == other
        if spec.compare == "list":
            return value.startswith(tuple(separate_string(spec.value, "|", 25)))
        return re.search(spec.value, value) is not None

    def _convert(self, view: _Event, text: str, serialize_as: str) -> object:
        if serialize_as == "number":
            return number_term(text)
        if serialize_as == "boolean":
            return switch_true(text)
        if serialize_as == "raw":
            return raw_term(text, encoding=view.encoding)
        return _binary(text)

    def _fields(self, view: _Event, specs: tuple[FieldSpec, ...], dst: Obj) -> None:
        for spec in specs:
            if spec.type == "reference":
                assert spec.name is not None
                definition = self.definitions.get(spec.name)
                if definition is not None and self._passes(view, definition.filters):
                    self._fields(view, definition.fields, dst)
            elif self._passes(view, spec.filters):
                self._field(view, spec, dst)

    def _field(self, view: _Event, spec: FieldSpec, dst: Obj) -> None:
        is_object = spec.serialize_as == "object"
        made = self._produce(view, spec, dst, is_object)
        if made is None or spec.children is None or spec.type == "prefix":
            return
        target = made if is_object and isinstance(made, dict) else dst
        if spec.children.verbose and is_object:
            view.copy_all(target)
        self._fields(view, spec.children.fields, target)

    def _produce(self, view: _Event, spec: FieldSpec, dst: Obj, is_object: bool) -> object:
        """What the field itself adds: the object it made, ``True``, or ``None`` (nothing)."""
        if spec.type == "group":
            return dst
        assert spec.name is not None
        key = _binary(spec.name if spec.type == "static" else spec.as_ or spec.name)
        kind = spec.serialize_as

        def made(value: object) -> object:
            if is_object:
                obj: Obj = {}
                _set(dst, key, obj)
                return obj
            _set(dst, key, value)
            return True

        def header_value(name: str, as_array: bool) -> object:
            found = view.values(name)
            if len(found) > 1:
                return [self._convert(view, v, kind) for v in found]
            text = view.text(name)
            assert text is not None
            value = self._convert(view, text, kind)
            return [value] if as_array else value

        if spec.type == "copy":
            if spec.name == "_body":
                if is_object:
                    return made(None)
                if view.body is None:
                    return None
                value = self._convert(view, view.body, kind)
                return made([value] if spec.as_array else value)
            if view.text(spec.name) is None:
                return None
            return made(None if is_object else header_value(spec.name, spec.as_array))
        if spec.type == "static":
            if is_object:
                return made(None)
            if spec.value is None:
                return None
            return made(self._convert(view, spec.value, kind))
        if spec.type == "first-of":
            assert spec.value is not None
            for item in separate_string(spec.value, "|", 25):
                if item.startswith("#"):
                    return made(None if is_object else self._convert(view, item[1:], kind))
                if view.text(item) is not None:
                    return made(None if is_object else header_value(item, False))
            return None
        if spec.type == "expand":
            assert spec.value is not None
            text = view.expand(spec.value)
            if not text:
                return None
            return made(None if is_object else self._convert(view, text, kind))
        cut = len(spec.name) if spec.exclude_prefix else 0
        for name, value in view.grouped():
            if not name.startswith(spec.name):
                continue
            sub = _binary(name[cut:])
            if is_object:
                _set(dst, sub, {})
            elif isinstance(value, list):
                _set(dst, sub, [self._convert(view, v, kind) for v in value])
            else:
                _set(dst, sub, self._convert(view, value, kind))
        return None
