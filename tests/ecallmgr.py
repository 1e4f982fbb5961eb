"""Erlang texts shaped exactly as Kazoo's ecallmgr produces them, shared by the tests
that drive the simulated switch and the real FreeSWITCH with them.

Copied from ``applications/ecallmgr/src`` (2600hz/kazoo): the park route response of
``ecallmgr_fs_xml:route_resp_xml/3`` and the stream owner that reads the Custom-Channel-Vars.
"""

from __future__ import annotations

from tests.kazoo.server_harness import MK

# A dialplan handler answering every route request with ecallmgr_fs_xml's park
# response (route_resp_xml(<<"park">>, ...) with no inband DTMF and no
# Custom-Application-Vars; Pre-Park "answer" in context "answered", none elsewhere),
# attributes escaped as xmerl does; it tells Parent the control queue it chose.
PARK_ROUTER = (
    "Parent = self(),"
    "Node = atom_to_binary(node(), utf8),"
    "Router = spawn(fun() ->"
    f"  ok = gen_server:call({MK}, {{bind, dialplan}}),"
    "  Parent ! bound,"
    "  Esc = fun(B) -> lists:foldl(fun({F, T}, Acc) -> binary:replace(Acc, F, T, [global]) end,"
    '          iolist_to_binary(B), [{<<"&">>, <<"&amp;">>}, {<<"<">>, <<"&lt;">>},'
    '          {<<">">>, <<"&gt;">>}, {<<"\\"">>, <<"&quot;">>}]) end,'
    '  El = fun(Tag, Attrs) -> [<<"<">>, Tag, [[<<" ">>, K, <<"=\\"">>, Esc(V), <<"\\"">>]'
    '          || {K, V} <- Attrs], <<"/>">>] end,'
    '  Act = fun(App, Data) -> El(<<"action">>, [{<<"application">>, App}, {<<"data">>, Data}])'
    "        end,"
    '  Inline = fun(Tag, App, Data) -> El(Tag, [{<<"application">>, App}, {<<"data">>, Data},'
    '           {<<"inline">>, <<"true">>}]) end,'
    '  Cond = fun(Field, Expr, Els) -> [<<"<condition field=\\"">>, Field,'
    '           <<"\\" expression=\\"">>, Expr, <<"\\">">>, Els, <<"</condition>">>] end,'
    "  Loop = fun L() -> receive {fetch, {Props}} ->"
    '    U = proplists:get_value(<<"Fetch-UUID">>, Props),'
    '    Ctx = proplists:get_value(<<"Fetch-Key-Value">>, Props),'
    '    ControlQ = <<"ecallmgr_call_control-", U/binary>>,'
    "    ControlP = list_to_binary(pid_to_list(self())),"
    '    Ccvs = [{<<"Application-Name">>, <<"callflow">>}, {<<"Application-Node">>, Node},'
    '            {<<"Account-ID">>, <<"acc1">>}, {<<"Authorizing-Type">>, <<"device">>}],'
    '    CcvArg = iolist_to_binary([<<"^^|">>, lists:join(<<"|">>,'
    '               [<<"ecallmgr_", K/binary, "=", V/binary>> || {K, V} <- Ccvs])]),'
    '    Ring = <<"%(2000,4000,440,480)">>,'
    "    Exten = ["
    '      Act(<<"log">>, [<<"NOTICE log|${uuid}|">>, Node, <<" won call control">>]),'
    '      Act(<<"export">>, [<<"ecallmgr_Ecallmgr-Node=">>, Node]),'
    '      Cond(<<"${sip_h_k-cid}">>, <<"^$">>,'
    '           [Inline(<<"action">>, <<"export">>, <<"sip_h_k-cid=${uuid}">>),'
    '            Inline(<<"anti-action">>, <<"export">>, <<"sip_h_k-cid=${sip_h_k-cid}">>)]),'
    '      Cond(<<"${ecallmgr_Bridge-ID}">>, <<"^$">>,'
    '           [Inline(<<"action">>, <<"export">>, <<"ecallmgr_Bridge-ID=${UUID}">>)]),'
    '      Act(<<"set">>, [<<"ringback=">>, Ring]),'
    '      Act(<<"set">>, [<<"transfer_ringback=">>, Ring]),'
    '      case Ctx of <<"answered">> -> El(<<"action">>, [{<<"application">>, <<"answer">>}]);'
    "        _ -> [] end,"
    '      Act(<<"kz_multiset_encoded">>, CcvArg),'
    '      Act(<<"kz_prefix_unset">>, <<"sip_h_X-">>),'
    '      Act(<<"kz_multiset_encoded">>, [<<"^^;Call-Control-Queue=">>, ControlQ,'
    '          <<";Call-Control-PID=">>, ControlP, <<";ecallmgr_Ecallmgr-Node=">>, Node,'
    '          <<";Call-Control-Node=">>, Node, <<";Fetch-UUID=">>, U]),'
    '      Act(<<"event">>, lists:join(<<",">>, [<<"Event-Subclass=kazoo::route_winner">>,'
    '          <<"Event-Name=CUSTOM">>, <<"Event-Category=dialplan">>,'
    '          <<"Routing-Queue=", ControlQ/binary>>, <<"Request-From-PID=", ControlP/binary>>,'
    '          <<"Controller-Queue=callflow_queue">>, <<"Fetch-UUID=", U/binary>>])),'
    '      El(<<"action">>, [{<<"application">>, <<"park">>}])],'
    '    Xml = iolist_to_binary([<<"<document type=\\"freeswitch/xml\\">'
    '<section name=\\"dialplan\\" description=\\"Route Park Response\\"><context name=\\"">>,'
    '      Ctx, <<"\\"><extension name=\\"park\\"><condition>">>, Exten,'
    '      <<"</condition></extension></context></section></document>">>]),'
    f"    gen_server:cast({MK}, {{fetch_reply, dialplan, U, Xml}}),"
    '    Parent ! {routed, ControlQ, proplists:get_value(<<"Call-ID">>, Props)}, L() end end,'
    "  Loop() end),"
    "receive bound -> ok after 5000 -> timeout end."
)

# An event stream owner (ecallmgr's default profiles): `{get, From}` returns
# [{Name, Call-ID, Application-Name, Application-Response, Account-ID}] oldest first,
# the Account-ID read from the event's Custom-Channel-Vars.
CCV_STREAM = (
    "Watcher = spawn(fun() ->"
    f"  {{ok, {{Ip, Port}}}} = gen_server:call({MK}, {{event, ['CHANNEL_EXECUTE_COMPLETE',"
    "    'CHANNEL_DESTROY']}),"
    "  {ok, Addr} = inet_parse:address(Ip),"
    "  {ok, S} = gen_tcp:connect(Addr, Port, [binary, {packet, 2}, {active, true}]),"
    "  Parent ! streaming,"
    "  Loop = fun L(Acc) -> receive"
    "    {tcp, S, Data} -> {event, json, {P}} = binary_to_term(Data),"
    "      G = fun(K) -> proplists:get_value(K, P) end,"
    '      Account = case G(<<"Custom-Channel-Vars">>) of'
    '        {Ccvs} -> proplists:get_value(<<"Account-ID">>, Ccvs); _ -> none end,'
    '      L([{G(<<"Event-Name">>), G(<<"Call-ID">>), G(<<"Application-Name">>),'
    '          G(<<"Application-Response">>), Account} | Acc]);'
    "    {get, From} -> From ! {events, lists:reverse(Acc)}, L(Acc)"
    "  end end,"
    "  Loop([]) end),"
    "receive streaming -> ok after 5000 -> timeout end."
)


def erl_headers(*pairs: tuple[str, str]) -> str:
    return "[" + ",".join(f'{{<<"{k}">>, <<"{v}">>}}' for k, v in pairs) + "]"
