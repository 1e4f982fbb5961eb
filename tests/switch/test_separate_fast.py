"""``separate_string``'s fast path (no quotes, no backslashes, a character delimiter)
gives what the general character-by-character rules give."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from kazoo_trio.switch import separate
from kazoo_trio.switch.separate import separate_string


def general(text: str, delim: str, limit: int) -> list[str]:
    """The general rules, whatever the text holds (what the fast path must agree with)."""
    text = text.split("\0", 1)[0]
    if text.startswith("^^") and len(text) >= 4:
        delim, text = text[2], text[3:]
    if delim == " ":
        spans = separate._blank_spans(text, limit)
        return [separate._cleanup(text[a:b], "") for a, b in spans]
    spans = separate._char_spans(text, delim, limit)
    return [separate._cleanup(text[a:b], delim) for a, b in spans]


@given(
    text=st.text(alphabet=st.sampled_from(list("ab =|,^\t\0")), min_size=1, max_size=30),
    delim=st.sampled_from(["=", "|", ","]),
    limit=st.integers(min_value=-1, max_value=6),
)
@example(text="\0a", delim="=", limit=1)
@example(text="a|", delim="|", limit=2)
@example(text="a||", delim="|", limit=3)
@example(text="|", delim="|", limit=5)
@example(text="^^,a,b,", delim="|", limit=5)
@example(text=" a = b ", delim="=", limit=5)
def test_fast_split_matches_the_general_rules(text: str, delim: str, limit: int) -> None:
    assert separate_string(text, delim, limit) == general(text, delim, limit)


def test_the_general_rules_still_apply_with_quotes_and_escapes() -> None:
    assert separate_string("a|'b|c'|d\\|e", "|") == ["a", "b|c", "d|e"]
