"""Binding sets: the ``event`` / ``nixevent`` / ``noevents`` rules and event matching."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kazoo_trio.kazoo.streams.bindings import BadArg, Bindings
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.names import CORE_EVENT_NAMES


def core(name: str) -> Event:
    return Event(name, [("Event-Name", name)])


def custom(subclass: str) -> Event:
    return Event("CUSTOM", [("Event-Name", "CUSTOM"), ("Event-Subclass", subclass)], None, subclass)


def bound(*names: str) -> Bindings:
    b = Bindings()
    b.add(list(names))
    return b


def test_empty_set_matches_nothing() -> None:
    b = Bindings()
    assert not b
    assert b.match(core("CHANNEL_CREATE")) is None
    assert b.match(custom("KZ_CDR")) is None


def test_core_names_are_case_insensitive_with_optional_prefix() -> None:
    b = bound("channel_create", "SWITCH_EVENT_CHANNEL_ANSWER", "Dtmf")
    assert b.names() == ["CHANNEL_ANSWER", "CHANNEL_CREATE", "DTMF"]
    assert b.match(core("CHANNEL_CREATE")) == "CHANNEL_CREATE"
    assert b.match(core("CHANNEL_ANSWER")) == "CHANNEL_ANSWER"
    assert b.match(core("DTMF")) == "DTMF"
    assert b.match(core("CHANNEL_DESTROY")) is None


def test_custom_alone_is_a_no_op_in_any_case() -> None:
    b = bound("CUSTOM", "custom", "SWITCH_EVENT_CUSTOM")
    assert not b
    assert b.match(custom("sofia::register")) is None


def test_other_names_are_subclasses_with_case_preserved() -> None:
    b = bound("sofia::transferor", "KZ_CDR", "CHANNEL_SYNC", "conference::maintenance")
    assert b.names() == ["sofia::transferor", "KZ_CDR", "CHANNEL_SYNC", "conference::maintenance"]
    assert b.match(custom("sofia::transferor")) == "sofia::transferor"
    assert b.match(custom("KZ_CDR")) == "KZ_CDR"
    # Delivery compares subclasses exactly, as FreeSWITCH does.
    assert b.match(custom("kz_cdr")) is None
    assert b.match(custom("sofia::transferor_extra")) is None
    assert b.match(custom("sofia::")) is None


def test_a_subclass_binding_does_not_match_a_core_event_of_that_name() -> None:
    b = bound("KZ_CDR")
    assert b.match(Event("KZ_CDR")) is None
    assert b.match(custom("KZ_CDR")) == "KZ_CDR"


def test_duplicates_are_ignored_case_insensitively_keeping_the_first_spelling() -> None:
    b = bound("KZ_CDR", "kz_cdr", "Kz_Cdr", "CHANNEL_CREATE", "channel_create")
    assert b.names() == ["CHANNEL_CREATE", "KZ_CDR"]
    assert b.match(custom("KZ_CDR")) == "KZ_CDR"
    assert b.match(custom("kz_cdr")) is None


def test_all_matches_every_event_but_specific_bindings_win() -> None:
    b = bound("ALL")
    assert b.match(core("CHANNEL_CREATE")) == "ALL"
    assert b.match(custom("anything::at_all")) == "ALL"
    b.add(["CHANNEL_CREATE", "KZ_CDR"])
    assert b.match(core("CHANNEL_CREATE")) == "CHANNEL_CREATE"
    assert b.match(custom("KZ_CDR")) == "KZ_CDR"
    assert b.match(core("HEARTBEAT")) == "ALL"
    assert b.names() == ["ALL", "CHANNEL_CREATE", "KZ_CDR"]


def test_core_binding_matches_its_type_whatever_the_subclass() -> None:
    # FreeSWITCH: a binding without subclass matches events of its type with any subclass.
    b = bound("CHANNEL_CREATE")
    assert b.match(Event("CHANNEL_CREATE", subclass="odd")) == "CHANNEL_CREATE"


def test_nixevent_core_names() -> None:
    b = bound("CHANNEL_CREATE", "CHANNEL_ANSWER", "KZ_CDR")
    b.remove(["channel_create"])
    assert b.names() == ["CHANNEL_ANSWER", "KZ_CDR"]
    b.remove(["CHANNEL_DESTROY"])  # not bound: nothing happens
    assert b.names() == ["CHANNEL_ANSWER", "KZ_CDR"]


def test_nixevent_subclass_removes_exactly_that_one() -> None:
    b = bound("sofia::register", "KZ_CDR", "sofia::unregister", "CHANNEL_CREATE")
    b.remove(["CUSTOM", "sofia::unregister"])
    assert b.names() == ["CHANNEL_CREATE", "sofia::register", "KZ_CDR"]
    assert b.match(custom("sofia::register")) == "sofia::register"
    assert b.match(custom("sofia::unregister")) is None
    # Identity is case-insensitive, like the duplicate check of `event`.
    b.remove(["CUSTOM", "kz_cdr"])
    assert b.names() == ["CHANNEL_CREATE", "sofia::register"]


def test_nixevent_after_custom_every_name_is_a_subclass() -> None:
    b = bound("CHANNEL_CREATE", "CHANNEL_CREATE_X")
    b.remove(["CUSTOM", "CHANNEL_CREATE", "CHANNEL_CREATE_X"])
    # CHANNEL_CREATE after CUSTOM names a subclass, so the core binding stays.
    assert b.names() == ["CHANNEL_CREATE"]


def test_nixevent_unknown_name_before_custom_is_badarg_keeping_earlier_removals() -> None:
    b = bound("CHANNEL_CREATE", "CHANNEL_ANSWER", "sofia::register")
    with pytest.raises(BadArg):
        b.remove(["CHANNEL_CREATE", "sofia::register", "CHANNEL_ANSWER"])
    assert b.names() == ["CHANNEL_ANSWER", "sofia::register"]


def test_nixevent_all_removes_all_and_core_bindings_but_not_subclasses() -> None:
    b = bound("ALL", "CHANNEL_CREATE", "DTMF", "KZ_CDR")
    b.remove(["ALL"])
    assert b.names() == ["KZ_CDR"]
    assert b.match(core("CHANNEL_CREATE")) is None
    assert b.match(core("HEARTBEAT")) is None
    assert b.match(custom("KZ_CDR")) == "KZ_CDR"


def test_noevents_clears_everything() -> None:
    b = bound("ALL", "CHANNEL_CREATE", "KZ_CDR")
    b.clear()
    assert not b
    assert b.names() == []
    assert b.match(custom("KZ_CDR")) is None


_subclass = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12)
_names = st.lists(st.one_of(st.sampled_from(CORE_EVENT_NAMES), _subclass), max_size=12)


@given(_names, _names)
def test_add_then_remove_all_leaves_only_subclasses(first: list[str], second: list[str]) -> None:
    b = bound(*first, *second)
    b.remove(["ALL"])
    for name in b.names():
        # Only subclass bindings survive nixevent ALL, each matching its own custom event.
        assert b.match(custom(name)) == name
    b.remove(["CUSTOM", *first, *second])
    assert not b


@given(_names)
def test_adding_twice_changes_nothing(names: list[str]) -> None:
    once = bound(*names)
    twice = bound(*names, *names)
    assert once.names() == twice.names()
