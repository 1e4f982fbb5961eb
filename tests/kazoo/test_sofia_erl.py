"""Bridges to a registered simulated device and to a gateway, driven from a real
Erlang node with the texts Kazoo's ecallmgr produces.

The Erlang process below plays ecallmgr's fetch handlers: for ``directory`` it
answers a registration's ``sip_auth`` with the user's password (as
``ecallmgr_fs_xml:authn_resp_xml`` does) and ``user_call`` with
``directory_resp_device_xml``'s user (CCVs, profile variables, ``endpoint-dial-string``
``sofia/sipinterface_1/<user>@<realm>``); for ``dialplan`` it answers with
``route_resp_xml(<<"bridge">>, ...)``: the log/ringback/``kz_prefix_unset`` actions
directly in the context, one ``match_<n>`` extension per route (``continue="true"``)
setting ``bypass_media``, ``hangup_after_bridge``, ``failure_causes`` and bridging with
``get_channel_vars`` in ``<...>``, and the ``failed_bridge`` extension.  The
destination number picks the routes: ``device`` → ``kz/1000@<realm>`` (Invite-Format
``endpoint``), ``carrier`` → ``sofia/gateway/carrier1/+15552223333`` (a route),
``failover`` → a busy gateway, then ``carrier1``.
"""

from __future__ import annotations

import json

import pytest

from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.switch.sim.sofia import Device, Gateway
from tests.erlnode import erl_node
from tests.kazoo.server_harness import MK, running_server
from tests.switch.callhelpers import QUICK, Recorder

pytestmark = pytest.mark.erl

E1 = "ecallmgr@127.0.0.1"
REALM = "acc1.sip.example.com"

ECALLMGR = (
    "Parent = self(),"
    "Node = atom_to_binary(node(), utf8),"
    "Handler = spawn(fun() ->"
    f"  ok = gen_server:call({MK}, {{bind, directory}}),"
    f"  ok = gen_server:call({MK}, {{bind, dialplan}}),"
    "  Parent ! bound,"
    "  Esc = fun(B) -> lists:foldl(fun({F, T}, Acc) -> binary:replace(Acc, F, T, [global]) end,"
    '          iolist_to_binary(B), [{<<"&">>, <<"&amp;">>}, {<<"<">>, <<"&lt;">>},'
    '          {<<">">>, <<"&gt;">>}, {<<"\\"">>, <<"&quot;">>}]) end,'
    '  Attrs = fun(As) -> [[<<" ">>, K, <<"=\\"">>, Esc(V), <<"\\"">>] || {K, V} <- As] end,'
    '  El = fun(Tag, As) -> [<<"<">>, Tag, Attrs(As), <<"/>">>] end,'
    '  Wrap = fun(Tag, As, Kids) -> [<<"<">>, Tag, Attrs(As), <<">">>, Kids, <<"</">>, Tag,'
    '          <<">">>] end,'
    '  Act = fun(App, Data) -> El(<<"action">>, [{<<"application">>, App}, {<<"data">>, Data}])'
    "        end,"
    '  Var = fun({K, V}) -> El(<<"variable">>, [{<<"name">>, K}, {<<"value">>, V}]) end,'
    '  Param = fun({K, V}) -> El(<<"param">>, [{<<"name">>, K}, {<<"value">>, V}]) end,'
    '  Doc = fun(Section) -> iolist_to_binary([<<"<document type=\\"freeswitch/xml\\">">>,'
    '          Section, <<"</document>">>]) end,'
    "  Directory = fun(Props) ->"
    "    G = fun(K) -> proplists:get_value(K, Props) end,"
    '    User = G(<<"user">>), Domain = G(<<"domain">>),'
    '    UserEl = case G(<<"action">>) of'
    '      <<"sip_auth">> ->'
    '        Wrap(<<"user">>, [{<<"id">>, User}],'
    '             Wrap(<<"params">>, [], Param({<<"password">>, <<"secret">>})));'
    "      _ ->"
    '        Id = <<User/binary, "@", Domain/binary>>,'
    '        Wrap(<<"user">>, [{<<"id">>, User}, {<<"number-alias">>, <<"+1555", User/binary>>},'
    '                         {<<"cacheable">>, <<"3600000">>}],'
    '          [Wrap(<<"variables">>, [], [Var(KV) || KV <- ['
    '              {<<"ecallmgr_Account-ID">>, <<"acc1">>},'
    '              {<<"ecallmgr_Owner-ID">>, <<"owner1">>},'
    '              {<<"ecallmgr_Authorizing-Type">>, <<"device">>},'
    '              {<<"ecallmgr_Authorizing-ID">>, <<"dev1">>}]]),'
    '           Wrap(<<"profile-variables">>, [], [Var(KV) || KV <- ['
    '              {<<"Endpoint-Caller-ID-Name">>, <<"Desk 1000">>},'
    '              {<<"Endpoint-Caller-ID-Number">>, <<"1000">>},'
    '              {<<"context">>, <<"context_2">>}]]),'
    '           Wrap(<<"params">>, [], [Param(KV) || KV <- ['
    '              {<<"group-dial-string">>, <<"kz/", Id/binary>>},'
    '              {<<"endpoint-dial-string">>, <<"sofia/sipinterface_1/", Id/binary>>},'
    '              {<<"callforward-dial-string">>, <<>>},'
    '              {<<"endpoint-separator">>, <<":_:">>}]])])'
    "    end,"
    '    Doc(Wrap(<<"section">>, [{<<"name">>, <<"directory">>}],'
    '             Wrap(<<"domain">>, [{<<"name">>, Domain}], UserEl)))'
    "  end,"
    "  Dialplan = fun(Props) ->"
    "    G = fun(K) -> proplists:get_value(K, Props) end,"
    '    Ctx = G(<<"Fetch-Key-Value">>),'
    '    Ring = <<"%(2000,4000,440,480)">>,'
    '    Dest = case G(<<"Caller-Destination-Number">>) of undefined ->'
    '             G(<<"Hunt-Destination-Number">>); D -> D end,'
    '    Carrier = fun(Gw, Num) -> {<<"sofia/gateway/", Gw/binary, "/", Num/binary>>,'
    "          [<<\"progress_timeout='6'\">>, <<\"local_var_clobber='true'\">>,"
    '           <<"ecallmgr_Account-ID=\'acc1\'">>, <<"ecallmgr_Resource-ID=\'", Gw/binary,'
    '             "\'">>]} end,'
    "    Routes = case Dest of"
    f'      <<"device">> -> [{{<<"kz/1000@{REALM}">>,'
    "          [<<\"progress_timeout='6'\">>, <<\"local_var_clobber='true'\">>,"
    "           <<\"ecallmgr_Account-ID='acc1'\">>, <<\"ecallmgr_Inception='on-net'\">>]}];"
    '      <<"carrier">> -> [Carrier(<<"carrier1">>, <<"+15552223333">>)];'
    '      <<"failover">> -> [Carrier(<<"busy_carrier">>, <<"+15552224444">>),'
    '                         Carrier(<<"carrier1">>, <<"+15552224444">>)]'
    "    end,"
    "    Match = fun(Idx, {Channel, Vars}) ->"
    '      Bridge = [<<"<">>, lists:join(<<",">>, Vars), <<">">>, Channel],'
    '      Wrap(<<"extension">>, [{<<"name">>, <<"match_", (Idx + $0)>>},'
    '                             {<<"continue">>, <<"true">>}],'
    '        Wrap(<<"condition">>, [], [Act(<<"set">>, <<"bypass_media=false">>),'
    '                                Act(<<"set">>, <<"hangup_after_bridge=true">>),'
    '                                Act(<<"set">>, <<"failure_causes=NORMAL_CLEARING,",'
    '                                                 "ORIGINATOR_CANCEL,CRASH">>),'
    '                                Act(<<"bridge">>, Bridge)])) end,'
    "    Matches = [Match(I, R) || {I, R} <- lists:zip(lists:seq(1, length(Routes)), Routes)],"
    '    Failed = Wrap(<<"extension">>, [{<<"name">>, <<"failed_bridge">>},'
    '                                    {<<"continue">>, <<"false">>}],'
    '      Wrap(<<"condition">>, [], Act(<<"respond">>, <<"${bridge_hangup_cause}">>))),'
    '    Doc(Wrap(<<"section">>, [{<<"name">>, <<"dialplan">>},'
    '                            {<<"description">>, <<"Route Bridge Response">>}],'
    '      Wrap(<<"context">>, [{<<"name">>, Ctx}],'
    '        [Act(<<"log">>, [<<"NOTICE log|${uuid}|">>, Node, <<" won call control">>]),'
    '         Act(<<"set">>, <<"ringback=", Ring/binary>>),'
    '         Act(<<"set">>, <<"transfer_ringback=", Ring/binary>>),'
    '         Act(<<"kz_prefix_unset">>, <<"sip_h_X-">>), Matches, Failed])))'
    "  end,"
    "  Loop = fun L() -> receive {fetch, {Props}} ->"
    '    U = proplists:get_value(<<"Fetch-UUID">>, Props),'
    '    Section = proplists:get_value(<<"Fetch-Section">>, Props),'
    "    Xml = case Section of"
    '      <<"directory">> -> Directory(Props);'
    '      <<"dialplan">> -> Dialplan(Props) end,'
    "    SectionAtom = binary_to_atom(Section, utf8),"
    f"    gen_server:cast({MK}, {{fetch_reply, SectionAtom, U, Xml}}),"
    "    L() end end,"
    "  Loop() end),"
    "receive bound -> ok after 5000 -> timeout end."
)


async def test_bridge_route_responses_to_a_registered_device_and_a_gateway(epmd: int) -> None:
    switch = SimSwitch(timings=QUICK)
    rec = Recorder(switch)
    async with running_server(epmd, switch=switch), erl_node(E1, epmd_port=epmd) as e:
        assert await e.eval(ECALLMGR) == "ok"
        # The phone registers: the directory lookup (sip_auth) goes to ecallmgr.
        assert await switch.sofia.register("1000", REALM, password="wrong") == ("403 Forbidden")
        # A test or a traffic script declares its phones with the simulation's JSON API.
        register = (
            r'{json_api, <<"{\"command\":\"sim.register\",\"data\":{\"user\":\"1000\",'
            rf'\"domain\":\"{REALM}\",\"password\":\"secret\"}}}}">>}}'
        )
        reply = await e.term(f"gen_server:call({MK}, {register}, 5000).")
        assert reply[0].name == "ok", reply
        assert json.loads(reply[1])["response"]["contact"] == '"1000" <sip:1000@127.0.0.1:5060>'
        event = await rec.wait_event("sofia::register")
        device = switch.sofia.find_registration("1000", REALM)
        assert isinstance(device, Device) and event.get("call-id") == device.call_id
        assert switch.sofia.add_gateway(
            Gateway("carrier1", "sipinterface_1", realm="carrier.example.net")
        )
        assert switch.sofia.add_gateway(
            Gateway("busy_carrier", "sipinterface_1", realm="busy.example.net", behaviour="busy")
        )
        status = await e.term(f'gen_server:call({MK}, {{api, sofia, <<"status">>}}, 10000).')
        assert status[0].name == "ok"
        assert b"sipinterface_1::carrier1" in status[1]

        for destination, peer_name in (
            ("device", f"sofia/sipinterface_1/1000@{REALM}"),
            ("carrier", "sofia/sipinterface_1/+15552223333"),
            # The busy carrier's USER_BUSY is not among Kazoo's failure_causes: the
            # dialplan goes on to the next route, as on FreeSWITCH.
            ("failover", "sofia/sipinterface_1/+15552224444"),
        ):
            bgapi = (
                f'gen_server:call({MK}, {{bgapi, originate, <<"loopback/{destination}/sim'
                f' &park()">>}})'
            )
            assert (await e.term(f"{bgapi}."))[0].name == "ok"
            bridged = await rec.wait_for(
                lambda ev, name=peer_name: (
                    ev.name == "CHANNEL_BRIDGE" and ev.get("Other-Leg-Channel-Name") == name
                )
            )
            b = bridged.get("Unique-ID") or ""
            peer = bridged.get("Bridge-B-Unique-ID") or ""
            answer = await rec.wait_event("CHANNEL_ANSWER", peer)
            assert answer.get("Channel-Name") == peer_name
            # The route response's channel variables reached the new leg.
            assert answer.get("variable_ecallmgr_Account-ID") == "acc1"
            assert answer.get("variable_progress_timeout") == "6"
            if destination == "device":
                # kz/: the directory's CCVs and profile variables, dialed_user/domain.
                assert answer.get("variable_ecallmgr_Owner-ID") == "owner1"
                assert answer.get("variable_dialed_user") == "1000"
                # Set once the leg answered, as kz_endpoint_outgoing_channel does.
                assert bridged.get("Other-Leg-Callee-ID-Name") == "Desk 1000"
                assert bridged.get("Other-Leg-Orig-Caller-ID-Number") == "1000"
                assert bridged.get("Other-Leg-Context") == "context_2"
                assert bridged.get("variable_dialed_domain") == REALM
            else:
                assert answer.get("variable_sip_gateway_name") == "carrier1"
            applications = [
                ev.get("Application") for ev in rec.of(b) if ev.name == "CHANNEL_EXECUTE"
            ]
            bridges = 2 if destination == "failover" else 1
            assert applications == ["set", "set", "set", "bridge"] * bridges
            if destination == "failover":
                assert bridged.get("variable_originate_failed_cause") == "USER_BUSY"
            kill = f'gen_server:call({MK}, {{api, uuid_kill, <<"{peer}">>}}, 10000).'
            assert (await e.term(kill))[0].name == "ok"
            # hangup_after_bridge=true: the caller's leg follows.
            await rec.wait_event("CHANNEL_DESTROY", b)
