"""An ecallmgr-like call controller in a real ``erl`` node, for the call benchmarks.

Usage (inside trio)::

    from benchmarks.controller import call_controller, kazoo_settings_file

    # kazoo-trio run --settings <kazoo_settings_file(path)> ...  (Kazoo's own profiles)
    async with call_controller("freeswitch@127.0.0.1", cookie="c", epmd_port=4369,
                               hold=1.0) as ctl:
        ...                                   # calls arrive (--sim-traffic, SIP, ...)
        stats = await ctl.stats(reset=True)   # counters + latencies since the last reset
        await ctl.set_hold(5.0)               # seconds between playback end and hangup

It works against any node speaking mod_kazoo's protocol (kazoo_trio over the
simulated switch or over a real FreeSWITCH, or FreeSWITCH's own mod_kazoo) as long as
the node runs with Kazoo's profiles (``kazoo_settings_file`` writes a ``kazoo.conf.xml``
holding them, as ecallmgr pushes them), so frames carry ``Call-ID`` and Kazoo's
CHANNEL_EXECUTE_COMPLETE filter applies.

What the Erlang side does, as ecallmgr does it:

* a dialplan handler (``{bind, dialplan}``) answers every lookup with ecallmgr's park
  route response (``ecallmgr_fs_xml:route_resp_xml`` for ``park``: log, exports, the
  Custom-Channel-Vars and the control queue by ``kz_multiset_encoded``, the
  ``kazoo::route_winner`` event, ``park``), as :data:`tests.ecallmgr.PARK_ROUTER`;
* one event stream (``{event, [...]}``) of CHANNEL_CREATE, CHANNEL_ANSWER,
  CHANNEL_EXECUTE_COMPLETE, CHANNEL_DESTROY and ``kazoo::route_winner``;
* per call, once its route_winner arrives, a process doing ``sendmsg`` execute
  ``answer``, then (on CHANNEL_ANSWER) ``sendmsg`` execute ``playback`` and waiting for
  its CHANNEL_EXECUTE_COMPLETE, then after the hold time ``sendmsg`` hangup
  ``NORMAL_CLEARING`` and waiting for CHANNEL_DESTROY.

Counters (:class:`Stats`): ``created`` channels, ``routed`` lookups answered,
``controlled`` calls taken, ``answered``, ``played``, ``hangups_sent``, ``completed``
(destroyed after our hangup with NORMAL_CLEARING), ``failed`` (everything else that
ended: another cause, destroyed before our hangup, a sendmsg error, a wait timed out, a
channel destroyed without ever being controlled), hangup ``causes`` of every destroyed
channel, ``in_progress`` (controlled, not yet ended), and latency percentiles in µs:
``route`` (lookup received → route_winner seen), ``answer`` (answer sent → CHANNEL_ANSWER),
``playback`` (playback sent → its EXECUTE_COMPLETE), ``hangup`` (hangup sent →
CHANNEL_DESTROY), ``sendmsg`` (one ``gen_server:call`` round trip).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import attrs

from tests.erlnode import ErlNode, erl_node
from tests.kazoo.profile_support import kazoo_conf_document, profiles_dir

__all__ = [
    "CONTROLLER_ERL",
    "Controller",
    "Latency",
    "Stats",
    "call_controller",
    "kazoo_settings_file",
]

EVENTS = (
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_DESTROY",
    "kazoo::route_winner",
)

CONTROLLER_ERL = r"""
-module(kt_callctl).
-export([start/2, stats/1, set_hold/1, stop/0]).

-define(TAB, kt_callctl_tab).
-define(LAT, kt_callctl_lat).
-define(COUNTERS, [created, routed, controlled, answered, played, hangups_sent,
                   completed, failed, destroyed, uncontrolled, early, timeouts,
                   sendmsg_errors, other_cause, other_frames]).

%% Target: the node (atom); Opts: #{hold_ms, playback, timeout_ms, events}.
start(Target, Opts) ->
    Parent = self(),
    Pid = spawn(fun() -> init(Parent, Target, Opts) end),
    Ref = monitor(process, Pid),
    receive
        {Pid, ready} -> demonitor(Ref, [flush]), ok;
        {'DOWN', Ref, process, Pid, Why} -> {error, Why}
    after 20000 -> exit(Pid, kill), {error, timeout}
    end.

stop() ->
    case whereis(kt_callctl) of
        undefined -> ok;
        Pid -> Ref = monitor(process, Pid), Pid ! stop,
               receive {'DOWN', Ref, _, _, _} -> ok after 5000 -> exit(Pid, kill), ok end
    end.

set_hold(Ms) -> ets:insert(?TAB, {hold_ms, Ms}), ok.

stats(Reset) ->
    Counts = [{C, value(C)} || C <- ?COUNTERS],
    Causes = [{Cause, N} || {{cause, Cause}, N} <- ets:tab2list(?TAB)],
    Lat = [{M, summary(lists:sort([V || {_, V} <- ets:lookup(?LAT, M)]))}
           || M <- [route, answer, playback, hangup, sendmsg]],
    case Reset of
        true ->
            [ets:insert(?TAB, {C, 0}) || C <- ?COUNTERS],
            ets:match_delete(?TAB, {{cause, '_'}, '_'}),
            ets:delete_all_objects(?LAT);
        false -> ok
    end,
    [{counts, Counts}, {causes, Causes}, {latency, Lat},
     {in_progress, value(in_progress)}].

summary([]) -> {0, 0, 0, 0};
summary(Sorted) ->
    Len = length(Sorted),
    T = list_to_tuple(Sorted),
    {Len, pct(T, Len, 50), pct(T, Len, 99), element(Len, T)}.

pct(T, Len, P) -> element(max(1, min(Len, (Len * P + 99) div 100)), T).

value(C) -> case ets:lookup(?TAB, C) of [{_, V}] -> V; [] -> 0 end.

bump(C) -> ets:update_counter(?TAB, C, 1, {C, 0}).
bump(C, N) -> ets:update_counter(?TAB, C, N, {C, 0}).

lat(M, Since) -> ets:insert(?LAT, {M, now_us() - Since}).

now_us() -> erlang:monotonic_time(microsecond).

init(Parent, Target, Opts) ->
    register(kt_callctl, self()),
    ets:new(?TAB, [named_table, public, set, {write_concurrency, true}]),
    ets:new(?LAT, [named_table, public, duplicate_bag, {write_concurrency, true}]),
    [ets:insert(?TAB, {C, 0}) || C <- [in_progress | ?COUNTERS]],
    ets:insert(?TAB, {hold_ms, maps:get(hold_ms, Opts)}),
    Dest = {mod_kazoo, Target},
    Self = self(),
    Router = spawn_link(fun() -> router(Self, Dest) end),
    receive {Router, bound} -> ok after 10000 -> exit(not_bound) end,
    {ok, {Ip, Port}} = gen_server:call(Dest, {event, maps:get(events, Opts)}, 10000),
    {ok, Addr} = inet_parse:address(Ip),
    {ok, S} = gen_tcp:connect(Addr, Port, [binary, {packet, 2}, {active, 200},
                                           {recbuf, 1048576}]),
    Parent ! {self(), ready},
    dispatch(S, Dest, Opts, #{}).

dispatch(S, Dest, Opts, Calls) ->
    receive
        {tcp, S, Data} ->
            dispatch(S, Dest, Opts, frame(binary_to_term(Data), Dest, Opts, Calls));
        {tcp_passive, S} ->
            ok = inet:setopts(S, [{active, 200}]),
            dispatch(S, Dest, Opts, Calls);
        {tcp_closed, S} -> exit(stream_closed);
        stop -> gen_tcp:close(S), exit(normal)
    end.

frame({event, json, {Props}}, Dest, Opts, Calls) -> event(Props, Dest, Opts, Calls);
frame({event, [_ | Props]}, Dest, Opts, Calls) when is_list(Props) ->
    event(Props, Dest, Opts, Calls);
frame(_, _, _, Calls) -> bump(other_frames), Calls.

get(K, Props) -> proplists:get_value(K, Props).

event(Props, Dest, Opts, Calls) ->
    Name = case get(<<"Event-Name">>, Props) of
               <<"CUSTOM">> -> get(<<"Event-Subclass">>, Props);
               N -> N
           end,
    U = case get(<<"Call-ID">>, Props) of undefined -> get(<<"Unique-ID">>, Props); V -> V end,
    handle(Name, U, Props, Dest, Opts, Calls).

handle(<<"kazoo::route_winner">>, U, _Props, Dest, Opts, Calls) ->
    case maps:is_key(U, Calls) of
        true -> Calls;
        false ->
            bump(controlled), bump(in_progress),
            T = now_us(),
            case ets:take(?TAB, {route, U}) of [{_, T0}] -> lat(route, T0); [] -> ok end,
            Pid = spawn(fun() -> call(Dest, U, Opts, T) end),
            Calls#{U => Pid}
    end;
handle(<<"CHANNEL_CREATE">>, _U, _Props, _Dest, _Opts, Calls) -> bump(created), Calls;
handle(<<"CHANNEL_ANSWER">>, U, _Props, _Dest, _Opts, Calls) ->
    forward(U, answered, Calls), Calls;
handle(<<"CHANNEL_EXECUTE_COMPLETE">>, U, Props, _Dest, _Opts, Calls) ->
    forward(U, {complete, get(<<"Application-UUID">>, Props),
                get(<<"Application-Name">>, Props)}, Calls),
    Calls;
handle(<<"CHANNEL_DESTROY">>, U, Props, _Dest, _Opts, Calls) ->
    Cause = case get(<<"Hangup-Cause">>, Props) of undefined -> <<"(none)">>; C -> C end,
    bump(destroyed),
    bump({cause, Cause}),
    case maps:take(U, Calls) of
        {Pid, Rest} -> Pid ! {destroyed, Cause}, Rest;
        error -> bump(uncontrolled), bump(failed), Calls
    end;
handle(_, _, _, _, _, Calls) -> Calls.

forward(U, Msg, Calls) ->
    case Calls of #{U := Pid} -> Pid ! Msg; _ -> ok end.

%% ecallmgr_fs_xml:route_resp_xml(<<"park">>, ...), as tests/ecallmgr.py builds it.
router(Ctl, Dest) ->
    ok = gen_server:call(Dest, {bind, dialplan}, 10000),
    Ctl ! {self(), bound},
    route_loop(Dest, atom_to_binary(node(), utf8)).

route_loop(Dest, Node) ->
    receive
        {fetch, {Props}} ->
            U = get(<<"Fetch-UUID">>, Props),
            Ctx = case get(<<"Fetch-Key-Value">>, Props) of
                      undefined -> <<"context_2">>; C -> C end,
            CallId = case get(<<"Call-ID">>, Props) of
                         undefined -> get(<<"Unique-ID">>, Props); V -> V end,
            ets:insert(?TAB, {{route, CallId}, now_us()}),
            gen_server:cast(Dest, {fetch_reply, dialplan, U, park_xml(U, Ctx, Node)}),
            bump(routed),
            route_loop(Dest, Node);
        _ -> route_loop(Dest, Node)
    end.

esc(B) ->
    lists:foldl(fun({F, T}, Acc) -> binary:replace(Acc, F, T, [global]) end,
                iolist_to_binary(B),
                [{<<"&">>, <<"&amp;">>}, {<<"<">>, <<"&lt;">>}, {<<">">>, <<"&gt;">>},
                 {<<"\"">>, <<"&quot;">>}]).

el(Tag, Attrs) ->
    [<<"<">>, Tag, [[<<" ">>, K, <<"=\"">>, esc(V), <<"\"">>] || {K, V} <- Attrs], <<"/>">>].

act(App, Data) -> el(<<"action">>, [{<<"application">>, App}, {<<"data">>, Data}]).

inline(Tag, App, Data) ->
    el(Tag, [{<<"application">>, App}, {<<"data">>, Data}, {<<"inline">>, <<"true">>}]).

cond_el(Field, Expr, Els) ->
    [<<"<condition field=\"">>, Field, <<"\" expression=\"">>, Expr, <<"\">">>, Els,
     <<"</condition>">>].

park_xml(U, Ctx, Node) ->
    ControlQ = <<"ecallmgr_call_control-", U/binary>>,
    ControlP = list_to_binary(pid_to_list(self())),
    Ccvs = [{<<"Application-Name">>, <<"callflow">>}, {<<"Application-Node">>, Node},
            {<<"Account-ID">>, <<"acc1">>}, {<<"Authorizing-Type">>, <<"device">>}],
    CcvArg = iolist_to_binary([<<"^^|">>, lists:join(<<"|">>,
                 [<<"ecallmgr_", K/binary, "=", V/binary>> || {K, V} <- Ccvs])]),
    Ring = <<"%(2000,4000,440,480)">>,
    Exten = [
      act(<<"log">>, [<<"NOTICE log|${uuid}|">>, Node, <<" won call control">>]),
      act(<<"export">>, [<<"ecallmgr_Ecallmgr-Node=">>, Node]),
      cond_el(<<"${sip_h_k-cid}">>, <<"^$">>,
              [inline(<<"action">>, <<"export">>, <<"sip_h_k-cid=${uuid}">>),
               inline(<<"anti-action">>, <<"export">>, <<"sip_h_k-cid=${sip_h_k-cid}">>)]),
      cond_el(<<"${ecallmgr_Bridge-ID}">>, <<"^$">>,
              [inline(<<"action">>, <<"export">>, <<"ecallmgr_Bridge-ID=${UUID}">>)]),
      act(<<"set">>, [<<"ringback=">>, Ring]),
      act(<<"set">>, [<<"transfer_ringback=">>, Ring]),
      case Ctx of <<"answered">> -> el(<<"action">>, [{<<"application">>, <<"answer">>}]);
                  _ -> [] end,
      act(<<"kz_multiset_encoded">>, CcvArg),
      act(<<"kz_prefix_unset">>, <<"sip_h_X-">>),
      act(<<"kz_multiset_encoded">>, [<<"^^;Call-Control-Queue=">>, ControlQ,
          <<";Call-Control-PID=">>, ControlP, <<";ecallmgr_Ecallmgr-Node=">>, Node,
          <<";Call-Control-Node=">>, Node, <<";Fetch-UUID=">>, U]),
      act(<<"event">>, lists:join(<<",">>, [<<"Event-Subclass=kazoo::route_winner">>,
          <<"Event-Name=CUSTOM">>, <<"Event-Category=dialplan">>,
          <<"Routing-Queue=", ControlQ/binary>>, <<"Request-From-PID=", ControlP/binary>>,
          <<"Controller-Queue=callflow_queue">>, <<"Fetch-UUID=", U/binary>>])),
      el(<<"action">>, [{<<"application">>, <<"park">>}])],
    iolist_to_binary([<<"<document type=\"freeswitch/xml\">"
        "<section name=\"dialplan\" description=\"Route Park Response\"><context name=\"">>,
        Ctx, <<"\"><extension name=\"park\"><condition>">>, Exten,
        <<"</condition></extension></context></section></document>">>]).

%% One controlled call: answer, playback (until its EXECUTE_COMPLETE), hold, hangup.
call(Dest, U, Opts, TWin) ->
    Timeout = maps:get(timeout_ms, Opts),
    try
        TA = now_us(),
        sendmsg(Dest, U, execute(<<"answer">>, <<>>, <<"answer-", U/binary>>)),
        await(answered, Timeout),
        lat(answer, TA),
        bump(answered),
        TP = now_us(),
        PlayId = <<"playback-", U/binary>>,
        sendmsg(Dest, U, execute(<<"playback">>, maps:get(playback, Opts), PlayId)),
        await({complete, PlayId}, Timeout),
        lat(playback, TP),
        bump(played),
        [{_, Hold}] = ets:lookup(?TAB, hold_ms),
        receive {destroyed, C0} -> throw({early, C0}) after Hold -> ok end,
        TH = now_us(),
        sendmsg(Dest, U, [{<<"call-command">>, <<"hangup">>},
                          {<<"hangup-cause">>, <<"NORMAL_CLEARING">>}]),
        bump(hangups_sent),
        Cause = await(destroyed, Timeout),
        lat(hangup, TH),
        case Cause of
            <<"NORMAL_CLEARING">> -> bump(completed);
            _ -> bump(other_cause), bump(failed)
        end
    catch
        throw:{early, _} -> bump(early), bump(failed);
        throw:timeout -> bump(timeouts), bump(failed);
        throw:{sendmsg, _} -> bump(sendmsg_errors), bump(failed)
    end,
    bump(in_progress, -1),
    _ = TWin,
    ok.

await(answered, Timeout) ->
    receive answered -> ok; {destroyed, C} -> throw({early, C})
    after Timeout -> throw(timeout) end;
await({complete, Id}, Timeout) ->
    receive {complete, Id, _} -> ok; {destroyed, C} -> throw({early, C})
    after Timeout -> throw(timeout) end;
await(destroyed, Timeout) ->
    receive {destroyed, C} -> C after Timeout -> throw(timeout) end.

execute(App, Arg, Id) ->
    [{<<"call-command">>, <<"execute">>}, {<<"execute-app-name">>, App},
     {<<"execute-app-arg">>, Arg}, {<<"event-uuid">>, Id}, {<<"event-uuid-name">>, App}].

sendmsg(Dest, U, Headers) ->
    T = now_us(),
    R = try gen_server:call(Dest, {sendmsg, U, Headers}, 30000)
        catch exit:Why -> {error, Why} end,
    lat(sendmsg, T),
    case R of
        ok -> ok;
        Other -> throw({sendmsg, Other})
    end.
"""


@attrs.frozen
class Latency:
    """``count`` samples; p50, p99 and the largest, in microseconds."""

    count: int
    p50_us: int
    p99_us: int
    max_us: int


@attrs.frozen
class Stats:
    """The controller's counters since the last reset (see the module text)."""

    counts: dict[str, int]
    causes: dict[str, int]
    latency: dict[str, Latency]
    in_progress: int

    def __getattr__(self, name: str) -> int:
        try:
            return self.counts[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.counts,
            "in_progress": self.in_progress,
            "causes": dict(self.causes),
            "latency_us": {k: attrs.asdict(v) for k, v in self.latency.items()},
        }


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _key(value: object) -> str:
    return str(getattr(value, "name", value))


@attrs.define
class Controller:
    """A started controller: its ``erl`` node and the calls it controls."""

    node: ErlNode

    async def stats(self, *, reset: bool = False) -> Stats:
        """The counters (zeroed afterwards with ``reset``; calls in progress stay counted)."""
        raw = await self.node.term(f"kt_callctl:stats({'true' if reset else 'false'}).")
        parts = {_key(k): v for k, v in raw}
        return Stats(
            counts={_key(k): int(v) for k, v in parts["counts"]},
            causes={_text(k): int(v) for k, v in parts["causes"]},
            latency={_key(k): Latency(*(int(x) for x in v)) for k, v in parts["latency"]},
            in_progress=int(parts["in_progress"]),
        )

    async def set_hold(self, seconds: float) -> None:
        """Seconds from the end of the playback to the hangup, for calls from now on."""
        await self.node.eval(f"kt_callctl:set_hold({round(seconds * 1000)}).")


@asynccontextmanager
async def call_controller(
    target: str,
    *,
    cookie: str,
    epmd_port: int,
    name: str = "kzctl@127.0.0.1",
    hold: float = 1.0,
    playback: str = "silence_stream://100",
    timeout: float = 30.0,
) -> AsyncIterator[Controller]:
    """Start the controller in a new ``erl`` node ``name`` against ``target`` (the
    mod_kazoo node, e.g. ``freeswitch@127.0.0.1``); stopped and killed on leaving.

    ``hold``: seconds between the end of the playback and the hangup; ``playback``: what
    is played (``silence_stream://MS`` lasts MS on both backends); ``timeout``: how long
    a call waits for each event before it counts as failed.
    """
    with tempfile.TemporaryDirectory(prefix="kt_callctl") as workdir:
        source = Path(workdir) / "kt_callctl.erl"
        source.write_text(CONTROLLER_ERL, encoding="utf-8")
        async with erl_node(name, cookie=cookie, epmd_port=epmd_port, args=["-pa", workdir]) as e:
            compiled = await e.eval(f'c:c("{source}", [{{outdir, "{workdir}"}}]).', timeout=60)
            if compiled != "{ok,kt_callctl}":
                raise RuntimeError(f"controller did not compile: {compiled}\n{e.output.decode()}")
            events = ",".join(f"'{event}'" for event in EVENTS)
            started = await e.eval(
                f"kt_callctl:start('{target}', #{{hold_ms => {round(hold * 1000)},"
                f' playback => <<"{playback}">>, timeout_ms => {round(timeout * 1000)},'
                f" events => [{events}]}}).",
                timeout=30,
            )
            if started != "ok":
                raise RuntimeError(f"controller did not start: {started}\n{e.output.decode()}")
            try:
                yield Controller(e)
            finally:
                # Unbinds by closing its stream and exiting; the node is killed anyway.
                with suppress(Exception):
                    await e.eval("kt_callctl:stop().", timeout=5)


def kazoo_settings_file(path: Path, *, settings: str = "", folder: Path | None = None) -> Path:
    """Write a ``kazoo.conf.xml`` holding Kazoo's profiles (from ``folder``, by default
    ``../shared/kazoo-profiles``) and ``settings`` (``<param .../>`` elements) to
    ``path``, for ``kazoo-trio run --settings``."""
    folder = folder or profiles_dir()
    if not (folder / "definitions").is_dir():
        raise FileNotFoundError(f"Kazoo's profiles not found in {folder} (set KAZOO_PROFILES_DIR)")
    document = kazoo_conf_document(folder)
    if settings:
        document = document.replace(
            '<configuration name="kazoo.conf" description="Built by Kazoo">',
            '<configuration name="kazoo.conf" description="Built by Kazoo">'
            f"<settings>{settings}</settings>",
            1,
        )
    path.write_text(document, encoding="utf-8")
    return path
