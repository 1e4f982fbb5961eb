"""mod_kazoo's tweaks (kazoo_tweaks.c): their configuration, and their effect on the
simulated switch's channels and events."""

from __future__ import annotations

import re

from kazoo_trio.kazoo.config import settings_from_toml, settings_from_xml
from kazoo_trio.switch.kz.tweaks import (
    DEFAULT_TWEAKS,
    KzTweaks,
    Tweak,
    new_interaction_id,
    tweaks_from_config,
)
from tests.switch.callhelpers import bind_dialplan, dialplan_document, extension, running_switch
from tests.waiting import wait_until

PARK = dialplan_document("default", extension([("answer", ""), ("park", "")]))


def test_tweaks_config_follows_kazoo_ei_config() -> None:
    assert DEFAULT_TWEAKS.enabled == frozenset(Tweak)
    only = tweaks_from_config("false", [("Interaction-ID", "true"), ("no-such", "true")])
    assert only.enabled == frozenset({Tweak.INTERACTION_ID})
    # No default: each entry changes the base it starts from.
    fewer = tweaks_from_config(None, [("bridge", "off"), ("caller-id", "0")])
    assert fewer.enabled == frozenset(Tweak) - {Tweak.BRIDGE, Tweak.CALLER_ID}
    assert tweaks_from_config("", []) == DEFAULT_TWEAKS


def test_interaction_id_is_gregorian_seconds_and_a_uuid_prefix() -> None:
    text = new_interaction_id(1_700_000_000_123_456, "0a1b2c3d-0000-0000-0000-000000000000")
    assert text == f"{1_700_000_000 + 62167219200}-0a1b2c3d"
    assert re.fullmatch(r"\d{11}-[0-9a-f]{8}", new_interaction_id(0))


async def test_new_channels_carry_an_interaction_id_from_channel_create() -> None:
    async with running_switch() as (sw, rec):
        assert sw.get_global("UNIX_EPOCH_IN_GREGORIAN") == "62167219200"
        bind_dialplan(sw, PARK)
        args = "{Export-Loopback-Foo=bar,sip_loopback_h_X-K=1,ecallmgr_Account-ID=acc}"
        a = (await sw.api("originate", f"{args}loopback/100 &park()")).text[4:].strip()
        b = (await sw.api("uuid_getvar", f"{a} other_loopback_leg_uuid")).text
        await rec.wait_event("CHANNEL_PARK", b)
        a_create = await rec.wait_event("CHANNEL_CREATE", a)
        b_create = await rec.wait_event("CHANNEL_CREATE", b)
        interaction = a_create.get("variable_Call-Interaction-ID")
        assert interaction and re.fullmatch(r"\d{11}-[0-9a-f]{8}", interaction)
        assert a_create.get("variable_Original-Call-Interaction-ID") == interaction
        # The routed loopback leg follows the other leg's interaction id...
        assert b_create.get("variable_Call-Interaction-ID") == interaction
        assert b_create.get("variable_Original-Call-Interaction-ID")
        # ...takes its Export-Loopback-/sip_loopback_ variables, drops ecallmgr_ ones.
        assert b_create.get("variable_Foo") == "bar"
        assert b_create.get("variable_sip_h_X-K") == "1"
        assert b_create.get("variable_Export-Loopback-Foo") is None
        assert b_create.get("variable_ecallmgr_Account-ID") is None
        assert b_create.get("variable_execute_on_blind_transfer") == "kz_restore_caller_id"
        assert (await sw.api("uuid_getvar", f"{a} Export-Loopback-Foo")).text == "_undef_"
        # The CHANNEL_STATE before the tweaks ran has none of it.
        state = next(e for e in rec.of(a) if e.name == "CHANNEL_STATE")
        assert state.get("variable_Call-Interaction-ID") is None


async def test_tweaks_switched_off_change_nothing() -> None:
    async with running_switch() as (sw, rec):
        sw.set_kz_tweaks(KzTweaks(frozenset()))
        bind_dialplan(sw, PARK)
        a = (await sw.api("originate", "{Export-Loopback-Foo=bar}loopback/100 &park()")).text
        a = a[4:].strip()
        b = (await sw.api("uuid_getvar", f"{a} other_loopback_leg_uuid")).text
        await rec.wait_event("CHANNEL_PARK", b)
        b_create = await rec.wait_event("CHANNEL_CREATE", b)
        assert b_create.get("variable_Call-Interaction-ID") is None
        assert b_create.get("variable_Export-Loopback-Foo") == "bar"
        assert b_create.get("variable_execute_on_blind_transfer") is None


async def test_switch_uri_from_the_sofia_profile_url() -> None:
    async with running_switch() as (sw, rec):
        args = "{sofia_profile_url=sip:mod_sofia@10.1.2.3:5060}"
        a = (await sw.api("originate", f"{args}null/1 &park()")).text[4:].strip()
        create = await rec.wait_event("CHANNEL_CREATE", a)
        assert create.get("variable_Switch-URL") == "sip:mod_sofia@10.1.2.3:5060"
        assert create.get("variable_Switch-URI") == "sip:10.1.2.3:5060"


async def test_bridge_carries_call_control_variables_to_the_newer_leg() -> None:
    async with running_switch() as (sw, rec):
        old = (await sw.api("originate", "{Call-Control-Queue=q-1}null/1 &park()")).text
        new = (await sw.api("originate", "null/2 &park()")).text
        old, new = old[4:].strip(), new[4:].strip()
        await rec.wait_event("CHANNEL_PARK", new)
        assert (await sw.api("uuid_bridge", f"{new} {old}")).text.startswith("+OK")
        await rec.wait_event("CHANNEL_BRIDGE", new)

        async def carried() -> bool:
            text = (await sw.api("uuid_getvar", f"{new} Call-Control-Queue")).text
            return text == "q-1"

        await wait_until(carried)
        old_id = (await sw.api("uuid_getvar", f"{old} Call-Interaction-ID")).text
        assert (await sw.api("uuid_getvar", f"{new} Call-Interaction-ID")).text == old_id


async def test_transferor_event_spreads_the_interaction_id() -> None:
    async with running_switch() as (sw, rec):
        one = (await sw.api("originate", "null/1 &park()")).text[4:].strip()
        two = (await sw.api("originate", "null/2 &park()")).text[4:].strip()
        await rec.wait_event("CHANNEL_PARK", two)
        one_id = (await sw.api("uuid_getvar", f"{one} Call-Interaction-ID")).text
        headers = [("Unique-ID", one), ("att_xfer_destination_call_id", two)]
        sw.fire(sw.new_event("CUSTOM", subclass="sofia::transferor", headers=headers))
        data = await rec.wait_event("CHANNEL_DATA", two)
        assert data.get("variable_Call-Interaction-ID") == one_id


def test_kazoo_conf_xml_tweaks_section() -> None:
    settings = settings_from_xml(
        '<configuration name="kazoo.conf"><settings/>'
        '<tweaks default="off"><tweak name="switch-uri" value="true"/>'
        '<tweak name="loopback-vars" value="yes"/><tweak name="bridge"/></tweaks>'
        "</configuration>"
    )
    assert settings.kz_tweaks == KzTweaks(frozenset({Tweak.SWITCH_URI, Tweak.LOOPBACK_VARS}))
    assert settings_from_xml('<configuration name="kazoo.conf"/>').kz_tweaks is None


async def test_bridge_to_a_replacing_call_reports_the_replaced_one_bridged() -> None:
    async with running_switch() as (sw, rec):
        one = (await sw.api("originate", "{sip_replaces_call_id=old-1}null/1 &park()")).text
        two = (await sw.api("originate", "null/2 &park()")).text
        one, two = one[4:].strip(), two[4:].strip()
        await rec.wait_event("CHANNEL_PARK", two)
        assert (await sw.api("uuid_bridge", f"{one} {two}")).text.startswith("+OK")
        echoed = await rec.wait_event("CHANNEL_BRIDGE", two, Bridge_Event_Processed="true")
        assert echoed.get("Bridge-A-Unique-ID") == two
        assert echoed.get("Bridge-B-Unique-ID") == one
        # Its channel reports the unbridge when it hangs up (a state handler's on_hangup).
        await sw.api("uuid_kill", two)
        unbridged = await rec.wait_for(
            lambda e: (
                e.name == "CHANNEL_UNBRIDGE"
                and e.get("Unique-ID") == two
                and e.get("Bridge-A-Unique-ID") == two
            )
        )
        assert unbridged.get("Bridge-B-Unique-ID") == one


def test_toml_tweaks_table() -> None:
    settings = settings_from_toml(
        '[settings]\nnodename = "fs"\n[tweaks]\ndefault = false\n"interaction-id" = true\n'
    )
    assert settings.kz_tweaks == KzTweaks(frozenset({Tweak.INTERACTION_ID}))


async def test_blind_transfer_restores_the_original_caller_id() -> None:
    for tweaks, expected in ((DEFAULT_TWEAKS, "Orig"), (KzTweaks(frozenset()), "Changed")):
        async with running_switch() as (sw, rec):
            sw.set_kz_tweaks(tweaks)
            document = dialplan_document(
                "default",
                extension(
                    [("set_profile_var", "caller_id_name=Changed"), ("transfer", "200")], "^100$"
                )
                + extension([("answer", ""), ("park", "")], "^200$", "parked"),
            )
            bind_dialplan(sw, document)
            a = (await sw.api("originate", "loopback/100 &park() XML default Orig 1000")).text
            b = (await sw.api("uuid_getvar", f"{a[4:].strip()} other_loopback_leg_uuid")).text
            park = await rec.wait_event("CHANNEL_PARK", b)
            assert park.get("Caller-Caller-ID-Name") == expected
