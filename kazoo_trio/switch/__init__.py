"""The switch backend layer: the :class:`Switch` and :class:`SwitchControl` protocols,
events, expansion, backends (:mod:`.sim`)."""

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.expand import expand_variables, needs_expansion
from kazoo_trio.switch.names import CORE_EVENT_NAMES, core_event_name
from kazoo_trio.switch.protocol import (
    ApiHandler,
    ApiOutput,
    ApiResult,
    EventListener,
    EventNameError,
    FetchHandler,
    JsonApiHandler,
    Switch,
    SwitchBackend,
    SwitchControl,
    SwitchIdentity,
    XmlLookup,
    XmlSectionError,
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
    "EventNameError",
    "FetchHandler",
    "JsonApiHandler",
    "Switch",
    "SwitchBackend",
    "SwitchControl",
    "SwitchIdentity",
    "XmlLookup",
    "XmlSectionError",
    "core_event_name",
    "expand_variables",
    "needs_expansion",
    "parse_sections",
    "separate_string",
    "xml_section",
]
