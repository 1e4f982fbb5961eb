"""The quick paths of the switch's API commands give what the general paths give.

An API command that never waits is called directly instead of through its coroutine,
and its ``API`` event's headers are only put together when the event is built; the
``status`` uptime is formatted in one go; a channel reads the headers of a private
event in one pass.  Each is compared here with the general way, byte for byte.
"""

from __future__ import annotations

import attrs
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.switch.apis import ApiCommands
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.switch.sim.status import uptime_parts, uptime_text
from tests.switch.callhelpers import QUICK
from tests.switch.simhelpers import collect, make_switch
from tests.waiting import wait_until

# Commands registered to never wait, one failing, one raising, one unknown.
COMMANDS = st.sampled_from(
    ["status", "version", "uuid_exists", "echo", "eval", "hostname", "global_getvar",
     "module_exists", "kt_fail", "kt_raise", "no_such_command"]
)  # fmt: skip
ARGS = st.sampled_from(["", "0000", "plain text", "${hostname}", "mod_commands", "a\\tb"])


def _add_test_commands(sw: SimSwitch) -> None:
    def fail(args: str) -> ApiOutput:
        return ApiOutput(f"-ERR {args}", ok=False)

    def boom(args: str) -> ApiOutput:
        raise ValueError(args)

    sw.apis.register_sync("kt_fail", fail, syntax="", module="")
    sw.apis.register_sync("kt_raise", boom, syntax="", module="")


def _only_coroutines(apis: ApiCommands) -> None:
    """Every command run through its coroutine, as commands that may wait are."""
    # The registry's own table: the general path is what the quick one is compared with.
    entries = apis._entries
    for name, entry in list(entries.items()):
        entries[name] = attrs.evolve(entry, sync=None)


def _as_bytes(event: Event) -> tuple[object, ...]:
    return (event.name, event.subclass, tuple(event.headers), event.body)


@settings(max_examples=60, deadline=None)
@given(
    calls=st.lists(st.tuples(COMMANDS, ARGS, st.integers(0, 2_000_000)), min_size=1, max_size=8),
    listening=st.booleans(),
)
def test_direct_calls_equal_coroutine_calls(
    calls: list[tuple[str, str, int]], listening: bool
) -> None:
    quick, clock_a = make_switch()
    general, clock_b = make_switch()
    for sw in (quick, general):
        _add_test_commands(sw)
    _only_coroutines(general.apis)
    seen_a = collect(quick) if listening else []
    seen_b = collect(general) if listening else []

    async def run() -> None:
        for command, args, step_us in calls:
            a = await quick.api(command, args)
            b = await general.api(command, args)
            clock_a.wall += step_us
            clock_a.mono += step_us
            clock_b.wall += step_us
            clock_b.mono += step_us
            assert (a.ok, a.text, a.found) == (b.ok, b.text, b.found)
            assert _as_bytes(a.event) == _as_bytes(b.event)

    trio.run(run)
    assert [_as_bytes(e) for e in seen_a] == [_as_bytes(e) for e in seen_b]
    if listening:
        assert seen_a  # every call fires an API event: the comparison is not vacuous


def test_unknown_and_failing_commands_keep_their_api_event_headers() -> None:
    sw, _ = make_switch()
    _add_test_commands(sw)

    async def run() -> list[Event]:
        return [
            (await sw.api(command, "x")).event
            for command in ("no_such_command", "kt_fail", "kt_raise", "echo")
        ]

    unknown, failed, raised, echoed = trio.run(run)
    assert unknown.headers[-2:] == (("API-Result", "error"), ("API-Error", "invalid command"))
    assert failed.headers[-2:] == (("API-Result", "error"), ("API-Error", "-ERR x"))
    assert raised.headers[-2:] == (("API-Result", "error"), ("API-Error", "-ERR ValueError: x\n"))
    assert echoed.headers[-2:] == (("API-Result", "success"), ("API-Output", "x"))
    assert echoed.get("API-Command-Argument-Expanded") == "x"


def _uptime_text_by_units(us: int) -> str:
    """The uptime text spelled out unit by unit (the general form)."""
    units = ("year", "day", "hour", "minute", "second", "millisecond", "microsecond")
    return ", ".join(
        f"{n} {unit}{'' if n == 1 else 's'}"
        for n, unit in zip(uptime_parts(us), units, strict=True)
    )


@given(st.integers(0, 10**17) | st.sampled_from([0, 1, 1001, 1_001_001, 61_000_000]))
def test_uptime_text_equals_the_text_by_units(us: int) -> None:
    assert uptime_text(us) == _uptime_text_by_units(us)


@given(st.integers(0, 10**17), st.lists(st.integers(-120_000_000, 120_000_000), max_size=8))
def test_uptime_text_of_close_times_equals_the_text_by_units(us: int, steps: list[int]) -> None:
    # Times within the same minute, or across a minute's end, one after the other.
    for step in [0, *steps]:
        us = max(0, us + step)
        assert uptime_text(us) == _uptime_text_by_units(us)


def test_uptime_text_singular_units() -> None:
    one_each = ((((365 + 1) * 24 + 1) * 60 + 1) * 60 + 1) * 1_000_000 + 1_001
    assert uptime_text(one_each) == (
        "1 year, 1 day, 1 hour, 1 minute, 1 second, 1 millisecond, 1 microsecond"
    )


async def test_private_event_headers_are_read_case_insensitively_first_value_first() -> None:
    sw = SimSwitch(timings=QUICK)
    async with trio.open_nursery() as nursery:
        await nursery.start(sw.run)
        uuid = (await sw.api("originate", "null/1000 &park()")).text[4:].strip()
        await wait_until(lambda: sw.channels.get(uuid) is not None)
        event = sw.new_event(
            "SEND_MESSAGE",
            headers=[
                ("CALL-COMMAND", "Execute"),
                ("execute-app-name", "set"),
                ("Execute-App-Name", "hangup"),
                ("Execute-App-Arg", "kt_first=1"),
                ("execute-app-arg", "kt_second=1"),
                ("Loops", "2"),
            ],
        )
        assert await sw.queue_private_event(uuid, event)

        def variable(name: str) -> str | None:
            channel = sw.channels.get(uuid)
            return channel.get_variable(name) if channel is not None else None

        await wait_until(lambda: variable("kt_first") == "1")
        assert variable("kt_second") is None
        assert sw.channel_exists(uuid)  # set ran, not hangup
        await sw.api("uuid_kill", uuid)
        nursery.cancel_scope.cancel()
