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

from kazoo_trio.term import Atom, decode, encode, encode_event


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

    data = encode_event(unique_id, headers)
    print(f"encode_event: {len(headers)} headers -> {len(data)} bytes of external term format")
    print(f"  first bytes: {data[:24].hex(' ')} ...")

    # The fast path writes exactly what the general encoder writes for the same value.
    general = encode((Atom("event"), [unique_id, *headers]))
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
