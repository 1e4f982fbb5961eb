"""The applications and API commands ecallmgr drives, sent from a real Erlang node
with the texts ecallmgr's builders produce (``applications/ecallmgr/src``).

``Cmd`` copies ``ecallmgr_util:send_cmd/6`` (``{command, UUID, Headers}`` with
``execute-app-name``, ``execute-app-arg`` and ``event-uuid-name``), ``Cmds``
``send_cmds/4`` (``{commands, UUID, [Headers]}``), ``Api`` ``freeswitch:api/3``.  The
application texts are those of ``ecallmgr_call_command:get_fs_app/4``,
``ecallmgr_fs_transfer:blind/3`` and ``ecallmgr_conference_command``.
"""

from __future__ import annotations

import pytest

from kazoo_trio.switch.sim import SimSwitch
from tests.erlnode import ErlNode, erl_node
from tests.kazoo.server_harness import MK, running_server
from tests.switch.callhelpers import QUICK, Recorder, bind_dialplan, dialplan_document, extension

pytestmark = pytest.mark.erl

E1 = "ctl@127.0.0.1"

# mod_kazoo answers a command with {ok, <Application-UUID>}: the funs say ok then.
SENDERS = (
    'Hdrs = fun(App, Arg, Name) -> [{<<"call-command">>, <<"execute">>},'
    ' {<<"execute-app-name">>, App}, {<<"execute-app-arg">>, Arg},'
    ' {<<"event-uuid-name">>, Name}] end,'
    "Ok = fun({ok, _}) -> ok; (Other) -> Other end,"
    f"Cmd = fun(UUID, App, Arg) -> Ok(gen_server:call({MK}, {{command, UUID,"
    " Hdrs(App, Arg, App)})) end,"
    f"Cmds = fun(UUID, Name, Apps) -> Ok(gen_server:call({MK}, {{commands, UUID,"
    " [Hdrs(A, Arg, Name) || {A, Arg} <- Apps]})) end,"
    f"Api = fun(C, Args) -> gen_server:call({MK}, {{api, C, Args}}, 10000) end,"
    "ok."
)

# Kazoo routes everything in context_2 (?DEFAULT_FREESWITCH_CONTEXT).
DIALPLAN = dialplan_document(
    "context_2",
    extension([("answer", ""), ("park", "")], "^(1\\d\\d)$", "parked")
    + extension([("answer", ""), ("set", "transferred=yes"), ("park", "")], "^2000$", "xfer"),
)


async def parked(switch: SimSwitch, rec: Recorder, destination: str) -> str:
    """The answered, parked B leg of ``loopback/<destination>/context_2``."""
    text = (await switch.api("originate", f"loopback/{destination}/context_2 &park()")).text
    assert text.startswith("+OK "), text
    b = (await switch.api("uuid_getvar", f"{text[4:].strip()} other_loopback_leg_uuid")).text
    await rec.wait_event("CHANNEL_PARK", b)
    return b


async def started(e: ErlNode) -> None:
    assert await e.eval(SENDERS) == "ok"


def binary(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'<<"{escaped}">>'


async def test_call_commands_ecallmgr_builds_are_each_answered(epmd: int) -> None:
    switch = SimSwitch(timings=QUICK)
    rec = Recorder(switch)
    bind_dialplan(switch, DIALPLAN)
    async with running_server(epmd, switch=switch), erl_node(E1, epmd_port=epmd) as e:
        await started(e)
        b = await parked(switch, rec, "100")
        # get_fs_app's outputs for a parked call (Say: Language en, no Gender; Tone
        # detect: On-Success empty, so park; Fax detection: Action start, inbound).
        apps = [
            ("privacy", "full"),
            ("say", "en number pronounced 123 "),
            ("unshift", "Media-Recordings=rec-1"),
            ("record_session", "/tmp/kazoo_trio_rec.mp3"),
            ("record_session_mask", "/tmp/kazoo_trio_rec.mp3"),
            ("record_session_unmask", "/tmp/kazoo_trio_rec.mp3"),
            ("stop_record_session", "/tmp/kazoo_trio_rec.mp3"),
            ("tone_detect", "busy 480,620 r +1000 park  1"),
            ("spandsp_start_fax_detect", "set 'noop' 3 cng"),
            ("spandsp_stop_fax_detect", ""),
            ("soundtouch", f"{b} start 2s 1o"),
            ("soundtouch", f"{b} stop"),
            ("soft_hold", "# silence_stream://0 silence_stream://0"),
            ("redirect", "sip:1000@10.1.1.1"),
        ]
        for app, arg in apps:
            assert await e.eval(f"Cmd({binary(b)}, {binary(app)}, {binary(arg)}).") == "ok"
            done = await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b, Application=app)
            response = done.get("Application-Response") or ""
            assert not response.startswith("-ERR"), (app, response)
        privacy = [ev for ev in rec.of(b) if ev.get("Application") == "say"][-1]
        assert privacy.get("Caller-Privacy-Hide-Name") == "true"
        assert await e.eval(f'Api(uuid_getvar, <<"{b} Media-Recordings">>).') == (
            '{ok,<<"rec-1">>}'
        )
        assert (await switch.api("uuid_exists", b)).text == "true"
        assert "invalid" not in " ".join(rec.names(b))


async def test_play_and_get_digits_takes_dtmf_ecallmgr_sends_while_it_plays(epmd: int) -> None:
    switch = SimSwitch(timings=QUICK)
    rec = Recorder(switch)
    bind_dialplan(switch, DIALPLAN)
    async with running_server(epmd, switch=switch), erl_node(E1, epmd_port=epmd) as e:
        await started(e)
        b = await parked(switch, rec, "101")
        await switch.api("uuid_setvar", f"{b} sim_playback_ms 30000")
        # get_fs_app(<<"play_and_get_digits">>): Min Max Tries Timeout Terminators
        # Media Failed-Media Variable Regex Digit-Timeout.
        arg = "1 4 3 5000 # /media/enter-pin.wav silence_stream://250 pin_entered \\d+ 3000"
        assert await e.eval(f'Cmd({binary(b)}, <<"play_and_get_digits">>, {binary(arg)}).') == (
            "ok"
        )
        await rec.wait_event("PLAYBACK_START", b, Playback_File_Path="/media/enter-pin.wav")
        # The caller presses keys (uuid_recv_dtmf, as a phone's RFC 2833 digits arrive).
        assert await e.eval(f'Api(uuid_recv_dtmf, <<"{b} 42#">>).') == (
            f'{{ok,<<"+OK {b} received DTMF 42#.\\n">>}}'
        )
        done = await rec.wait_event(
            "CHANNEL_EXECUTE_COMPLETE", b, Application="play_and_get_digits"
        )
        assert done.get("variable_pin_entered") == "42"
        assert done.get("variable_read_result") == "success"


async def test_conference_join_and_commands(epmd: int) -> None:
    switch = SimSwitch(timings=QUICK)
    rec = Recorder(switch)
    bind_dialplan(switch, DIALPLAN)
    async with running_server(epmd, switch=switch), erl_node(E1, epmd_port=epmd) as e:
        await started(e)
        first = await parked(switch, rec, "102")
        second = await parked(switch, rec, "103")
        # get_conference_app(_, _, JObj, false): "<Conference-ID>@<Profile>" and the flags.
        for uuid, conf in (
            (first, "conf-1@default+flags{}"),
            (second, "conf-1@default+flags{mute}"),
        ):
            reply = await e.eval(f'Cmd({binary(uuid)}, <<"conference">>, {binary(conf)}).')
            assert reply == "ok"
            await rec.wait_event("conference::maintenance", uuid, Action="add-member")
        joined = await rec.wait_event("conference::maintenance", second, Action="add-member")
        assert (joined.get("Conference-Size"), joined.get("Speak")) == ("2", "false")
        # ecallmgr_conference_command: "<ConferenceId> <AppName> <AppData>".
        assert (
            await e.eval('Api(conference, <<"conf-1 unmute 2">>).') == '{ok,<<"+OK unmute 2\\n">>}'
        )
        assert await e.eval('Api(conference, <<"conf-1 lock ">>).') == (
            '{ok,<<"+OK conf-1 locked\\n">>}'
        )
        reply = await e.eval('Api(conference, <<"conf-1 hup last">>).')
        assert reply == '{ok,<<"+OK hup 2\\n">>}'
        await rec.wait_event("conference::maintenance", second, Action="del-member")
        listing = await e.term('Api(conference, <<"xml_list">>).')
        assert b'<conference name="conf-1" member-count="1"' in listing[1]
        assert await e.eval('Api(conference, <<"nope kick 1">>).') == (
            '{ok,<<"-ERR Conference nope not found\\n">>}'
        )
        assert (await switch.api("uuid_kill", first)).text == "+OK\n"
        await rec.wait_event("conference::maintenance", Action="conference-destroy")


async def test_blind_transfer_as_ecallmgr_sends_it(epmd: int) -> None:
    switch = SimSwitch(timings=QUICK)
    rec = Recorder(switch)
    bind_dialplan(switch, DIALPLAN)
    async with running_server(epmd, switch=switch), erl_node(E1, epmd_port=epmd) as e:
        await started(e)
        b = await parked(switch, rec, "104")
        # ecallmgr_fs_transfer:blind/3 with no Transfer-Leg: the variables for the
        # target, then "blind_xfer" (dialplan_application/1 makes it "transfer") with
        # the empty leg's leading space.
        apps = [
            ("kz_uuid_multiset_encoded", f"{b} ecallmgr_Signal-Bridge-To={b}"),
            ("transfer", " 2000 XML context_2"),
        ]
        cmds = ", ".join(f"{{{binary(a)}, {binary(arg)}}}" for a, arg in apps)
        assert await e.eval(f'Cmds({binary(b)}, <<"transfer">>, [{cmds}]).') == "ok"
        routed = await rec.wait_for(
            lambda ev: (
                ev.name == "CHANNEL_PARK"
                and ev.get("Unique-ID") == b
                and ev.get("Caller-Destination-Number") == "2000"
            )
        )
        assert routed.get("variable_transferred") == "yes"
        assert routed.get("variable_ecallmgr_Signal-Bridge-To") == b
        assert routed.get("Caller-Context") == "context_2"
        assert (routed.get("variable_transfer_history") or "").endswith(
            ":bl_xfer:2000/context_2/XML"
        )
