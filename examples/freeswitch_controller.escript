#!/usr/bin/env escript
%% A call controller for kazoo_trio in front of a real FreeSWITCH, driving it the way
%% Kazoo's ecallmgr does.
%%
%% Start FreeSWITCH (event socket on 127.0.0.1:8021, mod_xml_curl posting dialplan
%% lookups to http://127.0.0.1:8090/fsxml; see the README), then the node in front of it:
%%
%%     kazoo-trio run --name freeswitch@127.0.0.1 --cookie change_me --switch freeswitch
%%
%% and run
%%
%%     examples/freeswitch_controller.escript freeswitch@127.0.0.1 change_me 2
%%
%% It binds the dialplan and answers every route request as ecallmgr's park response
%% does (mod_kazoo's kz_multiset_encoded sets the call-control queue and a custom
%% channel variable, then answer and park), places N loopback calls with bgapi,
%% watches call events on an event stream and, on each routed call once answered,
%% plays a tone and hangs up through sendmsg.  It stops when the N calls have ended.
-mode(compile).

main([Node, Cookie]) -> main([Node, Cookie, "2"]);
main([NodeText, CookieText, CallsText]) ->
    Node = list_to_atom(NodeText),
    {ok, _} = net_kernel:start(['fs_controller@127.0.0.1', longnames]),
    erlang:set_cookie(Node, list_to_atom(CookieText)),
    pong = net_adm:ping(Node),
    io:format("connected to ~s~n", [Node]),
    MK = {mod_kazoo, Node},
    Controller = self(),
    spawn_link(fun() -> router(MK, Controller) end),
    receive router_bound -> ok after 5000 -> halt(1) end,
    {ok, {Ip, Port}} = gen_server:call(MK, {event, ['CHANNEL_ANSWER', 'CHANNEL_DESTROY',
                                                    'CHANNEL_EXECUTE_COMPLETE']}),
    {ok, Addr} = inet_parse:address(Ip),
    {ok, Stream} = gen_tcp:connect(Addr, Port, [binary, {packet, 2}, {active, true}]),
    Calls = list_to_integer(CallsText),
    [originate(MK, 1000 + N) || N <- lists:seq(1, Calls)],
    loop(MK, Stream, Calls, #{}),
    io:format("done~n"),
    halt(0);
main(_) ->
    io:format("usage: freeswitch_controller.escript <node> <cookie> [<calls>]~n"),
    halt(2).

%% ecallmgr originates with bgapi: the job's output comes as a message.
originate(MK, Number) ->
    Dial = iolist_to_binary(["loopback/", integer_to_list(Number), "/default &park()"]),
    {ok, Job} = gen_server:call(MK, {bgapi, originate, Dial}),
    receive
        {bgok, Job, Reply} -> io:format("originate ~p: ~s", [Number, Reply]);
        {bgerror, Job, Error} -> io:format("originate ~p failed: ~s~n", [Number, Error]), halt(1)
    after 10000 -> io:format("originate ~p: no answer~n", [Number]), halt(1)
    end.

%% Answers dialplan lookups with the essentials of ecallmgr's park response.
%% FreeSWITCH has no kz_* application: kazoo_trio rewrites it into stock ones.
router(MK, Controller) ->
    ok = gen_server:call(MK, {bind, dialplan}),
    Controller ! router_bound,
    router_loop(MK).

router_loop(MK) ->
    receive
        {fetch, {Props}} ->
            Uuid = proplists:get_value(<<"Fetch-UUID">>, Props),
            Context = proplists:get_value(<<"Fetch-Key-Value">>, Props),
            Xml = iolist_to_binary(
                    ["<document type=\"freeswitch/xml\"><section name=\"dialplan\">",
                     "<context name=\"", Context, "\"><extension name=\"park\"><condition>",
                     "<action application=\"kz_multiset_encoded\" data=\"^^|",
                     "Call-Control-Queue=example|ecallmgr_Account-ID=demo%20account\"/>",
                     "<action application=\"answer\"/><action application=\"park\"/>",
                     "</condition></extension></context></section></document>"]),
            gen_server:cast(MK, {fetch_reply, dialplan, Uuid, Xml}),
            router_loop(MK);
        _ ->
            router_loop(MK)
    end.

loop(_MK, _Stream, 0, _Playing) ->
    ok;
loop(MK, Stream, Left, Playing) ->
    receive
        {tcp, Stream, Data} ->
            {event, json, {Props}} = binary_to_term(Data),
            Get = fun(K) -> proplists:get_value(K, Props) end,
            CallId = Get(<<"Call-ID">>),
            %% Kazoo's event profile gathers the ecallmgr_ variables: only the routed
            %% legs have them.
            Account = case Get(<<"Custom-Channel-Vars">>) of
                          {Ccvs} -> proplists:get_value(<<"Account-ID">>, Ccvs);
                          _ -> undefined
                      end,
            case Get(<<"Event-Name">>) of
                <<"CHANNEL_ANSWER">> when Account =/= undefined,
                                          not is_map_key(CallId, Playing) ->
                    io:format("answered ~s (~s), playing~n", [CallId, Account]),
                    ok = sendmsg(MK, CallId, [{<<"execute-app-name">>, <<"playback">>},
                                              {<<"execute-app-arg">>,
                                               <<"tone_stream://%(300,0,440)">>},
                                              {<<"event-uuid-name">>, <<"playback">>}]),
                    loop(MK, Stream, Left, Playing#{CallId => playing});
                <<"CHANNEL_EXECUTE_COMPLETE">> when is_map_key(CallId, Playing) ->
                    case Get(<<"Application-Name">>) of
                        <<"playback">> ->
                            io:format("played on ~s: ~s, hanging up~n",
                                      [CallId, Get(<<"Application-Response">>)]),
                            gen_server:call(MK, {sendmsg, CallId,
                                                 [{<<"call-command">>, <<"hangup">>}]});
                        _ ->
                            ok
                    end,
                    loop(MK, Stream, Left, Playing);
                <<"CHANNEL_DESTROY">> when is_map_key(CallId, Playing) ->
                    io:format("call ~s ended: ~s~n", [CallId, Get(<<"Hangup-Cause">>)]),
                    loop(MK, Stream, Left - 1, maps:remove(CallId, Playing));
                _ ->
                    loop(MK, Stream, Left, Playing)
            end;
        {tcp_closed, Stream} ->
            io:format("event stream closed~n"),
            halt(1)
    after 30000 ->
        io:format("no events for 30 s~n"),
        halt(1)
    end.

sendmsg(MK, CallId, Headers) ->
    gen_server:call(MK, {sendmsg, CallId, [{<<"call-command">>, <<"execute">>} | Headers]}).
