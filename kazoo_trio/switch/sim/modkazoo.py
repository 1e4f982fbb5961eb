"""mod_kazoo on the simulated switch: :mod:`kazoo_trio.switch.kz`'s API commands
registered, its applications run as the stock applications they translate to, its
tweaks installed (an ``on_init`` handler of the core, a listener for the events they
bind), and ``kz_att_xfer``.

A ``kz_*`` application is one application to the channel (one ``CHANNEL_EXECUTE`` /
``CHANNEL_EXECUTE_COMPLETE`` pair); the stock applications of its translation run
inside it, with their data as given (already decoded and expanded).
Layer: above :mod:`.core`, :mod:`.applications` and :mod:`.originate`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping

import attrs
import trio

from kazoo_trio.switch.apis import SyncApi
from kazoo_trio.switch.bus import selective
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.expand import expand_variables
from kazoo_trio.switch.headers import event_index_lookup, event_lookup
from kazoo_trio.switch.kz.commands import (
    COMMANDS_ORIGIN,
    KZ_COMMANDS,
    SyncCommand,
    bind_command,
    first_of_in,
)
from kazoo_trio.switch.kz.dptools import KZ_APPLICATIONS, Execute, Translation
from kazoo_trio.switch.kz.host import KzHost
from kazoo_trio.switch.kz.tweaks import (
    DEFAULT_TWEAKS,
    UNIX_EPOCH_IN_GREGORIAN,
    KzTweaks,
    TweakChannel,
    on_channel_bridge,
    on_init,
    on_outgoing,
    on_transferor,
)
from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.sim.applications import exchange_media, set_profile_var
from kazoo_trio.switch.sim.channel import Application, Channel, SwitchNotRunning, bridge, unbridge
from kazoo_trio.switch.sim.core import SimCore
from kazoo_trio.switch.sim.originate import originate_legs

__all__ = [
    "SimChannelView",
    "SimKzHost",
    "SimModKazoo",
    "SimTweakChannel",
    "kz_application",
    "register_mod_kazoo",
]

log = logging.getLogger(__name__)

MODULE = "mod_kazoo"


def _channel(core: SimCore, uuid: str) -> Channel | None:
    found = core.channels.get(uuid)
    return found if isinstance(found, Channel) else None


@attrs.frozen
class SimKzHost:
    """:class:`~kazoo_trio.switch.kz.host.KzHost` over a simulated core."""

    core: SimCore

    def channel_exists(self, uuid: str) -> bool:
        return _channel(self.core, uuid) is not None

    def channel_headers(self, uuid: str) -> list[tuple[str, str]] | None:
        return self.core.channel_headers(uuid)

    def new_event(
        self,
        name: str,
        *,
        subclass: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: str | None = None,
    ) -> Event:
        return self.core.new_event(
            name, subclass=subclass, headers=headers, body=body, origin=COMMANDS_ORIGIN
        )

    def fire(self, event: Event) -> None:
        self.core.fire(event)

    def get_global(self, name: str) -> str | None:
        return self.core.get_global(name)

    def global_variables(self) -> list[tuple[str, str]]:
        return self.core.variables.items()

    async def xml_lookup(
        self,
        section: str,
        tag_name: str,
        key_name: str,
        key_value: str,
        params: Iterable[tuple[str, str]] = (),
    ) -> str | None:
        return await self.core.xml_lookup(section, tag_name, key_name, key_value, params)

    def set_channel_variable(self, uuid: str, name: str, value: str | None) -> bool:
        channel = _channel(self.core, uuid)
        if channel is None:
            return False
        channel.set_variable(name, value)
        return True

    def set_profile_var(self, uuid: str, name: str, value: str | None) -> bool:
        channel = _channel(self.core, uuid)
        if channel is None:
            return False
        set_profile_var(channel, name, value)
        return True

    def expand_event(self, text: str, event: Event) -> str:
        core = self.core

        header = event_lookup(event)

        def call(name: str, args: str) -> str | None:
            # kz_expand_api_execute calls the command directly (no API event), with
            # the expanded event as its parameter event, which first-of reads.
            if name.strip() == "first-of":
                output = first_of_in(args.strip(), header)
                return output.text if output.ok else None
            return core.api_function(name, args, fire_event=False)

        return expand_variables(
            text,
            lookup=header,
            global_lookup=core.get_global,
            call=call,
            lookup_index=event_index_lookup(event),
        )

    def expand_channel(self, uuid: str, text: str) -> str | None:
        channel = _channel(self.core, uuid)
        return channel.expand(text) if channel is not None else None


@attrs.frozen
class SimChannelView:
    """:class:`~kazoo_trio.switch.kz.host.ChannelView` of a simulated channel."""

    channel: Channel

    @property
    def uuid(self) -> str:
        return self.channel.uuid

    @property
    def variables(self) -> Mapping[str, str]:
        return self.channel.variables

    def get_variable(self, name: str) -> str | None:
        return self.channel.get_variable(name)

    def profile_field(self, name: str) -> str:
        profile = self.channel.profile
        if name == "orig_caller_id_name":
            return profile.original_name
        if name == "orig_caller_id_number":
            return profile.original_number
        value = getattr(profile, name, "")
        return value if isinstance(value, str) else str(value)

    def expand(self, text: str) -> str:
        return self.channel.expand(text)

    def channel_exists(self, uuid: str) -> bool:
        return isinstance(self.channel.sw.channels.get(uuid), Channel)

    def expand_on(self, uuid: str, text: str) -> str | None:
        other = self.channel.sw.channels.get(uuid)
        return other.expand(text) if isinstance(other, Channel) else None


def kz_application(translate: Translation) -> Application:
    """A simulated application running ``translate``'s steps on its channel."""

    async def run(channel: Channel, data: str) -> None:
        for step in translate(SimChannelView(channel), data):
            if not channel.up:
                break
            if isinstance(step, Execute):
                handler = channel.sw.application(step.application)
                if handler is None:
                    log.warning(
                        "channel %s: no stock application %s", channel.uuid, step.application
                    )
                    continue
                await handler(channel, step.data)
            else:
                channel.sw.api_function(step.command, step.args, fire_event=False)
        await trio.lowlevel.checkpoint()

    return run


def _api_application(command: str) -> Application:
    """An API command run as an application on its argument; an ``-ERR`` output is the
    application's response.  Only for the simulation's older scripts: mod_kazoo has
    no such applications."""

    async def run(channel: Channel, data: str) -> None:
        output = channel.sw.api_function(command, data, fire_event=False) or ""
        if output.startswith("-ERR"):
            channel.set_variable("current_application_response", output.split("\n", 1)[0])
        await trio.lowlevel.checkpoint()

    return run


@attrs.frozen
class SimTweakChannel:
    """:class:`~kazoo_trio.switch.kz.tweaks.TweakChannel` of a simulated channel."""

    channel: Channel

    @property
    def uuid(self) -> str:
        return self.channel.uuid

    @property
    def direction(self) -> str:
        return self.channel.direction

    @property
    def source(self) -> str:
        return self.channel.profile.source

    @property
    def created_us(self) -> int:
        return self.channel.profile.created

    @property
    def variables(self) -> Mapping[str, str]:
        return self.channel.variables

    def get_variable(self, name: str) -> str | None:
        return self.channel.get_variable(name)

    def set_variable(self, name: str, value: str | None) -> None:
        self.channel.set_variable(name, value)

    def profile_field(self, name: str) -> str | None:
        # The simulated profile keeps no variables of its own beyond its fields.
        return self.channel.profile.fields().get(name) or None

    def set_caller_id(self, name: str | None, number: str | None) -> None:
        profile = self.channel.profile
        if name is not None:
            profile.caller_id_name = profile.orig_caller_id_name = name
        if number is not None:
            profile.caller_id_number = profile.orig_caller_id_number = number

    def partner_uuid(self) -> str | None:
        variables = self.channel.variables
        return variables.get("signal_bond") or variables.get("originate_signal_bond")

    def fire(self, name: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        core = self.channel.sw
        core.fire(core.new_event(name, headers=[*headers, *self.channel.event_headers()]))

    def on_hangup(self, hook: Callable[[], None]) -> None:
        self.channel.hangup_hooks.append(hook)


@attrs.define(eq=False)
class SimModKazoo:
    """mod_kazoo's state on a simulated switch: the tweaks in force, run on every new
    channel and after the events they bind."""

    core: SimCore
    tweaks: KzTweaks = DEFAULT_TWEAKS

    def locate(self, uuid: str) -> TweakChannel | None:
        # As switch_core_session_locate: a channel is found until it is destroyed.
        channel = _channel(self.core, uuid)
        return SimTweakChannel(channel) if channel is not None else None

    def now_us(self) -> int:
        return self.core.clock.wall_us()

    def channel_init(self, channel: Channel) -> None:
        """The ``on_init`` handler, after the ``outgoing_channel`` hook of the channel
        that originated this one (the simulation marks it ``originating_leg_uuid``)."""
        view = SimTweakChannel(channel)
        originator_uuid = channel.variables.get("originating_leg_uuid")
        originator = self.locate(originator_uuid) if originator_uuid else None
        if originator is not None:
            on_outgoing(self.tweaks, originator, view)
        on_init(self.tweaks, self, view)

    def event(self, event: Event) -> None:
        """Bound to every event: the ones the tweaks handle run once this event has
        reached every listener (FreeSWITCH hands them to its dispatch thread)."""
        handler: Callable[[KzTweaks, SimModKazoo, Callable[[str], str | None]], None]
        if event.name == "CHANNEL_BRIDGE":
            handler = on_channel_bridge
        elif event.name == "CUSTOM" and event.get("Event-Subclass") == "sofia::transferor":
            handler = on_transferor
        else:
            return
        header = event_lookup(event)

        async def run() -> None:
            await trio.lowlevel.checkpoint()
            handler(self.tweaks, self, header)

        # Without a running switch there is no channel for them to change.
        with contextlib.suppress(SwitchNotRunning):
            self.core.start_task(run)


# kz_att_xfer's keys when neither leg names its own (attxfer_*_key).
ATT_XFER_KEYS = {"attxfer_cancel_key": "#", "attxfer_hangup_key": "*", "attxfer_conf_key": "0"}


@attrs.define(eq=False)
class _AttendedTransfer:
    """One ``kz_att_xfer``: the transferor, its held partner, and the new leg."""

    transferor: Channel
    partner: Channel
    data: str
    target: Channel | None = None
    bridged: bool = False  # the transferor is (or was) bridged to the target
    finished: bool = False  # handed over, or back to the partner
    done: trio.Event = attrs.field(factory=trio.Event)

    async def run(self) -> None:
        """``kz_att_thread_run``: in the switch's nursery, as mod_kazoo runs it in a
        thread of its own."""
        transferor, partner = self.transferor, self.partner
        try:
            transferor.set_variable("soft_holding_uuid", partner.uuid)
            target = await self._originate()
            if target is None:
                transferor.set_variable("signal_bond", partner.uuid)
                return
            self.target = target
            keys = {name: _att_xfer_key(transferor, target, name) for name in ATT_XFER_KEYS}
            transferor.set_variable("att_xfer_peer_uuid", target.uuid)
            # The inner bridge: the partner stays bridged to the transferor, held; its
            # end must not end the transferor's own bridge application.
            bridge(transferor, target, "att")
            self.bridged = True
            target.redirect(exchange_media, keep_bridge=True)
            outer_scope, transferor.bridge_scope = transferor.bridge_scope, None
            try:
                await _inner_bridge(transferor, target, keys)
            finally:
                transferor.bridge_scope = outer_scope
            if self.finished:
                return
            if target.up and transferor.peer is target:
                unbridge(transferor, target)
            if not target.up:
                self.come_back()
            elif not transferor.up:
                self.hand_over()
            else:
                # Both still up: the hand-over waits for the transferor's hang-up.
                transferor.set_variable("xfer_uuids", f"{target.uuid} {partner.uuid}")
                transferor.set_variable("xfer_peer_uuid", target.uuid)
                transferor.hangup_hooks.append(self.hand_over)
        finally:
            transferor.set_variable("soft_holding_uuid", None)
            self.done.set()

    async def _originate(self) -> Channel | None:
        """The new leg; ``None`` when it fails or the transferor hangs up first (the
        legs still ringing then hang up with ``ORIGINATOR_CANCEL``)."""
        transferor = self.transferor
        answered: list[Channel] = []
        async with trio.open_nursery() as nursery:

            async def cancel_when_gone() -> None:
                await transferor.destroyed.wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(cancel_when_gone)
            outcome = await originate_legs(transferor.sw, self.data, originator=transferor)
            if outcome.channel is not None:
                answered.append(outcome.channel)
            nursery.cancel_scope.cancel()
        target = answered[0] if answered else None
        if target is not None and not transferor.up:
            target.hangup("ORIGINATOR_CANCEL")
            return None
        return target

    def hand_over(self) -> None:
        """The transferor has gone: ``sofia::transferee`` on the partner, then the
        partner bridged to the target (``uuid_bridge``)."""
        target, partner = self.target, self.partner
        if self.finished or target is None:
            return
        self.finished = True
        if not target.up:
            return
        sw = target.sw
        headers = [*partner.event_headers(), ("att_xfer_replaced_call_id", target.uuid)]
        sw.fire(sw.new_event("CUSTOM", subclass="sofia::transferee", headers=headers))
        if partner.up:
            reply = sw.api_function(
                "uuid_bridge", f"{target.uuid} {partner.uuid}", fire_event=False
            )
            ok = (reply or "").startswith("+OK")
            target.set_variable("att_xfer_result", "success" if ok else "failure")

    def come_back(self) -> None:
        """The target has gone: the transferor is back with its partner, whose bridge
        never ended."""
        self.finished = True
        transferor, partner = self.transferor, self.partner
        if transferor.up and partner.up and partner.peer is transferor:
            transferor.peer = partner
            # Each side's other_type names the other: the partner's is the transferor's.
            other = {"originator": "originatee", "originatee": "originator"}
            transferor.other_type = other.get(partner.other_type, "")
            transferor.bridge_kind = partner.bridge_kind
            transferor.set_variable("bridge_uuid", partner.uuid)
        transferor.set_variable("signal_bond", partner.uuid)


async def kz_att_xfer(channel: Channel, data: str) -> None:
    """``kz_att_xfer <dial string>`` (``kazoo_dptools.c``): the transferor (this channel)
    talks to a new leg while its bridged partner waits; when the transferor hangs up
    (or presses ``attxfer_hangup_key``) the new leg is bridged to the partner
    (``uuid_bridge``); when the new leg goes (or ``attxfer_cancel_key``) the
    transferor is back with its partner.

    As in the C module, the transfer runs in a task of its own (mod_kazoo's thread)
    that outlives the transferor; the application returns when it is done or the
    transferor has hung up, and then hands the partner over at once, before the
    transferor's own bridge ends.  The conference key (``three_way``) and the hold
    music ``hold-bleg`` plays to the partner are not simulated.
    """
    partner = channel.peer
    if partner is None or not data:
        await trio.lowlevel.checkpoint()
        return
    transfer = _AttendedTransfer(channel, partner, data)
    try:
        channel.sw.start_task(transfer.run)
    except SwitchNotRunning:
        return
    try:
        await transfer.done.wait()
    finally:
        if not channel.up and transfer.bridged:
            transfer.hand_over()


def _att_xfer_key(transferor: Channel, target: Channel, name: str) -> str:
    return (transferor.variables.get(name) or target.variables.get(name) or ATT_XFER_KEYS[name])[:1]


async def _inner_bridge(transferor: Channel, target: Channel, keys: dict[str, str]) -> None:
    """Until either leg is gone; the transferor's keys hang it up (completing the
    transfer) or hang up the target (cancelling it)."""
    transferor.digits = ""  # the DTMF callback sees the digits pressed from now on
    while transferor.up and target.up:
        arrived = transferor.digit_arrived
        async with trio.open_nursery() as nursery:

            async def first(wait: Callable[[], Awaitable[object]]) -> None:
                await wait()
                nursery.cancel_scope.cancel()

            for wait in (transferor.destroyed.wait, target.destroyed.wait, arrived.wait):
                nursery.start_soon(first, wait)
        digits, transferor.digits = transferor.digits, ""
        for digit in digits:
            if digit == keys["attxfer_hangup_key"]:
                transferor.hangup("ATTENDED_TRANSFER")
                break
            if digit == keys["attxfer_cancel_key"]:
                target.hangup("NORMAL_CLEARING")
                break


def _tweaked_event(name: str, subclass: str | None) -> bool:
    # A CUSTOM event made without a subclass may still carry an Event-Subclass header
    # (SimModKazoo.event reads the header): only a known other subclass is left out.
    return name == "CHANNEL_BRIDGE" or (
        name == "CUSTOM" and (not subclass or subclass == "sofia::transferor")
    )


def register_mod_kazoo(core: SimCore) -> SimModKazoo:
    """Register mod_kazoo's API commands and applications on ``core``, and install its
    tweaks (all on until :attr:`SimModKazoo.tweaks` is set).

    The commands are listed under ``mod_kazoo`` without declaring the module loaded
    (the mod_kazoo server does that when it registers ``erlang``).
    """
    mod = SimModKazoo(core)
    core.set_global("UNIX_EPOCH_IN_GREGORIAN", str(UNIX_EPOCH_IN_GREGORIAN))
    core.init_handlers.append(mod.channel_init)
    # Only these events concern the tweaks (see SimModKazoo.event): the others need
    # not be built for it.
    core.add_listener(selective(mod.event, _tweaked_event))
    host = SimKzHost(core)
    for command in KZ_COMMANDS:
        if command.sync is not None:
            core.apis.register_sync(
                command.name,
                _bind_sync(command.sync, host),
                command.description,
                syntax=command.syntax,
                module=MODULE,
            )
        elif command.wait is not None:
            core.apis.register(
                command.name,
                bind_command(command, host),
                command.description,
                syntax=command.syntax,
                module=MODULE,
            )
    for name, translate in KZ_APPLICATIONS.items():
        core.applications[name] = kz_application(translate)
    core.applications["kz_uuid_setvar"] = _api_application("kz_uuid_setvar")
    core.applications["kz_uuid_setvar_multi"] = _api_application("kz_uuid_setvar_multi")
    core.applications["kz_att_xfer"] = kz_att_xfer
    return mod


def _bind_sync(function: SyncCommand, host: KzHost) -> SyncApi:
    def run(args: str) -> ApiOutput:
        return function(host, args)

    return run
