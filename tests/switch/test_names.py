from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kazoo_trio.switch.names import CORE_EVENT_NAMES, core_event_name
from kazoo_trio.switch.sections import parse_sections, xml_section
from kazoo_trio.switch.separate import separate_string


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CHANNEL_CREATE", "CHANNEL_CREATE"),
        ("channel_create", "CHANNEL_CREATE"),
        ("Channel_Answer", "CHANNEL_ANSWER"),
        ("SWITCH_EVENT_CHANNEL_DESTROY", "CHANNEL_DESTROY"),
        ("switch_event_api", "API"),
        ("ALL", "ALL"),
        ("all", "ALL"),
        ("CUSTOM", "CUSTOM"),
        ("custom", "CUSTOM"),
        ("HEARTBEAT", "HEARTBEAT"),
        # Any 13 leading characters count as the prefix, as in switch_name_event.
        ("XXXXXXXXXXXXXheartbeat", "HEARTBEAT"),
    ],
)
def test_core_names(text: str, expected: str) -> None:
    assert core_event_name(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "CHANNEL_SYNC",
        "sofia::register",
        "KZ_CDR",
        "ROUTE_WINNER",
        "kazoo::masquerade",
        "",
        "SWITCH_EVENT_",
        "SWITCH_EVENT_NOPE",
        "CHANNEL_CREATEX",
        "ÄPI",
    ],
)
def test_unknown_names(text: str) -> None:
    assert core_event_name(text) is None


def test_every_name_maps_to_itself() -> None:
    assert len(set(CORE_EVENT_NAMES)) == len(CORE_EVENT_NAMES)
    for name in CORE_EVENT_NAMES:
        assert core_event_name(name) == name
        assert core_event_name("SWITCH_EVENT_" + name.lower()) == name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("configuration", "configuration"),
        ("config", "configuration"),
        ("Dialplan", "dialplan"),
        ("DIRECTORY", "directory"),
        ("my_channels_x", "channels"),
        ("languages", "languages"),
        ("chatplan", "chatplan"),
        ("nothing", None),
        ("dialplan_directory", None),
        ("", None),
    ],
)
def test_xml_section(name: str, expected: str | None) -> None:
    assert xml_section(name) == expected


def test_parse_sections_sets() -> None:
    assert parse_sections("dialplan+directory") == {"dialplan", "directory"}
    assert parse_sections("result") == frozenset()


@pytest.mark.parametrize(
    ("text", "delim", "limit", "expected"),
    [
        ("a b c", " ", 10, ["a", "b", "c"]),
        ("  a   b  ", " ", 10, ["a", "b"]),
        ("a b c d", " ", 2, ["a", "b c d"]),
        ("x 'a b' c", " ", 10, ["x", "a b", "c"]),
        ("a\\ b c", " ", 10, ["a\\ b", "c"]),
        ("a\\'b", " ", 10, ["a'b"]),
        ("a\\sb", " ", 10, ["a b"]),
        ("foo=bar", "=", 3, ["foo", "bar"]),
        ("a=b=c=d", "=", 3, ["a", "b", "c=d"]),
        ("a\\=b=c", "=", 3, ["a=b", "c"]),
        ("it's=x", "=", 3, ["it's", "x"]),  # a lone quote is text with a char delimiter
        ("k=", "=", 3, ["k"]),
        ("=v", "=", 3, ["", "v"]),
        ("^^:a:b c", " ", 10, ["a", "b c"]),
        ("", " ", 10, []),
    ],
)
def test_separate_string(text: str, delim: str, limit: int, expected: list[str]) -> None:
    assert separate_string(text, delim, limit) == expected


def test_separate_string_rejects_long_delimiter() -> None:
    with pytest.raises(ValueError):
        separate_string("a", "ab")


@given(
    st.text(alphabet=st.sampled_from(list("ab '\\=^ns")), max_size=30),
    st.sampled_from([" ", "=", "|"]),
    st.integers(min_value=1, max_value=5),
)
def test_separate_string_never_raises_and_respects_limit(text: str, delim: str, limit: int) -> None:
    parts = separate_string(text, delim, limit)
    assert len(parts) <= limit
    assert all(isinstance(part, str) for part in parts)


@given(st.lists(st.text(alphabet="abc", min_size=1), min_size=1, max_size=6))
def test_separate_string_splits_plain_words(words: list[str]) -> None:
    assert separate_string(" ".join(words)) == words
    assert separate_string("=".join(words), "=") == words
