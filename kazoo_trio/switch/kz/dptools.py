"""mod_kazoo's dialplan applications (``kazoo_dptools.c``) as translations into stock
FreeSWITCH applications.

Each ``kz_*`` application is a pure function of the channel it runs on
(:class:`.ChannelView`) and its argument, returning the :data:`Step` s that do its work
with FreeSWITCH's own applications (``set``, ``export``, ``unset``,
``set_profile_var``, ``event``, ``playback``, ``bridge``...) and API commands.  The
simulated switch runs the steps inside the one ``kz_*`` application (one
``CHANNEL_EXECUTE``/``CHANNEL_EXECUTE_COMPLETE`` pair, as mod_kazoo does); a backend
without mod_kazoo can rewrite route XML or ``sendmsg`` into them.

Step data is final: values are already URL-decoded and expanded on the channel where
the C code expands them, so whoever runs a step must not expand its data again (a
FreeSWITCH backend escapes ``$`` when it sends them).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable

import attrs

from kazoo_trio.switch.kz.host import ChannelView
from kazoo_trio.switch.kz.utils import (
    delimited,
    profile_var,
    split_assignment,
    split_list,
    url_decode,
)
from kazoo_trio.uuids import uuid4_str

__all__ = [
    "CHANNEL_DATA",
    "KZ_APPLICATIONS",
    "Api",
    "Execute",
    "Step",
    "Translation",
    "kz_export",
    "kz_multiset",
    "kz_multiunset",
    "kz_prefix_unset",
    "kz_set",
    "kz_unset",
    "kz_uuid_multiset",
    "noop",
]


@attrs.frozen
class Execute:
    """Run stock application ``application`` with ``data`` on the channel itself."""

    application: str
    data: str = ""


@attrs.frozen
class Api:
    """Run stock API command ``command`` with ``args`` (no ``API`` event, no expansion)."""

    command: str
    args: str = ""


Step = Execute | Api
Translation = Callable[[ChannelView, str], list[Step]]

# switch_event_create(CHANNEL_DATA) + switch_channel_event_set_data + fire, which the
# event application does for this argument.
CHANNEL_DATA = Execute("event", "Event-Name=CHANNEL_DATA")


def _base_set(view: ChannelView, item: str, urldecode: bool) -> list[Step]:
    """``base_set``: ``name=value`` (or ``name,value``); the value decoded, expanded on
    the channel; a variable with a profile prefix sets the profile field too."""
    if not item:
        return []
    name, value = split_assignment(item)
    if not name:
        return []
    expanded = ""
    if value is not None:
        expanded = view.expand(url_decode(value) if urldecode else value)
    steps: list[Step] = [Execute("set", f"{name}={expanded}")]
    field = profile_var(name)
    if field is not None:
        steps.append(Execute("set_profile_var", f"{field}={expanded}"))
    return steps


def _is_exported(view: ChannelView, name: str) -> bool:
    exported = view.get_variable("export_vars") or ""
    return any(part.lower() == name.lower() for part in exported.split(","))


def _base_export(view: ChannelView, item: str, urldecode: bool) -> list[Step]:
    """``base_export``: ``export`` a variable not yet in ``export_vars``, else ``set`` it
    when its value changes; an item without a value does nothing."""
    if not item:
        return []
    name, value = split_assignment(item)
    if value is None:
        return []
    expanded = view.expand(url_decode(value) if urldecode else value)
    if not _is_exported(view, name):
        return [Execute("export", f"{name}={expanded}")]
    if (view.get_variable(name) or "") != expanded:
        return [Execute("set", f"{name}={expanded}")]
    return []


def _items(data: str) -> tuple[str, list[str]] | None:
    """A ``[^^<d>]a b c`` list: its delimiter and items (``None``: ``^^`` alone)."""
    parsed = delimited(data)
    if parsed is None:
        return None
    delim, rest = parsed
    return delim, split_list(rest, delim)


def kz_set(view: ChannelView, data: str, urldecode: bool = False) -> list[Step]:
    """``kz_set <var>=<value>``: set, then ``CHANNEL_DATA``."""
    return [*_base_set(view, data, urldecode), CHANNEL_DATA]


def kz_multiset(view: ChannelView, data: str, urldecode: bool = False) -> list[Step]:
    """``kz_multiset [^^<d>]<var>=<value> <var2>=<value2>``: each set, then ``CHANNEL_DATA``."""
    parsed = _items(data)
    if parsed is None:
        return []
    steps: list[Step] = []
    for item in parsed[1]:
        steps += _base_set(view, item, urldecode)
    steps.append(CHANNEL_DATA)
    return steps


def kz_unset(view: ChannelView, data: str) -> list[Step]:
    """``kz_unset <var>``: unset, then ``CHANNEL_DATA``."""
    return [*([Execute("unset", data)] if data else []), CHANNEL_DATA]


def kz_multiunset(view: ChannelView, data: str) -> list[Step]:
    """``kz_multiunset [^^<d>]<var> <var2>``: each unset (no event)."""
    parsed = _items(data)
    if parsed is None:
        return []
    return [Execute("unset", name) for name in parsed[1] if name]


def kz_export(view: ChannelView, data: str, urldecode: bool = False) -> list[Step]:
    """``kz_export [^^<d>]<var>=<value> <var2>=<value2>``."""
    parsed = _items(data)
    if parsed is None:
        return []
    steps: list[Step] = []
    for item in parsed[1]:
        steps += _base_export(view, item, urldecode)
    return steps


def kz_prefix_unset(view: ChannelView, data: str) -> list[Step]:
    """``kz_prefix_unset <prefix>``: unset every variable whose name starts with the
    prefix (case-insensitive; an empty prefix matches every variable)."""
    prefix = data.lower()
    return [Execute("unset", name) for name in view.variables if name.lower().startswith(prefix)]


def kz_uuid_multiset(view: ChannelView, data: str, urldecode: bool = False) -> list[Step]:
    """``kz_uuid_multiset <uuid> [^^<d>]<var>=<value> ...``: set on another channel (one
    ``CHANNEL_DATA`` there).

    The values (decoded for the ``_encoded`` form) are expanded on that channel, as
    ``base_set`` runs there, and reach it through ``kz_uuid_setvar_multi_encoded``
    (which sets the profile fields of prefixed variables too).  When no channel has that uuid,
    the C code runs ``base_set`` on its own channel with the uuid as the whole
    argument: it unsets a variable named after the uuid.
    """
    target, space, rest = data.partition(" ")
    if not space or not target:
        return []
    parsed = _items(rest)
    if parsed is None:
        return []
    if not view.channel_exists(target):
        return [Execute("unset", target)]
    pairs: list[str] = []
    for item in parsed[1]:
        name, value = split_assignment(item)
        if not name:
            continue
        if value is None:
            pairs.append(name)
            continue
        value = url_decode(value) if urldecode else value
        expanded = view.expand_on(target, value)
        value = value if expanded is None else expanded
        pairs.append(f"{name}={urllib.parse.quote(value, safe='')}")
    return [Api("kz_uuid_setvar_multi_encoded", f"{target} ^^;{';'.join(pairs)}")]


def noop(view: ChannelView, data: str) -> list[Step]:
    """``noop [<noop-id>]``: the application response is the id (a fresh uuid without one)."""
    return [Execute("set", f"current_application_response={data or uuid4_str()}")]


def kz_restore_caller_id(view: ChannelView, data: str) -> list[Step]:
    """``kz_restore_caller_id``: the caller id back to the profile's original one."""
    return [
        Execute("set_profile_var", f"caller_id_name={view.profile_field('orig_caller_id_name')}"),
        Execute(
            "set_profile_var", f"caller_id_number={view.profile_field('orig_caller_id_number')}"
        ),
    ]


def kz_endless_playback(view: ChannelView, data: str) -> list[Step]:
    """``kz_endless_playback <path>``: play until interrupted; unlike mod_dptools'
    ``endless_playback``, an interruption (``uuid_break``) answers
    ``PLAYBACK_INTERRUPTED`` (a hang-up ends the channel before any answer)."""
    return [
        Execute("endless_playback", data),
        Execute("set", "current_application_response=PLAYBACK_INTERRUPTED"),
    ]


def kz_moh(view: ChannelView, data: str) -> list[Step]:
    """``kz_moh <path>``: play once with mod_kazoo's responses (``MOH FILE PLAYED``)."""
    if not data:
        return [Execute("playback", data)]
    return [
        Execute("unset", "playback_terminator_used"),
        Execute("playback", data),
        Execute("set", "current_application_response=MOH FILE PLAYED"),
    ]


def kz_bridge(view: ChannelView, data: str) -> list[Step]:
    """``kz_bridge <dial string>``: originate and bridge."""
    return [Execute("bridge", data)] if data else []


def kz_bridge_uuid(view: ChannelView, data: str) -> list[Step]:
    """``kz_bridge_uuid <uuid>``: bridge to an existing channel."""
    if not data or not view.channel_exists(data):
        return []
    return [Api("uuid_bridge", f"{view.uuid} {data}")]


def _encoded(translation: Callable[[ChannelView, str, bool], list[Step]]) -> Translation:
    def decoded(view: ChannelView, data: str) -> list[Step]:
        return translation(view, data, True)

    return decoded


# What add_kz_dptools registers, but kz_att_xfer: a transfer that outlives the channel
# running it (mod_kazoo's thread) translates into no stock steps, so a backend runs it
# natively (the simulated switch: kazoo_trio.switch.sim.modkazoo.kz_att_xfer).
KZ_APPLICATIONS: dict[str, Translation] = {
    "kz_set": kz_set,
    "kz_set_encoded": _encoded(kz_set),
    "kz_multiset": kz_multiset,
    "kz_multiset_encoded": _encoded(kz_multiset),
    "kz_unset": kz_unset,
    "kz_multiunset": kz_multiunset,
    "kz_export": kz_export,
    "kz_export_encoded": _encoded(kz_export),
    "kz_prefix_unset": kz_prefix_unset,
    "kz_uuid_multiset": kz_uuid_multiset,
    "kz_uuid_multiset_encoded": _encoded(kz_uuid_multiset),
    "kz_endless_playback": kz_endless_playback,
    "kz_restore_caller_id": kz_restore_caller_id,
    "noop": noop,
    "kz_bridge": kz_bridge,
    "kz_bridge_uuid": kz_bridge_uuid,
    "kz_moh": kz_moh,
}
