"""Call control as Kazoo's ecallmgr drives it, on the simulated switch and on the real
FreeSWITCH: the channel list, a blind transfer, hold/unhold, DTMF and the hang-up
causes of real calls.

Every command is sent the way ``applications/ecallmgr/src`` (2600hz/kazoo) sends it:
applications as ``{command, UUID, Headers}`` / ``{commands, UUID, [Headers]}``
(``freeswitch:cmd``/``cmds`` from ``ecallmgr_util:send_cmd``/``send_cmds``), and what
``send_cmd`` turns into API calls (``hangup`` -> ``uuid_kill <uuid> <cause>``,
``hold_control`` -> ``uuid_hold [off] <uuid>``, ``recv_dtmf`` -> ``uuid_recv_dtmf``)
as ``{api, ...}``.  The streams subscribe to ecallmgr's own event lists
(``ecallmgr.app.src``: ``event_stream``), with ``CHANNEL_PARK`` added where a step
waits for a parked call.
"""

from __future__ import annotations

import pytest

from tests.scenarios.common import TWEAKED, execute, scenario_tests
from tests.scenarios.runner import (
    Api,
    BgApi,
    BgCollect,
    BgStart,
    Command,
    Commands,
    Scenario,
    WaitEvent,
    WaitFetch,
)

pytestmark = [pytest.mark.erl, pytest.mark.slow]

# ecallmgr's event stream lists (ecallmgr.app.src, event_stream) for a call under
# control.
ECALLMGR_EVENTS = (
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_DESTROY",
    "DTMF",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_DATA",
    "CALL_UPDATE",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
)
EVENTS = (*ECALLMGR_EVENTS, "CHANNEL_PARK")


def _route(destination: str, *actions: str) -> str:
    return (
        f'<extension name="{destination}"><condition field="destination_number"'
        f' expression="^{destination}$">{"".join(actions)}</condition></extension>'
    )


def _action(app: str, data: str = "") -> str:
    return (
        f'<action application="{app}" data="{data}"/>' if data else f'<action application="{app}"/>'
    )


_PARKED = (
    _action("multiset", "^^|Call-Control-Queue=q1|kt_routed=erlang"),
    _action("park"),
)

# The route document every dialplan lookup gets: 4242 (the inbound call) and 2000
# (a transfer's target) are parked under control; ``talk`` answers and parks (a
# callee); ``ring`` parks unanswered (a callee that never answers); ``busy`` and
# ``oor`` hang up with a cause, as a far end refusing the call; any other
# destination has no route.
ROUTES = (
    '<document type="freeswitch/xml"><section name="dialplan"><context name="@CTX@">'
    + _route("4242", *_PARKED)
    + _route("2000", *_PARKED)
    + _route("talk", _action("answer"), _action("park"))
    + _route("ring", _action("park"))
    + _route("busy", _action("hangup", "USER_BUSY"))
    + _route("oor", _action("hangup", "DESTINATION_OUT_OF_ORDER"))
    + "</context></section></document>"
)

# An inbound call as the tests see one: a loopback pair whose -b leg ({route0})
# runs the route and is parked; the -a leg (kt-in) is parked by the originate.
INBOUND = (
    BgStart("originate", "{origination_uuid=kt-in}loopback/4242/default &park", "in"),
    WaitFetch(1),
    WaitEvent("CHANNEL_PARK", "{route0}"),
    Command("{route0}", execute("answer"), label="answer"),
    WaitEvent("CHANNEL_ANSWER", "{route0}"),
    BgCollect("in", label="originate answered"),
)

# ecallmgr's hangup: send_cmd(..., "hangup", Cause) -> uuid_kill <uuid> <cause>.
END_INBOUND = (
    Api("uuid_kill", "{route0} ", label="hangup"),
    WaitEvent("CHANNEL_DESTROY", "{route0}"),
    WaitEvent("CHANNEL_DESTROY", "kt-in"),
)


SCENARIOS = (
    Scenario(
        "show_channels",
        (
            Api("originate", "{origination_uuid=kt-sc}null/1000 &park", label="originate"),
            Api("show", "channels", label="show channels", view="table", until="kt-sc"),
            Api(
                "show",
                "channels as json",
                label="show channels as json",
                view="json",
                until="kt-sc",
            ),
            Api("uuid_kill", "kt-sc", label="kill"),
        ),
    ),
    Scenario(
        "blind_transfer",
        (
            *INBOUND,
            # ecallmgr_fs_transfer:blind/3 through send_cmds: the referral variables,
            # then blind_xfer (dialplan_application/1: "transfer") with no leg.
            Commands(
                "{route0}",
                (
                    execute(
                        "kz_uuid_multiset_encoded",
                        "{route0} ^^|sip_refer_to=%3Csip%3A2000%40nodomain.com%3E"
                        "|Signal-Bridge-To={route0}",
                    ),
                    execute("transfer", " 2000 XML context_2"),
                ),
                label="blind transfer",
            ),
            WaitFetch(2),
            WaitEvent("CHANNEL_PARK", "{route1}"),
            Api("uuid_getvar", "{route0} sip_refer_to", label="refer-to after the transfer"),
            *END_INBOUND,
        ),
        bindings={"dialplan": ROUTES},
        events=EVENTS,
    ),
    Scenario(
        "hold_unhold",
        (
            *INBOUND,
            # hold_control: {<<"uuid_hold">>, [Arg, " ", UUID]} with Arg <<>> (hold),
            # <<"off">> (unhold), <<"toggle">>.
            Api("uuid_hold", " {route0}", label="hold"),
            Api("uuid_getvar", "{route0} kt_routed", label="variable while held"),
            Api("uuid_hold", " {route0}", label="hold again"),
            Api("uuid_hold", "off {route0}", label="unhold"),
            Api("uuid_hold", "off {route0}", label="unhold again"),
            Api("uuid_hold", "toggle {route0}", label="toggle on"),
            Api("uuid_hold", "toggle {route0}", label="toggle off"),
            Api("uuid_hold", " no-such-uuid", label="hold unknown"),
            *END_INBOUND,
        ),
        bindings={"dialplan": ROUTES},
        events=EVENTS,
    ),
    Scenario(
        "music_and_soft_hold",
        (
            *INBOUND,
            # hold: {<<"kz_endless_playback">>, Hold-Media}; ended by playstop
            # (uuid_break <uuid> all).
            Command(
                "{route0}",
                execute("kz_endless_playback", "tone_stream://%(100,100,440);loops=-1"),
                label="music on hold",
            ),
            # Once it plays (what the running application was given).
            Api(
                "uuid_getvar",
                "{route0} current_application_data",
                label="playing",
                until="tone_stream",
            ),
            Api("uuid_break", "{route0} all", label="playstop"),
            WaitEvent("CHANNEL_EXECUTE_COMPLETE", "{route0}", "kz_endless_playback"),
            Command(
                "{route0}",
                execute("bridge", "{origination_uuid=kt-talk}loopback/talk/default"),
                label="bridge",
            ),
            WaitEvent("CHANNEL_BRIDGE", "{route0}"),
            WaitFetch(2),
            # soft_hold: [UnholdKey, " ", A-MOH (silence), " ", B-MOH (${hold_music})];
            # the unhold key comes as recv_dtmf would bring it.
            Command("{route0}", execute("soft_hold", "* silence ${hold_music}"), label="soft"),
            Api("uuid_getvar", "{route0} current_application", label="held", until="soft_hold"),
            Api("uuid_recv_dtmf", "{route0} *", label="unhold key"),
            WaitEvent("CHANNEL_EXECUTE_COMPLETE", "{route0}", "soft_hold"),
            # unbridge: {<<"transfer">>, [UUID, " ", Leg, " park: inline"]} with no leg,
            # which send_cmd runs as uuid_transfer.
            Api("uuid_transfer", "{route0}  park: inline", label="unbridge"),
            WaitEvent("CHANNEL_UNBRIDGE", "{route0}"),
            WaitEvent("CHANNEL_DESTROY", "kt-talk"),
            Api("uuid_getvar", "{route0} current_application", label="parked", until="park"),
            *END_INBOUND,
            WaitEvent("CHANNEL_DESTROY", "{route1}"),
        ),
        bindings={"dialplan": ROUTES},
        events=EVENTS,
    ),
    Scenario(
        "dtmf",
        (
            *INBOUND,
            # send_dtmf: {<<"send_dtmf">>, [DTMFs, "@", Duration]}; the loopback pair
            # carries the digits to the other leg (kt-in, parked).
            Command("{route0}", execute("send_dtmf", "12@200"), label="send_dtmf"),
            WaitEvent("CHANNEL_EXECUTE_COMPLETE", "{route0}", "send_dtmf"),
            # recv_dtmf: {<<"uuid_recv_dtmf">>, [UUID, " ", DTMFs]}.
            Api("uuid_recv_dtmf", "{route0} 3@100", label="uuid_recv_dtmf"),
            Api("uuid_send_dtmf", "kt-in 4", label="uuid_send_dtmf"),
            Api("uuid_send_dtmf", "no-such-uuid 4", label="uuid_send_dtmf unknown"),
            Api("uuid_recv_dtmf", "no-such-uuid 4", label="uuid_recv_dtmf unknown"),
            *END_INBOUND,
        ),
        bindings={"dialplan": ROUTES},
        events=EVENTS,
    ),
    Scenario(
        "no_answer",
        (
            # An originate whose leg rings past originate_timeout.
            BgApi(
                "originate",
                "{origination_uuid=kt-na,originate_timeout=1}loopback/ring/default &park",
                label="originate unanswered",
            ),
            WaitFetch(1),
            WaitEvent("CHANNEL_DESTROY", "kt-na"),
            WaitEvent("CHANNEL_DESTROY", "{route0}"),
        ),
        bindings={"dialplan": ROUTES},
        events=EVENTS,
    ),
    Scenario(
        "originator_cancel",
        (
            *INBOUND,
            # The caller hangs up while the bridge's callee still rings.
            Command(
                "{route0}",
                execute("bridge", "{origination_uuid=kt-oc}loopback/ring/default"),
                label="bridge",
            ),
            WaitFetch(2),
            WaitEvent("CHANNEL_PARK", "{route1}"),
            *END_INBOUND,
            WaitEvent("CHANNEL_DESTROY", "kt-oc"),
            WaitEvent("CHANNEL_DESTROY", "{route1}"),
        ),
        bindings={"dialplan": ROUTES},
        events=EVENTS,
    ),
    Scenario(
        "bridge_failures",
        (
            *INBOUND,
            # ecallmgr's bridges carry on after a failed leg (Continue-On-Fail).
            Command("{route0}", execute("set", "continue_on_fail=true"), label="continue"),
            # Callees that refuse: the far end hangs up with a cause, has no route, or
            # rings past its leg_timeout (as ecallmgr's endpoints carry it).  What the
            # failure leaves on the caller is read back after each.
            *(
                step
                for i, (dest, uuid, leg, cause) in enumerate(
                    (
                        ("busy", "kt-busy", "", "USER_BUSY"),
                        ("oor", "kt-oor", "", "DESTINATION_OUT_OF_ORDER"),
                        ("nowhere", "kt-nr", "", "NO_ROUTE_DESTINATION"),
                        ("ring", "kt-na", "[leg_timeout=1]", "ALLOTTED_TIMEOUT"),
                    ),
                    1,
                )
                for step in (
                    Command(
                        "{route0}",
                        execute(
                            "bridge", f"{{origination_uuid={uuid}}}{leg}loopback/{dest}/default"
                        ),
                        label=f"bridge {dest}",
                    ),
                    WaitFetch(1 + i),
                    WaitEvent("CHANNEL_DESTROY", uuid),
                    WaitEvent("CHANNEL_DESTROY", f"{{route{i}}}"),
                    # (Kazoo's profile filters the bridge's completion out: wait for
                    # the cause it leaves.)
                    Api(
                        "uuid_getvar",
                        "{route0} originate_failed_cause",
                        label=f"{dest}: cause",
                        until=cause,
                    ),
                    Api("uuid_getvar", "{route0} originate_disposition", label=f"{dest}: dispo"),
                )
            ),
            *END_INBOUND,
        ),
        bindings={"dialplan": ROUTES},
        events=EVENTS,
    ),
)


# What every call shows (TWEAKED) and, in the verbose CALL_UPDATE/CHANNEL_HOLD/
# CHANNEL_DATA frames, the variable mod_kazoo's tweaks set.
_VERBOSE_STREAM = (*TWEAKED, "variable_execute_on_blind_transfer")

# scenario -> aspect -> what is known to differ: fields (and the columns of a table
# reply, "label: column") each with its reason in REASONS.
KNOWN: dict[str, dict[str, tuple[str, ...]]] = {
    "show_channels": {},
    "blind_transfer": {
        "stream fields": (
            *_VERBOSE_STREAM,
            "Raw-Application-Data",
            "variable_current_application",
            "variable_current_application_data",
        ),
    },
    "hold_unhold": {"stream fields": _VERBOSE_STREAM},
    "music_and_soft_hold": {"stream fields": (*_VERBOSE_STREAM, "Call-Control.Queue")},
    "dtmf": {"stream fields": _VERBOSE_STREAM},
    "no_answer": {"stream fields": TWEAKED},
    "originator_cancel": {"stream fields": _VERBOSE_STREAM},
    "bridge_failures": {"stream fields": _VERBOSE_STREAM},
}


test_simulated_switch_matches_freeswitch, test_every_known_difference_has_its_reason = (
    scenario_tests(SCENARIOS, KNOWN)
)
