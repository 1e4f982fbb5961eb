"""Fetch agents without the network: a fake sender stands in for the Erlang handlers."""

from __future__ import annotations

import pytest
import trio

from kazoo_trio.kazoo.fetch.agents import FetchAgents, parse_section
from kazoo_trio.kazoo.requests.arguments import BadArg
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import XmlLookup
from kazoo_trio.term.types import Atom, Pid

A = Atom
N1 = A("e1@127.0.0.1")
N2 = A("e2@127.0.0.1")
P1 = Pid(N1, 1)
P1B = Pid(N1, 2)
P2 = Pid(N2, 1)

DIRECTORY = (
    '<document type="freeswitch/xml"><section name="directory">'
    '<domain name="example.com"><user id="$${user}"/></domain></section></document>'
)
NOT_FOUND = (
    '<document type="freeswitch/xml"><section name="result" description="Route Not Found">'
    '<result status="not found"/></section></document>'
)


class Handlers:
    """Records fetch requests; tests answer them through FetchAgents.reply."""

    def __init__(self) -> None:
        self.send_channel, self.receive_channel = trio.open_memory_channel[tuple[Pid, object]](100)
        self.fail_for: set[Pid] = set()

    async def send(self, pid: Pid, message: object) -> None:
        if pid in self.fail_for:
            raise OSError("connection gone")
        await self.send_channel.send((pid, message))

    async def next(self) -> tuple[Pid, object]:
        with trio.fail_after(5):
            return await self.receive_channel.receive()


def agents(handlers: Handlers, *, legacy: bool = False, timeout_us: int = 2_000_000) -> FetchAgents:
    globals_ = {"user": "1000"}
    channels = {"chan-1": [("Unique-ID", "chan-1"), ("Channel-State", "CS_EXECUTE")]}
    return FetchAgents(
        send=handlers.send,
        switch_nodename="freeswitch@127.0.0.1",
        is_legacy=lambda node: legacy,
        channel_headers=channels.get,
        get_global=globals_.get,
        default_timeout_us=timeout_us,
    )


def lookup(section: str = "directory", **headers: str) -> XmlLookup:
    params = Event("REQUEST_PARAMS", [("Action", "sip_auth"), *headers.items()])
    return XmlLookup(section, "domain", "name", "example.com", params)


def fields(message: object) -> dict[str, object]:
    assert isinstance(message, tuple) and message[0] is A("fetch") and len(message) == 2
    jobj = message[1]
    assert isinstance(jobj, tuple)
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in jobj[0]
    }


def uuid_of(message: object) -> bytes:
    value = fields(message)["Fetch-UUID"]
    return value if isinstance(value, bytes) else str(value).encode()


def reply(fa: FetchAgents, section: str, fetch_uuid: bytes, xml: object) -> object:
    return fa.reply((A("fetch_reply"), A(section), fetch_uuid, xml))


@pytest.mark.parametrize(
    ("name", "section"),
    [
        ("configuration", "configuration"),
        ("config", "configuration"),
        ("Dialplan", "dialplan"),
        ("directory", "directory"),
        ("channels", "channels"),
        ("my_languages", "languages"),
    ],
)
def test_section_names(name: str, section: str) -> None:
    assert parse_section(A(name)) == section


@pytest.mark.parametrize("bad", [A("foo"), A("directory_dialplan"), b"directory", 1])
def test_bad_section_names(bad: object) -> None:
    with pytest.raises(BadArg):
        parse_section(bad)


async def test_no_handler_is_an_immediate_miss(autojump_clock: trio.abc.Clock) -> None:
    fa = agents(Handlers())
    start = trio.current_time()
    assert await fa.lookup(lookup()) is None
    assert trio.current_time() == start  # virtual time: no fetch timeout was waited out


async def test_lookup_answered_with_globals_expanded() -> None:
    handlers = Handlers()
    fa = agents(handlers)
    fa.bind("directory", N1, P1)
    async with trio.open_nursery() as nursery:
        result: list[str | None] = []

        async def ask() -> None:
            result.append(await fa.lookup(lookup(**{"Fetch-Call-UUID": "chan-1"})))

        nursery.start_soon(ask)
        pid, message = await handlers.next()
        assert pid == P1
        f = fields(message)
        assert f["Fetch-Section"] == "directory"
        assert f["Fetch-Key-Value"] == "example.com"
        assert f["Fetch-Timeout"] == 2_000_000 or f["Fetch-Timeout"] == "2000000"
        assert f["Kazoo-Bundle"] == "community"
        assert f["Switch-Nodename"] == "freeswitch@127.0.0.1"
        # The channel named by Fetch-Call-UUID contributed its data.
        assert f["Channel-State"] == "CS_EXECUTE"
        assert reply(fa, "directory", uuid_of(message), DIRECTORY.encode()) is A("ok")
    assert result == [DIRECTORY.replace("$${user}", "1000")]


async def test_not_found_is_a_miss_and_second_reply_is_baduuid() -> None:
    handlers = Handlers()
    fa = agents(handlers)
    fa.bind("directory", N1, P1)
    async with trio.open_nursery() as nursery:
        result: list[str | None] = []

        async def ask() -> None:
            result.append(await fa.lookup(lookup()))

        nursery.start_soon(ask)
        _, message = await handlers.next()
        fetch_uuid = uuid_of(message)
        # Wrong section: baduuid, and the lookup keeps waiting.
        assert reply(fa, "dialplan", fetch_uuid, b"<x/>") == (A("error"), A("baduuid"))
        assert reply(fa, "directory", fetch_uuid, list(NOT_FOUND.encode())) is A("ok")
        assert reply(fa, "directory", fetch_uuid, b"<x/>") == (A("error"), A("baduuid"))
    assert result == [None]


@pytest.mark.parametrize(
    "request_",
    [
        (A("fetch_reply"), A("nosuch"), b"u", b"<x/>"),
        (A("fetch_reply"), b"directory", b"u", b"<x/>"),
        (A("fetch_reply"), A("directory"), b"", b"<x/>"),
        (A("fetch_reply"), A("directory"), [], b"<x/>"),
        (A("fetch_reply"), A("directory"), b"u", b""),
        (A("fetch_reply"), A("directory"), b"u", []),
        (A("fetch_reply"), A("directory"), b"u", A("xml")),
        (A("fetch_reply"), A("directory"), b"u"),
    ],
)
def test_fetch_reply_badarg(request_: tuple[object, ...]) -> None:
    assert agents(Handlers()).reply(request_) == (A("error"), A("badarg"))


def test_fetch_reply_unknown_uuid() -> None:
    fa = agents(Handlers())
    assert reply(fa, "directory", b"0000", b"<x/>") == (A("error"), A("baduuid"))


async def test_timeout_then_late_reply_is_baduuid() -> None:
    handlers = Handlers()
    fa = agents(handlers, timeout_us=50_000)
    fa.bind("directory", N1, P1)
    async with trio.open_nursery() as nursery:
        done = trio.Event()
        result: list[str | None] = []

        async def ask() -> None:
            result.append(await fa.lookup(lookup()))
            done.set()

        nursery.start_soon(ask)
        _, message = await handlers.next()
        with trio.fail_after(5):
            await done.wait()
    assert result == [None]
    assert reply(fa, "directory", uuid_of(message), DIRECTORY.encode()) == (
        A("error"),
        A("baduuid"),
    )
    assert fa.pending_count() == 0


async def answer_all(fa: FetchAgents, handlers: Handlers, count: int) -> list[Pid]:
    seen = []
    for _ in range(count):
        pid, message = await handlers.next()
        seen.append(pid)
        assert reply(fa, "directory", uuid_of(message), b"<document/>") is A("ok")
    return seen


async def test_round_robin_over_nodes_newest_pid_within_a_node() -> None:
    handlers = Handlers()
    fa = agents(handlers)
    fa.bind("directory", N1, P1)
    fa.bind("directory", N1, P1B)  # newest handler of N1
    assert not fa.bind("directory", N1, P1B)  # idempotent
    fa.bind("directory", N2, P2)
    async with trio.open_nursery() as nursery:

        async def ask_all() -> None:
            for _ in range(4):
                assert await fa.lookup(lookup()) == "<document/>"

        nursery.start_soon(ask_all)
        seen = await answer_all(fa, handlers, 4)
    assert seen == [P1B, P2, P1B, P2]


async def test_node_without_live_handler_is_skipped() -> None:
    handlers = Handlers()
    fa = agents(handlers)
    fa.bind("directory", N1, P1)
    fa.bind("directory", N2, P2)
    fa.pid_exited(P1)
    async with trio.open_nursery() as nursery:

        async def ask_all() -> None:
            for _ in range(3):
                assert await fa.lookup(lookup()) == "<document/>"

        nursery.start_soon(ask_all)
        assert await answer_all(fa, handlers, 3) == [P2, P2, P2]


async def test_unreachable_handler_fails_over() -> None:
    handlers = Handlers()
    handlers.fail_for.add(P1)
    fa = agents(handlers)
    fa.bind("directory", N1, P1)
    fa.bind("directory", N2, P2)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fa.lookup, lookup())
        assert await answer_all(fa, handlers, 1) == [P2]


async def test_node_down_while_waiting_fails_over_at_once() -> None:
    handlers = Handlers()
    # A timeout far beyond the test's own bound: only failover can finish in time.
    fa = agents(handlers, timeout_us=60_000_000)
    fa.bind("directory", N1, P1)
    fa.bind("directory", N2, P2)
    async with trio.open_nursery() as nursery:
        result: list[str | None] = []

        async def ask() -> None:
            result.append(await fa.lookup(lookup()))

        nursery.start_soon(ask)
        first, _ = await handlers.next()
        assert first == P1
        fa.node_down(N1)
        second, message = await handlers.next()
        assert second == P2
        assert reply(fa, "directory", uuid_of(message), b"<document/>") is A("ok")
    assert result == ["<document/>"]
    assert fa.handlers("directory") == [(N2, [P2])]


async def test_legacy_request_shape() -> None:
    handlers = Handlers()
    fa = agents(handlers, legacy=True)
    fa.bind("directory", N1, P1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(fa.lookup, XmlLookup("directory", "", "", "", Event("REQUEST_PARAMS")))
        _, message = await handlers.next()
        assert isinstance(message, tuple) and len(message) == 7
        fetch, section, tag, key, value, fetch_uuid, headers = message
        assert (fetch, section) == (A("fetch"), A("directory"))
        # Missing values are the atom undefined (mod_kazoo sent the binary).
        assert tag is key is value is A("undefined")
        assert isinstance(fetch_uuid, bytes) and len(fetch_uuid) == 36
        assert isinstance(headers, list) and headers[0] is A("undefined")
        assert (b"Fetch-UUID", fetch_uuid) in headers
        assert fa.reply((A("fetch_reply"), A("directory"), fetch_uuid, b"<a/>")) is A("ok")


async def test_unparsable_reply_is_a_miss() -> None:
    handlers = Handlers()
    fa = agents(handlers)
    fa.bind("dialplan", N1, P1)
    async with trio.open_nursery() as nursery:
        result: list[str | None] = []

        async def ask() -> None:
            result.append(await fa.lookup(lookup("dialplan")))

        nursery.start_soon(ask)
        _, message = await handlers.next()
        assert reply(fa, "dialplan", uuid_of(message), b"<document") is A("ok")
    assert result == [None]
