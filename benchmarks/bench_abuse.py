"""Abuse and scale: does one misbehaving client hurt a healthy one?

``kazoo-trio run`` runs in its own OS process (the simulated switch) on
127.0.0.1 with a real ``epmd``.  A *healthy* ``erl`` node measures, in every
phase, how many ``gen_server:call({mod_kazoo, Node}, {api, status, <<>>})``
it gets answered per second with 4 concurrent callers (and how many failed);
the server's resident memory, open file descriptors, CPU share and the
warning lines it logged are read beside it.  The phases:

``baseline``   the healthy node alone;
``nodes``      N more ``erl`` nodes connected, each with an event stream (a
               ``gen_tcp`` client), a link, a fetch binding and a caller loop;
``killed``     half of them SIGKILLed: the server must drop their streams and
               connections and keep serving (streams/nodes columns);
``storm``      a separate OS process keeps ``--storm`` connections open at a
               time to the distribution port, half sending garbage, half
               handshakes with a wrong cookie (its own CPU share is reported:
               it runs on the same cores);
``flood``      one ``erl`` node casts ``--flood`` ``{api, ...}`` requests as
               fast as it can;
``after``      the healthy node alone again.

Bounded in count and time; 127.0.0.1 only.  Usage:
``python -m benchmarks.bench_abuse [--nodes N] [--seconds S] [--storm C] [--flood F]``
(``--nodes 100`` for the full run).  Writes ``benchmarks/results/abuse.json``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import time
from contextlib import AsyncExitStack, suppress
from pathlib import Path
from typing import Any

import trio

from benchmarks.common import print_table, write_json
from tests.erlnode import ErlNode, epmd_daemon, erl_node, erl_until

COOKIE = "kazoo_trio_bench"
FS = "freeswitch@127.0.0.1"
MK = f"{{mod_kazoo, '{FS}'}}"
HEALTHY = "healthy@127.0.0.1"
FLOODER = "flooder@127.0.0.1"
CALLERS = 4

RATE = (
    "Rate = fun(Secs) -> Parent = self(),"
    " Deadline = erlang:monotonic_time(millisecond) + round(Secs * 1000),"
    " Loop = fun L(C, E) -> case erlang:monotonic_time(millisecond) >= Deadline of"
    "   true -> {C, E};"
    f"   false -> case catch gen_server:call({MK}, {{api, status, <<>>}}, 5000) of"
    "     {ok, _} -> L(C + 1, E); _ -> L(C, E + 1) end end end,"
    " Ps = [spawn(fun() -> Parent ! {rate_done, Loop(0, 0)} end)"
    f"       || _ <- lists:seq(1, {CALLERS})],"
    " lists:foldl(fun(_, {C, E}) -> receive {rate_done, {C1, E1}} -> {C + C1, E + E1} end end,"
    "             {0, 0}, Ps) end,"
    f' Status = fun() -> {{ok, S}} = gen_server:call({MK}, {{api, erlang, <<"status">>}}, 5000),'
    " S end, ok."
)

# A node of the crowd: a stream it reads, a link, a fetch binding, a call every 50 ms.
MEMBER = (
    "Member = spawn(fun() -> process_flag(trap_exit, true),"
    f" {{ok, {{Ip, Port}}}} = gen_server:call({MK}, {{event, ['CHANNEL_CREATE']}}),"
    " {ok, Addr} = inet_parse:address(Ip),"
    " {ok, _S} = gen_tcp:connect(Addr, Port, [binary, {packet, 2}, {active, true}]),"
    f" ok = gen_server:call({MK}, {{bind, directory}}),"
    f" ok = gen_server:call({MK}, link),"
    " Loop = fun L() -> receive _ -> L() after 50 ->"
    f"   {{ok, _}} = gen_server:call({MK}, version), L() end end, Loop() end), ok."
)


# ---------------------------------------------------------------------------------------------
# The storm (runs in its own OS process)


async def _storm(port: int, concurrency: int, seconds: float) -> None:
    from kazoo_trio.erlang.flags import RECOMMENDED
    from kazoo_trio.erlang.handshake import Failed, Handshake, HandshakeConfig, Role

    attempts = [0]
    deadline = trio.current_time() + seconds

    async def wrong_cookie(stream: trio.SocketStream, n: int) -> None:
        config = HandshakeConfig(f"storm{n}@127.0.0.1", b"wrong-cookie", RECOMMENDED, 1)
        hs = Handshake(Role.INITIATOR, config, peer_name=FS)
        while True:
            out = hs.data_to_send()
            if out:
                await stream.send_all(out)
            event = hs.next_event()
            if isinstance(event, Failed):
                return
            if event is not None:
                continue
            data = await stream.receive_some(4096)
            hs.receive_data(data)
            if not data:
                return

    async def garbage(stream: trio.SocketStream, n: int) -> None:
        await stream.send_all(random.randbytes(random.randint(1, 300)))
        with trio.move_on_after(1):
            while await stream.receive_some(4096):
                pass

    async def worker(n: int) -> None:
        while trio.current_time() < deadline:
            attempts[0] += 1
            with suppress(OSError, trio.BrokenResourceError), trio.move_on_after(2):
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                async with stream:
                    await (wrong_cookie if n % 2 else garbage)(stream, n)

    async with trio.open_nursery() as nursery:
        for n in range(concurrency):
            nursery.start_soon(worker, n)
    print(f"ATTEMPTS {attempts[0]}", flush=True)


# ---------------------------------------------------------------------------------------------
# Measurements of the server's OS process


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


class _Server:
    def __init__(self, proc: trio.Process, log_path: Path) -> None:
        self.proc = proc
        self.log_path = log_path

    def warnings(self) -> int:
        text = self.log_path.read_text(errors="replace")
        return sum(1 for line in text.splitlines() if " WARNING " in line or " ERROR " in line)


async def _measure(
    phase: str,
    healthy: ErlNode,
    server: _Server,
    seconds: float,
    **extra: Any,
) -> dict[str, Any]:
    pid = server.proc.pid
    clk = os.sysconf("SC_CLK_TCK")
    warn0, cpu0, t0 = server.warnings(), _cpu_ticks(pid), time.monotonic()
    ok, failed = await healthy.term(f"Rate({seconds}).", timeout=seconds + 30)
    took = time.monotonic() - t0
    status = await healthy.eval("Status().")
    nodes = re.search(r"Connected nodes: (\d+)", status)
    streams = re.search(r"Event streams: (\d+)", status)
    row = {
        "phase": phase,
        "calls_per_s": ok / took,
        "failed_calls": failed,
        "server_cpu_pct": 100 * (_cpu_ticks(pid) - cpu0) / clk / took,
        "rss_mb": _rss_mb(pid),
        "fds": _fds(pid),
        "connected_nodes": int(nodes.group(1)) if nodes else None,
        "event_streams": int(streams.group(1)) if streams else None,
        "warning_lines": server.warnings() - warn0,
        **extra,
    }
    print(f"  {phase}: {row}", file=sys.stderr, flush=True)
    return row


async def _run(args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async with AsyncExitStack() as stack:
        epmd = await stack.enter_async_context(epmd_daemon())
        log_path = Path(stack.enter_context(_tempdir())) / "server.log"
        log_file = stack.enter_context(log_path.open("wb"))
        env = dict(os.environ, ERL_EPMD_PORT=str(epmd))
        proc = await trio.lowlevel.open_process(
            [
                sys.executable,
                *("-m", "kazoo_trio", "run", "--name", FS, "--cookie", COOKIE),
                *("--listen-ip", "127.0.0.1", "--epmd", "external"),
                *("--epmd-port", str(epmd), "--log-level", "INFO"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        stack.callback(_kill, proc)
        server = _Server(proc, log_path)
        healthy = await stack.enter_async_context(erl_node(HEALTHY, cookie=COOKIE, epmd_port=epmd))
        await erl_until(healthy, f"net_adm:ping('{FS}') =:= pong", timeout=30)
        await healthy.eval(RATE)
        dist_port = int(
            await healthy.eval('{port, P, _} = erl_epmd:port_please("freeswitch", {127,0,0,1}), P.')
        )
        rows.append(await _measure("baseline", healthy, server, args.seconds))

        # A crowd of nodes with streams, links, bindings and calls.
        crowd: list[ErlNode] = []

        async def join(n: int) -> None:
            node = await stack.enter_async_context(
                erl_node(f"crowd{n}@127.0.0.1", cookie=COOKIE, epmd_port=epmd, start_timeout=120)
            )
            await node.eval(MEMBER)
            crowd.append(node)

        started = time.monotonic()
        async with trio.open_nursery() as nursery:
            limiter = trio.CapacityLimiter(8)  # starting erl is CPU-heavy on 2 cores

            async def limited(n: int) -> None:
                async with limiter:
                    await join(n)

            for n in range(args.nodes):
                nursery.start_soon(limited, n)
        rows.append(
            await _measure(
                "nodes",
                healthy,
                server,
                args.seconds,
                note=f"{args.nodes} nodes joined in {time.monotonic() - started:.0f} s",
            )
        )
        victims = crowd[: len(crowd) // 2]
        for node in victims:
            node.signal(signal.SIGKILL)
        expected = 1 + len(crowd) - len(victims)
        await erl_until(
            healthy,
            f'string:find(Status(), <<"Connected nodes: {expected}\\n">>) =/= nomatch',
            timeout=60,
        )
        rows.append(
            await _measure(
                "killed", healthy, server, args.seconds, note=f"{len(victims)} SIGKILLed"
            )
        )

        # The handshake storm, from another OS process on the same cores.
        storm = await trio.lowlevel.open_process(
            [
                sys.executable,
                *("-m", "benchmarks.bench_abuse", "--storm-port", str(dist_port)),
                *("--storm", str(args.storm), "--storm-seconds", str(args.seconds + 4)),
            ],
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        stack.callback(_kill, storm)
        await trio.sleep(1.0)  # let it reach full strength before measuring
        storm_cpu0 = _cpu_ticks(storm.pid)
        t0 = time.monotonic()
        row = await _measure("storm", healthy, server, args.seconds)
        row["attacker_cpu_pct"] = (
            100 * (_cpu_ticks(storm.pid) - storm_cpu0) / os.sysconf("SC_CLK_TCK")
        ) / (time.monotonic() - t0)
        assert storm.stdout is not None
        out = b""
        with trio.move_on_after(30):
            while chunk := await storm.stdout.receive_some(4096):
                out += chunk
        await storm.wait()
        found = re.search(rb"ATTEMPTS (\d+)", out)
        row["note"] = (
            f"{args.storm} concurrent, {found.group(1).decode() if found else '?'} attempts"
        )
        rows.append(row)

        # One node floods with casts.
        flooder = await stack.enter_async_context(erl_node(FLOODER, cookie=COOKIE, epmd_port=epmd))
        await flooder.eval(
            "Flooder = spawn(fun() ->"
            f" [gen_server:cast({MK}, {{api, status, <<>>}}) || _ <- lists:seq(1, {args.flood})],"
            f" {{ok, _}} = gen_server:call({MK}, version, 60000) end), ok."
        )
        flooder_cpu0 = _cpu_ticks(flooder.pid)
        t0 = time.monotonic()
        row = await _measure("flood", healthy, server, args.seconds)
        row["attacker_cpu_pct"] = (
            100 * (_cpu_ticks(flooder.pid) - flooder_cpu0) / os.sysconf("SC_CLK_TCK")
        ) / (time.monotonic() - t0)
        flood_start = time.monotonic()
        await erl_until(flooder, "not is_process_alive(Flooder)", timeout=600)
        row["note"] = (
            f"{args.flood} casts, all handled {time.monotonic() - flood_start:.0f} s later"
        )
        rows.append(row)

        rows.append(await _measure("after", healthy, server, args.seconds))
    return rows


def _kill(proc: trio.Process) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


class _tempdir:
    def __enter__(self) -> str:
        import tempfile

        self._dir = tempfile.TemporaryDirectory()
        return self._dir.name

    def __exit__(self, *exc: object) -> None:
        self._dir.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10, help="crowd nodes (100: full run)")
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per phase")
    parser.add_argument("--storm", type=int, default=300, help="concurrent bad connections")
    parser.add_argument("--flood", type=int, default=100_000, help="casts of the flooder")
    parser.add_argument("--storm-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--storm-seconds", type=float, default=5.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.storm_port:
        trio.run(_storm, args.storm_port, args.storm, args.storm_seconds)
        return 0
    rows = trio.run(_run, args)
    columns = ["phase", "calls/s", "failed", "srv CPU %", "RSS MB", "fds", "nodes", "streams"]
    columns += ["warnings", "attacker CPU %", "note"]
    print_table(
        f"Healthy client ({CALLERS} callers, {{api, status}}) while others misbehave",
        columns,
        [
            [
                r["phase"],
                round(r["calls_per_s"]),
                r["failed_calls"],
                round(r["server_cpu_pct"]),
                round(r["rss_mb"], 1),
                r["fds"],
                r["connected_nodes"],
                r["event_streams"],
                r["warning_lines"],
                round(r["attacker_cpu_pct"]) if "attacker_cpu_pct" in r else None,
                r.get("note", ""),
            ]
            for r in rows
        ],
    )
    write_json(
        "abuse",
        {
            "parameters": {
                "nodes": args.nodes,
                "seconds": args.seconds,
                "storm": args.storm,
                "flood": args.flood,
                "callers": CALLERS,
            },
            "rows": rows,
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
