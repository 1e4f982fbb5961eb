"""The embedded simulated switch: FreeSWITCH's behaviour where Kazoo can see it."""

from kazoo_trio.switch.sim.channel import CallerProfile, Channel
from kazoo_trio.switch.sim.channels import ChannelRegistry, SimChannel
from kazoo_trio.switch.sim.clock import Clock, SystemClock
from kazoo_trio.switch.sim.core import ApiEntry, SimSwitch, SimTimings
from kazoo_trio.switch.sim.events import EventOrigin
from kazoo_trio.switch.sim.identity import discover_identity, local_ip
from kazoo_trio.switch.sim.traffic import TrafficGenerator, TrafficSpec, parse_traffic

__all__ = [
    "ApiEntry",
    "CallerProfile",
    "Channel",
    "ChannelRegistry",
    "Clock",
    "EventOrigin",
    "SimChannel",
    "SimSwitch",
    "SimTimings",
    "SystemClock",
    "TrafficGenerator",
    "TrafficSpec",
    "discover_identity",
    "local_ip",
    "parse_traffic",
]
