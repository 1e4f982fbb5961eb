"""Endpoints of the simulated switch: what ``originate`` and ``bridge`` can dial.

* ``null/<dest>``: a leg that answers after :attr:`SimTimings.answer_delay`;
* ``error/<CAUSE>``: fails at once with that cause (``NORMAL_CLEARING`` when the cause
  is not a known one); no channel is created, as mod_dptools' error endpoint does;
* ``loopback/<dest>[/<context>[/<dialplan>]]``: two legs; the ``-a`` leg is the
  outbound one, the ``-b`` leg is inbound and routed through the dialplan (the
  caller's context and dialplan, else ``default`` and ``xml``); the ``-a`` leg answers
  when the ``-b`` leg does;
* ``user/<user>@<domain>``: a directory lookup through the fetch bindings; no user
  fails with ``SUBSCRIBER_ABSENT``.  On a :class:`SimSwitch` the user's
  ``dial-string`` is dialled as ``user_outgoing_channel`` does (see
  :mod:`.userendpoint`); a user with none (and, on a bare core, every user) is a
  stand-in phone that rings for :attr:`SimTimings.ring_delay` and answers, unless its
  directory entry has the variable ``sim_registered=false`` (``USER_NOT_REGISTERED``).

Other technologies are looked up in the host's endpoint table
(:meth:`ChannelHost.endpoint`: mod_sofia's ``sofia/``, mod_kazoo's ``kz/``); anything
else is ``CHAN_NOT_IMPLEMENTED``.
Layer: above :mod:`.session`.
"""

from __future__ import annotations

import logging

import attrs
import trio

from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.sim.causes import parse_cause
from kazoo_trio.switch.sim.channel import (
    Action,
    Channel,
    ChannelHost,
    Leg,
    SwitchNotRunning,
    true,
)
from kazoo_trio.switch.sim.profile import CallerProfile
from kazoo_trio.switch.sim.session import route, serve_private
from kazoo_trio.switch.xmltext import XmlError, parse_document

__all__ = ["Leg", "create_leg", "simulated_user_leg", "wait_orders"]

log = logging.getLogger(__name__)

_ORIGIN_USER = EventOrigin("mod_dptools.c", "user_outgoing_channel", 3883)


async def wait_orders(channel: Channel) -> None:
    """An answered outbound leg waits in ``CS_CONSUME_MEDIA`` for what its originator
    decides (bridge, application, transfer), taking queued commands meanwhile."""
    await serve_private(channel)


def _null_action(delay: float) -> Action:
    async def action(channel: Channel) -> None:
        channel.set_state("CS_CONSUME_MEDIA")
        await trio.sleep(delay)
        channel.answer()
        await wait_orders(channel)

    return action


def _ringing_action(delay: float) -> Action:
    async def action(channel: Channel) -> None:
        channel.set_state("CS_CONSUME_MEDIA")
        channel.ring_ready()
        await trio.sleep(delay)
        channel.answer()
        await wait_orders(channel)

    return action


def _loopback_a_action(b_leg: Channel) -> Action:
    async def action(channel: Channel) -> None:
        channel.set_state("CS_CONSUME_MEDIA")
        try:
            await channel.sw.start_channel(b_leg, route)
        except SwitchNotRunning:  # the switch is stopping
            channel.hangup("SYSTEM_SHUTDOWN")
            await trio.lowlevel.checkpoint()
            return
        # The routed leg answers this one (Channel.answer) or takes it down with it.
        await wait_orders(channel)

    return action


async def create_leg(
    sw: ChannelHost,
    url: str,
    variables: dict[str, str],
    profile: CallerProfile,
    originator: Channel | None = None,
) -> Leg | str:
    """The channel and first action for dialling ``url``, or the failure cause."""
    tech, _, rest = url.partition("/")
    tech = tech.lower()
    timings = sw.timings
    endpoint = sw.endpoint(tech)
    if endpoint is not None:
        return await endpoint(sw, rest, variables, profile, originator)
    if tech == "error":
        # switch_channel_str2cause answers NORMAL_CLEARING for an unknown name, so
        # mod_dptools' fallback to DESTINATION_OUT_OF_ORDER (on NONE) never applies.
        return parse_cause(rest) or "NORMAL_CLEARING"
    # Both of mod_loopback's endpoints give their caller early media first, unless it
    # says not to.
    if (
        tech in ("null", "loopback")
        and originator is not None
        and not true(originator.variables.get(f"{tech}_no_pre_answer"))
    ):
        originator.pre_answer()
    if tech == "null":
        profile.destination_number = profile.destination_number or rest
        profile.source = "mod_loopback"  # the null endpoint is mod_loopback's
        channel = Channel(sw, f"null/{rest}", "outbound", profile, variables=dict(variables))
        return channel, _null_action(timings.answer_delay)
    if tech == "loopback":
        # loopback_outgoing_channel: the -a leg's profile takes the context and
        # dialplan from the destination (else keeps its own; "default" and "xml" if
        # none); the -b leg's is a copy of it with its own times (channel_on_init).
        parts = rest.split("/")
        dest = parts[0]
        profile.destination_number = dest
        profile.source = "mod_loopback"
        if len(parts) > 1 and parts[1]:
            profile.context = parts[1]
        if len(parts) > 2 and parts[2]:
            profile.dialplan = parts[2]
        profile.context = profile.context or "default"
        profile.dialplan = profile.dialplan or "xml"
        a_leg = Channel(sw, f"loopback/{dest}-a", "outbound", profile, variables=dict(variables))
        b_profile = attrs.evolve(profile, profile_created=0, created=0)
        b_profile.cloned()  # the -b leg's profile is a clone of the -a leg's
        b_leg = Channel(sw, f"loopback/{dest}-b", "inbound", b_profile, variables=dict(variables))
        a_leg.loopback = b_leg
        b_leg.loopback = a_leg
        for leg, other, name in ((a_leg, b_leg, "A"), (b_leg, a_leg, "B")):
            leg.set_variable("loopback_leg", name)
            leg.set_variable("other_loopback_leg_uuid", other.uuid)
            leg.set_variable("is_loopback", "1")
        return a_leg, _loopback_a_action(b_leg)
    if tech == "user":
        user, _, domain = rest.partition("@")
        if not user or not domain:
            return "INVALID_URL"
        found = await _directory_user(sw, user, domain, variables)
        if found is None:
            return "SUBSCRIBER_ABSENT"
        if not found:
            return "USER_NOT_REGISTERED"
        return simulated_user_leg(sw, user, domain, variables, profile)
    return "CHAN_NOT_IMPLEMENTED"


def simulated_user_leg(
    sw: ChannelHost, user: str, domain: str, variables: dict[str, str], profile: CallerProfile
) -> Leg:
    """The stand-in phone of a directory user with no ``dial-string``: a
    ``user/<user>@<domain>`` leg that rings for :attr:`SimTimings.ring_delay`, then
    answers."""
    profile.destination_number = profile.destination_number or user
    channel = Channel(sw, f"user/{user}@{domain}", "outbound", profile,
                      variables={**variables, "dialed_user": user,
                                 "dialed_domain": domain})  # fmt: skip
    return channel, _ringing_action(sw.timings.ring_delay)


async def _directory_user(
    sw: ChannelHost, user: str, domain: str, variables: dict[str, str]
) -> bool | None:
    """``switch_xml_locate_user_merged``: ``None`` when no such user, else whether it
    is "registered" (not marked ``sim_registered=false``)."""
    params = [
        ("as_channel", "true"),
        ("action", "user_call"),
        *variables.items(),
        ("key", "id"),
        ("user", user),
        ("domain", domain),
    ]
    event = sw.new_event("REQUEST_PARAMS", headers=params, origin=_ORIGIN_USER)
    text = await sw.xml_lookup("directory", "domain", "name", domain, event)
    if text is None:
        return None
    try:
        root = parse_document(text)
    except XmlError:
        return None
    for section in root.iter("section"):
        if (section.get("name") or "").lower() != "directory":
            continue
        for dom in section.iter("domain"):
            if (dom.get("name") or "").lower() != domain.lower():
                continue
            for entry in dom.iter("user"):
                ids = {entry.get("id"), entry.get("number-alias")}
                if user in ids:
                    for var in entry.iter("variable"):
                        if var.get("name") == "sim_registered":
                            return true(var.get("value"))
                    return True
    return None
