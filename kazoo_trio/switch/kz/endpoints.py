"""mod_kazoo's ``kz/`` endpoint (``kazoo_endpoints.c``) as a plan a backend dials.

``kz/<user>[@<domain>]`` looks the user up in the directory (``user_call``, as the
``user/`` endpoint does), takes the dial string Kazoo's registrar put in the user's
``endpoint-dial-string`` parameter (or its call-forward variants), expands it against
the calling channel's data and the user's variables, and originates to it; the
answered leg gets the user's ``profile-variables``.  This module does everything but
the dialling: :func:`kz_plan` turns the directory answer into a :class:`KzPlan`
(dial strings, variables, time limit) or the failure cause, and
:func:`apply_profile_variables` is what happens to the answered leg.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence

import attrs

from kazoo_trio.switch.xmltext import XmlError, parse_document

__all__ = [
    "BRIDGE_VARIABLES",
    "Expander",
    "KzPlan",
    "directory_params",
    "directory_user",
    "expand_json",
    "kz_plan",
    "profile_variables",
]

# x_bridge_variables: copied from the calling channel onto the new legs.
BRIDGE_VARIABLES = (
    "Call-Control-Queue",
    "Call-Control-PID",
    "Call-Control-Node",
    "Call-Interaction-ID",
    "ecallmgr_Ecallmgr-Node",
    "sip_h_k-cid",
    "Switch-URI",
    "Switch-URL",
)

SWITCH_DEFAULT_TIMEOUT = 60

Headers = list[tuple[str, str]]
Expander = Callable[[str, Sequence[tuple[str, str]]], str]
"""``kz_event_expand_headers``: expand a text against an event's headers."""


@attrs.frozen
class KzPlan:
    """What ``kz_endpoint_outgoing_channel`` originates: ``dial`` (then ``failover``
    if that fails) with ``variables`` for every leg, within ``timelimit`` seconds."""

    dial: str
    failover: str | None
    variables: tuple[tuple[str, str], ...]
    timelimit: int
    dialed_user: str
    dialed_domain: str
    profile_variables: tuple[tuple[str, str], ...]


def _set(headers: Headers, name: str, value: str | None) -> None:
    """``switch_event_del_header`` then ``add_header_string`` (a ``None`` adds nothing)."""
    headers[:] = [(k, v) for k, v in headers if k.lower() != name.lower()]
    if value is not None:
        headers.append((name, value))


def _get(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name.lower():
            return value
    return None


def directory_params(
    user: str, domain: str, calling_uuid: str | None, var_event: Iterable[tuple[str, str]]
) -> Headers:
    """The ``REQUEST_PARAMS`` of the lookup, as ``switch_xml_locate_user_merged`` sends
    them (its ``key``/``user``/``domain`` last)."""
    params: Headers = [("as_channel", "true"), ("action", "user_call")]
    if calling_uuid:
        params.append(("Unique-ID", calling_uuid))
    params.extend(var_event)
    params += [("key", "id"), ("user", user), ("domain", domain)]
    return params


def directory_user(text: str | None, user: str, domain: str) -> ET.Element | None:
    """The ``<user>`` element for ``user`` (its ``id`` or ``number-alias``) in ``domain``
    of a directory answer; ``None`` when the answer has none."""
    if not text:
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
                if user in (entry.get("id"), entry.get("number-alias")):
                    return entry
    return None


def _pairs(parent: ET.Element | None, tag: str) -> list[tuple[str, str | None]]:
    if parent is None:
        return []
    return [(el.get("name") or "", el.get("value")) for el in parent.findall(tag)]


def expand_json(value: object, prefix: str | None) -> Headers:
    """``kz_expand_json_to_event``: strings as they are, objects flattened with
    ``<prefix>_<key>``, anything else as compact JSON."""
    if not isinstance(value, dict):
        return []
    head = f"{prefix}_" if prefix else ""
    out: Headers = []
    for key, item in value.items():
        if isinstance(item, str):
            out.append((f"{head}{key}", item))
        elif isinstance(item, dict):
            out += expand_json(item, f"{head}{key}")
        else:
            out.append((f"{head}{key}", json.dumps(item, separators=(",", ":"))))
    return out


def _runtime_flags(ctx: object) -> list[str] | None:
    if not isinstance(ctx, dict):
        return None
    flags = ctx.get("Flags")
    return [f for f in flags if isinstance(f, str)] if isinstance(flags, list) else None


def _timeout(value: str | None) -> int | None:
    if value is None:
        return None
    digits = ""
    for ch in value.strip():
        if not ch.isdigit():
            break
        digits += ch
    return int(digits) if digits else 0


def kz_plan(
    x_user: ET.Element,
    domain: str,
    var_event: Sequence[tuple[str, str]],
    calling: Sequence[tuple[str, str]] | None,
    calling_timeout: str | None,
    expand: Expander,
) -> KzPlan | str:
    """``kz_endpoint_outgoing_channel`` after the lookup: the plan, or the cause.

    ``var_event`` is the originate's variables for this leg; ``calling`` the calling
    channel's event data (``None`` without one); ``calling_timeout`` its
    ``call_timeout`` variable.
    """
    recurse = _get(var_event, "user_recurse_variables")
    timelimit = SWITCH_DEFAULT_TIMEOUT
    variables: Headers | None = list(var_event)
    if recurse is not None and recurse.lower() in ("no", "off", "false", "f", "disabled", "0"):
        found = _timeout(_get(var_event, "call_timeout") or _get(var_event, "leg_timeout"))
        if found is not None:
            timelimit = found
        variables = None
    ctx: object = None
    if variables is not None:
        text = _get(variables, "kz-endpoint-runtime-context")
        if text:
            try:
                ctx = json.loads(text)
            except ValueError:
                ctx = None
    user_vars = _pairs(x_user.find("variables"), "variable")
    params = _pairs(x_user.find("params"), "param")
    for name, value in user_vars:
        variables = [] if variables is None else variables
        _set(variables, name, value)
    endpoint_dial = callforward_dial = separator = None
    for name, value in params:
        lower = name.lower()
        if lower == "endpoint-dial-string":
            endpoint_dial = value
        elif lower == "callforward-dial-string":
            callforward_dial = value
        elif lower == "endpoint-separator":
            separator = value
        elif lower.startswith("dial-var-"):
            variables = [] if variables is None else variables
            _set(variables, name[9:], value)
    failover_dial: str | None = None
    x_callfwd = x_user.find("call-forward")
    if x_callfwd is not None:
        substitute = failover = direct_only = False
        for name, value in _pairs(x_callfwd, "variable"):
            on = (value or "").lower() in ("yes", "on", "true", "t", "enabled", "1", "allow")
            if name.lower() == "is-substitute":
                substitute = on
            elif name.lower() == "is-failover":
                failover = on
            elif name.lower() == "direct-calls-only":
                direct_only = on
        valid = True
        if direct_only:
            valid = False
            flags = _runtime_flags(ctx)
            if flags is not None:
                valid = "direct_call" in flags
        if not valid:
            dest = endpoint_dial or ""
        elif failover:
            dest = endpoint_dial or ""
            failover_dial = callforward_dial
        elif substitute:
            dest = callforward_dial or ""
        else:
            joiner = (separator or ",") if endpoint_dial else ""
            dest = f"{endpoint_dial or ''}{joiner}{callforward_dial or '(null)'}"
    else:
        dest = endpoint_dial or ""
    dialed_user = x_user.get("id") or ""
    if variables is not None:
        variables += [("dialed_user", dialed_user), ("dialed_domain", domain)]
    # The event the dial string is expanded against.
    event: Headers
    if calling is not None:
        event = list(calling)
        found = _timeout(calling_timeout)
        if found is None and variables is not None:
            found = _timeout(_get(variables, "leg_timeout"))
        if found is not None:
            timelimit = found
    else:
        event = [(k, v) for k, v in (variables or []) if k not in ("dialed_user", "dialed_domain")]
        if variables is not None:
            found = _timeout(_get(variables, "call_timeout") or _get(variables, "leg_timeout"))
            if found is not None:
                timelimit = found
        event += [("dialed_user", dialed_user), ("dialed_domain", domain)]
    profile_vars = [(k, v) for k, v in _pairs(x_user.find("profile-variables"), "variable")]
    event += [(k, v) for k, v in profile_vars if v is not None]
    event += [(k, v) for k, v in user_vars if v is not None]
    for name, value in params:
        if name.lower().startswith("dial-var-"):
            _set(event, name[9:], value)
    if ctx is not None:
        event += expand_json(ctx, "kz_ctx")
    d_dest = expand(dest, event)
    b_failover = expand(failover_dial, event) if failover_dial else None
    if variables is not None:
        expanded = [(k, expand(v, event)) for k, v in variables]
        changed = [(k, v) for (k, v), (_, old) in zip(expanded, variables, strict=True) if v != old]
        for name, _ in changed:
            _set(variables, name, None)
        variables += changed
    if f"kz/{dialed_user}".lower() in d_dest.lower():
        return "INVALID_IE_CONTENTS"
    return KzPlan(
        dial=d_dest,
        failover=b_failover,
        variables=tuple(variables or ()),
        timelimit=timelimit,
        dialed_user=dialed_user,
        dialed_domain=domain,
        profile_variables=tuple((k, v or "") for k, v in profile_vars),
    )


def profile_variables(plan: KzPlan) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """What the answered leg gets: the ``profile-variables`` to set with
    ``switch_channel_set_profile_var`` in order, and the caller-profile fields the
    ``Endpoint-Caller-ID-*`` ones then override (callee and original caller id)."""
    fields: dict[str, str] = {}
    for name, value in plan.profile_variables:
        if name == "Endpoint-Caller-ID-Name":
            fields["callee_id_name"] = fields["orig_caller_id_name"] = value
        elif name == "Endpoint-Caller-ID-Number":
            fields["callee_id_number"] = fields["orig_caller_id_number"] = value
    return list(plan.profile_variables), fields
