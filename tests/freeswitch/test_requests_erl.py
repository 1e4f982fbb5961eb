"""The mod_kazoo requests whose answers depend on the switch, from ``erl`` against the
real FreeSWITCH (the others are the server's own: ``tests/kazoo/test_requests_erl.py``).

Each request here is one the simulated switch serves; the parity list of the
FreeSWITCH backend points at these tests.
"""

from __future__ import annotations

import pytest

from tests.erlnode import ErlNode, erl_node
from tests.freeswitch.fsmin import FreeSwitch
from tests.freeswitch.kazoo_helpers import E1, kazoo_over
from tests.kazoo.server_harness import MK
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

# Keeps {Event-Name, Event-Subclass or Application-UUID-Name, Kt-Header or
# Application-Response} of every streamed event; makes the stream requests (which
# act on the caller's own stream) for the test.
STREAM = (
    "Parent = self(),"
    "Watcher = spawn(fun() ->"
    f"  {{ok, {{Ip, Port}}}} = gen_server:call({MK}, {{event, ['CUSTOM', 'kt::one',"
    "    'kt::two', 'CHANNEL_EXECUTE_COMPLETE']}),"
    "  {ok, Addr} = inet_parse:address(Ip),"
    "  {ok, S} = gen_tcp:connect(Addr, Port, [binary, {packet, 2}, {active, true}]),"
    "  Parent ! streaming,"
    "  Loop = fun L(Acc) -> receive"
    "    {tcp, S, Data} -> case binary_to_term(Data) of"
    "      {event, json, {P}} ->"
    "        G = fun(K, D) -> proplists:get_value(K, P, D) end,"
    '        L([{G(<<"Event-Name">>, x),'
    '            G(<<"Event-Subclass">>, G(<<"Application-Name">>, x)),'
    '            G(<<"Kt-Header">>, G(<<"Application-Response">>, x))} | Acc]);'
    "      Other -> L([{other, Other, x} | Acc]) end;"
    "    {get, From} -> From ! {events, lists:reverse(Acc)}, L(Acc);"
    f"    {{call, Req, From}} -> From ! {{reply, gen_server:call({MK}, Req)}}, L(Acc)"
    "  end end,"
    "  Loop([]) end),"
    "receive streaming -> ok after 5000 -> timeout end."
)


@pytest.fixture
def fs(shared_fs: FreeSwitch) -> FreeSwitch:
    return shared_fs


async def streamed(e: ErlNode) -> list[tuple[str, ...]]:
    events = await e.term(
        "(fun() -> Watcher ! {get, self()},"
        " receive {events, Evs} -> Evs after 5000 -> timeout end end)()."
    )
    return [tuple(v.decode() if isinstance(v, bytes) else str(v) for v in ev) for ev in events]


def call(request: str) -> str:
    return f"gen_server:call({MK}, {request}, 10000)."


def watcher_call(request: str) -> str:
    return (
        f"(fun() -> Watcher ! {{call, {request}, self()}},"
        " receive {reply, WatcherReply} -> WatcherReply after 5000 -> timeout end end)()."
    )


async def test_switch_dependent_requests(fs: FreeSwitch, epmd: int) -> None:
    async with kazoo_over(fs, epmd), erl_node(E1, epmd_port=epmd) as e:
        # api4: FreeSWITCH's output; an unknown command's error carries the API event.
        assert await e.eval(call('{api4, echo, <<"four">>}')) == '{ok,<<"four">>}'
        error = await e.term(call("{api4, no_such_command, <<>>}"))
        assert error[0].name == "error" and error[1] == b"no_such_command: Command not found"
        assert (b"API-Command", b"no_such_command") in [tuple(h) for h in error[2][1:]]
        # bgapi4: the job's report with the API event's headers.
        report = await e.term(
            f'{{ok, J}} = gen_server:call({MK}, {{bgapi4, echo, <<"bg">>}}),'
            "receive {bgok, J, R, H} -> {R, H}; Other -> Other after 8000 -> timeout end."
        )
        assert report[0] == b"bg"
        assert (b"API-Command", b"echo") in [tuple(h) for h in report[1][1:]]
        # json_api: FreeSWITCH's json command, its error shape.
        unknown = await e.term(
            call('{json_api, <<"{\\"command\\":\\"kt_none\\",\\"data\\":\\"\\"}">>}')
        )
        assert unknown[0].name == "error" and b'"status":"error"' in unknown[1], unknown
        # sendevent: fired on FreeSWITCH, back to the stream as it delivers it.
        assert await e.eval(STREAM) == "ok"
        one = "{sendevent, 'CUSTOM', 'kt::one', [{<<\"Kt-Header\">>, <<\"v1\">>}]}"
        assert await e.eval(call(one)) == "ok"

        async def got(wanted: tuple[str, ...]) -> bool:
            return wanted in await streamed(e)

        await wait_until(lambda: got(("CUSTOM", "kt::one", "v1")), timeout=5, interval=0.05)
        # nixevent: kt::one no longer streamed, kt::two still (FreeSWITCH delivers in
        # order, so the second arriving means the first was not sent).
        assert await e.eval(watcher_call("{nixevent, ['CUSTOM', 'kt::one']}")) == "ok"
        assert await e.eval(call(one.replace("v1", "v2"))) == "ok"
        two = "{sendevent, 'CUSTOM', 'kt::two', [{<<\"Kt-Header\">>, <<\"v3\">>}]}"
        assert await e.eval(call(two)) == "ok"
        await wait_until(lambda: got(("CUSTOM", "kt::two", "v3")), timeout=5, interval=0.05)
        assert ("CUSTOM", "kt::one", "v2") not in await streamed(e)
        # command and commands on a live call: only the last command's completion is
        # reported (the earlier ones carry event-uuid null, which Kazoo filters).
        reply = await e.term(
            call('{api, originate, <<"{origination_uuid=kt-r1,Call-Control-Queue=q}'
                 'null/1 &park">>}')
        )  # fmt: skip
        assert reply[1] == b"+OK kt-r1\n", reply
        noop = (
            '[{<<"call-command">>, <<"execute">>}, {<<"execute-app-name">>, <<"noop">>},'
            ' {<<"execute-app-arg">>, <<"ID">>}, {<<"event-uuid-name">>, <<"noop">>}]'
        )
        command = await e.term(call(f'{{command, <<"kt-r1">>, {noop.replace("ID", "c1")}}}'))
        assert command[0].name == "ok"
        await wait_until(
            lambda: got(("CHANNEL_EXECUTE_COMPLETE", "noop", "c1")), timeout=5, interval=0.05
        )
        kz_set = (
            '[{<<"call-command">>, <<"execute">>},'
            ' {<<"execute-app-name">>, <<"kz_multiset_encoded">>},'
            ' {<<"execute-app-arg">>, <<"^^|kt_c=1%202">>}, {<<"event-uuid-name">>, <<"x">>}]'
        )
        commands = await e.term(
            call(f'{{commands, <<"kt-r1">>, [{kz_set}, {noop.replace("ID", "c2")}]}}')
        )
        assert commands[0].name == "ok"
        await wait_until(
            lambda: got(("CHANNEL_EXECUTE_COMPLETE", "noop", "c2")), timeout=5, interval=0.05
        )
        completions = [ev for ev in await streamed(e) if ev[0] == "CHANNEL_EXECUTE_COMPLETE"]
        assert [ev[1:] for ev in completions] == [("noop", "c1"), ("noop", "c2")]
        assert await e.eval(call('{api, uuid_getvar, <<"kt-r1 kt_c">>}')) == '{ok,<<"1 2">>}'
        # xferext (ecallmgr's bridge and transfer dialplans) with mod_kazoo's applications.
        apps = ["kz_export ^^~kt_e=1~kt_f=x y", "kz_multiset ^^~kt_m=2", "park"]
        xferext = (
            '[{<<"call-command">>, <<"xferext">>}, '
            + ", ".join(f'{{<<"application">>, <<"{app}">>}}' for app in apps)
            + "]"
        )
        assert await e.eval(call(f'{{sendmsg, <<"kt-r1">>, {xferext}}}')) == "ok"

        async def transferred() -> bool:
            got = await e.eval(call('{api, uuid_getvar, <<"kt-r1 kt_m">>}'))
            return got == '{ok,<<"2">>}'

        await wait_until(transferred, timeout=5, interval=0.05)
        assert await e.eval(call('{api, uuid_getvar, <<"kt-r1 kt_f">>}')) == '{ok,<<"x y">>}'
        exported = await e.term(call('{api, uuid_getvar, <<"kt-r1 export_vars">>}'))
        assert b"kt_e" in exported[1] and b"kt_f" in exported[1], exported
        # mod_kazoo's commands without a channel: first-of's default, kz_contact with no
        # directory binding.
        assert await e.eval(call("{api, 'first-of', <<\"a|b|#dflt\">>}")) == '{ok,<<"dflt">>}'
        contact = await e.eval(call('{api, kz_contact, <<"1000@example.com">>}'))
        assert contact == '{ok,<<"error/subscriber_absent">>}'
        # A global set through an api request is what mod_kazoo's expansions see.
        assert await e.eval(call('{api, global_setvar, <<"kt_g=v9">>}')) == '{ok,<<"+OK">>}'
        expanded = await e.eval(call('{api, kz_expand, <<"$${kt_g}">>}'))
        assert expanded == '{ok,<<"+OK v9">>}'
        # noevents: the stream stays, carrying nothing.
        assert await e.eval(watcher_call("noevents")) == "ok"
        assert await e.eval(call('{api, uuid_kill, <<"kt-r1">>}')) == '{ok,<<"+OK\\n">>}'
        assert await e.eval(call(two.replace("v3", "v4"))) == "ok"
        assert len(await streamed(e)) == len(completions) + 2
