"""The embedded simulated switch: FreeSWITCH's behaviour where Kazoo can see it.

Modules, bottom up (each imports only from those listed before it):

* :mod:`.clock`, :mod:`.causes`, :mod:`.xmltext`, :mod:`.identity`, :mod:`.status`,
  :mod:`.events`, :mod:`.variables`, :mod:`.modules`, :mod:`.channels`, :mod:`.profile`:
  values and rules with no simulated-core dependencies;
* :mod:`.bus` (event bus), :mod:`.apis` (API and JSON API registries),
  :mod:`.xmlbind` (XML fetch bindings): the core's parts;
* :mod:`.channel` (channels; :class:`~.channel.ChannelHost`, what the call layer needs
  from its switch), :mod:`.dialplan`, :mod:`.session`, :mod:`.endpoints`,
  :mod:`.originate`, :mod:`.applications`, :mod:`.kzendpoint`, :mod:`.traffic`: the
  call layer;
* :mod:`.core` (:class:`SimCore`: the parts composed, globals, channel table, ``run``);
* :mod:`.commands`, :mod:`.callcommands`, :mod:`.jsonapi`: FreeSWITCH's commands;
  :mod:`.modkazoo`: mod_kazoo's commands and applications (:mod:`kazoo_trio.switch.kz`);
  :mod:`.sofia`: mod_sofia (profiles, simulated devices, gateways, ``sofia/``);
* :mod:`.simswitch` (:class:`SimSwitch`: the core with its commands and applications).
"""

from kazoo_trio.switch.apis import ApiEntry
from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.identity import discover_identity, local_ip
from kazoo_trio.switch.sim.channel import Channel, ChannelHost, SwitchNotRunning
from kazoo_trio.switch.sim.channels import ChannelRegistry, SimChannel
from kazoo_trio.switch.sim.clock import Clock, SimTimings, SystemClock
from kazoo_trio.switch.sim.core import SimCore
from kazoo_trio.switch.sim.profile import CallerProfile
from kazoo_trio.switch.sim.simswitch import SimSwitch
from kazoo_trio.switch.sim.traffic import (
    TrafficError,
    TrafficGenerator,
    TrafficSpec,
    parse_traffic,
)

__all__ = [
    "ApiEntry",
    "CallerProfile",
    "Channel",
    "ChannelHost",
    "ChannelRegistry",
    "Clock",
    "EventOrigin",
    "SimChannel",
    "SimCore",
    "SimSwitch",
    "SimTimings",
    "SwitchNotRunning",
    "SystemClock",
    "TrafficError",
    "TrafficGenerator",
    "TrafficSpec",
    "discover_identity",
    "local_ip",
    "parse_traffic",
]
