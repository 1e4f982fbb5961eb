"""What the scenario modules share: the Erlang handlers' documents, the sendmsg
headers ecallmgr sends, the reasons for every known difference, and the check itself.

Each ``test_*.py`` module here holds a ``SCENARIOS`` tuple and a ``KNOWN`` table
(scenario -> aspect -> fields known to differ, each field with its reason in
:data:`REASONS`); :func:`check` runs one scenario on both backends and asserts that
exactly the known differences show, so that a silent change on either side fails.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

import pytest

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


# Modules configured as Kazoo's own FreeSWITCH configuration sets them (the simulated
# switch behaves that way): mod_loopback names its legs (is_loopback, loopback_leg) as
# it makes them (kazoo-configs-freeswitch, autoload_configs/loopback.conf.xml).
KAZOO_CONFIGS = {
    "loopback.conf.xml": (
        '<configuration name="loopback.conf" description="Loopback Endpoint"><settings>'
        '<param name="early-set-loopback-id" value="true"/></settings></configuration>'
    ),
}


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


# scenario -> aspect -> what is known to differ there.
Known = Mapping[str, Mapping[str, Sequence[str]]]


def assert_reasoned(scenarios: Sequence[Scenario], known: Known) -> None:
    """Every scenario has its entry in ``known``, every known field (and every column
    of a table reply, ``"label: column"``) its reason."""
    assert {s.name for s in scenarios} == set(known)
    for aspects in known.values():
        for aspect, fields in aspects.items():
            if aspect.endswith("fields"):
                assert set(fields) <= set(REASONS), set(fields) - set(REASONS)
        for label in aspects.get("replies", ()):
            _, _, column = label.partition(": ")
            assert column in REASONS, label


def scenario_tests(
    scenarios: Sequence[Scenario], known: Known
) -> tuple[Callable[..., Awaitable[None]], Callable[[], None]]:
    """A scenario module's two tests: each scenario on both backends (FreeSWITCH from
    the ``fs`` fixture), and every known difference reasoned."""

    @pytest.mark.parametrize("scenario", scenarios, ids=lambda s: s.name)
    async def test_simulated_switch_matches_freeswitch(
        scenario: Scenario, fs: FreeSwitch, epmd: int
    ) -> None:
        await check(scenario, known[scenario.name], fs, epmd)

    def test_every_known_difference_has_its_reason() -> None:
        assert_reasoned(scenarios, known)

    return test_simulated_switch_matches_freeswitch, test_every_known_difference_has_its_reason


# Why a field differs between the simulated switch and FreeSWITCH: each known difference
# below names one of these.  "sim:" marks what the simulated switch still gets wrong
# (to fix there); "by design:" what differs because of the backends themselves.
# What mod_kazoo's tweaks (kazoo_tweaks.c) add inside FreeSWITCH and a stock one lacks:
# the interaction id every call's frames carry.
TWEAKED = ("Custom-Channel-Vars.Call-Interaction-Is-Root",)

REASONS: dict[str, str] = {
    "Call-Control.Queue": (
        "by design: mod_kazoo's bridge-variables tweak (kazoo_tweaks.c) copies the older "
        "leg's Call-Control-Queue onto the newer one at CHANNEL_BRIDGE; the FreeSWITCH "
        "backend drives a stock FreeSWITCH without mod_kazoo"
    ),
    "Custom-Channel-Vars.Call-Interaction-Is-Root": (
        "by design: mod_kazoo's tweaks set Call-Interaction-ID on new channels; without "
        "mod_kazoo it is unset and the profile's comparison says false"
    ),
    "Raw-Application-Data": (
        "by design: the FreeSWITCH backend sends sendmsg over the event socket, whose "
        "header parser drops the leading blanks of a value (ecallmgr's blind transfer "
        "sends ' 2000 XML context'); mod_kazoo hands Erlang's binary over as it is"
    ),
    "variable_execute_on_blind_transfer": (
        "by design: mod_kazoo's tweaks set it (kz_restore_caller_id) on new channels"
    ),
    "variable_current_application": (
        "by design: a CHANNEL_DATA fired by a kz_* application while it runs; the "
        "FreeSWITCH backend runs mod_kazoo's applications as the stock ones they "
        "translate to (kz_uuid_multiset_encoded as set), which FreeSWITCH names"
    ),
    "variable_current_application_data": "by design: as variable_current_application",
}


# The reasons test_media_and_fetch.py adds (SIP, conference, KZ_CDR); a field another
# module already gives a reason keeps that one.
_MEDIA_AND_FETCH_REASONS: dict[str, str] = {
    "User-Agent": (
        "by design: mod_sofia's User-Agent names the switch's version (the simulated "
        "switch 1.10.12-release, the bundled FreeSWITCH 1.11.3-dev)"
    ),
    "Local-SDP": (
        "by design: the simulated switch carries no media, so its SIP legs have no SDP "
        "(FreeSWITCH's holds RTP ports and session ids chosen at run time)"
    ),
    "Remote-SDP": "by design: as Local-SDP",
    "Call-Interaction.Id": (
        "by design: KZ_CDR's call-interaction fields come from Call-Interaction-ID, which "
        "mod_kazoo's tweaks set on new channels inside FreeSWITCH; a stock FreeSWITCH "
        "has none"
    ),
    "Call-Interaction.Is-Root": "by design: as Call-Interaction.Id",
    "Call-Interaction.Key": "by design: as Call-Interaction.Id",
}
for _field, _reason in _MEDIA_AND_FETCH_REASONS.items():
    REASONS.setdefault(_field, _reason)
