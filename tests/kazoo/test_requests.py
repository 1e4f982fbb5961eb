"""Every request handler against the simulated switch, without the network."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import pytest
import trio

from kazoo_trio.kazoo.config import Settings
from kazoo_trio.kazoo.fetch.agents import FetchAgents
from kazoo_trio.kazoo.requests.bgapi import BgapiJobs
from kazoo_trio.kazoo.requests.handlers import Requester, Services, handle_request
from kazoo_trio.kazoo.requests.options import OptionsTable
from kazoo_trio.kazoo.streams.table import StreamTable
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import XML_SECTIONS, ApiOutput
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.term.types import Atom, ImproperList, Pid
from tests.waiting import wait_until

A = Atom
OK = A("ok")
ERROR = A("error")
BADARG = (ERROR, A("badarg"))
BADUUID = (ERROR, A("baduuid"))
NODE = A("ecallmgr@127.0.0.1")
PID = Pid(NODE, 40, 0, 1)
ME = Pid(A("freeswitch@127.0.0.1"), 2, 0, 1)
CHANNEL = "7f4de4bc-17d7-11dd-b7a0-db4edd065621"
# FreeSWITCH allows custom channel UUIDs longer than mod_kazoo's 37-byte buffer.
LONG_CHANNEL = "custom-" + "x" * 60


@attrs.define
class RecordingChannel:
    """A live channel of the simulated core that records what is queued on it."""

    uuid: str
    queued: list[Event] = attrs.field(factory=list)

    def event_headers(self) -> list[tuple[str, str]]:
        return [
            ("Unique-ID", self.uuid),
            ("Channel-State", "CS_EXECUTE"),
            ("Caller-Caller-ID-Number", "1000"),
            ("variable_ecallmgr_Account-ID", "acc"),
        ]

    def get_variable(self, name: str) -> str | None:
        return None

    async def queue_private_event(self, event: Event) -> None:
        self.queued.append(event)


@attrs.define
class FakeNode:
    """The local node as the handlers see it: records links and disconnects."""

    linked: list[Pid] = attrs.field(factory=list)
    disconnected: list[Atom] = attrs.field(factory=list)

    @property
    def self_pid(self) -> Pid:
        return ME

    async def link(self, pid: Pid) -> None:
        self.linked.append(pid)

    def disconnect_soon(self, node: Atom) -> None:
        self.disconnected.append(node)

    def addresses(self, node: Atom) -> tuple[str, str] | None:
        return ("127.0.0.1", "127.0.0.1")


@attrs.define
class Harness:
    services: Services
    switch: SimSwitch
    node: FakeNode
    sent: trio.MemoryReceiveChannel[tuple[Pid, object]]
    fired: list[Event]
    channels: dict[str, RecordingChannel]
    calls: list[str]

    async def call(self, request: object, *, pid: Pid = PID) -> object:
        return await handle_request(self.services, Requester(pid, pid.node), request)

    async def cast(self, request: object, *, pid: Pid = PID) -> object:
        return await handle_request(self.services, Requester(pid, pid.node), request, call=False)

    async def message(self) -> tuple[Pid, object]:
        with trio.fail_after(5):
            return await self.sent.receive()

    def fired_named(self, name: str) -> list[Event]:
        return [e for e in self.fired if e.name == name or e.subclass == name]


@asynccontextmanager
async def harness(bgapi_timeout: float = 30) -> AsyncIterator[Harness]:
    switch = SimSwitch()
    settings = Settings(listen_ip="127.0.0.1")
    send_channel, receive_channel = trio.open_memory_channel[tuple[Pid, object]](100)

    async def send(pid: Pid, message: object) -> None:
        await send_channel.send((pid, message))

    options = OptionsTable(settings)
    options.connected(NODE)
    fetch = FetchAgents(
        send=send,
        switch_nodename="freeswitch@127.0.0.1",
        is_legacy=lambda node: options.get(node).legacy,
        channel_headers=switch.channel_headers,
        get_global=switch.get_global,
    )
    streams = StreamTable(options, "freeswitch@127.0.0.1", listen_ip="127.0.0.1")
    bgapi = BgapiJobs(switch, send, bgapi_timeout)
    node = FakeNode()
    calls: list[str] = []
    services = Services(
        switch=switch,
        node=node,
        options=options,
        fetch=fetch,
        bgapi=bgapi,
        streams=streams,
        configuration_bound=lambda: calls.append("configuration_bound"),
        config_requested=lambda: calls.append("config_requested"),
    )
    switch.bind_xml(XML_SECTIONS, fetch.lookup)
    fired: list[Event] = []
    switch.add_listener(fired.append)
    channels = {uuid: RecordingChannel(uuid) for uuid in (CHANNEL, LONG_CHANNEL)}
    for channel in channels.values():
        switch.channels.add(channel)

    async def echo(args: str) -> ApiOutput:
        return ApiOutput(args)

    async def fail(args: str) -> ApiOutput:
        return ApiOutput(args, ok=False)

    async def slow(args: str) -> ApiOutput:
        await trio.sleep(float(args))
        return ApiOutput("+OK slept")

    switch.register_api("kt_echo", echo)
    switch.register_api("kt_fail", fail)
    switch.register_api("kt_slow", slow)
    async with trio.open_nursery() as nursery:
        await nursery.start(streams.run)
        await nursery.start(bgapi.run)
        yield Harness(services, switch, node, receive_channel, fired, channels, calls)
        nursery.cancel_scope.cancel()


# -- small requests -------------------------------------------------------------------------


async def test_version_is_three_words_with_a_newer_release() -> None:
    async with harness() as h:
        reply = await h.call(A("version"))
    assert isinstance(reply, tuple) and reply[0] is OK
    assert isinstance(reply[1], bytes)
    module, release, bundle = reply[1].split(b" ")
    assert (module, bundle) == (b"mod_kazoo", b"community")
    assert release > b"v1.5"


async def test_getpid_link_exit_config() -> None:
    async with harness() as h:
        assert await h.call(A("getpid")) == (OK, ME)
        assert await h.call(A("link")) is OK
        assert h.node.linked == [PID]
        assert await h.call((A("config"), [A("acl.conf")])) is OK
        assert await h.cast(A("config")) is OK
        assert h.calls == ["config_requested", "config_requested"]
        assert await h.call(A("exit")) is OK
        assert h.node.disconnected == [NODE]


@pytest.mark.parametrize(
    "request_",
    [
        A("no_legacy"),
        A("api"),  # a request that needs arguments, sent bare
        A("sendmsg"),
        (A("api"), A("status")),  # a missing argument
        b"version",
        (b"api", A("status"), b""),
        [A("version")],
        ImproperList((A("version"),), A("x")),
        (),
    ],
)
async def test_unknown_or_malformed_requests_are_badarg(request_: object) -> None:
    async with harness() as h:
        assert await h.call(request_) == BADARG


async def test_extra_trailing_elements_are_ignored() -> None:
    async with harness() as h:
        assert await h.call((A("api"), A("kt_echo"), b"x", b"extra")) == (OK, b"x")


# -- api / api4 ---------------------------------------------------------------------------


@pytest.mark.parametrize("args", [b"hello", list(b"hello")])
async def test_api_ok_with_string_or_binary_args(args: object) -> None:
    async with harness() as h:
        assert await h.call((A("api"), A("kt_echo"), args)) == (OK, b"hello")


async def test_api_outcomes() -> None:
    async with harness() as h:
        assert await h.call((A("api"), A("kt_echo"), [])) == (
            OK,
            b"kt_echo: Command returned no output",
        )
        assert await h.call((A("api"), A("kt_fail"), b"-ERR nope")) == (ERROR, b"-ERR nope")
        assert await h.call((A("api"), A("kt_fail"), b"")) == (
            ERROR,
            b"kt_fail: Command failed without output",
        )
        assert await h.call((A("api"), A("no_such_cmd"), b"")) == (
            ERROR,
            b"no_such_cmd: Command not found",
        )
        assert await h.call((A("api"), b"kt_echo", b"")) == BADARG
        assert await h.call((A("api"), A("kt_echo"), A("x"))) == BADARG
        # Every api fires an API event.
        assert len(h.fired_named("API")) == 4


async def test_api_args_are_expanded() -> None:
    async with harness() as h:
        h.switch.set_global("kt_var", "expanded")
        assert await h.call((A("api"), A("kt_echo"), b"$${kt_var} \\$x")) == (
            OK,
            b"expanded $x",
        )


async def test_api4_error_carries_the_api_event() -> None:
    async with harness() as h:
        assert await h.call((A("api4"), A("kt_echo"), b"fine")) == (OK, b"fine")
        reply = await h.call((A("api4"), A("kt_fail"), b"-ERR bad%20thing"))
    assert isinstance(reply, tuple) and len(reply) == 3
    assert reply[:2] == (ERROR, b"-ERR bad%20thing")
    headers = reply[2]
    assert isinstance(headers, list) and headers[0] is A("undefined")
    pairs: dict[object, object] = dict(h for h in headers[1:] if isinstance(h, tuple))
    assert pairs[b"Event-Name"] == b"API"
    assert pairs[b"API-Command"] == b"kt_fail"
    assert pairs[b"API-Result"] == b"error"
    # api4's list is URL-decoded.
    assert pairs[b"API-Error"] == b"-ERR bad thing"


# -- bgapi ------------------------------------------------------------------------------


async def test_bgapi_replies_at_once_then_sends_the_result() -> None:
    async with harness() as h:
        reply = await h.call((A("bgapi"), A("kt_echo"), b"+OK done"))
        assert isinstance(reply, tuple) and reply[0] is OK
        job = reply[1]
        assert isinstance(job, bytes) and len(job) == 36
        assert await h.message() == (PID, (A("bgok"), job, b"+OK done"))
        reply = await h.call((A("bgapi"), A("kt_fail"), b"-ERR no"))
        assert isinstance(reply, tuple)
        assert await h.message() == (PID, (A("bgerror"), reply[1], b"-ERR no"))
        reply = await h.call((A("bgapi"), A("nonexistent"), b""))
        assert isinstance(reply, tuple)
        assert await h.message() == (
            PID,
            (A("bgerror"), reply[1], b"nonexistent: Command not found"),
        )
        assert await h.call((A("bgapi"), A("kt_echo"), 42)) == BADARG


async def test_bgapi4_sends_four_tuples_with_headers() -> None:
    async with harness() as h:
        reply = await h.call((A("bgapi4"), A("kt_echo"), b"+OK x%41"))
        assert isinstance(reply, tuple)
        pid, message = await h.message()
    assert pid == PID and isinstance(message, tuple) and len(message) == 4
    assert message[:3] == (A("bgok"), reply[1], b"+OK x%41")
    pairs: dict[object, object] = dict(p for p in message[3] if isinstance(p, tuple))
    assert pairs[b"API-Result"] == b"success"
    # bgapi4's list is not URL-decoded.
    assert pairs[b"API-Output"] == b"+OK x%41"


async def test_bgapi_deadline_reports_bgerror() -> None:
    async with harness(bgapi_timeout=0.05) as h:
        reply = await h.call((A("bgapi"), A("kt_slow"), b"60"))
        assert isinstance(reply, tuple)
        pid, message = await h.message()
    assert pid == PID
    assert isinstance(message, tuple) and message[:2] == (A("bgerror"), reply[1])
    assert b"timed out" in message[2]


async def test_bgapi_jobs_of_a_lost_node_are_cancelled_silently() -> None:
    async with harness() as h:
        await h.call((A("bgapi"), A("kt_slow"), b"60"))
        assert h.services.bgapi.running(NODE) == 1
        h.services.bgapi.node_down(NODE)
        await wait_until(lambda: not h.services.bgapi.running(), timeout=5)
        with pytest.raises(trio.WouldBlock):
            h.sent.receive_nowait()


# -- json_api -----------------------------------------------------------------------------


async def test_json_api() -> None:
    async with harness() as h:

        async def echo(request: dict[str, object]) -> tuple[bool, object]:
            return True, {"got": request.get("data")}

        h.switch.register_json_api("kt.echo", echo)
        assert await h.call((A("json_api"), b'{"command":"kt.echo","data":"x"}')) == (
            OK,
            b'{"command":"kt.echo","data":"x","status":"success","response":{"got":"x"}}',
        )
        reply = await h.call((A("json_api"), b'{"command":"nope","data":""}'))
        assert isinstance(reply, tuple) and reply[0] is ERROR
        assert b'"status":"error"' in reply[1]
        assert await h.call((A("json_api"), b'{"command": "x", ')) == (
            ERROR,
            (A("parse_error"), b""),
        )
        assert await h.call((A("json_api"), b'{"a":1} trailing')) == (
            ERROR,
            (A("parse_error"), b"trailing"),
        )
        assert await h.call((A("json_api"), b'{"command":"kt.echo","data":"","uuid":"nope"}')) == (
            BADUUID
        )
        body = f'{{"command":"kt.echo","data":"","uuid":"{CHANNEL}"}}'.encode()
        reply = await h.call((A("json_api"), body))
        assert isinstance(reply, tuple) and reply[0] is OK
        assert await h.call((A("json_api"), A("x"))) == BADARG
        # A cast is ignored (mod_kazoo crashed) and runs nothing.
        calls = len(h.fired)
        await h.cast((A("json_api"), b'{"command":"kt.echo","data":""}'))
        assert len(h.fired) == calls


# -- sendevent ----------------------------------------------------------------------------


async def test_sendevent_core_and_custom() -> None:
    async with harness() as h:
        assert (
            await h.call(
                (
                    A("sendevent"),
                    A("notify"),
                    [
                        (b"to-uri", []),
                        (b"profile", b"sipinterface_1"),
                        (b"body", b"hello"),
                    ],
                )
            )
            is OK
        )
        (notify,) = h.fired_named("NOTIFY")
        # The header after an empty value is kept (mod_kazoo dropped the rest).
        assert notify.get("profile") == "sipinterface_1"
        assert notify.body == "hello"
        # Created where mod_kazoo created it (kazoo_node.c).
        assert (notify.get("Event-Calling-File"), notify.get("Event-Calling-Function")) == (
            "kazoo_node.c",
            "handle_request_sendevent",
        )
        assert (
            await h.cast(
                (
                    A("sendevent"),
                    A("SWITCH_EVENT_CUSTOM"),
                    A("CHANNEL_SYNC"),
                    [
                        (b"Call-ID", CHANNEL.encode()),
                        (b"Event-PID", b"<0.1.0>"),
                        (b"Event-Node", b"ecallmgr@127.0.0.1"),
                    ],
                )
            )
            is OK
        )
        (sync,) = h.fired_named("CHANNEL_SYNC")
        assert sync.name == "CUSTOM" and sync.get("Event-Subclass") == "CHANNEL_SYNC"
        # The live channel's data came in with Call-ID.
        assert sync.get("Channel-State") == "CS_EXECUTE"
        assert sync.get("Unique-ID") == CHANNEL
        assert sync.get("Event-Node") == "ecallmgr@127.0.0.1"
        # Created where mod_kazoo created it (kazoo_node.c).
        assert (sync.get("Event-Calling-File"), sync.get("Event-Calling-Function")) == (
            "kazoo_node.c",
            "handle_request_sendevent",
        )


@pytest.mark.parametrize(
    "request_",
    [
        (A("sendevent"), A("NO_SUCH_EVENT"), []),
        (A("sendevent"), A("ALL"), []),
        (A("sendevent"), b"NOTIFY", []),
        (A("sendevent"), A("CUSTOM"), b"sub", []),
        (A("sendevent"), A("CUSTOM"), [(b"a", b"b")]),
        (A("sendevent"), A("NOTIFY"), [(b"a", b"b"), A("junk")]),
        (A("sendevent"), A("NOTIFY"), [(b"a",)]),
        (A("sendevent"), A("NOTIFY"), b"not a list"),
    ],
)
async def test_sendevent_badarg(request_: object) -> None:
    async with harness() as h:
        assert await h.call(request_) == BADARG
        assert not h.fired


# -- sendmsg / command / commands ---------------------------------------------------------


async def test_sendmsg() -> None:
    async with harness() as h:
        headers = [(list(b"call-command"), list(b"execute")), (b"execute-app-name", b"park")]
        assert await h.call((A("sendmsg"), CHANNEL.encode(), headers)) is OK
        (event,) = h.channels[CHANNEL].queued
        assert event.name == "SEND_MESSAGE"
        assert event.get("call-command") == "execute"
        # Created where mod_kazoo created it (kazoo_node.c).
        assert (event.get("Event-Calling-File"), event.get("Event-Calling-Function")) == (
            "kazoo_node.c",
            "handle_request_sendmsg",
        )
        assert await h.call((A("sendmsg"), list(LONG_CHANNEL.encode()), headers)) is OK
        assert await h.call((A("sendmsg"), b"unknown", headers)) == BADUUID
        assert await h.call((A("sendmsg"), [], headers)) == BADUUID
        assert await h.call((A("sendmsg"), A("x"), headers)) == BADARG
        assert await h.call((A("sendmsg"), CHANNEL.encode(), [b"x"])) == BADARG


async def test_command_returns_the_event_uuid() -> None:
    async with harness() as h:
        headers = [(b"call-command", b"execute"), (b"execute-app-name", b"answer")]
        reply = await h.call((A("command"), CHANNEL.encode(), headers))
        assert isinstance(reply, tuple) and reply[0] is OK and len(reply[1]) == 36
        (event,) = h.channels[CHANNEL].queued
        assert event.name == "COMMAND"
        assert event.get("event-uuid") == reply[1].decode()
        # Created where mod_kazoo created it (kazoo_node.c).
        assert (event.get("Event-Calling-File"), event.get("Event-Calling-Function")) == (
            "kazoo_node.c",
            "handle_request_command",
        )
        assert await h.call((A("command"), b"nope", headers)) == BADUUID


async def test_commands_all_or_nothing() -> None:
    async with harness() as h:
        one = [(b"call-command", b"execute"), (b"execute-app-name", b"set")]
        two = [(b"call-command", b"execute"), (b"execute-app-name", b"park")]
        reply = await h.call((A("commands"), CHANNEL.encode(), [one, [], two]))
        assert isinstance(reply, tuple) and reply[0] is OK
        queued = h.channels[CHANNEL].queued
        assert [e.get("event-uuid") for e in queued] == ["null", "null", reply[1].decode()]
        assert [e.get("execute-app-name") for e in queued] == ["set", None, "park"]
        assert {e.get("Event-Calling-Function") for e in queued} == {"handle_request_commands"}
        queued.clear()
        empty = await h.call((A("commands"), CHANNEL.encode(), []))
        assert isinstance(empty, tuple) and empty[0] is OK and not queued
        assert await h.call((A("commands"), CHANNEL.encode(), [one, [b"bad"]])) == BADARG
        assert not queued  # the good first command was not queued either
        assert await h.call((A("commands"), CHANNEL.encode(), b"not a list")) == BADARG
        assert await h.call((A("commands"), b"nope", [one])) == BADUUID


# -- bind / fetch_reply --------------------------------------------------------------------


async def test_bind_links_once_and_reports_configuration() -> None:
    async with harness() as h:
        assert await h.call((A("bind"), A("directory"))) is OK
        assert await h.call((A("bind"), A("directory"))) is OK
        assert await h.call((A("bind"), A("configuration"))) is OK
        assert h.node.linked == [PID]
        assert h.calls == ["configuration_bound"]
        assert h.services.fetch.handlers("directory") == [(NODE, [PID])]
        assert await h.call((A("bind"), A("nothing"))) == BADARG
        assert await h.call((A("bind"), b"directory")) == BADARG
        assert await h.call((A("fetch_reply"), A("directory"), b"u", b"<x/>")) == BADUUID
        assert await h.call((A("fetch_reply"), A("directory"), b"u", b"")) == BADARG


async def test_api_answered_by_a_fetch_handler() -> None:
    """An xml_locate api waits for the lookup it causes; the handler's reply completes it."""
    async with harness() as h:
        handler = Pid(NODE, 41, 0, 1)
        await h.call((A("bind"), A("directory")), pid=handler)
        async with trio.open_nursery() as nursery:
            result: list[object] = []

            async def locate() -> None:
                result.append(
                    await h.call((A("api"), A("xml_locate"), b"directory domain name example.com"))
                )

            nursery.start_soon(locate)
            pid, request = await h.message()
            assert pid == handler
            assert isinstance(request, tuple) and request[0] is A("fetch")
            jobj = dict(request[1][0])
            xml = (
                b'<document type="freeswitch/xml"><section name="directory">'
                b'<domain name="example.com"><user id="1000"/></domain></section></document>'
            )
            fetch_uuid = jobj[b"Fetch-UUID"]
            reply = (A("fetch_reply"), A("directory"), fetch_uuid, xml)
            assert await h.cast(reply, pid=handler) is OK
        (answer,) = result
        assert isinstance(answer, tuple) and answer[0] is OK
        assert b'<domain name="example.com">' in answer[1]
        assert b'<user id="1000"/>' in answer[1]


# -- event / nixevent / noevents ----------------------------------------------------------


async def test_event_creates_a_stream_and_replies_with_a_string_ip() -> None:
    async with harness() as h:
        reply = await h.call((A("event"), [A("CHANNEL_CREATE"), A("sofia::register")]))
        assert isinstance(reply, tuple) and reply[0] is OK
        ip, port = reply[1]
        assert ip == list(b"127.0.0.1")  # a string (list of bytes), never a binary
        assert isinstance(port, int) and port > 0
        assert h.node.linked == [PID]
        again = await h.call((A("event"), [A("CUSTOM"), A("KZ_CDR")]))
        assert again == reply and h.node.linked == [PID]
        streams = h.services.streams
        assert streams.bindings_of(PID) == ["CHANNEL_CREATE", "sofia::register", "KZ_CDR"]
        assert await h.call((A("nixevent"), [A("CHANNEL_CREATE"), A("CUSTOM"), A("KZ_CDR")])) is OK
        assert streams.bindings_of(PID) == ["sofia::register"]
        assert await h.call((A("nixevent"), [A("sofia::register")])) == BADARG
        assert await h.call((A("nixevent"), [])) == BADARG
        assert await h.call(A("noevents")) is OK
        assert streams.bindings_of(PID) == []
        assert len(streams) == 1  # the stream and its socket stay
        for bad in ([], [A("CHANNEL_CREATE"), b"x"], A("CHANNEL_CREATE")):
            assert await h.call((A("event"), bad)) == BADARG


async def test_nixevent_and_noevents_without_a_stream() -> None:
    async with harness() as h:
        assert await h.call((A("nixevent"), [A("CHANNEL_CREATE")])) is OK
        assert await h.call(A("noevents")) is OK
