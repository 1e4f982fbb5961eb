"""The simulated switch against the real FreeSWITCH, for what needs SIP, mod_conference or
mod_kazoo's own reports: a SIP call from the switch to itself bridged to a parked leg,
conference join and leave as ecallmgr drives them, ``KZ_CDR``, and the fetch requests of
the ``configuration`` and ``channels`` sections.  Driven and compared as in
:mod:`tests.scenarios.test_scenarios`; the known differences are in :data:`KNOWN`, their
reasons in :data:`tests.scenarios.common.REASONS`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.freeswitch.fsmin import FreeSwitch, freeswitch_instance
from tests.scenarios.common import (
    CALL_EVENTS,
    KAZOO_CONFIGS,
    PARK,
    TWEAKED,
    execute,
    scenario_tests,
)
from tests.scenarios.runner import (
    Api,
    BgCollect,
    BgStart,
    Scenario,
    SendMsg,
    WaitEvent,
    WaitFetch,
)

pytestmark = [pytest.mark.erl, pytest.mark.slow]

# What the FreeSWITCH of this module needs (tests.scenarios.report reads it too): SIP, and
# every section that has a scenario here sent to kazoo_trio's fetch bindings.
BINDINGS = "dialplan|directory|configuration|channels"
FREESWITCH: dict[str, object] = {"sip": True, "bindings": BINDINGS}


@pytest.fixture(scope="module")
def fs() -> Iterator[FreeSwitch]:
    with freeswitch_instance(sip=True, bindings=BINDINGS, configs=KAZOO_CONFIGS) as fs:
        yield fs


# mod_conference's configuration as the bundled FreeSWITCH has it, answered by Erlang
# (as ecallmgr answers conference.conf with its conference profiles).
CONFERENCE_CONF = (
    '<document type="freeswitch/xml"><section name="configuration">'
    '<configuration name="conference.conf" description="Audio Conference">'
    '<caller-controls><group name="default"/></caller-controls>'
    '<profiles><profile name="default"><param name="rate" value="8000"/>'
    '<param name="interval" value="20"/><param name="energy-level" value="100"/>'
    "</profile></profiles></configuration></section></document>"
)

# A channel's lookup answered with a leg's dial string (mod_sofia reads sip-url etc.).
CHANNELS = (
    '<document type="freeswitch/xml"><section name="channels">'
    '<channel uuid="kt-none"><params><param name="sip-url" value="sip:nobody@127.0.0.1"/>'
    "</params></channel></section></document>"
)

SIP_TARGET = "sofia/internal/4343@127.0.0.1:{sip_port}"
# The bridged SIP leg: PCMU (the null caller's L16 is not among the profile's codecs, and
# late negotiation would refuse it), and no callee update from the 200 OK, which on
# FreeSWITCH races the originate's caller/callee flip of that leg (two threads).
SIP_LEG = "{origination_uuid=%s,absolute_codec_string=PCMU,ignore_display_updates=true}"
CONTROL_NODE = "Call-Control-Node=ecallmgr@127.0.0.1"

SCENARIOS = (
    Scenario(
        # ecallmgr bridges a parked call to a SIP device; the device is the switch
        # itself, whose inbound leg ecallmgr routes (park) and answers.
        "sip_bridge_to_itself",
        (
            Api("originate", "{origination_uuid=kt-sa}null/1000 &park", label="originate"),
            SendMsg(
                "kt-sa",
                execute("bridge", SIP_LEG % "kt-sb" + SIP_TARGET),
                label="bridge over SIP",
            ),
            WaitFetch(1),
            WaitEvent("CHANNEL_PARK", "{route0}"),
            SendMsg("{route0}", execute("answer"), label="answer the inbound leg"),
            WaitEvent("CHANNEL_BRIDGE", "kt-sa"),
            # Both SIP legs at once: a BYE between two legs of a call to itself is not
            # seen by FreeSWITCH (one user agent, one Call-ID for both dialogs).
            Api("hupall", "NORMAL_CLEARING sofia_profile_name internal", label="hupall SIP"),
            WaitEvent("CHANNEL_DESTROY", "{route0}"),
            WaitEvent("CHANNEL_DESTROY", "kt-sb"),
            WaitEvent("CHANNEL_UNBRIDGE", "kt-sa"),
            Api("uuid_kill", "kt-sa", label="kill the caller"),
            WaitEvent("CHANNEL_DESTROY", "kt-sa"),
        ),
        bindings={"dialplan": PARK},
        events=(
            *CALL_EVENTS,
            "CHANNEL_PROGRESS",
            "CHANNEL_PROGRESS_MEDIA",
            "CHANNEL_BRIDGE",
            "CHANNEL_UNBRIDGE",
        ),
    ),
    Scenario(
        # The device refuses: the routed inbound leg hangs up busy before answering, so
        # its 486 ends the bridged leg USER_BUSY and the bridge fails.
        "sip_refused_by_itself",
        (
            Api("originate", "{origination_uuid=kt-ra}null/1000 &park", label="originate"),
            SendMsg(
                "kt-ra",
                execute("bridge", SIP_LEG % "kt-rb" + SIP_TARGET),
                label="bridge over SIP",
            ),
            WaitFetch(1),
            WaitEvent("CHANNEL_PARK", "{route0}"),
            SendMsg(
                "{route0}",
                (("call-command", "hangup"), ("hangup-cause", "USER_BUSY")),
                label="busy",
            ),
            WaitEvent("CHANNEL_DESTROY", "{route0}"),
            WaitEvent("CHANNEL_DESTROY", "kt-rb"),
            Api("uuid_getvar", "kt-ra originate_disposition", label="disposition"),
            Api("uuid_kill", "kt-ra", label="kill the caller"),
            WaitEvent("CHANNEL_DESTROY", "kt-ra"),
        ),
        bindings={"dialplan": PARK},
        events=CALL_EVENTS,
    ),
    Scenario(
        # ecallmgr's conference commands: the conference application with
        # "<name>@<profile>[+flags{...}]", then "conference <name> ..." (kick is
        # "hup last", mute_participant "mute last").
        "conference_join_leave",
        (
            Api("originate", "{origination_uuid=kt-c1}null/1000 &park", label="originate 1"),
            Api("originate", "{origination_uuid=kt-c2}null/1001 &park", label="originate 2"),
            SendMsg("kt-c1", execute("conference", "kt-room@default"), label="join 1"),
            # add-member, then floor-change: the first member takes the floor.
            WaitEvent("event", "kt-c1", count=2),
            Api("conference", "kt-room list", label="list one", view="shape"),
            SendMsg("kt-c2", execute("conference", "kt-room@default+flags{mute}"), label="join 2"),
            Api("conference", "kt-room list", label="list two", view="shape", until="kt-c2"),
            Api("conference", "kt-room unmute last", label="unmute last", view="shape"),
            Api("conference", "kt-room hup last", label="kick last", view="shape"),
            # conference::maintenance (Event-Name "event" in Kazoo's profile): add-member,
            # unmute-member, hup-member, del-member.
            WaitEvent("event", "kt-c2", count=4),
            Api("conference", "kt-room list", label="list after kick", view="shape"),
            Api("uuid_kill", "kt-c1", label="kill 1"),
            WaitEvent("CHANNEL_DESTROY", "kt-c1"),
            Api("conference", "kt-room list", label="list gone", view="shape"),
            Api("uuid_kill", "kt-c2", label="kill 2"),
            WaitEvent("CHANNEL_DESTROY", "kt-c2"),
        ),
        bindings={"configuration": CONFERENCE_CONF},
        events=(*CALL_EVENTS, "conference::maintenance"),
    ),
    Scenario(
        # KZ_CDR goes only to the node named by the channel's Call-Control-Node.
        "kz_cdr",
        (
            Api(
                "originate",
                "{origination_uuid=kt-cdr," + CONTROL_NODE + "}null/1000 &park",
                label="originate",
            ),
            # A null channel's playback never ends (no media clock): it is cut by the kill.
            SendMsg("kt-cdr", execute("playback", "tone_stream://%(100,0,440)"), label="play"),
            WaitEvent("CHANNEL_EXECUTE", "kt-cdr", count=2),  # park, playback
            Api("uuid_kill", "kt-cdr", label="kill"),
            WaitEvent("CHANNEL_DESTROY", "kt-cdr"),
        ),
        events=(*CALL_EVENTS, "KZ_CDR"),
    ),
    Scenario(
        # The channels section is bound; only mod_sofia's nightmare transfer looks it
        # up, so uuid commands on live and unknown channels must not.
        "channels_section_unused",
        (
            BgStart("originate", "{origination_uuid=kt-ch}loopback/4242/default &park", "ch"),
            WaitFetch(1),
            Api("uuid_exists", "kt-ch", label="uuid_exists live"),
            Api("uuid_exists", "{route0}", label="uuid_exists routed leg"),
            Api("uuid_dump", "no-such-uuid", label="uuid_dump unknown"),
            Api("uuid_getvar", "no-such-uuid channel_name", label="uuid_getvar unknown"),
            Api("uuid_kill", "kt-ch", label="kill"),
            BgCollect("ch", label="originate killed"),
        ),
        bindings={"dialplan": PARK, "channels": CHANNELS},
    ),
)

# A SIP call: mod_kazoo's interaction id (set by its tweaks), the version in
# User-Agent, and the SDP of real media.
_SIP: dict[str, tuple[str, ...]] = {
    "fetch fields": (*TWEAKED, "User-Agent"),
    "stream fields": (
        *TWEAKED,
        "Local-SDP",
        "Remote-SDP",
        "User-Agent",
    ),
}
# KZ_CDR (made by the FreeSWITCH backend from the XML CDR FreeSWITCH attaches to
# CHANNEL_HANGUP_COMPLETE): the interaction mod_kazoo's tweaks set.
_KZ_CDR = (
    "Call-Interaction.Id",
    "Call-Interaction.Is-Root",
    "Call-Interaction.Key",
    *TWEAKED,
)

# scenario -> aspect -> what is known to differ (each field with its reason in REASONS).
KNOWN: dict[str, dict[str, tuple[str, ...]]] = {
    "sip_bridge_to_itself": _SIP,
    "sip_refused_by_itself": _SIP,
    "conference_join_leave": {
        "fetch fields": (*TWEAKED,),
        "stream fields": (*TWEAKED,),
    },
    "kz_cdr": {"stream fields": _KZ_CDR},
    "channels_section_unused": {},
}


test_simulated_switch_matches_freeswitch, test_every_known_difference_has_its_reason = (
    scenario_tests(SCENARIOS, KNOWN)
)
