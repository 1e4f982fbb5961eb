"""From a real ``erl`` node through kazoo_trio's mod_kazoo to the real FreeSWITCH.

ecallmgr's side is played by Erlang processes: one answers dialplan lookups (which
FreeSWITCH makes over mod_xml_curl), one owns an event stream; requests go to
``{mod_kazoo, Node}`` as ecallmgr sends them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trio

from tests.erlnode import erl_node
from tests.freeswitch.fsmin import FreeSwitch, freeswitch_instance
from tests.freeswitch.kazoo_helpers import E1, ROUTER, STREAM, kazoo_over, streamed
from tests.kazoo.server_harness import MK
from tests.waiting import wait_until

pytestmark = pytest.mark.erl


@pytest.fixture(scope="module")
def fs() -> Iterator[FreeSwitch]:
    with freeswitch_instance() as instance:
        yield instance


async def test_api_events_and_a_dialplan_answered_by_erlang(fs: FreeSwitch, epmd: int) -> None:
    async with kazoo_over(fs, epmd), erl_node(E1, epmd_port=epmd) as e:
        status = await e.term(f'gen_server:call({MK}, {{api, status, <<"">>}}, 10000).')
        assert status[0].name == "ok" and b"is ready" in status[1]
        version = await e.term(f'gen_server:call({MK}, {{api, version, <<"">>}}, 10000).')
        assert version[1].startswith(b"FreeSWITCH Version 1.11")
        unknown = await e.term(f'gen_server:call({MK}, {{api, no_such, <<"">>}}, 10000).')
        assert unknown[0].name == "error"
        assert await e.eval(ROUTER) == "ok"
        assert await e.eval(STREAM) == "ok"
        reply = await e.term(
            f"{{ok, J}} = gen_server:call({MK}, {{bgapi, originate, "
            '<<"loopback/4242/default &park">>}),'
            "receive {bgok, J, R} -> R; {bgerror, J, R} -> {error, R}"
            " after 8000 -> timeout end."
        )
        assert isinstance(reply, bytes) and reply.startswith(b"+OK "), reply
        a = reply[4:].decode().strip()
        request = dict(await e.term("receive {route_req, P} -> P after 5000 -> timeout end."))
        assert request[b"Fetch-Section"] == b"dialplan"
        assert request[b"Hunt-Context"] == b"default"
        assert request[b"Destination-Number"] == b"4242"
        b = request[b"Call-ID"].decode()
        got = await e.term(
            f'gen_server:call({MK}, {{api, uuid_getvar, <<"{b} kt_routed">>}}, 10000).'
        )
        assert got[1] == b"erlang"

        async def both_answered() -> bool:
            names = {(n, c) for n, c, *_ in await streamed(e)}
            return {("CHANNEL_ANSWER", a), ("CHANNEL_ANSWER", b)} <= names

        await wait_until(both_answered, timeout=5, interval=0.1)
        events = [event[:3] for event in await streamed(e)]
        assert ("CHANNEL_CREATE", a, "4242") in events
        assert ("CHANNEL_CREATE", b, "4242") in events
        ok, reply = await e.term(
            f'gen_server:call({MK}, {{json_api, <<"{{\\"command\\":\\"status\\",'
            '\\"data\\":\\"\\"}">>}, 10000).'
        )
        assert ok.name == "ok" and b'"systemStatus":"ready"' in reply
        play = (
            '[{<<"call-command">>, <<"execute">>}, {<<"execute-app-name">>, <<"playback">>},'
            ' {<<"execute-app-arg">>, <<"tone_stream://%(100,0,440)">>},'
            ' {<<"event-uuid-name">>, <<"playback">>}]'
        )
        assert await e.eval(f'gen_server:call({MK}, {{sendmsg, <<"{b}">>, {play}}}).') == "ok"

        async def played() -> bool:
            return ("CHANNEL_EXECUTE_COMPLETE", b, "4242", "playback") in await streamed(e)

        await wait_until(played, timeout=5, interval=0.1)
        hangup = '[{<<"call-command">>, <<"hangup">>}, {<<"hangup-cause">>, <<"NORMAL_CLEARING">>}]'
        assert await e.eval(f'gen_server:call({MK}, {{sendmsg, <<"{b}">>, {hangup}}}).') == "ok"

        async def both_destroyed() -> bool:
            names = {(n, c) for n, c, *_ in await streamed(e)}
            return {("CHANNEL_DESTROY", a), ("CHANNEL_DESTROY", b)} <= names

        await wait_until(both_destroyed, timeout=5, interval=0.1)
        assert await e.eval(f'gen_server:call({MK}, {{sendmsg, <<"{b}">>, {hangup}}}).') == (
            "{error,baduuid}"
        )


async def test_freeswitch_killed_and_restarted_under_erlang(fs: FreeSwitch, epmd: int) -> None:
    async with kazoo_over(fs, epmd) as backend, erl_node(E1, epmd_port=epmd) as e:
        assert await e.eval("Parent = self(), ok.") == "ok"
        assert await e.eval(STREAM) == "ok"
        fs.kill()
        await wait_until(lambda: not backend.client.connected, timeout=5)
        # Answered at once, not after the call's own 10 s timeout (the bound guards that).
        with trio.fail_after(5):
            down = await e.term(f'gen_server:call({MK}, {{api, status, <<"">>}}, 10000).')
        assert down[0].name == "error" and b"not connected" in down[1], down
        await trio.to_thread.run_sync(fs.start)
        with trio.fail_after(10):
            await backend.client.wait_connected()
        status = await e.term(f'gen_server:call({MK}, {{api, status, <<"">>}}, 10000).')
        assert status[0].name == "ok" and b"is ready" in status[1]
        # The stream opened before the restart carries the new FreeSWITCH's events.
        reply = await e.term(
            f"{{ok, J}} = gen_server:call({MK}, {{bgapi, originate, "
            '<<"{origination_uuid=kt-after}null/1000 &park">>}),'
            "receive {bgok, J, R} -> R; {bgerror, J, R} -> {error, R}"
            " after 8000 -> timeout end."
        )
        assert reply == b"+OK kt-after\n", reply

        async def created() -> bool:
            return ("CHANNEL_CREATE", "kt-after", "1000") in [x[:3] for x in await streamed(e)]

        await wait_until(created, timeout=5, interval=0.1)
        assert backend.channel_exists("kt-after")
        assert await e.eval(f'gen_server:call({MK}, {{api, uuid_kill, <<"kt-after">>}}).') == (
            '{ok,<<"+OK\\n">>}'
        )


# Answers directory lookups with one user whose dial string is a null channel.
DIRECTORY = (
    "Dir = spawn(fun() ->"
    f"  ok = gen_server:call({MK}, {{bind, directory}}),"
    "  Parent ! dir_bound,"
    "  Loop = fun L() -> receive {fetch, {Props}} ->"
    '    U = proplists:get_value(<<"Fetch-UUID">>, Props),'
    "    Parent ! {dir_req, Props},"
    '    Xml = <<"<document type=\\"freeswitch/xml\\"><section name=\\"directory\\">'
    '<domain name=\\"example.com\\"><users><user id=\\"1000\\"><params>'
    '<param name=\\"dial-string\\" value=\\"null/1000\\"/></params></user></users>'
    '</domain></section></document>">>,'
    f"    gen_server:cast({MK}, {{fetch_reply, directory, U, Xml}}), L() end end,"
    "  Loop() end),"
    "receive dir_bound -> ok after 5000 -> timeout end."
)


async def test_directory_lookup_answered_by_erlang(fs: FreeSwitch, epmd: int) -> None:
    async with kazoo_over(fs, epmd), erl_node(E1, epmd_port=epmd) as e:
        assert await e.eval("Parent = self(), ok.") == "ok"
        # Nobody bound: the lookup is answered "not found" at once and FreeSWITCH's
        # static directory (domain 127.0.0.1 only) has no such user.
        # The bound is below the lookup timeout, so a lookup that waited for it fails.
        with trio.fail_after(3):
            refused = await e.term(
                f"gen_server:call({MK}, {{api, originate, "
                f'<<"user/1000@example.com &park">>}}, 10000).'
            )
        assert refused[0].name == "ok" and refused[1].startswith(b"-ERR "), refused
        assert await e.eval(DIRECTORY) == "ok"
        reply = await e.term(
            f"gen_server:call({MK}, {{api, originate, "
            '<<"{origination_uuid=kt-user}user/1000@example.com &park">>}, 10000).'
        )
        assert reply[0].name == "ok" and reply[1] == b"+OK kt-user\n", reply
        request = dict(await e.term("receive {dir_req, P} -> P after 5000 -> timeout end."))
        assert request[b"Fetch-Section"] == b"directory"
        assert request[b"user"] == b"1000" and request[b"domain"] == b"example.com"
        assert await e.eval(f'gen_server:call({MK}, {{api, uuid_kill, <<"kt-user">>}}).') == (
            '{ok,<<"+OK\\n">>}'
        )
