"""Request round trips through the real ``mod_kazoo`` server vs a BEAM gen_server (the anchor).

``kazoo-trio run`` (the simulated switch) runs in its own OS process; an
``erl`` client node runs N concurrent callers (1, 10, 50), each doing
``gen_server:call(Dest, Request)`` in a loop for a fixed time, for each of the
requests ecallmgr sends most:

``status``       ``{api, status, <<>>}``
``uuid_exists``  ``{api, uuid_exists, <<UUID>>}`` (a parked channel: true)
``sendmsg``      ``{sendmsg, <<UUID>>, [...]}`` executing ``set`` on the caller's own
                 parked channel (the channel runs it; the reply comes once it is queued)
``version``      ``version``

Every phase is run against ``{mod_kazoo, 'freeswitch@127.0.0.1'}`` and then
against a trivial BEAM gen_server on a second ``erl`` node in the same run
(it answers ``{ok, <<"UP">>}`` to everything).  Latencies are measured by the
callers; server CPU per call is read from ``/proc/PID/stat`` of each server's
OS process before and after each phase; the warning lines the server logged
during the run are counted.

Usage: ``python -m benchmarks.bench_api [--seconds S] [--callers 1,10,50]
[--requests status,...] [--repeat R]``.  Writes ``benchmarks/results/api.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.bench_dist import SERVER_ERL
from benchmarks.common import (
    best_run,
    free_port,
    print_table,
    run_erl_client,
    spawn,
    stop_process_group,
    write_json,
)

COOKIE = "kazoo_trio_bench"
FS_NODE = "freeswitch@127.0.0.1"
ANCHOR_NODE = "benchbeam@127.0.0.1"
CLIENT_NODE = "benchcli@127.0.0.1"

REQUESTS = {
    "status": "{api, status, <<>>}",
    "uuid_exists": "{api, uuid_exists, U}",
    "sendmsg": (
        '{sendmsg, U, [{<<"call-command">>, <<"execute">>},'
        ' {<<"execute-app-name">>, <<"set">>}, {<<"execute-app-arg">>, <<"bench=1">>}]}'
    ),
    "version": "version",
}

CLIENT_ERL = r"""
-module(bench_api_client).
-export([timed/6]).

%% N callers for Secs seconds, each with its own parked channel U (when the target is
%% mod_kazoo) and the request Make(U); latencies in microseconds.
timed(Dest, Make, N, Secs, OsPid, Originate) ->
    Uuids = [channel(Dest, Originate) || _ <- lists:seq(1, N)],
    [warm(Dest, Make(U)) || U <- Uuids],
    Cpu0 = cpu(OsPid),
    Parent = self(),
    T0 = erlang:monotonic_time(microsecond),
    Deadline = T0 + round(Secs * 1000000),
    Pids = [spawn_link(fun() -> Parent ! {done, self(), loop(Dest, Make(U), Deadline, [], 0)} end)
            || U <- Uuids],
    Res = [receive {done, P, R} -> R end || P <- Pids],
    T1 = erlang:monotonic_time(microsecond),
    Cpu1 = cpu(OsPid),
    Lat = lists:append([L || {L, _} <- Res]),
    Errors = lists:sum([E || {_, E} <- Res]),
    [hangup(Dest, U) || U <- Uuids, Originate],
    Sorted = lists:sort(Lat),
    Len = length(Sorted),
    {Ut, St} = sub(Cpu1, Cpu0),
    io:format("RESULT ~p ~p ~p ~p ~p ~p ~p~n",
              [Len, T1 - T0, pct(Sorted, Len, 50), pct(Sorted, Len, 99), Ut, St, Errors]).

channel(_Dest, false) -> <<"00000000-0000-0000-0000-000000000000">>;
channel(Dest, true) ->
    {ok, <<"+OK ", Rest/binary>>} =
        gen_server:call(Dest, {api, originate, <<"null/1000 &park()">>}),
    string:trim(Rest).

hangup(Dest, U) -> gen_server:call(Dest, {api, uuid_kill, U}).

sub({U1, S1}, {U0, S0}) -> {U1 - U0, S1 - S0}.

warm(Dest, Req) -> [gen_server:call(Dest, Req) || _ <- lists:seq(1, 500)], ok.

loop(Dest, Req, Deadline, Acc, Errors) ->
    S = erlang:monotonic_time(microsecond),
    case S >= Deadline of
        true -> {Acc, Errors};
        false ->
            E = case gen_server:call(Dest, Req) of
                    ok -> 0;
                    {ok, _} -> 0;
                    _ -> 1
                end,
            loop(Dest, Req, Deadline, [erlang:monotonic_time(microsecond) - S | Acc], Errors + E)
    end.

pct(_, 0, _) -> 0;
pct(Sorted, Len, P) -> lists:nth(max(1, (Len * P + 99) div 100), Sorted).

cpu(OsPid) ->
    {ok, B} = file:read_file("/proc/" ++ integer_to_list(OsPid) ++ "/stat"),
    [_, After] = string:split(B, ") ", trailing),
    F = string:split(After, " ", all),
    {binary_to_integer(lists:nth(12, F)), binary_to_integer(lists:nth(13, F))}.
"""


@contextmanager
def _server(
    env: dict[str, str], epmd_port: int, log_path: Path, profile: str | None
) -> Iterator[subprocess.Popen[bytes]]:
    """``kazoo-trio run`` with its log in ``log_path``, once it is ready (under
    ``cProfile`` writing to ``profile`` if given)."""
    profiler = ["-m", "cProfile", "-o", profile] if profile else []
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                *profiler,
                *("-m", "kazoo_trio", "run", "--name", FS_NODE, "--cookie", COOKIE),
                *("--listen-ip", "127.0.0.1", "--epmd", "external"),
                *("--epmd-port", str(epmd_port), "--log-level", "INFO"),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while b"ready as" not in log_path.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {log_path.read_text()}")
            time.sleep(0.1)
        yield proc
    finally:
        # Under cProfile an interrupt ends the server cleanly, so that the profile is written.
        stop_process_group(proc, interrupt_for=20 if profile else 0)


def _warnings(log_path: Path) -> int:
    text = log_path.read_text(errors="replace")
    return sum(1 for line in text.splitlines() if "WARNING" in line or "ERROR" in line)


def _run_client(env: dict[str, str], workdir: str, call: str, timeout: float) -> list[int]:
    return run_erl_client(
        env, workdir, "bench_api_client", call, node=CLIENT_NODE, cookie=COOKIE, timeout=timeout
    )


def _row(target: str, request: str, n: int, fields: list[int], clk: int) -> dict[str, object]:
    calls, us, p50, p99, uticks, sticks, errors = fields
    return {
        "server": target,
        "request": request,
        "callers": n,
        "calls": calls,
        "errors": errors,
        "seconds": us / 1e6,
        "calls_per_s": calls / (us / 1e6),
        "p50_us": p50,
        "p99_us": p99,
        "cpu_us_per_call": (uticks + sticks) * 1e6 / clk / max(calls, 1),
        "user_cpu_us_per_call": uticks * 1e6 / clk / max(calls, 1),
        "system_cpu_us_per_call": sticks * 1e6 / clk / max(calls, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each phase")
    parser.add_argument("--callers", default="1,10,50", help="comma-separated N values")
    parser.add_argument("--requests", default=",".join(REQUESTS), help="comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="runs per phase; best is shown")
    parser.add_argument("--profile", metavar="PATH", help="run the server under cProfile")
    args = parser.parse_args(argv)
    erl, epmd = shutil.which("erl"), shutil.which("epmd")
    if erl is None or epmd is None:
        print("erl/epmd not found; cannot run the api benchmark", file=sys.stderr)
        return 1
    clk = os.sysconf("SC_CLK_TCK")
    port = free_port()
    env = dict(os.environ, ERL_EPMD_PORT=str(port), ERL_EPMD_ADDRESS="127.0.0.1")
    callers = [int(x) for x in args.callers.split(",")]
    requests = args.requests.split(",")
    runs: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as workdir:
        Path(workdir, "bench_srv.erl").write_text(SERVER_ERL)
        Path(workdir, "bench_api_client.erl").write_text(CLIENT_ERL)
        log_path = Path(workdir, "server.log")
        anchor_code = (
            f'{{ok, bench_srv}} = c:c("{workdir}/bench_srv", [{{outdir, "{workdir}"}}]), '
            'bench_srv:start(), io:format("READY~n").'
        )
        anchor_cmd = [erl, "-noshell", "-name", ANCHOR_NODE, "-setcookie", COOKIE]
        anchor_cmd += ["-start_epmd", "false", "-pa", workdir, "-eval", anchor_code]
        with (
            spawn([epmd, "-port", str(port)], env, None),
            _server(env, port, log_path, args.profile) as server,
            spawn(anchor_cmd, env, b"READY") as beam,
        ):
            warnings0 = _warnings(log_path)
            targets = [
                ("mod_kazoo", f"{{mod_kazoo, '{FS_NODE}'}}", server.pid, "true"),
                ("beam", f"{{bench, '{ANCHOR_NODE}'}}", beam.pid, "false"),
            ]
            for request in requests:
                make = f"fun(U) -> {REQUESTS[request]} end"
                for n in callers:
                    for _ in range(max(1, args.repeat)):
                        for label, dest, pid, originate in targets:
                            call = (
                                f"bench_api_client:timed({dest}, {make}, {n}, {args.seconds},"
                                f" {pid}, {originate})"
                            )
                            fields = _run_client(env, workdir, call, args.seconds * 4 + 60)
                            runs.append(_row(label, request, n, fields, clk))
                            _progress(runs[-1])
            warnings = _warnings(log_path) - warnings0
    rows = [
        _summary([r for r in runs if (r["server"], r["request"], r["callers"]) == (s, q, n)])
        for q in requests
        for n in callers
        for s in ("mod_kazoo", "beam")
    ]
    ratios = {
        f"{q} N={n}": float(_pick(rows, "mod_kazoo", q, n)) / float(_pick(rows, "beam", q, n))
        for q in requests
        for n in callers
    }
    print_table(
        "gen_server:call round trips from an erl node (mod_kazoo, simulated switch, vs BEAM)",
        [
            *("request", "server", "N", "calls/s", "errors", "p50 µs", "p99 µs"),
            *("CPU µs/call", "median CPU"),
        ],
        [
            [
                r["request"],
                r["server"],
                r["callers"],
                r["calls_per_s"],
                r["errors"],
                r["p50_us"],
                r["p99_us"],
                r["cpu_us_per_call"],
                r["median_cpu_us_per_call"],
            ]
            for r in rows
        ],
    )
    print("\nmod_kazoo/beam calls/s: " + ", ".join(f"{k}: {v:.2f}" for k, v in ratios.items()))
    print(f"server warning/error lines during the run: {warnings}")
    write_json(
        "api",
        {
            "seconds_per_phase": args.seconds,
            "repeat": args.repeat,
            "rows": rows,
            "runs": runs,
            "ratio_calls_per_s": ratios,
            "server_warning_lines": warnings,
        },
    )
    return 0


def _summary(runs: list[dict[str, object]]) -> dict[str, object]:
    """:func:`~benchmarks.common.best_run`, with the median CPU per call of the runs too
    (the steadier figure on a shared machine)."""
    row = best_run(runs)
    row["median_cpu_us_per_call"] = statistics.median(
        float(r["cpu_us_per_call"])  # type: ignore[arg-type]
        for r in runs
    )
    return row


def _pick(rows: list[dict[str, object]], server: str, request: str, n: int) -> float:
    return float(
        next(  # type: ignore[arg-type]
            r["calls_per_s"]
            for r in rows
            if (r["server"], r["request"], r["callers"]) == (server, request, n)
        )
    )


def _progress(row: dict[str, object]) -> None:
    print(
        f"  {row['request']} {row['server']} N={row['callers']}:"
        f" {float(row['calls_per_s']):.0f} calls/s, {row['errors']} errors",  # type: ignore[arg-type]
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
