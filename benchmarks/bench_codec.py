"""Term codec throughput on realistic FreeSWITCH events, against erlang-py in the same run.

``e90`` is a CHANNEL_CREATE-like event with 90 headers (4,748 bytes of ETF),
``e150`` the same with 60 more ``variable_*`` headers (7,919 bytes), the two
test events of ``reference/anchors.md``.  Every event in the pool has its own
Unique-ID, Call-ID, timestamps and sequence number, so caches can only help
where they would in production (header names, atoms).

Rows: ``encode_event`` with bytes and with str headers (the switch's events
hold str), the general ``encode`` on the same ``(Atom("event"), [...])`` value,
erlang-py's ``term_to_binary`` on the equivalent ``OtpErlangBinary`` value
(checked to produce identical bytes), and ``decode`` against erlang-py's
``binary_to_term``.  Ratios compare rows measured in this same run.

    .venv/bin/python -m benchmarks.bench_codec [--quick]
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.common import best_time, print_table, rate, write_json
from kazoo_trio.term import Atom, decode, encode, encode_event

# Targets on e90 (the issue): encode >= 100k/s and 15x erlang-py; decode >= 30k/s and 5x.
TARGETS = {"encode": (100_000, 15.0), "decode": (30_000, 5.0)}
SIZES = {"e90": (90, 4748), "e150": (150, 7919)}
POOL = 256

_HOST = "fs1.sip.example.net"
_CORE = "b3c5ad3e-97b1-4bd3-9be8-4f8f5ab0e3a1"

# (name, value) in FreeSWITCH's order; {uuid}, {call_id}, {ts}, {seq}, {local}
# and {gmt} change per event.
_BASE: list[tuple[str, str]] = [
    ("Event-Name", "CHANNEL_CREATE"),
    ("Core-UUID", _CORE),
    ("FreeSWITCH-Hostname", _HOST),
    ("FreeSWITCH-Switchname", _HOST),
    ("FreeSWITCH-IPv4", "10.26.0.81"),
    ("FreeSWITCH-IPv6", "::1"),
    ("Event-Date-Local", "{local}"),
    ("Event-Date-GMT", "{gmt}"),
    ("Event-Date-Timestamp", "{ts}"),
    ("Event-Calling-File", "switch_core_state_machine.c"),
    ("Event-Calling-Function", "switch_core_session_run"),
    ("Event-Calling-Line-Number", "582"),
    ("Event-Sequence", "{seq}"),
    ("Channel-State", "CS_INIT"),
    ("Channel-Call-State", "DOWN"),
    ("Channel-State-Number", "2"),
    ("Channel-Name", "sofia/sipinterface_1/1000@sip.example.net"),
    ("Unique-ID", "{uuid}"),
    ("Call-Direction", "inbound"),
    ("Presence-Call-Direction", "inbound"),
    ("Channel-HIT-Dialplan", "true"),
    ("Channel-Presence-ID", "1000@sip.example.net"),
    ("Channel-Call-UUID", "{uuid}"),
    ("Answer-State", "ringing"),
    ("Caller-Direction", "inbound"),
    ("Caller-Logical-Direction", "inbound"),
    ("Caller-Username", "1000"),
    ("Caller-Dialplan", "XML"),
    ("Caller-Caller-ID-Name", "Reception Desk"),
    ("Caller-Caller-ID-Number", "1000"),
    ("Caller-Orig-Caller-ID-Name", "Reception Desk"),
    ("Caller-Orig-Caller-ID-Number", "1000"),
    ("Caller-Network-Addr", "192.0.2.44"),
    ("Caller-ANI", "1000"),
    ("Caller-Destination-Number", "+14155550123"),
    ("Caller-Unique-ID", "{uuid}"),
    ("Caller-Source", "mod_sofia"),
    ("Caller-Context", "context_2"),
    ("Caller-Channel-Name", "sofia/sipinterface_1/1000@sip.example.net"),
    ("Caller-Profile-Index", "1"),
    ("Caller-Profile-Created-Time", "{ts}"),
    ("Caller-Channel-Created-Time", "{ts}"),
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
    ("variable_uuid", "{uuid}"),
    ("variable_session_id", "{seq}"),
    ("variable_sip_from_user", "1000"),
    ("variable_sip_from_uri", "1000@sip.example.net"),
    ("variable_sip_from_host", "sip.example.net"),
    ("variable_channel_name", "sofia/sipinterface_1/1000@sip.example.net"),
    ("variable_sip_call_id", "{call_id}"),
    ("variable_sip_local_network_addr", "10.26.0.81"),
    ("variable_sip_network_ip", "192.0.2.44"),
    ("variable_sip_network_port", "5060"),
    ("variable_sip_received_ip", "192.0.2.44"),
    ("variable_sip_received_port", "5060"),
    ("variable_sip_via_protocol", "udp"),
    ("variable_sip_authorized", "true"),
    ("variable_sip_from_user_stripped", "1000"),
    ("variable_sip_from_tag", "a7Bq93kZpD1mH"),
    ("variable_sofia_profile_name", "sipinterface_1"),
    ("variable_recovery_profile_name", "sipinterface_1"),
    ("variable_sip_full_via", "SIP/2.0/UDP 192.0.2.44:5060;branch=z9hG4bK-524287-1---{seq}"),
    ("variable_sip_full_from", "\"Reception Desk\" <sip:1000@sip.example.net>;tag=a7Bq93kZpD1mH"),
    ("variable_sip_full_to", "<sip:+14155550123@sip.example.net>"),
    ("variable_sip_req_user", "+14155550123"),
    ("variable_sip_req_uri", "+14155550123@sip.example.net"),
    ("variable_sip_req_host", "sip.example.net"),
    ("variable_sip_to_user", "+14155550123"),
    ("variable_sip_to_uri", "+14155550123@sip.example.net"),
    ("variable_sip_to_host", "sip.example.net"),
    ("variable_sip_contact_user", "1000"),
    ("variable_sip_contact_port", "5060"),
    ("variable_sip_contact_uri", "1000@192.0.2.44:5060"),
    ("variable_sip_contact_host", "192.0.2.44"),
    ("variable_sip_user_agent", "Yealink SIP-T46S 66.86.0.15"),
    ("variable_max_forwards", "70"),
    ("variable_presence_id", "1000@sip.example.net"),
    ("variable_switch_r_sdp", "v=0\r\no=- {seq} 1 IN IP4 192.0.2.44\r\n"),  # padded to size
]
# e150's sixty extra channel variables (Kazoo's custom channel vars and SIP bits).
_EXTRA: list[tuple[str, str]] = [
    (f"variable_ecallmgr_{name}", value)
    for name, value in [
        ("Account-ID", "4f3b0c36e1d1a3c8e1f2a9c7b6d5e4f3"),
        ("Realm", "sip.example.net"),
        ("Username", "user_k7q2m9"),
        ("Authorizing-ID", "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"),
        ("Authorizing-Type", "device"),
        ("Owner-ID", "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"),
        ("Channel-Authorized", "true"),
        ("Call-Interaction-ID", "63812345678-{seq}"),
        ("Inception", "on-net"),
        ("Reseller-ID", "11aa22bb33cc44dd55ee66ff77889900"),
    ]
] + [(f"variable_sip_h_X-Kazoo-{i:02d}", f"kv-{i:02d}-{{seq}}") for i in range(50)]


def _template(n_headers: int, etf_size: int) -> list[tuple[str, str]]:
    headers = (_BASE + _EXTRA)[:n_headers]
    if len(headers) != n_headers:
        raise ValueError(f"only {len(headers)} header templates")
    # Pad the SDP so that every event has exactly the anchor's size.
    pad = etf_size - len(_fill(headers, 0))
    if pad < len("a=x-pad:"):
        raise ValueError(f"templates leave {pad} bytes for {etf_size}; need at least 8")
    at = [name for name, _ in headers].index("variable_switch_r_sdp")
    headers[at] = (headers[at][0], headers[at][1] + "a=x-pad:" + "0" * (pad - 8))
    return headers


def _fill(headers: Sequence[tuple[str, str]], seq: int) -> bytes:
    event = _event(headers, seq)
    return encode_event(event[0], event[1])


def _event(headers: Sequence[tuple[str, str]], seq: int) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    uid = str(uuid.uuid4())
    ts = 1_700_000_000_000_000 + seq * 1_234_567
    subst = {
        "{uuid}": uid,
        "{call_id}": uuid.uuid4().hex[:24] + "@192.0.2.44",
        "{ts}": str(ts),
        "{seq}": str(4_100_000 + seq),
        "{local}": f"2026-11-27 12:{seq // 60 % 60:02d}:{seq % 60:02d}",
        "{gmt}": f"Fri, 27 Nov 2026 12:{seq // 60 % 60:02d}:{seq % 60:02d} GMT",
    }
    out = []
    for name, value in headers:
        for key, new in subst.items():
            if key in value:
                value = value.replace(key, new)
        out.append((name.encode(), value.encode()))
    return uid.encode(), out


def build_pool(kind: str, count: int) -> list[tuple[bytes, list[tuple[bytes, bytes]]]]:
    n_headers, etf_size = SIZES[kind]
    headers = _template(n_headers, etf_size)
    return [_event(headers, seq) for seq in range(count)]


def _per_event(func: Callable[[Any], object], items: Sequence[Any]) -> dict[str, int]:
    def batch() -> None:
        for item in items:
            func(item)

    timing = best_time(batch, repeat=5, min_time=0.15)
    count = len(items)
    return {"cpu": round(rate(timing.cpu, count)), "wall": round(rate(timing.wall, count))}


def run(kinds: Sequence[str], pool_size: int) -> dict[str, Any]:
    import erlang  # type: ignore[import-untyped]

    results: dict[str, Any] = {}
    for kind in kinds:
        pool = build_pool(kind, pool_size)
        as_str = [(u.decode(), [(n.decode(), v.decode()) for n, v in hs]) for u, hs in pool]
        general = [(Atom("event"), [u, *hs]) for u, hs in pool]
        binary = erlang.OtpErlangBinary
        theirs = [
            (erlang.OtpErlangAtom("event"), [binary(u), *((binary(n), binary(v)) for n, v in hs)])
            for u, hs in pool
        ]
        wire = [encode_event(u, hs) for u, hs in pool]
        # Same bytes from every encoder, and the size the anchor names.
        assert all(len(w) == SIZES[kind][1] for w in wire), {len(w) for w in wire}
        assert wire[0] == encode(general[0]) == erlang.term_to_binary(theirs[0])
        assert wire[0] == encode_event(*as_str[0])
        assert decode(wire[0]) == general[0]
        rows = {
            "encode_event(bytes)": _per_event(lambda e: encode_event(e[0], e[1]), pool),
            "encode_event(str)": _per_event(lambda e: encode_event(e[0], e[1]), as_str),
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
    enc = r["encode_event(bytes)"]["cpu"]
    dec = r["decode"]["cpu"]
    enc_ratio = enc / r["erlang-py term_to_binary"]["cpu"]
    dec_ratio = dec / r["erlang-py binary_to_term"]["cpu"]
    general = r["encode(general)"]["cpu"]
    return {
        "clock": "cpu",
        "encode_event_per_s": round(enc),
        "encode_ratio": round(enc_ratio, 1),
        "encode_target_met": enc >= TARGETS["encode"][0] and enc_ratio >= TARGETS["encode"][1],
        "general_encode_per_s": round(general),
        "general_vs_encode_event": round(general / enc, 2),
        "decode_per_s": round(dec),
        "decode_ratio": round(dec_ratio, 1),
        "decode_target_met": dec >= TARGETS["decode"][0] and dec_ratio >= TARGETS["decode"][1],
    }


if __name__ == "__main__":
    sys.exit(main())
