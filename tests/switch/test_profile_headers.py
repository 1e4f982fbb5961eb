"""A caller profile's event headers (``switch_caller_profile_event_set_data``): names
made once per prefix give the same headers, in the same order, as naming each one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kazoo_trio.switch.sim.profile import CallerProfile


def reference(
    profile: CallerProfile, p: str, direction: str, uuid: str, name: str
) -> list[tuple[str, str]]:
    """Each header named and valued one by one, in FreeSWITCH's order."""
    headers = [
        (f"{p}-Direction", direction),
        (f"{p}-Logical-Direction", direction),
        (f"{p}-Username", profile.username),
        (f"{p}-Dialplan", profile.dialplan),
        (f"{p}-Caller-ID-Name", profile.caller_id_name),
        (f"{p}-Caller-ID-Number", profile.caller_id_number),
        (f"{p}-Orig-Caller-ID-Name", profile.original_name if profile.caller_id_name else ""),
        (f"{p}-Orig-Caller-ID-Number", profile.original_number if profile.caller_id_number else ""),
        (f"{p}-Callee-ID-Name", profile.callee_id_name),
        (f"{p}-Callee-ID-Number", profile.callee_id_number),
        (f"{p}-Network-Addr", profile.network_addr),
        (f"{p}-ANI", profile.ani),
        (f"{p}-ANI-II", profile.aniii),
        (f"{p}-Destination-Number", profile.destination_number),
        (f"{p}-Unique-ID", uuid),
        (f"{p}-Source", profile.source),
        (f"{p}-Transfer-Source", profile.transfer_source),
        (f"{p}-Context", profile.context),
        (f"{p}-RDNIS", profile.rdnis),
        (f"{p}-Channel-Name", name),
        (f"{p}-Profile-Index", str(profile.profile_index)),
        (f"{p}-Profile-Created-Time", str(profile.profile_created)),
        (f"{p}-Channel-Created-Time", str(profile.created)),
        (f"{p}-Channel-Answered-Time", str(profile.answered)),
        (f"{p}-Channel-Progress-Time", str(profile.progress)),
        (f"{p}-Channel-Progress-Media-Time", str(profile.progress_media)),
        (f"{p}-Channel-Hangup-Time", str(profile.hungup)),
        (f"{p}-Channel-Transfer-Time", str(profile.transferred)),
        (f"{p}-Channel-Resurrect-Time", "0"),
        (f"{p}-Channel-Bridged-Time", str(profile.bridged)),
        (f"{p}-Channel-Last-Hold", str(profile.last_hold)),
        (f"{p}-Channel-Hold-Accum", str(profile.hold_accum)),
        (f"{p}-Screen-Bit", "true"),
        (f"{p}-Privacy-Hide-Name", "true" if profile.hide_name else "false"),
        (f"{p}-Privacy-Hide-Number", "true" if profile.hide_number else "false"),
    ]
    return [(key, value) for key, value in headers if value]


TEXT = st.sampled_from(["", "1000", "Alice", "default", "XML"])
TIME = st.sampled_from([0, 1, 1_700_000_000_123_456])


@given(
    fields=st.fixed_dictionaries(
        {
            "caller_id_name": TEXT,
            "caller_id_number": TEXT,
            "destination_number": TEXT,
            "context": TEXT,
            "dialplan": TEXT,
            "username": TEXT,
            "network_addr": TEXT,
            "ani": TEXT,
            "aniii": TEXT,
            "rdnis": TEXT,
            "source": TEXT,
            "transfer_source": TEXT,
            "callee_id_name": TEXT,
            "callee_id_number": TEXT,
            "orig_caller_id_name": st.none() | TEXT,
            "orig_caller_id_number": st.none() | TEXT,
            "profile_index": st.integers(1, 3),
            "profile_created": TIME,
            "created": TIME,
            "answered": TIME,
            "progress": TIME,
            "progress_media": TIME,
            "hungup": TIME,
            "transferred": TIME,
            "bridged": TIME,
            "last_hold": TIME,
            "hold_accum": TIME,
            "hide_name": st.booleans(),
            "hide_number": st.booleans(),
        }
    ),
    prefix=st.sampled_from(["Caller", "Other-Leg", "Hunt", "X"]),
    direction=st.sampled_from(["inbound", "outbound", ""]),
    uuid=st.sampled_from(["", "u-1"]),
    name=st.sampled_from(["", "null/1000"]),
)
def test_profile_headers_match_the_one_by_one_naming(
    fields: dict[str, object], prefix: str, direction: str, uuid: str, name: str
) -> None:
    profile = CallerProfile(**fields)  # type: ignore[arg-type]
    assert profile.headers(prefix, direction, uuid, name) == reference(
        profile, prefix, direction, uuid, name
    )
