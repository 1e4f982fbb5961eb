"""Dialplan lookups answered by an Erlang handler: latency at a steady offered rate.

The mod_kazoo server (simulated switch) runs in this process with a real
``epmd``; an ``erl`` node binds ``dialplan`` (``{bind, dialplan}``) and answers
every ``{fetch, ...}`` with ``gen_server:cast(mod_kazoo, {fetch_reply, dialplan,
UUID, XML})``, an answer+park extension, as ecallmgr's route handler does.  The
switch starts lookups open-loop at a fixed rate (100 and 1,000 per second by
default; a lookup starts on schedule whether or not the earlier ones are done)
and each is timed from its start to the XML handed back to the switch (sent,
answered, parsed and accepted).  Reported: p50, p99, p99.9, the slowest,
lookups that found nothing, and this process's CPU per lookup (switch, server
and distribution together).

Usage: ``python -m benchmarks.bench_fetch [--seconds S] [--rates 100,1000]``.
Writes ``benchmarks/results/fetch.json``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time

import trio

from benchmarks.common import print_table, write_json
from kazoo_trio.switch.sim import SimSwitch
from tests.erlnode import epmd_daemon, erl_node
from tests.kazoo.server_harness import COOKIE, MK, running_server

HANDLER = "fetcher@127.0.0.1"

# Answers every dialplan lookup with an extension for the context asked for.
ROUTER = (
    "Parent = self(),"
    "spawn(fun() ->"
    f"  ok = gen_server:call({MK}, {{bind, dialplan}}),"
    "  Parent ! bound,"
    "  Loop = fun L() -> receive {fetch, {Props}} ->"
    '    U = proplists:get_value(<<"Fetch-UUID">>, Props),'
    '    Ctx = proplists:get_value(<<"Fetch-Key-Value">>, Props),'
    '    Xml = iolist_to_binary([<<"<document type=\\"freeswitch/xml\\">'
    '<section name=\\"dialplan\\"><context name=\\"">>, Ctx, <<"\\"><extension name=\\"t\\">'
    '<condition><action application=\\"answer\\"/><action application=\\"park\\"/>'
    '</condition></extension></context></section></document>">>]),'
    f"    gen_server:cast({MK}, {{fetch_reply, dialplan, U, Xml}}), L() end end,"
    "  Loop() end),"
    "receive bound -> ok after 5000 -> timeout end."
)


def _params(n: int) -> list[tuple[str, str]]:
    """A dialplan lookup's parameters, shaped like a channel's (a unique call each)."""
    uuid = f"bench-{n:08d}-0000-4000-8000-000000000000"
    return [
        ("Unique-ID", uuid),
        ("Call-Direction", "inbound"),
        ("Caller-Caller-ID-Number", "1000"),
        ("Caller-Destination-Number", "2000"),
        ("Caller-Context", "context_2"),
        ("Hunt-Context", "context_2"),
        ("Hunt-Destination-Number", "2000"),
        ("variable_sip_call_id", f"{uuid}@127.0.0.1"),
    ]


def _pct(sorted_us: list[float], p: float) -> float:
    if not sorted_us:
        return 0.0
    index = min(len(sorted_us) - 1, max(0, int(len(sorted_us) * p / 100 + 0.999999) - 1))
    return sorted_us[index]


async def _phase(switch: SimSwitch, rate: int, seconds: float, first: int) -> dict[str, object]:
    latencies: list[float] = []
    missing = [0]

    async def one(n: int) -> None:
        start = time.perf_counter()
        xml = await switch.xml_lookup("dialplan", "context", "name", "context_2", _params(n))
        latencies.append((time.perf_counter() - start) * 1e6)
        if xml is None:
            missing[0] += 1

    total = int(rate * seconds)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with trio.open_nursery() as nursery:
        t0 = trio.current_time()
        for i in range(total):
            await trio.sleep_until(t0 + i / rate)
            nursery.start_soon(one, first + i)
    took = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    ordered = sorted(latencies)
    return {
        "offered_per_s": rate,
        "lookups": len(ordered),
        "achieved_per_s": len(ordered) / took,
        "not_found": missing[0],
        "p50_us": _pct(ordered, 50),
        "p99_us": _pct(ordered, 99),
        "p99_9_us": _pct(ordered, 99.9),
        "max_us": ordered[-1] if ordered else 0.0,
        "cpu_us_per_lookup": cpu * 1e6 / max(len(ordered), 1),
    }


async def _run(rates: list[int], seconds: float, warmup: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    switch = SimSwitch()
    async with (
        epmd_daemon() as epmd,
        running_server(epmd, switch=switch) as server,
        erl_node(HANDLER, cookie=COOKIE, epmd_port=epmd) as handler,
    ):
        assert await handler.eval(ROUTER) == "ok"
        while not server.fetch.handlers("dialplan"):
            await trio.sleep(0.01)
        for n in range(warmup):
            await switch.xml_lookup("dialplan", "context", "name", "context_2", _params(n))
        n = warmup
        for rate in rates:
            row = await _phase(switch, rate, seconds, n)
            n += int(rate * seconds)
            rows.append(row)
            print(f"  {rate}/s: {row}", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each rate")
    parser.add_argument("--rates", default="100,1000", help="comma-separated lookups/s")
    parser.add_argument("--warmup", type=int, default=500, help="lookups before measuring")
    args = parser.parse_args(argv)
    if shutil.which("erl") is None:
        print("erl not found; cannot run the fetch benchmark", file=sys.stderr)
        return 1
    rates = [int(x) for x in args.rates.split(",")]
    rows = trio.run(_run, rates, args.seconds, args.warmup)
    print_table(
        "dialplan lookups answered by an erl handler: lookup start -> XML back to the switch",
        [
            "offered/s",
            "lookups",
            "done/s",
            "not found",
            "p50 µs",
            "p99 µs",
            "p99.9 µs",
            "max µs",
            "CPU µs/lookup",
        ],
        [
            [
                r["offered_per_s"],
                r["lookups"],
                r["achieved_per_s"],
                r["not_found"],
                r["p50_us"],
                r["p99_us"],
                r["p99_9_us"],
                r["max_us"],
                r["cpu_us_per_lookup"],
            ]
            for r in rows
        ],
    )
    write_json("fetch", {"seconds_per_rate": args.seconds, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
