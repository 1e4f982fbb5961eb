"""JSON event building with Kazoo's profiles vs the legacy encoding of the same event.

Each row builds and encodes realistic CHANNEL_CREATE events (e90-like: 90
FreeSWITCH headers, see ``reference/anchors.md``), every event with its own
``Unique-ID`` and ``Event-Date-Timestamp`` so no memo can hide the work:

* ``kazoo profiles``: Kazoo's own profile XML (``../shared/kazoo-profiles``,
  or ``KAZOO_PROFILES_DIR``) → ``ProfileSet.build_payload``, the bytes of
  ``{event, json, JObj}`` a stream sends ecallmgr;
* ``kazoo, term+encode``: the same bytes the long way, ``build_event`` then
  the general ``encode`` (what tests and the ``map`` encoding use);
* ``default profiles``: ``build_payload`` with the built-in default profiles;
* ``verbose``: the fallback encoding (every header as JSON), ``verbose_payload``;
* ``verbose, term+encode``: ``encode`` of ``verbose_event``;
* ``legacy`` (the anchor): ``encode_event`` of ``{event, [UniqueId | Pairs]}``,
  the C module's legacy form, which needs no profile work at all.

Usage: ``python -m benchmarks.bench_profiles [--seconds S]``.
Writes ``benchmarks/results/profiles.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

from kazoo_trio.kazoo.profiles import (
    ProfileSet,
    default_profiles,
    verbose_event,
    verbose_payload,
)
from kazoo_trio.switch.event import Event
from kazoo_trio.term import Atom, encode, encode_event

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


def e90(i: int) -> Event:
    """A CHANNEL_CREATE as FreeSWITCH fires it for an inbound Kazoo call (90 headers)."""
    uuid = f"{i:08x}-5d1c-4f0a-9a3e-2b7c9e1d4f60"
    stamp = 1_700_000_000_000_000 + i * 1_237
    gmt = "Tue, 14 Nov 2023 22:13:20 GMT"
    headers = [
        ("Event-Name", "CHANNEL_CREATE"),
        ("Core-UUID", "0c3a5e2e-8b71-4b0e-a0f5-6d2f1c9a7b31"),
        ("FreeSWITCH-Hostname", "fs1.example.com"),
        ("FreeSWITCH-Switchname", "fs1.example.com"),
        ("FreeSWITCH-IPv4", "10.1.2.3"),
        ("FreeSWITCH-IPv6", "::1"),
        ("Event-Date-Local", "2023-11-14 22:13:20"),
        ("Event-Date-GMT", gmt),
        ("Event-Date-Timestamp", str(stamp)),
        ("Event-Calling-File", "switch_core_state_machine.c"),
        ("Event-Calling-Function", "switch_core_session_run"),
        ("Event-Calling-Line-Number", "628"),
        ("Event-Sequence", str(5000 + i)),
        ("Channel-State", "CS_INIT"),
        ("Channel-Call-State", "DOWN"),
        ("Channel-State-Number", "2"),
        ("Channel-Name", "sofia/sipinterface_1/1000@example.com"),
        ("Unique-ID", uuid),
        ("Call-Direction", "inbound"),
        ("Presence-Call-Direction", "inbound"),
        ("Channel-HIT-Dialplan", "true"),
        ("Channel-Presence-ID", "1000@example.com"),
        ("Channel-Call-UUID", uuid),
        ("Answer-State", "ringing"),
        ("Caller-Direction", "inbound"),
        ("Caller-Logical-Direction", "inbound"),
        ("Caller-Username", "1000"),
        ("Caller-Dialplan", "XML"),
        ("Caller-Caller-ID-Name", "Alice Example"),
        ("Caller-Caller-ID-Number", "1000"),
        ("Caller-Orig-Caller-ID-Name", "Alice Example"),
        ("Caller-Orig-Caller-ID-Number", "1000"),
        ("Caller-Network-Addr", "192.0.2.10"),
        ("Caller-ANI", "1000"),
        ("Caller-Destination-Number", "+14155550100"),
        ("Caller-Unique-ID", uuid),
        ("Caller-Source", "mod_sofia"),
        ("Caller-Context", "context_2"),
        ("Caller-Channel-Name", "sofia/sipinterface_1/1000@example.com"),
        ("Caller-Profile-Index", "1"),
        ("Caller-Profile-Created-Time", str(stamp - 20_000)),
        ("Caller-Channel-Created-Time", str(stamp - 20_000)),
        ("Caller-Channel-Answered-Time", "0"),
        ("Caller-Channel-Progress-Time", "0"),
        ("Caller-Channel-Progress-Media-Time", "0"),
        ("Caller-Channel-Hangup-Time", "0"),
        ("Caller-Channel-Transfer-Time", "0"),
        ("Caller-Channel-Resurrect-Time", "0"),
        ("Caller-Channel-Bridged-Time", "0"),
        ("Caller-Channel-Last-Hold", "0"),
        ("Caller-Channel-Hold-Accum", "0"),
        ("Caller-Screen-Bit", "true"),
        ("Caller-Privacy-Hide-Name", "false"),
        ("Caller-Privacy-Hide-Number", "false"),
        ("variable_direction", "inbound"),
        ("variable_uuid", uuid),
        ("variable_session_id", str(1000 + i)),
        ("variable_sip_from_user", "1000"),
        ("variable_sip_from_uri", "1000@example.com"),
        ("variable_sip_from_host", "example.com"),
        ("variable_channel_name", "sofia/sipinterface_1/1000@example.com"),
        ("variable_sip_call_id", f"{i:x}-call@192.0.2.10"),
        ("variable_sip_local_network_addr", "10.1.2.3"),
        ("variable_sip_network_ip", "192.0.2.10"),
        ("variable_sip_network_port", "5060"),
        ("variable_sip_received_ip", "192.0.2.10"),
        ("variable_sip_received_port", "5060"),
        ("variable_sip_via_protocol", "udp"),
        ("variable_sip_from_tag", f"tag{i:x}"),
        ("variable_sip_to_user", "+14155550100"),
        ("variable_sip_to_uri", "+14155550100@example.com"),
        ("variable_sip_to_host", "example.com"),
        ("variable_sip_req_uri", "+14155550100@example.com"),
        ("variable_sip_req_user", "+14155550100"),
        ("variable_sip_req_host", "example.com"),
        ("variable_sip_user_agent", "Yealink SIP-T46S 66.86.0.15"),
        ("variable_sip_invite_domain", "example.com"),
        ("variable_sofia_profile_name", "sipinterface_1"),
        ("variable_presence_id", "1000@example.com"),
        ("variable_ecallmgr_Account-ID", "4fe69f4fa7ad4a3c85a1b1f4c3a4f2e1"),
        ("variable_ecallmgr_Realm", "example.com"),
        ("variable_ecallmgr_Username", "user_1000"),
        ("variable_ecallmgr_Authorizing-ID", "9d1e0b2f7c3a4e5f8a6b"),
        ("variable_ecallmgr_Authorizing-Type", "device"),
        ("variable_ecallmgr_Inception", "on-net"),
        ("variable_Call-Interaction-ID", f"63866931200-{i:08x}"),
        ("variable_sip_h_X-ecallmgr_Account-ID", "4fe69f4fa7ad4a3c85a1b1f4c3a4f2e1"),
        ("variable_cav_Flow-ID", "f1"),
        ("Switch-Nodename", "freeswitch@fs1.example.com"),
        ("Target-Node", "ecallmgr@kazoo1.example.com"),
    ]
    return Event("CHANNEL_CREATE", headers)


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
    args = parser.parse_args(argv)

    events = [e90(i) for i in range(POOL)]
    sample = events[0]
    legacy_size = len(encode_event(sample.unique_id, sample.headers))
    rows: list[dict[str, object]] = []

    def legacy(event: Event) -> bytes:
        return encode_event(event.unique_id, event.headers)

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

    print(f"CHANNEL_CREATE, 90 headers, legacy ETF {legacy_size} bytes, one core")
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
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "profiles",
                "event": "CHANNEL_CREATE e90-like",
                "legacy_bytes": legacy_size,
                "target_events_per_s": TARGET_EVENTS_PER_SECOND,
                "target_met": verdict,
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
