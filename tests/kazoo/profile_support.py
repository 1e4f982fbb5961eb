"""Shared helpers for the profile engine tests: Kazoo's profile files, events, term checks."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pytest

from kazoo_trio.kazoo.profiles import ProfileSet
from kazoo_trio.switch.event import Event
from kazoo_trio.term import Atom

REPO = Path(__file__).resolve().parents[2]


def profiles_dir() -> Path:
    """Kazoo's profile XML: ``$KAZOO_PROFILES_DIR`` or ``../shared/kazoo-profiles``."""
    env = os.environ.get("KAZOO_PROFILES_DIR")
    return Path(env) if env else REPO.parent / "shared" / "kazoo-profiles"


def require_profiles() -> Path:
    folder = profiles_dir()
    if not (folder / "definitions").is_dir():
        pytest.skip(f"Kazoo's profile XML not found at {folder} (set KAZOO_PROFILES_DIR)")
    return folder


def texts(folder: Path, sub: str) -> list[str]:
    return [path.read_text() for path in sorted((folder / sub).glob("*.xml"))]


def kazoo_profiles(folder: Path) -> ProfileSet:
    return ProfileSet.from_parts(
        texts(folder, "definitions"),
        texts(folder, "events"),
        texts(folder, "fetch"),
        (folder / "event_profiles" / "default.xml").read_text(),
        global_lookup={"UNIX_EPOCH_IN_GREGORIAN": "62167219200"}.get,
    )


def kazoo_conf_document(folder: Path) -> str:
    """The kazoo.conf reply ecallmgr builds from the same files."""

    def strip(text: str) -> str:
        return text.split("?>", 1)[1] if text.lstrip().startswith("<?xml") else text

    definitions = "".join(strip(t) for t in texts(folder, "definitions"))
    events = "".join(strip(t) for t in texts(folder, "events"))
    fetch = "".join(strip(t) for t in texts(folder, "fetch"))
    return (
        '<document type="freeswitch/xml"><section name="configuration">'
        '<configuration name="kazoo.conf" description="Built by Kazoo">'
        f"<definitions>{definitions}</definitions>"
        f'<event-handlers><profile name="default"><events>{events}</events></profile>'
        "</event-handlers>"
        f"<fetch-handlers>{fetch}</fetch-handlers>"
        "</configuration></section></document>"
    )


STAMP = 1_700_000_000_123_456
GREGORIAN = -(-STAMP // 1_000_000) + 62_167_219_200  # ceil(stamp / 1e6) + offset


def channel_create(
    unique_id: str = "6f0b3c1a-9d2e-4c7b-8a51-3e9f2d4c1b70",
    stamp: int = STAMP,
    extra: Iterable[tuple[str, str]] = (),
) -> Event:
    """A CHANNEL_CREATE with the headers FreeSWITCH and mod_kazoo put on one."""
    headers = [
        ("Event-Name", "CHANNEL_CREATE"),
        ("Core-UUID", "0c3a5e2e-8b71-4b0e-a0f5-6d2f1c9a7b31"),
        ("FreeSWITCH-Hostname", "fs1.example.com"),
        ("FreeSWITCH-Switchname", "fs1.example.com"),
        ("FreeSWITCH-IPv4", "10.1.2.3"),
        ("Event-Date-Local", "2023-11-14 22:13:20"),
        ("Event-Date-Timestamp", str(stamp)),
        ("Event-Calling-File", "switch_core_state_machine.c"),
        ("Event-Sequence", "5123"),
        ("Channel-State", "CS_INIT"),
        ("Channel-Call-State", "DOWN"),
        ("Channel-Name", "sofia/sipinterface_1/1000@example.com"),
        ("Unique-ID", unique_id),
        ("Call-Direction", "inbound"),
        ("Answer-State", "ringing"),
        ("Caller-Caller-ID-Name", "Alice Example"),
        ("Caller-Caller-ID-Number", "1000"),
        ("Caller-Destination-Number", "+14155550100"),
        ("Caller-Unique-ID", unique_id),
        ("Caller-Context", "context_2"),
        ("Caller-Channel-Created-Time", str(stamp - 20_000)),
        ("variable_sip_from_uri", "1000@example.com"),
        ("variable_sip_to_uri", "+14155550100@example.com"),
        ("variable_sip_req_uri", "+14155550100@example.com"),
        ("variable_sip_from_tag", "ftag1"),
        ("variable_sip_user_agent", "Yealink SIP-T46S"),
        ("variable_sip_invite_domain", "example.com"),
        ("variable_presence_id", "1000@example.com"),
        ("variable_ecallmgr_Account-ID", "4fe69f4fa7ad4a3c85a1b1f4c3a4f2e1"),
        ("variable_ecallmgr_Realm", "example.com"),
        ("variable_ecallmgr_Authorizing-Type", "device"),
        ("variable_sip_h_X-ecallmgr_Owner-ID", "owner-7"),
        ("variable_cav_Flow-ID", "flow-1"),
        ("Switch-Nodename", "freeswitch@fs1.example.com"),
        ("Target-Node", "ecallmgr@kazoo1.example.com"),
        *extra,
    ]
    return Event("CHANNEL_CREATE", headers)


def dialplan_lookup(extra: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """The parameter headers of a dialplan lookup after mod_kazoo added its own."""
    return [
        ("Event-Name", "REQUEST_PARAMS"),
        ("Core-UUID", "0c3a5e2e-8b71-4b0e-a0f5-6d2f1c9a7b31"),
        ("FreeSWITCH-Hostname", "fs1.example.com"),
        ("Event-Date-Timestamp", str(STAMP)),
        ("Unique-ID", "6f0b3c1a-9d2e-4c7b-8a51-3e9f2d4c1b70"),
        ("Call-Direction", "inbound"),
        ("Caller-Caller-ID-Name", "Alice Example"),
        ("Caller-Caller-ID-Number", "1000"),
        ("Caller-Destination-Number", "+14155550100"),
        ("Hunt-Context", "context_2"),
        ("Hunt-Destination-Number", "+14155550100"),
        ("Hunt-Caller-ID-Number", "1000"),
        ("variable_sip_invite_domain", "example.com"),
        ("variable_sip_from_user", "1000"),
        ("variable_sip_received_ip", "192.0.2.10"),
        ("variable_sip_received_port", "5060"),
        ("variable_ecallmgr_Account-ID", "4fe69f4fa7ad4a3c85a1b1f4c3a4f2e1"),
        ("Switch-Nodename", "freeswitch@fs1.example.com"),
        ("Fetch-UUID", "11111111-2222-3333-4444-555555555555"),
        ("Fetch-Section", "dialplan"),
        ("Fetch-Tag", "context"),
        ("Fetch-Key-Name", "name"),
        ("Fetch-Key-Value", "context_2"),
        ("Fetch-Timeout", "3500000"),
        ("Fetch-Timestamp-Micro", str(STAMP + 5)),
        ("Kazoo-Version", "mod_kazoo v1.5.0-1 community"),
        ("Kazoo-Bundle", "community"),
        ("Kazoo-Release", "v1.5.0-1"),
        *extra,
    ]


def obj(term: object) -> dict[bytes, object]:
    """A ``{[{K, V}]}`` object term as a dict (asserting its shape and unique keys)."""
    assert isinstance(term, tuple) and len(term) == 1 and isinstance(term[0], list), term
    pairs = term[0]
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicate keys: {keys}"
    return dict(pairs)


def duplicate_keys(term: object) -> list[bytes]:
    """Every key that repeats inside any object of ``term`` (json or map form)."""
    found: list[bytes] = []
    if isinstance(term, tuple) and len(term) == 1 and isinstance(term[0], list):
        pairs = term[0]
        if all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
            keys = [key for key, _ in pairs]
            found.extend(key for key in set(keys) if keys.count(key) > 1)
            for _, value in pairs:
                found.extend(duplicate_keys(value))
            return found
    if isinstance(term, list):
        for item in term:
            found.extend(duplicate_keys(item))
    if isinstance(term, dict):
        for value in term.values():
            found.extend(duplicate_keys(value))
    return found


NULL = Atom("null")
