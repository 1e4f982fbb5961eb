"""The template functions (first-of, regex, cond, url_decode, expr) and the JSON → term mapping."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.kazoo.profiles import NULL, json_to_term
from kazoo_trio.kazoo.profiles import functions as functions_module
from kazoo_trio.kazoo.profiles.functions import (
    cond,
    expr,
    first_of,
    format_expr_result,
    regex,
    separate_string,
    switch_true,
    url_decode,
)
from kazoo_trio.kazoo.profiles.jsonterm import number_term, parse_json, raw_term
from kazoo_trio.switch.separate import separate_string as switch_separate_string
from kazoo_trio.term import decode, encode


@given(st.text(alphabet="ab |'\\^!", max_size=20))
def test_fast_split_agrees_with_switch_separate_string(text: str) -> None:
    assert separate_string(text, "|") == switch_separate_string(text, "|")


HEADERS = {"a": "A", "b": "B", "empty": ""}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("x|a|b", "A"),
        ("x|y|#default", "default"),
        ("x|#|b", "B"),  # a bare marker is skipped
        ("x|!bang", "bang"),
        ("x|?q", "q"),
        ("^^!x!b", "B"),
        ("^^!x!#0", "0"),
        ("x|y", ""),
        ("empty|a", ""),  # an existing empty header wins
        ("", None),
    ],
)
def test_first_of(args: str, expected: str | None) -> None:
    assert first_of(args, HEADERS.get) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("CS_INIT|^CS_(.*)$|%1", "INIT"),
        ("INIT|^CS_(.*)$|%1", "INIT"),  # no match: the data itself
        ("INIT|^CS_(.*)$|%1|n", ""),
        ("INIT|^CS_(.*)$|%1|b", "false"),
        ("CS_INIT|^CS_", "true"),
        ("INIT|^CS_", "false"),
        ("<sip:1000@example.com>;x|<sips?:(.*)>|%1", "1000@example.com"),
        ("abc|(b)(c)|$2${1}-%9", "cb-"),
        ("m:~a|b~a\\|b~x", "x"),
        ("only", "-ERR"),
        ("abc|/B/i|hit", "hit"),
    ],
)
def test_regex(args: str, expected: str) -> None:
    assert regex(args) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("5 == 5 ? yes : no", "yes"),
        ("5 == 6 ? yes : no", "no"),
        (" == 0 ? true : false", "true"),  # empty is a number (0) to FreeSWITCH
        ("abc == abc ? same : different", "same"),
        ("abc == 3 ? len : other", "len"),  # a non-number compares by its length
        ("'a b' == 'a b' ? q : n", "q"),
        ("10 > 9 ? gt : le", "gt"),
        ("10 <= 9 ? le : gt", "gt"),
        ("1 != 2 ? ne : eq", "ne"),
        ("1 == 2 ? only", ""),
        ("==  ? true : false", "-ERR"),
        ("nospace", "-ERR"),
    ],
)
def test_cond(args: str, expected: str) -> None:
    assert cond(args) == expected


def test_url_decode() -> None:
    assert url_decode("a%20b%3Cc%3e+d") == "a b<c>+d"
    assert url_decode("%E2%82%AC") == "€"
    assert url_decode("100%") == "100%"
    assert url_decode("%zz") == "%zz"
    assert url_decode("%4g") == "\x04"  # sscanf("%2x") reads one digit, two are skipped


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("ceil((1700000000123456 / 1000000) + 62167219200)", "63867219201"),
        ("ceil(1501 / 1000)", "2"),
        ("ceil(0 / 1000)", "0"),
        ("1/3", "0.3333333333"),
        ("2^10 - 1", "1023"),
        ("-3/2", "-1.5"),
        ("x = 4; x * x", "16"),
        ("1|2", "2"),
        ("max(1, 7, 3)", "7"),
        ("1/0", "!err!"),
        ("ceil( / 1000)", "!err!"),
        ("nosuch(1)", "!err!"),
        ("", "!err!"),
    ],
)
def test_expr(args: str, expected: str) -> None:
    assert expr(args) == expected


def test_expr_result_format() -> None:
    assert format_expr_result(2.0) == "2"
    assert format_expr_result(-0.5) == "-0.5"
    assert format_expr_result(1e20) == "100000000000000000000"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True),
        ("ON", True),
        ("t", True),
        ("allow", True),
        ("12", True),
        ("1.5", True),
        ("0", False),
        ("0.5", False),
        ("no", False),
        ("", False),
        ("-1", True),
    ],
)
def test_switch_true(text: str, expected: bool) -> None:
    assert switch_true(text) is expected


# ---------------------------------------------------------------- JSON → term


def test_json_to_term_both_encodings() -> None:
    value = {
        "s": "é",
        "n": 18446744073709551617,
        "neg": -(2**70),
        "f": 1.5,
        "i": 2.0,
        "t": True,
        "x": False,
        "z": None,
        "l": [1, {"k": "v"}],
    }
    assert json_to_term(value, encoding="json") == (
        [
            (b"s", "é".encode()),
            (b"n", 18446744073709551617),
            (b"neg", -(2**70)),
            (b"f", 1.5),
            (b"i", 2),
            (b"t", True),
            (b"x", False),
            (b"z", NULL),
            (b"l", [1, ([(b"k", b"v")],)]),
        ],
    )
    assert json_to_term(value, encoding="map") == {
        b"s": "é".encode(),
        b"n": 18446744073709551617,
        b"neg": -(2**70),
        b"f": 1.5,
        b"i": 2,
        b"t": True,
        b"x": False,
        b"z": NULL,
        b"l": [1, {b"k": b"v"}],
    }
    with pytest.raises(TypeError):
        json_to_term({"k": object()})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("  -7", -7),
        ("12abc", 12),
        ("abc", 0),
        ("", 0),
        ("2.50", 2.5),
        ("1e3", 1000),
        ("1.0", 1),
        ("0x1A", 26),
        ("99999999999999999999999999999", 99999999999999999999999999999),
        ("-9223372036854775809", -9223372036854775809),
        ("9007199254740993", 9007199254740993),  # above 2^53: a double would round it
        ("nan", NULL),
        ("inf", NULL),
        ("1e99999", NULL),
    ],
)
def test_number_term_is_strtod_but_exact(text: str, expected: object) -> None:
    result = number_term(text)
    assert result == expected
    assert type(result) is type(expected)


def test_raw_term() -> None:
    assert raw_term('{"a": 1, "a": 2, "b": [true]}') == ([(b"a", 2), (b"b", [True])],)
    assert raw_term("[1.25, 3.0]", encoding="map") == [1.25, 3]
    assert raw_term("not json") == b"not json"
    assert raw_term("NaN") == b"NaN"
    assert raw_term("") == b""
    assert raw_term('{"a":1} trailing') == b'{"a":1} trailing'
    assert parse_json(" 12345678901234567890123 ") == 12345678901234567890123


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values, st.sampled_from(["json", "map"]))
def test_json_terms_encode_and_keep_numbers_exact(value: object, encoding: str) -> None:
    term = json_to_term(value, encoding=encoding)  # type: ignore[arg-type]
    assert decode(encode(term)) == term

    def numbers(v: object) -> list[object]:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return []
        if isinstance(v, int | float):
            return [v]
        if isinstance(v, dict):
            return [n for item in v.values() for n in numbers(item)]
        assert isinstance(v, list)
        return [n for item in v for n in numbers(item)]

    def term_numbers(t: object) -> list[object]:
        if isinstance(t, bool | bytes) or t is NULL:
            return []
        if isinstance(t, int | float):
            return [t]
        if isinstance(t, dict):
            return [n for item in t.values() for n in term_numbers(item)]
        if isinstance(t, tuple):
            return [n for _, item in t[0] for n in term_numbers(item)]
        assert isinstance(t, list)
        return [n for item in t for n in term_numbers(item)]

    for original, converted in zip(numbers(value), term_numbers(term), strict=True):
        assert converted == original
        if isinstance(original, float) and original.is_integer():
            assert isinstance(converted, int)
        if isinstance(original, float) and not original.is_integer():
            assert isinstance(converted, float) and math.isfinite(converted)


# ---------------------------------------------------------------- expr: generated code


def _closure_expr(text: str) -> str:
    """``expr`` evaluated by the compiler's closures alone (no generated function)."""
    text = text.replace("|", ";")
    if "#" in text:
        return "!err!"
    try:
        node = functions_module._ExprCompiler(
            functions_module._EXPR_NUMBER.sub("#", text)
        ).program()
    except (functions_module._ExprError, RecursionError):
        return "!err!"
    numbers = [float(n) for n in functions_module._EXPR_NUMBER.findall(text)]
    try:
        value = node(numbers, {})
    except (functions_module._ExprError, RecursionError, OverflowError):
        return "!err!"
    return functions_module.format_expr_result(value)


def _arithmetic(depth: int = 0) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(
        ["0", "1", "7", "2.5", ".5", "1e3", "1e308", "62167219200", "1700000000123456", "M_PI"]
    )
    if depth >= 3:
        return leaf
    inner = _arithmetic(depth + 1)
    one = [
        "ceil", "floor", "abs", "ipart", "fpart", "sqrt", "exp", "ln", "log", "",
    ]  # fmt: skip
    return st.one_of(
        leaf,
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "^"]), inner).map(" ".join),
        st.tuples(st.sampled_from(one), inner).map(lambda p: f"{p[0]}({p[1]})"),
        st.tuples(st.sampled_from(["pow", "mod", "min", "max", "avg"]), inner, inner).map(
            lambda p: f"{p[0]}({p[1]}, {p[2]})"
        ),
        st.tuples(st.sampled_from(["-", "+"]), inner).map("".join),
        st.tuples(inner, inner).map(lambda p: f"x = {p[0]}; x + {p[1]}"),
    )


@settings(max_examples=500, deadline=None)
@given(_arithmetic())
def test_generated_expr_is_the_closures(text: str) -> None:
    """Arithmetic compiled to one generated function gives what the closures give,
    errors included."""
    assert expr(text) == _closure_expr(text)


def test_expr_arithmetic_is_generated_code() -> None:
    node = functions_module._compiled_expr("ceil((# / #) + #)")
    assert node is not None and node.__code__.co_filename == "<kazoo profile expr>"
    assert expr("ceil((1700000000123456 / 1000000) + 62167219200)") == "63867219201"


@settings(max_examples=1000, deadline=None)
@given(
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(2**70), 2**70).map(float)
    | st.sampled_from([0.0, -0.0, 1e308, -1e308, 2.0**53 + 2, 0.5, -1.5])
)
def test_format_expr_result_is_printf_without_trailing_zeros(value: float) -> None:
    text = f"{value:0.10f}"  # mod_expr prints "%0.10f"
    if "." in text:
        text = text.rstrip("0")
        text = text[:-1] if text.endswith(".") else text
    assert format_expr_result(value) == text
