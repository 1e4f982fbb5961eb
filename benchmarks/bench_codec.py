"""Term codec throughput on realistic FreeSWITCH events, against erlang-py in the same run.

``e90`` is a CHANNEL_CREATE-like event with 90 headers (4,748 bytes of ETF),
``e150`` the same with 60 more ``variable_*`` headers (7,919 bytes), the two
test events of ``reference/anchors.md`` (built by ``benchmarks.events``).  Every
event in the pool has its own Unique-ID, Call-ID, timestamps and sequence
number, so caches can only help where they would in production (header names,
atoms).

Rows: the legacy event encoder (``encode_legacy_event`` keeping every header,
on the switch's events, which hold str; it adds the stream's two node headers),
the general ``encode`` on the ``(Atom("event"), [UniqueId | Pairs])`` value,
erlang-py's ``term_to_binary`` on the equivalent ``OtpErlangBinary`` value
(checked to produce identical bytes), and ``decode`` against erlang-py's
``binary_to_term``.  Ratios compare rows measured in this same run.

    .venv/bin/python -m benchmarks.bench_codec [--quick]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.common import best_time, print_table, rate, write_json
from benchmarks.events import (
    E90_BYTES,
    E90_HEADERS,
    E150_BYTES,
    E150_HEADERS,
    e90,
    e150,
    etf_size,
    event_bytes,
)
from kazoo_trio.kazoo.streams.encoding import LegacyFilter, encode_legacy_event
from kazoo_trio.switch.event import Event
from kazoo_trio.term import Atom, decode, encode

# Targets on e90 (the issue): encode >= 100k/s and 15x erlang-py; decode >= 30k/s and 5x.
TARGETS = {"encode": (100_000, 15.0), "decode": (30_000, 5.0)}
SIZES = {"e90": (E90_HEADERS, E90_BYTES), "e150": (E150_HEADERS, E150_BYTES)}
POOL = 256

BUILDERS: dict[str, Callable[[int], Event]] = {"e90": e90, "e150": e150}


def build_events(kind: str, count: int) -> list[Event]:
    n_headers, etf_bytes = SIZES[kind]
    events = [BUILDERS[kind](seq) for seq in range(count)]
    assert all(len(e.headers) == n_headers and etf_size(e) == etf_bytes for e in events), kind
    return events


def build_pool(kind: str, count: int) -> list[tuple[bytes, list[tuple[bytes, bytes]]]]:
    return [event_bytes(e) for e in build_events(kind, count)]


def _per_event(func: Callable[[Any], object], items: Sequence[Any]) -> dict[str, int]:
    def batch() -> None:
        for item in items:
            func(item)

    timing = best_time(batch, repeat=5, min_time=0.15)
    count = len(items)
    return {"cpu": round(rate(timing.cpu, count)), "wall": round(rate(timing.wall, count))}


def _legacy_encoder() -> Callable[[Event], bytes]:
    keep_all = LegacyFilter(send_all_headers=True)

    def legacy(event: Event) -> bytes:
        return encode_legacy_event(event, "ecallmgr@host", "freeswitch@host", keep_all)

    return legacy


def run(kinds: Sequence[str], pool_size: int) -> dict[str, Any]:
    import erlang  # type: ignore[import-untyped]

    results: dict[str, Any] = {}
    for kind in kinds:
        events = build_events(kind, pool_size)
        pool = [event_bytes(e) for e in events]
        general = [(Atom("event"), [u, *hs]) for u, hs in pool]
        binary = erlang.OtpErlangBinary
        theirs = [
            (erlang.OtpErlangAtom("event"), [binary(u), *((binary(n), binary(v)) for n, v in hs)])
            for u, hs in pool
        ]
        wire = [encode(g) for g in general]
        # Same bytes from every encoder, and the size the anchor names.
        assert all(len(w) == SIZES[kind][1] for w in wire), {len(w) for w in wire}
        assert wire[0] == erlang.term_to_binary(theirs[0])
        assert decode(wire[0]) == general[0]
        rows = {
            "encode_legacy_event": _per_event(_legacy_encoder(), events),
            "encode(general)": _per_event(encode, general),
            "erlang-py term_to_binary": _per_event(erlang.term_to_binary, theirs),
            "decode": _per_event(decode, wire),
            "erlang-py binary_to_term": _per_event(erlang.binary_to_term, wire),
        }
        results[kind] = {"etf_bytes": SIZES[kind][1], "events_per_second": rows}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="e90 only, smaller pool")
    args = parser.parse_args(argv)
    kinds = ["e90"] if args.quick else ["e90", "e150"]
    results = run(kinds, 64 if args.quick else POOL)
    rows = []
    verdicts: dict[str, Any] = {}
    for kind, res in results.items():
        r = res["events_per_second"]
        enc_ref, dec_ref = r["erlang-py term_to_binary"], r["erlang-py binary_to_term"]
        for name, value in r.items():
            ref = dec_ref if "decode" in name or "binary_to_term" in name else enc_ref
            rows.append(
                [
                    kind,
                    name,
                    round(value["cpu"]),
                    round(value["cpu"] / ref["cpu"], 1),
                    round(value["wall"]),
                    round(value["wall"] / ref["wall"], 1),
                ]
            )
        if kind == "e90":
            verdicts = _verdicts(r)
    print_table(
        "term codec, events/s per CPU-second and per wall-second "
        "(x = ratio to erlang-py in this run)",
        ["event", "codec", "events/s cpu", "x cpu", "events/s wall", "x wall"],
        rows,
    )
    if verdicts:
        print(
            "\ne90 targets (CPU time): encode >= 100,000/s and >= 15x: "
            f"{'met' if verdicts['encode_target_met'] else 'NOT met'}; "
            "decode >= 30,000/s and >= 5x: "
            f"{'met' if verdicts['decode_target_met'] else 'NOT met'}"
        )
    path = write_json("codec", {"results": results, "e90_targets": verdicts})
    print(f"wrote {path}")
    return 0


def _verdicts(r: dict[str, dict[str, int]]) -> dict[str, Any]:
    enc = r["encode_legacy_event"]["cpu"]
    dec = r["decode"]["cpu"]
    enc_ratio = enc / r["erlang-py term_to_binary"]["cpu"]
    dec_ratio = dec / r["erlang-py binary_to_term"]["cpu"]
    general = r["encode(general)"]["cpu"]
    return {
        "clock": "cpu",
        "encode_legacy_event_per_s": round(enc),
        "encode_ratio": round(enc_ratio, 1),
        "encode_target_met": enc >= TARGETS["encode"][0] and enc_ratio >= TARGETS["encode"][1],
        "general_encode_per_s": round(general),
        "general_vs_encode_legacy_event": round(general / enc, 2),
        "decode_per_s": round(dec),
        "decode_ratio": round(dec_ratio, 1),
        "decode_target_met": dec >= TARGETS["decode"][0] and dec_ratio >= TARGETS["decode"][1],
    }


if __name__ == "__main__":
    sys.exit(main())
