"""The switch backend layer: the :class:`Switch` protocol, events, expansion, backends."""

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.expand import expand_variables, needs_expansion
from kazoo_trio.switch.names import CORE_EVENT_NAMES, core_event_name
from kazoo_trio.switch.protocol import (
    ApiHandler,
    ApiOutput,
    ApiResult,
    EventListener,
    FetchHandler,
    JsonApiHandler,
    Switch,
    SwitchIdentity,
    XmlLookup,
)
from kazoo_trio.switch.sections import XML_SECTIONS, parse_sections, xml_section
from kazoo_trio.switch.separate import separate_string

__all__ = [
    "CORE_EVENT_NAMES",
    "XML_SECTIONS",
    "ApiHandler",
    "ApiOutput",
    "ApiResult",
    "Event",
    "EventListener",
    "FetchHandler",
    "JsonApiHandler",
    "Switch",
    "SwitchIdentity",
    "XmlLookup",
    "core_event_name",
    "expand_variables",
    "needs_expansion",
    "parse_sections",
    "separate_string",
    "xml_section",
]
