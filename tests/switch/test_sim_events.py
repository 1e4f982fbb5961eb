from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import trio

from kazoo_trio.switch.bus import selective
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import Switch
from kazoo_trio.switch.sim import SimSwitch
from tests.switch.simhelpers import BILLENNIUM_US, collect, make_switch, names

STANDARD = [
    "Event-Name",
    "Core-UUID",
    "FreeSWITCH-Hostname",
    "FreeSWITCH-Switchname",
    "FreeSWITCH-IPv4",
    "FreeSWITCH-IPv6",
    "Event-Date-Local",
    "Event-Date-GMT",
    "Event-Date-Timestamp",
    "Event-Calling-File",
    "Event-Calling-Function",
    "Event-Calling-Line-Number",
    "Event-Sequence",
]


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_sim_switch_is_a_switch() -> None:
    sw, _ = make_switch()
    assert isinstance(sw, Switch)
    typed: Switch = sw
    assert typed.identity.core_uuid == sw.get_global("core_uuid")


def test_standard_headers_names_order_and_values(utc: None) -> None:
    sw, _ = make_switch()
    event = sw.new_event("CHANNEL_CREATE", headers=[("Unique-ID", "u1")])
    assert names(event.headers) == [*STANDARD, "Unique-ID"]
    h = dict(event.headers)
    assert h["Event-Name"] == "CHANNEL_CREATE"
    assert h["Core-UUID"] == "0f0e0d0c-0b0a-4908-8706-050403020100"
    assert h["FreeSWITCH-Hostname"] == "fs1.example.com"
    assert h["FreeSWITCH-Switchname"] == "fs1"
    assert h["FreeSWITCH-IPv4"] == "10.1.2.3"
    assert h["FreeSWITCH-IPv6"] == "fd00::3"
    assert h["Event-Date-Local"] == "2001-09-09 01:46:40"
    assert h["Event-Date-GMT"] == "Sun, 09 Sep 2001 01:46:40 GMT"
    assert h["Event-Date-Timestamp"] == str(BILLENNIUM_US)
    assert h["Event-Calling-File"] == "test_sim_events.py"
    assert h["Event-Calling-Function"] == "test_standard_headers_names_order_and_values"
    assert int(h["Event-Calling-Line-Number"]) > 0
    assert event.name == "CHANNEL_CREATE"
    assert event.subclass is None


def test_custom_event_has_subclass_after_standard_headers() -> None:
    sw, _ = make_switch()
    event = sw.new_event("CUSTOM", subclass="kazoo::noop", headers=[("A", "1")], body="hello")
    assert names(event.headers) == [*STANDARD, "Event-Subclass", "A"]
    assert event.get("Event-Subclass") == "kazoo::noop"
    assert event.get("Event-Name") == "CUSTOM"
    assert event.subclass == "kazoo::noop"
    assert event.body == "hello"


def test_event_sequence_is_one_monotonic_counter() -> None:
    sw, _ = make_switch()
    seqs = [int(sw.new_event(n).get("Event-Sequence") or 0) for n in ("API", "CUSTOM", "DTMF")]
    assert seqs[0] < seqs[1] < seqs[2]
    assert seqs[1] == seqs[0] + 1 and seqs[2] == seqs[1] + 1


async def test_sequence_counts_events_made_by_commands() -> None:
    sw, _ = make_switch()
    events = collect(sw)
    before = int(sw.new_event("GENERAL").get("Event-Sequence") or 0)
    await sw.api("status", "")
    await sw.api("hostname", "")
    after = int(sw.new_event("GENERAL").get("Event-Sequence") or 0)
    fired = [int(e.get("Event-Sequence") or 0) for e in events]
    assert len(fired) == 2
    assert before < fired[0] < fired[1] < after


def test_name_lookup_and_errors() -> None:
    sw, _ = make_switch()
    assert sw.new_event("channel_answer").name == "CHANNEL_ANSWER"
    assert sw.new_event("SWITCH_EVENT_DTMF").get("Event-Name") == "DTMF"
    with pytest.raises(ValueError):
        sw.new_event("CHANNEL_SYNC")
    with pytest.raises(ValueError):
        sw.new_event("API", subclass="x::y")


def test_header_rules_follow_freeswitch() -> None:
    sw, _ = make_switch()
    event = sw.new_event(
        "GENERAL",
        headers=[("Empty", ""), ("Multi", "ARRAY::a|:b|:c"), ("X", "1"), ("X", "2")],
    )
    assert "Empty" not in event
    assert event.get_all("Multi") == ["a", "b", "c"]
    assert event.get_all("X") == ["1", "2"]
    unique = sw.new_event("REQUEST_PARAMS", headers=[("X", "1"), ("x", "2")])
    assert [v for k, v in unique.headers if k.lower() == "x"] == ["2"]
    with_body = sw.new_event("GENERAL", headers=[("_body", "text")])
    assert with_body.body == "text"


def test_empty_identity_values_are_not_headers() -> None:
    sw, _ = make_switch()
    sw.identity = sw.identity.__class__(
        hostname="h", switchname="h", ipv4="1.2.3.4", ipv6="", core_uuid="c"
    )
    assert "FreeSWITCH-IPv6" not in sw.new_event("GENERAL")


def test_listeners_add_remove_and_isolation() -> None:
    sw, _ = make_switch()
    first: list[Event] = []
    second: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("listener bug")

    remove_first = sw.add_listener(first.append)
    sw.add_listener(broken)
    remove_second = sw.add_listener(second.append)
    one = sw.new_event("CUSTOM", subclass="t::one")
    sw.fire(one)
    assert first == [one] and second == [one]
    remove_first()
    remove_first()  # idempotent
    two = sw.new_event("CUSTOM", subclass="t::two")
    sw.fire(two)
    assert first == [one]
    assert second == [one, two]
    remove_second()
    sw.fire(sw.new_event("GENERAL"))
    assert second == [one, two]


def test_listeners_changed_during_a_fire_take_effect_from_the_next_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sw, _ = make_switch()
    got: list[tuple[str, str]] = []
    removes: list[Callable[[], None]] = []

    def late(event: Event) -> None:
        got.append(("late", event.name))

    def first(event: Event) -> None:
        got.append(("first", event.name))
        if event.name == "GENERAL":
            removes[1]()  # the selective one below still gets this event
            sw.add_listener(late)  # and this one only the next ones

    def picky(event: Event) -> None:
        got.append(("picky", event.name))
        if event.name == "CUSTOM":
            raise RuntimeError("listener bug")

    removes.append(sw.add_listener(first))
    removes.append(sw.add_listener(selective(picky, lambda name, _: True)))
    removes.append(sw.add_listener(selective(picky, lambda name, _: name != "HEARTBEAT")))
    sw.fire(sw.new_event("CUSTOM", subclass="t::x"))
    assert "listener bug" in caplog.text
    sw.fire(sw.new_event("GENERAL"))
    sw.fire(sw.new_event("HEARTBEAT"))
    assert got == [
        ("first", "CUSTOM"),
        ("picky", "CUSTOM"),
        ("picky", "CUSTOM"),
        ("first", "GENERAL"),
        ("picky", "GENERAL"),
        ("picky", "GENERAL"),
        # Its predicate only decides which events are built: one that is fired reaches it.
        ("first", "HEARTBEAT"),
        ("picky", "HEARTBEAT"),
        ("late", "HEARTBEAT"),
    ]
    removes[1]()  # already gone: nothing else is removed
    removes[0]()
    sw.fire(sw.new_event("GENERAL"))
    assert got[9:] == [("picky", "GENERAL"), ("late", "GENERAL")]


def test_same_listener_twice_is_removed_once_per_handle() -> None:
    sw, _ = make_switch()
    got: list[Event] = []
    remove_a = sw.add_listener(got.append)
    sw.add_listener(got.append)
    remove_a()
    sw.fire(sw.new_event("GENERAL"))
    assert len(got) == 1


async def test_heartbeat_at_start_and_every_interval(autojump_clock: trio.abc.Clock) -> None:
    sw, clock = make_switch(heartbeat_interval=20.0)
    beats: list[Event] = []
    sw.add_listener(lambda e: beats.append(e) if e.name == "HEARTBEAT" else None)
    async with trio.open_nursery() as nursery:
        await nursery.start(sw.run)
        assert len(beats) == 1
        clock.mono += 61_000_000
        await trio.sleep(45)  # the behaviour under test: two intervals pass (autojump clock)
        assert len(beats) == 3
        nursery.cancel_scope.cancel()
    h = dict(beats[-1].headers)
    assert h["Event-Info"] == "System Ready"
    assert h["Up-Time"] == (
        "0 years, 0 days, 0 hours, 1 minute, 1 second, 0 milliseconds, 0 microseconds"
    )
    assert h["Uptime-msec"] == "61000"
    assert h["FreeSWITCH-Version"] == sw.identity.version_full
    assert h["Session-Count"] == "0"
    assert h["Max-Sessions"] == "1000"


def test_default_identity_is_discovered() -> None:
    one = SimSwitch()
    two = SimSwitch()
    assert one.identity.core_uuid != two.identity.core_uuid
    assert one.identity.hostname
    assert one.identity.switchname == one.identity.hostname
    parts = one.identity.ipv4.split(".")
    assert len(parts) == 4 and all(p.isdigit() for p in parts)
