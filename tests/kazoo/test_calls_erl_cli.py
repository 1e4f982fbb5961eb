"""``kazoo-trio run --sim-traffic`` as the README shows it: pinged, routed and called from
``erl``, then stopped with SIGTERM (calls hung up, exit status 0)."""

from __future__ import annotations

import signal

import pytest

from tests.erlnode import erl_node
from tests.kazoo.run_process import CONSOLE_SCRIPT, kazoo_trio_run

pytestmark = pytest.mark.erl

NODE = "t@127.0.0.1"
MK = f"{{mod_kazoo, '{NODE}'}}"

# Answers every route request (ecallmgr's context_2 for the generated calls) with park,
# and tells the prompt process each Call-ID it routed.
ROUTER = (
    "Parent = self(),"
    "spawn(fun() ->"
    f"  ok = gen_server:call({MK}, {{bind, dialplan}}),"
    "  Parent ! bound,"
    "  Loop = fun L() -> receive {fetch, {Props}} ->"
    '    U = proplists:get_value(<<"Fetch-UUID">>, Props),'
    '    Ctx = proplists:get_value(<<"Fetch-Key-Value">>, Props),'
    '    Parent ! {routed, proplists:get_value(<<"Call-ID">>, Props)},'
    '    Xml = iolist_to_binary([<<"<document type=\\"freeswitch/xml\\">'
    '<section name=\\"dialplan\\"><context name=\\"">>, Ctx, <<"\\"><extension name=\\"t\\">'
    '<condition><action application=\\"answer\\"/><action application=\\"park\\"/>'
    '</condition></extension></context></section></document>">>]),'
    f"    gen_server:cast({MK}, {{fetch_reply, dialplan, U, Xml}}), L() end end,"
    "  Loop() end),"
    "receive bound -> ok after 5000 -> timeout end."
)


async def test_run_with_sim_traffic_serves_calls_and_stops_cleanly(epmd: int) -> None:
    async with kazoo_trio_run(
        "--name", NODE, "--cookie", "kazoo_trio_test",
        "--listen-ip", "127.0.0.1", "--epmd", "external", "--epmd-port", str(epmd),
        "--sim-traffic", "4:30",
        program=CONSOLE_SCRIPT,
    ) as run:  # fmt: skip
        async with erl_node("c1@127.0.0.1", epmd_port=epmd) as e:
            assert await e.eval(f"net_adm:ping('{NODE}').") == "pong"
            assert await e.eval(ROUTER) == "ok"
            # Generated calls reach the Erlang router and stay parked (hold 30 s).
            routed = await e.term("receive {routed, C} -> C after 5000 -> timeout end.")
            assert isinstance(routed, bytes) and len(routed) == 36
            exists = f'gen_server:call({MK}, {{api, uuid_exists, <<"{routed.decode()}">>}}).'
            assert await e.eval(exists) == '{ok,<<"true">>}'
            # A call of our own.
            reply = await e.term(
                f'gen_server:call({MK}, {{api, originate, <<"null/42 &park()">>}}, 10000).'
            )
            assert reply[1].startswith(b"+OK ")
            count = await e.term(f'gen_server:call({MK}, {{api, show, <<"channels count">>}}).')
            assert int(count[1].split()[0]) >= 2
        code = await run.stop(signal.SIGTERM)
        assert code == 0, run.text
        assert b"simulated traffic" in run.output
        assert b"channel(s) hung up (SYSTEM_SHUTDOWN)" in run.output
