#!/usr/bin/env escript
%% A small call controller, the way Kazoo's ecallmgr drives a switch.
%%
%% Start the switch (simulated inbound calls are optional):
%%
%%     kazoo-trio run --name freeswitch@127.0.0.1 --cookie change_me --sim-traffic 1:20
%%
%% then run
%%
%%     examples/call_controller.escript freeswitch@127.0.0.1 change_me 3
%%
%% It binds the dialplan and answers every route request with `answer` + `park`,
%% listens to call events on an event stream, and for each answered call plays a
%% prompt and hangs up through `sendmsg`.  It places one loopback call of its own
%% (so it works without --sim-traffic) and stops after handling N calls (default 3).
-mode(compile).

main([Node, Cookie]) -> main([Node, Cookie, "3"]);
main([NodeText, CookieText, CallsText]) ->
    Node = list_to_atom(NodeText),
    {ok, _} = net_kernel:start(['call_controller@127.0.0.1', longnames]),
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
    {ok, Reply} = gen_server:call(MK, {api, originate, <<"loopback/1000/context_2 &park()">>},
                                  10000),
    io:format("originate: ~s", [Reply]),
    loop(MK, Stream, list_to_integer(CallsText), #{}),
    io:format("done~n"),
    halt(0);
main(_) ->
    io:format("usage: call_controller.escript <node> <cookie> [<calls>]~n"),
    halt(2).

%% Answers dialplan lookups: answer, then park; the Call-Control-Queue variable and
%% the event-uuid-name of our commands make the switch send their
%% CHANNEL_EXECUTE_COMPLETE events (ecallmgr's event profile filters on them).
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
                     "<context name=\"", Context, "\"><extension name=\"controller\">",
                     "<condition><action application=\"set\" data=\"Call-Control-Queue=example\"/>",
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
            case Get(<<"Event-Name">>) of
                <<"CHANNEL_ANSWER">> when not is_map_key(CallId, Playing) ->
                    io:format("answered ~s, playing~n", [CallId]),
                    ok = sendmsg(MK, CallId, [{<<"execute-app-name">>, <<"playback">>},
                                              {<<"execute-app-arg">>, <<"/tmp/hello.wav">>},
                                              {<<"event-uuid-name">>, <<"playback">>}]),
                    loop(MK, Stream, Left, Playing#{CallId => playing});
                <<"CHANNEL_EXECUTE_COMPLETE">> ->
                    case Get(<<"Application-Name">>) of
                        <<"playback">> ->
                            io:format("played on ~s, hanging up~n", [CallId]),
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
