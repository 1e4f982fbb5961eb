"""Profiles as parsed from XML: plain values, before compilation.

The shapes mirror mod_kazoo's configuration (``kazoo_fields.h``): *definitions*
are named field lists with filters, an *event profile* has filters, fields and
one event per binding, a *fetch profile* has fields and the section it serves.
Every value carries ``where``, the path of the element it came from, so errors
found while compiling can name the element.
"""

from __future__ import annotations

from typing import Literal

import attrs

__all__ = [
    "COMPARES",
    "FIELD_TYPES",
    "FILTER_TYPES",
    "SERIALIZE_AS",
    "Compare",
    "DefinitionSpec",
    "EventProfileSpec",
    "EventSpec",
    "FetchProfileSpec",
    "FieldSpec",
    "FieldType",
    "FieldsSpec",
    "FilterSpec",
    "FilterType",
    "SerializeAs",
]

FieldType = Literal["copy", "static", "first-of", "expand", "prefix", "group", "reference"]
SerializeAs = Literal["string", "number", "boolean", "object", "raw"]
FilterType = Literal["include", "exclude"]
Compare = Literal["value", "prefix", "list", "exists", "field", "regex"]

FIELD_TYPES: tuple[FieldType, ...] = (
    "copy",
    "static",
    "first-of",
    "expand",
    "prefix",
    "group",
    "reference",
)
SERIALIZE_AS: tuple[SerializeAs, ...] = ("string", "number", "boolean", "object", "raw")
FILTER_TYPES: tuple[FilterType, ...] = ("include", "exclude")
COMPARES: tuple[Compare, ...] = ("value", "prefix", "list", "exists", "field", "regex")


@attrs.frozen
class FilterSpec:
    """``<filter name value type compare/>``; ``compare`` is ``exists`` when there is no value."""

    type: FilterType
    compare: Compare
    name: str | None
    value: str | None
    where: str


@attrs.frozen
class FieldsSpec:
    """A ``<fields verbose=...>`` list (``verbose`` defaults to true, as in mod_kazoo)."""

    verbose: bool
    fields: tuple[FieldSpec, ...]
    where: str


@attrs.frozen
class FieldSpec:
    """One ``<field>``; ``serialize_as`` is defaulted (object for a static with children)."""

    type: FieldType
    name: str | None
    value: str | None
    as_: str | None
    serialize_as: SerializeAs
    as_array: bool
    exclude_prefix: bool
    filters: tuple[FilterSpec, ...]
    children: FieldsSpec | None
    where: str


@attrs.frozen
class DefinitionSpec:
    name: str
    filters: tuple[FilterSpec, ...]
    fields: tuple[FieldSpec, ...]
    where: str


@attrs.frozen
class EventSpec:
    """One ``<event name=...>``: a core event name or a CUSTOM subclass."""

    name: str
    filters: tuple[FilterSpec, ...]
    fields: FieldsSpec | None
    where: str

    @property
    def is_empty(self) -> bool:
        return not self.filters and self.fields is None


@attrs.frozen
class EventProfileSpec:
    name: str
    filters: tuple[FilterSpec, ...]
    fields: FieldsSpec | None
    events: tuple[EventSpec, ...]
    where: str


@attrs.frozen
class FetchProfileSpec:
    """A fetch profile; ``sections`` are the XML sections it serves (usually one)."""

    name: str
    sections: frozenset[str]
    timeout_us: int
    fields: FieldsSpec | None
    where: str
