"""FreeSWITCH's argument splitter, ``switch_separate_string``, as pure code.

API commands and dialplan applications split their argument text with it, so its
rules decide what a command sees:

* at most ``limit`` parts; the last part keeps the rest of the text, delimiters and all;
* a backslash protects the next character from splitting, and is then removed when it
  escapes a quote, ``"``, the delimiter or a backslash, or stands for ``\\n \\r \\t \\s``
  (newline, CR, tab, space); any other backslash stays;
* single quotes group text containing delimiters and are removed (with a character
  delimiter only a quote that has a partner later counts);
* leading spaces of every part are dropped, and trailing spaces unless quoted;
* with the space delimiter, runs of spaces count as one;
* text starting ``^^X`` uses ``X`` as the delimiter instead.
"""

from __future__ import annotations

__all__ = ["separate_string"]

_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def separate_string(text: str, delim: str = " ", limit: int = 1024) -> list[str]:
    """Split ``text`` like ``switch_separate_string(buf, delim, array, limit)``."""
    if len(delim) != 1:
        raise ValueError("delimiter must be one character")
    if limit <= 0 or not text:
        return []
    text = text.split("\0", 1)[0]
    if text.startswith("^^") and len(text) >= 4:
        delim = text[2]
        text = text[3:]
    if delim == " ":
        spans = _blank_spans(text, limit)
        return [_cleanup(text[a:b], "") for a, b in spans]
    if limit > 0 and "\\" not in text and "'" not in text:
        return _plain_split(text, delim, limit)
    spans = _char_spans(text, delim, limit)
    return [_cleanup(text[a:b], delim) for a, b in spans]


def _plain_split(text: str, delim: str, limit: int) -> list[str]:
    """The general rules on a text without quotes or backslashes, in C: each part
    without its surrounding spaces, and no empty part after a final delimiter (no
    part starts at the end of the text)."""
    if not text:
        return []
    parts = text.split(delim, limit - 1)
    if not parts[-1] and len(parts) > 1:
        parts.pop()
    return [part.strip(" ") for part in parts]


def _char_spans(text: str, delim: str, limit: int) -> list[tuple[int, int]]:
    n = len(text)
    starts: list[int] = []
    cuts: list[int] = []
    in_quotes = False
    ptr = 0
    find_delim = False
    while ptr < n and len(starts) < limit:
        if not find_delim:
            starts.append(ptr)
            find_delim = True
            continue
        ch = text[ptr]
        if ch == "\\":
            ptr += 1
        elif ch == "'" and (in_quotes or "'" in text[ptr + 1 :]):
            in_quotes = not in_quotes
        elif ch == delim and not in_quotes:
            cuts.append(ptr)
            find_delim = False
        ptr += 1
    return _spans(starts, cuts, n)


def _blank_spans(text: str, limit: int) -> list[tuple[int, int]]:
    n = len(text)
    starts: list[int] = []
    cuts: list[int] = []
    in_quotes = False
    ptr = 0
    state = "start"
    while ptr < n and len(starts) < limit:
        ch = text[ptr]
        if state == "start":
            starts.append(ptr)
            state = "skip_initial"
        elif state == "skip_initial":
            if ch == " ":
                ptr += 1
            else:
                state = "find"
        elif state == "find":
            if ch == "\\":
                ptr += 1
            elif ch == "'":
                in_quotes = not in_quotes
            elif ch == " " and not in_quotes:
                cuts.append(ptr)
                state = "skip_ending"
            ptr += 1
        elif ch == " ":
            ptr += 1
        else:
            state = "start"
    return _spans(starts, cuts, n)


def _spans(starts: list[int], cuts: list[int], n: int) -> list[tuple[int, int]]:
    spans = []
    for start in starts:
        end = next((c for c in cuts if c >= start), n)
        spans.append((start, end))
    return spans


def _cleanup(part: str, delim: str) -> str:
    """``cleanup_separated_string``: quotes, escapes, surrounding spaces."""
    i = 0
    n = len(part)
    while i < n and part[i] == " ":
        i += 1
    out: list[str] = []
    end: int | None = None
    in_quotes = False
    while i < n:
        ch = part[i]
        if ch == "\\" and i + 1 < n:
            nxt = part[i + 1]
            if nxt in "'\"\\" or (delim and nxt == delim) or nxt in _UNESCAPE:
                out.append(_UNESCAPE.get(nxt, nxt))
                end = len(out)
                i += 2
                continue
        if ch == "'" and (in_quotes or "'" in part[i + 1 :]):
            in_quotes = not in_quotes
            if in_quotes:
                end = len(out)
        else:
            out.append(ch)
            if ch != " " or in_quotes:
                end = len(out)
        i += 1
    if end is not None:
        del out[end:]
    return "".join(out)
