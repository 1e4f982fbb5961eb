"""Encoded payloads written directly: the verbose shortcut and fixed-shape ``expr``."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.kazoo.profiles import ProfileSet, verbose_event, verbose_payload
from kazoo_trio.kazoo.profiles import compile as compile_module
from kazoo_trio.kazoo.profiles import payload as payload_module
from kazoo_trio.kazoo.profiles.functions import ExprShape, expr, is_number
from kazoo_trio.kazoo.profiles.template import compile_template
from kazoo_trio.kazoo.profiles.view import HeaderView
from kazoo_trio.switch.event import Event
from kazoo_trio.term import Atom, decode, encode

EVENT, JSON = Atom("event"), Atom("json")
TIMESTAMP = "${expr(ceil((${Event-Date-Timestamp} / 1000000) + ${UNIX_EPOCH_IN_GREGORIAN}))}"


def general(event: Event) -> bytes:
    return encode((EVENT, JSON, verbose_event(event)))


# ---------------------------------------------------------------- verbose


names = st.one_of(
    st.sampled_from(
        [
            "Event-Name",
            "Unique-ID",
            "Event-Date-Timestamp",
            "event-date-timestamp",
            "EVENT-DATE-TIMESTAMP",
            "Event-Timestamp",
            "_json_Data",
            "_json_",
            "variable_x",
            "X-Y",
            "\udcc3\udca9",
            "é",
        ]
    ),
    st.text(max_size=10),
)
values = st.one_of(
    st.sampled_from(
        ["", "1700000000123456", "-5", "1e3", "abc", "\udcff", "ARRAY::a|:b", "x" * 5000]
    ),
    st.text(max_size=12),
)
header_lists = st.lists(st.tuples(names, values), max_size=30)


@settings(max_examples=400, deadline=None)
@given(header_lists, st.none() | st.text(max_size=5))
def test_verbose_payload_is_the_encoded_verbose_event(
    headers: list[tuple[str, str]], body: str | None
) -> None:
    event = Event("CHANNEL_DATA", headers, body=body)
    expected = general(event)
    assert verbose_payload(event) == expected
    assert verbose_payload(event) == expected  # again, from the cache of encoded pairs


def test_verbose_payload_shapes() -> None:
    event = Event(
        "CHANNEL_DATA",
        [
            ("Event-Date-Timestamp", "1700000000123456"),
            ("_json_Data", "{}"),
            ("Name", "v"),
        ],
    )
    assert decode(verbose_payload(event)) == (
        EVENT,
        JSON,
        ([(b"Event-Date-Timestamp", b"1700000000123456"), (b"Name", b"v"),
          (b"Event-Timestamp", 1700000000123456)],),
    )  # fmt: skip
    assert decode(verbose_payload(Event("X", [("_json_a", "1")]))) == (EVENT, JSON, ([],))
    repeated = Event("X", [("A", "1"), ("B", "2"), ("A", "3")])
    assert decode(verbose_payload(repeated))[2] == ([(b"A", [b"1", b"3"]), (b"B", b"2")],)


def test_verbose_pair_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(payload_module, "_PAIRS_MAX", 8)
    for i in range(50):
        event = Event("X", [(f"Name-{i}", str(i)), ("Same", "s")])
        assert verbose_payload(event) == general(event)
        assert len(payload_module._pairs) <= 8


# ---------------------------------------------------------------- fixed-shape expr


def view_of(headers: list[tuple[str, str]]) -> HeaderView:
    return HeaderView(
        tuple(headers),
        None,
        prefixes=(),
        global_lookup={"UNIX_EPOCH_IN_GREGORIAN": "62167219200"}.get,
        encoding="json",
    )


def test_kazoo_timestamp_takes_the_fixed_shape() -> None:
    parts = ["ceil((", None, " / 1000000) + ", None, ")"]
    assert ExprShape.make(parts) is not None
    render = compile_template(TIMESTAMP)
    view = view_of([("Event-Date-Timestamp", "1700000000123456")])
    assert render(view) == "63867219201" == view.expand(TIMESTAMP)


@pytest.mark.parametrize(
    "parts",
    [
        ["1", None],  # a digit before the hole would join it
        [None, ".5"],  # so would a dot after it
        [None, "e3"],
        ["2e+", None],
        [None, None],
        ["#", None],
        ["ceil(1)"],  # no hole
        ["(", None, ")("],  # does not compile
    ],
)
def test_shapes_that_are_not_fixed(parts: list[str | None]) -> None:
    assert ExprShape.make(parts) is None


HOLE_NAMES = ("H1", "H2", "Event-Date-Timestamp")
literals = st.lists(
    st.sampled_from([*"0123456789.eE+-*/^(),;|# x_", "ceil(", "floor(", "abs(", "  "]),
    max_size=6,
).map("".join)


@st.composite
def expr_templates(draw: st.DrawFn) -> str:
    pieces = [draw(literals)]
    for _ in range(draw(st.integers(1, 3))):
        pieces.append("${" + draw(st.sampled_from(HOLE_NAMES)) + "}")
        pieces.append(draw(literals))
    return "${expr(" + "".join(pieces) + ")}"


hole_values = st.one_of(
    st.integers(0, 10**20).map(str),
    st.sampled_from(["", "0", "007", "1.5", "-3", "1e3", "abc", "١٢", "9" * 400, " 7"]),
)


def arithmetic(depth: int = 0) -> st.SearchStrategy[str]:
    """Well-formed mod_expr text with holes, so that most shapes are fixed."""
    space = st.sampled_from(["", " ", "  "])
    leaf = st.one_of(
        st.sampled_from(HOLE_NAMES).map(lambda name: "${" + name + "}"),
        st.sampled_from(["0", "7", "1000000", "2.5", ".5", "1e3", "62167219200", "M_PI"]),
    )
    if depth >= 2:
        return leaf
    inner = arithmetic(depth + 1)
    return st.one_of(
        leaf,
        st.tuples(inner, space, st.sampled_from("+-*/^"), space, inner).map("".join),
        st.tuples(st.sampled_from(["ceil", "floor", "abs", ""]), inner).map(
            lambda p: f"{p[0]}({p[1]})"
        ),
        st.tuples(st.sampled_from(["-", "+"]), inner).map("".join),
    )


@settings(max_examples=500, deadline=None)
@given(
    expr_templates() | arithmetic().map(lambda text: "${expr(" + text + ")}"),
    st.lists(hole_values, min_size=3, max_size=3),
)
def test_fixed_expr_is_expr_of_the_rendered_text(template: str, chosen: list[str]) -> None:
    view = view_of(list(zip(HOLE_NAMES, chosen, strict=True)))
    assert compile_template(template)(view) == view.expand(template)


def test_generated_arithmetic_mostly_has_fixed_shapes() -> None:
    fixed = 0
    seen = 0

    @settings(max_examples=200, deadline=None, database=None)
    @given(arithmetic())
    def count(text: str) -> None:
        nonlocal fixed, seen
        pieces = re.split(r"\$\{[^}]*\}", text)  # literal texts; holes between them
        parts: list[str | None] = [pieces[0]]
        for piece in pieces[1:]:
            parts += [None, piece]
        seen += 1
        fixed += ExprShape.make(parts) is not None

    count()
    assert fixed > seen // 4


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**18), st.integers(0, 10**12))
def test_timestamp_fixed_shape_over_values(stamp: int, epoch: int) -> None:
    shape = ExprShape.make(["ceil((", None, " / 1000000) + ", None, ")"])
    assert shape is not None
    text = f"ceil(({stamp} / 1000000) + {epoch})"
    assert shape.run([str(stamp), str(epoch)]) == expr(text)
    assert re.fullmatch(r"-?\d+", expr(text))


# ---------------------------------------------------------------- fused plans, replaced keys

# Field lists where keys repeat in every way the fused code must get right: the
# same key from different kinds of fields, keys a group or a prefix adds to the
# enclosing object, verbose children, Event-Timestamp itself.
TRICKY_FIELDS = [
    '<field name="A" /><field name="B" /><field name="A" />',
    '<field name="A" /><field name="Event-Timestamp" type="static" value="s" />'
    '<field name="B" as="A" />',
    '<field name="x_" type="prefix" exclude-prefix="true" /><field name="A" />'
    '<field name="K" type="static" value="k" />',
    '<field name="G" type="group"><fields><field name="A" /><field name="K" type="static"'
    ' value="g" /></fields></field><field name="A" /><field name="K" type="first-of"'
    ' value="B|#lit" />',
    '<field name="G" type="group" serialize-as="object"><fields verbose="true" /></field>'
    '<field name="A" /><field name="B" type="static" value="v" />',
    '<field name="O" type="static" serialize-as="object"><fields verbose="true">'
    '<field name="A" /></fields></field><field name="A" /><field name="O" />',
    '<field name="A" serialize-as="boolean" /><field name="A" serialize-as="number" />'
    '<field name="C" type="expand" value="${A}-${B}" /><field name="C" />',
    '<field name="E" type="expand" value="${expr(${A} + 1)}" serialize-as="number" />'
    '<field name="A" as="E" /><field name="D" type="reference" />',
    # A filtered definition referenced twice: its filter is tested once.
    '<field name="F" type="reference" /><field name="B" as="FB" />'
    '<field name="G" type="group"><fields><field name="F" type="reference" /></fields></field>'
    '<field name="F" type="reference" />',
]
DEFINITION = (
    '<definition name="D"><field name="A" as="E" /><field name="x_A" as="A" />'
    '<field name="Event-Timestamp" serialize-as="number" /></definition>'
    '<definition name="F"><filters><filter name="A" type="include" value="1" /></filters>'
    '<field name="B" as="FB" /><field name="C" type="static" value="c" /></definition>'
)
tricky_headers = st.lists(
    st.tuples(
        st.sampled_from(
            ["A", "a", "B", "C", "E", "K", "O", "G", "x_A", "x_K", "x_Event-Timestamp",
             "Event-Timestamp", "Event-Date-Timestamp"]
        ),
        st.sampled_from(["1", "0", "yes", "v", "", "1700000000123456"]),
    ),
    max_size=10,
)  # fmt: skip


def _tricky_set(fields: str, verbose: bool) -> ProfileSet:
    return ProfileSet.from_xml(
        '<configuration name="kazoo.conf">'
        f"<definitions>{DEFINITION}</definitions>"
        '<event-handlers><profile name="default"><events><event name="TEST_EVENT">'
        f'<fields verbose="{str(verbose).lower()}">{fields}</fields></event>'
        "</events></profile></event-handlers></configuration>"
    )


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(TRICKY_FIELDS), st.booleans(), tricky_headers)
def test_fused_plans_keep_replaced_keys_in_place(
    fields: str, verbose: bool, headers: list[tuple[str, str]]
) -> None:
    fused = _tricky_set(fields, verbose)
    original = compile_module._fused
    compile_module._fused = lambda applies, present=None: applies
    try:
        unfused = _tricky_set(fields, verbose)
    finally:
        compile_module._fused = original
    event = Event("TEST_EVENT", headers)
    term = fused.build_event(event)
    assert term == unfused.build_event(event)
    assert fused.build_payload(event) == encode((EVENT, JSON, term))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789.+-eE x٣\u00b2", max_size=8) | st.text(max_size=6))
def test_is_number_is_switch_is_number(text: str) -> None:
    body = text[1:] if text[:1] in ("-", "+") else text
    assert is_number(text) == all(c == "." or "0" <= c <= "9" for c in body)
