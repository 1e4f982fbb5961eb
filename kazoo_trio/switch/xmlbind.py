"""A switch's XML fetch bindings: who is asked, in which order, and which answer counts.
Shared by every switch backend; above :mod:`.xmltext`."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable

import attrs

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import FetchHandler, XmlLookup, XmlSectionError
from kazoo_trio.switch.sections import parse_sections
from kazoo_trio.switch.xmltext import XmlError, is_not_found, parse_document

__all__ = ["ParsedXml", "XmlBindings"]

log = logging.getLogger(__name__)


class ParsedXml(str):
    """XML text a fetch handler answers with and has parsed already (``ET.fromstring``
    of the whole text): the bindings take its :attr:`root` instead of parsing the text
    a second time.  Nothing else may hold the root."""

    root: ET.Element

    def __new__(cls, text: str, root: ET.Element) -> ParsedXml:
        parsed = super().__new__(cls, text)
        parsed.root = root
        return parsed


@attrs.frozen(eq=False)
class _Binding:
    sections: frozenset[str]
    handler: FetchHandler


@attrs.define(eq=False)
class XmlBindings:
    """Fetch bindings in registration order (``switch_xml_bind_search_function``)."""

    _bindings: list[_Binding] = attrs.field(init=False, factory=list)

    def bind(self, sections: Iterable[str], handler: FetchHandler) -> Callable[[], None]:
        """See :meth:`kazoo_trio.switch.protocol.Switch.bind_xml`."""
        wanted: set[str] = set()
        for name in sections:
            parsed = parse_sections(name)
            if not parsed:
                raise XmlSectionError(f"unknown XML section {name!r}")
            wanted |= parsed
        binding = _Binding(frozenset(wanted), handler)
        self._bindings.append(binding)

        def unbind() -> None:
            if binding in self._bindings:
                self._bindings.remove(binding)

        return unbind

    async def lookup(
        self, section: str, tag_name: str, key_name: str, key_value: str, params: Event
    ) -> str | None:
        """See :meth:`kazoo_trio.switch.protocol.Switch.xml_lookup`; ``params`` is the
        lookup's parameter event."""
        found = await self.lookup_document(section, tag_name, key_name, key_value, params)
        return None if found is None else found[0]

    async def lookup_document(
        self, section: str, tag_name: str, key_name: str, key_value: str, params: Event
    ) -> tuple[str, ET.Element] | None:
        """:meth:`lookup`, with the answer's root element too (parsed to check it,
        and the caller's own: nothing else holds it)."""
        lookup = XmlLookup(section, tag_name, key_name, key_value, params)
        wanted = parse_sections(section)
        for binding in list(self._bindings):
            if binding not in self._bindings:
                continue  # unbound while an earlier binding was answering
            if binding.sections and not (binding.sections & wanted):
                continue
            try:
                text = await binding.handler(lookup)
            except Exception:
                log.exception("XML binding %r failed for %s", binding.handler, section)
                continue
            if text is None:
                continue
            parsed = None
            if type(text) is ParsedXml:
                # The tree of the text parse_document parses (nothing before the first
                # "<"); the answer is a plain copy, which does not keep the tree.
                parsed = text.root if text.startswith("<") else None
                text = str(text)
            if parsed is not None:
                root = parsed
            else:
                try:
                    root = parse_document(text)
                except XmlError as exc:
                    log.error("XML binding %r answered unparsable XML: %s", binding.handler, exc)
                    continue
            if is_not_found(root):
                continue
            return text, root
        return None
