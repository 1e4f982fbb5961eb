"""mod_kazoo's applications rewritten into stock ones, and its commands run by replay,
without FreeSWITCH (the real one: ``test_kz_erl.py``)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

import attrs
import pytest

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.freeswitch.modkazoo import (
    FsKzHost,
    LookupChannel,
    kz_api_handlers,
    rewrite_dialplan,
    rewrite_message,
)
from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.kz.commands import kz_eval, kz_expand, kz_uuid_setvar_multi_encoded

ROUTE = (
    '<document type="freeswitch/xml"><section name="dialplan"><context name="c">'
    '<extension name="park"><condition>'
    '<action application="kz_multiset_encoded" data="^^|ecallmgr_A=x%20y|B=1%7C2"/>'
    '<action application="kz_prefix_unset" data="sip_h_X-"/>'
    '<condition field="${x}" expression="^$">'
    '<action application="kz_export" data="k=v" inline="true"/></condition>'
    '<action application="park"/>'
    "</condition></extension></context></section></document>"
)

LOOKUP = [
    ("Event-Name", "REQUEST_PARAMS"),
    ("Unique-ID", "u1"),
    ("variable_sip_h_X-One", "1"),
    ("variable_sip_h_x-two", "2"),
    ("variable_other", "3"),
]


def actions(document: str) -> list[tuple[str, str | None, str | None]]:
    return [
        (a.get("application", ""), a.get("data"), a.get("inline"))
        for a in ET.fromstring(document).iter("action")
    ]


def test_route_xml_kz_actions_become_stock_ones() -> None:
    rewritten = rewrite_dialplan(ROUTE, LOOKUP, lambda uuid: uuid == "u1")
    assert actions(rewritten) == [
        # Decoded; "|" is in a value, so the next delimiter.
        ("multiset", "^^~ecallmgr_A=x y~B=1|2", None),
        ("event", "Event-Name=CHANNEL_DATA", None),
        # Expanded from the variables the lookup carried.
        ("unset", "sip_h_X-One", None),
        ("unset", "sip_h_x-two", None),
        ("export", "k=v", "true"),
        ("park", None, None),
    ]
    plain = ROUTE.replace("kz_", "")
    assert rewrite_dialplan(plain, LOOKUP, lambda uuid: True) == plain


def test_sendmsg_execute_of_a_kz_application() -> None:
    view = LookupChannel("u1", (("variable_export_vars", "k"),), lambda uuid: True)
    message = [
        ("call-command", "execute"),
        ("execute-app-name", "kz_multiset_encoded"),
        ("execute-app-arg", "^^|a=1|b=%24%7Bx%7D"),
        ("event-uuid", "E1"),
        ("event-uuid-name", "set"),
        ("event-lock", "true"),
    ]
    rewritten = rewrite_message(message, view)
    assert rewritten is not None
    assert rewritten.application_uuid == "E1"
    assert (rewritten.application, rewritten.data) == ("kz_multiset_encoded", "^^|a=1|b=%24%7Bx%7D")
    assert rewritten.messages == [
        [
            ("call-command", "execute"),
            ("execute-app-name", "multiset"),
            ("execute-app-arg", "^^|a=1|b=${x}"),
            ("event-lock", "true"),
        ],
        [
            ("call-command", "execute"),
            ("execute-app-name", "event"),
            ("execute-app-arg", "Event-Name=CHANNEL_DATA"),
            ("event-uuid", "E1"),
            ("event-uuid-name", "set"),
            ("event-lock", "true"),
        ],
    ]
    # Without event-uuid, one is made for the renaming.
    noop = rewrite_message(
        [("call-command", "execute"), ("execute-app-name", "noop"), ("execute-app-arg", "m")],
        view,
    )
    assert noop is not None and noop.application_uuid
    assert noop.messages[0][1:3] == [
        ("execute-app-name", "set"),
        ("execute-app-arg", "current_application_response=m"),
    ]
    assert rewrite_message([("call-command", "execute"), ("execute-app-name", "park")], view) is (
        None
    )
    xferext = rewrite_message(
        [("call-command", "xferext"), ("application", "kz_export ^^~k=v~j=w"),
         ("application", "park")],
        view,
    )  # fmt: skip
    assert xferext is not None and xferext.application_uuid is None
    # k is already exported (export_vars): set when its value changes.
    assert xferext.messages == [
        [
            ("call-command", "xferext"),
            ("application", "set k=v"),
            ("application", "export j=w"),
            ("application", "park"),
        ]
    ]


def test_a_final_response_is_reported_not_sent() -> None:
    view = LookupChannel("u1", (), lambda uuid: True)
    message = [
        ("call-command", "execute"),
        ("execute-app-name", "kz_moh"),
        ("execute-app-arg", "tone_stream://%(100,0,440)"),
        ("event-uuid", "E2"),
    ]
    rewritten = rewrite_message(message, view)
    assert rewritten is not None and rewritten.response == "MOH FILE PLAYED"
    # The playback is the last step: nothing queued behind it runs inside it early.
    assert rewritten.messages == [
        [
            ("call-command", "execute"),
            ("execute-app-name", "unset"),
            ("execute-app-arg", "playback_terminator_used"),
            ("event-lock", "true"),
        ],
        [
            ("call-command", "execute"),
            ("execute-app-name", "playback"),
            ("execute-app-arg", "tone_stream://%(100,0,440)"),
            ("event-uuid", "E2"),
        ],
    ]


def test_kz_api_steps_are_left_to_the_backend() -> None:
    view = LookupChannel("u1", (), lambda uuid: uuid in ("u1", "u2"))
    message = [
        ("call-command", "execute"),
        ("execute-app-name", "kz_uuid_multiset_encoded"),
        ("execute-app-arg", "u2 ^^|a=x%20y"),
    ]
    rewritten = rewrite_message(message, view)
    assert rewritten is not None
    # mod_kazoo's command runs on kazoo_trio; the channel still gets one execution.
    assert [(a.command, a.args) for a in rewritten.apis] == [
        ("kz_uuid_setvar_multi_encoded", "u2 ^^;a=x%20y")
    ]
    assert [m[1:3] for m in rewritten.messages] == [
        [("execute-app-name", "set"), ("execute-app-arg", "kz_noop=")]
    ]
    # In route XML it cannot run at all.
    route = ROUTE.replace("kz_prefix_unset", "kz_uuid_multiset").replace(
        'data="sip_h_X-"', 'data="u2 a=b"'
    )
    assert "u2" not in rewrite_dialplan(route, LOOKUP, lambda uuid: True)


@attrs.define
class FakeSwitch:
    """A FreeSWITCH with one channel, recording what is sent to it."""

    channels: dict[str, dict[str, str]] = attrs.field(factory=lambda: {"u1": {"x": "1"}})
    sent: list[str] = attrs.field(factory=list)
    fired: list[Event] = attrs.field(factory=list)

    def channel_exists(self, uuid: str) -> bool:
        return uuid in self.channels

    def get_global(self, name: str) -> str | None:
        return {"domain": "d.example"}.get(name)

    def fire(self, event: Event) -> None:
        self.fired.append(event)

    def new_event(
        self,
        name: str,
        *,
        subclass: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: str | None = None,
        origin: EventOrigin | None = None,
    ) -> Event:
        calling = [] if origin is None else [("Event-Calling-File", origin.file)]
        return Event(name, [("Event-Name", name), *calling, *headers], body, subclass)

    async def xml_lookup(
        self,
        section: str,
        tag_name: str,
        key_name: str,
        key_value: str,
        params: Iterable[tuple[str, str]] = (),
    ) -> str | None:
        return None

    async def live_channel(self, uuid: str) -> list[tuple[str, str]] | None:
        self.sent.append(f"uuid_dump {uuid}")
        variables = self.channels.get(uuid)
        if variables is None:
            return None
        return [("Unique-ID", uuid), *((f"variable_{k}", v) for k, v in variables.items())]

    async def raw_api(self, command: str, args: str) -> str:
        self.sent.append(f"{command} {args}")
        if command == "uuid_setvar":
            uuid, name, *value = args.split(" ", 2)
            if value:
                self.channels[uuid][name] = value[0]
            else:
                self.channels[uuid].pop(name, None)
            return "+OK Success\n"
        if command == "upper":
            return args.upper()
        return "-ERR upper Command not found!\n"

    async def execute_on(self, uuid: str, application: str, data: str) -> None:
        self.sent.append(f"execute {uuid} {application} {data}")


async def test_kz_commands_run_by_replay_and_write_once() -> None:
    switch = FakeSwitch()
    host = FsKzHost(switch)
    output = await host.run(
        kz_uuid_setvar_multi_encoded, "u1 ^^;a=one%3Btwo;origination_caller_id_name=N;x"
    )
    assert output.text == "+OK\n"
    assert switch.sent == [
        "uuid_dump u1",  # the first run asked for the channel's data
        "uuid_setvar u1 a one;two",
        "uuid_setvar u1 origination_caller_id_name N",
        "execute u1 set_profile_var caller_id_name=N",
        "uuid_setvar u1 x",
        "uuid_dump u1",  # CHANNEL_DATA with the values written
    ]
    [data] = switch.fired
    assert data.name == "CHANNEL_DATA" and data.get("variable_a") == "one;two"
    assert data.get("variable_x") is None
    # Fired from where mod_kazoo fires it, as on the simulated switch.
    assert data.get("Event-Calling-File") == "kazoo_commands.c"
    switch.sent.clear()
    expanded = await host.run(kz_expand, "uuid:u1 ${variable_a}/${upper(b)}/$${domain}")
    assert expanded.text == "+OK one;two/B/d.example"
    evaluated = await host.run(kz_eval, "uuid:u1 ${a}")
    assert evaluated.text == "+OK one;two"
    gone = await host.run(kz_eval, "uuid:u2 ${a}")
    assert (gone.text, gone.ok) == ("-ERR invalid session", False)
    names = {name for name, *_ in kz_api_handlers(host)}
    assert {"kz_uuid_setvar", "kz_uuid_setvar_multi_encoded", "kz_contact"} <= names


@pytest.mark.parametrize("command", ["kz_uuid_setvar", "kz_uuid_setvar_multi"])
async def test_no_channel_writes_nothing(command: str) -> None:
    switch = FakeSwitch()
    handler = {name: h for name, h, *_ in kz_api_handlers(FsKzHost(switch))}[command]
    output = await handler("u9 a=b" if command.endswith("multi") else "u9 a b")
    assert output.text.startswith("-ERR No such channel!")
    assert switch.sent == [] and switch.fired == []
