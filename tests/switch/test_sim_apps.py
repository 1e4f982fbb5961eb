"""Applications and API commands ecallmgr drives, on the simulated switch."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import h11
import trio

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import XmlLookup
from kazoo_trio.switch.sim import SimSwitch
from tests.switch.callhelpers import (
    Recorder,
    bind_dialplan,
    dialplan_document,
    extension,
    running_switch,
)


def uuid_of(text: str) -> str:
    assert text.startswith("+OK "), text
    return text[4:].strip()


DIALPLAN = dialplan_document(
    "default",
    extension([("set", "extension_ran=yes"), ("set", "caller=${destination_number}")],
              "^menu$", "menu")
    + extension([("park", "")], "^ring$", "ring")
    + extension([("answer", ""), ("park", "")]),
)  # fmt: skip


def dialplan(sw: SimSwitch) -> None:
    bind_dialplan(sw, DIALPLAN)


async def parked(sw: SimSwitch, rec: Recorder, destination: str = "100") -> str:
    """A parked, answered ``loopback/`` B leg (the leg Kazoo controls)."""
    a = uuid_of((await sw.api("originate", f"loopback/{destination} &park()")).text)
    b = (await sw.api("uuid_getvar", f"{a} other_loopback_leg_uuid")).text
    await rec.wait_event("CHANNEL_PARK", b)
    return b


def execute(sw: SimSwitch, app: str, arg: str, app_uuid: str = "") -> Event:
    headers = [("call-command", "execute"), ("execute-app-name", app), ("execute-app-arg", arg)]
    if app_uuid:
        headers.append(("event-uuid", app_uuid))
    return sw.new_event("SEND_MESSAGE", headers=headers)


async def run_app(sw: SimSwitch, rec: Recorder, uuid: str, app: str, arg: str = "") -> Event:
    """Queue ``app`` on ``uuid`` and wait for its ``CHANNEL_EXECUTE_COMPLETE``."""
    tag = f"{app}-{len(rec.events)}"
    assert await sw.queue_private_event(uuid, execute(sw, app, arg, tag))
    return await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", uuid, Application_UUID=tag)


async def test_unknown_application_hangs_up_with_destination_out_of_order() -> None:
    async with running_switch() as (sw, rec):
        dialplan(sw)
        b = await parked(sw, rec)
        assert await sw.queue_private_event(b, execute(sw, "no_such_app", "x", "app-1"))
        destroy = await rec.wait_event("CHANNEL_DESTROY", b)
        assert destroy.get("Hangup-Cause") == "DESTINATION_OUT_OF_ORDER"
        assert destroy.get("variable_hangup_cause_q850") == "27"
        # FreeSWITCH gives up before CHANNEL_EXECUTE: the application never starts.
        assert not [e for e in rec.of(b) if e.get("Application") == "no_such_app"]


async def test_show_application_api_and_endpoint() -> None:
    async with running_switch() as (sw, _):
        text = (await sw.api("show", "application")).text
        assert text.startswith("name,description,syntax,ikey\n")
        assert "\nbridge,Bridge Audio,<channel_url>,mod_dptools\n" in text
        assert "\nconference,conference,,mod_conference\n" in text
        rows = json.loads((await sw.api("show", "application as json")).text)["rows"]
        names = [row["name"] for row in rows]
        assert names == sorted(names)
        assert {"eavesdrop", "intercept", "say", "privacy", "rxfax", "tone_detect"} <= set(names)
        assert {"kz_multiset_encoded", "kz_export_encoded", "noop"} <= set(names)
        assert text.endswith(f"\n\n{len(names)} total.\n")
        one = (await sw.api("show", "application privacy")).text
        assert one == (
            "name,description,syntax,ikey\n"
            "privacy,Set privacy on calls,off|on|name|full|number,mod_dptools\n\n1 total.\n"
        )
        assert rows[0].keys() == {"name", "description", "syntax", "ikey"}
        api = (await sw.api("show", "api uuid_kill")).text
        assert api == (
            "name,description,syntax,ikey\n"
            "uuid_kill,Kill channel,<uuid> [cause],mod_commands\n\n1 total.\n"
        )
        endpoints = (await sw.api("show", "endpoint")).text
        assert "type,name,ikey\n" in endpoints
        assert "endpoint,loopback,mod_loopback\n" in endpoints
        assert "endpoint,user,mod_dptools\n" in endpoints
        rows = json.loads((await sw.api("show", "endpoint as json")).text)["rows"]
        assert {"type": "endpoint", "name": "error", "ikey": "mod_dptools"} in rows


async def test_variable_applications() -> None:
    async with running_switch() as (sw, rec):
        dialplan(sw)
        b = await parked(sw, rec)
        await run_app(sw, rec, b, "unshift", "Media-Recordings=one")
        done = await run_app(sw, rec, b, "unshift", "Media-Recordings=two")
        # An array variable is as many headers in the event.
        assert done.get_all("variable_Media-Recordings") == ["two", "one"]
        recordings = await sw.api("uuid_getvar", f"{b} Media-Recordings")
        assert recordings.text == "ARRAY::two|:one"
        done = await run_app(sw, rec, b, "bridge_export", "color=blue")
        assert done.get("variable_color") == "blue"
        assert done.get("variable_bridge_export_vars") == "color"
        done = await run_app(sw, rec, b, "privacy", "full")
        assert done.get("Caller-Privacy-Hide-Name") == "true"
        assert done.get("Caller-Privacy-Hide-Number") == "true"
        done = await run_app(sw, rec, b, "privacy", "no")
        assert done.get("Caller-Privacy-Hide-Name") == "false"
        done = await run_app(sw, rec, b, "execute_extension", "menu XML default")
        assert done.get("variable_extension_ran") == "yes"
        assert done.get("variable_caller") == "menu"
        assert done.get("Caller-Destination-Number") == "100"
        for app, arg in [
            ("record_session_mask", "/tmp/none.wav"),
            ("soft_hold", "* a.wav b.wav"),
            ("start_dtmf", ""),
            ("soundtouch", f"{b} start 3s"),
            ("say", "en number pronounced 12"),
            ("spandsp_stop_fax_detect", ""),
        ]:
            done = await run_app(sw, rec, b, app, arg)
            assert done.get("Application-Response") == "_none_", app
        assert (await sw.api("uuid_exists", b)).text == "true"


async def test_play_and_get_digits_collects_dtmf_received_while_it_plays() -> None:
    async with running_switch() as (sw, rec):
        dialplan(sw)
        b = await parked(sw, rec)
        await sw.api("uuid_setvar", f"{b} sim_playback_ms 60000")
        arg = "1 4 1 5000 # /prompt.wav /invalid.wav pin \\d+ 3000"
        assert await sw.queue_private_event(b, execute(sw, "play_and_get_digits", arg, "pagd"))
        await rec.wait_event("PLAYBACK_START", b, Playback_File_Path="/prompt.wav")
        assert (await sw.api("uuid_recv_dtmf", f"{b} 12#")).text.startswith("+OK")
        done = await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b, Application_UUID="pagd")
        assert done.get("variable_pin") == "12"
        assert done.get("variable_read_result") == "success"
        assert done.get("variable_read_terminator_used") == "#"
        stop = await rec.wait_event("PLAYBACK_STOP", b)
        assert stop.get("Playback-Status") == "break"


async def test_tone_and_fax_detection_fire_when_the_line_carries_them() -> None:
    async with running_switch() as (sw, rec):
        dialplan(sw)
        b = await parked(sw, rec)
        await sw.api("uuid_setvar", f"{b} sim_tone busy")
        await run_app(sw, rec, b, "tone_detect", "busy 480,620 r +1000 set detected=busy 1")
        tone = await rec.wait_event("DETECTED_TONE", b)
        assert tone.get("Detected-Tone") == "busy"
        done = await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b, Application="set")
        assert done.get("variable_detected") == "busy"
        await sw.api("uuid_setvar", f"{b} sim_fax_tone cng")
        await run_app(sw, rec, b, "spandsp_start_fax_detect", "set 'fax=1' 3 cng")
        done = await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b, Application_Data="fax=1")
        assert done.get("variable_fax_detected") == "true"
        done = await run_app(sw, rec, b, "rxfax", "/tmp/fax.tiff")
        assert done.get("variable_fax_success") == "1"
        result = await rec.wait_event("spandsp::rxfaxresult", b)
        assert result.get("fax_document_transferred_pages") == "1"
        await sw.api("uuid_setvar", f"{b} sim_fax_result 49")
        done = await run_app(sw, rec, b, "rxfax", "/tmp/fax2.tiff")
        assert done.get("variable_fax_success") == "0"
        assert done.get("variable_fax_result_code") == "49"


async def test_conference_join_api_and_maintenance_events() -> None:
    async with running_switch() as (sw, rec):
        dialplan(sw)
        b1 = await parked(sw, rec)
        b2 = await parked(sw, rec, "101")
        assert (await sw.api("conference", "list")).text == "+OK No active conferences.\n"
        assert await sw.queue_private_event(b1, execute(sw, "conference", "room@default", "c1"))
        create = await rec.wait_event("conference::maintenance", Action="conference-create")
        first = await rec.wait_event("conference::maintenance", Action="add-member")
        assert first.get("Conference-Name") == "room"
        assert first.get("Conference-Profile-Name") == "default"
        assert first.get("Conference-Size") == "1"
        assert first.get("Member-ID") == "1"
        assert first.get("Unique-ID") == b1
        assert rec.events.index(create) < rec.events.index(first)
        conf = "room@default+flags{mute|moderator}"
        assert await sw.queue_private_event(b2, execute(sw, "conference", conf, "c2"))
        second = await rec.wait_event("conference::maintenance", b2, Action="add-member")
        assert (second.get("Member-Type"), second.get("Speak")) == ("moderator", "false")
        assert second.get("Conference-Size") == "2"
        listing = (await sw.api("conference", "list")).text
        assert listing.startswith("+OK Conference room (2 members rate: 8000 flags: ")
        assert f";{b1};" in listing and f";{b2};" in listing
        assert (
            '<conference name="room" member-count="2"'
            in (await sw.api("conference", "xml_list")).text
        )
        assert (await sw.api("conference", "room unmute 2")).text == "+OK unmute 2\n"
        await rec.wait_event("conference::maintenance", b2, Action="unmute-member")
        assert (await sw.api("conference", "room mute 9")).text == "-ERR Non-Existant ID 9\n"
        assert (await sw.api("conference", "room lock")).text == "+OK room locked\n"
        assert (await sw.api("conference", "nope list")).text == "-ERR Conference nope not found\n"
        assert (await sw.api("conference", "room kick 1")).text == "+OK kicked 1\n"
        done = await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b1, Application_UUID="c1")
        assert done.get("variable_conference_member_id") == "1"
        assert (await sw.api("uuid_exists", b1)).text == "true"
        assert await sw.queue_private_event(b1, execute(sw, "conference", "room", "c3"))
        locked = await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b1, Application_UUID="c3")
        assert locked.get("Application-Response") == "-ERR conference locked"
        await sw.api("uuid_kill", b2)
        await rec.wait_event("conference::maintenance", Action="conference-destroy")
        actions = [e.get("Action") for e in rec.events if e.subclass == "conference::maintenance"]
        # The floor goes to the first member, and, once its holder left, to the newest.
        assert actions == ["conference-create", "add-member", "floor-change", "add-member",
                           "unmute-member", "lock", "kick-member", "floor-change",
                           "del-member", "floor-change", "floor-change", "del-member",
                           "conference-destroy"]  # fmt: skip
        assert (await sw.api("conference", "list")).text == "+OK No active conferences.\n"


async def test_intercept_and_eavesdrop() -> None:
    async with running_switch() as (sw, rec):
        dialplan(sw)
        target = await parked(sw, rec)
        device = await parked(sw, rec, "101")
        picker = await parked(sw, rec, "102")
        listener = await parked(sw, rec, "103")
        assert (await sw.api("uuid_bridge", f"{target} {device}")).text == f"+OK {device}\n"
        await rec.wait_event("CHANNEL_BRIDGE", target)
        assert await sw.queue_private_event(listener, execute(sw, "eavesdrop", target, "ev"))
        await rec.wait_event("CHANNEL_EXECUTE", listener, Application="eavesdrop")
        # Call pickup: the caller is taken from the phone it was with.
        done = await run_app(sw, rec, picker, "intercept", target)
        assert done.get("Application-Response") == "_none_"
        hangup = await rec.wait_event("CHANNEL_HANGUP", device)
        assert hangup.get("Hangup-Cause") == "PICKED_OFF"
        bridged = await rec.wait_event("CHANNEL_BRIDGE", picker)
        assert bridged.get("Bridge-B-Unique-ID") == target
        assert (await sw.api("uuid_getvar", f"{target} bridge_uuid")).text == picker
        await sw.api("uuid_kill", target)
        # The eavesdropper hears the call to its end, then carries on.
        await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", listener, Application_UUID="ev")
        missing = await run_app(sw, rec, listener, "eavesdrop", "no-such-uuid")
        assert missing.get("Application-Response") == "_none_"
        assert (await sw.api("uuid_exists", listener)).text == "true"


async def test_media_and_network_api_commands(tmp_path: Path) -> None:
    async with running_switch() as (sw, rec):
        dialplan(sw)
        b = await parked(sw, rec)
        # ecallmgr_call_control:query_state's eval, escapes and all.
        state = "\\${Channel-Call-State}|\\${regex(\\${Channel-State}|CS_(.*)|%1)}"
        assert (await sw.api("eval", f"uuid:{b} {state}")).text == "ACTIVE|EXECUTE"
        assert (await sw.api("eval", f"uuid:gone {state}")).text == "|"
        assert (await sw.api("uuid_fileman", f"{b} seek:+500")).text == "-ERR No file handle!\n"
        await sw.api("uuid_setvar", f"{b} sim_playback_ms 60000")
        assert await sw.queue_private_event(b, execute(sw, "playback", "/m.wav", "play"))
        await rec.wait_event("PLAYBACK_START", b)
        assert (await sw.api("uuid_fileman", f"{b} seek:+500")).text == "+OK\n"
        assert (await sw.api("uuid_fileman", f"{b} stop:")).text == "+OK\n"
        stop = await rec.wait_event("PLAYBACK_STOP", b)
        assert stop.get("Playback-Status") == "break"
        assert (await sw.api("uuid_fileman", "nope seek:1")).text == "-ERR No such channel!\n"
        assert (await sw.api("uuid_audio", f"{b} start read level 4")).text == "+OK\n"
        assert (await sw.api("uuid_getvar", f"{b} sim_audio_read_level")).text == "4"
        assert (await sw.api("uuid_audio", f"{b} start up")).text.startswith("-USAGE: <uuid>")
        assert (await sw.api("uuid_audio", f"{b} stop")).text == "+OK\n"
        assert (await sw.api("acl", "127.0.0.1 loopback.auto")).text == "true"
        assert (await sw.api("acl", "8.8.8.8 rfc1918.auto")).text == "false"
        assert (await sw.api("acl", "10.9.8.7 10.0.0.0/8")).text == "true"

        async def acl_conf(lookup: XmlLookup) -> str | None:
            return (
                '<document type="freeswitch/xml"><section name="configuration">'
                '<configuration name="acl.conf"><network-lists>'
                '<list name="trusted" default="deny"><node type="allow" cidr="1.2.3.0/24"/>'
                '<node type="deny" cidr="1.2.3.4/32"/></list>'
                "</network-lists></configuration></section></document>"
            )

        sw.bind_xml(["configuration"], acl_conf)
        assert (await sw.api("acl", "1.2.3.5 trusted")).text == "true"
        assert (await sw.api("acl", "1.2.3.4 trusted")).text == "false"
        local = tmp_path / "greeting.wav"
        local.write_bytes(b"RIFF")
        assert (await sw.api("http_get", f"{{prefetch=true}}{local}")).text == str(local)
        assert (await sw.api("http_get", str(tmp_path / "none.wav"))).text == "-ERR\n"


async def _serve_one_file(stream: trio.SocketStream) -> None:
    connection = h11.Connection(h11.SERVER)
    async with stream:
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await stream.receive_some(4096))
            elif isinstance(event, h11.EndOfMessage):
                break
        body = b"media bytes"
        response = h11.Response(status_code=200, headers=[("Content-Length", str(len(body)))])
        data = connection.send(response) + connection.send(h11.Data(data=body))
        await stream.send_all(data + connection.send(h11.EndOfMessage()))


async def test_http_get_fetches_a_local_url_into_the_cache(tmp_path: Path) -> None:
    async with running_switch() as (sw, _), trio.open_nursery() as nursery:
        sw.set_global("http_cache_dir", str(tmp_path))
        listeners = await nursery.start(
            functools.partial(trio.serve_tcp, _serve_one_file, 0, host="127.0.0.1")
        )
        port = listeners[0].socket.getsockname()[1]
        url = f"http://127.0.0.1:{port}/media/tone.wav"
        path = (await sw.api("http_get", f"{{prefetch=true}}{url}")).text
        assert path.startswith(str(tmp_path)) and path.endswith(".wav")
        assert Path(path).read_bytes() == b"media bytes"
        failed = await sw.api("http_get", "http://192.0.2.1/elsewhere.wav")
        assert failed.text == "-ERR\n"
        nursery.cancel_scope.cancel()


async def test_soft_hold_and_redirect() -> None:
    async with running_switch() as (sw, rec):
        dialplan(sw)
        a = uuid_of((await sw.api("originate", "loopback/100 &park()")).text)
        b = (await sw.api("uuid_getvar", f"{a} other_loopback_leg_uuid")).text
        await rec.wait_event("CHANNEL_PARK", b)
        other = await parked(sw, rec, "101")
        assert (await sw.api("uuid_bridge", f"{b} {other}")).text == f"+OK {other}\n"
        await rec.wait_event("CHANNEL_BRIDGE")
        assert await sw.queue_private_event(b, execute(sw, "soft_hold", "* moh.wav moh.wav", "sh"))
        await rec.wait_event("CHANNEL_EXECUTE", b, Application="soft_hold")
        await sw.api("uuid_recv_dtmf", f"{b} *")
        await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b, Application_UUID="sh")
        # switch_ivr_soft_hold only plays music: nobody is put on hold.
        assert not [e for e in rec.events if e.name in ("CHANNEL_HOLD", "CHANNEL_UNHOLD")]
        # An answered call stays (a REFER would go out); a ringing one is sent a 302.
        done = await run_app(sw, rec, other, "redirect", "sip:1000@example.com")
        assert done.get("variable_sip_redirect_contact") == "sip:1000@example.com"
        assert (await sw.api("uuid_exists", other)).text == "true"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sw.api, "originate", "loopback/ring &park()")
            park = await rec.wait_event("CHANNEL_PARK", Caller_Destination_Number="ring")
            ringing = park.get("Unique-ID") or ""
            assert park.get("Answer-State") == "ringing"
            assert await sw.queue_private_event(ringing, execute(sw, "redirect", "sip:1@x.com"))
            hangup = await rec.wait_event("CHANNEL_HANGUP", ringing)
            assert hangup.get("Hangup-Cause") == "REDIRECTION_TO_NEW_DESTINATION"


# The applications ecallmgr's call commands name (ecallmgr_call_command:get_fs_app/4,
# ecallmgr_util:dialplan_application/1, ecallmgr_fs_fax, ecallmgr_fs_xml,
# ecallmgr_fs_command) and the API commands it calls (ecallmgr_util:send_cmd/5,
# ecallmgr_call_control:query_state/2, ecallmgr_originate, ecallmgr_maintenance).
ECALLMGR_APPLICATIONS = (
    "answer", "pre_answer", "ring_ready", "respond", "playback", "park", "echo", "sleep",
    "say", "bridge", "privacy", "soft_hold", "redirect", "conference", "tone_detect",
    "spandsp_start_fax_detect", "spandsp_stop_fax_detect", "set", "export", "unset",
    "unshift", "record_session", "stop_record_session", "record_session_mask",
    "record_session_unmask", "record", "soundtouch", "eavesdrop", "intercept",
    "play_and_get_digits", "send_dtmf", "event", "transfer", "hangup", "execute_extension",
    "rxfax", "bridge_export", "start_dtmf", "hold", "unhold", "conference_set_auto_outcall",
)  # fmt: skip
ECALLMGR_API_COMMANDS = (
    "uuid_break", "uuid_fileman", "uuid_park", "uuid_broadcast", "uuid_bridge", "uuid_kill",
    "uuid_audio", "uuid_transfer", "uuid_recv_dtmf", "uuid_hold", "eval", "regex", "acl",
    "http_get", "conference", "uuid_exists", "uuid_getvar", "uuid_dump", "show",
)  # fmt: skip


def test_every_application_and_command_ecallmgr_sends_is_registered() -> None:
    sw = SimSwitch()
    assert [a for a in ECALLMGR_APPLICATIONS if sw.application(a) is None] == []
    registered = {entry.name for entry in sw.apis.entries()}
    assert [c for c in ECALLMGR_API_COMMANDS if c not in registered] == []


async def test_conference_auto_outcall_dials_into_the_new_conference() -> None:
    async with running_switch() as (sw, rec):
        dialplan(sw)
        b = await parked(sw, rec)
        await run_app(sw, rec, b, "conference_set_auto_outcall", "null/outcall")
        assert await sw.queue_private_event(b, execute(sw, "conference", "auto@default", "c"))
        dialled = await rec.wait_for(
            lambda ev: (
                ev.subclass == "conference::maintenance"
                and ev.get("Action") == "add-member"
                and (ev.get("Channel-Name") or "").startswith("null/")
            )
        )
        assert (dialled.get("Conference-Name"), dialled.get("Conference-Size")) == ("auto", "2")
        assert (await sw.api("conference", "auto hup all")).text == "+OK hup 1\n+OK hup 2\n"
        await rec.wait_event("conference::maintenance", Action="conference-destroy")
