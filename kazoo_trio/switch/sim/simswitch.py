"""The simulated switch as the program runs it: the core with FreeSWITCH's commands,
JSON API commands and dialplan applications loaded.
Layer: top (composes :mod:`.core`, :mod:`.commands`, :mod:`.callcommands`,
:mod:`.jsonapi`, :mod:`.applications` and :mod:`.modkazoo`)."""

from __future__ import annotations

import attrs

from kazoo_trio.switch.sim.applications import APPLICATIONS
from kazoo_trio.switch.sim.callcommands import register_call_commands
from kazoo_trio.switch.sim.commands import register_core_commands
from kazoo_trio.switch.sim.core import SimCore
from kazoo_trio.switch.sim.jsonapi import register_core_json_apis
from kazoo_trio.switch.sim.modkazoo import register_mod_kazoo

__all__ = ["SimSwitch"]


@attrs.define(eq=False)
class SimSwitch(SimCore):
    """The embedded simulated switch: FreeSWITCH's behaviour where Kazoo can see it.

    Takes the arguments of :class:`~kazoo_trio.switch.sim.core.SimCore`; with none it
    is a switch named after this host.
    """

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.applications.update(APPLICATIONS)
        register_core_commands(self)
        register_call_commands(self)
        register_core_json_apis(self)
        register_mod_kazoo(self)
