"""Events a profile filter surely rejects are not built, and nobody bound sees a difference.

A switch that knows a few headers of an event before making it (the application of
``CHANNEL_EXECUTE_COMPLETE``) asks the streams; a stream whose profile filter rejects
every event holding those headers says no, and the event is not built (its sequence
number is still taken).  The streams must then queue exactly the bytes, sequence
numbers included, that they queue when every event is built and filtered afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.sax.saxutils import quoteattr

import attrs
import trio
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kazoo_trio.kazoo.config import Settings
from kazoo_trio.kazoo.profiles import ProfileSet
from kazoo_trio.kazoo.profiles.filters import compile_filters, compile_quick_check
from kazoo_trio.kazoo.profiles.spec import COMPARES, FilterSpec
from kazoo_trio.kazoo.profiles.view import HeaderView
from kazoo_trio.kazoo.requests.options import OptionsTable
from kazoo_trio.kazoo.streams.table import StreamTable
from kazoo_trio.switch.bus import EventBus, selective
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.headers import EventOrigin, known_values
from kazoo_trio.switch.identity import discover_identity
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.term import decode
from kazoo_trio.term.types import Atom, Pid
from tests.kazoo.profile_support import kazoo_conf_document, require_profiles
from tests.switch.callhelpers import QUICK
from tests.switch.simhelpers import FakeClock
from tests.waiting import wait_until

_ORIGIN = EventOrigin("switch_core_session.c", "switch_core_session_exec", 2950)
NODES = (Atom("plain@127.0.0.1"), Atom("legacy@127.0.0.1"))

# Names the switch knows ahead (the application's headers) and names only the rest
# of the event carries (the channel's): disjoint, as the switch guarantees.
KNOWN_NAMES = [
    "Application",
    "application",
    "Application-UUID",
    "Application-UUID-Name",
    "Application-Data",
    "Target-Node",
    "_body",
    "_json_Data",
    "X-Thing",
]
OTHER_NAMES = ["Unique-ID", "variable_Call-Control-Queue", "variable_x", "Caller-Username"]
VALUES = [
    "",
    "park",
    "Park",
    "set",
    "answer",
    "null",
    "p%61rk",
    "a%20b",
    "100%",
    "ARRAY::park|:set",
    "ARRAY::x",
]
FILTER_NAMES = [
    "Application",
    "APPLICATION",
    "Application-UUID-Name",
    "Application-Data",
    "variable_Call-Control-Queue",
    "Unique-ID",
    "Target-Node",
    "X-Thing",
    "_body",
    "_json_Data",
    "$${x}",
    "${Application}",
]
FILTER_VALUES = [None, "park", "set", "null", "park|set", "a b", "^p", "Application", "x"]
EVENT_NAMES = [
    ("CHANNEL_EXECUTE_COMPLETE", None),
    ("CHANNEL_EXECUTE", None),
    ("CHANNEL_ANSWER", None),
    ("CUSTOM", "kazoo::x"),
]
BINDINGS = ["CHANNEL_EXECUTE_COMPLETE", "CHANNEL_EXECUTE", "CHANNEL_ANSWER", "ALL", "kazoo::x"]


def filter_specs() -> st.SearchStrategy[list[FilterSpec]]:
    def spec(kind: str, compare: str, name: str, value: str | None) -> FilterSpec:
        checked = "exists" if value is None else compare
        return FilterSpec(kind, checked, name, value, "test")  # type: ignore[arg-type]

    return st.lists(
        st.builds(
            spec,
            st.sampled_from(["include", "exclude"]),
            st.sampled_from(COMPARES),
            st.sampled_from(FILTER_NAMES),
            st.sampled_from(FILTER_VALUES),
        ),
        max_size=5,
    )


def filters_xml(specs: list[FilterSpec]) -> str:
    parts = []
    for spec in specs:
        attributes = f"type={quoteattr(spec.type)} compare={quoteattr(spec.compare)}"
        attributes += f" name={quoteattr(spec.name or '')}"
        if spec.value is not None:
            attributes += f" value={quoteattr(spec.value)}"
        parts.append(f"<filter {attributes}/>")
    return f"<filters>{''.join(parts)}</filters>"


def no_globals(name: str) -> str | None:
    return None


def view_of(headers: list[tuple[str, str]], body: str | None = None) -> HeaderView:
    return HeaderView(
        tuple(headers), body, prefixes=("X-", "Application"), global_lookup=no_globals,
        encoding="json",
    )  # fmt: skip


# -- the filter check alone ------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    specs=filter_specs(),
    headers=st.lists(
        st.tuples(st.sampled_from(KNOWN_NAMES + OTHER_NAMES), st.sampled_from(VALUES[1:])),
        max_size=8,
    ),
    told=st.sets(st.sampled_from([n.lower() for n in KNOWN_NAMES + OTHER_NAMES])),
)
def test_quick_check_rejects_only_what_the_filters_reject(
    specs: list[FilterSpec], headers: list[tuple[str, str]], told: set[str]
) -> None:
    view = view_of(headers)
    counts: dict[str, int] = {}
    for name, _ in headers:
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
    # What a switch may say: a header's only value, or that there is none.
    known = {n: view.first.get(n) for n in told if counts.get(n, 0) <= 1}
    passes = compile_filters(specs)
    quick = compile_quick_check(specs)
    full = passes is None or passes(view)
    if quick is not None and not quick(known):
        assert not full
    decidable = all(
        s.compare != "prefix"
        and s.name is not None
        and not s.name.startswith("$")
        and s.name.lower() != "_body"
        and s.name.lower() in known
        and (s.compare != "field" or (s.value or "").lower() in known)
        for s in specs
    )
    if decidable and specs:
        # Every filter decided: the quick answer is the whole answer.
        assert quick is not None and quick(known) == full


def test_kazoo_execute_complete_filter_decides_dialplan_applications() -> None:
    profiles = ProfileSet.from_xml(kazoo_conf_document(require_profiles()))
    dialplan = known_values(
        [("Application", "log"), ("Application-UUID", "u-1"), ("Application-UUID-Name", "")]
    )
    controlled = known_values(
        [("Application", "playback"), ("Application-UUID", "u-2"), ("Application-UUID-Name", "n")]
    )
    lowered = {k.lower(): v for k, v in dialplan.items()}
    assert not profiles.may_pass("CHANNEL_EXECUTE_COMPLETE", lowered)
    assert profiles.may_pass(
        "CHANNEL_EXECUTE_COMPLETE", {k.lower(): v for k, v in controlled.items()}
    )
    # Events without a filter, or without a definition, may always pass.
    assert profiles.may_pass("CHANNEL_ANSWER", lowered)
    assert profiles.may_pass("NO_SUCH_EVENT", lowered)


# -- streams behind a bus --------------------------------------------------------------


PARK_ONLY = FilterSpec("include", "value", "Application", "park", "test")

FiredEvent = tuple[tuple[str, str | None], list[tuple[str, str]], list[tuple[str, str]], int]


def fired_events() -> st.SearchStrategy[list[FiredEvent]]:
    pairs = st.lists(st.tuples(st.sampled_from(KNOWN_NAMES), st.sampled_from(VALUES)), max_size=5)
    others = st.lists(st.tuples(st.sampled_from(OTHER_NAMES), st.sampled_from(VALUES)), max_size=4)
    return st.lists(
        st.tuples(st.sampled_from(EVENT_NAMES), others, pairs, st.integers(0, 2_000_000)),
        max_size=10,
    )


def profile_set(event_filters: dict[str, list[FilterSpec]], common: list[FilterSpec]) -> ProfileSet:
    events = [
        f"<event name={quoteattr(n)}>{filters_xml(f)}</event>" for n, f in event_filters.items()
    ]
    return ProfileSet.from_parts(
        [], events, [], f'<profile name="default">{filters_xml(common)}</profile>'
    )


IDENTITY = discover_identity(
    hostname="fs1.example.com", switchname="fs1", ipv4="10.1.2.3", ipv6="fd00::3",
    core_uuid="0f0e0d0c-0b0a-4908-8706-050403020100",
)  # fmt: skip


async def _delivered(
    profiles: ProfileSet,
    streams: list[tuple[int, list[str]]],
    events: list[FiredEvent],
    *,
    quick: bool,
) -> tuple[list[list[bytes]], int]:
    """The frames each stream queued, and how many events were built."""
    options = OptionsTable(Settings())
    options.connected(NODES[1]).legacy = True
    table = StreamTable(options, "fs@127.0.0.1", listen_ip="127.0.0.1")
    table.set_json_encoder(profiles.encoder())
    pids = []
    for number, (node, names) in enumerate(streams, 1):
        pid = Pid(NODES[node], number, 0, 1)
        await table.subscribe(pid, NODES[node], names, "127.0.0.1")
        pids.append(pid)
    clock = FakeClock()
    bus = EventBus(IDENTITY, clock)
    bus.add_listener(selective(table.offer, table.wants, wants_headers=table.wants_headers))
    built = 0
    for (name, subclass), others, extra, step in events:
        clock.wall += step
        # As a channel fires its events: its own headers, then the extra ones.
        known = known_values(extra) if quick else None
        if bus.wanted(name, subclass, known):
            reserved = bus.reserve(name, subclass=subclass, origin=_ORIGIN)
            bus.fire(bus.build(reserved, [*others, *extra]))
            built += 1
        else:
            bus.skip()
    frames = []
    for pid in pids:
        stream = table.get(pid)
        assert stream is not None
        frames.append([stream._queue.take_batch(1)[0][0] for _ in range(stream.queued_events)])
        stream.discard()
    return frames, built


@settings(max_examples=150, deadline=None)
@given(
    event_filters=st.dictionaries(
        st.sampled_from(["CHANNEL_EXECUTE_COMPLETE", "CHANNEL_EXECUTE", "kazoo::x"]),
        filter_specs(),
    ),
    common=filter_specs(),
    streams=st.lists(
        st.tuples(st.integers(0, 1), st.lists(st.sampled_from(BINDINGS), min_size=1, max_size=3)),
        max_size=3,
    ),
    events=fired_events(),
)
@example(
    # The filter reads values decoded: "p%61rk" is "park" there.
    event_filters={"CHANNEL_EXECUTE_COMPLETE": [PARK_ONLY]},
    common=[],
    streams=[(0, ["CHANNEL_EXECUTE_COMPLETE"])],
    events=[(("CHANNEL_EXECUTE_COMPLETE", None), [], [("Application", "p%61rk")], 0)],
)
@example(
    # "ARRAY::park" adds one header, "park".
    event_filters={"CHANNEL_EXECUTE_COMPLETE": [PARK_ONLY]},
    common=[],
    streams=[(0, ["CHANNEL_EXECUTE_COMPLETE"])],
    events=[(("CHANNEL_EXECUTE_COMPLETE", None), [], [("Application", "ARRAY::park")], 0)],
)
@example(
    # A legacy stream takes no profile filter: it gets "set" all the same.
    event_filters={"CHANNEL_EXECUTE_COMPLETE": [PARK_ONLY]},
    common=[],
    streams=[(1, ["CHANNEL_EXECUTE_COMPLETE"])],
    events=[(("CHANNEL_EXECUTE_COMPLETE", None), [], [("Application", "set")], 0)],
)
def test_streams_queue_the_same_frames_with_the_quick_check(
    event_filters: dict[str, list[FilterSpec]],
    common: list[FilterSpec],
    streams: list[tuple[int, list[str]]],
    events: list[FiredEvent],
) -> None:
    profiles = profile_set(event_filters, common)

    async def run() -> None:
        every, built_every = await _delivered(profiles, streams, events, quick=False)
        checked, built_checked = await _delivered(profiles, streams, events, quick=True)
        assert checked == every
        assert built_checked <= built_every

    trio.run(run)


async def test_rejected_events_are_not_built_and_keep_their_numbers() -> None:
    profiles = profile_set(
        {"CHANNEL_EXECUTE_COMPLETE": [FilterSpec("exclude", "value", "Application", "park", "t")]},
        [],
    )
    park: FiredEvent = (("CHANNEL_EXECUTE_COMPLETE", None), [], [("Application", "park")], 0)
    answer: FiredEvent = (("CHANNEL_EXECUTE_COMPLETE", None), [], [("Application", "answer")], 0)
    events = [park, answer, park, answer]
    bound = [(0, ["CHANNEL_EXECUTE_COMPLETE"])]
    every, built_every = await _delivered(profiles, bound, events, quick=False)
    checked, built_checked = await _delivered(profiles, bound, events, quick=True)
    assert (built_every, built_checked) == (4, 2)
    assert checked == every
    sequences = [dict(decode(frame)[2][0])[b"Event-Sequence"] for frame in checked[0]]
    assert sequences == [b"2", b"4"]
    # A stream bound to ALL has no definition to filter by: everything is built.
    _, built_all = await _delivered(profiles, [(0, ["ALL"])], events, quick=True)
    assert built_all == 4


# -- the simulated switch's hints ------------------------------------------------------


@attrs.define
class _HintSpy:
    """A listener that takes every event and checks it against the hint it was told."""

    hint: tuple[str, str | None, dict[str, str | None]] | None = None
    checked: int = 0
    events: list[Event] = attrs.Factory(list)

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        hint, self.hint = self.hint, None
        if hint is None:
            return
        name, subclass, known = hint
        assert (event.name, event.subclass) == (name, subclass)
        for header, value in known.items():
            values = [v for k, v in event.headers if k.lower() == header.lower()]
            assert values == ([] if value is None else [value]), (header, event.headers)
        self.checked += 1

    def wants(self, name: str, subclass: str | None) -> bool:
        return True

    def wants_headers(
        self, name: str, subclass: str | None, known: Mapping[str, str | None]
    ) -> bool:
        self.hint = (name, subclass, dict(known))
        return True


TRICKY = ["", "plain", "ARRAY::a|:b", "x%41y", "with space"]


async def test_simulated_switch_hints_match_the_events_it_builds() -> None:
    sw = SimSwitch(timings=QUICK)
    spy = _HintSpy()
    sw.add_listener(spy)
    async with trio.open_nursery() as nursery:
        await nursery.start(sw.run)
        dialplan = "log:INFO_x%41,log:ARRAY::x|:y,set:a=ARRAY::1|:2,export:b=,answer,park"
        uuid = (await sw.api("originate", f"null/1000 {dialplan} inline")).text[4:].strip()
        await wait_until(lambda: sw.channels.get(uuid) is not None)
        for number, tricky in enumerate(TRICKY):
            headers = [
                ("call-command", "execute"),
                ("execute-app-name", "set"),
                ("execute-app-arg", f"v{number}={tricky}"),
                ("event-uuid", tricky or f"u{number}"),
                ("event-uuid-name", tricky),
            ]
            event = sw.new_event("SEND_MESSAGE", headers=headers)
            assert await sw.queue_private_event(uuid, event)
        # Five applications and park's start, then each queued one.
        await wait_until(lambda: spy.checked >= 2 * (5 + len(TRICKY)) + 1)
        assert (await sw.api("uuid_kill", uuid)).text == "+OK\n"
        await wait_until(lambda: sw.channels.get(uuid) is None)
        nursery.cancel_scope.cancel()
    executed = [e for e in spy.events if e.name.startswith("CHANNEL_EXECUTE")]
    # Every application's events were hinted (the ones above and the switch's own).
    assert spy.checked == len(executed) >= 2 * (6 + len(TRICKY))
