"""A healthy client's calls/s while an attacker storms the distribution port with bad handshakes.

Three OS processes besides EPMD: the Python node serving ``bench`` (as in
``bench_dist``), an ``erl`` client with N callers measuring calls/s, and the
attacker (a Python process), which keeps ``--storm`` connections (300) going at once, half of them
sending garbage and half completing a handshake with a wrong cookie, each
reconnecting as soon as it is refused.  Phases: warm-up, quiet, storm, after.  The
table shows calls/s, the CPU share (of one core) of the server and of the
attacker during each phase, the server's RSS and open file descriptors.

    .venv/bin/python -m benchmarks.bench_storm [--seconds S] [--storm N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_dist import (
    CLIENT_ERL,
    PY_NODE,
    _free_port,
    _run_client,
    _spawn,
)
from benchmarks.common import print_table, write_json


def attack(port: int, storm: int) -> int:
    """Keep ``storm`` bad connections going at the node on ``port`` until killed."""
    import trio

    from kazoo_trio.erlang.flags import RECOMMENDED
    from kazoo_trio.erlang.handshake import Failed, Handshake, HandshakeConfig, Role

    async def garbage() -> None:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(b"\x00\x10GET / HTTP/1.1\r\n\r\n")
            while await stream.receive_some(4096):
                pass

    async def wrong_cookie(i: int) -> None:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        config = HandshakeConfig(f"bad{i}@127.0.0.1", b"wrong", RECOMMENDED, 5)
        hs = Handshake(Role.INITIATOR, config, peer_name=PY_NODE)
        async with stream:
            while True:
                event = hs.next_event()
                if out := hs.data_to_send():
                    await stream.send_all(out)
                if isinstance(event, Failed) or event is not None:
                    return
                hs.receive_data(await stream.receive_some(4096))

    async def worker(i: int) -> None:
        while True:
            try:
                await (garbage() if i % 2 else wrong_cookie(i))
            except (OSError, trio.BrokenResourceError):
                await trio.sleep(0)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for i in range(storm):
                nursery.start_soon(worker, i)
            print("READY", flush=True)

    trio.run(main)
    return 0


def _ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _rss_kb(pid: int) -> int:
    match = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) if match else 0


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _node_port(epmd: str, epmd_port: int, name: str) -> int:
    out = subprocess.run(
        [epmd, "-port", str(epmd_port), "-names"], capture_output=True, check=True, text=True
    ).stdout
    match = re.search(rf"name {re.escape(name)} at port (\d+)", out)
    if match is None:
        raise RuntimeError(f"{name} is not registered: {out}")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each phase")
    parser.add_argument("--callers", type=int, default=10, help="healthy client's callers")
    parser.add_argument("--storm", type=int, default=300, help="concurrent bad connections")
    parser.add_argument("--attack", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.attack:
        return attack(args.attack, args.storm)
    erl, epmd = shutil.which("erl"), shutil.which("epmd")
    if erl is None or epmd is None:
        print("erl/epmd not found", file=sys.stderr)
        return 1
    clk_tck = os.sysconf("SC_CLK_TCK")
    epmd_port = _free_port()
    env = dict(
        os.environ,
        ERL_EPMD_PORT=str(epmd_port),
        ERL_EPMD_ADDRESS="127.0.0.1",
        ERL_CRASH_DUMP_SECONDS="0",
    )
    rows: list[dict[str, object]] = []
    serve = [sys.executable, "-m", "benchmarks.bench_dist", "--serve", PY_NODE]
    with tempfile.TemporaryDirectory() as workdir:
        Path(workdir, "bench_client.erl").write_text(CLIENT_ERL)
        with (
            _spawn([epmd, "-port", str(epmd_port)], env, None),
            _spawn([*serve, "--epmd-port", str(epmd_port)], env, b"READY") as py,
        ):
            port = _node_port(epmd, epmd_port, PY_NODE.split("@")[0])

            def phase(label: str, attacker: int | None) -> None:
                call = f"bench_client:timed('{PY_NODE}', {args.callers}, {args.seconds}, {py.pid})"
                a0 = _ticks(attacker) if attacker else 0
                s0, t0 = _ticks(py.pid), time.monotonic()
                fields = _run_client(env, workdir, call, timeout=args.seconds * 4 + 60)
                wall = time.monotonic() - t0
                a1 = _ticks(attacker) if attacker else 0
                calls, us = fields[0], fields[1]
                rows.append(
                    {
                        "phase": label,
                        "calls_per_s": calls / (us / 1e6),
                        # CPU shares over the client's whole run (warm-up included).
                        "server_cpu": (_ticks(py.pid) - s0) / clk_tck / wall,
                        "attacker_cpu": (a1 - a0) / clk_tck / wall,
                        "rss_mb": _rss_kb(py.pid) / 1024,
                        "fds": _fds(py.pid),
                    }
                )

            phase("warm-up", None)
            phase("quiet", None)
            attacker_cmd = [sys.executable, "-m", "benchmarks.bench_storm", "--attack", str(port)]
            with _spawn([*attacker_cmd, "--storm", str(args.storm)], env, b"READY") as attacker:
                time.sleep(1.0)  # let the storm reach full strength
                phase(f"storm x{args.storm}", attacker.pid)
            phase("after", None)
    quiet = float(rows[1]["calls_per_s"])  # type: ignore[arg-type]
    print_table(
        "healthy client calls/s during a handshake storm",
        ["phase", "calls/s", "% of quiet", "server cpu", "attacker cpu", "rss MB", "fds"],
        [
            [
                r["phase"],
                r["calls_per_s"],
                f"{float(r['calls_per_s']) / quiet:.0%}",  # type: ignore[arg-type]
                f"{float(r['server_cpu']):.0%}",  # type: ignore[arg-type]
                f"{float(r['attacker_cpu']):.0%}",  # type: ignore[arg-type]
                f"{float(r['rss_mb']):.1f}",  # type: ignore[arg-type]
                r["fds"],
            ]
            for r in rows
        ],
    )
    write_json("storm", {"rows": rows, "storm": args.storm, "callers": args.callers})
    return 0


if __name__ == "__main__":
    sys.exit(main())
