"""mod_kazoo's ``KZ_CDR`` event (``kazoo_cdr.c``): the ``_json_*`` headers it adds, as pure
code over what a backend knows of a channel at its reporting state.

The event is ``CUSTOM`` ``KZ_CDR``: these headers first, then the channel's data.
JSON is compact, as ``cJSON_PrintUnformatted`` writes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import attrs

from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.separate import separate_string

__all__ = [
    "CDR_ORIGIN",
    "KZ_CDR",
    "AppLogEntry",
    "CallflowProfile",
    "ProfileData",
    "ProfileTimes",
    "kz_cdr_headers",
]

KZ_CDR = "KZ_CDR"
# Where mod_kazoo creates the event (kazoo_cdr.c), on any backend.
CDR_ORIGIN = EventOrigin("kazoo_cdr.c", "kz_cdr_event_handler", 436)

# kz_report_transfer_history: at most this many items of an ARRAY:: variable.
MAX_HISTORY = 50


@attrs.frozen
class AppLogEntry:
    """One application the channel ran (``switch_app_log_t``); ``stamp`` in µs."""

    app: str
    data: str
    stamp: int


@attrs.frozen
class ProfileData:
    """A caller profile's fields as ``kz_switch_ivr_set_json_profile_data`` reads them."""

    username: str = ""
    dialplan: str = ""
    ani: str = ""
    aniii: str = ""
    caller_id_name: str = ""
    caller_id_number: str = ""
    orig_caller_id_name: str = ""
    orig_caller_id_number: str = ""
    network_addr: str = ""
    rdnis: str = ""
    destination_number: str = ""
    callee_id_name: str = ""
    callee_id_number: str = ""
    uuid: str = ""
    source: str = ""
    context: str = ""
    chan_name: str = ""
    profile_uuid: str = ""
    clone_of: str = ""
    transfer_source: str = ""
    outbound: bool = False
    logical_outbound: bool = False
    soft: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class ProfileTimes:
    """``switch_channel_timetable_t`` (µs)."""

    created: int = 0
    profile_created: int = 0
    progress: int = 0
    progress_media: int = 0
    answered: int = 0
    bridged: int = 0
    last_hold: int = 0
    hold_accum: int = 0
    hungup: int = 0
    resurrected: int = 0
    transferred: int = 0


@attrs.frozen
class CallflowProfile:
    """One caller profile of the channel's history (newest first, as the channel keeps
    them); the extension is not reported (the simulation keeps none)."""

    profile: ProfileData
    profile_index: str = ""
    times: ProfileTimes | None = None
    originator: ProfileData | None = None
    originatee: ProfileData | None = None


def _profile_json(p: ProfileData) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in (
        ("Username", p.username),
        ("Dialplan", p.dialplan),
        ("ANI", p.ani),
        ("ANIII", p.aniii),
        ("Caller-ID-Name", p.caller_id_name),
        ("Caller-ID-Number", p.caller_id_number),
        ("Caller-ID-Original-Name", p.orig_caller_id_name),
        ("Caller-ID-Original-Number", p.orig_caller_id_number),
        ("Network-Address", p.network_addr),
        ("RDNIS", p.rdnis),
        ("Destination-Number", p.destination_number),
        ("Callee-ID-Name", p.callee_id_name),
        ("Callee-ID-Number", p.callee_id_number),
        ("UUID", p.uuid),
        ("Source", p.source),
        ("Context", p.context),
        ("Channel-Name", p.chan_name),
        ("Profile-UUID", p.profile_uuid),
        ("Profile-Clone-Of", p.clone_of),
        ("Transfer-Source", p.transfer_source),
    ):
        if value:
            out[key] = value
    out["Direction"] = "outbound" if p.outbound else "inbound"
    out["Logical-Direction"] = "outbound" if p.logical_outbound else "inbound"
    out["Directory"] = {k: v for k, v in p.soft.items() if v}
    return out


def _times_json(t: ProfileTimes) -> dict[str, object]:
    return {
        "Created": t.created,
        "Profile-Created": t.profile_created,
        "Progress": t.progress,
        "Progress-Media": t.progress_media,
        "Answered": t.answered,
        "Bridged": t.bridged,
        "Last-Hold": t.last_hold,
        "Hold-Accumulated": t.hold_accum,
        "Hangup": t.hungup,
        "Resurrect": t.resurrected,
        "Transfer": t.transferred,
    }


def _callflow_json(entry: CallflowProfile) -> dict[str, object]:
    out: dict[str, object] = {}
    if entry.profile.dialplan:
        out["dialplan"] = entry.profile.dialplan
    if entry.profile_index:
        out["profile_index"] = entry.profile_index
    main = _profile_json(entry.profile)
    if entry.originator is not None:
        main["originator"] = _profile_json(entry.originator)
    if entry.originatee is not None:
        main["originatee"] = _profile_json(entry.originatee)
    out["Caller-Profile"] = main
    if entry.times is not None:
        out["Time"] = _times_json(entry.times)
    return out


def _array(value: str | None) -> list[str]:
    """A channel variable's values: ``ARRAY::a|:b`` is two, anything else one."""
    if not value:
        return []
    if value.startswith("ARRAY::"):
        return value[7:].split("|:")
    return [value]


def _originated_legs(variables: Mapping[str, str]) -> list[dict[str, object]]:
    legs = _array(variables.get("originated_legs"))
    causes = _array(variables.get("originate_causes"))
    out: list[dict[str, object]] = []
    for leg, cause in zip(legs, causes, strict=False):
        if not leg or not cause:
            break
        argv_leg = [*separate_string(leg, ";", 10), "", "", ""]
        argv_cause = [*separate_string(cause, ";", 10), "", ""]
        out.append(
            {
                "Call-ID": argv_leg[0],
                "Caller-ID-Name": argv_leg[1],
                "Caller-ID-Number": argv_leg[2],
                "Result": argv_cause[1],
            }
        )
    return out


def _transfer_item(value: str) -> dict[str, object] | None:
    argv = separate_string(value, ":", 4)
    if len(argv) != 4:
        return None
    epoch, callid, kind, rest = argv
    if kind.startswith("bl_xfer"):
        return {
            "Caller-Profile-ID": callid,
            "Type": "blind",
            "Extension": rest,
            "Timestamp": _strtod(epoch),
        }
    if kind.startswith("att_xfer"):
        transferee, slash, transferer = rest.partition("/")
        if not slash:
            return None
        return {
            "Caller-Profile-ID": callid,
            "Type": "attended",
            "Transferee": transferee,
            "Transferer": transferer,
            "Timestamp": _strtod(epoch),
        }
    if kind.startswith("uuid_br"):
        return {
            "Caller-Profile-ID": callid,
            "Type": "bridge",
            "Other-Leg": rest,
            "Timestamp": _strtod(epoch),
        }
    return None


def _strtod(text: str) -> int | float:
    try:
        number = float(text)
    except ValueError:
        return 0
    return int(number) if number.is_integer() else number


def _transfer_history(value: str | None) -> list[dict[str, object]] | None:
    if not value:
        return None
    if value.startswith("ARRAY::"):
        items = value[7:].split("|:")[:MAX_HISTORY]
    elif ":" in value:
        items = [value]
    else:
        return None
    return [item for item in map(_transfer_item, items) if item is not None]


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def kz_cdr_headers(
    *,
    app_log: Sequence[AppLogEntry],
    callflow: Sequence[CallflowProfile],
    variables: Mapping[str, str],
    media_stats: Mapping[str, object] | None = None,
    media_errors: Mapping[str, object] | None = None,
) -> list[tuple[str, str]]:
    """``kz_report``: the ``_json_*`` headers of ``KZ_CDR``, in the C code's order.

    ``media_stats``/``media_errors`` are the ``Audio``/``Video`` objects of channels
    with RTP (``{}`` for channels without media, such as loopback ones).
    """
    headers: list[tuple[str, str]] = []
    if app_log:
        log = [{"app_name": e.app, "app_data": e.data, "app_stamp": e.stamp} for e in app_log]
        headers.append(("_json_application_log", _compact(log)))
    headers.append(("_json_callflow", _compact([_callflow_json(p) for p in callflow])))
    headers.append(("_json_channel_stats", _compact(dict(media_stats or {}))))
    headers.append(("_json_channel_media_errors", _compact(dict(media_errors or {}))))
    headers.append(("_json_originated_legs", _compact(_originated_legs(variables))))
    for name in ("transfer_history", "transfer_source"):
        history = _transfer_history(variables.get(name))
        if history is not None:
            headers.append((f"_json_{name}", _compact(history)))
    return headers
