"""What the scenario modules share: the Erlang handlers' documents, the sendmsg
headers ecallmgr sends, the reasons for every known difference, and the check itself.

Each ``test_*.py`` module here holds a ``SCENARIOS`` tuple and a ``KNOWN`` table
(scenario -> aspect -> fields known to differ, each field with its reason in
:data:`REASONS`); :func:`check` runs one scenario on both backends and asserts that
exactly the known differences show, so that a silent change on either side fails.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tests.freeswitch.fsmin import FreeSwitch
from tests.scenarios.runner import (
    Observation,
    Scenario,
    differences,
    fetch_fields,
    header_values,
    legs,
    observe_both,
)

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


async def check(
    scenario: Scenario,
    known: Mapping[str, Sequence[str]],
    fs: FreeSwitch,
    epmd: int,
) -> None:
    """Run ``scenario`` on both backends; exactly the ``known`` differences may show."""
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
    expected = {aspect: set(known.get(aspect, ())) for aspect in found}
    assert found == expected, (found, details)


def assert_reasoned(
    scenarios: Sequence[Scenario], known: Mapping[str, Mapping[str, Sequence[str]]]
) -> None:
    """Every scenario has its entry in ``known``, every known field its reason."""
    assert {s.name for s in scenarios} == set(known)
    for aspects in known.values():
        for aspect, fields in aspects.items():
            if aspect.endswith("fields"):
                assert set(fields) <= set(REASONS), set(fields) - set(REASONS)


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
