"""Stream settings (queue bounds, accepted clients) and the legacy side of the kazoo.conf lookup."""

from __future__ import annotations

import pytest
import trio

from kazoo_trio.kazoo.config import (
    Settings,
    SettingsError,
    settings_from_toml,
    settings_from_xml,
)
from kazoo_trio.kazoo.fetch.agents import FetchAgents
from kazoo_trio.kazoo.fetch.kazoo_conf import KazooConf, Profiles
from kazoo_trio.kazoo.requests.options import OptionsTable
from kazoo_trio.kazoo.streams.table import StreamTable
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import XmlLookup
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.term.types import Atom, Pid
from tests.waiting import wait_until


def test_stream_settings_defaults() -> None:
    settings = Settings()
    assert settings.event_stream_max_events == 25_000  # mod_kazoo's MAX_QUEUE_LEN
    assert settings.event_stream_max_bytes == 32 * 1024 * 1024
    assert settings.event_stream_clients == ("node",)


def test_stream_settings_from_toml_and_xml() -> None:
    toml = settings_from_toml(
        "event-stream-max-events = 10\n"
        "event_stream_max_bytes = 4096\n"
        'event-stream-clients = ["node", "10.0.0.7", "::1"]\n'
    )
    assert toml.event_stream_max_events == 10
    assert toml.event_stream_max_bytes == 4096
    assert toml.event_stream_clients == ("node", "10.0.0.7", "::1")
    xml = settings_from_xml(
        '<configuration name="kazoo.conf"><settings>'
        '<param name="event-stream-max-events" value="7"/>'
        '<param name="event-stream-clients" value="ANY"/>'
        "</settings></configuration>"
    )
    assert xml.event_stream_max_events == 7
    assert xml.event_stream_clients == ("any",)
    listed = settings_from_xml(
        '<configuration name="kazoo.conf"><settings>'
        '<param name="event-stream-clients" value="10.0.0.1; 10.0.0.2,node"/>'
        "</settings></configuration>"
    )
    assert listed.event_stream_clients == ("10.0.0.1", "10.0.0.2", "node")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("event-stream-max-events", "0", "greater than zero"),
        ("event-stream-max-bytes", "-5", "greater than zero"),
        ("event-stream-clients", "somewhere", "neither node, any nor an IP address"),
        ("event-stream-clients", "any;10.0.0.1", "any cannot be combined"),
        ("event-stream-clients", " ; ", "needs node, any"),
    ],
)
def test_bad_stream_settings_name_key_and_value(key: str, value: str, expected: str) -> None:
    xml = (
        f'<configuration name="kazoo.conf"><settings><param name="{key}" value="{value}"/>'
        "</settings></configuration>"
    )
    with pytest.raises(SettingsError, match=expected) as info:
        settings_from_xml(xml)
    assert key in str(info.value)


def test_allowed_hosts_of_new_streams() -> None:
    def table(clients: tuple[str, ...]) -> StreamTable:
        return StreamTable(OptionsTable(Settings()), "fs@h", clients=clients)

    assert table(("node",)).allowed_hosts("10.1.1.1") == frozenset({"10.1.1.1"})
    assert table(("any",)).allowed_hosts("10.1.1.1") is None
    assert table(("node", "10.2.2.2")).allowed_hosts("10.1.1.1") == frozenset(
        {"10.1.1.1", "10.2.2.2"}
    )
    assert table(("10.2.2.2",)).allowed_hosts("10.1.1.1") == frozenset({"10.2.2.2"})
    # No address known for the node: only what is listed (here nobody), never anybody.
    assert table(("node",)).allowed_hosts(None) == frozenset()
    assert table(("node", "10.2.2.2")).allowed_hosts(None) == frozenset({"10.2.2.2"})


async def test_stream_table_applies_the_queue_bounds() -> None:
    options = OptionsTable(Settings())
    streams = StreamTable(options, "fs@h", listen_ip="127.0.0.1", max_events=3, max_bytes=999)
    node = Atom("e@127.0.0.1")
    async with trio.open_nursery() as nursery:
        await nursery.start(streams.run)
        await streams.subscribe(Pid(node, 1, 0, 1), node, ["CHANNEL_CREATE"], "127.0.0.1")
        ((_, stream),) = streams.streams_of(node)
        assert (stream.options.max_events, stream.options.max_bytes) == (3, 999)
        assert stream.options.allowed_hosts == frozenset({"127.0.0.1"})
        nursery.cancel_scope.cancel()


FILTER_ANSWER = (
    '<document type="freeswitch/xml"><section name="configuration">'
    '<configuration name="kazoo.conf"><event-filter>'
    '<header name="Unique-ID"/><header name="X-Only-This"/>'
    "</event-filter></configuration></section></document>"
)


async def test_legacy_nodes_ask_for_the_request_filter() -> None:
    switch = SimSwitch()
    options = OptionsTable(Settings())
    streams = StreamTable(options, "fs@h")
    asked: list[str | None] = []

    async def handler(lookup: XmlLookup) -> str | None:
        action = lookup.params.get("Action")
        asked.append(action)
        return FILTER_ANSWER if action == "request-filter" else None

    switch.bind_xml(["configuration"], handler)
    conf = KazooConf(switch, streams, options, Profiles(None), delay=0.01)
    legacy = Atom("legacy@h")
    modern = Atom("modern@h")
    options.connected(legacy).legacy = True
    await conf.fetch_now()
    assert asked == ["request-filter"]
    assert streams.legacy_filter.event_filter == frozenset({"Unique-ID", "X-Only-This"})
    asked.clear()
    options.connected(modern)
    await conf.fetch_now()
    assert asked == ["request-handlers", "request-filter"]
    asked.clear()
    options.disconnected(legacy)
    await conf.fetch_now()
    assert asked == ["request-handlers"]


async def test_kazoo_conf_lookup_waits_for_the_delay(autojump_clock: trio.abc.Clock) -> None:
    switch = SimSwitch()
    options = OptionsTable(Settings())
    streams = StreamTable(options, "fs@h")
    asked_at: list[float] = []

    async def handler(lookup: XmlLookup) -> str | None:
        asked_at.append(trio.current_time())
        return None

    switch.bind_xml(["configuration"], handler)
    conf = KazooConf(switch, streams, options, Profiles(None), delay=10.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(conf.run)
        start = trio.current_time()
        conf.configuration_bound()
        await wait_until(lambda: conf.lookups == 1, timeout=60)
        assert asked_at[0] - start == pytest.approx(10.0)
        # config: the same delay again.
        start = trio.current_time()
        conf.request()
        await wait_until(lambda: conf.lookups == 2, timeout=60)
        assert asked_at[1] - start == pytest.approx(10.0)
        nursery.cancel_scope.cancel()


def _fetch_agents(sent: list[tuple[Pid, object]], **changes: object) -> FetchAgents:
    async def send(pid: Pid, message: object) -> None:
        sent.append((pid, message))

    return FetchAgents(
        send=send,
        switch_nodename="fs@h",
        is_legacy=lambda node: False,
        channel_headers=lambda uuid: None,
        get_global={"user": "1000"}.get,
        **changes,  # type: ignore[arg-type]
    )


DOC = (
    '<document type="freeswitch/xml"><section name="directory">'
    '<domain name="example.com"><user id="$${user}"/></domain></section></document>'
)
NODE = Atom("e@h")
HANDLER = Pid(NODE, 7, 0, 1)


async def _answer(fa: FetchAgents, sent: list[tuple[Pid, object]], xml: str) -> str | None:
    params = Event("REQUEST_PARAMS", [("Action", "sip_auth"), ("user", "a%20b")])
    result: list[str | None] = []
    async with trio.open_nursery() as nursery:

        async def ask() -> None:
            result.append(await fa.lookup(XmlLookup("directory", "domain", "name", "x", params)))

        nursery.start_soon(ask)
        await wait_until(lambda: bool(sent))
        _, message = sent[-1]
        assert isinstance(message, tuple)
        jobj = dict(message[1][0])
        assert jobj[b"user"] == b"a b"  # parameter headers are URL-decoded
        reply = (Atom("fetch_reply"), Atom("directory"), jobj[b"Fetch-UUID"], xml.encode())
        assert fa.reply(reply) is Atom("ok")
    return result[0]


async def test_global_expansion_of_replies_follows_the_setting() -> None:
    sent: list[tuple[Pid, object]] = []
    on = _fetch_agents(sent)
    on.bind("directory", NODE, HANDLER)
    assert await _answer(on, sent, DOC) == DOC.replace("$${user}", "1000")
    sent_off: list[tuple[Pid, object]] = []
    off = _fetch_agents(sent_off, expand_headers=False)
    off.bind("directory", NODE, HANDLER)
    assert await _answer(off, sent_off, DOC) == DOC


async def test_a_lookup_waits_exactly_the_advertised_fetch_timeout(
    autojump_clock: trio.abc.Clock,
) -> None:
    sent: list[tuple[Pid, object]] = []
    fa = _fetch_agents(sent, default_timeout_us=3_500_000)
    fa.bind("directory", NODE, HANDLER)
    params = Event("REQUEST_PARAMS", [("Action", "sip_auth")])
    start = trio.current_time()
    assert await fa.lookup(XmlLookup("directory", "domain", "name", "x", params)) is None
    assert trio.current_time() - start == pytest.approx(3.5)
    ((_, message),) = sent
    assert isinstance(message, tuple) and isinstance(message[1], tuple)
    assert dict(message[1][0])[b"Fetch-Timeout"] == b"3500000"
    assert fa.pending_count() == 0


async def test_closing_a_nodes_streams_takes_them_all_out_at_once() -> None:
    options = OptionsTable(Settings())
    streams = StreamTable(options, "fs@h", listen_ip="127.0.0.1")
    node = Atom("e@127.0.0.1")
    other = Atom("o@127.0.0.1")
    async with trio.open_nursery() as nursery:
        await nursery.start(streams.run)
        for i in (1, 2, 3):
            await streams.subscribe(Pid(node, i, 0, 1), node, ["ALL"], "127.0.0.1")
        await streams.subscribe(Pid(other, 1, 0, 1), other, ["ALL"], "127.0.0.1")
        closed: list[int] = []

        async def close() -> None:
            closed.append(await streams.close_node(node))

        nursery.start_soon(close)
        # While the first stream is still closing, the others are out of the table
        # already: nothing offered now reaches them (nor revives the node's options).
        with trio.fail_after(5):
            while len(streams) == 4:
                await trio.lowlevel.checkpoint()
        assert not closed and len(streams) == 1 and streams.streams_of(node) == []
        await wait_until(lambda: closed == [3])
        nursery.cancel_scope.cancel()
