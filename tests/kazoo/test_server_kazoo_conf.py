"""The kazoo.conf lookup: profiles pushed by an Erlang configuration handler."""

from __future__ import annotations

import pytest
import trio

from kazoo_trio.kazoo.config import Settings
from kazoo_trio.kazoo.fetch.kazoo_conf import KazooConf, Profiles
from kazoo_trio.kazoo.requests.options import OptionsTable
from kazoo_trio.kazoo.streams.table import StreamTable
from kazoo_trio.switch.protocol import XmlLookup
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.term.types import Atom
from tests.erlnode import erl_node
from tests.kazoo.server_harness import MK, running_server
from tests.waiting import wait_until

PROFILES = (
    '<document type="freeswitch/xml"><section name="configuration">'
    '<configuration name="kazoo.conf" description="Built by Kazoo">'
    "<definitions/>"
    '<event-handlers><profile name="default">'
    '<event name="my::sub"><fields verbose="false">'
    '<field name="Kind" type="static" value="pushed-profile"/>'
    '<field name="Seq"/>'
    "</fields></event>"
    "</profile></event-handlers>"
    '<fetch-handlers><profile name="configuration">'
    '<fields verbose="true"/>'
    '<params><param name="fetch-section" value="configuration"/>'
    '<param name="fetch-timeout" value="2000000"/></params>'
    "</profile></fetch-handlers>"
    "</configuration></section></document>"
)
NOT_FOUND = (
    '<document type="freeswitch/xml"><section name="result">'
    '<result status="not found"/></section></document>'
)


def erl_binary(text: str) -> str:
    return "<<" + '"' + text.replace('"', '\\"') + '"' + ">>"


@pytest.mark.erl
async def test_pushed_profiles_replace_the_ones_in_force(epmd: int) -> None:
    async with (
        running_server(epmd, delay_before_initial_fetch=0.05) as server,
        erl_node("e1@127.0.0.1", epmd_port=epmd) as e,
    ):
        # A configuration handler as ecallmgr's: the first answer is the profiles,
        # later ones "not found".
        asked = await e.eval(
            f"Answers = [{erl_binary(PROFILES)}, {erl_binary(NOT_FOUND)}],"
            "Parent = self(),"
            "Conf = spawn(fun() ->"
            f"  ok = gen_server:call({MK}, {{bind, configuration}}),"
            "  Loop = fun L(As) -> receive {fetch, {Props}} ->"
            '    U = proplists:get_value(<<"Fetch-UUID">>, Props),'
            '    Parent ! {asked, proplists:get_value(<<"Action">>, Props),'
            '      proplists:get_value(<<"Fetch-Key-Value">>, Props)},'
            "    [A | Rest] = As,"
            f"    gen_server:cast({MK}, {{fetch_reply, configuration, U, A}}),"
            "    L(Rest ++ [A]) end end,"
            "  Loop(Answers) end),"
            "receive {asked, Action, Key} -> {Action, Key} after 5000 -> timeout end."
        )
        assert asked == '{<<"request-handlers">>,<<"kazoo.conf">>}'
        await wait_until(lambda: server.kazoo_conf.lookups == 1)
        installed = server.profiles.current
        assert installed is not None and "my::sub" in installed.event_names
        # A stream uses the pushed profile for its events.
        await e.eval(
            "Owner = spawn(fun() ->"
            f"  {{ok, {{Ip, Port}}}} = gen_server:call({MK}, {{event, ['my::sub']}}),"
            "  {ok, Addr} = inet_parse:address(Ip),"
            "  {ok, S} = gen_tcp:connect(Addr, Port, [binary, {packet, 2}, {active, false}]),"
            "  Parent ! connected,"
            "  {ok, Data} = gen_tcp:recv(S, 0, 5000),"
            "  Parent ! {event, binary_to_term(Data)} end),"
            "receive connected -> ok after 5000 -> timeout end."
        )
        await wait_until(lambda: any(s.connected for _, s in server.streams.streams_of(_e1())))
        await e.eval(
            f"gen_server:cast({MK}, {{sendevent, 'CUSTOM', 'my::sub',"
            ' [{<<"Seq">>, <<"7">>}]}).'
        )
        event = await e.term("receive {event, Ev} -> Ev after 5000 -> timeout end.")
        fields = dict(event[2][0])
        assert fields[b"Kind"] == b"pushed-profile"
        assert fields[b"Seq"] == b"7"
        assert b"Event-Subclass" not in fields  # not verbose: only the profile's fields
        # config: another lookup; its "not found" keeps the profiles in force.
        assert await e.eval(f"gen_server:call({MK}, config).") == "ok"
        assert (
            await e.eval("receive {asked, A2, K2} -> {A2, K2} after 5000 -> timeout end.")
            == '{<<"request-handlers">>,<<"kazoo.conf">>}'
        )
        await wait_until(lambda: server.kazoo_conf.lookups == 2)
        assert server.profiles.current is installed


def _e1() -> Atom:
    return Atom("e1@127.0.0.1")


async def test_bad_or_missing_answers_keep_the_profiles_and_requests_coalesce() -> None:
    switch = SimSwitch()
    options = OptionsTable(Settings())
    streams = StreamTable(options, "freeswitch@127.0.0.1")
    answers: list[str | None] = []
    asked: list[str | None] = []

    async def handler(lookup: XmlLookup) -> str | None:
        asked.append(lookup.params.get("Action"))
        return answers.pop(0)

    switch.bind_xml(["configuration"], handler)
    conf = KazooConf(switch, streams, options, Profiles(None), delay=0.01)
    # An event profile without the "default" profile does not compile: kept as is.
    answers.append(PROFILES.replace('name="default"', 'name="other"'))
    assert await conf.fetch_now() is False
    assert conf.profiles.current is None
    answers.append(PROFILES)
    assert await conf.fetch_now() is True
    installed = conf.profiles.current
    assert installed is not None and "my::sub" in installed.event_names
    answers.append(None)
    assert await conf.fetch_now() is False
    assert conf.profiles.current is installed
    assert asked == ["request-handlers"] * 3
    # A burst of requests (and the first configuration bind) makes one lookup.
    answers.append(NOT_FOUND)
    async with trio.open_nursery() as nursery:
        await nursery.start(conf.run)
        conf.configuration_bound()
        conf.request()
        conf.request()
        await wait_until(lambda: conf.lookups == 4)
        conf.configuration_bound()  # only the first bind schedules a lookup
        assert not conf._scheduled
        nursery.cancel_scope.cancel()
    assert len(asked) == 4
