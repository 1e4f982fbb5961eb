from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kazoo_trio.switch.expand import expand_variables, needs_expansion

HEADERS = {"foo": "ABC", "Unique-ID": "u-1", "name": "foo", "sp ace": "x"}
GLOBALS = {"domain": "example.com", "foo": "global-foo", "chain": "$${domain}!", "g": "G"}


def calls_recorder() -> tuple[list[tuple[str, str]], object]:
    seen: list[tuple[str, str]] = []

    def call(func: str, args: str) -> str | None:
        seen.append((func, args))
        if func == "upper":
            return args.upper()
        if func == "fail":
            return None
        return f"<{func}|{args}>"

    return seen, call


def expand(template: str, **kwargs: object) -> str:
    _, call = calls_recorder()
    params: dict[str, object] = {
        "lookup": HEADERS.get,
        "global_lookup": GLOBALS.get,
        "call": call,
    }
    params.update(kwargs)
    return expand_variables(template, **params)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${foo}", "ABC"),
        ("a ${foo} b", "a ABC b"),
        ("${Unique-ID}${foo}", "u-1ABC"),
        ("${nope}", ""),
        ("x${nope}y", "xy"),
        ("${domain}", "example.com"),  # no header: the global of that name
        ("$${foo}", "global-foo"),  # $$ skips the headers
        ("$${nope}", ""),
        ("${chain}", "example.com!"),  # global values are expanded again
        ("$${chain}", "example.com!"),
        ("${${name}}", "ABC"),  # the name is expanded before the lookup
        ("${f${name}x}", ""),
        ("${upper(abc)}", "ABC"),
        ("${upper(${foo}x)}", "ABCX"),  # arguments are expanded first
        ("${upper(a(b)c)}", "A(B)C"),  # nested parentheses stay
        ("${upper(abc)tail}", "ABC"),  # text after ")" is dropped
        ("${upper abc}", "ABC"),  # space form
        ("${upper  abc}", " ABC"),  # only the first space separates
        ("${fail(x)}", ""),
        ("${sp ace}", "<sp|ace>"),  # a space always means a function call
    ],
)
def test_expand_forms(template: str, expected: str) -> None:
    assert expand(template) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # The offset cases of FreeSWITCH's own unit test (tests/unit/switch_event.c).
        ("${foo:0}", "ABC"),
        ("${empty:0}", ""),
        ("${foo:0:2}", "AB"),
        ("${foo:1}", "BC"),
        ("${foo:3}", ""),
        ("${foo:99}", ""),
        ("${empty:5}", ""),
        ("${foo:1:1}", "B"),
        ("${foo:0:3}", "ABC"),
        ("${foo:99:2}", ""),
        ("${foo:-1}", "C"),
        ("${foo:-3}", "ABC"),
        ("${foo:-99}", "ABC"),
        ("${foo:x}", "ABC"),  # atoi("x") == 0
        ("${foo:+2}", "C"),
        ("${foo: 2}", "<foo:|2>"),  # a space makes it a function call, even here
        ("${foo:1" + "9" * 40 + "}", ""),  # huge offsets do not raise
    ],
)
def test_offsets(template: str, expected: str) -> None:
    assert expand(template) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (r"\${foo}", "${foo}"),  # ecallmgr's eval arguments rely on this
        (r"uuid:1 \${Channel-Call-State}|\${foo}", "uuid:1 ${Channel-Call-State}|${foo}"),
        (r"\$${foo}", "${foo}"),  # "\$$" is one literal "$"
        (r"a\\b ${foo}", r"a\b ABC"),
        (r"it\'s ${foo}", "its ABC"),  # \' disappears
        (r"\n ${foo}", r"\n ABC"),  # other escapes stay
        ("$$x ${foo}", "$x ABC"),  # "$$" without "{" is one "$"
        ("cost $5 ${foo}", "cost $5 ABC"),
        ("${foo}\\${foo}", "ABC\\ABC"),  # the character after "}" is copied raw
        ("${foo}$${g}", "ABCG"),
        ("end $", "end $"),
    ],
)
def test_escapes(template: str, expected: str) -> None:
    assert expand(template) == expected


@pytest.mark.parametrize(
    "template",
    [r"\$5", "price $5", r"C:\path", "plain text", "", "{}", "$", "}{"],
)
def test_text_needing_no_expansion_is_returned_unchanged(template: str) -> None:
    assert not needs_expansion(template)
    assert expand(template) == template


def test_escape_only_text_is_processed() -> None:
    # FreeSWITCH processes a text with "\\" or "\'" even without any "${".
    assert needs_expansion(r"a\\b")
    assert expand(r"a\\b") == "a\\b"
    assert expand(r"it\'s") == "its"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("${foo", "ABC"),  # an unclosed reference takes the rest as its name
        ("x ${foo", "x ABC"),
        ("${foo${", "ABC"),  # the inner "${" expands to nothing
        ("${", ""),
        ("a}b ${foo}", "a}b ABC"),
        ("${upper(abc}", "ABC"),  # unclosed parenthesis: the rest is the argument
        ("${{foo}}", "}"),  # a leading "{" does not nest: name "{foo", then "}"
        ("${a{b}c}", ""),
    ],
)
def test_malformed_templates(template: str, expected: str) -> None:
    assert expand(template) == expected


def test_indexed_lookup() -> None:
    def lookup_index(name: str, index: int) -> str | None:
        values = {"multi": ["a", "b", "c"]}.get(name)
        return values[index] if values and index < len(values) else None

    assert expand("${multi[1]}", lookup_index=lookup_index) == "b"
    assert expand("${multi[7]}", lookup_index=lookup_index) == ""
    # Without an index lookup an indexed name falls back to the globals.
    assert expand("${g[0]}") == "G"


def test_function_calls_receive_expanded_name_and_arguments() -> None:
    seen, call = calls_recorder()
    result = expand_variables(
        "${${name}(${foo} $${domain})}",
        lookup=HEADERS.get,
        global_lookup=GLOBALS.get,
        call=call,  # type: ignore[arg-type]
    )
    assert seen == [("foo", "ABC example.com")]
    assert result == "<foo|ABC example.com>"


def test_without_call_functions_expand_to_nothing() -> None:
    assert expand_variables("a${f(x)}b", lookup=HEADERS.get, global_lookup=GLOBALS.get) == "ab"


def test_found_values_are_expanded_only_when_asked() -> None:
    headers = {"v": "${foo}", "foo": "ABC"}
    assert expand_variables("${v}", lookup=headers.get, global_lookup=GLOBALS.get) == "${foo}"
    assert (
        expand_variables("${v}", lookup=headers.get, global_lookup=GLOBALS.get, expand_found=True)
        == "ABC"
    )


def test_self_referencing_global_stops() -> None:
    loop = {"a": "x$${a}"}
    result = expand_variables("$${a}", lookup=lambda _: None, global_lookup=loop.get)
    # FreeSWITCH gives up after 100 levels and leaves the innermost text as it is.
    assert result.startswith("x" * 100)
    assert result.endswith("$${a}")


def test_nul_ends_the_template() -> None:
    assert expand("${foo}\0${foo}") == "ABC"


templates = st.text(alphabet=st.sampled_from(list("${}()[]:\\' -ab0\n")), max_size=40)


@given(templates)
def test_never_raises(template: str) -> None:
    assert isinstance(expand(template), str)


@given(st.text(alphabet=st.characters(blacklist_characters="$\\\0")))
def test_text_without_dollar_or_backslash_is_unchanged(template: str) -> None:
    assert expand(template) == template


@given(st.text(alphabet=st.characters(blacklist_characters="${}\\\0")))
def test_escaped_reference_is_literal(name: str) -> None:
    assert expand("\\${" + name + "}") == "${" + name + "}"
