"""Calls on the simulated switch: endpoints, originate, channel events, uuid_* commands."""

from __future__ import annotations

import json

import trio

from kazoo_trio.switch.sim import SimTimings
from tests.switch.callhelpers import (
    QUICK,
    bind_dialplan,
    bind_directory,
    dialplan_document,
    extension,
    running_switch,
)

CLOSING = [
    "CHANNEL_HANGUP",
    "CHANNEL_UNPARK",
    "CHANNEL_EXECUTE_COMPLETE:park",
    "CHANNEL_STATE:CS_HANGUP",
    "CHANNEL_CALLSTATE:HANGUP",
    "CHANNEL_STATE:CS_REPORTING",
    # mod_kazoo's on_reporting handler runs before the core fires HANGUP_COMPLETE.
    "KZ_CDR",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_DESTROY",
    "CHANNEL_STATE:CS_DESTROY",
]


def uuid_of(text: str) -> str:
    assert text.startswith("+OK "), text
    return text[4:].strip()


async def test_originate_null_park_and_kill_fires_freeswitch_sequence() -> None:
    async with running_switch() as (sw, rec):
        result = await sw.api("originate", "null/1000 &park()")
        uuid = uuid_of(result.text)
        await rec.wait_event("CHANNEL_PARK", uuid)
        assert (await sw.api("uuid_exists", uuid)).text == "true"
        assert (await sw.api("uuid_kill", uuid)).text == "+OK\n"
        destroy = await rec.wait_event("CHANNEL_DESTROY", uuid)
        assert rec.names(uuid) == [
            "CHANNEL_STATE:CS_INIT",
            "CHANNEL_CREATE",
            "CHANNEL_ORIGINATE",
            "CHANNEL_STATE:CS_CONSUME_MEDIA",
            "CHANNEL_ANSWER",
            "CHANNEL_CALLSTATE:ACTIVE",
            "CALL_UPDATE",
            "CHANNEL_STATE:CS_EXECUTE",
            "CHANNEL_EXECUTE:park",
            "CHANNEL_PARK",
            *CLOSING,
        ]
        create = rec.of(uuid)[1]
        assert create.get("Channel-Name") == "null/1000"
        assert create.get("Call-Direction") == "outbound"
        assert create.get("Caller-Destination-Number") == "1000"
        assert create.get("Caller-Callee-ID-Name") == "Outbound Call"
        assert create.get("Answer-State") == "ringing"
        assert create.get("variable_direction") == "outbound"
        assert destroy.get("Hangup-Cause") == "NORMAL_CLEARING"
        assert destroy.get("variable_hangup_cause") == "NORMAL_CLEARING"
        assert destroy.get("variable_hangup_cause_q850") == "16"
        assert destroy.get("Channel-State-Number") == "12"
        # API events are created before their command runs and fired after it (as in
        # FreeSWITCH); every channel event is fired in the order it was created.
        sequences = [int(e.get("Event-Sequence") or 0) for e in rec.events if e.name != "API"]
        assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
        assert len(sw.channels) == 0
        assert (await sw.api("uuid_exists", uuid)).text == "false"


async def test_error_endpoint_and_unknown_endpoints_fail_with_causes() -> None:
    async with running_switch() as (sw, rec):
        assert (await sw.api("originate", "error/user_busy &park()")).text == "-ERR USER_BUSY\n"
        assert (await sw.api("originate", "error/17 &park()")).text == "-ERR USER_BUSY\n"
        assert (await sw.api("originate", "error/NO_ANSWER &park()")).text == "-ERR NO_ANSWER\n"
        text = (await sw.api("originate", "error/bogus &park()")).text
        assert text == "-ERR NORMAL_CLEARING\n"
        text = (await sw.api("originate", "sofia/x/y &park()")).text
        assert text == "-ERR INVALID_PROFILE\n"
        text = (await sw.api("originate", "skypopen/x/y &park()")).text
        assert text == "-ERR CHAN_NOT_IMPLEMENTED\n"
        assert (await sw.api("originate", "null/1")).text.startswith("-USAGE: <call url>")
        assert not any(e.name == "CHANNEL_CREATE" for e in rec.events)


async def test_failover_and_ring_all_dial_strings() -> None:
    async with running_switch() as (sw, rec):
        # '|' tries the next group after a failure; {} variables reach every leg.
        result = await sw.api("originate", "{sim_tag=a}error/USER_BUSY|null/2000 &park()")
        uuid = uuid_of(result.text)
        assert (await sw.api("uuid_getvar", f"{uuid} sim_tag")).text == "a"
        # ',' rings together: the first to answer wins, the other loses the race.
        bind_directory(sw, "example.com", '<user id="1"/>')
        result = await sw.api("originate", "[leg=slow]user/1@example.com,[leg=fast]null/3 &park()")
        winner = uuid_of(result.text)
        assert (await sw.api("uuid_getvar", f"{winner} leg")).text == "fast"
        loser = await rec.wait_event("CHANNEL_HANGUP", Channel_Name="user/1@example.com")
        assert loser.get("Hangup-Cause") == "LOSE_RACE"
        assert loser.get("variable_leg") == "slow"
        await sw.api("hupall", "")
        await rec.wait_event("CHANNEL_DESTROY", winner)
        assert len(sw.channels) == 0


async def test_user_endpoint_rings_then_answers_or_fails() -> None:
    async with running_switch() as (sw, rec):
        bind_directory(
            sw,
            "example.com",
            '<user id="1000"/><user id="1001"><variables>'
            '<variable name="sim_registered" value="false"/></variables></user>',
        )
        uuid = uuid_of((await sw.api("originate", "user/1000@example.com &park()")).text)
        await rec.wait_event("CHANNEL_PARK", uuid)
        names = rec.names(uuid)
        assert names.index("CHANNEL_PROGRESS") < names.index("CHANNEL_ANSWER")
        assert rec.of(uuid)[0].get("Channel-Name") == "user/1000@example.com"
        text = (await sw.api("originate", "user/1001@example.com &park()")).text
        assert text == "-ERR USER_NOT_REGISTERED\n"
        text = (await sw.api("originate", "user/2000@example.com &park()")).text
        assert text == "-ERR SUBSCRIBER_ABSENT\n"
        text = (await sw.api("originate", "user/1000@other.com &park()")).text
        assert text == "-ERR SUBSCRIBER_ABSENT\n"


async def test_unanswered_leg_times_out_with_no_answer() -> None:
    async with running_switch(SimTimings(ring_delay=30)) as (sw, rec):
        bind_directory(sw, "example.com", '<user id="1000"/>')
        with trio.fail_after(5):
            text = (
                await sw.api("originate", "{originate_timeout=1}user/1000@example.com &park()")
            ).text
        assert text == "-ERR NO_ANSWER\n"
        hangup = await rec.wait_event("CHANNEL_HANGUP")
        assert hangup.get("Hangup-Cause") == "NO_ANSWER"
        await rec.wait_event("CHANNEL_DESTROY")
        assert len(sw.channels) == 0


async def test_a_leg_past_its_leg_timeout_is_allotted_timeout() -> None:
    # check_per_channel_timeouts hangs the leg up ALLOTTED_TIMEOUT; with every leg
    # down, the originate fails with that cause.
    async with running_switch(SimTimings(ring_delay=30)) as (sw, rec):
        bind_directory(sw, "example.com", '<user id="1000"/>')
        with trio.fail_after(5):
            text = (await sw.api("originate", "{leg_timeout=1}user/1000@example.com &park()")).text
        assert text == "-ERR ALLOTTED_TIMEOUT\n"
        hangup = await rec.wait_event("CHANNEL_HANGUP")
        assert hangup.get("Hangup-Cause") == "ALLOTTED_TIMEOUT"
        await rec.wait_event("CHANNEL_DESTROY")
        assert len(sw.channels) == 0


async def test_loopback_routes_far_leg_through_dialplan_bindings() -> None:
    async with running_switch() as (sw, rec):
        seen: list = []
        document = dialplan_document(
            "sim",
            extension([("answer", ""), ("set", "routed=$1"), ("park", "")], r"^(\d+)$"),
        )
        bind_dialplan(sw, document, seen)
        a_uuid = uuid_of((await sw.api("originate", "loopback/4000/sim &park()")).text)
        b_uuid = (await sw.api("uuid_getvar", f"{a_uuid} other_loopback_leg_uuid")).text
        await rec.wait_event("CHANNEL_PARK", b_uuid)
        assert (await sw.api("uuid_getvar", f"{b_uuid} routed")).text == "4000"
        params = seen[0].params
        assert seen[0].section == "dialplan"
        assert params.get("Hunt-Destination-Number") == "4000"
        assert params.get("Hunt-Context") == "sim"
        assert params.get("Caller-Destination-Number") == "4000"
        assert params.get("Unique-ID") == b_uuid
        b_create = rec.of(b_uuid)[1]
        assert b_create.get("Channel-Name") == "loopback/4000-b"
        assert b_create.get("Call-Direction") == "inbound"
        assert rec.of(a_uuid)[0].get("Channel-Name") == "loopback/4000-a"
        assert rec.names(b_uuid)[:5] == [
            "CHANNEL_STATE:CS_INIT",
            "CHANNEL_CREATE",
            "CHANNEL_CALLSTATE:RINGING",
            "CHANNEL_STATE:CS_ROUTING",
            "CHANNEL_STATE:CS_EXECUTE",
        ]
        # Hanging up one leg of the pair takes the other with it.
        await sw.api("uuid_kill", f"{b_uuid} USER_BUSY")
        await rec.wait_event("CHANNEL_DESTROY", a_uuid)
        await rec.wait_event("CHANNEL_DESTROY", b_uuid)
        assert len(sw.channels) == 0


async def test_no_route_hangs_up_with_no_route_destination() -> None:
    async with running_switch() as (sw, rec):
        assert (await sw.api("originate", "loopback/5000 &park()")).text == (
            "-ERR NO_ROUTE_DESTINATION\n"
        )
        # A document that does not match the destination is no route either.
        bind_dialplan(sw, dialplan_document("default", extension([("park", "")], "^1$")))
        assert (await sw.api("originate", "loopback/5000 &park()")).text == (
            "-ERR NO_ROUTE_DESTINATION\n"
        )
        await rec.wait_for(lambda e: e.name == "CHANNEL_DESTROY" and len(sw.channels) == 0)


async def test_uuid_commands_on_unknown_uuid() -> None:
    async with running_switch() as (sw, _):
        for command in (
            "uuid_kill",
            "uuid_getvar",
            "uuid_setvar",
            "uuid_setvar_multi",
            "uuid_dump",
            "uuid_park",
            "uuid_break",
            "uuid_transfer",
        ):
            result = await sw.api(command, "nope a b c")
            assert result.text == "-ERR No such channel!\n", command
        for command, args, text in (
            ("uuid_send_dtmf", "nope 1", "-ERR Cannot locate session!\n"),
            ("uuid_record", "nope start /tmp/x.wav", "-ERR Cannot locate session!\n"),
            ("uuid_broadcast", "nope /tmp/x.wav", "-ERR invalid uuid\n"),
            ("uuid_answer", "nope", "-ERROR\n"),
            # switch_ivr_hold_uuid succeeds when no channel has the uuid.
            ("uuid_hold", "nope", "+OK Success\n"),
            ("uuid_recv_dtmf", "nope 1", "-ERR Cannot locate session!\n"),
        ):
            assert (await sw.api(command, args)).text == text, command
        assert (await sw.api("uuid_bridge", "nope other")).text == "-ERR Invalid uuid\n"
        assert (await sw.api("uuid_exists", "nope")).text == "false"
        assert (await sw.api("uuid_kill", "")).text.startswith("-USAGE")


async def test_uuid_commands_on_a_live_channel() -> None:
    async with running_switch() as (sw, rec):
        uuid = uuid_of((await sw.api("originate", "null/1000 &park()")).text)
        await rec.wait_event("CHANNEL_PARK", uuid)
        assert (await sw.api("uuid_setvar", f"{uuid} color blue")).text == "+OK\n"
        assert (await sw.api("uuid_getvar", f"{uuid} color")).text == "blue"
        assert (await sw.api("uuid_getvar", f"{uuid} missing")).text == "_undef_"
        assert (await sw.api("uuid_setvar_multi", f"{uuid} a=1;b=2")).text == "+OK\n"
        assert (await sw.api("uuid_getvar", f"{uuid} b")).text == "2"
        dump = (await sw.api("uuid_dump", uuid)).text
        assert f"Unique-ID: {uuid}\n" in dump and "variable_color: blue\n" in dump
        dumped = json.loads((await sw.api("uuid_dump", f"{uuid} json")).text)
        assert dumped["variable_a"] == "1"
        text = (await sw.api("uuid_recv_dtmf", f"{uuid} 12#")).text
        assert text == f"+OK {uuid} received DTMF 12#.\n"
        digits = [e.get("DTMF-Digit") for e in rec.of(uuid) if e.name == "DTMF"]
        assert digits == ["1", "2", "#"]
        assert (await sw.api("uuid_hold", uuid)).text == "+OK Success\n"
        await rec.wait_event("CHANNEL_HOLD", uuid)
        # A null/ call is never HELD (only mod_sofia marks its leg holding): no unhold.
        assert (await sw.api("uuid_hold", f"off {uuid}")).text == "-ERR Operation failed\n"
        assert (await sw.api("uuid_record", f"{uuid} start /tmp/r.wav")).text == "+OK Success\n"
        await rec.wait_event("RECORD_START", uuid, Record_File_Path="/tmp/r.wav")
        assert (await sw.api("uuid_record", f"{uuid} stop /tmp/r.wav")).text == "+OK Success\n"
        await rec.wait_event("RECORD_STOP", uuid)
        text = (await sw.api("uuid_broadcast", f"{uuid} /tmp/hello.wav")).text
        assert text == "+OK Message sent\n"
        await rec.wait_event("PLAYBACK_STOP", uuid, Playback_Status="done")
        await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", uuid, Application="playback",
                             Application_Response="FILE PLAYED")  # fmt: skip
        # Long playback interrupted by uuid_break.
        await sw.api("uuid_broadcast", f"{uuid} silence_stream://-1")
        await rec.wait_event("PLAYBACK_START", uuid, Playback_File_Path="silence_stream://-1")
        assert (await sw.api("uuid_break", uuid)).text == "+OK\n"
        await rec.wait_event("PLAYBACK_STOP", uuid, Playback_Status="break")
        # uuid_transfer without a dialplan binding: no route.
        assert (await sw.api("uuid_transfer", f"{uuid} 1234 XML default")).text == "+OK\n"
        hangup = await rec.wait_event("CHANNEL_HANGUP", uuid)
        assert hangup.get("Hangup-Cause") == "NO_ROUTE_DESTINATION"
        assert hangup.get("Caller-Destination-Number") == "1234"
        assert hangup.get("Caller-Profile-Index") == "2"


async def test_show_channels_as_json_and_hupall() -> None:
    async with running_switch() as (sw, rec):
        assert (await sw.api("show", "channels as json")).text == '{"row_count": 0}\n'
        first = uuid_of((await sw.api("originate", "null/1 &park()")).text)
        second = uuid_of((await sw.api("originate", "null/2 &echo()")).text)
        await rec.wait_event("CHANNEL_PARK", first)
        await rec.wait_event("CHANNEL_EXECUTE", second, Application="echo")
        rows = json.loads((await sw.api("show", "channels as json")).text)
        assert rows["row_count"] == 2
        by_uuid = {row["uuid"]: row for row in rows["rows"]}
        assert by_uuid[first]["name"] == "null/1"
        assert by_uuid[second]["application"] == "echo"
        assert by_uuid[first]["callstate"] == "ACTIVE"
        assert (await sw.api("show", "channels count")).text == "\n2 total.\n"
        text = (await sw.api("hupall", "USER_BUSY")).text
        assert text == "+OK hangup all channels with cause USER_BUSY\n"
        for uuid in (first, second):
            destroy = await rec.wait_event("CHANNEL_DESTROY", uuid)
            assert destroy.get("Hangup-Cause") == "USER_BUSY"


async def test_uuid_bridge_joins_and_ends_together() -> None:
    async with running_switch() as (sw, rec):
        a = uuid_of((await sw.api("originate", "null/1 &park()")).text)
        b = uuid_of((await sw.api("originate", "null/2 &park()")).text)
        assert (await sw.api("uuid_bridge", f"{a} {b}")).text == f"+OK {b}\n"
        bridge = await rec.wait_event("CHANNEL_BRIDGE", a)
        assert bridge.get("Bridge-A-Unique-ID") == a
        assert bridge.get("Bridge-B-Unique-ID") == b
        assert bridge.get("Other-Leg-Unique-ID") == b
        await rec.wait_event("CHANNEL_STATE", b, Channel_State="CS_EXCHANGE_MEDIA")
        await sw.api("uuid_kill", b)
        await rec.wait_event("CHANNEL_UNBRIDGE", a)
        await rec.wait_event("CHANNEL_DESTROY", a)
        assert len(sw.channels) == 0


async def test_shutdown_hangs_up_every_channel_with_system_shutdown() -> None:
    baseline = trio.lowlevel.current_statistics().tasks_living
    async with running_switch() as (sw, rec):
        for n in range(3):
            await sw.api("originate", f"null/{n} &park()")
        assert len(sw.channels) == 3
    destroys = [e for e in rec.events if e.name == "CHANNEL_DESTROY"]
    assert len(destroys) == 3
    assert {e.get("Hangup-Cause") for e in destroys} == {"SYSTEM_SHUTDOWN"}
    assert len(sw.channels) == 0
    assert trio.lowlevel.current_statistics().tasks_living == baseline


async def test_originate_without_a_running_switch_fails_cleanly() -> None:
    from kazoo_trio.switch.sim import SimSwitch

    sw = SimSwitch(timings=QUICK)
    text = (await sw.api("originate", "null/1 &park()")).text
    assert text == "-ERR NORMAL_TEMPORARY_FAILURE\n"


def test_dial_string_parsing() -> None:
    from kazoo_trio.switch.sim.originate import parse_dialstring

    groups = parse_dialstring("<e=5>{a=1,b='x,y'}[c=3]null/1,user/2@d.com|error/USER_BUSY")
    common = {"e": "5", "a": "1", "b": "x,y"}
    assert [[(leg.url, leg.variables) for leg in group] for group in groups] == [
        [("null/1", {**common, "c": "3"}), ("user/2@d.com", common)],
        [("error/USER_BUSY", common)],
    ]
    assert parse_dialstring("null/1:_:null/2") == parse_dialstring("null/1,null/2")
    assert parse_dialstring("") == []


def test_traffic_spec_parsing() -> None:
    import pytest

    from kazoo_trio.switch.sim.traffic import TrafficSpec, parse_traffic

    assert parse_traffic("2") == TrafficSpec(2.0, 10.0)
    assert parse_traffic("0.5:30") == TrafficSpec(0.5, 30.0)
    for bad in ("x", "0", "-1:2", "1:-2", "1:x"):
        with pytest.raises(ValueError):
            parse_traffic(bad)


async def test_traffic_generator_routes_and_ends_its_calls() -> None:
    from kazoo_trio.switch.sim.traffic import TrafficGenerator, TrafficSpec

    async with running_switch() as (sw, rec):
        bind_dialplan(sw, dialplan_document("sim", extension([("answer", ""), ("park", "")])))
        generator = TrafficGenerator(sw, TrafficSpec(rate=40, hold=0.2, context="sim"))
        async with trio.open_nursery() as nursery:
            await nursery.start(generator.run)
            await rec.wait_for(
                lambda e: sum(1 for x in rec.events if x.name == "CHANNEL_DESTROY") >= 5
            )
            nursery.cancel_scope.cancel()
        with trio.fail_after(5):
            while len(sw.channels):
                await rec.wait_event("CHANNEL_DESTROY")
                rec.events[:] = [e for e in rec.events if e.name != "CHANNEL_DESTROY"]
        creates = [e for e in rec.events if e.name == "CHANNEL_CREATE"]
        assert len(creates) == generator.placed >= 5
        first = creates[0]
        assert first.get("Call-Direction") == "inbound"
        assert first.get("Caller-Context") == "sim"
        assert first.get("Channel-Name", "").startswith("sim/+1555")
