from __future__ import annotations

import re

import attrs
import trio

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.switch.sim.commands import UPTIME_SYNTAX
from tests.switch.simhelpers import collect, make_switch

CORE_UUID = "0f0e0d0c-0b0a-4908-8706-050403020100"


@attrs.define
class FakeChannel:
    uuid: str
    variables: dict[str, str]
    queued: list[Event] = attrs.field(factory=list)

    def event_headers(self) -> list[tuple[str, str]]:
        return [("Unique-ID", self.uuid), ("Channel-Call-State", "ACTIVE")] + [
            (f"variable_{k}", v) for k, v in self.variables.items()
        ]

    def get_variable(self, name: str) -> str | None:
        return self.variables.get(name)

    async def queue_private_event(self, event: Event) -> None:
        self.queued.append(event)


async def test_status_text() -> None:
    sw, clock = make_switch()
    clock.mono += 3_723_004_005  # 1 h 2 min 3 s 4 ms 5 µs after start
    result = await sw.api("status", "")
    assert result.ok
    lines = result.text.split("\n")
    assert lines[:7] == [
        "UP 0 years, 0 days, 1 hour, 2 minutes, 3 seconds, 4 milliseconds, 5 microseconds",
        "FreeSWITCH (Version 1.10.12-release  64bit) is ready",
        "0 session(s) since startup",
        "0 session(s) - peak 0, last 5min 0 ",
        "0 session(s) per Sec out of max 30, peak 0, last 5min 0 ",
        "1000 session(s) max",
        "min idle cpu 0.00/100.00",
    ]
    assert re.fullmatch(r"Current Stack Size/Max \d+K/\d+K", lines[7])
    assert lines[8:] == [""]


async def test_version_texts() -> None:
    sw, _ = make_switch()
    assert (await sw.api("version", "")).text == (
        "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n"
    )
    assert (await sw.api("version", "short")).text == "1.10.12-release\n"
    assert (await sw.api("version", "long")).text == (
        "FreeSWITCH Version 1.10.12-release~64bit (1.10.12-release  64bit)\n"
    )


async def test_uptime_scales() -> None:
    sw, clock = make_switch()
    clock.mono += 3_723_000_000
    expected = {
        "": "3723\n",
        "s": "3723\n",
        "seconds": "3723\n",
        "MS": "3723000\n",
        "us": "3723000000\n",
        "m": "62\n",
        "h": "1\n",
        "d": "0\n",
        "fortnights": f"-USAGE: {UPTIME_SYNTAX}\n",
    }
    for arg, text in expected.items():
        result = await sw.api("uptime", arg)
        assert (arg, result.ok, result.text) == (arg, True, text)


async def test_hostname_switchname_echo() -> None:
    sw, _ = make_switch()
    assert (await sw.api("hostname", "")).text == "fs1.example.com"
    assert (await sw.api("switchname", "")).text == "fs1"
    assert (await sw.api("echo", "two  spaces ")).text == "two  spaces "


async def test_api_event_headers_on_success() -> None:
    sw, _ = make_switch()
    events = collect(sw)
    result = await sw.api("echo", "hi $${hostname}")
    assert result.text == "hi fs1.example.com"
    assert events == [result.event]
    event = result.event
    assert event.name == "API"
    tail = event.headers[-5:]
    assert tail == (
        ("API-Command", "echo"),
        ("API-Command-Argument", "hi fs1.example.com"),
        ("API-Command-Argument-Expanded", "hi fs1.example.com"),
        ("API-Result", "success"),
        ("API-Output", "hi fs1.example.com"),
    )
    assert event.get("Event-Calling-File") == "kazoo_node.c"
    assert event.get("Event-Calling-Function") == "kazoo_api_execute"


async def test_empty_output_and_empty_arguments_add_no_headers() -> None:
    sw, _ = make_switch()
    result = await sw.api("global_getvar", "no_such_var")
    assert (result.ok, result.text) == (True, "")
    assert result.event.get("API-Result") == "success"
    assert "API-Output" not in result.event
    result = await sw.api("hostname", "")
    assert "API-Command-Argument" not in result.event
    assert "API-Command-Argument-Expanded" not in result.event


async def test_unknown_command() -> None:
    sw, _ = make_switch()
    events = collect(sw)
    result = await sw.api("no_such_command", "x")
    assert (result.ok, result.text, result.found) == (False, "", False)
    assert result.event.get("API-Command") == "no_such_command"
    assert result.event.get("API-Result") == "error"
    assert result.event.get("API-Error") == "invalid command"
    assert events == [result.event]


async def test_registered_command_failure_and_exception() -> None:
    sw, _ = make_switch()

    async def erlang(args: str) -> ApiOutput:
        if args == "bad":
            return ApiOutput("-ERR nope\n", ok=False)
        if args == "silent":
            return ApiOutput("", ok=False)
        if args == "boom":
            raise RuntimeError("kaput")
        return ApiOutput(f"+OK {args}")

    sw.register_api("erlang", erlang, "Erlang node control")
    ok = await sw.api("erlang", "node x option enable-legacy")
    assert (ok.ok, ok.text, ok.found) == (True, "+OK node x option enable-legacy", True)
    bad = await sw.api("erlang", "bad")
    assert (bad.ok, bad.text) == (False, "-ERR nope\n")
    assert bad.event.get("API-Result") == "error"
    assert bad.event.get("API-Error") == "-ERR nope\n"
    silent = await sw.api("erlang", "silent")
    assert (silent.ok, silent.text, silent.found) == (False, "", True)
    assert "API-Error" not in silent.event
    boom = await sw.api("erlang", "boom")
    assert not boom.ok and "kaput" in boom.text
    assert boom.event.get("API-Result") == "error"


async def test_cancelled_command_fires_no_event() -> None:
    sw, _ = make_switch()
    events = collect(sw)
    started = trio.Event()

    async def slow(args: str) -> ApiOutput:
        started.set()
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    sw.register_api("slow", slow)
    with trio.move_on_after(5) as scope:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sw.api, "slow", "")
            await started.wait()
            nursery.cancel_scope.cancel()
    assert not scope.cancelled_caught
    assert events == []
    assert (await sw.api("echo", "still fine")).text == "still fine"


async def test_expansion_of_arguments() -> None:
    sw, _ = make_switch()
    # mod_kazoo expands against a fresh GENERAL event: its headers are visible.
    assert (await sw.api("echo", "${Event-Name}")).text == "GENERAL"
    assert (await sw.api("echo", "${hostname}")).text == "fs1.example.com"
    assert (await sw.api("echo", r"\${hostname}")).text == "${hostname}"
    assert (await sw.api("echo", "${nope}x")).text == "x"
    plain = await sw.api("echo", "${hostname}", expand=False)
    assert plain.text == "${hostname}"
    assert plain.event.get("API-Command-Argument-Expanded") == "${hostname}"


async def test_api_functions_inside_expansion() -> None:
    sw, _ = make_switch()
    events = collect(sw)
    result = await sw.api("echo", "[${hostname()}] [${uptime(bogus unit)}] [${nope(x)}]")
    assert result.text == f"[fs1.example.com] [-USAGE: {UPTIME_SYNTAX}\n] []"
    inner = [e for e in events if e is not result.event]
    assert [e.get("API-Command") for e in inner] == ["hostname", "uptime", "nope"]
    assert inner[1].get("API-Command-Argument") == "bogus unit"
    assert all(e.get("Event-Calling-Function") == "switch_api_execute" for e in inner)
    assert all("API-Result" not in e for e in inner)

    async def only_async(args: str) -> ApiOutput:
        return ApiOutput("async")

    sw.register_api("waits", only_async)
    assert (await sw.api("echo", "<${waits(x)}>")).text == "<>"
    assert sw.expand("${hostname()}!") == "fs1.example.com!"


async def test_eval_forms() -> None:
    sw, _ = make_switch()
    assert (await sw.api("eval", r"\${Core-UUID}")).text == CORE_UUID
    assert (await sw.api("eval", r"\${Event-Name}")).text == "CHANNEL_DATA"
    assert (await sw.api("eval", "${Event-Name}")).text == "GENERAL"
    assert (await sw.api("eval", "")).text == ""
    # An unknown channel: expanded against the bare CHANNEL_DATA event.
    unknown = await sw.api("eval", r"uuid:nope \${Channel-Call-State}|\${Core-UUID}")
    assert (unknown.ok, unknown.text) == (True, f"|{CORE_UUID}")
    assert (await sw.api("eval", "uuid:nope")).text == ""
    assert (await sw.api("eval", "UUID:nope  x")).text == " x"


async def test_eval_against_a_channel() -> None:
    sw, _ = make_switch()
    channel = FakeChannel("c-1", {"ecallmgr_Account-ID": "acc"})
    sw.channels.add(channel)
    result = await sw.api(
        "eval", r"uuid:c-1 \${Channel-Call-State}|\${variable_ecallmgr_Account-ID}"
    )
    assert result.text == "ACTIVE|acc"
    assert sw.channel_exists("c-1") and not sw.channel_exists("c-2")
    assert sw.channel_headers("c-1") == channel.event_headers()
    assert sw.channel_headers("c-2") is None
    assert (await sw.api("uuid_exists", "c-1")).text == "true"
    assert (await sw.api("uuid_exists", "c-2")).text == "false"
    command = sw.new_event("COMMAND", headers=[("call-command", "execute")])
    assert await sw.queue_private_event("c-1", command)
    assert not await sw.queue_private_event("c-2", command)
    assert channel.queued == [command]


async def test_global_variables_round_trip() -> None:
    sw, _ = make_switch()
    assert (await sw.api("global_setvar", "my_var=some value")).text == "+OK"
    assert (await sw.api("global_getvar", "my_var")).text == "some value"
    assert (await sw.api("global_getvar", "MY_VAR")).text == "some value"
    assert sw.get_global("my_var") == "some value"
    # A conditional set only applies when the current value matches.
    assert (await sw.api("global_setvar", "my_var=other=wrong")).text == "+OK"
    assert sw.get_global("my_var") == "some value"
    await sw.api("global_setvar", "my_var=other=some value")
    assert sw.get_global("my_var") == "other"
    # An empty value deletes.
    await sw.api("global_setvar", "my_var=")
    assert sw.get_global("my_var") is None
    # Stored values never expand again: FreeSWITCH turns "${" into "%{".
    await sw.api("global_setvar", r"tpl=\${x}")
    assert sw.get_global("tpl") == "%{x}"
    usage = "-USAGE: <var>=<value> [=<value2>]\n"
    assert (await sw.api("global_setvar", "")).text == usage
    assert (await sw.api("global_setvar", "=x")).text == usage


async def test_global_getvar_dump_and_presets() -> None:
    sw, _ = make_switch()
    sw.set_global("zz_last", "1")
    dump = (await sw.api("global_getvar", "")).text
    lines = dump.splitlines()
    assert lines[0] == "hostname=fs1.example.com"
    assert "local_ip_v4=10.1.2.3" in lines
    assert f"core_uuid={CORE_UUID}" in lines
    assert "base_dir=/usr/local/freeswitch" in lines
    assert lines[-1] == "zz_last=1"
    assert dump.endswith("\n")


async def test_module_exists() -> None:
    sw, _ = make_switch()
    assert (await sw.api("module_exists", "mod_commands")).text == "true"
    assert (await sw.api("module_exists", "mod_flite")).text == "false"
    assert (await sw.api("module_exists", "")).text == ""
    sw.add_module("mod_flite")
    assert (await sw.api("module_exists", "mod_flite")).text == "true"


async def test_show_api() -> None:
    sw, _ = make_switch()

    async def handler(args: str) -> ApiOutput:
        return ApiOutput("")

    sw.register_api("aaa_cmd", handler, "First", syntax="<x>", module="mod_test")
    sw.register_api("hidden", handler)  # no description: not listed
    text = (await sw.api("show", "api")).text
    lines = text.split("\n")
    assert lines[0] == "name,description,syntax,ikey"
    assert lines[1] == "aaa_cmd,First,<x>,mod_test"
    assert "echo,Echo,<data>,mod_commands" in lines
    rows = lines[1 : lines.index("")]
    assert [r.split(",")[0] for r in rows] == sorted(r.split(",")[0] for r in rows)
    assert not any(r.startswith("hidden,") for r in rows)
    assert text.endswith(f"\n\n{len(rows)} total.\n")
    one = (await sw.api("show", "api echo")).text
    assert one == "name,description,syntax,ikey\necho,Echo,<data>,mod_commands\n\n1 total.\n"


async def test_show_channels_when_empty() -> None:
    sw, _ = make_switch()
    assert (await sw.api("show", "channels")).text == "\n0 total.\n"
    assert (await sw.api("show", "channels as json")).text == '{"row_count": 0}\n'
    assert (await sw.api("show", "channels as xml")).text == '<result row_count="0"/>\n'
    assert (await sw.api("show", "bogus")).text.startswith("-USAGE: codec|endpoint|")
    assert (await sw.api("show", "")).text.startswith("-USAGE: ")


async def test_api_function_without_event_and_nesting_bound() -> None:
    sw, _ = make_switch()
    events = collect(sw)
    assert sw.api_function(" hostname ", "", fire_event=False) == "fs1.example.com"
    assert sw.api_function("nope", "x", fire_event=False) is None
    assert events == []
    assert sw.api_function("echo", "  padded  ") == "padded"
    assert [e.get("API-Command-Argument") for e in events] == ["padded"]

    depth: list[int] = []

    def recurse(inner: SimSwitch, args: str) -> ApiOutput:
        depth.append(len(depth))
        return ApiOutput("r" + inner.expand("${recurse()}"))

    sw.register_sync_api("recurse", recurse)
    result = await sw.api("echo", "${recurse()}")
    assert result.text == "r" * len(depth)
    assert 1 < len(depth) <= 20


async def test_registering_a_command_with_a_module_declares_it() -> None:
    sw, _ = make_switch()

    async def erlang(args: str) -> ApiOutput:
        return ApiOutput("+OK")

    assert not sw.module_exists("mod_kazoo")
    sw.register_api("erlang", erlang, "mod_kazoo connections", module="mod_kazoo")
    assert (await sw.api("module_exists", "mod_kazoo")).text == "true"
    listed = (await sw.api("show", "api erlang")).text
    assert "erlang,mod_kazoo connections,,mod_kazoo\n" in listed


async def test_load_and_reload_commands() -> None:
    sw, _ = make_switch()
    events = collect(sw)
    assert (await sw.api("reloadxml", "")).text == "+OK [Success]\n"
    assert (await sw.api("reloadacl", "")).text == "+OK acl reloaded\n"
    assert (await sw.api("reloadacl", "reloadxml")).text == (
        "This option is deprecated, we now always reloadxml.\n+OK acl reloaded\n"
    )
    assert [e.name for e in events if e.name != "API"] == ["RELOADXML"] * 3
    reloading = "+OK Reloading XML\n"
    assert (await sw.api("load", "")).text == "-USAGE: <mod_name>\n"
    assert (await sw.api("load", "mod_commands")).text == (
        reloading + "-ERR [Module already loaded]\n"
    )
    assert (await sw.api("load", "mod_nonexistent")).text == (
        reloading + "-ERR [module load file routine returned an error]\n"
    )
    sw.add_module("mod_flite", loaded=False)
    assert (await sw.api("module_exists", "mod_flite")).text == "false"
    assert (await sw.api("load", "mod_flite")).text == reloading + "+OK\n"
    assert (await sw.api("module_exists", "mod_flite")).text == "true"
