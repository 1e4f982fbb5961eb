"""A stock FreeSWITCH as the switch backend, over its event socket and mod_xml_curl.

:mod:`.esl` is the event-socket protocol without I/O, :mod:`.connection` the trio
client keeping one connection up, :mod:`.xmlcurl` the HTTP endpoint mod_xml_curl
posts lookups to, :mod:`.backend` the :class:`~kazoo_trio.switch.protocol.SwitchBackend`
made of them.
"""

from kazoo_trio.switch.freeswitch.backend import (
    FreeSwitchBackend,
    FreeSwitchSettings,
    SwitchUnavailable,
    host_port,
)
from kazoo_trio.switch.freeswitch.connection import EslClient, EslDisconnected, EslReplyTimeout

__all__ = [
    "EslClient",
    "EslDisconnected",
    "EslReplyTimeout",
    "FreeSwitchBackend",
    "FreeSwitchSettings",
    "SwitchUnavailable",
    "host_port",
]
