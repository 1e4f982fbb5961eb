"""mod_kazoo's API commands on the simulated switch (kazoo_trio.switch.kz.commands):
syntax, outputs, error texts and statuses as kazoo_commands.c has them."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import trio

from kazoo_trio.switch.kz.commands import KZ_COMMANDS, register_commands
from kazoo_trio.switch.protocol import ApiHandler, ApiOutput, XmlLookup
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.switch.sim.modkazoo import SimKzHost
from tests.switch.callhelpers import bind_dialplan, dialplan_document, extension, running_switch

MULTI_USAGE = "-USAGE: <uuid> <var>=<value>;<var>=<value>...\n"


async def parked(sw: SimSwitch) -> str:
    """A parked channel's uuid (the A leg of a loopback call whose B leg parks)."""
    bind_dialplan(sw, dialplan_document("default", extension([("answer", ""), ("park", "")])))
    text = (await sw.api("originate", "loopback/100 &park()")).text
    assert text.startswith("+OK "), text
    return text[4:].strip()


async def text_of(sw: SimSwitch, command: str, args: str) -> tuple[bool, str]:
    result = await sw.api(command, args, expand=False)
    assert result.found, command
    return result.ok, result.text


async def test_setvar_multi_encoded_as_ecallmgr_sets_and_unsets() -> None:
    async with running_switch() as (sw, rec):
        a = await parked(sw)
        # ecallmgr_fs_command:set/3 with two values: "^^~" + items joined by "~".
        args = f"{a} ^^~ecallmgr_Account-ID=acc%7C1~effective_caller_id_name=Al%20B"
        assert await text_of(sw, "kz_uuid_setvar_multi_encoded", args) == (True, "+OK\n")
        assert (await sw.api("uuid_getvar", f"{a} ecallmgr_Account-ID")).text == "acc|1"
        data = await rec.wait_event("CHANNEL_DATA", a)
        assert data.get("variable_ecallmgr_Account-ID") == "acc|1"
        # kz_check_set_profile_var: the effective_ prefix also sets the caller profile.
        assert data.get("Caller-Caller-ID-Name") == "Al B"
        # ... and unset/3: one item, no prefix, an empty value.
        args = f"{a} ecallmgr_Account-ID="
        assert await text_of(sw, "kz_uuid_setvar_multi_encoded", args) == (True, "+OK\n")
        assert (await sw.api("uuid_getvar", f"{a} ecallmgr_Account-ID")).text == "_undef_"
        # Not decoded without _encoded; ';' is the default separator.
        assert await text_of(sw, "kz_uuid_setvar_multi", f"{a} p=%41;q=2") == (True, "+OK\n")
        assert (await sw.api("uuid_getvar", f"{a} p")).text == "%41"


async def test_setvar_multi_errors_keep_the_c_texts() -> None:
    async with running_switch() as (sw, _):
        a = await parked(sw)
        missing = "-ERR No such channel!\n" + MULTI_USAGE
        assert await text_of(sw, "kz_uuid_setvar_multi", "nope a=1") == (True, missing)
        assert await text_of(sw, "kz_uuid_setvar_multi", "") == (True, MULTI_USAGE)
        assert await text_of(sw, "kz_uuid_setvar_multi", a) == (True, "")
        only_bad = "-ERR No variable specified\n" + MULTI_USAGE
        assert await text_of(sw, "kz_uuid_setvar_multi", f"{a} =1") == (True, only_bad)
        mixed = "-ERR No variable specified\n+OK\n"
        assert await text_of(sw, "kz_uuid_setvar_multi", f"{a} =1;b=2") == (True, mixed)


async def test_setvar_and_setvar_encoded() -> None:
    async with running_switch() as (sw, _):
        a = await parked(sw)
        assert await text_of(sw, "kz_uuid_setvar", f"{a} v one two") == (True, "+OK\n")
        assert (await sw.api("uuid_getvar", f"{a} v")).text == "one two"
        assert await text_of(sw, "kz_uuid_setvar_encoded", f"{a} w a%20b") == (True, "+OK\n")
        assert (await sw.api("uuid_getvar", f"{a} w")).text == "a b"
        assert await text_of(sw, "kz_uuid_setvar", f"{a} v") == (True, "+OK\n")
        assert (await sw.api("uuid_getvar", f"{a} v")).text == "_undef_"
        no_channel = (True, "-ERR No such channel!\n")
        assert await text_of(sw, "kz_uuid_setvar", "nope v 1") == no_channel
        usage = (True, "-USAGE: <uuid> <var> [value]\n")
        assert await text_of(sw, "kz_uuid_setvar", a) == usage
        assert await text_of(sw, "kz_uuid_setvar", "") == usage


async def test_first_of_expand_and_eval() -> None:
    async with running_switch() as (sw, _):
        a = await parked(sw)
        sw.set_global("greeting", "hello")
        assert await text_of(sw, "first-of", "^^|Missing-Header|#fallback") == (True, "fallback")
        assert await text_of(sw, "first-of", "a|#|!second") == (True, "second")
        assert await text_of(sw, "first-of", "") == (False, "")
        await sw.api("uuid_setvar", f"{a} color blue")
        expanded = f"uuid:{a} ${{variable_color}}-${{Unique-ID}}-${{greeting}}"
        assert await text_of(sw, "kz_expand", expanded) == (True, f"+OK blue-{a}-hello")
        assert await text_of(sw, "kz_expand", "${greeting}") == (True, "+OK hello")
        assert await text_of(sw, "kz_expand", f"uuid:{a}") == (False, "-ERR invalid argument")
        assert await text_of(sw, "kz_expand", "") == (False, "-ERR invalid input")
        assert await text_of(sw, "kz_eval", f"uuid:{a} ${{color}}") == (True, "+OK blue")
        assert await text_of(sw, "kz_eval", "uuid:nope ${color}") == (
            False,
            "-ERR invalid session",
        )
        assert await text_of(sw, "kz_eval", "${color}") == (False, "-ERR invalid argument")
        # In mod_kazoo's expansion first-of reads the expanded event's headers.
        first = f"uuid:{a} ${{first-of(^^|Missing|variable_color|#x)}}"
        assert await text_of(sw, "kz_expand", first) == (True, "+OK blue")
        assert await text_of(sw, "kz_expand", "${first-of(Missing|#dflt)}") == (True, "+OK dflt")
        # The event carries the globals as headers, which first-of reads.
        assert await text_of(sw, "kz_expand", "${first-of(greeting|#none)}") == (True, "+OK hello")
        # Inside an expansion too: the commands never wait.
        assert (await sw.api("eval", "${kz_expand(${greeting})}")).text == "+OK hello"


async def test_kz_contact_asks_the_directory_for_a_location() -> None:
    seen: list[XmlLookup] = []

    async def directory(lookup: XmlLookup) -> str | None:
        seen.append(lookup)
        return (
            '<document type="freeswitch/xml"><section name="directory">'
            f'<location id="{lookup.key_value}" value="sofia/sip/dev@10.0.0.1"/>'
            "</section></document>"
            if lookup.key_value == "dev@acct"
            else None
        )

    async with running_switch() as (sw, _):
        sw.bind_xml(["directory"], directory)
        assert await text_of(sw, "kz_contact", "dev@acct") == (True, "sofia/sip/dev@10.0.0.1")
        assert await text_of(sw, "kz_contact", "other@acct") == (
            True,
            "error/subscriber_absent",
        )
        assert (seen[0].tag_name, seen[0].key_name) == ("location", "id")
        assert seen[0].params.get("action") == "call"
        assert seen[0].params.get("Fetch-Exclude-Cache") == "true"


async def test_kz_http_put_uploads_and_deletes_the_file(tmp_path: Path) -> None:
    received: list[bytes] = []
    statuses = [201, 500]

    async def serve(stream: trio.SocketStream) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += await stream.receive_some(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        while len(body) < length:
            body += await stream.receive_some(65536)
        received.append(head + b"\r\n\r\n" + body)
        status = statuses.pop(0)
        await stream.send_all(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
        await stream.aclose()

    async with running_switch() as (sw, _), trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, serve, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        url = f"http://127.0.0.1:{port}/store/rec.wav"
        path = tmp_path / "rec.wav"
        path.write_bytes(b"RIFF-audio")
        assert await text_of(sw, "kz_http_put", f"{url} {path}") == (
            True,
            f"+OK {path} saved to {url}",
        )
        assert not path.exists()
        assert received[0].startswith(b"PUT /store/rec.wav HTTP/1.1\r\n")
        assert b"Content-Type: audio/x-wav\r\n" in received[0]
        assert received[0].endswith(b"\r\n\r\nRIFF-audio")
        path.write_bytes(b"again")
        error = f"Received HTTP error 500 trying to save {path} to {url}"
        assert await text_of(sw, "kz_http_put", f"{url} {path}") == (False, f"-ERR {error}")
        assert path.exists()
        assert await text_of(sw, "kz_http_put", f"{url} {tmp_path}/none.wav") == (
            False,
            "-ERR error opening file\n",
        )
        assert await text_of(sw, "kz_http_put", "only-one") == (True, "USAGE: localfile url\n")
        nursery.cancel_scope.cancel()


async def test_commands_are_listed_under_mod_kazoo() -> None:
    sw = SimSwitch()
    listed = (await sw.api("show", "api kz_uuid_setvar_multi_encoded")).text
    assert "kz_uuid_setvar_multi_encoded,Set a variable," in listed
    assert listed.endswith(",mod_kazoo\n\n1 total.\n")


async def test_register_commands_onto_any_api_registry() -> None:
    sw = SimSwitch()
    registered: dict[str, ApiHandler] = {}

    class Registry:
        def register_api(
            self,
            name: str,
            handler: ApiHandler,
            description: str = "",
            *,
            syntax: str = "",
            module: str = "",
        ) -> None:
            assert module == "mod_kazoo"
            registered[name] = handler

    register_commands(Registry(), SimKzHost(sw))
    assert set(registered) == {command.name for command in KZ_COMMANDS}
    assert await registered["first-of"]("#x") == ApiOutput("x")
    assert await registered["kz_contact"]("a@b") == ApiOutput("error/subscriber_absent")
