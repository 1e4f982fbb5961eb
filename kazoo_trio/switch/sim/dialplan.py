"""Dialplan routing as mod_dialplan_xml does it, with the XML from the fetch bindings.

:func:`hunt` asks the ``dialplan`` bindings (a ``REQUEST_PARAMS`` event with the
channel's data and ``Hunt-*`` headers, as ``dialplan_xml_locate`` sends), then picks
the caller's context and walks its extensions: conditions match a field against a
regular expression, ``$1``... in ``data`` are the captures, ``anti-action`` runs on a
mismatch, and an extension without ``continue="true"`` ends the hunt.  No document, a
"not found" answer or no matching extension give ``None`` (``NO_ROUTE_DESTINATION``).
Layer: above :mod:`.channel` and :mod:`.xmltext`.
"""

from __future__ import annotations

import logging
import re
import sys
import xml.etree.ElementTree as ET

from kazoo_trio.switch.headers import EventOrigin, vouched
from kazoo_trio.switch.separate import separate_string
from kazoo_trio.switch.sim.channel import Channel

__all__ = ["dialplan_params", "hunt", "inline_hunt", "match_extensions"]

log = logging.getLogger(__name__)

_ORIGIN = EventOrigin("mod_dialplan_xml.c", "dialplan_xml_locate", 635)

Extension = list[tuple[str, str]]


def dialplan_params(channel: Channel) -> list[tuple[str, str]]:
    """The lookup's parameters: the channel's data then the ``Hunt-*`` profile, for a
    new event (an empty ``Channel-Presence-ID`` left out, as adding it does)."""
    headers = channel.event_data(False)
    headers += channel.profile.headers("Hunt", channel.direction, channel.uuid, channel.name)
    return vouched(headers)


async def hunt(channel: Channel) -> Extension | None:
    """The applications to run for the channel's destination, or ``None`` (no route)."""
    sw = channel.sw
    params = sw.new_event("REQUEST_PARAMS", headers=dialplan_params(channel), origin=_ORIGIN)
    found = await sw.xml_lookup_document("dialplan", "", "", "", params)
    if found is None:
        log.debug(
            "channel %s: no dialplan for %s in context %s",
            channel.uuid, channel.profile.destination_number, channel.profile.context,
        )  # fmt: skip
        return None
    apps = match_extensions(found[1], channel)
    if not apps:
        return None
    return apps


def inline_hunt(channel: Channel, target: str = "") -> Extension | None:
    """mod_dptools' ``inline`` dialplan: ``app[:data]`` items separated by ``,`` (or
    by ``<d>`` after ``m:<d>:``), from ``target`` or else the destination; the
    destination then goes back to the RDNIS, which is cleared (a transfer to
    ``park: inline`` keeps the number it came from)."""
    profile = channel.profile
    text = target or profile.destination_number
    if not text:
        return None
    delim = ","
    if len(text) > 3 and text.startswith("m:") and text[3] == ":":
        delim, text = text[2], text[4:]
    apps: Extension = []
    for item in separate_string(text, delim, 128):
        app, _, data = item.partition(":")
        apps.append((app.lstrip(" "), data))
    profile.destination_number = profile.rdnis
    profile.rdnis = ""
    return apps


def _context(root: ET.Element, name: str) -> ET.Element | None:
    section = None
    for candidate in root.iter("section"):
        if (candidate.get("name") or "").lower() == "dialplan":
            section = candidate
            break
    if section is None:
        return None
    fallback = None
    for context in section.iter("context"):
        cname = (context.get("name") or "").lower()
        if cname == name.lower():
            return context
        if cname == "global" and fallback is None:
            fallback = context
    return fallback


def _field_value(channel: Channel, field: str) -> str | None:
    if "${" in field:
        return channel.expand(field)
    fields = channel.profile.fields()
    if field in fields:
        return fields[field]
    if field in ("uuid", "chan_name"):
        return channel.uuid if field == "uuid" else channel.name
    return channel.get_variable(field)


def _substitute(data: str, match: re.Match[str] | None) -> str:
    if match is None or "$" not in data:
        return data

    def group(m: re.Match[str]) -> str:
        index = int(m.group(1))
        if index <= (match.re.groups if match else 0):
            return match.group(index) or ""
        return ""

    return re.sub(r"\$(\d)", group, data)


def _condition(channel: Channel, cond: ET.Element) -> tuple[bool, re.Match[str] | None]:
    field = cond.get("field")
    expression = cond.get("expression")
    if not field:
        return True, None
    value = _field_value(channel, field) or ""
    if expression is None:
        return True, None
    try:
        found = re.search(expression, value)
    except re.error:
        log.warning("bad dialplan expression %r", expression)
        return False, None
    return found is not None, found


def match_extensions(root: ET.Element, channel: Channel) -> Extension:
    """Walk the caller's context as mod_dialplan_xml does; the collected applications."""
    context = _context(root, channel.profile.context)
    if context is None:
        return []
    apps: Extension = []
    for extension in context.iter("extension"):
        matched = False
        ext_apps: Extension = []
        all_true = True
        for cond in extension.findall("condition"):
            ok, found = _condition(channel, cond)
            tag = "action" if ok else "anti-action"
            for action in cond.findall(tag):
                # One shared text per application name: the list lives as long as
                # the call (a parked call holds it), and names repeat call after call.
                name = sys.intern(action.get("application") or "")
                if name:
                    ext_apps.append((name, _substitute(action.get("data") or "", found)))
            if not ok:
                all_true = False
                if (cond.get("break") or "on-false") in ("on-false", "always"):
                    break
            elif cond.get("break") in ("on-true", "always"):
                break
        matched = all_true or bool(ext_apps)
        if matched and ext_apps:
            apps.extend(ext_apps)
            if (extension.get("continue") or "").lower() != "true":
                break
    return apps
