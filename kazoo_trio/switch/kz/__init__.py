"""mod_kazoo's own additions to FreeSWITCH, independent of the switch they run on.

FreeSWITCH's mod_kazoo (``src/mod/event_handlers/mod_kazoo/`` up to FreeSWITCH commit
``5966077030``) adds API commands and dialplan applications that Kazoo's ecallmgr
relies on.  They are written here once, named after the C files:

* :mod:`.commands` (``kazoo_commands.c``): the ``kz_*`` API commands and ``first-of``,
  over :class:`.KzHost`;
* :mod:`.dptools` (``kazoo_dptools.c``): the ``kz_*`` applications and ``noop``, each a
  translation into stock FreeSWITCH applications given the channel's variables;
* :mod:`.endpoints` (``kazoo_endpoints.c``): the ``kz/`` endpoint as a plan (directory
  user → dial strings, variables, time limit) a backend dials;
* :mod:`.tweaks` (``kazoo_tweaks.c``): what mod_kazoo changes on every new channel
  and after bridge/transfer events, switched by ``kazoo.conf``'s ``<tweaks>``;
* :mod:`.cdr` (``kazoo_cdr.c``): the ``KZ_CDR`` event's ``_json_*`` headers;
* :mod:`.utils` (``kazoo_utils.c``): URL decoding, ``^^<d>`` lists, profile variables;
* :mod:`.host`: what the layer needs from a backend.

A backend registers :data:`KZ_COMMANDS`, runs :data:`KZ_APPLICATIONS`' steps and calls
the tweaks' hooks (the simulated switch: :mod:`kazoo_trio.switch.sim.modkazoo`, which
also runs ``kz_att_xfer``, the one application with no stock translation).
"""

from kazoo_trio.switch.kz.commands import KZ_COMMANDS, KzCommand
from kazoo_trio.switch.kz.dptools import KZ_APPLICATIONS, Api, Execute, Step, Translation
from kazoo_trio.switch.kz.host import ChannelView, KzHost
from kazoo_trio.switch.kz.tweaks import DEFAULT_TWEAKS, KzTweaks, Tweak, tweaks_from_config
from kazoo_trio.switch.kz.utils import url_decode

__all__ = [
    "DEFAULT_TWEAKS",
    "KZ_APPLICATIONS",
    "KZ_COMMANDS",
    "Api",
    "ChannelView",
    "Execute",
    "KzCommand",
    "KzHost",
    "KzTweaks",
    "Step",
    "Translation",
    "Tweak",
    "tweaks_from_config",
    "url_decode",
]
