"""The simulated switch as the program runs it: the core with FreeSWITCH's commands,
JSON API commands and dialplan applications loaded.
Layer: top (composes :mod:`.core`, :mod:`.commands`, :mod:`.callcommands`,
:mod:`.jsonapi`, :mod:`.applications`, :mod:`.modkazoo`, :mod:`.sofia` and
:mod:`.chatplan`)."""

from __future__ import annotations

import attrs

from kazoo_trio.switch.kz.tweaks import KzTweaks
from kazoo_trio.switch.sim.applications import APPLICATIONS
from kazoo_trio.switch.sim.callcommands import register_call_commands
from kazoo_trio.switch.sim.chatplan import SmsModule, register_sms
from kazoo_trio.switch.sim.commands import register_core_commands
from kazoo_trio.switch.sim.conference import register_conference
from kazoo_trio.switch.sim.core import SimCore
from kazoo_trio.switch.sim.jsonapi import register_core_json_apis
from kazoo_trio.switch.sim.kzendpoint import kz_outgoing_channel
from kazoo_trio.switch.sim.mediaapi import register_media_commands
from kazoo_trio.switch.sim.modkazoo import SimModKazoo, register_mod_kazoo
from kazoo_trio.switch.sim.sofia import SofiaModule, register_sofia
from kazoo_trio.switch.sim.userendpoint import user_outgoing_channel

__all__ = ["SimSwitch"]


@attrs.define(eq=False)
class SimSwitch(SimCore):
    """The embedded simulated switch: FreeSWITCH's behaviour where Kazoo can see it.

    Takes the arguments of :class:`~kazoo_trio.switch.sim.core.SimCore`; with none it
    is a switch named after this host.
    """

    mod_kazoo: SimModKazoo = attrs.field(init=False, repr=False)
    sofia: SofiaModule = attrs.field(init=False, repr=False)
    sms: SmsModule = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.applications.update(APPLICATIONS)
        register_core_commands(self)
        register_call_commands(self)
        register_conference(self)
        register_media_commands(self)
        register_core_json_apis(self)
        self.mod_kazoo = register_mod_kazoo(self)
        self.sofia = register_sofia(self)
        self.sms = register_sms(self)
        # mod_sofia's "sip" chat interface: MESSAGE requests in, messages out.
        self.sofia.sms = self.sms
        self.sms.protocols.add("sip")
        self.chat_interfaces["sip"] = "mod_sofia"
        self.endpoint_routines["kz"] = kz_outgoing_channel
        self.endpoint_routines["user"] = user_outgoing_channel

    def set_kz_tweaks(self, tweaks: KzTweaks) -> None:
        """``kazoo.conf``'s ``<tweaks>``: the tweaks mod_kazoo runs from now on."""
        self.mod_kazoo.tweaks = tweaks
