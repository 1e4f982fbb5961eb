"""Encode a FreeSWITCH-like event the way kazoo_trio streams it to Kazoo, and read it back.

Run with only the package installed::

    python examples/codec_demo.py

When ``erl`` is on PATH, Erlang itself decodes the bytes with
``binary_to_term`` and prints the term, showing that what Python wrote is
what ecallmgr would receive.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid

from kazoo_trio.kazoo.streams.encoding import LegacyFilter, encode_legacy_event
from kazoo_trio.switch.event import Event
from kazoo_trio.term import Atom, decode, encode


def main() -> None:
    unique_id = str(uuid.uuid4())
    headers = [
        ("Event-Name", "CHANNEL_CREATE"),
        ("Core-UUID", str(uuid.uuid4())),
        ("FreeSWITCH-Hostname", "fs1.example.net"),
        ("Unique-ID", unique_id),
        ("Call-Direction", "inbound"),
        ("Caller-Caller-ID-Name", "Réception"),  # str values are sent as UTF-8 binaries
        ("Caller-Caller-ID-Number", "1000"),
        ("Caller-Destination-Number", "+14155550123"),
        ("variable_sip_from_host", "sip.example.net"),
    ]

    # The legacy form of a stream keeping every header; the stream adds the two
    # node headers (whose process the stream is for, and this switch).
    target, switch = "ecallmgr@kazoo1", "freeswitch@fs1"
    keep_all = LegacyFilter(send_all_headers=True)
    data = encode_legacy_event(Event("CHANNEL_CREATE", headers), target, switch, keep_all)
    print(f"encode_legacy_event: {len(headers)} headers -> {len(data)} bytes of term format")
    print(f"  first bytes: {data[:24].hex(' ')} ...")

    # The fast path writes exactly what the general encoder writes for the same value.
    nodes = [("Target-Node", target), ("Switch-Nodename", switch)]
    general = encode((Atom("event"), [unique_id, *headers, *nodes]))
    print(f"  identical to the general encode(): {general == data}")

    tag, (uid, *pairs) = decode(data)
    print(f"decode: {{{tag}, [UniqueId | Headers]}} with {len(pairs)} header pairs")
    print(f"  UniqueId = {uid!r}")
    for name, value in pairs[:3]:
        print(f"  {name.decode()}: {value.decode()}")
    print("  ...")

    erl = shutil.which("erl")
    if erl is None:
        print("erl is not on PATH; skipping the Erlang check")
        return
    code = (
        "io:setopts([{encoding, unicode}]), "
        f'T = binary_to_term(base64:decode("{base64.b64encode(data).decode()}")), '
        'io:format("erl binary_to_term: ~tp~n", [T]), halt().'
    )
    done = subprocess.run(
        [erl, "-noshell", "-eval", code], capture_output=True, timeout=60, check=False
    )
    out = done.stdout.decode("utf-8", "replace").strip()
    print(out or f"erl failed: {done.stderr.decode('utf-8', 'replace').strip()}")


if __name__ == "__main__":
    main()
