"""XML section names as FreeSWITCH parses them (``switch_xml_parse_section_string``)."""

from __future__ import annotations

__all__ = ["XML_SECTIONS", "parse_sections", "xml_section"]

XML_SECTIONS = ("configuration", "directory", "dialplan", "languages", "chatplan", "channels")

# The word searched for in the lower-cased name, and the section it selects.
_WORDS = (
    ("config", "configuration"),
    ("directory", "directory"),
    ("dialplan", "dialplan"),
    ("languages", "languages"),
    ("chatplan", "chatplan"),
    ("channels", "channels"),
)


def parse_sections(name: str) -> frozenset[str]:
    """Every section whose word occurs anywhere in ``name`` (ASCII case ignored).

    ``"configuration"`` and ``"config"`` both select ``configuration``; a name with
    no section word gives the empty set (FreeSWITCH's "result" section).
    """
    lowered = name.encode("utf-8", "surrogatepass").lower()
    return frozenset(section for word, section in _WORDS if word.encode() in lowered)


def xml_section(name: str) -> str | None:
    """The one section ``name`` selects, or ``None`` when it selects none or several."""
    found = parse_sections(name)
    return next(iter(found)) if len(found) == 1 else None
