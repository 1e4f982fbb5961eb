"""mod_conference on the simulated switch as FreeSWITCH's C code has it: the
``conference.conf`` lookups of each join (the profile, then the caller controls), the
profile's domain and verbose-events, and the floor."""

from __future__ import annotations

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import XmlLookup
from kazoo_trio.switch.sim import SimSwitch
from tests.switch.callhelpers import Recorder, running_switch
from tests.switch.test_sim_apps import dialplan, execute, parked


def conference_conf(params: str) -> str:
    return (
        '<document type="freeswitch/xml"><section name="configuration">'
        '<configuration name="conference.conf"><caller-controls><group name="default"/>'
        f'</caller-controls><profiles><profile name="default">{params}</profile></profiles>'
        "</configuration></section></document>"
    )


def bind_configuration(sw: SimSwitch, document: str, seen: list[XmlLookup]) -> None:
    async def handler(lookup: XmlLookup) -> str | None:
        seen.append(lookup)
        return document

    sw.bind_xml(["configuration"], handler)


def actions(rec: Recorder) -> list[str | None]:
    return [e.get("Action") for e in rec.events if e.subclass == "conference::maintenance"]


async def join(sw: SimSwitch, rec: Recorder, uuid: str, data: str) -> Event:
    assert await sw.queue_private_event(uuid, execute(sw, "conference", data))
    return await rec.wait_event("conference::maintenance", uuid, Action="add-member")


async def test_each_join_looks_up_the_profile_then_the_caller_controls() -> None:
    async with running_switch() as (sw, rec):
        dialplan(sw)
        seen: list[XmlLookup] = []
        bind_configuration(sw, conference_conf(""), seen)
        b1 = await parked(sw, rec)
        await join(sw, rec, b1, "room@default")
        await rec.wait_for(lambda e: len(seen) >= 2)
        profile, controls = seen[:2]
        # conference_function: switch_xml_open_cfg with a COMMAND event naming the call.
        assert (profile.section, profile.tag_name, profile.key_name, profile.key_value) == (
            "configuration",
            "configuration",
            "name",
            "conference.conf",
        )
        assert profile.params.name == "COMMAND"
        assert profile.params.get("conference_name") == "room"
        assert profile.params.get("profile_name") == "default"
        assert profile.params.get("Fetch-Call-UUID") == b1
        # conference_member_bind_controls, after the member joined.
        assert controls.key_value == "conference.conf"
        assert controls.params.name == "REQUEST_PARAMS"
        assert [
            (k, controls.params.get(k))
            for k in ("Conf-Name", "Conf-Profile", "Action", "Controls", "Fetch-Call-UUID")
        ] == [
            ("Conf-Name", "room"),
            ("Conf-Profile", "default"),
            ("Action", "request-controls"),
            ("Controls", "default"),
            ("Fetch-Call-UUID", b1),
        ]
        b2 = await parked(sw, rec, "101")
        assert await sw.queue_private_event(b2, execute(sw, "set", "conference_controls=none"))
        await join(sw, rec, b2, "room@default")
        await rec.wait_for(lambda e: len(seen) >= 3)
        # "none" binds no controls: only the profile lookup.
        assert [lookup.params.name for lookup in seen] == ["COMMAND", "REQUEST_PARAMS", "COMMAND"]


async def test_the_domain_and_member_data_follow_the_profile() -> None:
    async with running_switch() as (sw, rec):
        dialplan(sw)
        b1 = await parked(sw, rec)
        # No profile answer: conference_new's default domain, members' basic data only.
        added = await join(sw, rec, b1, "plain@default")
        assert added.get("Conference-Domain") == "cluecon.com"
        assert not [name for name, _ in added.headers if name.startswith("variable_")]
        assert added.get("Unique-ID") == b1
        create = await rec.wait_event("conference::maintenance", Action="conference-create")
        assert create.get("Unique-ID") is None  # conference_new has no member yet
        seen: list[XmlLookup] = []
        verbose = (
            '<param name="domain" value="conf.example.org"/>'
            '<param name="verbose-events" value="true"/>'
        )
        bind_configuration(sw, conference_conf(verbose), seen)
        b2 = await parked(sw, rec, "101")
        added = await join(sw, rec, b2, "verbose@default")
        assert added.get("Conference-Domain") == "conf.example.org"
        assert added.get("variable_uuid") == b2


async def test_the_floor_goes_to_the_first_member_then_to_the_newest() -> None:
    async with running_switch() as (sw, rec):
        dialplan(sw)
        b1 = await parked(sw, rec)
        await join(sw, rec, b1, "room@default")
        floor = await rec.wait_event("conference::maintenance", b1, Action="floor-change")
        assert (floor.get("Old-ID"), floor.get("New-ID"), floor.get("Floor")) == (
            "none",
            "1",
            "true",
        )
        # conference_member_add_event_data repeats the conference's data.
        assert [v for k, v in floor.headers if k == "Conference-Name"] == ["room", "room"]
        assert ";hear|speak|floor;" in (await sw.api("conference", "room list")).text
        b2 = await parked(sw, rec, "101")
        added = await join(sw, rec, b2, "room@default")
        assert added.get("Floor") == "false"
        await sw.api("uuid_kill", b1)
        await rec.wait_event("conference::maintenance", b1, Action="del-member")
        moved = await rec.wait_event("conference::maintenance", b2, Action="floor-change")
        assert (moved.get("Old-ID"), moved.get("New-ID")) == ("none", "2")
        assert actions(rec)[-4:] == ["add-member", "floor-change", "del-member", "floor-change"]
        # The holder that left is off the member list already: no old id.
        released = [e for e in rec.events if e.get("Action") == "floor-change"][-2]
        assert (released.get("Old-ID"), released.get("New-ID")) == ("none", "none")
