"""The codec against a real ``erl`` (one node for the whole module).

Erlang -> Python: erl prints ``term_to_binary`` of a wide sample; Python must
decode each to the expected value and, for the distribution form
(``{minor_version, 2}``), re-encode the exact same bytes.  Then the decoded
values go back and erl checks ``binary_to_term(Echo) =:= Original`` (pids,
refs, ports and funs included).  Python -> Erlang: Python encodes values and
erl compares ``binary_to_term`` of them with Erlang literals.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Callable
from typing import Any

import pytest

from kazoo_trio.kazoo.streams.encoding import LegacyFilter, encode_legacy_event
from kazoo_trio.switch.event import Event
from kazoo_trio.term import (
    Atom,
    BitString,
    Export,
    Fun,
    ImproperList,
    MapPairs,
    Pid,
    Port,
    Reference,
    decode,
    encode,
)
from tests.erlnode import ErlNode, erl_node

pytestmark = pytest.mark.erl

D2 = "[{minor_version, 2}]"  # the form OTP 25 uses on the distribution

Check = Callable[[Any], bool]


def neg_zero(v: Any) -> bool:
    return isinstance(v, float) and v == 0.0 and math.copysign(1.0, v) < 0


def is_local_pid(v: Any) -> bool:
    return isinstance(v, Pid) and v.node is Atom("nonode@nohost")


def is_call_tag(v: Any) -> bool:
    return isinstance(v, ImproperList) and v.items == (Atom("alias"),)


def is_local_port(v: Any) -> bool:
    return isinstance(v, Port) and v.node is Atom("nonode@nohost")


def is_ref(words: int) -> Check:
    return lambda v: isinstance(v, Reference) and len(v.ids) == words


# (Erlang expression, term_to_binary options, expected Python value or check,
#  whether the bytes are OTP's distribution form and must re-encode identically)
SAMPLES: list[tuple[str, str, Any, bool]] = [
    ("abc", D2, Atom("abc"), True),
    ("''", D2, Atom(""), True),
    ("true", D2, True, True),
    ("undefined", D2, Atom("undefined"), True),
    ("list_to_atom([104, 233, 108])", D2, Atom("hél"), True),
    ("list_to_atom([16#1F600, 16#4E2D])", D2, Atom("\U0001f600中"), True),
    ("list_to_atom(lists:duplicate(255, 16#E9))", D2, Atom("é" * 255), True),  # 510 bytes
    ("abc", "[]", Atom("abc"), False),  # OTP 25 default: ATOM_EXT
    ("list_to_atom([104, 233, 108])", "[{minor_version, 0}]", Atom("hél"), False),
    ("0", D2, 0, True),
    ("255", D2, 255, True),
    ("256", D2, 256, True),
    ("-1", D2, -1, True),
    ("2147483647", D2, 2**31 - 1, True),
    ("2147483648", D2, 2**31, True),
    ("-2147483648", D2, -(2**31), True),
    ("-2147483649", D2, -(2**31) - 1, True),
    ("1 bsl 64", D2, 2**64, True),
    ("-(1 bsl 64)", D2, -(2**64), True),
    ("1 bsl 2100", D2, 2**2100, True),  # LARGE_BIG_EXT
    ("-(1 bsl 2100) + 7", D2, -(2**2100) + 7, True),
    ("1.5", D2, 1.5, True),
    ("3.141592653589793", D2, 3.141592653589793, True),
    ("1.0e300", D2, 1.0e300, True),
    ("5.0e-324", D2, 5.0e-324, True),
    ("begin <<F:64/float>> = <<16#8000000000000000:64>>, F end", D2, neg_zero, True),
    ("1.5", "[{minor_version, 0}]", 1.5, False),  # FLOAT_EXT text
    ("-2.5e-10", "[{minor_version, 0}]", -2.5e-10, False),
    ("<<>>", D2, b"", True),
    ('<<"abc">>', D2, b"abc", True),
    ("<<0, 255>>", D2, b"\x00\xff", True),
    ('binary:copy(<<"x">>, 70000)', D2, b"x" * 70000, True),
    ("<<1:3>>", D2, BitString(b"\x20", 3), True),
    ("<<255, 5:4>>", D2, BitString(b"\xff\x50", 4), True),
    ("{}", D2, (), True),
    ('{a, 1, <<"b">>}', D2, (Atom("a"), 1, b"b"), True),
    ("list_to_tuple(lists:seq(1, 300))", D2, tuple(range(1, 301)), True),
    ("[]", D2, [], True),
    ('"abc"', D2, [97, 98, 99], True),
    ("[1, 300]", D2, [1, 300], True),
    ("lists:duplicate(65535, 7)", D2, [7] * 65535, True),
    ("lists:duplicate(65536, 7)", D2, [7] * 65536, True),
    ("[a | b]", D2, ImproperList([Atom("a")], Atom("b")), True),
    ('[1, 2 | <<"t">>]', D2, ImproperList([1, 2], b"t"), True),
    ("#{}", D2, {}, True),
    (
        '#{a => 1, <<"b">> => [2], {c} => 1.0}',
        D2,
        {Atom("a"): 1, b"b": [2], (Atom("c"),): 1.0},
        True,
    ),
    ("#{1 => a, 1.0 => b}", D2, MapPairs([(1, Atom("a")), (1.0, Atom("b"))]), True),
    ("#{[1] => x}", D2, MapPairs([([1], Atom("x"))]), True),
    ("#{#{k => v} => x}", D2, MapPairs([({Atom("k"): Atom("v")}, Atom("x"))]), True),
    # More than 32 keys: a hash map, whose key order only a faithful copy keeps.
    (
        "maps:from_list([{I, I * I} || I <- lists:seq(1, 40)])",
        D2,
        {i: i * i for i in range(1, 41)},
        True,
    ),
    ("self()", D2, is_local_pid, True),
    ("self()", "[{minor_version, 0}]", is_local_pid, False),
    ("make_ref()", D2, is_ref(3), True),
    ("alias()", D2, lambda v: isinstance(v, Reference), True),
    ("[alias | make_ref()]", D2, is_call_tag, True),
    ("hd(erlang:ports())", D2, is_local_port, True),
    (
        'binary_to_term(<<131, 120, 119, 4, "a@vm", 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5>>)',
        D2,
        Port("a@vm", 2**32, 5),
        True,
    ),
    (
        'binary_to_term(<<131, 88, 119, 4, "a@vm", 0, 0, 0, 7, 0, 0, 0, 1, 255, 0, 0, 9>>)',
        D2,
        Pid("a@vm", 7, 1, 0xFF000009),
        True,
    ),
    (
        'binary_to_term(<<131, 90, 0, 5, 119, 4, "a@vm", 9:32, 1:32, 2:32, 3:32, 4:32, 5:32>>)',
        D2,
        Reference("a@vm", 9, (1, 2, 3, 4, 5)),
        True,
    ),
    ("fun(X) -> X + 1 end", D2, lambda v: isinstance(v, Fun), True),
    ('begin Y = {free, <<"var">>}, fun() -> Y end end', D2, lambda v: isinstance(v, Fun), True),
    ("fun lists:map/2", D2, Export(Atom("lists"), Atom("map"), 2), True),
    ('lists:duplicate(100, <<"abc">>)', "[compressed]", [b"abc"] * 100, False),
    (
        '{ok, [{<<"k">>, <<"v">>}], #{x => [1, 2]}, [{nested, [[[]]]}]}',
        D2,
        (Atom("ok"), [(b"k", b"v")], {Atom("x"): [1, 2]}, [(Atom("nested"), [[[]]])]),
        True,
    ),
    (
        '{event, [<<"uuid-1">>, {<<"Event-Name">>, <<"CHANNEL_CREATE">>}]}',
        D2,
        (Atom("event"), [b"uuid-1", (b"Event-Name", b"CHANNEL_CREATE")]),
        True,
    ),
]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Raw(bytes):
    """An already encoded whole term."""


async def test_against_real_erlang() -> None:
    # One erl for every check: starting erl costs a second or more.
    async with erl_node() as erl:
        await erlang_to_python_and_back(erl)
        await compressed_bytes_match_otp(erl)
        await python_to_erlang(erl)


async def erlang_to_python_and_back(erl: ErlNode) -> None:
    exprs = ", ".join(f"({expr})" for expr, _, _, _ in SAMPLES)
    await erl.eval(f"Samples = [{exprs}].")
    opts = ", ".join(opt for _, opt, _, _ in SAMPLES)
    got = await erl.term(
        f"Bins = lists:zipwith(fun(T, O) -> term_to_binary(T, O) end, Samples, [{opts}])."
    )
    assert len(got) == len(SAMPLES)
    echoes = []
    for (expr, opt, expected, dist_form), data in zip(SAMPLES, got, strict=True):
        value = decode(data)
        if callable(expected):
            assert expected(value), (expr, opt, value)
        else:
            assert value == expected, (expr, opt)
        if dist_form:
            assert encode(value) == data, (expr, "re-encoding differs")
        echoes.append(encode(value))
    # The decoded values go back to erl, which compares them with the originals.
    listing = ", ".join(f'<<"{b64(e)}">>' for e in echoes)
    verdict = await erl.eval(
        "lists:zipwith(fun(T, E) -> T =:= binary_to_term(base64:decode(E)) end, "
        f"Samples, [{listing}])."
    )
    assert verdict == "[" + ",".join(["true"] * len(SAMPLES)) + "]"
    # A fun sent back still works as the same fun in Erlang.
    index = next(i for i, s in enumerate(SAMPLES) if s[0] == "fun(X) -> X + 1 end")
    echoed = f'binary_to_term(base64:decode(<<"{b64(echoes[index])}">>))'
    assert await erl.eval(f"({echoed})(41).") == "42"


async def compressed_bytes_match_otp(erl: ErlNode) -> None:
    expr = 'term_to_binary(lists:duplicate(100, <<"abc">>), [compressed]).'
    data = await erl.term(expr)
    assert data[:2] == b"\x83P"
    assert encode(decode(data), compressed=True) == data


# Python value, Erlang expression it must equal after binary_to_term.
PY_TO_ERL: list[tuple[Any, str]] = [
    (Atom("ok"), "ok"),
    (Atom("hél\U0001f600"), "list_to_atom([104, 233, 108, 16#1F600])"),
    (Atom("é" * 255), "list_to_atom(lists:duplicate(255, 16#E9))"),
    (True, "true"),
    (None, "undefined"),
    (0, "0"),
    (255, "255"),
    (256, "256"),
    (2**31 - 1, "2147483647"),
    (2**31, "2147483648"),
    (-(2**31) - 1, "-2147483649"),
    (2**2100 + 5, "(1 bsl 2100) + 5"),
    (-(2**3000), "-(1 bsl 3000)"),
    (1.5, "1.5"),
    (-0.0, "begin <<F:64/float>> = <<16#8000000000000000:64>>, F end"),
    (b"bin", '<<"bin">>'),
    ("héllo", "<<104, 195, 169, 108, 108, 111>>"),
    (list(b"10.0.0.1"), '"10.0.0.1"'),
    ([1, 256, Atom("a")], "[1, 256, a]"),
    ((), "{}"),
    (tuple(range(300)), "list_to_tuple(lists:seq(0, 299))"),
    (
        ImproperList([Atom("alias")], Reference("nonode@nohost", 0, (1, 2, 3))),
        '[alias | list_to_ref("#Ref<0.3.2.1>")]',  # ~p shows the words last first
    ),
    ({Atom("a"): [1], b"k": {1: 2}}, '#{a => [1], <<"k">> => #{1 => 2}}'),
    (MapPairs([([1], 2), (1, 3), (1.0, 4)]), "#{[1] => 2, 1 => 3, 1.0 => 4}"),
    (BitString(b"\xa0", 3), "<<5:3>>"),
    (Export("lists", "reverse", 1), "fun lists:reverse/1"),
    (Pid("nonode@nohost", 40, 0, 0), 'list_to_pid("<0.40.0>")'),
    (Port("nonode@nohost", 3, 0), 'list_to_port("#Port<0.3>")'),
    (
        Raw(
            encode_legacy_event(
                Event("CHANNEL_CREATE", [("Unique-ID", "u-1"), ("Caller", "1000")], "body"),
                "e@h",
                "fs@h",
                LegacyFilter(send_all_headers=True),
            )
        ),
        '{event, [<<"u-1">>, {<<"Unique-ID">>, <<"u-1">>}, {<<"Caller">>, <<"1000">>}, '
        '{<<"Target-Node">>, <<"e@h">>}, {<<"Switch-Nodename">>, <<"fs@h">>}, '
        '{<<"body">>, <<"body">>}]}',
    ),
    (
        Raw(
            encode_legacy_event(
                Event("CHANNEL_CREATE"), "e@h", "fs@h", LegacyFilter(event_filter=frozenset())
            )
        ),
        "{event, [undefined]}",
    ),
]


async def python_to_erlang(erl: ErlNode) -> None:
    checks = []
    for value, expr in PY_TO_ERL:
        data = bytes(value) if isinstance(value, Raw) else encode(value)
        checks.append(f'(binary_to_term(base64:decode(<<"{b64(data)}">>)) =:= ({expr}))')
    verdict = await erl.eval("[" + ", ".join(checks) + "].")
    results = verdict.strip("[]").split(",")
    failed = [PY_TO_ERL[i][1] for i, r in enumerate(results) if r != "true"]
    assert not failed
    assert len(results) == len(PY_TO_ERL)


def test_neg_zero_helper() -> None:
    assert neg_zero(struct.unpack(">d", b"\x80" + b"\x00" * 7)[0])
    assert not neg_zero(0.0)
