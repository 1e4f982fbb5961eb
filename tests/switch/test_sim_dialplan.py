"""Dialplan routing and applications on the simulated switch (dialplan XML, sendmsg/command)."""

from __future__ import annotations

import trio

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.sim import SimSwitch
from tests.switch.callhelpers import (
    bind_dialplan,
    dialplan_document,
    extension,
    running_switch,
)


def uuid_of(text: str) -> str:
    assert text.startswith("+OK "), text
    return text[4:].strip()


async def b_leg(sw: SimSwitch, destination: str) -> tuple[str, str]:
    """Originate ``loopback/<destination>`` parked; (a-leg, b-leg) UUIDs."""
    a = uuid_of((await sw.api("originate", f"loopback/{destination} &park()")).text)
    b = (await sw.api("uuid_getvar", f"{a} other_loopback_leg_uuid")).text
    return a, b


def command(sw: SimSwitch, *headers: tuple[str, str], name: str = "COMMAND") -> Event:
    return sw.new_event(name, headers=headers)


async def test_conditions_captures_anti_actions_and_continue() -> None:
    async with running_switch() as (sw, rec):
        extensions = (
            '<extension name="first" continue="true"><condition field="destination_number" '
            'expression="^(\\d\\d)(\\d+)$"><action application="set" data="prefix=$1"/>'
            '<action application="set" data="rest=$2"/></condition></extension>'
            '<extension name="second">'
            '<condition field="${prefix}" expression="^12$" break="never">'
            '<action application="set" data="matched=yes"/>'
            '<anti-action application="set" data="matched=no"/></condition>'
            '<condition field="caller_id_number" expression="^nomatch$">'
            '<anti-action application="answer" data=""/>'
            '<anti-action application="park" data=""/></condition></extension>'
            '<extension name="never"><condition><action application="set" data="never=1"/>'
            "</condition></extension>"
        )
        bind_dialplan(sw, dialplan_document("default", extensions))
        _, b = await b_leg(sw, "12345")
        await rec.wait_event("CHANNEL_PARK", b)
        values = {
            name: (await sw.api("uuid_getvar", f"{b} {name}")).text
            for name in ("prefix", "rest", "matched", "never")
        }
        # Actions run after the hunt: ${prefix} was still unset when "second" was tested.
        assert values == {"prefix": "12", "rest": "345", "matched": "no", "never": "_undef_"}
        applications = [
            (e.get("Application"), e.get("Application-Data"))
            for e in rec.of(b)
            if e.name == "CHANNEL_EXECUTE"
        ]
        assert applications == [
            ("set", "prefix=12"),
            ("set", "rest=345"),
            ("set", "matched=no"),
            ("answer", None),  # an empty header is left out, as FreeSWITCH does
            ("park", None),
        ]


async def test_global_context_and_not_found_document() -> None:
    async with running_switch() as (sw, rec):
        not_found = (
            '<document type="freeswitch/xml"><section name="result">'
            '<result status="not found"/></section></document>'
        )
        bind_dialplan(sw, not_found)
        text = (await sw.api("originate", "loopback/1/ctx &park()")).text
        assert text == "-ERR NO_ROUTE_DESTINATION\n"
    async with running_switch() as (sw, rec):
        bind_dialplan(sw, dialplan_document("global", extension([("answer", ""), ("park", "")])))
        _, b = await b_leg(sw, "77")
        await rec.wait_event("CHANNEL_PARK", b)


async def test_commands_run_in_order_with_execute_events() -> None:
    async with running_switch() as (sw, rec):
        bind_dialplan(sw, dialplan_document("default", extension([("answer", ""), ("park", "")])))
        _, b = await b_leg(sw, "100")
        await rec.wait_event("CHANNEL_PARK", b)
        queued = [
            command(sw, ("call-command", "execute"), ("execute-app-name", "set"),
                    ("execute-app-arg", "first=1"), ("event-uuid", "null")),
            command(sw, ("call-command", "execute"), ("execute-app-name", "playback"),
                    ("execute-app-arg", "/sounds/${first}.wav"), ("event-uuid", "app-2"),
                    ("event-uuid-name", "play")),
            command(sw, ("call-command", "execute"), ("execute-app-name", "export"),
                    ("execute-app-arg", "second=2"), ("event-uuid", "app-4")),
        ]  # fmt: skip
        for event in queued:
            assert await sw.queue_private_event(b, event)
        done = await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b, Application_UUID="app-4")
        completes = [e for e in rec.of(b) if e.name == "CHANNEL_EXECUTE_COMPLETE"]
        assert [(e.get("Application"), e.get("Application-UUID")) for e in completes] == [
            ("answer", completes[0].get("Application-UUID")),
            ("set", "null"),
            ("playback", "app-2"),
            ("export", "app-4"),
        ]
        playback = completes[2]
        assert playback.get("Application-Data") == "/sounds/1.wav"
        assert playback.get("Application-Response") == "FILE PLAYED"
        assert playback.get("Application-UUID-Name") == "play"
        assert done.get("variable_second") == "2"
        assert done.get("variable_export_vars") == "second"
        names = rec.names(b)
        assert names.index("PLAYBACK_START") < names.index("PLAYBACK_STOP")
        assert (await sw.api("uuid_exists", b)).text == "true"
        hangup = command(sw, ("call-command", "hangup"), ("hangup-cause", "USER_BUSY"),
                         name="SEND_MESSAGE")  # fmt: skip
        assert await sw.queue_private_event(b, hangup)
        destroy = await rec.wait_event("CHANNEL_DESTROY", b)
        assert destroy.get("Hangup-Cause") == "USER_BUSY"
        assert not await sw.queue_private_event(b, hangup)


async def test_xferext_runs_an_inline_extension() -> None:
    async with running_switch() as (sw, rec):
        bind_dialplan(sw, dialplan_document("default", extension([("answer", ""), ("park", "")])))
        _, b = await b_leg(sw, "100")
        await rec.wait_event("CHANNEL_PARK", b)
        xfer = command(sw, ("call-command", "xferext"), ("set", "x=1"), ("answer", ""),
                       ("hangup", "CALL_REJECTED"), name="SEND_MESSAGE")  # fmt: skip
        await sw.queue_private_event(b, xfer)
        destroy = await rec.wait_event("CHANNEL_DESTROY", b)
        assert destroy.get("Hangup-Cause") == "CALL_REJECTED"
        assert destroy.get("variable_x") == "1"
        assert "CHANNEL_UNPARK" in rec.names(b)


async def test_play_and_get_digits_uses_simulated_dtmf() -> None:
    async with running_switch() as (sw, rec):
        actions = [
            ("answer", ""),
            ("set", "sim_dtmf=42#"),
            ("play_and_get_digits", "1 4 1 5000 # /p.wav /bad.wav pin \\d+"),
            ("park", ""),
        ]
        bind_dialplan(sw, dialplan_document("default", extension(actions)))
        _, b = await b_leg(sw, "100")
        await rec.wait_event("CHANNEL_PARK", b)
        assert (await sw.api("uuid_getvar", f"{b} pin")).text == "42"
        assert (await sw.api("uuid_getvar", f"{b} read_result")).text == "success"
        assert [e.get("DTMF-Digit") for e in rec.of(b) if e.name == "DTMF"] == ["4", "2", "#"]


async def test_bridge_application_and_hangup_after_bridge() -> None:
    async with running_switch() as (sw, rec):
        actions = [
            ("set", "hangup_after_bridge=false"),
            ("bridge", "{sim_leg=far}null/200"),
            ("set", "after=${bridge_hangup_cause}"),
            ("park", ""),
        ]
        bind_dialplan(sw, dialplan_document("default", extension(actions)))
        _, b = await b_leg(sw, "100")
        bridge = await rec.wait_event("CHANNEL_BRIDGE", b)
        far = bridge.get("Bridge-B-Unique-ID")
        assert far and bridge.get("Other-Leg-Channel-Name") == "null/200"
        assert (await sw.api("uuid_getvar", f"{far} sim_leg")).text == "far"
        assert (await sw.api("uuid_kill", f"{far} USER_BUSY")).text == "+OK\n"
        await rec.wait_event("CHANNEL_UNBRIDGE", b)
        await rec.wait_event("CHANNEL_PARK", b)
        assert (await sw.api("uuid_getvar", f"{b} after")).text == "USER_BUSY"


async def test_bridge_failure_hangs_up_unless_continue_on_fail() -> None:
    async with running_switch() as (sw, rec):
        actions = [
            ("set", "continue_on_fail=true"),
            ("bridge", "error/USER_BUSY"),
            ("set", "failed=${originate_disposition}"),
            ("bridge", "error/CALL_REJECTED"),
        ]
        bind_dialplan(sw, dialplan_document("default", extension([("answer", ""), *actions])))
        # The routed leg answers (so originate succeeds) and runs to its end at once.
        uuid_of((await sw.api("originate", "loopback/1 &park()")).text)
        destroy = await rec.wait_event("CHANNEL_DESTROY", Channel_Name="loopback/1-b")
        # The second bridge still continues (continue_on_fail stays set); the
        # extension then ends, and the channel hangs up normally.
        assert destroy.get("variable_failed") == "USER_BUSY"
        assert destroy.get("Hangup-Cause") == "NORMAL_CLEARING"
    async with running_switch() as (sw, rec):
        actions = [("answer", ""), ("bridge", "error/CALL_REJECTED"), ("park", "")]
        bind_dialplan(sw, dialplan_document("default", extension(actions)))
        uuid_of((await sw.api("originate", "loopback/1 &park()")).text)
        destroy = await rec.wait_event("CHANNEL_DESTROY", Channel_Name="loopback/1-b")
        assert destroy.get("Hangup-Cause") == "CALL_REJECTED"


async def test_transfer_application_routes_again() -> None:
    async with running_switch() as (sw, rec):
        extensions = extension([("transfer", "200 XML default")], "^100$", "one") + extension(
            [("answer", ""), ("park", "")], "^200$", "two"
        )
        seen: list = []
        bind_dialplan(sw, dialplan_document("default", extensions), seen)
        _, b = await b_leg(sw, "100")
        await rec.wait_event("CHANNEL_PARK", b)
        assert [lookup.params.get("Hunt-Destination-Number") for lookup in seen] == ["100", "200"]
        park = await rec.wait_event("CHANNEL_PARK", b)
        assert park.get("Caller-Destination-Number") == "200"


async def test_record_and_hold_applications() -> None:
    async with running_switch() as (sw, rec):
        actions = [
            ("answer", ""),
            ("record_session", "/tmp/call.wav"),
            ("record", "/tmp/msg.wav 1"),
            ("hold", ""),
            ("unhold", ""),
            ("park", ""),
        ]
        bind_dialplan(sw, dialplan_document("default", extension(actions)))
        _, b = await b_leg(sw, "100")
        await rec.wait_event("CHANNEL_PARK", b)
        await sw.api("uuid_kill", b)
        await rec.wait_event("CHANNEL_DESTROY", b)
        names = [n for n in rec.names(b) if n.startswith(("RECORD", "CHANNEL_HOLD", "CHANNEL_UNH"))]
        assert names == [
            "RECORD_START",
            "RECORD_START",
            "RECORD_STOP",
            # unhold fails: a loopback call is never HELD (switch_ivr_unhold).
            "CHANNEL_HOLD",
            "RECORD_STOP",
        ]
        stops = [e.get("Record-File-Path") for e in rec.of(b) if e.name == "RECORD_STOP"]
        assert stops == ["/tmp/msg.wav", "/tmp/call.wav"]


async def test_commands_run_during_a_bridge_and_transfer_leaves_it() -> None:
    async with running_switch() as (sw, rec):
        actions = [("answer", ""), ("bridge", "null/200"), ("park", "")]
        bind_dialplan(sw, dialplan_document("default", extension(actions)))
        _, b = await b_leg(sw, "100")
        bridge = await rec.wait_event("CHANNEL_BRIDGE", b)
        far = bridge.get("Bridge-B-Unique-ID")
        # A command queued on the bridged leg runs during the bridge.
        play = command(sw, ("call-command", "execute"), ("execute-app-name", "playback"),
                       ("execute-app-arg", "/tmp/x.wav"), ("event-uuid", "p1"))  # fmt: skip
        await sw.queue_private_event(b, play)
        await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b, Application_UUID="p1")
        assert (await sw.api("uuid_getvar", f"{b} bridge_uuid")).text == far
        # Transferring the far leg takes it out of the bridge: the bridge application
        # returns and the dialplan goes on (park).
        assert (await sw.api("uuid_transfer", f"{far} 300")).text == "+OK\n"
        await rec.wait_event("CHANNEL_UNBRIDGE", b)
        park = await rec.wait_for(lambda e: e.name == "CHANNEL_PARK" and e.get("Unique-ID") == b)
        assert park.get("variable_bridge_uuid") is None


async def test_uuid_transfer_of_a_uuid_bridged_leg_hangs_up_the_other() -> None:
    async with running_switch() as (sw, rec):
        a = (await sw.api("originate", "null/1 &park()")).text[4:].strip()
        b = (await sw.api("originate", "{park_after_bridge=true}null/2 &park()")).text[4:].strip()
        c = (await sw.api("originate", "null/3 &park()")).text[4:].strip()
        assert (await sw.api("uuid_bridge", f"{a} {b}")).text == f"+OK {b}\n"
        await rec.wait_event("CHANNEL_BRIDGE", a)
        await sw.api("uuid_park", a)
        # b has park_after_bridge: it parks instead of hanging up.
        await rec.wait_event("CHANNEL_UNBRIDGE", a)
        await rec.wait_for(
            lambda e: (
                e.name == "CHANNEL_STATE"
                and e.get("Unique-ID") == b
                and e.get("Channel-State") == "CS_PARK"
            )
        )
        assert (await sw.api("uuid_bridge", f"{a} {c}")).text == f"+OK {c}\n"
        await rec.wait_for(
            lambda e: e.name == "CHANNEL_BRIDGE" and e.get("Bridge-B-Unique-ID") == c
        )
        await sw.api("uuid_transfer", f"{a} 999")
        destroy = await rec.wait_event("CHANNEL_DESTROY", c)
        assert destroy.get("Hangup-Cause") == "NORMAL_CLEARING"
        assert (await sw.api("uuid_exists", b)).text == "true"


async def test_early_media_data_events_and_kazoo_helpers() -> None:
    async with running_switch() as (sw, rec):
        actions = [
            ("ring_ready", ""),
            ("pre_answer", ""),
            ("kz_export", "^^|exported_a=1|exported_b=2"),
            ("kz_endless_playback", "/tmp/moh.wav"),
            ("info", ""),
            ("event", "Event-Name=CUSTOM,Event-Subclass=sim::test,Sim-Header=42"),
            ("answer", ""),
            ("park", ""),
        ]
        bind_dialplan(sw, dialplan_document("default", extension(actions)))
        results: list[str] = []

        async def originate() -> None:
            results.append((await sw.api("originate", "loopback/100 &park()")).text)

        # Originate waits for the answer, which comes after the endless playback.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(originate)
            create = await rec.wait_event("CHANNEL_CREATE", Channel_Name="loopback/100-b")
            b = create.get("Unique-ID") or ""
            await rec.wait_event("PLAYBACK_START", b, Playback_File_Path="/tmp/moh.wav")
            assert (await sw.api("uuid_break", b)).text == "+OK\n"
        a = uuid_of(results[0])
        b_names = rec.names(b)
        assert b_names.index("CHANNEL_PROGRESS") < b_names.index("CHANNEL_PROGRESS_MEDIA")
        # The loopback's outbound leg follows the routed leg into early media.
        await rec.wait_event("CHANNEL_PROGRESS_MEDIA", a)
        data = await rec.wait_event("CHANNEL_DATA", b)
        assert data.get("variable_exported_a") == "1"
        assert data.get("variable_export_vars") == "exported_a,exported_b"
        assert data.get("Answer-State") == "early"
        custom = await rec.wait_event("sim::test", b)
        assert custom.get("Sim-Header") == "42" and custom.get("Unique-ID") == b
        await rec.wait_event("CHANNEL_PARK", b)
        # kz_uuid_setvar sets variables on another channel.
        setvar = command(
            sw,
            ("call-command", "execute"),
            ("execute-app-name", "kz_uuid_setvar_multi"),
            ("execute-app-arg", f"{a} x=1;y=2"),
            ("event-uuid", "s1"),
        )
        await sw.queue_private_event(b, setvar)
        await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b, Application_UUID="s1")
        assert (await sw.api("uuid_getvar", f"{a} y")).text == "2"
