"""XML documents as FreeSWITCH's lookups see them: parse, "not found", locate, print.
Shared by every switch backend."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from kazoo_trio.errors import ConfigurationError

__all__ = [
    "NOT_FOUND_XML",
    "XmlError",
    "find_tag",
    "is_not_found",
    "parse_document",
    "to_freeswitch_xml",
]

# The answer a fetch handler gives for a miss (ecallmgr_fs_xml:not_found/0).
NOT_FOUND_XML = (
    '<document type="freeswitch/xml"><section name="result" description="Route Not Found">'
    '<result status="not found"/></section></document>'
)

# switch_xml_toxml indents each nesting level by this.
_INDENT = "  "


class XmlError(ConfigurationError, ValueError):
    """The text is not a well-formed XML document."""


def parse_document(text: str) -> ET.Element:
    """The root element of ``text``; :class:`XmlError` when it does not parse.

    Text before the first ``<`` is ignored, as FreeSWITCH's parser does.
    """
    start = text.find("<")
    if start > 0:
        text = text[start:]
    try:
        return ET.fromstring(text)
    except ET.ParseError as exc:
        raise XmlError(str(exc)) from exc


def _child(node: ET.Element, name: str, attr: str, value: str) -> ET.Element | None:
    """``switch_xml_find_child``: the first child ``name`` whose ``attr`` equals ``value``
    ignoring case."""
    lowered = value.lower()
    for child in node:
        if child.tag == name:
            found = child.get(attr)
            if found is not None and found.lower() == lowered:
                return child
    return None


def is_not_found(root: ET.Element) -> bool:
    """A ``<section name="result"><result status="not found"/>`` answer (a miss)."""
    section = _child(root, "section", "name", "result")
    if section is None:
        return False
    result = section.find("result")
    status = result.get("status") if result is not None else None
    return status is not None and status.lower() == "not found"


def find_tag(
    root: ET.Element, section: str, tag_name: str, key_name: str, key_value: str
) -> ET.Element | None:
    """``switch_xml_locate``'s search: ``<section name=section>`` then its child
    ``tag_name`` with ``key_name`` = ``key_value``.  With an empty ``tag_name``,
    ``key_name`` or ``key_value`` the section element itself is the answer."""
    found = _child(root, "section", "name", section)
    if found is None:
        return None
    if not (tag_name and key_name and key_value):
        return found
    return _child(found, tag_name, key_name, key_value)


def _encode(text: str, attribute: bool) -> str:
    out: list[str] = []
    for ch in text:
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == '"' and attribute:
            out.append("&quot;")
        elif ch == "\n" and attribute:
            out.append("&#xA;")
        elif ch == "\t" and attribute:
            out.append("&#x9;")
        elif ch == "\r":
            out.append("&#xD;")
        elif ord(ch) >= 0x80:
            out.append(f"&#x{ord(ch):X};")
        else:
            out.append(ch)
    return "".join(out)


def _text(value: str | None) -> str:
    # FreeSWITCH keeps the whitespace between tags and prints it back next to its own
    # indentation; documents are printed here as if they had none.
    if value is None or not value.strip():
        return ""
    return _encode(value, attribute=False)


def to_freeswitch_xml(element: ET.Element) -> str:
    """``element`` printed like ``switch_xml_toxml(element, SWITCH_FALSE)``: two-space
    indentation, ``<tag/>`` for empty elements, every closing tag on its own line,
    non-ASCII characters as ``&#xHEX;``."""
    out: list[str] = []
    _render(element, out, 0)
    return "".join(out)


def _ends_with(out: list[str], ch: str) -> bool:
    for piece in reversed(out):
        if piece:
            return piece.endswith(ch)
    return False


def _render(element: ET.Element, out: list[str], depth: int) -> None:
    if _ends_with(out, ">"):
        out.append("\n")
    out.append(_INDENT * depth + "<" + str(element.tag))
    for name, value in element.attrib.items():
        out.append(f' {name}="{_encode(value, attribute=True)}"')
    children = list(element)
    text = _text(element.text)
    if not children and not text:
        out.append("/>\n")
        return
    out.append(">")
    if children:
        out.append(text)
        for child in children:
            _render(child, out, depth + 1)
            out.append(_text(child.tail))
    else:
        out.append(text)
    if _ends_with(out, "\n"):
        out.append(_INDENT * depth)
    out.append(f"</{element.tag}>\n")
