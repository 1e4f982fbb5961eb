"""Profile XML → :mod:`~kazoo_trio.kazoo.profiles.spec` values, with errors naming the element.

Accepted documents:

* the ``kazoo.conf`` configuration as ecallmgr returns it (``<document>`` →
  ``<section>`` → ``<configuration name="kazoo.conf">``) or a bare
  ``<configuration>``, holding any of ``<variables>``, ``<definitions>``,
  ``<event-handlers>`` and ``<fetch-handlers>``;
* the separate files Kazoo keeps them in: a ``<definition>`` (or
  ``<definitions>``), an ``<event>`` (or ``<events>``), a fetch or event
  ``<profile>``.

Unlike mod_kazoo, which silently turns an unknown ``type``, ``compare`` or
``serialize-as`` into a default, every unknown value of those attributes, a
missing required ``name`` and malformed XML raise :class:`ProfileError`.
Elements and attributes the engine does not use (``<logging>``,
``profile-type``) are ignored.  Documents with a DOCTYPE (and so any entity
declaration) are refused before parsing.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import attrs

from kazoo_trio.kazoo.profiles.errors import ProfileError
from kazoo_trio.kazoo.profiles.functions import separate_string, switch_true
from kazoo_trio.kazoo.profiles.spec import (
    COMPARES,
    FIELD_TYPES,
    FILTER_TYPES,
    SERIALIZE_AS,
    Compare,
    DefinitionSpec,
    EventProfileSpec,
    EventSpec,
    FetchProfileSpec,
    FieldSpec,
    FieldsSpec,
    FieldType,
    FilterSpec,
    FilterType,
    SerializeAs,
)
from kazoo_trio.switch.sections import parse_sections

__all__ = [
    "DEFAULT_FETCH_TIMEOUT_US",
    "Document",
    "parse_definitions",
    "parse_document",
    "parse_event_profile",
    "parse_events",
    "parse_fetch_profile",
    "parse_xml",
]

DEFAULT_FETCH_TIMEOUT_US = 2_000_000
"""``fetch-timeout`` of a fetch profile without that param (mod_kazoo's default)."""

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


@attrs.frozen
class Document:
    """The parts of a kazoo.conf document; ``None`` for a section the document lacks."""

    variables: tuple[tuple[str, str], ...] | None
    definitions: tuple[DefinitionSpec, ...] | None
    event_profiles: tuple[EventProfileSpec, ...] | None
    fetch_profiles: tuple[FetchProfileSpec, ...] | None


def parse_xml(text: str | bytes, what: str = "profile document") -> ET.Element:
    """Parse ``text`` with the standard library, refusing DOCTYPE/ENTITY declarations."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if _DOCTYPE.search(data):
        raise ProfileError(f"{what}: DOCTYPE and entity declarations are not accepted")
    if isinstance(text, str):
        # ElementTree refuses a str with an encoding declaration; the bytes keep it honest.
        data = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", data)
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise ProfileError(f"{what}: not well-formed XML ({exc})") from None


def _attr_true(elem: ET.Element, name: str, default: bool) -> bool:
    value = elem.get(name)
    return default if value is None else switch_true(value)


def _named(elem: ET.Element, where: str, kind: str) -> str:
    name = elem.get("name")
    if name is None or name == "":
        raise ProfileError(f"{where}: <{kind}> needs a non-empty name attribute")
    return name


def _filters(parent: ET.Element, where: str) -> tuple[FilterSpec, ...]:
    result: list[FilterSpec] = []
    for filters in parent.findall("filters"):
        for index, elem in enumerate(filters.findall("filter"), 1):
            result.append(_filter(elem, f"{where} > filter #{index}"))
    return tuple(result)


def _filter(elem: ET.Element, where: str) -> FilterSpec:
    name = elem.get("name")
    value = elem.get("value")
    if name is not None:
        where = f"{where} {name!r}"
    type_text = elem.get("type", "exclude")
    if type_text not in FILTER_TYPES:
        raise ProfileError(
            f"{where}: unknown filter type {type_text!r} (expected include or exclude)"
        )
    ftype: FilterType = "include" if type_text == "include" else "exclude"
    compare_text = elem.get("compare", "value")
    compare = _choice(compare_text, COMPARES, where, "compare")
    if value is None:
        compare = "exists"
    if compare != "prefix" and not name:
        raise ProfileError(f"{where}: a {compare!r} filter needs a name attribute")
    if compare == "regex":
        assert value is not None
        try:
            re.compile(value)
        except re.error as exc:
            raise ProfileError(f"{where}: bad regular expression {value!r} ({exc})") from None
    return FilterSpec(type=ftype, compare=compare, name=name, value=value, where=where)


def _choice(text: str, allowed: tuple[Compare, ...], where: str, attr: str) -> Compare:
    for candidate in allowed:
        if candidate == text:
            return candidate
    raise ProfileError(f"{where}: unknown {attr} {text!r} (expected one of {', '.join(allowed)})")


def _fields(parent: ET.Element, where: str) -> FieldsSpec | None:
    found = parent.findall("fields")
    if not found:
        return None
    if len(found) > 1:
        raise ProfileError(f"{where}: more than one <fields> element")
    elem = found[0]
    where = f"{where} > fields"
    return FieldsSpec(
        verbose=_attr_true(elem, "verbose", True),
        fields=_field_list(elem, where),
        where=where,
    )


def _field_list(parent: ET.Element, where: str) -> tuple[FieldSpec, ...]:
    return tuple(
        _field(elem, f"{where} > field #{index}")
        for index, elem in enumerate(parent.findall("field"), 1)
    )


def _field(elem: ET.Element, where: str) -> FieldSpec:
    name = elem.get("name")
    if name is not None:
        where = f"{where} {name!r}"
    type_text = elem.get("type", "copy")
    ftype: FieldType | None = next((t for t in FIELD_TYPES if t == type_text), None)
    if ftype is None:
        raise ProfileError(
            f"{where}: unknown field type {type_text!r} (expected one of {', '.join(FIELD_TYPES)})"
        )
    children = _fields(elem, where)
    serialize_text = elem.get("serialize-as")
    serialize_as: SerializeAs
    if serialize_text is None:
        serialize_as = "object" if children is not None and ftype == "static" else "string"
    else:
        found = next((s for s in SERIALIZE_AS if s == serialize_text), None)
        if found is None:
            raise ProfileError(
                f"{where}: unknown serialize-as {serialize_text!r}"
                f" (expected one of {', '.join(SERIALIZE_AS)})"
            )
        serialize_as = found
    value = elem.get("value")
    if ftype != "group" and not name:
        raise ProfileError(f"{where}: a {ftype!r} field needs a name attribute")
    if ftype in ("first-of", "expand") and value is None:
        raise ProfileError(f"{where}: a {ftype!r} field needs a value attribute")
    if ftype == "first-of" and value is not None and not separate_string(value, "|", 25):
        raise ProfileError(f"{where}: the first-of list is empty")
    return FieldSpec(
        type=ftype,
        name=name,
        value=value,
        as_=elem.get("as"),
        serialize_as=serialize_as,
        as_array=_attr_true(elem, "as-array", False),
        exclude_prefix=_attr_true(elem, "exclude-prefix", False),
        filters=_filters(elem, where),
        children=children,
        where=where,
    )


def _definition(elem: ET.Element, where: str) -> DefinitionSpec:
    name = _named(elem, where, "definition")
    where = f"definition {name!r}"
    return DefinitionSpec(
        name=name,
        filters=_filters(elem, where),
        fields=_field_list(elem, where),
        where=where,
    )


def _event(elem: ET.Element, where: str) -> EventSpec:
    name = _named(elem, where, "event")
    where = f"{where} event {name!r}"
    return EventSpec(
        name=name, filters=_filters(elem, where), fields=_fields(elem, where), where=where
    )


def _event_profile(elem: ET.Element, where: str) -> EventProfileSpec:
    name = _named(elem, where, "profile")
    where = f"{where} profile {name!r}"
    events: list[EventSpec] = []
    # <events><event/></events> is the kazoo.conf form; Kazoo's own profile file lists
    # <event/> elements directly under <profile>.
    for container in [elem, *elem.findall("events")]:
        for child in container.findall("event"):
            events.append(_event(child, where + " >"))
    return EventProfileSpec(
        name=name,
        filters=_filters(elem, where),
        fields=_fields(elem, where),
        events=tuple(events),
        where=where,
    )


def _fetch_profile(elem: ET.Element, where: str) -> FetchProfileSpec:
    name = _named(elem, where, "profile")
    where = f"{where} profile {name!r}"
    sections = parse_sections(name)
    timeout = DEFAULT_FETCH_TIMEOUT_US
    for params in elem.findall("params"):
        for index, param in enumerate(params.findall("param"), 1):
            pname = param.get("name")
            pvalue = param.get("value")
            pwhere = f"{where} > param #{index}"
            if pname is None or pvalue is None:
                raise ProfileError(f"{pwhere}: <param> needs name and value attributes")
            if pname == "fetch-timeout":
                if not re.fullmatch(r"\s*\+?[0-9]{1,10}\s*", pvalue):
                    raise ProfileError(f"{pwhere}: fetch-timeout {pvalue!r} is not a number")
                timeout = int(pvalue)
            elif pname == "fetch-section":
                sections = parse_sections(pvalue)
                if not sections:
                    raise ProfileError(f"{pwhere}: unknown fetch-section {pvalue!r}")
    if not sections:
        raise ProfileError(f"{where}: names no XML section (and has no fetch-section param)")
    return FetchProfileSpec(
        name=name,
        sections=sections,
        timeout_us=timeout,
        fields=_fields(elem, where),
        where=where,
    )


def _expect(root: ET.Element, tags: tuple[str, ...], what: str) -> None:
    if root.tag not in tags:
        expected = " or ".join(f"<{tag}>" for tag in tags)
        raise ProfileError(f"{what}: root element is <{root.tag}>, expected {expected}")


def parse_definitions(text: str | bytes) -> tuple[DefinitionSpec, ...]:
    """A ``<definition>`` file, or a ``<definitions>`` list of them."""
    root = parse_xml(text, "definition document")
    _expect(root, ("definition", "definitions"), "definition document")
    if root.tag == "definition":
        return (_definition(root, "definitions"),)
    return tuple(_definition(elem, "definitions") for elem in root.findall("definition"))


def parse_events(text: str | bytes) -> tuple[EventSpec, ...]:
    """An ``<event>`` file, or an ``<events>`` list of them."""
    root = parse_xml(text, "event document")
    _expect(root, ("event", "events"), "event document")
    if root.tag == "event":
        return (_event(root, "events >"),)
    return tuple(_event(elem, "events >") for elem in root.findall("event"))


def parse_event_profile(text: str | bytes) -> EventProfileSpec:
    """An event ``<profile>`` (its ``<event>`` elements directly inside or in ``<events>``)."""
    root = parse_xml(text, "event profile document")
    _expect(root, ("profile",), "event profile document")
    return _event_profile(root, "event-handlers >")


def parse_fetch_profile(text: str | bytes) -> FetchProfileSpec:
    """A fetch ``<profile>`` with its ``<fields>`` and ``<params>``."""
    root = parse_xml(text, "fetch profile document")
    _expect(root, ("profile",), "fetch profile document")
    return _fetch_profile(root, "fetch-handlers >")


def _configuration(root: ET.Element) -> ET.Element:
    if root.tag == "configuration":
        return root
    if root.tag == "document":
        found = [
            elem
            for elem in root.iter("configuration")
            if elem.get("name", "kazoo.conf") == "kazoo.conf"
        ]
        if len(found) == 1:
            return found[0]
        if not found:
            raise ProfileError(
                'kazoo.conf document: no <configuration name="kazoo.conf"> in <document>'
            )
        raise ProfileError('kazoo.conf document: more than one <configuration name="kazoo.conf">')
    raise ProfileError(
        f"kazoo.conf document: root element is <{root.tag}>, expected <document> or <configuration>"
    )


def _one(config: ET.Element, tag: str) -> ET.Element | None:
    found = config.findall(tag)
    if len(found) > 1:
        raise ProfileError(f"kazoo.conf document: more than one <{tag}> element")
    return found[0] if found else None


def parse_document(text: str | bytes) -> Document:
    """A whole kazoo.conf configuration (see the module docstring)."""
    config = _configuration(parse_xml(text, "kazoo.conf document"))
    variables: tuple[tuple[str, str], ...] | None = None
    section = _one(config, "variables")
    if section is not None:
        pairs: list[tuple[str, str]] = []
        for index, elem in enumerate(section.findall("variable"), 1):
            vname = elem.get("name")
            vvalue = elem.get("value")
            if not vname or vvalue is None:
                raise ProfileError(
                    f"variables > variable #{index}: <variable> needs name and value attributes"
                )
            pairs.append((vname, vvalue))
        variables = tuple(pairs)
    definitions: tuple[DefinitionSpec, ...] | None = None
    section = _one(config, "definitions")
    if section is not None:
        definitions = tuple(
            _definition(elem, "definitions") for elem in section.findall("definition")
        )
    event_profiles: tuple[EventProfileSpec, ...] | None = None
    section = _one(config, "event-handlers")
    if section is not None:
        event_profiles = tuple(
            _event_profile(elem, "event-handlers >") for elem in section.findall("profile")
        )
    fetch_profiles: tuple[FetchProfileSpec, ...] | None = None
    section = _one(config, "fetch-handlers")
    if section is not None:
        fetch_profiles = tuple(
            _fetch_profile(elem, "fetch-handlers >") for elem in section.findall("profile")
        )
    return Document(
        variables=variables,
        definitions=definitions,
        event_profiles=event_profiles,
        fetch_profiles=fetch_profiles,
    )
