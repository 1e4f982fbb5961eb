"""The FreeSWITCH backend against the real FreeSWITCH: API, events, channels, lookups."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
import trio

from kazoo_trio.errors import ConfigurationError
from kazoo_trio.switch.bus import selective
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.freeswitch.backend import host_port
from kazoo_trio.switch.protocol import SwitchBackend, XmlLookup
from tests.freeswitch.fsmin import FreeSwitch
from tests.freeswitch.kazoo_helpers import backend_running
from tests.waiting import wait_until


@pytest.fixture
def fs(shared_fs: FreeSwitch) -> FreeSwitch:
    return shared_fs


async def test_api_globals_and_identity(fs: FreeSwitch) -> None:
    async with backend_running(fs) as switch:
        assert isinstance(switch, SwitchBackend)
        status = await switch.api("status", "")
        assert status.ok and "is ready" in status.text
        assert status.event.get("API-Command") == "status"
        unknown = await switch.api("no_such_command", "x")
        assert (unknown.ok, unknown.text, unknown.found) == (False, "", False)
        assert unknown.event.get("API-Error") == "invalid command"
        hostname = switch.get_global("hostname")
        assert hostname and switch.identity.hostname == hostname
        assert switch.identity.core_uuid == switch.get_global("core_uuid")
        assert switch.identity.version_full.startswith("1.11.")
        # Expansion (FreeSWITCH's expand command) before the command sees its argument.
        expanded = await switch.api("global_getvar", "$${kt_unset}hostname")
        assert expanded.text == hostname
        assert (await switch.api("global_getvar", "$${kt_unset}hostname", expand=False)).text == ""
        switch.set_global("kt_backend_var", "v1")
        assert switch.get_global("kt_backend_var") == "v1"
        await wait_until(lambda: fs.api("global_getvar kt_backend_var") == "v1", timeout=5)
        ok, reply = await switch.json_api({"command": "status", "data": ""})
        assert ok and reply["status"] == "success"
        assert isinstance(reply["response"], dict)
        assert reply["response"]["systemStatus"] == "ready"


async def test_channel_events_channels_and_sendmsg(fs: FreeSwitch) -> None:
    events: list[Event] = []
    async with backend_running(fs) as switch:
        switch.add_listener(events.append)
        # Subscribed before anything is fired or made: nothing is missed.
        await switch.listeners_followed()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                switch.api, "originate", "{origination_uuid=kt-a-leg}loopback/1000/default &park"
            )

            def created() -> Event | None:
                return next(
                    (e for e in events if e.name == "CHANNEL_CREATE" and e.unique_id == "kt-a-leg"),
                    None,
                )

            await wait_until(created, timeout=5)
            create = created()
            assert create is not None
            assert [k for k, _ in create.headers[:3]] == [
                "Event-Name",
                "Core-UUID",
                "FreeSWITCH-Hostname",
            ]
            assert create.get("Caller-Destination-Number") == "1000"
            assert switch.channel_exists("kt-a-leg")
            data = switch.channel_headers("kt-a-leg")
            assert data is not None and data[0][0] == "Channel-State"
            assert ("Unique-ID", "kt-a-leg") in data
            hangup = switch.new_event(
                "SEND_MESSAGE",
                headers=[("call-command", "hangup"), ("hangup-cause", "NORMAL_CLEARING")],
            )
            assert await switch.queue_private_event("kt-a-leg", hangup)
            await wait_until(
                lambda: any(
                    e.name == "CHANNEL_DESTROY" and e.unique_id == "kt-a-leg" for e in events
                ),
                timeout=5,
            )
            assert not switch.channel_exists("kt-a-leg")
            assert not await switch.queue_private_event("kt-a-leg", hangup)
            nursery.cancel_scope.cancel()


async def test_fired_events_come_back_from_freeswitch(fs: FreeSwitch) -> None:
    events: list[Event] = []
    async with backend_running(fs) as switch:
        switch.add_listener(events.append)
        # Subscribed before anything is fired or made: nothing is missed.
        await switch.listeners_followed()
        event = switch.new_event(
            "CUSTOM", subclass="kt::fired", headers=[("X-K", "v"), ("X-K", "w")], body="b"
        )
        switch.fire(event)
        await wait_until(lambda: any(e.subclass == "kt::fired" for e in events), timeout=5)
        back = next(e for e in events if e.subclass == "kt::fired")
        assert back.get_all("X-K") == ["v", "w"] and back.body == "b"
        assert back.get("Event-Calling-File") == "mod_event_socket.c"


async def test_events_naming_a_live_channel_reach_the_listeners(fs: FreeSwitch) -> None:
    # FreeSWITCH's event socket would queue them to the channel and never fire them.
    events: list[Event] = []
    async with backend_running(fs) as switch:
        switch.add_listener(events.append)
        # Subscribed before anything is fired or made: nothing is missed.
        await switch.listeners_followed()
        made = await switch.api("originate", "{origination_uuid=kt-fired}null/1000 &park")
        assert made.ok, made.text
        await wait_until(lambda: switch.channel_exists("kt-fired"), timeout=5)
        try:
            set_var = await switch.api("kz_uuid_setvar", "kt-fired kt_fired_var yes")
            assert set_var.ok, set_var.text
            await wait_until(
                lambda: any(
                    e.name == "CHANNEL_DATA" and e.get("Unique-ID") == "kt-fired" for e in events
                ),
                timeout=5,
            )
            data = next(e for e in events if e.name == "CHANNEL_DATA")
            assert data.get("variable_kt_fired_var") == "yes"
            assert data.get("Channel-Name") == "null/1000"
        finally:
            await switch.api("uuid_kill", "kt-fired")


async def test_dialplan_lookup_answered_by_a_binding(fs: FreeSwitch) -> None:
    lookups: list[XmlLookup] = []
    events: list[Event] = []

    async def route(lookup: XmlLookup) -> str | None:
        lookups.append(lookup)
        if lookup.params.get("Caller-Destination-Number") != "4242":
            return None
        return (
            '<document type="freeswitch/xml"><section name="dialplan">'
            '<context name="default"><extension name="kt"><condition>'
            '<action application="set" data="kt_routed=yes"/>'
            '<action application="park"/>'
            "</condition></extension></context></section></document>"
        )

    async with backend_running(fs) as switch:
        switch.add_listener(events.append)
        # Subscribed before anything is fired or made: nothing is missed.
        await switch.listeners_followed()
        switch.bind_xml(["dialplan"], route)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(switch.api, "originate", "loopback/4242/default &park")

            def executed() -> bool:
                return any(
                    e.name == "CHANNEL_EXECUTE_COMPLETE"
                    and e.get("Application") == "set"
                    and e.get("variable_kt_routed") == "yes"
                    for e in events
                )

            await wait_until(executed, timeout=5)
            assert lookups[0].section == "dialplan"
            assert lookups[0].params.name == "REQUEST_PARAMS"
            await switch.api("hupall", "")
            nursery.cancel_scope.cancel()


def test_host_port() -> None:
    assert host_port("127.0.0.1:8021", 1) == ("127.0.0.1", 8021)
    assert host_port("fs.example.com", 8021) == ("fs.example.com", 8021)
    assert host_port(":8090", 1) == ("127.0.0.1", 8090)
    assert host_port("[::1]:8090", 1) == ("::1", 8090)
    with pytest.raises(ConfigurationError):
        host_port("h:x", 1)


async def test_execution_events_a_listener_refuses_by_application_are_not_delivered(
    fs: FreeSwitch,
) -> None:
    """A listener that judges CHANNEL_EXECUTE_COMPLETE by its application is asked with
    the application FreeSWITCH named, before the event is parsed; what it refuses never
    reaches it, what it takes does."""
    got: list[Event] = []
    asked: list[str | None] = []

    def by_application(name: str, subclass: str | None, known: Mapping[str, str | None]) -> bool:
        asked.append(known.get("Application"))
        return known.get("Application") != "set"

    listener = selective(
        got.append,
        lambda name, subclass: name in ("CHANNEL_EXECUTE_COMPLETE", "CHANNEL_DESTROY"),
        wants_headers=by_application,
    )
    async with backend_running(fs) as switch:
        switch.add_listener(listener)
        await switch.listeners_followed()
        made = await switch.api(
            "originate", "{origination_uuid=kt-known}null/1000 set:kt_a=1,set:kt_b=2,park inline"
        )
        assert made.ok, made.text
        await wait_until(lambda: switch.channel_exists("kt-known"), timeout=5)
        await wait_until(lambda: asked.count("set") >= 2, timeout=5)
        await switch.api("uuid_kill", "kt-known")

        def mine(e: Event) -> bool:
            return e.get("Unique-ID") == "kt-known"

        await wait_until(lambda: any(e.name == "CHANNEL_DESTROY" and mine(e) for e in got))
        completed = [e.get("Application") for e in got if mine(e) and e.name != "CHANNEL_DESTROY"]
        # park's completion came (FreeSWITCH may report it more than once); the two
        # set completions, refused by their application, did not.
        assert completed and set(completed) == {"park"}
        assert {"set", "park"} <= set(asked)
