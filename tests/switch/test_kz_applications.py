"""mod_kazoo's applications on the simulated switch: each runs the stock applications
it translates to, inside one CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE pair."""

from __future__ import annotations

from kazoo_trio.switch.sim import SimSwitch
from tests.switch.callhelpers import bind_dialplan, dialplan_document, extension, running_switch


async def test_route_with_kz_applications_sets_unsets_and_reports() -> None:
    async with running_switch() as (sw, rec):
        actions = [
            ("set", "sip_h_X-Drop=1"),
            ("set", "sip_h_x-also=2"),
            ("kz_multiset_encoded", "^^|ecallmgr_Account-ID=acc%7C1|effective_caller_id_name=Al"),
            ("kz_prefix_unset", "sip_h_X-"),
            ("kz_multiset_encoded", "^^;Call-Control-Queue=q-1;Call-Control-PID=&lt;0.1.0&gt;"),
            ("kz_export", "^^|exp_a=1|exp_b=${Call-Control-Queue}"),
            ("kz_multiunset", "^^|exp_a|nothing"),
            ("noop", "noop-42"),
            ("kz_restore_caller_id", ""),
            ("answer", ""),
            ("park", ""),
        ]
        bind_dialplan(sw, dialplan_document("default", extension(actions)))
        a = (await sw.api("originate", "loopback/100 &park()")).text[4:].strip()
        b = (await sw.api("uuid_getvar", f"{a} other_loopback_leg_uuid")).text
        await rec.wait_event("CHANNEL_PARK", b)

        async def var(name: str) -> str:
            return (await sw.api("uuid_getvar", f"{b} {name}")).text

        assert await var("ecallmgr_Account-ID") == "acc|1"
        assert await var("Call-Control-Queue") == "q-1"
        assert await var("sip_h_X-Drop") == "_undef_"
        assert await var("sip_h_x-also") == "_undef_"
        assert await var("exp_a") == "_undef_"
        assert await var("exp_b") == "q-1"
        assert await var("export_vars") == "exp_a,exp_b"
        executed = [n for n in rec.names(b) if n.startswith("CHANNEL_EXECUTE:")]
        # One application each: the stock steps do not show as applications.
        assert executed == [f"CHANNEL_EXECUTE:{app}" for app, _ in actions]
        noop = await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b, Application="noop")
        assert noop.get("Application-Response") == "noop-42"
        # kz_multiset fires CHANNEL_DATA after its sets; the profile var changed the caller.
        data = await rec.wait_event("CHANNEL_DATA", b)
        assert data.get("variable_ecallmgr_Account-ID") == "acc|1"
        assert data.get("Caller-Caller-ID-Name") == "Al"
        park = await rec.wait_event("CHANNEL_PARK", b)
        # kz_restore_caller_id put the original caller id back.
        assert park.get("Caller-Caller-ID-Name") != "Al"
        assert park.get("variable_ecallmgr_Account-ID") == "acc|1"


async def test_kz_uuid_multiset_sets_on_the_other_leg() -> None:
    async with running_switch() as (sw, rec):
        bind_dialplan(sw, dialplan_document("default", extension([("answer", ""), ("park", "")])))
        a = (await sw.api("originate", "loopback/100 &park()")).text[4:].strip()
        b = (await sw.api("uuid_getvar", f"{a} other_loopback_leg_uuid")).text
        await rec.wait_event("CHANNEL_PARK", b)
        event = sw.new_event(
            "COMMAND",
            headers=[
                ("call-command", "execute"),
                ("execute-app-name", "kz_uuid_multiset_encoded"),
                ("execute-app-arg", f"{a} ^^|SIP-Refer-To=%3Csip:1@x%3E|Signal-Bridge-To={b}"),
                ("event-uuid", "m1"),
            ],
        )
        await sw.queue_private_event(b, event)
        await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b, Application_UUID="m1")
        assert (await sw.api("uuid_getvar", f"{a} SIP-Refer-To")).text == "<sip:1@x>"
        assert (await sw.api("uuid_getvar", f"{a} Signal-Bridge-To")).text == b
        data = await rec.wait_event("CHANNEL_DATA", a)
        assert data.get("variable_SIP-Refer-To") == "<sip:1@x>"


async def test_xferext_runs_each_application_header_in_order() -> None:
    async with running_switch() as (sw, rec):
        bind_dialplan(sw, dialplan_document("default", extension([("answer", ""), ("park", "")])))
        a = (await sw.api("originate", "loopback/100 &park()")).text[4:].strip()
        b = (await sw.api("uuid_getvar", f"{a} other_loopback_leg_uuid")).text
        await rec.wait_event("CHANNEL_PARK", b)
        ring = "%(2000,4000,440,480)"
        masquerade = (
            "event Event-Name=CUSTOM,Event-Subclass=kazoo::masquerade,"
            "kazoo_event_name=CHANNEL_EXECUTE_COMPLETE,kazoo_application_name=bridge,"
            "Application-UUID=app-1"
        )
        apps = [
            f"kz_export ^^~ringback={ring}~transfer_ringback={ring}",
            "kz_multiset ^^~ecallmgr_B=2~ecallmgr_A=1",
            "export sip_redirect_context=context_2",
            "set continue_on_fail=true",
            "set hangup_after_bridge=false",
            "bridge {ecallmgr_X=1}error/USER_BUSY",
            masquerade,
            "park",
        ]
        xfer = sw.new_event(
            "SEND_MESSAGE",
            headers=[("call-command", "xferext"), *[("application", app) for app in apps]],
        )
        await sw.queue_private_event(b, xfer)
        await rec.wait_event("kazoo::masquerade", b, Application_UUID="app-1")
        await rec.wait_for(
            lambda e: (
                e.name == "CHANNEL_PARK"
                and e.get("Unique-ID") == b
                and e.get("variable_continue_on_fail") == "true"
            )
        )
        executed = [n for n in rec.names(b) if n.startswith("CHANNEL_EXECUTE:")]
        assert executed[-8:] == [f"CHANNEL_EXECUTE:{app.split(' ')[0]}" for app in apps]
        bridge = await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", b, Application="bridge")
        assert bridge.get("Application-Data") == "{ecallmgr_X=1}error/USER_BUSY"
        assert bridge.get("Application-Response") == "USER_BUSY"
        assert (await sw.api("uuid_getvar", f"{b} transfer_ringback")).text == ring
        assert (await sw.api("uuid_getvar", f"{b} ecallmgr_A")).text == "1"
        assert (await sw.api("uuid_getvar", f"{b} export_vars")).text == (
            "ringback,transfer_ringback,sip_redirect_context"
        )


# Every mod_kazoo name ecallmgr sends (grep of applications/ecallmgr/src), as an
# application or an API command.
ECALLMGR_APPLICATIONS = (
    "kz_multiset_encoded", "kz_multiset", "kz_export", "kz_export_encoded",
    "kz_prefix_unset", "kz_uuid_multiset_encoded", "kz_endless_playback", "noop",
    "kz_att_xfer",
)  # fmt: skip
ECALLMGR_COMMANDS = ("kz_uuid_setvar_multi_encoded", "kz_http_put")


async def test_nothing_ecallmgr_sends_of_mod_kazoo_is_unknown() -> None:
    sw = SimSwitch()
    assert [name for name in ECALLMGR_APPLICATIONS if sw.application(name) is None] == []
    for name in ECALLMGR_COMMANDS:
        assert (await sw.api(name, "")).found, name
