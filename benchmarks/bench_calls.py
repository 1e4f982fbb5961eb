"""Simulated calls controlled from Erlang the way ecallmgr does it: sustained calls/s.

For each offered rate, ``kazoo-trio run --sim-traffic RATE:HOLD`` (the simulated
switch, Kazoo's own profiles from ``../shared/kazoo-profiles``) runs in its own OS
process and the controller of :mod:`benchmarks.controller` in a real ``erl`` node
answers every dialplan lookup with ecallmgr's park route, then per call ``sendmsg``
answer, playback (until its CHANNEL_EXECUTE_COMPLETE), ``sendmsg`` hangup
NORMAL_CLEARING after ``--call-hold`` seconds.  The callers' own hang-up comes far
later, so every call is ended by the controller.

A rate is *sustained* when, over ``--seconds`` after a warm-up, every call ended
NORMAL_CLEARING by the controller's hangup (no other cause, nothing failed), the
switch placed and the controller completed the offered number of calls (>= 98 %; the
rest are calls crossing the window's edges), and the calls in progress did not pile
up (at most twice the concurrency the call shape implies, plus 50).  Rates are
stepped up until one is not sustained.

Reported per rate: calls placed and completed per second, failures and causes,
latencies seen by the controller, server CPU per completed call (``/proc/PID/stat``
of the server process), the controller node's CPU per call (the anchor: what the
same calls cost a BEAM doing the Erlang side of the work), and the ratio.

Then a hold phase: calls held ``--hold`` seconds (default 600, as the target says;
shorter for quick runs) are offered at ``--hold-rate`` until ``--parked`` are up at
once; the server's RSS growth per parked call is the slope of RSS over the number of
parked calls (least squares over 1 s samples).

Usage: ``python -m benchmarks.bench_calls [--rates 200,400,...] [--seconds 60]
[--hold 600] [--parked 20000] [--profile FILE --profile-rate R]``.
Writes ``benchmarks/results/calls.json``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import attrs
import trio

from benchmarks.common import print_table, write_json
from benchmarks.controller import Stats, call_controller, kazoo_settings_file
from tests.erlnode import epmd_daemon

FS_NODE = "freeswitch@127.0.0.1"
COOKIE = "kazoo_trio_bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
READY = b"accepting connections"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        after = f.read().rsplit(b") ", 1)[1].split()
    return (int(after[11]) + int(after[12])) / CLK_TCK


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/statm", "rb") as f:
        return int(f.read().split()[1]) * PAGE_KB


@attrs.define
class Server:
    process: trio.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def warnings(self) -> int:
        text = self.log.read_text(errors="replace")
        return sum(1 for line in text.splitlines() if " WARNING " in line or " ERROR " in line)


@asynccontextmanager
async def kazoo_trio_server(
    workdir: Path, epmd: int, traffic: str, *, profile: str | None = None
) -> AsyncIterator[Server]:
    """``kazoo-trio run`` with Kazoo's profiles and ``--sim-traffic traffic``, its log
    in a file; killed (after SIGINT, so that a profile is written) on leaving."""
    settings = kazoo_settings_file(workdir / "kazoo.conf.xml")
    log = workdir / f"server-{traffic.replace(':', '_')}.log"
    profiler = ["-m", "cProfile", "-o", profile] if profile else []
    with log.open("wb") as log_file:
        process = await trio.lowlevel.open_process(
            [
                sys.executable,
                *profiler,
                *("-m", "kazoo_trio", "run", "--name", FS_NODE, "--cookie", COOKIE),
                *("--listen-ip", "127.0.0.1", "--epmd", "external"),
                *("--epmd-port", str(epmd), "--settings", str(settings)),
                *("--sim-traffic", traffic, "--log-level", "INFO"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        with trio.fail_after(60):
            while READY not in log.read_bytes():
                if process.poll() is not None:
                    raise RuntimeError(f"server exited: {log.read_text()}")
                await trio.sleep(0.05)
        yield Server(process, log)
    finally:
        with trio.CancelScope(shield=True):
            if profile and process.poll() is None:
                process.send_signal(signal.SIGINT)
                with trio.move_on_after(30):
                    await process.wait()
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with trio.move_on_after(10):
                await process.wait()


def _sustained(stats: Stats, rate: float, seconds: float, concurrency: float) -> tuple[bool, str]:
    offered = rate * seconds
    causes = set(stats.causes)
    if stats.failed:
        return False, f"{stats.failed} failed"
    if causes - {"NORMAL_CLEARING"}:
        return False, f"causes {sorted(causes)}"
    if stats.created < 0.98 * offered:
        return False, f"placed {stats.created} of {offered:.0f}"
    if stats.completed < 0.98 * offered:
        return False, f"completed {stats.completed} of {offered:.0f}"
    if stats.in_progress > 2 * concurrency + 50:
        return False, f"{stats.in_progress} in progress (queueing)"
    return True, "ok"


async def measure_rate(
    workdir: Path,
    epmd: int,
    rate: float,
    *,
    seconds: float,
    warmup: float,
    call_hold: float,
    playback_ms: int,
    profile: str | None = None,
) -> dict[str, Any]:
    traffic = f"{rate:g}:{call_hold + 60:g}"
    async with (
        kazoo_trio_server(workdir, epmd, traffic, profile=profile) as server,
        call_controller(
            FS_NODE,
            cookie=COOKIE,
            epmd_port=epmd,
            hold=call_hold,
            playback=f"silence_stream://{playback_ms}",
        ) as ctl,
    ):
        await trio.sleep(warmup)
        await ctl.stats(reset=True)
        warnings0 = server.warnings()
        cpu0, ctl0, wall0 = cpu_seconds(server.pid), cpu_seconds(ctl.node.pid), time.monotonic()
        await trio.sleep(seconds)
        stats = await ctl.stats(reset=True)
        took = time.monotonic() - wall0
        cpu = cpu_seconds(server.pid) - cpu0
        ctl_cpu = cpu_seconds(ctl.node.pid) - ctl0
        rss = rss_kb(server.pid)
        warnings = server.warnings() - warnings0
    concurrency = rate * (call_hold + playback_ms / 1000 + 0.05)
    ok, why = _sustained(stats, rate, took, concurrency)
    done = max(stats.completed, 1)
    return {
        "offered_per_s": rate,
        "seconds": took,
        "placed_per_s": stats.created / took,
        "completed_per_s": stats.completed / took,
        "sustained": ok,
        "verdict": why,
        "server_cpu_us_per_call": cpu * 1e6 / done,
        "server_cpu_share": cpu / took,
        "controller_cpu_us_per_call": ctl_cpu * 1e6 / done,
        "server_rss_kb": rss,
        "warnings_logged": warnings,
        **{f"ctl_{k}": v for k, v in stats.as_dict().items()},
    }


def _slope(points: list[tuple[int, int]]) -> float:
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


async def measure_hold(
    workdir: Path, epmd: int, *, rate: float, parked: int, hold: float, playback_ms: int
) -> dict[str, Any]:
    traffic = f"{rate:g}:{hold + 60:g}"
    async with (
        kazoo_trio_server(workdir, epmd, traffic) as server,
        call_controller(
            FS_NODE,
            cookie=COOKIE,
            epmd_port=epmd,
            hold=hold,
            playback=f"silence_stream://{playback_ms}",
        ) as ctl,
    ):
        rss0 = rss_kb(server.pid)
        points: list[tuple[int, int]] = []
        deadline = trio.current_time() + min(hold, parked / rate * 1.5 + 30)
        stats = await ctl.stats()
        while stats.in_progress < parked and trio.current_time() < deadline:
            await trio.sleep(1)
            stats = await ctl.stats()
            points.append((stats.in_progress, rss_kb(server.pid)))
        failed = stats.failed
        top = points[-1] if points else (0, rss0)
    # The first seconds hold imports, caches and first allocations: fit the rest.
    fitted = points[len(points) // 5 :]
    return {
        "hold_rate_per_s": rate,
        "call_hold_s": hold,
        "parked": top[0],
        "failed": failed,
        "rss_start_kb": rss0,
        "rss_end_kb": top[1],
        "kb_per_parked_call": _slope(fitted),
        "kb_per_parked_call_overall": (top[1] - rss0) / top[0] if top[0] else 0.0,
    }


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    hold_row: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="bench_calls") as tmp:
        workdir = Path(tmp)
        async with epmd_daemon() as epmd:
            if args.profile:
                row = await measure_rate(
                    workdir,
                    epmd,
                    args.profile_rate,
                    seconds=args.seconds,
                    warmup=args.warmup,
                    call_hold=args.call_hold,
                    playback_ms=args.playback_ms,
                    profile=args.profile,
                )
                print(f"  profiled {args.profile_rate}/s: {_brief(row)}", file=sys.stderr)
                return {"rows": [row], "hold": None}
            for rate in [float(r) for r in args.rates.split(",")]:
                row = await measure_rate(
                    workdir,
                    epmd,
                    rate,
                    seconds=args.seconds,
                    warmup=args.warmup,
                    call_hold=args.call_hold,
                    playback_ms=args.playback_ms,
                )
                rows.append(row)
                print(f"  {rate:g}/s: {_brief(row)}", file=sys.stderr, flush=True)
                if not row["sustained"] and not args.all_rates:
                    break
            if args.parked > 0:
                hold_row = await measure_hold(
                    workdir,
                    epmd,
                    rate=args.hold_rate,
                    parked=args.parked,
                    hold=args.hold,
                    playback_ms=args.playback_ms,
                )
                print(f"  hold: {hold_row}", file=sys.stderr, flush=True)
    return {"rows": rows, "hold": hold_row}


def _brief(row: dict[str, Any]) -> str:
    keys = (
        "completed_per_s",
        "verdict",
        "server_cpu_us_per_call",
        "controller_cpu_us_per_call",
        "ctl_in_progress",
        "warnings_logged",
    )
    return ", ".join(
        f"{k}={row[k]:.1f}" if isinstance(row[k], float) else f"{k}={row[k]}" for k in keys
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="200,400,600,800,1000,1200,1400", help="calls/s steps")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured time per rate")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--call-hold", type=float, default=1.0, help="playback end -> hangup, s")
    parser.add_argument("--playback-ms", type=int, default=100, help="silence played per call")
    parser.add_argument("--all-rates", action="store_true", help="go on after a failing rate")
    parser.add_argument("--hold", type=float, default=600.0, help="hold phase: s per call")
    parser.add_argument("--hold-rate", type=float, default=200.0, help="hold phase: calls/s")
    parser.add_argument("--parked", type=int, default=20000, help="hold phase: calls up (0: skip)")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the server at one rate")
    parser.add_argument("--profile-rate", type=float, default=800.0)
    args = parser.parse_args(argv)
    if shutil.which("erl") is None:
        print("erl not found; cannot run the calls benchmark", file=sys.stderr)
        return 1
    result = trio.run(_run, args)
    rows: list[dict[str, Any]] = result["rows"]
    print_table(
        "controlled simulated calls (answer, playback, hangup from erl) vs the controller's"
        " own BEAM CPU (anchor)",
        [
            "offered/s",
            "placed/s",
            "completed/s",
            "failed",
            "sustained",
            "answer p99 µs",
            "hangup p99 µs",
            "server CPU µs/call",
            "BEAM ctl CPU µs/call",
            "server/BEAM",
            "warnings",
        ],
        [
            [
                r["offered_per_s"],
                r["placed_per_s"],
                r["completed_per_s"],
                r["ctl_failed"],
                r["sustained"],
                r["ctl_latency_us"]["answer"]["p99_us"],
                r["ctl_latency_us"]["hangup"]["p99_us"],
                r["server_cpu_us_per_call"],
                r["controller_cpu_us_per_call"],
                r["server_cpu_us_per_call"] / max(r["controller_cpu_us_per_call"], 1e-9),
                r["warnings_logged"],
            ]
            for r in rows
        ],
    )
    best = max((r["offered_per_s"] for r in rows if r["sustained"]), default=0.0)
    print(f"\nhighest rate sustained for {args.seconds:g} s: {best:g} calls/s")
    hold = result["hold"]
    if hold:
        print_table(
            "parked calls: server RSS per parked call",
            ["parked", "failed", "RSS start KB", "RSS end KB", "KB/call (slope)", "KB/call"],
            [
                [
                    hold["parked"],
                    hold["failed"],
                    hold["rss_start_kb"],
                    hold["rss_end_kb"],
                    hold["kb_per_parked_call"],
                    hold["kb_per_parked_call_overall"],
                ]
            ],
        )
    write_json(
        "calls",
        {
            "seconds_per_rate": args.seconds,
            "call_hold_s": args.call_hold,
            "highest_sustained_per_s": best,
            "rows": rows,
            "hold": hold,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
