"""The FreeSWITCH backend, kazoo_trio's mod_kazoo over it, and the Erlang processes that
play ecallmgr's part, for the tests from ``erl`` to the real FreeSWITCH."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import trio

import kazoo_trio.kazoo
from kazoo_trio.kazoo.server import ModKazooServer
from kazoo_trio.switch.freeswitch import FreeSwitchBackend, FreeSwitchSettings
from tests.erlnode import ErlNode
from tests.freeswitch.fsmin import FreeSwitch
from tests.kazoo.server_harness import MK, make_settings

E1 = "ecallmgr@127.0.0.1"


@asynccontextmanager
async def backend_running(fs: FreeSwitch) -> AsyncIterator[FreeSwitchBackend]:
    """The FreeSWITCH backend alone on ``fs``, connected and ready."""
    backend = FreeSwitchBackend(
        FreeSwitchSettings(esl_port=fs.esl_port, xml_curl_port=fs.xml_curl_port)
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(backend.run)
        with trio.fail_after(10):
            await backend.wait_ready()
        yield backend
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def kazoo_over(fs: FreeSwitch, epmd: int) -> AsyncIterator[FreeSwitchBackend]:
    backend = FreeSwitchBackend(
        FreeSwitchSettings(esl_port=fs.esl_port, xml_curl_port=fs.xml_curl_port)
    )
    async with trio.open_nursery() as nursery:
        settings = make_settings(epmd)
        server: ModKazooServer = await nursery.start(
            partial(kazoo_trio.kazoo.serve, settings, backend)
        )
        assert server is not None
        with trio.fail_after(10):
            await backend.wait_ready()
        yield backend
        nursery.cancel_scope.cancel()


# Answers every route request in the lookup's Hunt-Context as ecallmgr's park route
# does (the control queue variable, answer, park; stock multiset for kz_multiset) and
# tells Parent what it was asked.
ROUTER = (
    "Parent = self(),"
    "Router = spawn(fun() ->"
    f"  ok = gen_server:call({MK}, {{bind, dialplan}}),"
    "  Parent ! bound,"
    "  Loop = fun L() -> receive {fetch, {Props}} ->"
    '    U = proplists:get_value(<<"Fetch-UUID">>, Props),'
    '    Ctx = proplists:get_value(<<"Hunt-Context">>, Props),'
    "    Parent ! {route_req, Props},"
    '    Xml = iolist_to_binary([<<"<document type=\\"freeswitch/xml\\">'
    '<section name=\\"dialplan\\"><context name=\\"">>, Ctx, <<"\\"><extension name=\\"t\\">'
    '<condition><action application=\\"multiset\\"'
    ' data=\\"^^|Call-Control-Queue=q1|kt_routed=erlang\\"/>'
    '<action application=\\"answer\\"/><action application=\\"park\\"/>'
    '</condition></extension></context></section></document>">>]),'
    f"    gen_server:cast({MK}, {{fetch_reply, dialplan, U, Xml}}), L() end end,"
    "  Loop() end),"
    "receive bound -> ok after 5000 -> timeout end."
)

# Keeps {Event-Name, Call-ID, Caller-Destination-Number, Application-Name} of every
# streamed event.
STREAM = (
    "Watcher = spawn(fun() ->"
    f"  {{ok, {{Ip, Port}}}} = gen_server:call({MK}, {{event, ['CHANNEL_CREATE',"
    "    'CHANNEL_ANSWER', 'CHANNEL_DESTROY', 'CHANNEL_EXECUTE_COMPLETE']}),"
    "  {ok, Addr} = inet_parse:address(Ip),"
    "  {ok, S} = gen_tcp:connect(Addr, Port, [binary, {packet, 2}, {active, true}]),"
    "  Parent ! streaming,"
    "  Loop = fun L(Acc) -> receive"
    "    {tcp, S, Data} -> case binary_to_term(Data) of"
    "      {event, json, {P}} ->"
    "        G = fun(K) -> proplists:get_value(K, P) end,"
    '        L([{G(<<"Event-Name">>), G(<<"Call-ID">>),'
    '            G(<<"Caller-Destination-Number">>), G(<<"Application-Name">>)} | Acc]);'
    "      Other -> L([{other, Other, x, x} | Acc]) end;"
    "    {get, From} -> From ! {events, lists:reverse(Acc)}, L(Acc)"
    "  end end,"
    "  Loop([]) end),"
    "receive streaming -> ok after 5000 -> timeout end."
)


async def streamed(e: ErlNode) -> list[tuple[str, ...]]:
    events = await e.term(
        "(fun() -> Watcher ! {get, self()},"
        " receive {events, Evs} -> Evs after 5000 -> timeout end end)()."
    )
    return [
        tuple(v.decode() if isinstance(v, bytes) else str(v) for v in event) for event in events
    ]
