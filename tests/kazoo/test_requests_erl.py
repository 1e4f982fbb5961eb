"""Every request, as a call and as a cast, from a real ``erl`` node.

The calls check the exact reply terms (success and every error of the
per-request table); the casts check the side effect, and that a cast never
gets an answer or upsets the server.
"""

from __future__ import annotations

import attrs
import pytest

from kazoo_trio.kazoo.fetch.agents import FetchAgents
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.term.types import Atom, Pid
from tests.erlnode import erl_node
from tests.kazoo.server_harness import FS, MK, running_server
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

E1 = "e1@127.0.0.1"
CHANNEL = "7f4de4bc-17d7-11dd-b7a0-db4edd065621"
# Longer than mod_kazoo's 37-byte UUID buffer; FreeSWITCH allows it.
LONG_CHANNEL = "custom-channel-" + "x" * 50


@attrs.define
class Channel:
    uuid: str
    queued: list[Event] = attrs.field(factory=list)

    def event_headers(self) -> list[tuple[str, str]]:
        return [("Unique-ID", self.uuid), ("Channel-State", "CS_EXECUTE")]

    def get_variable(self, name: str) -> str | None:
        return None

    async def queue_private_event(self, event: Event) -> None:
        self.queued.append(event)


def call(request: str) -> str:
    return f"gen_server:call({MK}, {request}, 5000)."


def cast(request: str) -> str:
    return f"gen_server:cast({MK}, {request})."


async def test_every_request_as_a_call(epmd: int) -> None:
    switch = SimSwitch()
    channels = {u: Channel(u) for u in (CHANNEL, LONG_CHANNEL)}
    for channel in channels.values():
        switch.channels.add(channel)

    async def fail(args: str) -> ApiOutput:
        return ApiOutput(f"failed: {args}", ok=False)

    switch.register_api("kt_fail", fail)
    fired: list[Event] = []
    switch.add_listener(fired.append)
    async with running_server(epmd, switch) as server, erl_node(E1, epmd_port=epmd) as e:
        ch = f'<<"{CHANNEL}">>'
        headers = '[{"call-command", "execute"}, {<<"empty">>, ""}, {"execute-app-name", "park"}]'
        expectations = [
            # -- identity and small requests
            ("version", '{ok,<<"mod_kazoo v1.5.0-1 community">>}'),
            ("noevents", "ok"),
            ("link", "ok"),
            ("config", "ok"),
            ("{config, [configuration]}", "ok"),
            ("no_legacy", "{error,badarg}"),
            ("{no_such_request, 1}", "{error,badarg}"),
            ('"not a request"', "{error,badarg}"),
            # -- sendevent
            ('{sendevent, \'NOTIFY\', [{<<"profile">>, <<"p1">>}]}', "ok"),
            ('{sendevent, custom, \'kt::sub\', [{<<"K">>, <<"V">>}]}', "ok"),
            ("{sendevent, 'SWITCH_EVENT_DTMF', []}", "ok"),
            ("{sendevent, 'NO_SUCH_EVENT', []}", "{error,badarg}"),
            ("{sendevent, 'ALL', []}", "{error,badarg}"),
            ("{sendevent, 'CUSTOM', <<\"kt::sub\">>, []}", "{error,badarg}"),
            ("{sendevent, 'CUSTOM', 'kt::sub'}", "{error,badarg}"),
            ("{sendevent, 'NOTIFY', [x]}", "{error,badarg}"),
            ("{sendevent, 'NOTIFY', [{<<\"k\">>, 1}]}", "{error,badarg}"),
            ("sendevent", "{error,badarg}"),
            # -- channels
            (f"{{sendmsg, {ch}, {headers}}}", "ok"),
            (f'{{sendmsg, <<"{LONG_CHANNEL}">>, []}}', "ok"),
            ('{sendmsg, <<"no-such-channel">>, []}', "{error,baduuid}"),
            ("{sendmsg, <<>>, []}", "{error,baduuid}"),
            (f"{{sendmsg, {ch}, bad}}", "{error,badarg}"),
            ("{sendmsg, 42, []}", "{error,badarg}"),
            ('{command, <<"no-such-channel">>, []}', "{error,baduuid}"),
            (f"{{command, {ch}, [{{a}}]}}", "{error,badarg}"),
            (f"{{commands, {ch}, not_a_list}}", "{error,badarg}"),
            (f"{{commands, {ch}, [[], [bad]]}}", "{error,badarg}"),
            ('{commands, <<"no-such-channel">>, [[]]}', "{error,baduuid}"),
            # -- bind / fetch_reply
            ("{bind, 'Dialplan'}", "ok"),
            ("{bind, config}", "ok"),
            ("{bind, directory_dialplan}", "{error,badarg}"),
            ('{bind, "directory"}', "{error,badarg}"),
            ('{fetch_reply, dialplan, <<"unknown">>, <<"<x/>">>}', "{error,baduuid}"),
            ('{fetch_reply, nothing, <<"u">>, <<"<x/>">>}', "{error,badarg}"),
            ('{fetch_reply, dialplan, <<>>, <<"<x/>">>}', "{error,badarg}"),
            ('{fetch_reply, dialplan, <<"u">>, <<>>}', "{error,badarg}"),
            ('{fetch_reply, dialplan, <<"u">>}', "{error,badarg}"),
            # -- API commands
            ('{api, echo, <<"hello">>}', '{ok,<<"hello">>}'),
            ('{api, echo, "as a string"}', '{ok,<<"as a string">>}'),
            ("{api, no_such_command, []}", '{error,<<"no_such_command: Command not found">>}'),
            ('{api, kt_fail, <<"x">>}', '{error,<<"failed: x">>}'),
            ('{api, <<"echo">>, <<"x">>}', "{error,badarg}"),
            ("{api, echo, [1, foo]}", "{error,badarg}"),
            ('{api4, echo, <<"four">>}', '{ok,<<"four">>}'),
            ("{api4, echo}", "{error,badarg}"),
            ('{bgapi, <<"echo">>, <<>>}', "{error,badarg}"),
            ("{bgapi4, echo, 3}", "{error,badarg}"),
            # -- json_api
            (
                '{json_api, <<"{\\"command\\":\\"echo\\",\\"data\\":\\"j\\"}">>}',
                '{error,<<"{\\"command\\":\\"echo\\",\\"data\\":\\"j\\",'
                '\\"status\\":\\"error\\",'
                '\\"message\\":\\"Invalid request or non-existant command\\",'
                '\\"response\\":null}">>}',
            ),
            ('{json_api, <<"{\\"command\\":1">>}', "{error,{parse_error,<<>>}}"),
            ('{json_api, <<"[1, 2">>}', "{error,{parse_error,<<>>}}"),
            (
                '{json_api, <<"{\\"command\\":\\"status\\",\\"data\\":\\"\\",'
                '\\"uuid\\":\\"x\\"}">>}',
                "{error,baduuid}",
            ),
            ("{json_api, 12}", "{error,badarg}"),
            # -- event / nixevent
            ("{event, []}", "{error,badarg}"),
            ("{event, ['CHANNEL_CREATE', <<\"x\">>]}", "{error,badarg}"),
            ("{event, 'CHANNEL_CREATE'}", "{error,badarg}"),
            ("{nixevent, ['CHANNEL_CREATE']}", "ok"),  # no stream yet: nothing to do
            ("{nixevent, []}", "{error,badarg}"),
            ("{nixevent, [1]}", "{error,badarg}"),
        ]
        for request, expected in expectations:
            assert await e.eval(call(request)) == expected, request
        status = await e.eval(
            "{ok, Js} = "
            + call('{json_api, <<"{\\"command\\":\\"status\\",\\"data\\":\\"\\"}">>}')[:-1]
            + ', binary:match(Js, <<"\\"status\\":\\"success\\"">>) =/= nomatch.'
        )
        assert status == "true"
        # The requests with a generated value.
        assert await e.eval(f"{{ok, P}} = {call('getpid')[:-1]}, is_pid(P).") == "true"
        reply = await e.term(call(f"{{command, {ch}, {headers}}}"))
        assert reply[0] == Atom("ok") and len(reply[1]) == 36
        command_uuid = reply[1].decode()
        reply = await e.term(call(f"{{commands, {ch}, [{headers}, [], {headers}]}}"))
        assert reply[0] == Atom("ok") and len(reply[1]) == 36
        commands_uuid = reply[1].decode()
        empty = await e.term(call(f"{{commands, {ch}, []}}"))
        assert empty[0] == Atom("ok")
        reply = await e.term(call('{api4, kt_fail, <<"y">>}'))
        assert reply[:2] == (Atom("error"), b"failed: y")
        api_headers = dict(reply[2][1:])
        assert api_headers[b"Event-Name"] == b"API"
        assert api_headers[b"API-Command"] == b"kt_fail"
        reply = await e.term(call("{event, ['CHANNEL_CREATE', 'CUSTOM', 'kt::sub']}"))
        assert reply[0] == Atom("ok")
        ip, _port = reply[1]
        assert ip == "127.0.0.1" or ip == list(b"127.0.0.1")  # a string, never a binary
        again = await e.term(call("{event, ['sofia::register']}"))
        assert again == reply
        assert await e.eval(call("{nixevent, ['CUSTOM', 'kt::sub']}")) == "ok"
        # Side effects of the calls above.
        queued = channels[CHANNEL].queued
        sendmsg = queued[0]
        assert sendmsg.name == "SEND_MESSAGE"
        # An empty value does not eat the next header; FreeSWITCH itself does
        # not keep empty headers.
        assert sendmsg.get("call-command") == "execute"
        assert sendmsg.get("execute-app-name") == "park"
        assert channels[LONG_CHANNEL].queued[0].name == "SEND_MESSAGE"
        commands = [ev for ev in queued if ev.name == "COMMAND"]
        assert [ev.get("event-uuid") for ev in commands] == [
            command_uuid,
            "null",
            "null",
            commands_uuid,
        ]
        assert any(ev.name == "NOTIFY" and ev.get("profile") == "p1" for ev in fired)
        assert any(ev.subclass == "kt::sub" and ev.get("K") == "V" for ev in fired)
        assert any(ev.name == "DTMF" for ev in fired)
        (pid,) = [p for p, _ in _streams(server)]
        assert server.streams.bindings_of(pid) == ["CHANNEL_CREATE", "sofia::register"]
        sections = server.fetch.sections_of(Atom(E1))
        assert set(sections) == {"dialplan", "configuration"}
        # link: the shell process is linked to mod_kazoo.
        assert (
            await e.eval(
                f"{{ok, MP}} = {call('getpid')[:-1]},"
                "{links, Ls} = process_info(self(), links), lists:member(MP, Ls)."
            )
            == "true"
        )
        # Nothing broke: still answering.
        assert (await e.eval(call("version"))).startswith("{ok,")
        assert FS in await e.eval(call('{api, erlang, <<"status">>}'))


def _streams(server: object) -> list[tuple[Pid, object]]:
    return server.streams.streams_of(Atom(E1))  # type: ignore[attr-defined, no-any-return]


# Slow: the kazoo.conf lookup nobody answers ends with the built-in profiles' 3.5 s
# fetch-timeout.
@pytest.mark.slow
async def test_every_request_as_a_cast(epmd: int) -> None:
    switch = SimSwitch()
    channel = Channel(CHANNEL)
    switch.channels.add(channel)
    fired: list[Event] = []
    switch.add_listener(fired.append)
    api_args: list[str] = []

    async def record(args: str) -> ApiOutput:
        api_args.append(args)
        return ApiOutput("+OK recorded")

    switch.register_api("kt_record", record)
    async with (
        running_server(epmd, switch, delay_before_initial_fetch=0.01) as server,
        erl_node(E1, epmd_port=epmd) as e,
    ):
        ch = f'<<"{CHANNEL}">>'
        hdrs = '[{"call-command", "execute"}, {"execute-app-name", "park"}]'
        # Bad casts first: no answer, no harm.
        for request in [
            "no_legacy",
            '{sendmsg, <<"nope">>, []}',
            "{command, 1, []}",
            f"{{commands, {ch}, not_a_list}}",
            "{bind, nothing}",
            "{event, []}",
            "{nixevent, [1]}",
            "{sendevent, 'NOPE', []}",
            '{fetch_reply, directory, <<"u">>, <<"<x/>">>}',
            '{json_api, <<"{\\"command\\":\\"status\\",\\"data\\":\\"\\"}">>}',  # crashed mod_kazoo
            "version",
            "getpid",
        ]:
            assert await e.eval(cast(request)) == "ok"
        # Good casts, all from the shell process: they run in order.
        for request in [
            f"{{sendmsg, {ch}, {hdrs}}}",
            f"{{command, {ch}, {hdrs}}}",
            f"{{commands, {ch}, [{hdrs}, {hdrs}]}}",
            "{sendevent, 'CUSTOM', 'kt::cast', [{<<\"K\">>, <<\"V\">>}]}",
            '{api, kt_record, <<"one">>}',
            '{api4, kt_record, <<"four">>}',
            "{bind, directory}",
            "{bind, configuration}",
            "{event, ['CHANNEL_CREATE', 'kt::cast']}",
            "{nixevent, ['CHANNEL_CREATE']}",
            "link",
            "config",
        ]:
            assert await e.eval(cast(request)) == "ok"
        # bgapi as a cast still sends the job's result to the requester.
        await e.eval(cast('{bgapi, kt_record, <<"bg">>}'))
        assert (
            await e.eval("receive {bgok, J, R} -> {byte_size(J), R} after 5000 -> timeout end.")
            == '{36,<<"+OK recorded">>}'
        )
        await e.eval(cast('{bgapi4, kt_record, <<"bg4">>}'))
        assert (
            await e.eval(
                "receive {bgok, J4, R4, [_ | H4]} -> {byte_size(J4), R4,"
                ' proplists:get_value(<<"API-Command-Argument">>, H4)}'
                " after 5000 -> timeout end."
            )
            == '{36,<<"+OK recorded">>,<<"bg4">>}'
        )
        # The shell bound configuration: it is asked for kazoo.conf (not answered here).
        assert (
            await e.eval(
                "(fun F() -> receive {fetch, _} -> F() after 200 -> ok end end)(),"
                "receive Any -> {unexpected, Any} after 0 -> none end."
            )
            == "none"
        )
        await wait_until(lambda: len(channel.queued) == 4)
        assert [ev.name for ev in channel.queued] == ["SEND_MESSAGE"] + ["COMMAND"] * 3
        assert [ev.get("event-uuid") for ev in channel.queued][2] == "null"
        assert any(ev.subclass == "kt::cast" for ev in fired)
        assert api_args[:2] == ["one", "four"]
        assert set(server.fetch.sections_of(Atom(E1))) == {"directory", "configuration"}
        (pid,) = [p for p, _ in _streams(server)]
        assert server.streams.bindings_of(pid) == ["kt::cast"]
        assert pid in server.services.linked  # type: ignore[union-attr]
        # The configuration bind and config each asked for kazoo.conf (as one lookup or two).
        await wait_until(lambda: server.kazoo_conf.lookups >= 1)
        # noevents as a cast (ecallmgr's helper).
        assert await e.eval(cast("noevents")) == "ok"
        await wait_until(lambda: server.streams.bindings_of(pid) == [])
        assert (await e.eval(call("version"))).startswith("{ok,")


async def test_a_message_the_server_fails_on_costs_that_message_only(
    epmd: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_server(epmd), erl_node(E1, epmd_port=epmd) as e:
        # A bare fetch_reply used to take the whole server down.
        assert await e.eval(call("fetch_reply")) == "{error,badarg}"
        assert await e.eval(cast("fetch_reply")) == "ok"
        assert await e.eval(call("{fetch_reply, directory}")) == "{error,badarg}"

        def broken(self: FetchAgents, request: object) -> object:
            raise RuntimeError("broken on purpose")

        monkeypatch.setattr(FetchAgents, "reply", broken)
        # A failure in the receive loop: logged, the call answered, the server alive.
        reply = '{fetch_reply, directory, <<"u">>, <<"<x/>">>}'
        assert await e.eval(call(reply)) == "{error,badarg}"
        assert await e.eval(cast(reply)) == "ok"
        assert (await e.eval(call("version"))).startswith("{ok,")
