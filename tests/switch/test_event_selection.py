"""Events nobody wants are not built, and that changes nothing for those bound to events.

A switch whose only listener wants a few event names must deliver exactly the events
(byte for byte: sequence numbers, dates, headers, body) that a switch with a listener
taking everything delivers under those names, and give every caller the same ``API``
event in :class:`~kazoo_trio.switch.protocol.ApiResult`, whatever the calls and the
clock do in between.
"""

from __future__ import annotations

import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.switch.bus import selective
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.sim import SimSwitch
from tests.switch.callhelpers import QUICK
from tests.switch.simhelpers import collect, make_switch
from tests.waiting import wait_until

# (command, argument): waiting-free commands, unknown ones, expansions with events
# of their own (``${eval(...)}`` fires an API event inside the expansion).
CALLS = st.sampled_from(
    [
        ("status", ""),
        ("version", ""),
        ("uuid_exists", "0000"),
        ("echo", "plain text"),
        ("echo", "${Event-Name} ${Event-Sequence} ${Event-Date-GMT}"),
        ("echo", "x ${echo(nested ${Event-Name})} y"),
        ("echo", "tab\\t and \\$ escaped"),
        ("eval", "${hostname()}"),
        ("hostname", ""),
        ("no_such_command", "arg"),
        ("no_such_command", "${Event-Sequence}"),
        ("global_getvar", ""),
    ]
)
_ORIGIN = EventOrigin("test.c", "test", 1)
NAMES = st.sets(st.sampled_from(["API", "GENERAL", "CHANNEL_CREATE", "CUSTOM", "HEARTBEAT"]))


def _as_bytes(event: Event) -> tuple[object, ...]:
    return (event.name, event.subclass, tuple(event.headers), event.body)


@settings(max_examples=60, deadline=None)
@given(
    calls=st.lists(st.tuples(CALLS, st.integers(0, 3_000_000), st.booleans()), max_size=12),
    wanted=NAMES,
)
def test_selected_events_are_identical(
    calls: list[tuple[tuple[str, str], int, bool]], wanted: set[str]
) -> None:
    everything, clock_a = make_switch()
    seen_a = collect(everything)
    chosen, clock_b = make_switch()
    seen_b: list[Event] = []
    chosen.add_listener(selective(seen_b.append, lambda name, _: name in wanted))

    async def run() -> None:
        for (command, args), step_us, expand in calls:
            result_a = await everything.api(command, args, expand=expand)
            result_b = await chosen.api(command, args, expand=expand)
            # The lazily built event must carry the time of the call, not of its reading.
            clock_a.wall += step_us
            clock_b.wall += step_us
            assert (result_a.ok, result_a.text, result_a.found) == (
                result_b.ok,
                result_b.text,
                result_b.found,
            )
            assert _as_bytes(result_a.event) == _as_bytes(result_b.event)

    trio.run(run)
    expected = [_as_bytes(e) for e in seen_a if e.name in wanted]
    assert [_as_bytes(e) for e in seen_b] == expected
    if "API" in wanted and calls:
        assert expected  # the comparison above is not vacuous


def test_unwanted_api_event_is_not_fired_but_still_numbered() -> None:
    sw, _ = make_switch()
    seen: list[Event] = []
    sw.add_listener(selective(seen.append, lambda name, _: name == "HEARTBEAT"))

    async def run() -> None:
        result = await sw.api("status", "")
        assert result.ok
        assert seen == []
        sw.fire(sw.new_event("HEARTBEAT", origin=_ORIGIN))

    trio.run(run)
    # GENERAL (expansion) and API took 1 and 2: the heartbeat is the third event made.
    assert [e.get("Event-Sequence") for e in seen] == ["3"]


def test_unselective_listener_still_gets_every_event() -> None:
    sw, _ = make_switch()
    seen = collect(sw)

    async def run() -> None:
        await sw.api("status", "")

    trio.run(run)
    assert [e.name for e in seen] == ["API"]
    assert seen[0].get("Event-Sequence") == "2"


async def _call_events(wanted: set[str] | None) -> list[Event]:
    """The events of one parked ``null/`` call, killed: all of them (``wanted`` None)
    or only those a selective listener takes."""
    sw = SimSwitch(timings=QUICK)
    seen: list[Event] = []
    if wanted is None:
        sw.add_listener(seen.append)
    else:
        sw.add_listener(selective(seen.append, lambda name, _: name in wanted))
    async with trio.open_nursery() as nursery:
        await nursery.start(sw.run)
        uuid = (await sw.api("originate", "null/1000 &park()")).text[4:].strip()
        await wait_until(lambda: sw.channels.get(uuid) is not None)
        assert (await sw.api("uuid_kill", uuid)).text == "+OK\n"
        await wait_until(lambda: sw.channels.get(uuid) is None)
        nursery.cancel_scope.cancel()
    return seen


def _shape(event: Event) -> tuple[object, ...]:
    """What two runs of the same call share: names, sequence, header names (uuids and
    times differ from run to run)."""
    return (event.name, event.get("Event-Sequence"), tuple(k for k, _ in event.headers))


async def test_channel_events_not_wanted_are_skipped_without_renumbering() -> None:
    everything = await _call_events(None)
    wanted = ("CHANNEL_ANSWER", "CHANNEL_DESTROY")
    chosen = await _call_events(set(wanted))
    # Events built anyway (fired directly, such as HEARTBEAT) still reach the listener.
    expected = [_shape(e) for e in everything if e.name in wanted]
    assert [_shape(e) for e in chosen if e.name in wanted] == expected
    assert len(expected) == 2
