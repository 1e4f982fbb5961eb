"""JSON event building with Kazoo's profiles vs the legacy encoding of the same event.

Each row builds and encodes realistic CHANNEL_CREATE events (``e90`` of
``benchmarks.events``: 90 FreeSWITCH headers, 4,748 bytes, see
``reference/anchors.md``, plus the ``Target-Node`` and ``Switch-Nodename`` a
stream adds), every event with its own ``Unique-ID`` and
``Event-Date-Timestamp`` so no memo can hide the work:

* ``kazoo profiles``: Kazoo's own profile XML (``../shared/kazoo-profiles``,
  or ``KAZOO_PROFILES_DIR``) → ``ProfileSet.build_payload``, the bytes of
  ``{event, json, JObj}`` a stream sends ecallmgr;
* ``kazoo, term+encode``: the same bytes the long way, ``build_event`` then
  the general ``encode`` (what tests and the ``map`` encoding use);
* ``default profiles``: ``build_payload`` with the built-in default profiles;
* ``verbose``: the fallback encoding (every header as JSON), ``verbose_payload``;
* ``verbose, term+encode``: ``encode`` of ``verbose_event``;
* ``legacy`` (the anchor): ``encode_legacy_event`` (every header kept) of
  ``{event, [UniqueId | Pairs]}``, the C module's legacy form, which needs no
  profile work at all.

Then the events of controlled calls (:mod:`benchmarks.call_events`: ``--calls``
calls on the simulated switch, routed by ecallmgr's park response and controlled as
:mod:`benchmarks.controller` does it), each as the controller's event stream hands
it to its encoder (``encode_json_event`` with the stream's binding, the profiles
installed from the ``kazoo.conf`` document ecallmgr pushes, the switch's globals
as their fallback), grouped by event, plus each call's dialplan lookup through
``build_fetch``; events Kazoo's filters reject are left out (the streams do not
build them).  ``per call`` is the CPU time of one call's events and lookup
together; the anchor is the legacy encoding of the same events.

Usage: ``python -m benchmarks.bench_profiles [--seconds S] [--calls N]``.
Writes ``benchmarks/results/profiles.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.call_events import TARGET_NODE as CALL_TARGET_NODE
from benchmarks.call_events import capture_calls
from benchmarks.common import print_table
from benchmarks.events import E90_BYTES, E90_HEADERS, SWITCH_NODENAME, TARGET_NODE, e90, etf_size
from kazoo_trio.kazoo.profiles import (
    ProfileSet,
    default_profiles,
    verbose_event,
    verbose_payload,
)
from kazoo_trio.kazoo.streams.encoding import (
    LegacyFilter,
    encode_json_event,
    encode_legacy_event,
    prepare,
)
from kazoo_trio.switch.event import Event
from kazoo_trio.term import Atom, encode
from tests.kazoo.profile_support import kazoo_conf_document

RESULTS = Path(__file__).parent / "results" / "profiles.json"
TARGET_EVENTS_PER_SECOND = 20_000
POOL = 512

_EVENT = Atom("event")
_JSON = Atom("json")


def profiles_dir() -> Path:
    env = os.environ.get("KAZOO_PROFILES_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "kazoo-profiles"


def kazoo_profiles(folder: Path) -> ProfileSet:
    def texts(sub: str) -> list[str]:
        return [p.read_text() for p in sorted((folder / sub).glob("*.xml"))]

    return ProfileSet.from_parts(
        texts("definitions"),
        texts("events"),
        texts("fetch"),
        (folder / "event_profiles" / "default.xml").read_text(),
        variables=[("UNIX_EPOCH_IN_GREGORIAN", "62167219200")],
    )


def _measure(work: Callable[[Event], bytes], events: list[Event], seconds: float) -> float:
    """Events per second of CPU time (robust against other processes on the machine)."""
    for event in events[:64]:
        work(event)
    done = 0
    start = time.process_time()
    deadline = start + seconds
    while True:
        for event in events:
            work(event)
        done += len(events)
        now = time.process_time()
        if now >= deadline:
            return done / (now - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per row")
    parser.add_argument(
        "--calls", type=int, default=32, help="controlled calls whose events are encoded"
    )
    args = parser.parse_args(argv)

    raw = [e90(i) for i in range(POOL)]
    assert all(len(e.headers) == E90_HEADERS and etf_size(e) == E90_BYTES for e in raw)
    # What a stream hands the encoders: its copy with Target-Node and Switch-Nodename,
    # which Kazoo's profiles read.
    events = [prepare(e, TARGET_NODE, SWITCH_NODENAME) for e in raw]
    sample = events[0]
    keep_all = LegacyFilter(send_all_headers=True)

    def legacy(event: Event) -> bytes:
        return encode_legacy_event(event, TARGET_NODE, SWITCH_NODENAME, keep_all)

    legacy_size = len(legacy(sample))
    rows: list[dict[str, object]] = []

    def with_profiles(profiles: ProfileSet) -> Callable[[Event], bytes]:
        build = profiles.build_payload

        def work(event: Event) -> bytes:
            payload = build(event, binding="CHANNEL_CREATE")
            assert payload is not None
            return payload

        return work

    def term_then_encode(profiles: ProfileSet) -> Callable[[Event], bytes]:
        build = profiles.build_event

        def work(event: Event) -> bytes:
            return encode((_EVENT, _JSON, build(event, binding="CHANNEL_CREATE")))

        return work

    def verbose_term(event: Event) -> bytes:
        return encode((_EVENT, _JSON, verbose_event(event)))

    candidates: list[tuple[str, Callable[[Event], bytes]]] = [("legacy (anchor)", legacy)]
    folder = profiles_dir()
    if (folder / "definitions").is_dir():
        kazoo = kazoo_profiles(folder)
        candidates.append(("kazoo profiles", with_profiles(kazoo)))
        candidates.append(("kazoo, term+encode", term_then_encode(kazoo)))
    else:
        print(f"kazoo profiles not found in {folder}; that row is skipped")
    candidates.append(("default profiles", with_profiles(default_profiles())))
    candidates.append(("verbose", verbose_payload))
    candidates.append(("verbose, term+encode", verbose_term))
    # The payload writers must give the very bytes of the long way.
    paths = dict(candidates)
    for fast, slow in (
        ("kazoo profiles", "kazoo, term+encode"),
        ("verbose", "verbose, term+encode"),
    ):
        if fast in paths:
            assert paths[fast](sample) == paths[slow](sample), f"{fast}: bytes differ"

    anchor = 0.0
    for name, work in candidates:
        size = len(work(sample))
        rate = _measure(work, events, args.seconds)
        if not anchor:
            anchor = rate
        rows.append(
            {
                "name": name,
                "events_per_s": round(rate),
                "us_per_event": round(1e6 / rate, 1),
                "bytes": size,
                "ratio_to_legacy": round(rate / anchor, 3),
            }
        )

    print(
        f"CHANNEL_CREATE e90 ({E90_HEADERS} headers, {E90_BYTES} bytes) + the stream's"
        f" 2 node headers, legacy ETF {legacy_size} bytes, one core"
    )
    print(f"{'encoding':<22} {'events/s':>10} {'us/event':>9} {'bytes':>7} {'vs legacy':>10}")
    for row in rows:
        print(
            f"{row['name']:<22} {row['events_per_s']:>10} {row['us_per_event']:>9}"
            f" {row['bytes']:>7} {row['ratio_to_legacy']:>10}"
        )
    kazoo_row = next((row for row in rows if row["name"] == "kazoo profiles"), None)
    verdict = None
    if kazoo_row is not None:
        rate_value = kazoo_row["events_per_s"]
        assert isinstance(rate_value, int)
        verdict = rate_value >= TARGET_EVENTS_PER_SECOND
        print(
            f"target {TARGET_EVENTS_PER_SECOND} events/s with Kazoo's profiles:"
            f" {'met' if verdict else 'NOT met'}"
        )
    call_rows = (
        call_events_rows(folder, args.calls, args.seconds)
        if (folder / "definitions").is_dir()
        else []
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "profiles",
                "event": "CHANNEL_CREATE e90 + Target-Node, Switch-Nodename",
                "legacy_bytes": legacy_size,
                "target_events_per_s": TARGET_EVENTS_PER_SECOND,
                "target_met": verdict,
                "rows": rows,
                "call_events": {"calls": args.calls, "rows": call_rows},
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")
    return 0


def _label(binding: str, event: Event) -> str:
    application = event.get("Application")
    return f"{binding} {application}" if application else binding


def call_events_rows(folder: Path, calls: int, seconds: float) -> list[dict[str, object]]:
    """CPU per event of the controlled calls' events, by event, and per call."""
    captured = capture_calls(calls)
    switch_globals = {"hostname": "fs1"}
    profiles = ProfileSet.from_xml(kazoo_conf_document(folder))
    encoder = profiles.encoder(switch_globals.get)
    keep_all = LegacyFilter(send_all_headers=True)
    groups: dict[str, list[tuple[str, Event]]] = {}
    for binding, event in captured.events:
        if encode_json_event(event, binding, "json", encoder) is not None:
            groups.setdefault(_label(binding, event), []).append((binding, event))
    lookups = list(captured.lookups)
    per_call: dict[str, float] = {}

    def payloads(items: list[tuple[str, Event]]) -> Callable[[Event], bytes]:
        bindings = {id(event): binding for binding, event in items}

        def work(event: Event) -> bytes:
            payload = encode_json_event(event, bindings[id(event)], "json", encoder)
            assert payload is not None
            return payload

        return work

    def legacy(event: Event) -> bytes:
        return encode_legacy_event(event, CALL_TARGET_NODE, captured.switch_nodename, keep_all)

    def fetch(event: Event) -> bytes:
        return encode(profiles.build_fetch("dialplan", event))

    rows: list[dict[str, object]] = []
    table: list[list[object]] = []
    cases = [(label, items, payloads(items)) for label, items in groups.items()]
    cases.append(("dialplan lookup (build_fetch + encode)", lookups, fetch))
    for label, items, work in cases:
        events = [event for _, event in items]
        rate = _measure(work, events, seconds)
        anchor = _measure(legacy, events, seconds)
        per_event_us = 1e6 / rate
        per_call[label] = per_event_us * len(items) / calls
        row: dict[str, object] = {
            "name": label,
            "events": len(items),
            "us_per_event": round(per_event_us, 1),
            "legacy_us_per_event": round(1e6 / anchor, 1),
            "ratio_to_legacy": round(rate / anchor, 3),
        }
        rows.append(row)
        table.append([label, len(items), per_event_us, 1e6 / anchor, rate / anchor])
    total = sum(per_call.values())
    rows.append({"name": "per call", "us_per_call": round(total, 1)})
    table.append(["per call (all of the above)", None, total, None, None])
    print_table(
        f"Controlled calls' events through Kazoo's profiles ({calls} calls, one core, CPU)",
        ["event", "count", "us/event", "legacy us/event", "speed vs legacy"],
        table,
    )
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
