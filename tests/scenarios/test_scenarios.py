"""The simulated switch against the real FreeSWITCH: each scenario is driven from a real
``erl`` node through kazoo_trio's mod_kazoo server over both backends, and what Erlang
observed must match, apart from the known differences listed (with their reasons) in
:data:`KNOWN`, which are asserted too, so that a silent change on either side shows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.freeswitch.fsmin import FreeSwitch, freeswitch_instance
from tests.scenarios.runner import (
    Api,
    BgApi,
    BgCollect,
    BgStart,
    JsonApi,
    Observation,
    Scenario,
    SendMsg,
    WaitEvent,
    WaitFetch,
    differences,
    fetch_fields,
    header_values,
    legs,
    observe_both,
)

pytestmark = [pytest.mark.erl, pytest.mark.slow]

# ecallmgr's park route as an Erlang handler answers it (the control queue variable,
# then park); the call is answered later by `sendmsg`.
PARK = (
    '<document type="freeswitch/xml"><section name="dialplan"><context name="@CTX@">'
    '<extension name="park"><condition>'
    '<action application="multiset" data="^^|Call-Control-Queue=q1|kt_routed=erlang"/>'
    '<action application="park"/></condition></extension></context></section></document>'
)

# One user whose dial string is a null channel; every other lookup gets the same
# document, which has no such user.
DIRECTORY = (
    '<document type="freeswitch/xml"><section name="directory">'
    '<domain name="example.com"><users><user id="1000"><params>'
    '<param name="dial-string" value="null/1000"/></params></user></users>'
    "</domain></section></document>"
)

CALL_EVENTS = (
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_PARK",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_DESTROY",
)


def execute(app: str, arg: str = "") -> tuple[tuple[str, str], ...]:
    return (
        ("call-command", "execute"),
        ("execute-app-name", app),
        ("execute-app-arg", arg),
        ("event-uuid-name", app),
    )


HANGUP = (("call-command", "hangup"), ("hangup-cause", "NORMAL_CLEARING"))

SCENARIOS = (
    Scenario(
        "api_replies",
        (
            Api("status", label="status", view="shape"),
            Api("show", "channels as json", label="show channels as json (none)", view="json"),
            Api("uuid_exists", "no-such-uuid", label="uuid_exists unknown"),
            Api("uuid_kill", "no-such-uuid", label="uuid_kill unknown"),
            Api("eval", "plain text", label="eval plain"),
            Api("echo", "hello world", label="echo"),
            Api("no_such_command", "x", label="unknown command"),
            BgApi("echo", "bg", label="bgapi echo"),
            BgApi("no_such_command", "x", label="bgapi unknown command"),
            JsonApi("status", label="json_api status"),
            Api("originate", "{origination_uuid=kt-show}null/1000 &park", label="originate"),
            Api(
                "show",
                "channels as json",
                label="show channels as json (one)",
                view="json",
                until="kt-show",
            ),
            Api("uuid_exists", "kt-show", label="uuid_exists live"),
            Api("uuid_kill", "kt-show", label="uuid_kill live"),
        ),
    ),
    Scenario(
        "originate_results",
        (
            Api("originate", "{origination_uuid=kt-null}null/1000 &park", label="null/"),
            Api("uuid_kill", "kt-null", label="kill null"),
            Api("originate", "error/USER_BUSY &park", label="error/USER_BUSY"),
            Api("originate", "error/NO_ANSWER &park", label="error/NO_ANSWER"),
            BgApi("originate", "error/USER_BUSY &park", label="bgapi error/USER_BUSY"),
            BgStart("originate", "{origination_uuid=kt-lb}loopback/4242/default &park", "lb"),
            WaitFetch(1),
            Api("uuid_kill", "kt-lb", label="kill loopback"),
            BgCollect("lb", label="loopback/ killed before answer"),
            WaitEvent("CHANNEL_DESTROY", "{route0}"),
        ),
        bindings={"dialplan": PARK},
        events=("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_DESTROY"),
    ),
    Scenario(
        "inbound_call_sendmsg",
        (
            BgStart("originate", "{origination_uuid=kt-in}loopback/4242/default &park", "in"),
            WaitFetch(1),
            WaitEvent("CHANNEL_PARK", "{route0}"),
            SendMsg("{route0}", execute("answer"), label="sendmsg answer"),
            WaitEvent("CHANNEL_ANSWER", "{route0}"),
            BgCollect("in", label="originate answered"),
            SendMsg("{route0}", execute("playback", "tone_stream://%(100,0,440)"), label="play"),
            WaitEvent("CHANNEL_EXECUTE_COMPLETE", "{route0}", "playback"),
            SendMsg("{route0}", HANGUP, label="sendmsg hangup"),
            WaitEvent("CHANNEL_DESTROY", "{route0}"),
            WaitEvent("CHANNEL_DESTROY", "kt-in"),
            SendMsg("{route0}", HANGUP, label="sendmsg hangup after"),
        ),
        bindings={"dialplan": PARK},
        events=CALL_EVENTS,
    ),
    Scenario(
        "originate_causes",
        (
            *(
                Api("originate", f"error/{cause} &park", label=cause)
                for cause in (
                    "NO_ROUTE_DESTINATION",
                    "USER_BUSY",
                    "NO_ANSWER",
                    "ORIGINATOR_CANCEL",
                    "DESTINATION_OUT_OF_ORDER",
                    "CALL_REJECTED",
                    "NOT_A_CAUSE",
                )
            ),
            Api("originate", "nosuchtech/1000 &park", label="unknown endpoint"),
            Api("originate", "null/1000", label="no application"),
            Api("originate", "", label="no arguments"),
        ),
    ),
    Scenario(
        "uuid_commands_live",
        (
            Api("originate", "{origination_uuid=kt-live}null/1000 &park", label="originate"),
            Api("uuid_getvar", "kt-live origination_uuid", label="uuid_getvar"),
            Api("uuid_getvar", "kt-live kt_unset", label="uuid_getvar unset"),
            Api("uuid_setvar", "kt-live kt_var hello", label="uuid_setvar"),
            Api("uuid_getvar", "kt-live kt_var", label="uuid_getvar set"),
            Api("uuid_setvar_multi", "kt-live kt_a=1;kt_b=2", label="uuid_setvar_multi"),
            Api("uuid_getvar", "kt-live kt_b", label="uuid_getvar multi"),
            Api("uuid_exists", "kt-live", label="uuid_exists"),
            Api("uuid_getvar", "no-such-uuid kt_var", label="uuid_getvar unknown"),
            Api("uuid_setvar", "no-such-uuid kt_var x", label="uuid_setvar unknown"),
            Api("uuid_kill", "kt-live USER_BUSY", label="uuid_kill cause"),
            WaitEvent("CHANNEL_DESTROY", "kt-live"),
            Api("uuid_exists", "kt-live", label="uuid_exists gone"),
        ),
        events=CALL_EVENTS,
    ),
    Scenario(
        "bridge_to_null",
        (
            BgStart("originate", "{origination_uuid=kt-br}loopback/4242/default &park", "br"),
            WaitFetch(1),
            WaitEvent("CHANNEL_PARK", "{route0}"),
            SendMsg(
                "{route0}", execute("bridge", "{origination_uuid=kt-peer}null/2000"), label="bridge"
            ),
            WaitEvent("CHANNEL_BRIDGE", "{route0}"),
            BgCollect("br", label="originate answered by the bridge"),
            Api("uuid_kill", "kt-peer", label="kill the peer"),
            WaitEvent("CHANNEL_UNBRIDGE", "{route0}"),
            WaitEvent("CHANNEL_DESTROY", "kt-peer"),
            SendMsg("{route0}", HANGUP, label="hangup after the bridge"),
            WaitEvent("CHANNEL_DESTROY", "{route0}"),
            WaitEvent("CHANNEL_DESTROY", "kt-br"),
        ),
        bindings={"dialplan": PARK},
        events=(*CALL_EVENTS, "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE"),
    ),
    Scenario(
        "directory_user",
        (
            Api(
                "originate",
                "{origination_uuid=kt-user}user/1000@example.com &park",
                label="originate user/",
            ),
            Api("originate", "user/2000@example.com &park", label="originate unknown user"),
            Api("uuid_kill", "kt-user", label="kill"),
            WaitEvent("CHANNEL_DESTROY", "kt-user"),
        ),
        bindings={"directory": DIRECTORY},
        events=CALL_EVENTS,
    ),
)


@pytest.fixture(scope="module")
def fs() -> Iterator[FreeSwitch]:
    with freeswitch_instance() as instance:
        yield instance


def observed_differences(sim: Observation, real: Observation) -> dict[str, set[str]]:
    """What differs, by aspect: reply labels, legs whose event sequence differs, and
    the names of the fetch and stream fields whose values differ anywhere."""
    return {
        "replies": set(differences(sim.replies, real.replies)),
        "event sequence": set(differences(legs(sim.frames), legs(real.frames))),
        "fetch fields": {
            field for _, field in differences(fetch_fields(sim.fetches), fetch_fields(real.fetches))
        },
        "stream fields": {
            field for _, field in differences(header_values(sim.frames), header_values(real.frames))
        },
    }


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
async def test_simulated_switch_matches_freeswitch(
    scenario: Scenario, fs: FreeSwitch, epmd: int
) -> None:
    sim, real = await observe_both(scenario, fs, epmd)
    # A reply that never came would match on both sides and hide the difference.
    assert "timeout" not in sim.replies.values(), sim.replies
    assert "timeout" not in real.replies.values(), real.replies
    # Nor may two empty recordings pass for a match.
    for seen in (sim, real):
        assert bool(seen.frames) == bool(scenario.events)
        assert bool(seen.fetches) == bool(scenario.bindings)
    found = observed_differences(sim, real)
    details = {
        "replies": differences(sim.replies, real.replies),
        "event sequence": differences(legs(sim.frames), legs(real.frames)),
    }
    known = {aspect: set(KNOWN[scenario.name].get(aspect, ())) for aspect in found}
    assert found == known, (found, details)


# Why a field differs between the simulated switch and FreeSWITCH: each known difference
# below names one of these.  "sim:" marks what the simulated switch still gets wrong
# (to fix there); "by design:" what differs because of the backends themselves.
REASONS: dict[str, str] = {
    "Caller-ID-Name": (
        "sim: an originate without a session names the caller 'FreeSWITCH'; FreeSWITCH's "
        "SWITCH_DEFAULT_CLID_NAME is '' (no field).  Fixing it needs the simulated caller "
        "profile to tell an empty original caller id from an unset one (kz_restore_caller_id)"
    ),
    "Caller-ID-Number": (
        "sim: FreeSWITCH swaps caller and callee ids on an answered outbound leg "
        "(channel_cid_flipped), seen at its hang-up; the simulated switch does not"
    ),
    "Callee-ID-Name": "sim: as Caller-ID-Number, and the loopback -b leg has one on FreeSWITCH",
    "Callee-ID-Number": (
        "sim: FreeSWITCH sets it from the new profile's destination, which mod_loopback's "
        "legs hold as the context ('default'); plus the caller/callee swap"
    ),
    "Caller-Dialplan": (
        "sim: mod_loopback's legs carry the dialplan 'xml' (lower case), a null/ leg none; "
        "the simulated switch says 'XML' for every leg"
    ),
    "Hunt-Dialplan": "sim: as Caller-Dialplan, in the dialplan lookup",
    "Channel-Call-State": (
        "sim: FreeSWITCH fires CHANNEL_ANSWER before the call state becomes ACTIVE "
        "(it still reads DOWN/RINGING); the simulated switch changes it first"
    ),
    "Channel-State": "sim: FreeSWITCH fires CHANNEL_DESTROY in CS_REPORTING, not CS_DESTROY",
    "Disposition": (
        "sim: a leg killed with uuid_kill has no endpoint_disposition on FreeSWITCH; the "
        "simulated switch sets NORMAL_CLEARING"
    ),
    "Ringing-Seconds": (
        "sim: FreeSWITCH reports 0 for a leg that never rang; the simulation omits it"
    ),
    "Call-Control.Queue": (
        "sim: the bridged peer leg carries the caller's non-exported Call-Control-Queue "
        "(set by multiset); on FreeSWITCH only exported variables reach the new leg"
    ),
    "Other-Leg-Caller-ID-Name": "sim: as Caller-ID-Name, on the other leg",
    "Other-Leg-Caller-ID-Number": (
        "sim: FreeSWITCH keeps the other leg's caller profile on the channel after the "
        "bridge ends (seen at CHANNEL_DESTROY); the simulated switch drops it"
    ),
    "Other-Leg-Destination-Number": (
        "sim: as Other-Leg-Caller-ID-Number, and the originated peer gets its "
        "originator's profile as other leg at CHANNEL_ANSWER already"
    ),
    "Other-Leg-Direction": "sim: as Other-Leg-Destination-Number",
    "Channel-Is-Loopback": (
        "by design: set by mod_kazoo's tweaks (kazoo_tweaks.c) inside FreeSWITCH; the "
        "FreeSWITCH backend drives a stock FreeSWITCH without mod_kazoo"
    ),
    "Channel-Loopback-Leg": "by design: as Channel-Is-Loopback",
    "Custom-Channel-Vars.Call-Interaction-Is-Root": (
        "by design: mod_kazoo's tweaks set Call-Interaction-ID on new channels; without "
        "mod_kazoo it is unset and the profile's comparison says false"
    ),
}

_LOOPBACK_FETCH = (
    "Callee-ID-Name",
    "Callee-ID-Number",
    "Caller-ID-Name",
    "Channel-Is-Loopback",
    "Channel-Loopback-Leg",
    "Custom-Channel-Vars.Call-Interaction-Is-Root",
    "Hunt-Dialplan",
)
_CALL_STREAM = (
    "Callee-ID-Name",
    "Callee-ID-Number",
    "Caller-Dialplan",
    "Caller-ID-Name",
    "Caller-ID-Number",
    "Channel-Call-State",
    "Channel-Is-Loopback",
    "Channel-Loopback-Leg",
    "Channel-State",
    "Custom-Channel-Vars.Call-Interaction-Is-Root",
    "Ringing-Seconds",
)

_NULL_STREAM = (
    "Callee-ID-Name",
    "Callee-ID-Number",
    "Caller-Dialplan",
    "Caller-ID-Name",
    "Caller-ID-Number",
    "Channel-Call-State",
    "Channel-State",
    "Custom-Channel-Vars.Call-Interaction-Is-Root",
    "Ringing-Seconds",
)

# scenario -> aspect -> what is known to differ (each field with its reason in REASONS).
# Replies and event-name sequences match in every scenario so far.
KNOWN: dict[str, dict[str, tuple[str, ...]]] = {
    "api_replies": {},
    "originate_results": {
        "fetch fields": _LOOPBACK_FETCH,
        "stream fields": (*_CALL_STREAM, "Disposition"),
    },
    "originate_causes": {},
    "uuid_commands_live": {"stream fields": _NULL_STREAM},
    "bridge_to_null": {
        "fetch fields": _LOOPBACK_FETCH,
        "stream fields": (
            *_CALL_STREAM,
            "Call-Control.Queue",
            "Other-Leg-Caller-ID-Name",
            "Other-Leg-Caller-ID-Number",
            "Other-Leg-Destination-Number",
            "Other-Leg-Direction",
        ),
    },
    "directory_user": {"stream fields": _NULL_STREAM},
    "inbound_call_sendmsg": {
        "fetch fields": _LOOPBACK_FETCH,
        "stream fields": _CALL_STREAM,
    },
}


def test_every_known_difference_has_its_reason() -> None:
    assert {s.name for s in SCENARIOS} == set(KNOWN)
    for aspects in KNOWN.values():
        for aspect, fields in aspects.items():
            if aspect.endswith("fields"):
                assert set(fields) <= set(REASONS), set(fields) - set(REASONS)
