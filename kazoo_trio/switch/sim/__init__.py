"""The embedded simulated switch: FreeSWITCH's behaviour where Kazoo can see it."""

from kazoo_trio.switch.sim.channels import ChannelRegistry, SimChannel
from kazoo_trio.switch.sim.clock import Clock, SystemClock
from kazoo_trio.switch.sim.core import ApiEntry, SimSwitch
from kazoo_trio.switch.sim.events import EventOrigin
from kazoo_trio.switch.sim.identity import discover_identity, local_ip

__all__ = [
    "ApiEntry",
    "ChannelRegistry",
    "Clock",
    "EventOrigin",
    "SimChannel",
    "SimSwitch",
    "SystemClock",
    "discover_identity",
    "local_ip",
]
