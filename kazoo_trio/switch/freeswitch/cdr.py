"""mod_kazoo's ``KZ_CDR`` on a stock FreeSWITCH, from the XML CDR it attaches to
``CHANNEL_HANGUP_COMPLETE`` (``hangup_complete_with_xml``).

mod_kazoo built ``KZ_CDR`` inside FreeSWITCH, from the session, in ``CS_REPORTING``
(``kazoo_cdr.c``).  Over the event socket the same facts arrive once, as the XML CDR
(``switch_ivr_generate_xml_cdr``): the application log, every caller profile with its
times and the originator/originatee profiles.  :func:`kz_cdr_event_headers` reads them
into :mod:`kazoo_trio.switch.kz.cdr`'s inputs, which write the ``_json_*`` headers as
mod_kazoo did.  The XML CDR leaves out two things mod_kazoo read: a profile's
direction and its original caller id; the current profile's come from the event's
``Caller-*`` headers, older and other-leg profiles take the channel's direction and
have no original caller id.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

from kazoo_trio.switch.kz.cdr import (
    AppLogEntry,
    CallflowProfile,
    ProfileData,
    ProfileTimes,
    kz_cdr_headers,
)

__all__ = ["kz_cdr_event_headers"]

# The profile fields switch_ivr_set_xml_profile_data writes; any other child is one of
# the profile's soft variables.
_FIELDS = {
    "username": "username",
    "dialplan": "dialplan",
    "caller_id_name": "caller_id_name",
    "caller_id_number": "caller_id_number",
    "callee_id_name": "callee_id_name",
    "callee_id_number": "callee_id_number",
    "ani": "ani",
    "aniii": "aniii",
    "network_addr": "network_addr",
    "rdnis": "rdnis",
    "destination_number": "destination_number",
    "uuid": "uuid",
    "source": "source",
    "context": "context",
    "chan_name": "chan_name",
    "transfer_source": "transfer_source",
}

_TIMES = {
    "created_time": "created",
    "profile_created_time": "profile_created",
    "progress_time": "progress",
    "progress_media_time": "progress_media",
    "answered_time": "answered",
    "bridged_time": "bridged",
    "last_hold_time": "last_hold",
    "hold_accum_time": "hold_accum",
    "hangup_time": "hungup",
    "resurrect_time": "resurrected",
    "transfer_time": "transferred",
}


def _int(text: str | None) -> int:
    try:
        return int(text or 0)
    except ValueError:
        return 0


def _profile(
    element: ET.Element,
    *,
    outbound: bool,
    logical_outbound: bool,
    profile_uuid: str = "",
    clone_of: str = "",
    original: tuple[str, str] = ("", ""),
) -> ProfileData:
    fields: dict[str, str] = {}
    soft: dict[str, str] = {}
    for child in element:
        if child.tag in ("originator", "originatee", "times"):
            continue
        name = _FIELDS.get(child.tag)
        if name is not None:
            fields[name] = child.text or ""
        elif len(child) == 0:
            soft[child.tag] = child.text or ""
    return ProfileData(
        **fields,
        orig_caller_id_name=original[0],
        orig_caller_id_number=original[1],
        profile_uuid=profile_uuid,
        clone_of=clone_of,
        outbound=outbound,
        logical_outbound=logical_outbound,
        soft=soft,
    )


def _other(element: ET.Element, kind: str, *, outbound: bool) -> ProfileData | None:
    """The first ``<originator_caller_profile>`` (or originatee) under ``element``:
    the one mod_kazoo reported (``caller_profile->originator_caller_profile``)."""
    found = element.find(f"{kind}/{kind}_caller_profile")
    if found is None:
        return None
    return _profile(found, outbound=outbound, logical_outbound=outbound)


def kz_cdr_event_headers(
    body: str, headers: Sequence[tuple[str, str]]
) -> list[tuple[str, str]] | None:
    """``KZ_CDR``'s ``_json_*`` headers from a ``CHANNEL_HANGUP_COMPLETE``'s XML CDR
    ``body`` and its ``headers``; ``None`` if the body is no XML CDR."""
    try:
        cdr = ET.fromstring(body)
    except ET.ParseError:
        return None
    if cdr.tag != "cdr":
        return None
    event: Mapping[str, str] = dict(headers)
    outbound = event.get("Call-Direction", event.get("Caller-Direction")) == "outbound"
    logical = event.get("Caller-Logical-Direction", "outbound" if outbound else "inbound")
    app_log = [
        AppLogEntry(app.get("app_name", ""), app.get("app_data", ""), _int(app.get("app_stamp")))
        for app in cdr.iterfind("app_log/application")
    ]
    callflow: list[CallflowProfile] = []
    for index, flow in enumerate(cdr.iterfind("callflow")):
        main = flow.find("caller_profile")
        if main is None:
            continue
        current = index == 0
        original = (
            (
                event.get("Caller-Orig-Caller-ID-Name", ""),
                event.get("Caller-Orig-Caller-ID-Number", ""),
            )
            if current
            else ("", "")
        )
        times_element = flow.find("times")
        times = None
        if times_element is not None:
            values = {name: _int(times_element.findtext(tag)) for tag, name in _TIMES.items()}
            times = ProfileTimes(**values)
        callflow.append(
            CallflowProfile(
                _profile(
                    main,
                    outbound=outbound,
                    logical_outbound=(logical == "outbound") if current else outbound,
                    profile_uuid=flow.get("unique-id", ""),
                    clone_of=flow.get("clone-of", ""),
                    original=original,
                ),
                profile_index=flow.get("profile_index", ""),
                times=times,
                originator=_other(main, "originator", outbound=False),
                originatee=_other(main, "originatee", outbound=True),
            )
        )
    variables = {
        name[len("variable_") :]: value for name, value in headers if name.startswith("variable_")
    }
    return kz_cdr_headers(app_log=app_log, callflow=callflow, variables=variables)
