"""``add_headers``' fast path (pairs it appends as they are, tested in C) gives what the
rule gives, and leaves every other list to the general loop."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from kazoo_trio.switch.headers import add_headers
from tests.switch.test_header_building import reference_add_headers

names = st.sampled_from(
    ["Unique-ID", "unique-id", "variable_x", "_body", "A", "a\0b", "X", "x", "İ", "i̇", "ΑΣ", "ας"]
)
# Mostly plain values, so that whole lists take the fast path; a few that must not.
values = st.one_of(
    st.sampled_from(["1", "x y", "%41", "a\0ARRAY::b", "xARRAY::"]),
    st.text(min_size=1, max_size=6),
    st.sampled_from(["", "ARRAY::p|:q"]),
)


@settings(max_examples=500, deadline=None)
@given(
    start=st.lists(st.tuples(names, values), max_size=6),
    extra=st.lists(st.tuples(names, values), max_size=12),
    as_tuple=st.booleans(),
)
@example(start=[("A", "1")], extra=[("a", "")], as_tuple=False)
@example(start=[("A", "1")], extra=[("X", ""), ("Y", "1"), ("x", "")], as_tuple=True)
@example(start=[], extra=[("Y", "1"), ("X", ""), ("y", "")], as_tuple=False)
@example(start=[("İ", "1")], extra=[("i̇", "")], as_tuple=False)
@example(start=[], extra=[("B", "ARRAY::p|:q")], as_tuple=True)
@example(start=[], extra=[("B", "1"), ("C", "\0ARRAY::x")], as_tuple=False)
def test_plain_lists_match_the_rule(
    start: list[tuple[str, str]], extra: list[tuple[str, str]], as_tuple: bool
) -> None:
    given_extra = tuple(extra) if as_tuple else extra
    fast, slow = list(start), list(start)
    assert add_headers(fast, given_extra, False) == reference_add_headers(slow, extra, False)
    assert fast == slow
    assert all(type(pair) is tuple for pair in fast)


def test_pairs_that_are_not_tuples_are_made_tuples() -> None:
    headers: list[tuple[str, str]] = []
    add_headers(headers, [["A", "1"], ("B", "2")], False)  # type: ignore[list-item]
    assert headers == [("A", "1"), ("B", "2")]
    assert all(type(pair) is tuple for pair in headers)


def test_a_generator_is_read_once() -> None:
    headers: list[tuple[str, str]] = []
    add_headers(headers, ((name, "v") for name in ("A", "B")), False)
    assert headers == [("A", "v"), ("B", "v")]
