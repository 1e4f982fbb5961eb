"""``kazoo-trio run --sim-traffic`` as the README shows it: pinged, routed and called from
``erl``, then stopped with SIGTERM (calls hung up, exit status 0)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from tests.erlnode import erl_node

pytestmark = pytest.mark.erl

NODE = "t@127.0.0.1"
MK = f"{{mod_kazoo, '{NODE}'}}"
KAZOO_TRIO = str(Path(sys.executable).with_name("kazoo-trio"))

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
    process = await trio.lowlevel.open_process(
        [
            KAZOO_TRIO, "run", "--name", NODE, "--cookie", "kazoo_trio_test",
            "--listen-ip", "127.0.0.1", "--epmd", "external", "--epmd-port", str(epmd),
            "--sim-traffic", "4:30",
        ],
        stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    output = bytearray()
    try:
        assert process.stderr is not None
        with trio.fail_after(20):
            while b"accepting connections" not in output:
                chunk = await process.stderr.receive_some(4096)
                assert chunk, output.decode()
                output += chunk
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
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(10):
            code = await process.wait()
            while chunk := await process.stderr.receive_some(65536):
                output += chunk
        assert code == 0, output.decode()
        assert b"simulated traffic" in output
        assert b"channel(s) hung up (SYSTEM_SHUTDOWN)" in output
    finally:
        if process.returncode is None:
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()
