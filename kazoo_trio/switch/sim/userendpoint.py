"""mod_dptools' ``user/`` endpoint on the simulated switch (``user_outgoing_channel``).

``user/<user>[@<domain>]`` looks the user up in the directory through the fetch
bindings (``action=user_call``, the dial's variables); no such user is
``SUBSCRIBER_ABSENT``.  The user's ``dial-string`` parameter (the domain's when the
user has none: the lookup merges them) is expanded against the calling channel (with
``dialed_user``/``dialed_domain`` set on it) or, without one, against the dial's
variables, and dialled: typically
``{...}${sofia_contact(*/${dialed_user}@${dialed_domain})}``, which reaches the
device registered with mod_sofia or fails with ``USER_NOT_REGISTERED``
(``error/user_not_registered``).  ``dial-var-<name>`` parameters become variables of
the dialled legs; the answered leg gets the user's ``<variables>`` and, with
``user_context``, that context.  A dial string naming ``user/<user>`` again is
``INVALID_IE_CONTENTS``.

A directory without any ``dial-string`` (a real FreeSWITCH answers
``MANDATORY_IE_MISSING``) gets the simulation's stand-in phone instead
(:func:`~kazoo_trio.switch.sim.endpoints.simulated_user_leg`), so a bare directory
still has users that answer.
Layer: above :mod:`.originate` (registered by :mod:`.simswitch`).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

from kazoo_trio.switch.expand import expand_variables
from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.sim.channel import Channel, ChannelHost, Leg, true
from kazoo_trio.switch.sim.endpoints import simulated_user_leg
from kazoo_trio.switch.sim.originate import DEFAULT_TIMEOUT, originate_legs
from kazoo_trio.switch.sim.profile import CallerProfile
from kazoo_trio.switch.xmltext import XmlError, parse_document

__all__ = ["user_outgoing_channel"]

log = logging.getLogger(__name__)

_ORIGIN_USER = EventOrigin("mod_dptools.c", "user_outgoing_channel", 3883)


def _find_user(text: str, user: str, domain: str) -> tuple[ET.Element, ET.Element] | None:
    """The ``<domain>`` and ``<user>`` (by ``id`` or ``number-alias``) of an answer."""
    try:
        root = parse_document(text)
    except XmlError:
        return None
    for section in root.iter("section"):
        if (section.get("name") or "").lower() != "directory":
            continue
        for x_domain in section.iter("domain"):
            if (x_domain.get("name") or "").lower() != domain.lower():
                continue
            for x_user in x_domain.iter("user"):
                if user in (x_user.get("id"), x_user.get("number-alias")):
                    return x_domain, x_user
    return None


def _pairs(parent: ET.Element | None, tag: str) -> list[tuple[str, str]]:
    if parent is None:
        return []
    return [(x.get("name") or "", x.get("value") or "") for x in parent.findall(tag)]


def _merged(x_domain: ET.Element, x_user: ET.Element, group: str, tag: str) -> dict[str, str]:
    """``switch_xml_locate_user_merged``: the domain's entries, the user's over them."""
    merged = dict(_pairs(x_domain.find(group), tag))
    merged.update(_pairs(x_user.find(group), tag))
    return merged


async def user_outgoing_channel(
    sw: ChannelHost,
    rest: str,
    variables: dict[str, str],
    profile: CallerProfile,
    originator: Channel | None,
) -> Leg | str:
    """``user/<user>[@<domain>]``: the answered leg of the user's dial string, or
    the failure cause."""
    user, at, domain = rest.partition("@")
    if not at:
        domain = sw.get_global("domain") or ""
    if not user or not domain:
        return "INVALID_URL"
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
    found = _find_user(text, user, domain) if text else None
    if found is None:
        log.warning("Can't find user [%s@%s]", user, domain)
        return "SUBSCRIBER_ABSENT"
    x_domain, x_user = found
    user_params = _merged(x_domain, x_user, "params", "param")
    user_variables = _merged(x_domain, x_user, "variables", "variable")
    dest = next((v for k, v in user_params.items() if k.lower() == "dial-string"), None)
    if dest is None:
        if not true(user_variables.get("sim_registered", "true")):
            return "USER_NOT_REGISTERED"
        return simulated_user_leg(sw, user, domain, variables, profile)
    var_event = dict(variables)
    for name, value in user_params.items():
        if name.lower().startswith("dial-var-"):
            var_event[name[len("dial-var-") :]] = value
    dialed_user = x_user.get("id") or user
    timelimit = DEFAULT_TIMEOUT
    limit_text = var_event.get("call_timeout") or var_event.get("leg_timeout")
    if originator is not None:
        limit_text = originator.get_variable("call_timeout") or var_event.get("leg_timeout")
        originator.set_variable("dialed_user", dialed_user)
        originator.set_variable("dialed_domain", domain)
        d_dest = originator.expand(dest)
    else:
        headers = {**var_event, "dialed_user": dialed_user, "dialed_domain": domain}
        d_dest = expand_variables(
            dest,
            lookup=headers.get,
            global_lookup=sw.get_global,
            call=lambda name, args: sw.api_function(name, args, fire_event=False),
        )
    var_event["dialed_user"] = dialed_user
    var_event["dialed_domain"] = domain
    if "presence_id=" not in dest:
        var_event["presence_id"] = f"{dialed_user}@{domain}"
    if limit_text and limit_text.isdigit() and int(limit_text) > 0:
        timelimit = float(limit_text)
    if f"user/{dialed_user}".lower() in d_dest.lower():
        log.warning("the dial string of user/%s dials it again: refused", dialed_user)
        return "INVALID_IE_CONTENTS"
    outcome = await originate_legs(
        sw, d_dest, originator=originator, timeout=timelimit, base_variables=var_event
    )
    channel = outcome.channel
    if channel is None:
        return outcome.cause
    context = channel.variables.get("user_context")
    if context:
        channel.profile.context = context
    for name, value in user_variables.items():
        channel.set_variable(name, value)
    return channel, None
