"""Controlled calls per second through kazoo_trio in front of a real FreeSWITCH.

FreeSWITCH (``tests/freeswitch/fsmin.py``, ``sessions-per-second`` and
``max-sessions`` raised from the bundled 100/1,000, its core database in memory, its
log level at ``warning``) is driven two ways in the same run, with the same calls, each
side on a FreeSWITCH started for it (one overloaded by a side's last rate stays busy
for a minute or more after its last channel has gone):

* the anchor: a bare event-socket client in this process (trio and the sans-IO
  parser of :mod:`kazoo_trio.switch.freeswitch.esl`, no event model), subscribed to
  ``BACKGROUND_JOB``, ``CHANNEL_EXECUTE_COMPLETE`` and ``CHANNEL_DESTROY`` only, on a
  connection of their own, its commands spread over four others (see
  :class:`EslAnchor`);
* kazoo_trio: ``kazoo-trio run --switch freeswitch`` as its own process with Kazoo's
  event profiles (``benchmarks.controller.kazoo_settings_file``), and an ``erl`` node
  that controls the calls the way ecallmgr does: ``{bgapi, originate, ...}`` through
  ``mod_kazoo``, an event stream (``{event, [...]}``) of the same two events, and
  ``{sendmsg, UUID, Headers}``.

The call, on both sides (ecallmgr's originate path, ``ecallmgr_originate``: the
controller chooses the UUID, originates with an inline park, then takes control):
``bgapi originate {origination_uuid=U,Call-Control-Queue=fsbench}null/1000 &park()``;
on its ``+OK`` a ``sendmsg`` execute ``playback silence_stream://100`` with an
``event-uuid`` and ``event-uuid-name`` (what Kazoo's profile of the event needs); on that
execution's ``CHANNEL_EXECUTE_COMPLETE`` a hold, then ``sendmsg`` hangup
``NORMAL_CLEARING``; done at its ``CHANNEL_DESTROY``.  A ``null/`` leg is the cheapest
channel FreeSWITCH has, so FreeSWITCH's own work per call is small and the
controller's path shows.  (Inbound calls routed by a dialplan lookup would need a
second, loopback leg per call, since FreeSWITCH cannot answer an outbound ``null/``
leg; the lookup path is measured by ``bench_fetch``.)  The hold defaults to 0: every
parked ``null/`` leg wakes on FreeSWITCH's 20 ms media timer, so FreeSWITCH's work per
call grows with how long calls live and a long hold measures FreeSWITCH's timer.

Calls start open-loop at the offered rate for ``--seconds``; a rate is *sustained*
when every call offered in it ends ``NORMAL_CLEARING`` after our hangup, none fails,
and the 99th percentile of a call's life (originate sent to ``CHANNEL_DESTROY``) stays
within the hold and playback plus one second.  Reported per side: the highest
sustained rate, the ratio kazoo_trio/anchor, and CPU per completed call of
FreeSWITCH, of kazoo_trio's process, and of the driver (this process for the anchor,
``erl`` for kazoo_trio), from ``/proc/<pid>/stat``.

Each side stops stepping at its first rate not sustained.  The machine's other load
moves the rates a lot; the CPU per call is the steadier figure.

Usage: ``python -m benchmarks.bench_freeswitch [--seconds S] [--rates 50,100,150]
[--hold H] [--sides anchor,kazoo] [--profile FILE]`` (``--profile``: kazoo-trio under
cProfile, timed by CPU).  Writes ``benchmarks/results/freeswitch.json``.
"""

from __future__ import annotations

import argparse
import heapq
import os
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import attrs
import trio

from benchmarks.common import print_table, write_json
from benchmarks.controller import kazoo_settings_file
from kazoo_trio.switch.freeswitch import esl
from tests.erlnode import ErlNode, epmd_daemon, erl_node
from tests.freeswitch.fsmin import PASSWORD, FreeSwitch, esl_exchange, freeswitch_instance
from tests.kazoo.run_process import RunningCommand, kazoo_trio_run

NODE = "freeswitch@127.0.0.1"
DRIVER = "fsbench@127.0.0.1"
COOKIE = "fsbench"
PLAYBACK = "silence_stream://100"
PLAYBACK_S = 0.1
EVENTS = ("CHANNEL_EXECUTE_COMPLETE", "CHANNEL_DESTROY")
# A call that has not ended this long after its window is lost.
DRAIN_S = 20.0
# Allowed on top of the hold and playback at the 99th percentile.
SLACK_S = 1.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Between rates: FreeSWITCH counts as idle once it uses less than this share of a core
# over a window (its 20 ms timers and idle threads use about 1 %), waited for at most
# IDLE_WAIT_S.
IDLE_CPU_SHARE = 0.1
IDLE_WINDOW_S = 1.0
IDLE_WAIT_S = 60.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` (all its threads) so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _pct(ordered: list[float], p: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * p / 100 + 0.999999) - 1))]


@attrs.define
class StepResult:
    """One side at one offered rate."""

    side: str
    offered_per_s: int
    offered: int
    completed: int
    failed: int
    seconds: float
    life_p50_ms: float
    life_p99_ms: float
    fs_cpu_us_per_call: float
    kazoo_cpu_us_per_call: float | None
    driver_cpu_us_per_call: float
    sustained: bool
    causes: dict[str, int]


def originate_args(uuid: str) -> str:
    """The ``originate`` of a call; ``Call-Control-Queue`` is what ecallmgr sets and
    Kazoo's ``CHANNEL_EXECUTE_COMPLETE`` profile requires."""
    return f"{{origination_uuid={uuid},Call-Control-Queue=fsbench}}null/1000 &park()"


# -- the anchor: a bare event-socket client ----------------------------------------------


def _header(payload: bytes, name: bytes) -> str | None:
    """A header of a ``text/event-plain`` payload, decoded (only the ones we read)."""
    start = payload.find(b"\n" + name + b": ")
    if start < 0:
        if not payload.startswith(name + b": "):
            return None
        start = -1
    start += len(name) + 3
    end = payload.find(b"\n", start)
    return unquote(payload[start:end].decode()) if end >= 0 else None


async def _next(stream: trio.SocketStream, conn: esl.EslConnection) -> esl.Message:
    while True:
        message = conn.next_message()
        if not isinstance(message, esl._NeedData):
            return message
        conn.receive_data(await stream.receive_some(1 << 20))


@attrs.define(eq=False)
class _AnchorCall:
    started: float
    line: int
    hangup_sent: bool = False


@attrs.define(eq=False)
class _CommandLine:
    """One command connection: what is to be written, and what each reply answers."""

    stream: trio.SocketStream
    conn: esl.EslConnection
    pending: deque[str] = attrs.field(factory=deque)
    outbox: list[bytes] = attrs.field(factory=list)
    wake: trio.Event = attrs.field(factory=trio.Event)


@attrs.define(eq=False)
class EslAnchor:
    """Drives calls on FreeSWITCH over its event socket, without kazoo_trio.

    Events come on a connection of their own and commands go out on ``lines``
    others: mod_event_socket sends queued events only while no command is being
    received (a steady flow of commands on the connection holding the events
    starves them) and reads commands a byte per system call, one connection at a
    time, so commands are spread over several connections, a call's commands all on
    the same one.
    """

    port: int
    hold: float
    lines: int = 4
    events: tuple[str, ...] = ("BACKGROUND_JOB", *EVENTS)
    format: esl.EventFormat = "plain"
    stream: trio.SocketStream | None = None
    conn: esl.EslConnection = attrs.field(factory=esl.EslConnection)
    commands: list[_CommandLine] = attrs.field(factory=list)
    calls: dict[str, _AnchorCall] = attrs.field(factory=dict)
    holds: list[tuple[float, str]] = attrs.field(factory=list)
    completed: int = 0
    failed: int = 0
    lives: list[float] = attrs.field(factory=list)
    causes: dict[str, int] = attrs.field(factory=dict)
    _count: int = 0

    async def connect(self) -> None:
        self.stream = await self._open(self.conn, [*self.events])
        for _ in range(self.lines):
            conn = esl.EslConnection()
            self.commands.append(_CommandLine(await self._open(conn, []), conn))

    async def _open(self, conn: esl.EslConnection, events: list[str]) -> trio.SocketStream:
        stream = await trio.open_tcp_stream("127.0.0.1", self.port)
        assert isinstance(await _next(stream, conn), esl.AuthRequest)
        await stream.send_all(esl.auth(PASSWORD))
        reply = await _next(stream, conn)
        assert isinstance(reply, esl.CommandReply) and reply.ok, reply
        if events:
            await stream.send_all(esl.event(self.format, events))
            reply = await _next(stream, conn)
            assert isinstance(reply, esl.CommandReply) and reply.ok, reply
        return stream

    async def aclose(self) -> None:
        assert self.stream is not None
        await self.stream.aclose()
        for line in self.commands:
            await line.stream.aclose()

    def start(self, nursery: trio.Nursery) -> None:
        nursery.start_soon(self.reader)
        nursery.start_soon(self.ticker)
        for line in self.commands:
            nursery.start_soon(self.writer, line)
            nursery.start_soon(self.replies, line)

    def _send(self, uuid: str, data: bytes) -> None:
        line = self.commands[self.calls[uuid].line]
        line.pending.append(uuid)
        line.outbox.append(data)
        line.wake.set()

    def originate(self, uuid: str) -> None:
        self.calls[uuid] = _AnchorCall(time.monotonic(), self._count % self.lines)
        self._count += 1
        self._send(uuid, esl.bgapi("originate", originate_args(uuid), uuid))

    def _fail(self, uuid: str, cause: str) -> None:
        if self.calls.pop(uuid, None) is not None:
            self.failed += 1
            self.causes[cause] = self.causes.get(cause, 0) + 1

    async def writer(self, line: _CommandLine) -> None:
        while True:
            await line.wake.wait()
            line.wake = trio.Event()
            if line.outbox:
                data, line.outbox = b"".join(line.outbox), []
                await line.stream.send_all(data)

    async def ticker(self) -> None:
        hangup = [("call-command", "hangup"), ("hangup-cause", "NORMAL_CLEARING")]
        while True:
            await trio.sleep(0.005)
            now = time.monotonic()
            while self.holds and self.holds[0][0] <= now:
                _, uuid = heapq.heappop(self.holds)
                call = self.calls.get(uuid)
                if call is not None:
                    call.hangup_sent = True
                    self._send(uuid, esl.sendmsg(uuid, hangup))

    async def reader(self) -> None:
        assert self.stream is not None
        while True:
            message = await _next(self.stream, self.conn)
            if isinstance(message, esl.EventMessage):
                self._event(message.payload)

    async def replies(self, line: _CommandLine) -> None:
        while True:
            message = await _next(line.stream, line.conn)
            if isinstance(message, esl.CommandReply):
                uuid = line.pending.popleft()
                if not message.ok:
                    self._fail(uuid, f"command: {message.reply_text}")

    def _event(self, payload: bytes) -> None:
        if self.format == "json":
            message = esl.EventMessage("json", payload)

            def header(payload: bytes, name: bytes) -> str | None:
                return message.header(name.decode())
        else:
            header = _header
        name = header(payload, b"Event-Name")
        if name == "BACKGROUND_JOB":
            uuid = header(payload, b"Job-UUID") or ""
            body = (
                payload[payload.find(b"\n\n") + 2 :]
                if self.format == "plain"
                else (message.parse().body or "").encode()
            )
            if not body.startswith(b"+OK"):
                self._fail(uuid, body.decode(errors="replace").strip()[:40])
                return
            if uuid in self.calls:
                self._send(
                    uuid,
                    esl.sendmsg(
                        uuid,
                        [
                            ("call-command", "execute"),
                            ("execute-app-name", "playback"),
                            ("execute-app-arg", PLAYBACK),
                            ("event-uuid", f"playback-{uuid}"),
                            ("event-uuid-name", "playback"),
                        ],
                    ),
                )
            return
        uuid = header(payload, b"Unique-ID") or ""
        call = self.calls.get(uuid)
        if call is None:
            return
        if name == "CHANNEL_EXECUTE_COMPLETE":
            if header(payload, b"Application-UUID") == f"playback-{uuid}":
                heapq.heappush(self.holds, (time.monotonic() + self.hold, uuid))
        elif name == "CHANNEL_DESTROY":
            cause = header(payload, b"Hangup-Cause") or "(none)"
            if call.hangup_sent and cause == "NORMAL_CLEARING":
                del self.calls[uuid]
                self.completed += 1
                self.lives.append(time.monotonic() - call.started)
                self.causes[cause] = self.causes.get(cause, 0) + 1
            else:
                self._fail(uuid, cause if call.hangup_sent else f"early {cause}")


async def anchor_step(
    fs: FreeSwitch, anchor: EslAnchor, rate: int, seconds: float, tag: str
) -> StepResult:
    anchor.completed = anchor.failed = 0
    anchor.lives, anchor.causes = [], {}
    assert fs.process is not None
    fs0, me0, wall0 = cpu_seconds(fs.process.pid), time.process_time(), time.monotonic()
    total = int(rate * seconds)
    t0 = trio.current_time()
    sent = 0
    while sent < total:
        due = min(total, int((trio.current_time() - t0) * rate) + 1)
        while sent < due:
            anchor.originate(f"{tag}-{sent:07d}")
            sent += 1
        await trio.sleep(0.005)
    with trio.move_on_after(DRAIN_S + anchor.hold):
        while anchor.calls:
            await trio.sleep(0.05)
    for uuid in list(anchor.calls):
        anchor._fail(uuid, "lost")
    return _result(
        "anchor", rate, total, anchor.completed, anchor.failed, anchor.lives, anchor.causes,
        anchor.hold, time.monotonic() - wall0,
        fs_cpu=cpu_seconds(fs.process.pid) - fs0, kazoo_cpu=None,
        driver_cpu=time.process_time() - me0,
    )  # fmt: skip


def _result(
    side: str,
    rate: int,
    total: int,
    completed: int,
    failed: int,
    lives: list[float],
    causes: dict[str, int],
    hold: float,
    wall: float,
    *,
    fs_cpu: float,
    kazoo_cpu: float | None,
    driver_cpu: float,
) -> StepResult:
    ordered = sorted(lives)
    p99 = _pct(ordered, 99)
    per = max(completed, 1)
    return StepResult(
        side=side,
        offered_per_s=rate,
        offered=total,
        completed=completed,
        failed=failed,
        seconds=wall,
        life_p50_ms=_pct(ordered, 50) * 1e3,
        life_p99_ms=p99 * 1e3,
        fs_cpu_us_per_call=fs_cpu * 1e6 / per,
        kazoo_cpu_us_per_call=None if kazoo_cpu is None else kazoo_cpu * 1e6 / per,
        driver_cpu_us_per_call=driver_cpu * 1e6 / per,
        sustained=failed == 0 and completed == total and p99 <= hold + PLAYBACK_S + SLACK_S,
        causes=causes,
    )


# -- kazoo_trio: an Erlang controller through mod_kazoo -----------------------------------

DRIVER_ERL = r"""
-module(kt_fsbench).
-export([start/2, step/4, stats/0]).

%% The event stream's reader: forwards each call's events to its process.
start(Target, Events) ->
    Parent = self(),
    Pid = spawn(fun() -> init(Parent, Target, Events) end),
    receive {Pid, ready} -> ok after 20000 -> {error, timeout} end.

init(Parent, Target, Events) ->
    register(kt_fsbench, self()),
    ets:new(kt_fsb_calls, [named_table, public, set, {read_concurrency, true}]),
    ets:new(kt_fsb_res, [named_table, public, duplicate_bag, {write_concurrency, true}]),
    put(target, Target),
    {ok, {Ip, Port}} = gen_server:call({mod_kazoo, Target}, {event, Events}, 10000),
    {ok, Addr} = inet_parse:address(Ip),
    {ok, S} = gen_tcp:connect(Addr, Port, [binary, {packet, 2}, {active, 500},
                                           {recbuf, 4194304}]),
    Parent ! {self(), ready},
    loop(S).

loop(S) ->
    receive
        {tcp, S, Data} -> frame(binary_to_term(Data)), loop(S);
        {tcp_passive, S} -> ok = inet:setopts(S, [{active, 500}]), loop(S);
        {tcp_closed, S} -> exit(stream_closed)
    end.

frame({event, json, {Props}}) -> event(Props);
frame({event, [_ | Props]}) when is_list(Props) -> event(Props);
frame(_) -> ok.

get(K, Props) -> proplists:get_value(K, Props).

event(Props) ->
    U = case get(<<"Call-ID">>, Props) of undefined -> get(<<"Unique-ID">>, Props); V -> V end,
    case ets:lookup(kt_fsb_calls, U) of
        [{_, Pid}] ->
            case get(<<"Event-Name">>, Props) of
                <<"CHANNEL_EXECUTE_COMPLETE">> ->
                    Pid ! {complete, get(<<"Application-UUID">>, Props)};
                <<"CHANNEL_DESTROY">> ->
                    Pid ! {destroyed, get(<<"Hangup-Cause">>, Props)};
                _ -> ok
            end;
        [] -> ok
    end.

%% Offer Rate calls/s for Ms milliseconds (open loop); returns when all are offered.
step(Rate, Ms, HoldMs, Tag) ->
    Target = whereis_target(),
    T0 = erlang:monotonic_time(millisecond),
    Total = Rate * Ms div 1000,
    pace(Target, Rate, Total, 0, T0, HoldMs, Tag).

whereis_target() ->
    {dictionary, D} = process_info(whereis(kt_fsbench), dictionary),
    proplists:get_value(target, D).

pace(_, _, Total, Total, _, _, _) -> Total;
pace(Target, Rate, Total, Sent, T0, HoldMs, Tag) ->
    Now = erlang:monotonic_time(millisecond),
    Due = min(Total, (Now - T0) * Rate div 1000 + 1),
    [begin
         U = iolist_to_binary(io_lib:format("~s-~7..0B", [Tag, N])),
         spawn(fun() -> call(Target, U, HoldMs) end)
     end || N <- lists:seq(Sent, Due - 1)],
    receive after 5 -> ok end,
    pace(Target, Rate, Total, max(Sent, Due), T0, HoldMs, Tag).

result(R, T0) ->
    ets:insert(kt_fsb_res, {r, R, erlang:monotonic_time(microsecond) - T0}).

call(Target, U, HoldMs) ->
    Dest = {mod_kazoo, Target},
    T0 = erlang:monotonic_time(microsecond),
    ets:insert(kt_fsb_calls, {U, self()}),
    R = try
        Args = <<"{origination_uuid=", U/binary, ",Call-Control-Queue=fsbench}null/1000 &park()">>,
        {ok, Job} = gen_server:call(Dest, {bgapi, originate, Args}, 30000),
        receive
            {bgok, Job, <<"+OK", _/binary>>} -> ok;
            {bgok, Job, Err} -> throw({originate, Err});
            {bgerror, Job, Err} -> throw({originate, Err})
        after 30000 -> throw(originate_timeout)
        end,
        PlayId = <<"playback-", U/binary>>,
        sendmsg(Dest, U, [{<<"call-command">>, <<"execute">>},
                          {<<"execute-app-name">>, <<"playback">>},
                          {<<"execute-app-arg">>, <<"silence_stream://100">>},
                          {<<"event-uuid">>, PlayId},
                          {<<"event-uuid-name">>, <<"playback">>}]),
        receive
            {complete, PlayId} -> ok;
            {destroyed, C0} -> throw({early, C0})
        after 30000 -> throw(playback_timeout)
        end,
        receive {destroyed, C1} -> throw({early, C1}) after HoldMs -> ok end,
        sendmsg(Dest, U, [{<<"call-command">>, <<"hangup">>},
                          {<<"hangup-cause">>, <<"NORMAL_CLEARING">>}]),
        receive {destroyed, Cause} -> Cause after 30000 -> throw(hangup_timeout) end
    catch
        throw:Why -> {failed, Why};
        error:Why -> {failed, Why};
        exit:Why -> {failed, Why}
    end,
    ets:delete(kt_fsb_calls, U),
    result(R, T0).

sendmsg(Dest, U, Headers) ->
    case gen_server:call(Dest, {sendmsg, U, Headers}, 30000) of
        ok -> ok;
        Other -> throw({sendmsg, Other})
    end.

%% Results so far, then forgotten: [{Outcome, Count}], lives of completed calls (us),
%% calls still running.
stats() ->
    All = ets:tab2list(kt_fsb_res),
    ets:delete_all_objects(kt_fsb_res),
    Outcomes = lists:foldl(fun({r, R, _}, Acc) ->
        K = case R of <<"NORMAL_CLEARING">> -> completed;
                      Bin when is_binary(Bin) -> Bin;
                      {failed, W} -> iolist_to_binary(io_lib:format("~0p", [W])) end,
        maps:update_with(K, fun(N) -> N + 1 end, 1, Acc) end, #{}, All),
    Lives = [L || {r, <<"NORMAL_CLEARING">>, L} <- All],
    {maps:to_list(Outcomes), Lives, ets:info(kt_fsb_calls, size)}.
"""


@asynccontextmanager
async def erlang_driver(epmd: int) -> AsyncIterator[ErlNode]:
    with tempfile.TemporaryDirectory(prefix="kt_fsbench") as workdir:
        source = Path(workdir) / "kt_fsbench.erl"
        source.write_text(DRIVER_ERL, encoding="utf-8")
        async with erl_node(DRIVER, cookie=COOKIE, epmd_port=epmd, args=["-pa", workdir]) as e:
            compiled = await e.eval(f'c:c("{source}", [{{outdir, "{workdir}"}}]).', timeout=60)
            if compiled != "{ok,kt_fsbench}":
                raise RuntimeError(f"driver did not compile: {compiled}\n{e.output.decode()}")
            events = ",".join(f"'{event}'" for event in EVENTS)
            started = await e.eval(f"kt_fsbench:start('{NODE}', [{events}]).", timeout=30)
            if started != "ok":
                raise RuntimeError(f"driver did not start: {started}\n{e.output.decode()}")
            yield e


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


async def kazoo_step(
    fs: FreeSwitch,
    kazoo: RunningCommand,
    driver: ErlNode,
    rate: int,
    seconds: float,
    hold: float,
    tag: str,
) -> StepResult:
    assert fs.process is not None
    pids = (fs.process.pid, kazoo.process.pid, driver.pid)
    before = [cpu_seconds(pid) for pid in pids]
    wall0 = time.monotonic()
    total = int(rate * seconds)
    offered = await driver.eval(
        f'kt_fsbench:step({rate}, {round(seconds * 1000)}, {round(hold * 1000)}, "{tag}").',
        timeout=seconds + 30,
    )
    assert int(offered) == total, offered
    running = -1
    with trio.move_on_after(DRAIN_S + hold):
        while running != 0:
            await trio.sleep(0.2)
            running = int(await driver.eval("ets:info(kt_fsb_calls, size)."))
    after = [cpu_seconds(pid) for pid in pids]
    outcomes, lives, running = await driver.term("kt_fsbench:stats().")
    counts = {_text(getattr(k, "name", k)): int(v) for k, v in outcomes}
    completed = counts.pop("completed", 0)
    failed = sum(counts.values()) + int(running)
    if running:
        counts["lost"] = int(running)
    causes = {"NORMAL_CLEARING": completed, **counts} if completed else counts
    return _result(
        "kazoo_trio", rate, total, completed, failed, [x / 1e6 for x in lives], causes, hold,
        time.monotonic() - wall0,
        fs_cpu=after[0] - before[0], kazoo_cpu=after[1] - before[1],
        driver_cpu=after[2] - before[2],
    )  # fmt: skip


async def _drain_stderr(kazoo: RunningCommand) -> None:
    # Its log must be read or kazoo-trio blocks on a full pipe; the tail is kept.
    stderr = kazoo.process.stderr
    assert stderr is not None
    while chunk := await stderr.receive_some(65536):
        kazoo.output += chunk
        if len(kazoo.output) > 1 << 20:
            del kazoo.output[: len(kazoo.output) - (1 << 19)]


def _patient_api(fs: FreeSwitch, command: str) -> str:
    # After an overloaded step FreeSWITCH may take seconds to answer.
    return esl_exchange(fs.esl_port, command, timeout=30)


async def _channels(fs: FreeSwitch) -> int:
    text = await trio.to_thread.run_sync(_patient_api, fs, "show channels count")
    for word in text.split():
        if word.isdigit():
            return int(word)
    return -1


async def _settle(fs: FreeSwitch) -> None:
    """Until FreeSWITCH has no channel left (hung up after 10 s) and is idle again."""
    with trio.move_on_after(10):
        while await _channels(fs) > 0:
            await trio.sleep(0.2)
    if await _channels(fs) > 0:
        await trio.to_thread.run_sync(_patient_api, fs, "hupall")
        with trio.move_on_after(5):
            while await _channels(fs) > 0:
                await trio.sleep(0.2)
    # After an overloaded rate FreeSWITCH works through its backlog (thousands of
    # session threads ending) for a while with no channel left: the next rate, or the
    # other side, would be measured against that.
    assert fs.process is not None
    pid = fs.process.pid
    with trio.move_on_after(IDLE_WAIT_S):
        while True:
            before = cpu_seconds(pid)
            await trio.sleep(IDLE_WINDOW_S)
            if cpu_seconds(pid) - before < IDLE_CPU_SHARE * IDLE_WINDOW_S:
                return
    print("  FreeSWITCH still busy after the last rate; going on", file=sys.stderr)


def _report(step: StepResult) -> None:
    print(
        f"  {step.side} {step.offered_per_s}/s: completed {step.completed}/{step.offered}"
        f" failed {step.failed} p99 {step.life_p99_ms:.0f} ms"
        f" FS {step.fs_cpu_us_per_call:.0f} us/call"
        + (
            f" kazoo_trio {step.kazoo_cpu_us_per_call:.0f} us/call"
            if step.kazoo_cpu_us_per_call is not None
            else ""
        )
        + f" driver {step.driver_cpu_us_per_call:.0f} us/call"
        + ("" if step.sustained else f"  NOT SUSTAINED {step.causes}"),
        file=sys.stderr,
        flush=True,
    )


async def _run(
    fs: FreeSwitch, rates: list[int], seconds: float, hold: float, sides: list[str], profile: str
) -> list[StepResult]:
    steps: list[StepResult] = []
    if "anchor" in sides:
        anchor = EslAnchor(fs.esl_port, hold)
        await anchor.connect()
        async with trio.open_nursery() as nursery:
            anchor.start(nursery)
            await anchor_step(fs, anchor, rates[0], 2.0, "warm")
            await _settle(fs)
            for index, rate in enumerate(rates):
                step = await anchor_step(fs, anchor, rate, seconds, f"a{index}")
                steps.append(step)
                _report(step)
                await _settle(fs)
                if not step.sustained:
                    break
            nursery.cancel_scope.cancel()
        await anchor.aclose()
    if "kazoo" in sides:
        program: tuple[str, ...] = (sys.executable, "-m", "kazoo_trio")
        if profile:
            program = (sys.executable, "-c", PROFILED, profile)
        with tempfile.TemporaryDirectory(prefix="kt_fsbench") as workdir:
            conf = kazoo_settings_file(Path(workdir) / "kazoo.conf.xml")
            async with (
                epmd_daemon() as epmd,
                kazoo_trio_run(
                    "--name", NODE, "--cookie", COOKIE, "--listen-ip", "127.0.0.1",
                    "--epmd", "external", "--epmd-port", str(epmd), "--settings", str(conf),
                    "--switch", "freeswitch", "--freeswitch-esl", f"127.0.0.1:{fs.esl_port}",
                    "--xml-curl-listen", f"127.0.0.1:{fs.xml_curl_port}",
                    "--log-level", "INFO",
                    program=program,
                ) as kazoo,
                trio.open_nursery() as nursery,
            ):  # fmt: skip
                nursery.start_soon(_drain_stderr, kazoo)
                async with erlang_driver(epmd) as driver:
                    await kazoo_step(fs, kazoo, driver, rates[0], 2.0, hold, "warm")
                    await driver.eval("kt_fsbench:stats().")
                    await _settle(fs)
                    for index, rate in enumerate(rates):
                        step = await kazoo_step(fs, kazoo, driver, rate, seconds, hold, f"k{index}")
                        steps.append(step)
                        _report(step)
                        await _settle(fs)
                        if not step.sustained:
                            break
                if profile:
                    await kazoo.stop()
                nursery.cancel_scope.cancel()
            log = kazoo.text.strip()
            if log:
                print("kazoo-trio log (tail):\n" + log[-2000:], file=sys.stderr)
    return steps


# kazoo-trio under cProfile timed by CPU (wall time on a shared machine counts the
# other processes' turns); ``python -c PROFILED OUT run ...``.
PROFILED = (
    "import cProfile, sys, time\n"
    "from kazoo_trio.cli import main\n"
    "profile = cProfile.Profile(time.process_time)\n"
    "profile.enable()\n"
    "try:\n"
    "    main(sys.argv[2:])\n"
    "finally:\n"
    "    profile.disable()\n"
    "    profile.dump_stats(sys.argv[1])\n"
)


def _best(steps: list[StepResult], side: str) -> StepResult | None:
    ok = [s for s in steps if s.side == side and s.sustained]
    return max(ok, key=lambda s: s.offered_per_s) if ok else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each rate")
    parser.add_argument(
        "--rates", default="25,50,75,100,150,200,250,300,400", help="comma-separated calls/s"
    )
    parser.add_argument("--hold", type=float, default=0.0, help="seconds parked after playback")
    parser.add_argument("--sides", default="anchor,kazoo", help="anchor, kazoo or both")
    parser.add_argument("--profile", default="", help="cProfile output file for kazoo-trio")
    args = parser.parse_args(argv)
    if shutil.which("erl") is None:
        print("erl not found; cannot run the FreeSWITCH benchmark", file=sys.stderr)
        return 1
    rates = [int(x) for x in args.rates.split(",")]
    sides = args.sides.split(",")
    steps: list[StepResult] = []
    # A FreeSWITCH of its own for each side: after a rate it could not take, FreeSWITCH
    # stays busy for a minute or more with no channel left, and the other side would be
    # measured against that.
    for side in sides:
        # FreeSWITCH's core database (a row per channel, written at every state) in
        # memory, as busy installations keep it; on disk it stalls the channels.
        core_db = Path(f"/dev/shm/kt-fsbench-{os.getpid()}-{side}.db")
        try:
            with freeswitch_instance(
                sessions_per_second=10_000,
                max_sessions=50_000,
                core_settings={"core-db-name": str(core_db)},
            ) as fs:
                # A log line or more per call and state would be most of FreeSWITCH's work.
                fs.api("fsctl loglevel warning")
                steps += trio.run(_run, fs, rates, args.seconds, args.hold, [side], args.profile)
        finally:
            core_db.unlink(missing_ok=True)
    print_table(
        f"calls on a real FreeSWITCH ({args.seconds:g} s per rate, hold {args.hold:g} s): "
        "bare event socket vs Erlang through kazoo_trio",
        [
            "side", "offered/s", "calls", "completed", "failed", "p50 ms", "p99 ms",
            "FS µs/call", "kazoo_trio µs/call", "driver µs/call", "sustained",
        ],
        [
            [
                s.side, s.offered_per_s, s.offered, s.completed, s.failed, s.life_p50_ms,
                s.life_p99_ms, s.fs_cpu_us_per_call, s.kazoo_cpu_us_per_call,
                s.driver_cpu_us_per_call, s.sustained,
            ]
            for s in steps
        ],
    )  # fmt: skip
    anchor, kazoo = _best(steps, "anchor"), _best(steps, "kazoo_trio")
    ratio = (
        kazoo.offered_per_s / anchor.offered_per_s
        if anchor is not None and kazoo is not None
        else None
    )
    summary: dict[str, Any] = {
        "anchor_sustained_per_s": anchor.offered_per_s if anchor else 0,
        "kazoo_trio_sustained_per_s": kazoo.offered_per_s if kazoo else 0,
        "ratio": ratio,
        "kazoo_trio_cpu_us_per_call": kazoo.kazoo_cpu_us_per_call if kazoo else None,
        "freeswitch_cpu_us_per_call_anchor": anchor.fs_cpu_us_per_call if anchor else None,
        "freeswitch_cpu_us_per_call_kazoo_trio": kazoo.fs_cpu_us_per_call if kazoo else None,
    }
    print_table(
        "highest sustained rate (0 failures)",
        ["anchor calls/s", "kazoo_trio calls/s", "ratio", "kazoo_trio µs/call", "FS µs/call"],
        [
            [
                summary["anchor_sustained_per_s"],
                summary["kazoo_trio_sustained_per_s"],
                ratio,
                summary["kazoo_trio_cpu_us_per_call"],
                summary["freeswitch_cpu_us_per_call_kazoo_trio"],
            ]
        ],
    )
    write_json(
        "freeswitch",
        {
            "seconds_per_rate": args.seconds,
            "hold_s": args.hold,
            "summary": summary,
            "steps": [attrs.asdict(s) for s in steps],
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
