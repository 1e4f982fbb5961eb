"""Event stream throughput: our EventStream vs a BEAM sender, to the same erl receiver.

The receiver is compiled Erlang in a plain ``erl``: ``gen_tcp`` with
``{packet, 4}``, passive ``recv`` and ``binary_to_term`` on every frame, with
the default receive buffer (what ecallmgr gets) and with ``{recbuf, 65536}``.
It times ``count`` frames from the first one it receives, so the rate is what
a consumer sees.

Senders, side by side in the same run:

* ours: an :class:`~kazoo_trio.kazoo.stream.EventStream` fed through
  ``offer()`` with distinct e90 events (per-event processing and encoding
  included), legacy form (``send-all-headers``, so the whole event travels) and
  verbose JSON form;
* BEAM: another ``erl`` sending the very same payload bytes, pre-encoded, with
  ``gen_tcp:send`` per frame (the anchor).

A second table gives the CPU cost per event of each encoding path, including
the JSON built with Kazoo's profiles (when ``../shared/kazoo-profiles`` or
``KAZOO_PROFILES_DIR`` has them) and the term-then-encode paths the payload
writers replace.

Usage: ``python -m benchmarks.bench_stream [--count N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import base64
import resource
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

from benchmarks.bench_profiles import kazoo_profiles, profiles_dir
from benchmarks.common import best_time, print_table, write_json
from kazoo_trio.kazoo.event_encoding import (
    LegacyFilter,
    encode_json_event,
    encode_legacy_event,
    prepare,
    verbose_encoder,
)
from kazoo_trio.kazoo.profiles import verbose_event
from kazoo_trio.kazoo.stream import EventStream, StreamOptions
from kazoo_trio.switch.event import Event
from kazoo_trio.term import Atom, encode, encode_event
from tests.erlnode import ErlNode, erl_node

TARGET = "ecallmgr@10.26.0.41.example.net"
SWITCH = "freeswitch@fs1.example.net"
POOL = 500  # distinct events cycled through, so no per-event cache can help
E90_BYTES = 4748  # the anchor's e90: [UniqueId | Pairs] in ETF
RECBUF_64K = 65536
_EVENT = Atom("event")
_JSON = Atom("json")

ERL_MODULE = r"""
-module(kt_stream_bench).
-export([receiver/3, await/1, sender/2]).

receiver(Port, Buf, Count) ->
    Parent = self(),
    Opts = [binary, {packet, 4}, {active, false}] ++ bufopt(Buf),
    Pid = spawn(fun() -> run_receiver(Parent, Port, Opts, Count) end),
    receive {Pid, connected} -> Pid after 10000 -> exit(connect_timeout) end.

bufopt(default) -> [];
bufopt(N) -> [{recbuf, N}].

run_receiver(Parent, Port, Opts, Count) ->
    {ok, S} = gen_tcp:connect({127, 0, 0, 1}, Port, Opts),
    Parent ! {self(), connected},
    {ok, B0} = gen_tcp:recv(S, 0, 30000),
    _ = binary_to_term(B0),
    T0 = erlang:monotonic_time(microsecond),
    ok = loop(S, Count - 1),
    T1 = erlang:monotonic_time(microsecond),
    gen_tcp:close(S),
    Parent ! {self(), done, T1 - T0}.

loop(_, 0) -> ok;
loop(S, K) ->
    {ok, B} = gen_tcp:recv(S, 0, 30000),
    _ = binary_to_term(B),
    loop(S, K - 1).

await(Pid) ->
    receive {Pid, done, Us} -> Us after 120000 -> exit(receiver_timeout) end.

sender(Payload, Count) ->
    {ok, L} = gen_tcp:listen(0, [binary, {packet, 4}, {active, false},
                                 {ip, {127, 0, 0, 1}}, {nodelay, true}]),
    {ok, Port} = inet:port(L),
    spawn(fun() ->
        {ok, S} = gen_tcp:accept(L),
        send_n(S, Payload, Count),
        _ = gen_tcp:recv(S, 0, 60000),
        gen_tcp:close(L)
    end),
    Port.

send_n(_, _, 0) -> ok;
send_n(S, Payload, K) -> ok = gen_tcp:send(S, Payload), send_n(S, Payload, K - 1).
"""


def e90(seq: int = 0) -> Event:
    """A CHANNEL_CREATE as FreeSWITCH fires it for an inbound SIP call: 90 headers.

    Values carry FreeSWITCH's URL escapes, so the stream's decoding does real work;
    the SDP pads the event to the anchor's 4,748 bytes.
    """
    uuid = f"{seq:08x}-5c1e-4b5e-9a7c-1f0e2d3c4b5a"
    stamp = 1_710_237_600_000_000 + seq
    h = [
        ("Event-Name", "CHANNEL_CREATE"),
        ("Core-UUID", "3c2b1a09-8f7e-4d6c-b5a4-9382716f5e4d"),
        ("FreeSWITCH-Hostname", "fs1.example.net"),
        ("FreeSWITCH-Switchname", "fs1.example.net"),
        ("FreeSWITCH-IPv4", "10.26.0.11"),
        ("FreeSWITCH-IPv6", "%3A%3A1"),
        ("Event-Date-Local", "2024-03-12%2010%3A00%3A00"),
        ("Event-Date-GMT", "Tue,%2012%20Mar%202024%2010%3A00%3A00%20GMT"),
        ("Event-Date-Timestamp", str(stamp)),
        ("Event-Calling-File", "switch_core_state_machine.c"),
        ("Event-Calling-Function", "switch_core_session_run"),
        ("Event-Calling-Line-Number", "638"),
        ("Event-Sequence", str(5000 + seq)),
        ("Channel-State", "CS_INIT"),
        ("Channel-Call-State", "DOWN"),
        ("Channel-State-Number", "2"),
        ("Channel-Name", "sofia/sipinterface_1/1001%40acme.example.net"),
        ("Unique-ID", uuid),
        ("Call-Direction", "inbound"),
        ("Presence-Call-Direction", "inbound"),
        ("Channel-HIT-Dialplan", "true"),
        ("Channel-Presence-ID", "1001%40acme.example.net"),
        ("Channel-Call-UUID", uuid),
        ("Answer-State", "ringing"),
        ("Caller-Direction", "inbound"),
        ("Caller-Logical-Direction", "inbound"),
        ("Caller-Username", "1001"),
        ("Caller-Dialplan", "XML"),
        ("Caller-Caller-ID-Name", "Alice%20Example"),
        ("Caller-Caller-ID-Number", "1001"),
        ("Caller-Orig-Caller-ID-Name", "Alice%20Example"),
        ("Caller-Orig-Caller-ID-Number", "1001"),
        ("Caller-Network-Addr", "192.0.2.44"),
        ("Caller-ANI", "1001"),
        ("Caller-Destination-Number", "+14155550123"),
        ("Caller-Unique-ID", uuid),
        ("Caller-Source", "mod_sofia"),
        ("Caller-Context", "context_2"),
        ("Caller-Channel-Name", "sofia/sipinterface_1/1001%40acme.example.net"),
        ("Caller-Profile-Index", "1"),
        ("Caller-Profile-Created-Time", str(stamp - 120)),
        ("Caller-Channel-Created-Time", str(stamp - 120)),
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
        ("variable_session_id", str(1000 + seq)),
        ("variable_sip_from_user", "1001"),
        ("variable_sip_from_uri", "1001%40acme.example.net"),
        ("variable_sip_from_host", "acme.example.net"),
        ("variable_channel_name", "sofia/sipinterface_1/1001%40acme.example.net"),
        ("variable_sip_call_id", f"{seq:x}-7f3a9c2e1b0d4a5f8e6c@192.0.2.44"),
        ("variable_sip_local_network_addr", "10.26.0.11"),
        ("variable_sip_network_ip", "192.0.2.44"),
        ("variable_sip_network_port", "5060"),
        ("variable_sip_received_ip", "192.0.2.44"),
        ("variable_sip_received_port", "5060"),
        ("variable_sip_via_protocol", "udp"),
        ("variable_sip_authorized", "true"),
        ("variable_sip_acl_authed_by", "trusted"),
        ("variable_sip_from_user_stripped", "1001"),
        ("variable_sip_from_tag", f"as{seq:x}e9d1c7"),
        ("variable_sofia_profile_name", "sipinterface_1"),
        ("variable_sofia_profile_url", "sip%3Amod_sofia%4010.26.0.11%3A5060"),
        ("variable_recovery_profile_name", "sipinterface_1"),
        (
            "variable_sip_full_via",
            "SIP/2.0/UDP%20192.0.2.44%3A5060%3Brport%3D5060%3Bbranch%3Dz9hG4bK776asdhds",
        ),
        ("variable_sip_from_display", "Alice%20Example"),
        (
            "variable_sip_full_from",
            "%22Alice%20Example%22%20%3Csip%3A1001%40acme.example.net%3E%3Btag%3Das8e9d1c7",
        ),
        ("variable_sip_full_to", "%3Csip%3A%2B14155550123%40acme.example.net%3E"),
        (
            "variable_sip_allow",
            "INVITE,%20ACK,%20BYE,%20CANCEL,%20OPTIONS,%20MESSAGE,%20INFO,%20UPDATE,"
            "%20REGISTER,%20REFER,%20NOTIFY,%20PUBLISH,%20SUBSCRIBE",
        ),
        ("variable_sip_req_user", "+14155550123"),
        ("variable_sip_req_uri", "%2B14155550123%40acme.example.net"),
        ("variable_sip_req_host", "acme.example.net"),
        ("variable_sip_to_user", "+14155550123"),
        ("variable_sip_to_uri", "%2B14155550123%40acme.example.net"),
        ("variable_sip_to_host", "acme.example.net"),
        ("variable_sip_h_X-ecallmgr_Account-ID", "9f3a7c1e2b4d6f8a0c1e3b5d7f9a1c3e"),
        ("variable_ecallmgr_Account-ID", "9f3a7c1e2b4d6f8a0c1e3b5d7f9a1c3e"),
        ("variable_ecallmgr_Realm", "acme.example.net"),
    ]
    h.append(("variable_switch_r_sdp", _SDP_PAD))
    return Event("CHANNEL_CREATE", h)


def _anchor_size(event: Event) -> int:
    """Size of ``[UniqueId | Pairs]`` as the anchors count it (4,748 bytes for e90)."""
    return len(encode_event(event.unique_id, event.headers)) - len(b"\x83h\x02w\x05event")


_SDP_PAD = ""
_SDP_PAD = "v=0%0D%0A" + "a" * (E90_BYTES - _anchor_size(e90()) - 9)


def _payloads() -> dict[str, bytes]:
    event = e90()
    everything = LegacyFilter(send_all_headers=True)
    verbose = encode_json_event(prepare(event, TARGET, SWITCH), "ALL", "json", verbose_encoder)
    assert verbose is not None
    return {
        "legacy": encode_legacy_event(event, TARGET, SWITCH, everything),
        "verbose-json": verbose,
    }


async def _compile(node: ErlNode, directory: str) -> None:
    source = Path(directory) / "kt_stream_bench.erl"
    source.write_text(ERL_MODULE)
    await node.eval(
        f'{{ok, M, B}} = compile:file("{source}", [binary, report]),'
        f' {{module, M}} = code:load_binary(M, "{source}", B).'
    )


def _buf(recbuf: int | None) -> str:
    return "default" if recbuf is None else str(recbuf)


_runs = iter(range(1, 1_000_000))


async def _start_receiver(receiver: ErlNode, port: int, recbuf: int | None, count: int) -> str:
    """Connect a receiver to ``port``; the name of the erl variable holding its pid."""
    var = f"P{next(_runs)}"  # erl bindings persist and cannot be rebound
    await receiver.eval(f"{var} = kt_stream_bench:receiver({port}, {_buf(recbuf)}, {count}).")
    return var


async def _run_ours(
    receiver: ErlNode, encoding: str, recbuf: int | None, count: int, pool: list[Event]
) -> tuple[float, int, float]:
    """Events/s seen by the receiver, events dropped, and our CPU µs per event.

    The CPU figure (user + system time of this process over the run) is what the
    machine's other load cannot distort: it is the cost of an event to us.
    """
    stream = EventStream(
        StreamOptions(framing=4, legacy=encoding == "legacy", max_events=count),
        target_node=TARGET,
        switch_nodename=SWITCH,
        listen_ip="127.0.0.1",
        legacy_filter=LegacyFilter(send_all_headers=True),
        label="bench",
    )
    stream.bindings.add(["CHANNEL_CREATE"])
    result: list[int] = []
    async with trio.open_nursery() as nursery:
        _, port = await nursery.start(stream.run)
        var = await _start_receiver(receiver, port, recbuf, count)
        with trio.fail_after(10):
            while not stream.connected:
                await trio.sleep(0.001)  # polling the accept, bounded

        async def wait_receiver() -> None:
            micros = await receiver.eval(f"kt_stream_bench:await({var}).", timeout=120)
            result.append(int(micros))

        nursery.start_soon(wait_receiver)
        before = resource.getrusage(resource.RUSAGE_SELF)
        size = len(pool)
        for i in range(count):
            stream.offer(pool[i % size])
            if i & 63 == 63:
                # Give the sender its turn; hold back (without spinning, the receiver
                # needs the other core) while the socket cannot keep up.
                await trio.sleep(0)
                if stream.queued_events > 2048:
                    while stream.queued_events > 512:
                        await trio.sleep(0.001)
        with trio.fail_after(120):
            while not result:
                await trio.sleep(0.01)
        after = resource.getrusage(resource.RUSAGE_SELF)
        await stream.aclose()
        nursery.cancel_scope.cancel()
    dropped = stream.stats.events_dropped_overflow + stream.stats.events_dropped_too_large
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return (count - 1) / (result[0] / 1e6), dropped, cpu / count * 1e6


async def _run_beam(
    sender: ErlNode, receiver: ErlNode, payload: bytes, recbuf: int | None, count: int
) -> float:
    b64 = base64.b64encode(payload).decode()
    port = await sender.eval(f'kt_stream_bench:sender(base64:decode(<<"{b64}">>), {count}).')
    var = await _start_receiver(receiver, int(port), recbuf, count)
    micros = int(await receiver.eval(f"kt_stream_bench:await({var}).", timeout=120))
    return (count - 1) / (micros / 1e6)


async def _bench(count: int, repeat: int) -> list[dict[str, Any]]:
    payloads = _payloads()
    pool = [e90(seq) for seq in range(POOL)]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with erl_node() as receiver, erl_node() as sender:
            await _compile(receiver, tmp)
            await _compile(sender, tmp)
            for encoding in ("legacy", "verbose-json"):
                for recbuf in (None, RECBUF_64K):
                    ours: list[float] = []
                    beam: list[float] = []
                    cpu: list[float] = []
                    dropped = 0
                    for _ in range(repeat):
                        rate, lost, cost = await _run_ours(receiver, encoding, recbuf, count, pool)
                        ours.append(rate)
                        cpu.append(cost)
                        dropped += lost
                        beam.append(
                            await _run_beam(sender, receiver, payloads[encoding], recbuf, count)
                        )
                    ours_rate, beam_rate = statistics.median(ours), statistics.median(beam)
                    rows.append(
                        {
                            "event": "e90",
                            "encoding": encoding,
                            "payload_bytes": len(payloads[encoding]),
                            "recbuf": _buf(recbuf),
                            "ours_events_per_s": round(ours_rate),
                            "beam_events_per_s": round(beam_rate),
                            "ratio": round(ours_rate / beam_rate, 3),
                            "ours_cpu_us_per_event": round(statistics.median(cpu), 2),
                            "ours_runs": [round(r) for r in ours],
                            "beam_runs": [round(r) for r in beam],
                            "dropped": dropped,
                        }
                    )
    return rows


def _encode_costs() -> dict[str, float]:
    """Microseconds per event of the encoding paths, for reading the table."""
    pool = [e90(seq) for seq in range(POOL)]
    everything = LegacyFilter(send_all_headers=True)
    filtered = LegacyFilter()
    cases: dict[str, Callable[[Event], object]] = {
        "legacy, send-all-headers": lambda e: encode_legacy_event(e, TARGET, SWITCH, everything),
        "legacy, default filter": lambda e: encode_legacy_event(e, TARGET, SWITCH, filtered),
        "verbose JSON (prepare + verbose payload)": lambda e: encode_json_event(
            prepare(e, TARGET, SWITCH), "ALL", "json", verbose_encoder
        ),
        "verbose JSON the long way (prepare + verbose_event + encode)": lambda e: encode(
            (_EVENT, _JSON, verbose_event(prepare(e, TARGET, SWITCH)))
        ),
        "codec encode_event of the raw str pairs (no processing)": lambda e: encode_event(
            e.unique_id, e.headers
        ),
    }
    folder = profiles_dir()
    if (folder / "definitions").is_dir():
        kazoo = kazoo_profiles(folder).encoder()
        cases["Kazoo profiles JSON (prepare + profile payload)"] = lambda e: encode_json_event(
            prepare(e, TARGET, SWITCH), "CHANNEL_CREATE", "json", kazoo
        )
        cases["Kazoo profiles JSON the long way (prepare + term + encode)"] = lambda e: encode(
            (_EVENT, _JSON, kazoo(prepare(e, TARGET, SWITCH), "CHANNEL_CREATE", "json"))
        )
    costs: dict[str, float] = {}
    for name, fn in cases.items():

        def batch(fn: Callable[[Event], object] = fn) -> None:
            for event in pool:
                fn(event)

        # CPU time: steadier than the wall clock on a shared machine.
        costs[name] = round(best_time(batch, repeat=5, min_time=0.1).cpu / len(pool) * 1e6, 2)
    return costs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=30_000, help="frames per measurement")
    parser.add_argument("--repeat", type=int, default=3, help="runs per row (median kept)")
    args = parser.parse_args(argv)
    costs = _encode_costs()
    rows = trio.run(_bench, args.count, args.repeat)
    print_table(
        f"event stream to an erl receiver (binary_to_term per frame, {{packet, 4}}),"
        f" e90, {args.count:,} frames, median of {args.repeat}",
        [
            "encoding",
            "payload bytes",
            "recbuf",
            "ours ev/s",
            "BEAM ev/s",
            "ours/BEAM",
            "our CPU µs/ev",
        ],
        [
            [
                r["encoding"],
                r["payload_bytes"],
                r["recbuf"],
                r["ours_events_per_s"],
                r["beam_events_per_s"],
                r["ratio"],
                r["ours_cpu_us_per_event"],
            ]
            for r in rows
        ],
    )
    print_table(
        "per-event CPU cost of our encoding (µs, best of 5)",
        ["path", "µs/event"],
        [[name, cost] for name, cost in costs.items()],
    )
    legacy = [r for r in rows if r["encoding"] == "legacy"]
    verdict = {
        "target": "legacy e90 >= 60,000 events/s and >= 0.55x the BEAM sender",
        "met": [
            {
                "recbuf": r["recbuf"],
                "events_per_s": r["ours_events_per_s"] >= 60_000,
                "ratio": r["ratio"] >= 0.55,
            }
            for r in legacy
        ],
    }
    path = write_json(
        "stream",
        {
            "count": args.count,
            "repeat": args.repeat,
            "rows": rows,
            "encode_us_per_event": costs,
            "target": verdict,
        },
    )
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
