"""Memory of the node while an ``erl`` node casts it distinct atoms (a million by default).

The Python node (in this process) runs a gen_server ``bench`` that drops casts;
an ``erl`` client casts ``{kt, 'a<Round>_<I>'}`` for I = 1..N, then makes one
call (answered only after every cast was handled).  Rounds repeat with new
atoms.  The table shows the resident set size and the number of atoms alive
before, after each round (after a garbage collection) and the round's rate.

    .venv/bin/python -m benchmarks.bench_atoms [--atoms N] [--rounds R]
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import socket
import sys
import time
from pathlib import Path

from benchmarks.bench_dist import PY_NODE, _free_port, _spawn
from benchmarks.common import print_table, write_json

COOKIE = "kazoo_trio_bench"
CLIENT = "benchatoms@127.0.0.1"


def _rss_mb() -> float:
    match = re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text())
    return int(match.group(1)) / 1024 if match else 0.0


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _atoms_alive() -> int:
    from kazoo_trio.term import Atom

    return len(Atom.__dict__.get("_wire", {})) + len(Atom._table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atoms", type=int, default=1_000_000, help="distinct atoms per round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    erl, epmd = shutil.which("erl"), shutil.which("epmd")
    if erl is None or epmd is None:
        print("erl/epmd not found", file=sys.stderr)
        return 1

    import trio

    from kazoo_trio.erlang import Node, serve
    from kazoo_trio.term import Atom

    epmd_port = _free_port()
    env = dict(
        os.environ,
        ERL_EPMD_PORT=str(epmd_port),
        ERL_EPMD_ADDRESS="127.0.0.1",
        ERL_CRASH_DUMP_SECONDS="0",
    )
    rows: list[list[object]] = []

    def row(label: str, seconds: float | None) -> None:
        gc.collect()
        rate = None if seconds is None else args.atoms / seconds
        rows.append([label, f"{_rss_mb():.1f}", _atoms_alive(), rate])

    async def handle_call(request: object, sender: object) -> object:
        return Atom("ok")

    async def handle_cast(request: object) -> None:
        return None

    async def main_async() -> None:
        async with (
            Node(
                PY_NODE,
                cookie=COOKIE,
                epmd="external",
                epmd_port=epmd_port,
                listen_host="127.0.0.1",
            ) as node,
            node.process("bench") as proc,
            trio.open_nursery() as nursery,
        ):
            nursery.start_soon(serve, proc, handle_call, handle_cast)
            row("before", None)
            for r in range(1, args.rounds + 1):
                code = (
                    f"Dest = {{bench, '{PY_NODE}'}}, ok = gen_server:call(Dest, ping), "
                    f'[gen_server:cast(Dest, {{kt, list_to_atom("a{r}_" ++ integer_to_list(I))}})'
                    f" || I <- lists:seq(1, {args.atoms})], "
                    "ok = gen_server:call(Dest, ping, infinity), halt()."
                )
                cmd = [erl, "-noshell", "-name", CLIENT, "-setcookie", COOKIE]
                cmd += ["-start_epmd", "false", "+t", str(args.atoms * 2 + 1_100_000)]
                started = time.monotonic()
                await trio.run_process([*cmd, "-eval", code], env=env, capture_stdout=True)
                row(f"after round {r}", time.monotonic() - started)
            nursery.cancel_scope.cancel()

    with _spawn([epmd, "-port", str(epmd_port)], env, None):
        _wait_listening(epmd_port)
        trio.run(main_async)
    print_table(
        f"node memory, {args.atoms:,} distinct atoms per round",
        ["when", "rss MB", "atoms alive", "atoms/s"],
        rows,
    )
    write_json("atoms", {"atoms": args.atoms, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
