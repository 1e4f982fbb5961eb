"""Listeners naming the events they want: what a switch subscribing to events by name
asks for (``EventBus.wanted_names``)."""

from __future__ import annotations

from kazoo_trio.switch.bus import EVERY_EVENT, EventBus, EventNames, selective
from kazoo_trio.switch.clock import SystemClock
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.identity import discover_identity


def new_bus() -> EventBus:
    return EventBus(discover_identity(), SystemClock())


def ignore(event: Event) -> None:
    pass


def test_nobody_listening_names_nothing() -> None:
    assert new_bus().wanted_names() == EventNames()


def test_listeners_that_cannot_name_what_they_want_want_everything() -> None:
    bus = new_bus()
    remove = bus.add_listener(ignore)
    assert bus.wanted_names() == EVERY_EVENT
    remove()
    # Selective, but without names: every event too.
    remove = bus.add_listener(selective(ignore, lambda name, subclass: name == "API"))
    assert bus.wanted_names().every
    remove()
    assert bus.wanted_names() == EventNames()


def test_the_names_of_every_listener_are_united_and_follow_them_live() -> None:
    bus = new_bus()
    first = {"CHANNEL_ANSWER"}
    second: set[str] = set()

    def names_of(core: set[str], subclasses: frozenset[str] = frozenset()) -> EventNames:
        return EventNames(frozenset(core), subclasses)

    bus.add_listener(selective(ignore, lambda n, s: n in first, names=lambda: names_of(first)))
    remove = bus.add_listener(
        selective(
            ignore,
            lambda n, s: n in second or s == "kt::x",
            names=lambda: names_of(second, frozenset({"kt::x"})),
        )
    )
    assert bus.wanted_names() == names_of({"CHANNEL_ANSWER"}, frozenset({"kt::x"}))
    first.add("CHANNEL_DESTROY")
    second.add("API")
    assert bus.wanted_names() == names_of(
        {"CHANNEL_ANSWER", "CHANNEL_DESTROY", "API"}, frozenset({"kt::x"})
    )
    remove()
    assert bus.wanted_names() == names_of({"CHANNEL_ANSWER", "CHANNEL_DESTROY"})
    remove = bus.add_listener(ignore)
    assert bus.wanted_names() == EVERY_EVENT
    remove()
    assert not bus.wanted_names().every


def test_names_with_headers_predicates_too() -> None:
    bus = new_bus()
    bus.add_listener(
        selective(
            ignore,
            lambda n, s: n == "CHANNEL_DESTROY",
            wants_headers=lambda n, s, known: n == "CHANNEL_DESTROY",
            names=lambda: EventNames(frozenset({"CHANNEL_DESTROY"})),
        )
    )
    assert bus.wanted_names() == EventNames(frozenset({"CHANNEL_DESTROY"}))
    assert bus.wanted("CHANNEL_DESTROY") and not bus.wanted("CHANNEL_CREATE")
