"""Helpers shared by the benchmarks: timing, a plain-text table, JSON results.

Timing follows ``timeit``'s habits: one warm-up call, then the batch size is
grown until a batch takes ``min_time``, then the best of ``repeat`` batches is
kept (the minimum is the run least disturbed by the rest of a shared machine).
Results go to ``benchmarks/results/<name>.json`` together with the machine
description and a UTC timestamp, so numbers are never read without context.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS_DIR",
    "Timing",
    "best_run",
    "best_time",
    "free_port",
    "machine_info",
    "print_table",
    "rate",
    "run_erl_client",
    "spawn",
    "stop_process_group",
    "write_json",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Timing:
    """Best seconds per call by wall clock and by this process's CPU time."""

    wall: float
    cpu: float
    number: int  # calls per timed batch


def best_time(
    func: Callable[[], object],
    *,
    repeat: int = 5,
    min_time: float = 0.2,
    warmup: int = 1,
) -> Timing:
    """Best time of one call of ``func`` by wall clock and by CPU time.

    ``func`` is called ``warmup`` times first (caches, lazy imports), then in
    batches of ``number`` calls, ``number`` growing until a batch lasts
    ``min_time``; the fastest of ``repeat`` batches divided by ``number`` wins,
    separately for each clock.  CPU time leaves out the time other processes
    on a shared machine held the CPU, so it is the steadier of the two for
    single-threaded code; wall time is what a caller actually waits.
    """
    for _ in range(warmup):
        func()
    wall, cpu = time.perf_counter, time.process_time
    number = 1
    while True:
        start = wall()
        for _ in range(number):
            func()
        took = wall() - start
        if took >= min_time or number >= 1 << 30:
            break
        # Jump close to the target size instead of doubling from 1 each time.
        guess = int(number * min_time / took * 1.1) if took > 0 else number * 10
        number = max(number * 2, min(guess, number * 100))
    best_wall = best_cpu = float("inf")
    for _ in range(repeat):
        start_wall, start_cpu = wall(), cpu()
        for _ in range(number):
            func()
        best_cpu = min(best_cpu, cpu() - start_cpu)
        best_wall = min(best_wall, wall() - start_wall)
    return Timing(best_wall / number, best_cpu / number, number)


def rate(seconds_per_op: float, ops_per_call: int = 1) -> float:
    """Operations per second for a call doing ``ops_per_call`` operations."""
    return ops_per_call / seconds_per_op if seconds_per_op > 0 else float("inf")


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    file: Any = None,
) -> None:
    """Print ``rows`` under ``columns``; numbers right-aligned with thousands separators."""
    out = file or sys.stdout

    def cell(value: Any) -> str:
        if isinstance(value, bool) or value is None:
            return "" if value is None else ("yes" if value else "NO")
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in text:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))

    def is_number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    numeric = [all(is_number(r[i]) for r in rows if r[i] is not None) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(values)
        ).rstrip()

    print(f"\n{title}", file=out)
    print(line(columns), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in text:
        print(line(row), file=out)
    out.flush()


def machine_info() -> dict[str, Any]:
    """What ran the benchmark: Python, OS, CPU model and count, load average."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for raw in f:
                if raw.startswith("model name"):
                    cpu = raw.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load: list[float] | None = list(os.getloadavg())
    except OSError:
        load = None
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "load_average": load,
    }


def write_json(name: str, results: dict[str, Any], *, directory: Path | None = None) -> Path:
    """Write ``results`` with machine info and a UTC timestamp to ``<dir>/<name>.json``."""
    target_dir = directory or RESULTS_DIR
    target_dir.mkdir(parents=True, exist_ok=True)
    path = target_dir / f"{name}.json"
    document = {
        "benchmark": name,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        **results,
    }
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# Servers and erl clients in their own OS processes (the round-trip benchmarks)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop_process_group(proc: subprocess.Popen[bytes], *, interrupt_for: float = 0.0) -> None:
    """End ``proc`` (started with ``start_new_session=True``) and everything it started.

    With ``interrupt_for`` > 0 it is sent SIGINT first and given that many seconds
    to end cleanly (a server under ``cProfile`` writes its profile then); whatever
    is left of its process group is killed, and the process is reaped.
    """
    if interrupt_for > 0 and proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=interrupt_for)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@contextmanager
def spawn(
    cmd: list[str], env: dict[str, str], ready: bytes | None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``cmd`` in its own process group for the block; killed with its group after.

    With ``ready``, waits (up to 30 s) until the process prints that line on stdout.
    """
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        if ready is not None:
            assert proc.stdout is not None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"{cmd[0]} exited before it was ready")
                if line.strip() == ready:
                    break
        yield proc
    finally:
        stop_process_group(proc)


def run_erl_client(
    env: dict[str, str],
    workdir: str,
    module: str,
    call: str,
    *,
    node: str,
    cookie: str,
    timeout: float,
) -> list[int]:
    """Compile ``<workdir>/<module>.erl`` in a fresh ``erl`` node named ``node``, evaluate
    ``call`` and return the integers of the ``RESULT ...`` line it prints."""
    erl = shutil.which("erl") or "erl"
    code = (
        f'{{ok, {module}}} = c:c("{workdir}/{module}", [{{outdir, "{workdir}"}}]), {call}, halt().'
    )
    cmd = [erl, "-noshell", "-name", node, "-setcookie", cookie, "-start_epmd", "false"]
    cmd += ["-pa", workdir, "-eval", code]
    out = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, check=False)
    for line in out.stdout.decode().splitlines():
        if line.startswith("RESULT "):
            return [int(x) for x in line.split()[1:]]
    raise RuntimeError(f"client failed: {out.stdout.decode()} {out.stderr.decode()}")


def best_run(runs: list[dict[str, object]]) -> dict[str, object]:
    """The run with the most calls/s, with the least CPU per call seen in any run."""
    best = dict(max(runs, key=lambda r: float(r["calls_per_s"])))  # type: ignore[arg-type]
    leanest = min(runs, key=lambda r: float(r["cpu_us_per_call"]))  # type: ignore[arg-type]
    for key in ("cpu_us_per_call", "user_cpu_us_per_call", "system_cpu_us_per_call"):
        best[key] = leanest[key]
    best["runs"] = len(runs)
    return best
