"""The FreeSWITCH API functions that Kazoo's profile templates call.

Expansion templates such as ``${regex(${Channel-State}|^CS_(.*)$|%1)}`` are
expanded by :func:`kazoo_trio.switch.expand.expand_variables`; it calls back
into :func:`make_call` for every ``${func(args)}``.  The functions below behave
like the FreeSWITCH originals the profiles were written against (``first-of``
from mod_kazoo, ``regex``/``cond``/``url_decode`` from mod_commands and
``expr`` from mod_expr), including their odd corners, because ecallmgr's JSON
depends on them:

* arguments are split with FreeSWITCH's ``switch_separate_string`` rules
  (``^^X`` picks the delimiter ``X``, single quotes group, ``\\`` escapes,
  items are trimmed of spaces);
* ``cond`` compares numerically when either side is a number and compares a
  non-number by its *length* then, so ``cond( == 0 ? a : b)`` is ``a``;
* ``expr`` prints its result like ``%0.10f`` with trailing zeros removed, and
  ``!err!`` on any error;
* functions never raise on bad input: they produce the text FreeSWITCH would
  (``-ERR``, ``!err!``, or nothing).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import cast

from kazoo_trio.switch.separate import separate_string as _switch_separate

__all__ = [
    "FUNCTIONS",
    "PURE_FUNCTIONS",
    "ExprShape",
    "HeaderLookup",
    "cond",
    "expr",
    "first_of",
    "is_number",
    "make_call",
    "regex",
    "separate_string",
    "switch_true",
    "url_decode",
]

HeaderLookup = Callable[[str], "str | None"]
"""Case-insensitive header lookup of the event being encoded."""

_MAX_ITEMS = 25  # MAX_FIRST_OF / MAX_LIST_FIELDS in mod_kazoo


def separate_string(text: str, delim: str = "|", limit: int = 1 << 30) -> list[str]:
    """``switch_separate_string`` with a fast path for the common plain text.

    Text without backslashes or quotes splits like ``str.split`` with items
    trimmed of spaces, a trailing delimiter adding no item; anything else goes
    through the full FreeSWITCH rules of :mod:`kazoo_trio.switch.separate`.
    """
    if "\\" in text or "'" in text or "\0" in text or text.startswith("^^"):
        return _switch_separate(text, delim, limit)
    if not text:
        return []
    parts = text.split(delim, limit - 1)
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return [part.strip(" ") for part in parts]


def is_number(text: str) -> bool:
    """``switch_is_number``: an optional sign then only digits and dots (``""`` counts)."""
    if text[:1] in ("-", "+"):
        text = text[1:]
    # Empty once the digits and dots at both ends are gone: nothing else in it.
    return not text.strip("0123456789.")


def _atoi(text: str) -> int:
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else 0


def _atof(text: str) -> float:
    match = re.match(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)", text)
    return float(match.group(1)) if match else 0.0


_TRUE_WORDS = frozenset(("yes", "on", "true", "t", "enabled", "active", "allow"))


def switch_true(text: str | None) -> bool:
    """FreeSWITCH truth: ``yes on true t enabled active allow`` (any case) or a non-zero number."""
    if text is None:
        return False
    return text.lower() in _TRUE_WORDS or (is_number(text) and _atoi(text) != 0)


def url_decode(text: str) -> str:
    """``switch_url_decode``: ``%XX`` becomes that byte; ``+`` stays; bad escapes stay as text."""
    if "%" not in text:
        return text
    data = text.encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    n = len(data)
    hexdigits = b"0123456789abcdefABCDEF"
    while i < n:
        byte = data[i]
        if byte == 0x25 and n - i > 2 and data[i + 1] in hexdigits:
            width = 2 if data[i + 2] in hexdigits else 1
            out.append(int(data[i + 1 : i + 1 + width], 16))
            i += 3
        else:
            out.append(byte)
            i += 1
    return out.decode("utf-8", "surrogateescape")


def first_of(args: str, lookup: HeaderLookup) -> str | None:
    """mod_kazoo's ``first-of``: the first item naming an existing header, or a literal.

    Items starting with ``#``, ``!`` or ``?`` are literal defaults (a bare marker
    is skipped); ``^^X`` at the start selects the delimiter ``X``.  ``None``
    (an API error: nothing is expanded) for empty arguments.
    """
    if not args:
        return None
    items = _FIRST_OF_ITEMS.get(args)
    if items is None:
        items = _first_of_items(args)
    for literal, item in items:
        if literal:
            return item
        value = lookup(item)
        if value is not None:
            return value
    return ""


_FIRST_OF_ITEMS: dict[str, tuple[tuple[bool, str], ...]] = {}


def _first_of_items(args: str) -> tuple[tuple[bool, str], ...]:
    """The parsed list (literal?, text) of ``first-of`` arguments, remembered (bounded)."""
    text, delim = args, "|"
    if text.startswith("^^") and len(text) >= 3:
        delim = text[2]
        text = text[3:]
    items: list[tuple[bool, str]] = []
    for item in separate_string(text, delim, _MAX_ITEMS):
        if item[:1] in ("#", "!", "?"):
            if len(item) > 1:
                items.append((True, item[1:]))
        else:
            items.append((False, item))
    if len(_FIRST_OF_ITEMS) >= 1024:
        _FIRST_OF_ITEMS.clear()
    _FIRST_OF_ITEMS[args] = parsed = tuple(items)
    return parsed


_REGEX_CACHE: dict[tuple[str, int], re.Pattern[str] | None] = {}
_GROUP_REF = re.compile(r"\$(?:\{(\d{1,9})\}|(\d{1,9}))")


def _compile_regex(expression: str) -> re.Pattern[str] | None:
    flags = 0
    if expression.startswith("/"):
        body, sep, opts = expression[1:].rpartition("/")
        if not sep:
            return None
        expression = body
        if "i" in opts:
            flags |= re.IGNORECASE
        if "s" in opts:
            flags |= re.DOTALL
    key = (expression, flags)
    try:
        return _REGEX_CACHE[key]
    except KeyError:
        pass
    try:
        compiled: re.Pattern[str] | None = re.compile(expression, flags)
    except (re.error, OverflowError, RecursionError):
        compiled = None
    if len(_REGEX_CACHE) > 1024:
        _REGEX_CACHE.clear()
    _REGEX_CACHE[key] = compiled
    return compiled


def regex_search(subject: str, expression: str) -> re.Match[str] | None:
    """``switch_regex_perform``: an unanchored search; ``/re/i`` and ``/re/s`` flags."""
    compiled = _compile_regex(expression)
    return compiled.search(subject) if compiled is not None else None


def regex(args: str) -> str:
    """mod_commands ``regex data|pattern[|subst[|flags]]`` (``m:X`` picks the delimiter).

    With a substitution, a match yields the substitution (``%1``/``$1``/``${1}``
    are groups) and no match yields the data itself (``n`` flag: nothing,
    ``b``: ``false``); without one the result is ``true``/``false``.
    """
    delim = "|"
    if args.startswith("m:") and len(args) > 2 and args[2] in "|~/":
        delim = args[2]
        args = args[3:]
    argv = separate_string(args, delim, 4)
    if len(argv) < 2:
        return "-ERR"
    match = regex_search(argv[0], argv[1])
    if len(argv) == 2:
        return "true" if match else "false"
    if match is None:
        flags = argv[3] if len(argv) > 3 else ""
        if "n" in flags:
            return ""
        if "b" in flags:
            return "false"
        return argv[0]
    groups = match.re.groups

    def group(ref: re.Match[str]) -> str:
        number = int(ref.group(1) or ref.group(2))
        if number > groups:
            return ""
        return match.group(number) or ""

    return _GROUP_REF.sub(group, argv[2].replace("%", "$"))


def _cond_operand(text: str, pos: int) -> tuple[str, bool, int] | None:
    """One ``cond`` operand at ``pos``: (value, quoted, position after it) or None."""
    if text[pos : pos + 1] == "'":
        i = pos + 1
        while i < len(text):
            if text[i] == "\\" and text[i + 1 : i + 2] in ("\\", "'"):
                i += 2
                continue
            if text[i] == "'":
                break
            i += 1
        if i >= len(text) or not text[i + 1 : i + 2].isspace():
            return None
        return text[pos + 1 : i], True, i + 1
    space = text.find(" ", pos)
    if space < 0:
        return None
    return text[pos:space], False, space + 1


def cond(args: str) -> str:
    """mod_commands ``cond <a> <op> <b> ? <true> : <false>`` (``-ERR`` when malformed)."""
    left = _cond_operand(args, 0)
    if left is None:
        return "-ERR"
    a, a_quoted, pos = left
    while pos < len(args) and args[pos].isspace():
        pos += 1
    op = args[pos : pos + 2]
    if op in ("!=", ">=", "<=", "=="):
        pos += 2
    elif op[:1] in (">", "<"):
        op = op[:1]
        pos += 1
    else:
        return "-ERR"
    # The C code steps over one character after the operator unconditionally.
    pos += 1
    while pos < len(args) and args[pos].isspace():
        pos += 1
    right = _cond_operand(args, pos)
    if right is None:
        return "-ERR"
    b, b_quoted, pos = right
    while pos < len(args) and args[pos].isspace():
        pos += 1
    if args[pos : pos + 1] != "?":
        return "-ERR"
    argv = separate_string(":" + args[pos + 1 :], ":", 3)
    if not 2 <= len(argv) <= 3:
        return "-ERR"
    a_num = not a_quoted and is_number(a)
    b_num = not b_quoted and is_number(b)
    a_f = _atof(a) if a_num else float(len(a.encode()))
    b_f = _atof(b) if b_num else float(len(b.encode()))
    if op == "==":
        result = a == b if not a_num and not b_num else a_f == b_f
    elif op == "!=":
        result = a != b if not a_num and not b_num else a_f != b_f
    elif op == ">":
        result = a_f > b_f
    elif op == ">=":
        result = a_f >= b_f
    elif op == "<":
        result = a_f < b_f
    else:
        result = a_f <= b_f
    if len(argv) == 2 and not result:
        return ""
    return argv[1] if result else argv[2]


# ---------------------------------------------------------------- expr (mod_expr)

_EXPR_TOKEN = re.compile(r"\s*(?:(?P<num>#)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/^(),;=]))")
# Literal numbers are lifted out of the text so that one compiled shape serves
# every timestamp ("ceil((# / #) + #)"); a number glued to a name is part of it.
_EXPR_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _expr_mod(a: float, b: float) -> float:
    return math.fmod(a, b)


_EXPR_FUNCTIONS: dict[str, tuple[int, int, Callable[..., float]]] = {
    "abs": (1, 1, abs),
    "ceil": (1, 1, lambda x: float(math.ceil(x))),
    "floor": (1, 1, lambda x: float(math.floor(x))),
    "ipart": (1, 1, lambda x: float(math.trunc(x))),
    "fpart": (1, 1, lambda x: x - math.trunc(x)),
    "sqrt": (1, 1, math.sqrt),
    "exp": (1, 1, math.exp),
    "ln": (1, 1, math.log),
    "log": (1, 1, math.log10),
    "pow": (2, 2, math.pow),
    "mod": (2, 2, _expr_mod),
    "min": (1, 64, min),
    "max": (1, 64, max),
    "avg": (1, 64, lambda *xs: sum(xs) / len(xs)),
}
_EXPR_CONSTANTS = {"M_PI": math.pi, "M_E": math.e}


class _ExprError(Exception):
    pass


Env = dict[str, float]
Node = Callable[[list[float], Env], float]


def _divide(a: float, b: float) -> float:
    if b == 0:
        raise _ExprError("division by zero")
    return a / b


def _power(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except (OverflowError, ValueError) as exc:
        raise _ExprError(str(exc)) from None


_BINARY: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
    "^": _power,
}


def _binary(op: str, left: Node, right: Node) -> Node:
    apply = _BINARY[op]
    return lambda xs, env: apply(left(xs, env), right(xs, env))


class _ExprCompiler:
    """Recursive-descent compiler for mod_expr's arithmetic subset.

    Grammar: ``;``-separated statements (the last value is the result),
    ``name = expr`` assignments, ``+ - * / ^``, unary ``+ -``, parentheses and
    the functions in ``_EXPR_FUNCTIONS``; all arithmetic in doubles.  Numbers
    are ``#`` placeholders, read from the list the compiled function gets.
    """

    def __init__(self, shape: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        shape = shape.rstrip()
        while pos < len(shape):
            match = _EXPR_TOKEN.match(shape, pos)
            if match is None or match.end() == pos:
                raise _ExprError(f"bad character at {pos}")
            kind = match.lastgroup
            assert kind is not None
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.pos = 0
        self.numbers = 0
        # The Python expression of each node whose value is plain arithmetic
        # (no names or assignments), and the functions those expressions call.
        self.sources: dict[Node, str] = {}
        self.env: dict[str, object] = {"_div": _divide, "_pow": _power, "_float": float}

    def _source(self, node: Node, source: str | None) -> Node:
        if source is not None:
            self.sources[node] = source
        return node

    def _binary(self, op: str, left: Node, right: Node) -> Node:
        node = _binary(op, left, right)
        a, b = self.sources.get(left), self.sources.get(right)
        if a is None or b is None:
            return node
        if op == "/":
            return self._source(node, f"_div({a}, {b})")
        if op == "^":
            return self._source(node, f"_pow({a}, {b})")
        return self._source(node, f"({a} {op} {b})")

    def generated(self, node: Node) -> Node | None:
        """``node`` as one generated function (the same arithmetic, in the same
        order), or ``None`` when it reads names."""
        source = self.sources.get(node)
        if source is None:
            return None
        text = (
            "def node(xs, env):\n"
            "    try:\n"
            f"        return {source}\n"
            "    except (OverflowError, ValueError, ZeroDivisionError) as exc:\n"
            "        raise _ExprError(str(exc)) from None\n"
        )
        namespace = {**self.env, "_ExprError": _ExprError}
        try:
            code = compile(text, "<kazoo profile expr>", "exec")
        except (SyntaxError, RecursionError, MemoryError):
            return None  # nested past what Python compiles: the closures still work
        exec(code, namespace)
        generated = namespace["node"]
        assert callable(generated)
        return cast(Node, generated)

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, value: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] == value:
            self.pos += 1
            return True
        return False

    def program(self) -> Node:
        statements: list[Node] = []
        while self.pos < len(self.tokens):
            if self.take(";"):
                continue
            statements.append(self.statement())
            if self.pos < len(self.tokens) and not self.take(";"):
                raise _ExprError("expected ;")
        if not statements:
            raise _ExprError("empty expression")
        if len(statements) == 1:
            return statements[0]
        body = tuple(statements)

        def run(xs: list[float], env: Env) -> float:
            value = 0.0
            for statement in body:
                value = statement(xs, env)
            return value

        return run

    def statement(self) -> Node:
        token = self.peek()
        nxt = self.tokens[self.pos + 1] if self.pos + 1 < len(self.tokens) else None
        if token is not None and token[0] == "name" and nxt == ("op", "="):
            self.pos += 2
            name = token[1]
            value = self.sum()

            def assign(xs: list[float], env: Env) -> float:
                env[name] = result = value(xs, env)
                return result

            return assign
        return self.sum()

    def sum(self) -> Node:
        node = self.product()
        while True:
            token = self.peek()
            if token is None or token[0] != "op" or token[1] not in "+-":
                return node
            self.pos += 1
            node = self._binary(token[1], node, self.product())

    def product(self) -> Node:
        node = self.unary()
        while True:
            token = self.peek()
            if token is None or token[0] != "op" or token[1] not in "*/":
                return node
            self.pos += 1
            node = self._binary(token[1], node, self.unary())

    def unary(self) -> Node:
        if self.take("-"):
            inner = self.unary()
            inner_source = self.sources.get(inner)
            return self._source(
                lambda xs, env: -inner(xs, env),
                None if inner_source is None else f"(-{inner_source})",
            )
        if self.take("+"):
            return self.unary()
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if self.take("^"):
            return self._binary("^", base, self.unary())
        return base

    def atom(self) -> Node:
        token = self.peek()
        if token is None:
            raise _ExprError("unexpected end")
        kind, text = token
        self.pos += 1
        if kind == "num":
            index = self.numbers
            self.numbers += 1
            return self._source(lambda xs, env: xs[index], f"xs[{index}]")
        if kind == "name":
            if self.take("("):
                return self.call(text)
            constant = _EXPR_CONSTANTS.get(text)

            def variable(xs: list[float], env: Env) -> float:
                value = env.get(text, constant)
                if value is None:
                    raise _ExprError(f"unknown name {text}")
                return value

            return variable
        if text == "(":
            node = self.sum()
            if not self.take(")"):
                raise _ExprError("expected )")
            return node
        raise _ExprError(f"unexpected {text}")

    def call(self, name: str) -> Node:
        spec = _EXPR_FUNCTIONS.get(name)
        if spec is None:
            raise _ExprError(f"unknown function {name}")
        low, high, func = spec
        args: list[Node] = []
        if not self.take(")"):
            args.append(self.sum())
            while self.take(","):
                args.append(self.sum())
            if not self.take(")"):
                raise _ExprError("expected )")
        if not low <= len(args) <= high:
            raise _ExprError(f"{name} takes {low}..{high} arguments")
        nodes = tuple(args)

        def apply(xs: list[float], env: Env) -> float:
            try:
                return float(func(*[node(xs, env) for node in nodes]))
            except (OverflowError, ValueError, ZeroDivisionError) as exc:
                raise _ExprError(str(exc)) from None

        sources = [self.sources.get(node) for node in nodes]
        if any(source is None for source in sources):
            return apply
        label = f"_f{len(self.env)}"
        self.env[label] = func
        return self._source(apply, f"_float({label}({', '.join(map(str, sources))}))")


_EXPR_CACHE: dict[str, Node | None] = {}


def _compiled_expr(shape: str) -> Node | None:
    try:
        return _EXPR_CACHE[shape]
    except KeyError:
        pass
    try:
        compiler = _ExprCompiler(shape)
        node: Node | None = compiler.program()
    except (_ExprError, RecursionError):
        node = None
    if node is not None:
        node = compiler.generated(node) or node
    if len(_EXPR_CACHE) > 1024:
        _EXPR_CACHE.clear()
    _EXPR_CACHE[shape] = node
    return node


def format_expr_result(value: float) -> str:
    """mod_expr's output: ``%0.10f`` without trailing zeros (nor a trailing dot)."""
    if value.is_integer() and value != 0:
        # What that gives for a whole number (any double that is one is exact):
        # its digits.  Zero takes the general path, which keeps the sign of -0.
        return str(int(value))
    text = f"{value:.10f}"
    if "." in text:
        text = text.rstrip("0")
        if text.endswith("."):
            text = text[:-1]
    return text


# Characters that may stand right before / right after a number that the text
# around it cannot extend or re-read (see ExprShape).
_EXPR_SAFE_BEFORE = frozenset(" \t\n\r\f\v(*/,;=^|")
_EXPR_SAFE_AFTER = frozenset(" \t\n\r\f\v)*/,;=^|+-")


class ExprShape:
    """``expr`` of a fixed text with holes that are filled with plain decimal integers.

    A template such as ``${expr(ceil((${Event-Date-Timestamp} / 1000000) + 62167219200))}``
    renders to a different text for every event, but when each hole holds ASCII
    digits and the characters around the holes cannot join them to other
    tokens, :func:`expr` would always lift the same shape out of it with the
    holes' numbers at fixed positions.  :meth:`run` evaluates that shape
    directly; its result is exactly ``expr`` of the rendered text.
    :meth:`make` returns ``None`` for texts where that cannot be guaranteed.
    """

    __slots__ = ("_node", "_numbers", "_positions")

    def __init__(self, node: Node, numbers: list[float], positions: tuple[int, ...]) -> None:
        self._node = node
        self._numbers = numbers
        self._positions = positions

    @classmethod
    def make(cls, parts: list[str | None]) -> ExprShape | None:
        """``parts``: the literal texts around the holes (``None``), in order.

        The text ``expr`` gets is stripped of surrounding whitespace, as the
        template functions are called.
        """
        pieces = list(parts)
        if pieces and pieces[0] is not None:
            pieces[0] = pieces[0].lstrip()
        if pieces and pieces[-1] is not None:
            pieces[-1] = pieces[-1].rstrip()
        pieces = [piece for piece in pieces if piece != ""]
        if None not in pieces:
            return None
        sample: list[str] = []
        holes: list[tuple[int, int]] = []
        pos = 0
        for index, piece in enumerate(pieces):
            if piece is None:
                before = pieces[index - 1] if index else ""
                after = pieces[index + 1] if index + 1 < len(pieces) else ""
                if before is None or after is None:
                    return None  # two holes in a row would merge
                if (before and before[-1] not in _EXPR_SAFE_BEFORE) or (
                    after and after[0] not in _EXPR_SAFE_AFTER
                ):
                    return None
                piece = "1"
                holes.append((pos, pos + 1))
            elif "#" in piece:
                return None
            sample.append(piece)
            pos += len(piece)
        text = "".join(sample).replace("|", ";")
        node = _compiled_expr(_EXPR_NUMBER.sub("#", text))
        if node is None:
            return None
        numbers: list[float] = []
        positions: list[int] = []
        wanted = set(holes)
        for match in _EXPR_NUMBER.finditer(text):
            if match.span() in wanted:
                wanted.discard(match.span())
                positions.append(len(numbers))
                numbers.append(0.0)
            else:
                numbers.append(float(match.group()))
        if wanted:
            return None
        return cls(node, numbers, tuple(positions))

    def run(self, values: list[str]) -> str | None:
        """``expr`` of the text with ``values`` in the holes; ``None`` if one is not digits."""
        positions = self._positions
        if len(values) != len(positions):
            raise ValueError(f"{len(positions)} values wanted, not {len(values)}")
        numbers = self._numbers.copy()
        for index, value in enumerate(values):
            if not (value.isdigit() and value.isascii()):
                return None
            numbers[positions[index]] = float(value)
        try:
            result = self._node(numbers, {})
        except (_ExprError, RecursionError, OverflowError):
            return "!err!"
        return format_expr_result(result)


def expr(args: str) -> str:
    """mod_expr: evaluate ``args`` (``|`` separates statements like ``;``); ``!err!`` on error."""
    text = args.replace("|", ";")
    if "#" in text:
        return "!err!"
    node = _compiled_expr(_EXPR_NUMBER.sub("#", text))
    if node is None:
        return "!err!"
    numbers = [float(number) for number in _EXPR_NUMBER.findall(text)]
    try:
        value = node(numbers, {})
    except (_ExprError, RecursionError, OverflowError):
        return "!err!"
    return format_expr_result(value)


Function = Callable[[str, HeaderLookup], "str | None"]

FUNCTIONS: dict[str, Function] = {
    "first-of": first_of,
    "regex": lambda args, _lookup: regex(args),
    "cond": lambda args, _lookup: cond(args),
    "url_decode": lambda args, _lookup: url_decode(args),
    "expr": lambda args, _lookup: expr(args),
}
"""The template functions, by FreeSWITCH API name."""

PURE_FUNCTIONS = frozenset(("regex", "cond", "url_decode", "expr"))
"""Functions whose result depends on their arguments only (``first-of`` reads headers)."""


def make_call(lookup: HeaderLookup) -> Callable[[str, str], str]:
    """The ``call`` callback for ``expand_variables`` bound to one event's headers.

    Like ``kz_expand_api_execute``, the name and the arguments are stripped of
    surrounding whitespace; an unknown function or an API error expands to
    nothing.
    """

    def call(name: str, args: str) -> str:
        function = FUNCTIONS.get(name.strip())
        if function is None:
            return ""
        result = function(args.strip(), lookup)
        return "" if result is None else result

    return call
