"""Argument decoding and the erlang API command's option texts."""

from __future__ import annotations

import pytest

from kazoo_trio.kazoo.config import Settings
from kazoo_trio.kazoo.requests.arguments import (
    BadArg,
    atom_list,
    atom_name,
    header_list,
    request_parts,
    text,
)
from kazoo_trio.kazoo.requests.options import USAGE, ErlangCommand, OptionsTable
from kazoo_trio.term.types import Atom

A = Atom


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        (b"abc", "abc"),
        (list(b"abc"), "abc"),
        ([], ""),
        (b"", ""),
        ("caf\u00e9".encode(), "caf\u00e9"),
    ],
)
def test_text_accepts_strings_and_binaries(term: object, expected: str) -> None:
    assert text(term) == expected


@pytest.mark.parametrize("term", [A("abc"), [256], [b"a"], ["a"], 1, (b"a",), [True]])
def test_text_rejects_everything_else(term: object) -> None:
    with pytest.raises(BadArg):
        text(term)


def test_text_limit_has_no_off_by_one() -> None:
    assert text(b"x" * 37, 37) == "x" * 37
    with pytest.raises(BadArg):
        text(b"x" * 38, 37)


def test_non_utf8_bytes_survive_a_round_trip() -> None:
    from kazoo_trio.kazoo.requests.arguments import to_binary

    assert to_binary(text(b"\xff\xfe")) == b"\xff\xfe"


def test_atoms() -> None:
    assert atom_name(A("api")) == "api"
    with pytest.raises(BadArg):
        atom_name(b"api")
    with pytest.raises(BadArg):
        atom_name(A("x" * 256))
    assert atom_list([A("CHANNEL_CREATE"), A("sofia::register")]) == [
        "CHANNEL_CREATE",
        "sofia::register",
    ]
    for bad in ([], [A("a"), b"b"], A("a"), b"a"):
        with pytest.raises(BadArg):
            atom_list(bad)


def test_header_list_keeps_going_after_empty_values() -> None:
    # mod_kazoo stopped at the first "" value and dropped the rest.
    headers = [(b"a", []), (list(b"b"), b""), (b"c", b"3")]
    assert header_list(headers) == [("a", ""), ("b", ""), ("c", "3")]


@pytest.mark.parametrize(
    "bad",
    [
        [(b"a", b"1"), b"not a tuple"],
        [(b"a", b"1", b"2")],
        [(A("a"), b"1")],
        [(b"", b"1")],
        [(b"x" * 1025, b"1")],
        (b"a", b"1"),
        b"a",
    ],
)
def test_header_list_rejects(bad: object) -> None:
    with pytest.raises(BadArg):
        header_list(bad)


def test_request_parts() -> None:
    assert request_parts(A("version")) == ("version", (A("version"),))
    req = (A("api"), A("status"), b"")
    assert request_parts(req) == ("api", req)
    for bad in (b"version", (b"api",), (), [A("api")]):
        with pytest.raises(BadArg):
            request_parts(bad)


class NoDiagnostics:
    def status_lines(self) -> list[str]:
        return ["status"]

    def event_filter_lines(self) -> list[str]:
        return ["Event-Name"]

    def connection_lines(self, node: Atom) -> list[str]:
        return [f"connection {node.name}"]

    def event_stream_lines(self, node: Atom) -> list[str]:
        return []

    def fetch_binding_lines(self, node: Atom) -> list[str]:
        return []


def command(table: OptionsTable, disconnected: list[Atom] | None = None) -> ErlangCommand:
    async def disconnect(node: Atom) -> None:
        if disconnected is not None:
            disconnected.append(node)

    return ErlangCommand(table, NoDiagnostics(), disconnect)


async def test_erlang_option_get_and_set() -> None:
    table = OptionsTable(Settings(event_stream_framing=4))
    node = A("ecallmgr@host")
    table.connected(node)
    cmd = command(table)
    run = cmd.run
    assert await run("node ecallmgr@host option event-stream-framing") == "+OK 4"
    assert await run("node ecallmgr@host option event-stream-framing 2") == "+OK 2"
    assert table.get(node).framing == 2
    assert (
        await run("node ecallmgr@host option event-stream-framing 3")
        == "-ERR Invalid event stream framing value (3)"
    )
    assert await run("node ecallmgr@host option enable-legacy false") == "+OK false"
    assert await run("node ecallmgr@host option enable-legacy yes") == "+OK true"
    assert table.get(node).legacy is True
    assert await run("node ecallmgr@host option event-stream-keepalive off") == "+OK 0"
    assert await run("node ecallmgr@host option nosuch") == "-ERR invalid option nosuch"
    # No connection whose name is a prefix of the argument: no output.
    assert await run("node other@host option enable-legacy") == ""
    assert await run("bogus") == USAGE


async def test_erlang_node_prefix_match_newest_first_and_reset_on_reconnect() -> None:
    table = OptionsTable(Settings())
    old, new = A("eca@h"), A("eca@ho")
    table.connected(old)
    table.connected(new)
    cmd = command(table)
    # Both names are prefixes of "eca@host"; the newest connection wins.
    await cmd.run("node eca@host option enable-legacy true")
    assert table.get(new).legacy and not table.get(old).legacy
    table.disconnected(new)
    table.connected(new)  # reconnect: options start again from the settings
    assert table.get(new).legacy is False
    assert await cmd.run("nodes count") == "2\n"
    assert await cmd.run("nodes list") == "eca@ho\neca@h\n"


async def test_erlang_node_disconnect() -> None:
    table = OptionsTable(Settings())
    node = A("e1@127.0.0.1")
    table.connected(node)
    gone: list[Atom] = []
    assert "disconnected" in await command(table, gone).run("node e1@127.0.0.1 disconnect")
    assert gone == [node]
