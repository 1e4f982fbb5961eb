"""FreeSWITCH variable expansion (``${var}``, ``$${global}``, ``${api(args)}``), as pure code.

This follows FreeSWITCH's ``switch_event_expand_headers`` character by character,
quirks included, because Kazoo sends templates written against it:

* ``${name}`` is the looked-up value (an event header or channel variable); when
  that lookup finds nothing the global variable of that name is used, and a global
  value is itself expanded again.  Unknown names give ``""``.
* ``$${name}`` only consults the global variables.
* ``${name:offset}`` / ``${name:offset:length}`` take a substring (a negative offset
  counts from the end); ``${name[n]}`` picks the n-th value of a multi-value header.
* ``${func(args)}`` and ``${func args}`` call an API function; the name and the
  arguments are expanded first, so ``${f(${x})}`` sees the value of ``x``.
* Names themselves are expanded before the lookup (``${a${b}}``).
* ``\\$`` is a literal ``$`` (and ``\\$$`` too), ``\\\\`` a literal backslash,
  ``\\'`` disappears; any other backslash stays.  ``$$`` not followed by ``{`` is one
  ``$``.  These escapes only apply when the text needs expanding at all: a text with
  neither ``${`` nor one of the escapes ``\\\\ \\n \\s \\t \\'`` comes back untouched
  (so ``\\$5`` alone keeps its backslash, exactly as in FreeSWITCH).
* A ``${`` without its closing brace takes the rest of the text as the name
  (FreeSWITCH does not leave it as is); nothing ever raises.
* Recursion stops after 100 levels: the text at that depth is returned unexpanded.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

__all__ = ["expand_variables", "needs_expansion"]

# switch_event_expand_headers_check gives up (returning its input) beyond this depth.
_MAX_DEPTH = 100

# atoi() on a value this long is undefined behaviour in C; clamp to int32 like glibc
# effectively does for the small values that matter.
_INT_MIN = -(2**31)
_INT_MAX = 2**31 - 1

Lookup = Callable[[str], str | None]
IndexLookup = Callable[[str, int], str | None]
ApiCall = Callable[[str, str], str | None]


def _atoi(text: str) -> int:
    """C ``atoi``: leading blanks, an optional sign, then digits; anything else is 0."""
    i = 0
    n = len(text)
    while i < n and text[i] in " \t\n\v\f\r":
        i += 1
    sign = 1
    if i < n and text[i] in "+-":
        if text[i] == "-":
            sign = -1
        i += 1
    start = i
    while i < n and "0" <= text[i] <= "9":
        i += 1
    digits = text[start:i].lstrip("0")
    if not digits:
        return 0
    if len(digits) > 12:
        return _INT_MIN if sign < 0 else _INT_MAX
    return max(_INT_MIN, min(_INT_MAX, sign * int(digits)))


def _has_variable(text: str) -> bool:
    """``switch_string_var_check_const``: a ``$`` then (after backslashes) ``{``."""
    dollar = False
    for ch in text:
        if ch == "$":
            dollar = True
        elif dollar:
            if ch == "{":
                return True
            if ch != "\\":
                dollar = False
    return False


def _has_escaped_data(text: str) -> bool:
    """``switch_string_has_escaped_data``: a backslash before ``\\ n s t '``."""
    i = text.find("\\")
    while i != -1:
        nxt = text[i + 1 : i + 2]
        if nxt and nxt in "\\nst'":
            return True
        i = text.find("\\", i + 1)
    return False


def needs_expansion(text: str) -> bool:
    """Whether :func:`expand_variables` could change ``text`` (FreeSWITCH's quick check)."""
    text = text.split("\0", 1)[0]
    return bool(text) and (_has_variable(text) or _has_escaped_data(text))


@attrs.frozen
class _Context:
    lookup: Lookup
    global_lookup: Lookup
    call: ApiCall | None
    lookup_index: IndexLookup | None
    expand_found: bool


def expand_variables(
    template: str,
    *,
    lookup: Lookup,
    global_lookup: Lookup,
    call: ApiCall | None = None,
    lookup_index: IndexLookup | None = None,
    expand_found: bool = False,
) -> str:
    """Expand ``template`` the way FreeSWITCH expands event headers.

    ``lookup(name)`` answers ``${name}`` (``None`` when unknown, then the global of
    that name is tried); ``global_lookup(name)`` answers ``$${name}``;
    ``call(func, args)`` runs ``${func(args)}`` and returns its output, or ``None``
    for a failure (expands to ``""``; without ``call`` every function gives ``""``).
    ``lookup_index(name, n)`` answers ``${name[n]}``; without it an indexed name
    falls back to the globals, as a single-valued FreeSWITCH header does.
    ``expand_found=True`` expands values found by ``lookup`` again, which is what
    channel-variable expansion (``switch_channel_expand_variables``) does; event
    expansion (the default) only re-expands global values.

    Exceptions raised by the callables propagate; the expansion itself never raises.
    """
    ctx = _Context(lookup, global_lookup, call, lookup_index, expand_found)
    return _expand(template, ctx, 0)


def _expand(text: str, ctx: _Context, depth: int) -> str:
    if depth > _MAX_DEPTH or not text:
        return text
    # C strings end at the first NUL; what follows is invisible to FreeSWITCH.
    text = text.split("\0", 1)[0]
    if not (_has_variable(text) or _has_escaped_data(text)):
        return text

    n = len(text)
    out: list[str] = []
    p = 0
    while p < n:
        escaped = False
        vtype = 0  # 1: ${...}, 2: function call, 3: $${...}
        ch = text[p]
        if ch == "\\":
            nxt = text[p + 1 : p + 2]
            if nxt == "$":
                escaped = True
                p += 1
                if text[p + 1 : p + 2] == "$":
                    p += 1
            elif nxt == "'":
                p += 2
                continue
            elif nxt == "\\":
                out.append("\\")
                p += 2
                continue
        if text[p] == "$" and not escaped:
            is_global = False
            if text[p + 1 : p + 2] == "$":
                p += 1
                is_global = True
            if text[p + 1 : p + 2] == "{":
                vtype = 3 if is_global else 1
            else:
                escaped = True
        if escaped:
            out.append(text[p])
            p += 1
            continue
        if vtype:
            p, value = _variable(text, p, vtype, ctx, depth)
            if value:
                out.append(value)
            if p >= n:
                break
            # The character after "}" is copied without escape processing, except a
            # "$", which starts over (FreeSWITCH steps back onto it).
            if text[p] == "$":
                continue
        out.append(text[p])
        p += 1
    return "".join(out)


def _variable(text: str, p: int, vtype: int, ctx: _Context, depth: int) -> tuple[int, str | None]:
    """Expand the reference whose ``{`` is at ``p + 1``; returns (resume index, value)."""
    n = len(text)
    start = p + 2
    depth_br = 1
    e = start
    close = n
    while e < n:
        ch = text[e]
        if depth_br == 1 and ch == "}":
            depth_br = 0
            close = e
            e += 1
            break
        if depth_br > 0:
            if e != start and ch == "{":
                depth_br += 1
            elif depth_br > 1 and ch == "}":
                depth_br -= 1
        e += 1
    resume = min(e, n)
    name = text[start:close]

    args: str | None = None
    for i, ch in enumerate(name):
        if ch == " ":
            args = name[i + 1 :]
            name = name[:i].rstrip(" ")
            break
        if ch == "(":
            args = name[i + 1 :]
            name = name[:i].rstrip(" ")
            depth_br = 1
            break
    if args is not None:
        for i, ch in enumerate(args):
            if ch == "(":
                depth_br += 1
            elif depth_br > 1 and ch == ")":
                depth_br -= 1
            elif depth_br == 1 and ch == ")":
                args = args[:i]
                break
        return resume, _function(name, args, ctx, depth)
    return resume, _lookup(name, vtype == 3, ctx, depth)


def _function(name: str, args: str, ctx: _Context, depth: int) -> str | None:
    name = _expand(name, ctx, depth + 1)
    args = _expand(args, ctx, depth + 1)
    if ctx.call is None:
        return None
    return ctx.call(name, args)


def _lookup(name: str, global_only: bool, ctx: _Context, depth: int) -> str | None:
    name = _expand(name, ctx, depth + 1)
    offset = 0
    length = 0
    colon = name.find(":")
    if colon != -1:
        rest = name[colon + 1 :]
        name = name[:colon]
        offset = _atoi(rest)
        second = rest.find(":")
        if second != -1:
            length = _atoi(rest[second + 1 :])
    index = -1
    bracket = name.find("[")
    if bracket != -1 and "]" in name[bracket:]:
        index = _atoi(name[bracket + 1 :])
        name = name[:bracket]

    value: str | None = None
    if not global_only:
        if index > -1:
            value = ctx.lookup_index(name, index) if ctx.lookup_index else None
        else:
            value = ctx.lookup(name)
        if value is not None and ctx.expand_found:
            value = _expand(value, ctx, depth + 1)
    if value is None:
        value = ctx.global_lookup(name)
        if value is not None:
            value = _expand(value, ctx, depth + 1)
    if value is None:
        return None
    if offset >= 0:
        value = "" if offset > len(value) else value[offset:]
    elif -offset <= len(value):
        value = value[len(value) + offset :]
    if 0 < length < len(value):
        value = value[:length]
    return value
