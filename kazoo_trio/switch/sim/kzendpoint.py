"""mod_kazoo's ``kz/`` endpoint on the simulated switch: the directory lookup and the
plan of :mod:`kazoo_trio.switch.kz.endpoints`, dialled with the simulated originate.

As in ``kazoo_endpoints.c`` the endpoint returns only once its own originate has a
leg that answered (or failed): the leg it hands back is already running.
Layer: above :mod:`.originate` and :mod:`.applications`.
"""

from __future__ import annotations

from collections.abc import Sequence

from kazoo_trio.switch.expand import expand_variables
from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.kz.endpoints import (
    BRIDGE_VARIABLES,
    Expander,
    directory_params,
    directory_user,
    kz_plan,
    profile_variables,
)
from kazoo_trio.switch.sim.applications import set_profile_var
from kazoo_trio.switch.sim.channel import Channel, ChannelHost, Leg
from kazoo_trio.switch.sim.originate import originate_legs
from kazoo_trio.switch.sim.profile import CallerProfile

__all__ = ["kz_outgoing_channel"]

_ORIGIN_KZ = EventOrigin("kazoo_endpoints.c", "kz_endpoint_outgoing_channel", 116)


def _expander(sw: ChannelHost) -> Expander:
    def expand(text: str, headers: Sequence[tuple[str, str]]) -> str:
        """``kz_event_expand_headers``: the event's headers (first of a name), then the
        globals; API functions run without an ``API`` event."""
        found: dict[str, str] = {}
        for name, value in headers:
            found.setdefault(name.lower(), value)

        def call(name: str, args: str) -> str | None:
            return sw.api_function(name, args, fire_event=False)

        return expand_variables(
            text,
            lookup=lambda name: found.get(name.lower()),
            global_lookup=sw.get_global,
            call=call,
        )

    return expand


async def kz_outgoing_channel(
    sw: ChannelHost,
    rest: str,
    variables: dict[str, str],
    profile: CallerProfile,
    originator: Channel | None,
) -> Leg | str:
    """``kz_endpoint_outgoing_channel``: ``kz/<user>[@<domain>]``."""
    if not rest:
        return "DESTINATION_OUT_OF_ORDER"
    user, at, domain = rest.partition("@")
    if not at:
        domain = sw.get_global("domain") or ""
        if not domain:
            return "DESTINATION_OUT_OF_ORDER"
    calling_uuid = originator.uuid if originator is not None else None
    params = directory_params(user, domain, calling_uuid, variables.items())
    event = sw.new_event("REQUEST_PARAMS", headers=params, origin=_ORIGIN_KZ)
    text = await sw.xml_lookup("directory", "domain", "name", domain, event)
    x_user = directory_user(text, user, domain)
    if x_user is None:
        return "SUBSCRIBER_ABSENT"
    calling = originator.event_headers() if originator is not None else None
    timeout = originator.get_variable("call_timeout") if originator is not None else None
    plan = kz_plan(x_user, domain, list(variables.items()), calling, timeout, _expander(sw))
    if isinstance(plan, str):
        return plan
    var_event = dict(plan.variables)
    if originator is not None:
        originator.set_variable("dialed_user", plan.dialed_user)
        originator.set_variable("dialed_domain", domain)
        for name in BRIDGE_VARIABLES:
            value = originator.get_variable(name)
            if value is not None:
                var_event[name] = value
    timelimit = float(plan.timelimit) if plan.timelimit > 0 else 60.0
    outcome = await originate_legs(
        sw, plan.dial, originator=originator, timeout=timelimit, base_variables=var_event
    )
    if outcome.channel is None and plan.failover:
        outcome = await originate_legs(
            sw, plan.failover, originator=originator, timeout=timelimit, base_variables=var_event
        )
    channel = outcome.channel
    if channel is None:
        return outcome.cause
    context = channel.variables.get("user_context")
    if context:
        channel.profile.context = context
    names, fields = profile_variables(plan)
    for name, value in names:
        set_profile_var(channel, name, value)
    for field, value in fields.items():
        setattr(channel.profile, field, value)
    return channel, None
