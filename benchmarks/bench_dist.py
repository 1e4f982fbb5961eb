"""gen_server round trips from an erl node: a Python gen_server vs a BEAM gen_server (the anchor).

An ``erl`` client node runs N concurrent callers (1, 10, 50), each doing
``gen_server:call({bench, Node}, {api, status, <<>>})`` in a loop for a fixed
time, first against a Python node (in its own OS process, serving with
:func:`kazoo_trio.erlang.serve`) and then against a BEAM gen_server on a second
``erl`` node.  Both servers reply ``{ok, <<"UP">>}``.  Latencies are measured
by the callers; server CPU per call is read from ``/proc/PID/stat`` (utime +
stime) of each server's OS process before and after each phase, resident
memory from ``/proc/PID/status``.  ``--million`` adds a phase of one million
calls (N=10) against the Python server and reports its memory growth.

With ``--repeat R`` every phase runs R times, alternating between the two
servers, and the table shows each server's best run (most calls/s; least CPU
per call, which can come from another run): on a shared machine the best of
several short runs is the one least disturbed by other load.  The JSON keeps
every run and the ratio of each adjacent python/beam pair as well.

Usage: ``python -m benchmarks.bench_dist [--seconds S] [--repeat R] [--million]``.
Writes ``benchmarks/results/dist.json`` (with the machine description).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from contextlib import suppress
from pathlib import Path

from benchmarks.common import (
    best_run,
    free_port,
    print_table,
    run_erl_client,
    spawn,
    write_json,
)

# The names the other round-trip benchmarks import from here.
_best = best_run
_free_port = free_port
_spawn = spawn

COOKIE = "kazoo_trio_bench"
PY_NODE = "benchpy@127.0.0.1"
ANCHOR_NODE = "benchbeam@127.0.0.1"
CLIENT_NODE = "benchcli@127.0.0.1"

SERVER_ERL = r"""
-module(bench_srv).
-behaviour(gen_server).
-export([start/0, init/1, handle_call/3, handle_cast/2]).
start() -> {ok, _} = gen_server:start({local, bench}, ?MODULE, [], []), ok.
init([]) -> {ok, nil}.
handle_call(_Req, _From, S) -> {reply, {ok, <<"UP">>}, S}.
handle_cast(_Req, S) -> {noreply, S}.
"""

CLIENT_ERL = r"""
-module(bench_client).
-export([timed/4, counted/4]).

%% N callers for Secs seconds; latencies in microseconds.
timed(Target, N, Secs, OsPid) ->
    Dest = {bench, Target},
    warm(Dest),
    {Cpu0, Rss0} = {cpu(OsPid), rss(OsPid)},
    Parent = self(),
    T0 = erlang:monotonic_time(microsecond),
    Deadline = T0 + Secs * 1000000,
    Pids = [spawn_link(fun() -> Parent ! {done, self(), loop(Dest, Deadline, [])} end)
            || _ <- lists:seq(1, N)],
    Lat = lists:append([receive {done, P, L} -> L end || P <- Pids]),
    T1 = erlang:monotonic_time(microsecond),
    {Cpu1, Rss1} = {cpu(OsPid), rss(OsPid)},
    Sorted = lists:sort(Lat),
    Len = length(Sorted),
    report(Len, T1 - T0, pct(Sorted, Len, 50), pct(Sorted, Len, 99), sub(Cpu1, Cpu0), Rss0, Rss1).

%% Count calls in total over N callers, no latency samples (memory phase).
counted(Target, N, Count, OsPid) ->
    Dest = {bench, Target},
    warm(Dest),
    {Cpu0, Rss0} = {cpu(OsPid), rss(OsPid)},
    Parent = self(),
    T0 = erlang:monotonic_time(microsecond),
    Pids = [spawn_link(fun() -> count(Dest, Count div N), Parent ! {done, self()} end)
            || _ <- lists:seq(1, N)],
    [receive {done, P} -> ok end || P <- Pids],
    T1 = erlang:monotonic_time(microsecond),
    {Cpu1, Rss1} = {cpu(OsPid), rss(OsPid)},
    report((Count div N) * N, T1 - T0, 0, 0, sub(Cpu1, Cpu0), Rss0, Rss1).

sub({U1, S1}, {U0, S0}) -> {U1 - U0, S1 - S0}.

report(Calls, Us, P50, P99, {U, S}, Rss0, Rss1) ->
    io:format("RESULT ~p ~p ~p ~p ~p ~p ~p ~p~n", [Calls, Us, P50, P99, U, S, Rss0, Rss1]).

warm(Dest) ->
    [{ok, <<"UP">>} = gen_server:call(Dest, {api, status, <<>>}) || _ <- lists:seq(1, 2000)],
    ok.

loop(Dest, Deadline, Acc) ->
    S = erlang:monotonic_time(microsecond),
    case S >= Deadline of
        true -> Acc;
        false ->
            {ok, <<"UP">>} = gen_server:call(Dest, {api, status, <<>>}),
            loop(Dest, Deadline, [erlang:monotonic_time(microsecond) - S | Acc])
    end.

count(_Dest, 0) -> ok;
count(Dest, K) ->
    {ok, <<"UP">>} = gen_server:call(Dest, {api, status, <<>>}),
    count(Dest, K - 1).

pct(_, 0, _) -> 0;
pct(Sorted, Len, P) -> lists:nth(max(1, (Len * P + 99) div 100), Sorted).

cpu(OsPid) ->
    {ok, B} = file:read_file("/proc/" ++ integer_to_list(OsPid) ++ "/stat"),
    [_, After] = string:split(B, ") ", trailing),
    F = string:split(After, " ", all),
    {binary_to_integer(lists:nth(12, F)), binary_to_integer(lists:nth(13, F))}.

rss(OsPid) ->
    {ok, B} = file:read_file("/proc/" ++ integer_to_list(OsPid) ++ "/status"),
    [Line] = [L || L <- string:split(B, "\n", all), string:prefix(L, "VmRSS:") =/= nomatch],
    [_, Kb | _] = string:lexemes(Line, " \t"),
    binary_to_integer(Kb).
"""

# ---------------------------------------------------------------------------------------------
# The Python server (runs in its own OS process)


def serve_python(name: str, epmd_port: int) -> int:
    import gc

    import trio

    from kazoo_trio.erlang import Node, serve
    from kazoo_trio.term import Atom

    reply = (Atom("ok"), b"UP")

    async def handle_call(request: object, sender: object) -> object:
        return reply

    async def main() -> None:
        async with (
            Node(
                name, cookie=COOKIE, epmd="external", epmd_port=epmd_port, listen_host="127.0.0.1"
            ) as node,
            node.process("bench") as proc,
        ):
            gc.collect()
            gc.freeze()
            print("READY", flush=True)
            await serve(proc, handle_call)

    with suppress(KeyboardInterrupt):
        trio.run(main)
    return 0


# ---------------------------------------------------------------------------------------------
# The driver


def _run_client(env: dict[str, str], workdir: str, call: str, timeout: float) -> list[int]:
    return run_erl_client(
        env, workdir, "bench_client", call, node=CLIENT_NODE, cookie=COOKIE, timeout=timeout
    )


def _row(target: str, n: int, fields: list[int], clk_tck: int) -> dict[str, object]:
    calls, us, p50, p99, uticks, sticks, rss0, rss1 = fields
    ticks = uticks + sticks
    return {
        "server": target,
        "callers": n,
        "calls": calls,
        "seconds": us / 1e6,
        "calls_per_s": calls / (us / 1e6),
        "p50_us": p50,
        "p99_us": p99,
        "cpu_us_per_call": ticks * 1e6 / clk_tck / max(calls, 1),
        "user_cpu_us_per_call": uticks * 1e6 / clk_tck / max(calls, 1),
        "system_cpu_us_per_call": sticks * 1e6 / clk_tck / max(calls, 1),
        "rss_kb_before": rss0,
        "rss_kb_after": rss1,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each phase")
    parser.add_argument("--callers", default="1,10,50", help="comma-separated N values")
    parser.add_argument("--repeat", type=int, default=1, help="runs per phase; best is shown")
    parser.add_argument("--million", action="store_true", help="add the 1M-call memory phase")
    parser.add_argument("--serve", metavar="NAME", help=argparse.SUPPRESS)
    parser.add_argument("--epmd-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve_python(args.serve, args.epmd_port)

    erl = shutil.which("erl")
    epmd = shutil.which("epmd")
    if erl is None or epmd is None:
        print("erl/epmd not found; cannot run the distribution benchmark", file=sys.stderr)
        return 1
    clk_tck = os.sysconf("SC_CLK_TCK")
    port = free_port()
    env = dict(os.environ, ERL_EPMD_PORT=str(port), ERL_EPMD_ADDRESS="127.0.0.1")
    callers = [int(x) for x in args.callers.split(",")]
    rows: list[dict[str, object]] = []
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as workdir:
        Path(workdir, "bench_srv.erl").write_text(SERVER_ERL)
        Path(workdir, "bench_client.erl").write_text(CLIENT_ERL)
        anchor_code = (
            f'{{ok, bench_srv}} = c:c("{workdir}/bench_srv", [{{outdir, "{workdir}"}}]), '
            'bench_srv:start(), io:format("READY~n").'
        )
        with (
            spawn([epmd, "-port", str(port)], env, None),
            spawn(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.bench_dist",
                    "--serve",
                    PY_NODE,
                    "--epmd-port",
                    str(port),
                ],
                env,
                b"READY",
            ) as py,
            spawn(
                [
                    erl,
                    "-noshell",
                    "-name",
                    ANCHOR_NODE,
                    "-setcookie",
                    COOKIE,
                    "-start_epmd",
                    "false",
                    "-pa",
                    workdir,
                    "-eval",
                    anchor_code,
                ],
                env,
                b"READY",
            ) as beam,
        ):
            targets = [("python", PY_NODE, py.pid), ("beam", ANCHOR_NODE, beam.pid)]
            for n in callers:
                for _ in range(max(1, args.repeat)):
                    for label, node, pid in targets:
                        call = f"bench_client:timed('{node}', {n}, {args.seconds}, {pid})"
                        fields = _run_client(env, workdir, call, timeout=args.seconds * 4 + 60)
                        runs.append(_row(label, n, fields, clk_tck))
                        _progress(runs[-1])
            rows = [
                best_run([r for r in runs if r["server"] == label and r["callers"] == n])
                for n in callers
                for label in ("python", "beam")
            ]
            if args.million:
                call = f"bench_client:counted('{PY_NODE}', 10, 1000000, {py.pid})"
                fields = _run_client(env, workdir, call, timeout=900)
                row = _row("python-1M", 10, fields, clk_tck)
                rows.append(row)
                _progress(row)
    pair_ratios = {
        str(n): [
            float(p["calls_per_s"]) / float(b["calls_per_s"])  # type: ignore[arg-type]
            for p, b in zip(
                [r for r in runs if r["server"] == "python" and r["callers"] == n],
                [r for r in runs if r["server"] == "beam" and r["callers"] == n],
                strict=True,
            )
        ]
        for n in callers
    }
    ratios: dict[str, float] = {}
    for n in callers:
        py_rate = next(
            r["calls_per_s"] for r in rows if r["server"] == "python" and r["callers"] == n
        )
        beam_rate = next(
            r["calls_per_s"] for r in rows if r["server"] == "beam" and r["callers"] == n
        )
        ratios[str(n)] = float(py_rate) / float(beam_rate)  # type: ignore[arg-type]
    print_table(
        "gen_server:call round trips from an erl node (Python server vs BEAM gen_server)",
        [
            "server",
            "N",
            "calls/s",
            "p50 µs",
            "p99 µs",
            "CPU µs/call",
            "user",
            "sys",
            "RSS kB before",
            "RSS kB after",
        ],
        [
            [
                r["server"],
                r["callers"],
                r["calls_per_s"],
                r["p50_us"],
                r["p99_us"],
                r["cpu_us_per_call"],
                r["user_cpu_us_per_call"],
                r["system_cpu_us_per_call"],
                r["rss_kb_before"],
                r["rss_kb_after"],
            ]
            for r in rows
        ],
    )
    print("\npython/beam calls/s: " + ", ".join(f"N={k}: {v:.2f}" for k, v in ratios.items()))
    if args.repeat > 1:
        print(
            "per run pair: "
            + "; ".join(
                f"N={k}: " + " ".join(f"{v:.2f}" for v in vs) for k, vs in pair_ratios.items()
            )
        )
    write_json(
        "dist",
        {
            "seconds_per_phase": args.seconds,
            "repeat": args.repeat,
            "rows": rows,
            "runs": runs,
            "ratio_calls_per_s": ratios,
            "ratio_calls_per_s_per_run_pair": pair_ratios,
        },
    )
    return 0


def _progress(row: dict[str, object]) -> None:
    print(
        f"  {row['server']} N={row['callers']}: {float(row['calls_per_s']):.0f} calls/s",  # type: ignore[arg-type]
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
