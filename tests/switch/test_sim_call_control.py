"""Call control on the simulated switch as FreeSWITCH's C code does it: hold and unhold
(``switch_ivr_hold``/``unhold`` through ``uuid_hold``), a blind transfer's profile
(``switch_ivr_session_transfer``), what a bridge leaves on its caller
(``switch_ivr_originate``) and the codec of mod_loopback's legs."""

from __future__ import annotations

from kazoo_trio.switch.sim import SimSwitch
from tests.switch.callhelpers import (
    Recorder,
    bind_dialplan,
    dialplan_document,
    extension,
    running_switch,
)
from tests.switch.test_sim_apps import execute, run_app, uuid_of
from tests.switch.test_sim_sofia import DOMAIN, auth_user, bind_registrar


def route_all(sw: SimSwitch) -> None:
    """100 answers and parks; ``ring`` parks unanswered; ``busy`` hangs up USER_BUSY."""
    bind_dialplan(
        sw,
        dialplan_document(
            "default",
            extension([("answer", ""), ("park", "")], "^100$", "100")
            + extension([("park", "")], "^ring$", "ring")
            + extension([("hangup", "USER_BUSY")], "^busy$", "busy"),
        ),
    )


async def answered_b_leg(sw: SimSwitch, rec: Recorder) -> str:
    """The routed (-b) leg of a ``loopback/100`` call, answered and parked."""
    a = uuid_of((await sw.api("originate", "loopback/100 &park()")).text)
    b = (await sw.api("uuid_getvar", f"{a} other_loopback_leg_uuid")).text
    await rec.wait_event("CHANNEL_PARK", b)
    return b


async def test_uuid_hold_of_a_loopback_call_never_makes_it_held() -> None:
    async with running_switch() as (sw, rec):
        route_all(sw)
        b = await answered_b_leg(sw, rec)
        # Only mod_sofia marks its leg holding: the call stays ACTIVE, so it can be held
        # again (one CHANNEL_HOLD each time) and never unheld.
        assert (await sw.api("uuid_hold", f" {b}")).text == "+OK Success\n"
        held = await rec.wait_event("CHANNEL_HOLD", b)
        assert held.get("Channel-Call-State") == "ACTIVE"
        assert held.get("Event-Calling-File") == "switch_ivr.c"
        assert held.get("Event-Calling-Function") == "switch_ivr_hold"
        assert held.get("Caller-Channel-Last-Hold") == "0"
        assert (await sw.api("uuid_hold", b)).text == "+OK Success\n"
        assert (await sw.api("uuid_hold", f"off {b}")).text == "-ERR Operation failed\n"
        assert (await sw.api("uuid_hold", f"toggle {b}")).text == "+OK Success\n"
        # switch_ivr_*_uuid succeed when no channel has the uuid.
        for args in ("nope", "off nope", "toggle nope", "off"):
            assert (await sw.api("uuid_hold", args)).text == "+OK Success\n", args
        assert (await sw.api("uuid_hold", "")).text.startswith("-USAGE: ")
        names = rec.names(b)
        assert names.count("CHANNEL_HOLD") == 3 and "CHANNEL_UNHOLD" not in names


async def test_uuid_hold_of_a_sip_call_holds_until_unheld() -> None:
    async with running_switch() as (sw, rec):
        bind_registrar(sw, auth_user("1000", "pw"), "", [])
        await sw.sofia.register("1000", DOMAIN, password="pw")
        uuid = uuid_of(
            (await sw.api("originate", f"sofia/sipinterface_1/1000@{DOMAIN} &park()")).text
        )
        await rec.wait_event("CHANNEL_PARK", uuid)
        assert (await sw.api("uuid_hold", uuid)).text == "+OK Success\n"
        held = await rec.wait_event("CHANNEL_HOLD", uuid)
        assert held.get("Channel-Call-State") == "HELD"
        assert held.get("Caller-Channel-Last-Hold") != "0"
        assert (await sw.api("uuid_hold", uuid)).text == "-ERR Operation failed\n"
        assert (await sw.api("uuid_hold", f"toggle {uuid}")).text == "+OK Success\n"
        unheld = await rec.wait_event("CHANNEL_UNHOLD", uuid)
        assert unheld.get("Channel-Call-State") == "UNHELD"
        assert unheld.get("Event-Calling-Function") == "switch_ivr_unhold"
        assert (await sw.api("uuid_hold", f"off {uuid}")).text == "-ERR Operation failed\n"
        assert (await sw.api("uuid_hold", f"toggle {uuid}")).text == "+OK Success\n"
        assert rec.names(uuid).count("CHANNEL_HOLD") == 2


async def test_bridge_cancelled_by_the_caller_records_originator_cancel() -> None:
    async with running_switch() as (sw, rec):
        route_all(sw)
        b = await answered_b_leg(sw, rec)
        bridge = execute(sw, "bridge", "{origination_uuid=kt-ring}loopback/ring")
        assert await sw.queue_private_event(b, bridge)
        await rec.wait_event("CHANNEL_PARK", Channel_Name="loopback/ring-b")
        assert (await sw.api("uuid_kill", f"{b} ")).text == "+OK\n"
        destroy = await rec.wait_event("CHANNEL_DESTROY", b)
        assert destroy.get("Hangup-Cause") == "NORMAL_CLEARING"
        assert destroy.get("variable_originate_failed_cause") == "ORIGINATOR_CANCEL"
        assert destroy.get("variable_originate_disposition") == "ORIGINATOR_CANCEL"
        assert destroy.get("variable_DIALSTATUS") == "CANCEL"
        ringing = await rec.wait_event("CHANNEL_DESTROY", "kt-ring")
        assert ringing.get("Hangup-Cause") == "ORIGINATOR_CANCEL"


async def test_bridges_leave_switch_ivr_originates_disposition_and_dialstatus() -> None:
    async with running_switch() as (sw, rec):
        route_all(sw)
        b = await answered_b_leg(sw, rec)
        await run_app(sw, rec, b, "set", "continue_on_fail=true")
        for dial, disposition, status in (
            ("loopback/busy", "USER_BUSY", "BUSY"),
            ("error/CALL_REJECTED", "CALL_REJECTED", "DONTCALL"),
            ("error/DESTINATION_OUT_OF_ORDER", "DESTINATION_OUT_OF_ORDER", "INVALIDARGS"),
            ("error/NO_ROUTE_DESTINATION", "NO_ROUTE_DESTINATION", "NO_ROUTE_DESTINATION"),
        ):
            done = await run_app(sw, rec, b, "bridge", dial)
            assert done.get("variable_originate_disposition") == disposition, dial
            assert done.get("variable_originate_failed_cause") == disposition, dial
            assert done.get("variable_DIALSTATUS") == status, dial
        peer = execute(sw, "bridge", "{origination_uuid=kt-peer}loopback/100")
        assert await sw.queue_private_event(b, peer)
        await rec.wait_event("CHANNEL_BRIDGE", b)
        # switch_ivr_originate's "call accepted" and EARLY are overwritten, as for every
        # outcome, by the cause's name: SUCCESS (what FreeSWITCH reports at the unbridge).
        assert (await sw.api("uuid_getvar", f"{b} originate_disposition")).text == "SUCCESS"
        assert (await sw.api("uuid_getvar", f"{b} DIALSTATUS")).text == "SUCCESS"


async def test_transfer_application_completes_with_the_new_profile() -> None:
    async with running_switch() as (sw, rec):
        route_all(sw)
        b = await answered_b_leg(sw, rec)
        done = await run_app(sw, rec, b, "transfer", "ring xml default")
        assert done.get("Caller-Destination-Number") == "ring"
        assert done.get("Caller-Dialplan") == "xml"
        assert done.get("Caller-RDNIS") == "100"
        assert done.get("variable_transfer_source", "").endswith(":bl_xfer:ring/default/xml")
        assert done.get("variable_max_forwards") == "70"
        await rec.wait_event("CHANNEL_PARK", b, Caller_Destination_Number="ring")
        # Each transfer is one hop less; none left ends the call.
        await run_app(sw, rec, b, "set", "max_forwards=2x")
        done = await run_app(sw, rec, b, "transfer", "ring")
        assert done.get("variable_max_forwards") == "1"
        await rec.wait_event("CHANNEL_PARK", b, Caller_Destination_Number="ring")
        await run_app(sw, rec, b, "transfer", "100")
        destroy = await rec.wait_event("CHANNEL_DESTROY", b)
        assert destroy.get("Hangup-Cause") == "EXCHANGE_ROUTING_ERROR"


async def test_loopback_and_null_legs_run_l16() -> None:
    async with running_switch() as (sw, rec):
        uuid = uuid_of((await sw.api("originate", "null/1000 &park()")).text)
        park = await rec.wait_event("CHANNEL_PARK", uuid)
        assert park.get("Channel-Read-Codec-Name") == "L16"
        assert park.get("variable_channel_name") == "null/1000"
        # switch_core_session_request: CF_OUTBOUND (is_outbound), call_uuid its own.
        assert park.get("variable_is_outbound") == "true"
        assert park.get("variable_call_uuid") == uuid
        assert (park.get("variable_read_codec"), park.get("variable_write_rate")) == ("L16", "8000")
        assert park.get("Channel-Write-Codec-Rate") == "8000"
        assert park.get("Channel-Write-Codec-Bit-Rate") == "128000"
        table = (await sw.api("show", "channels")).text.splitlines()
        row = dict(zip(table[0].split(","), table[1].split(","), strict=True))
        assert (row["read_codec"], row["read_rate"], row["read_bit_rate"]) == (
            "L16",
            "8000",
            "128000",
        )


async def test_last_app_is_named_at_the_hang_up_only() -> None:
    async with running_switch() as (sw, rec):
        route_all(sw)
        b = await answered_b_leg(sw, rec)
        done = await run_app(sw, rec, b, "set", "kt=1")
        assert done.get("variable_last_app") is None
        await run_app(sw, rec, b, "log", "INFO the end")
        assert (await sw.api("uuid_kill", b)).text == "+OK\n"
        destroy = await rec.wait_event("CHANNEL_DESTROY", b)
        assert destroy.get("variable_last_app") == "log"
        assert destroy.get("variable_last_arg") == "INFO the end"


async def test_dtmf_strings_carry_their_durations() -> None:
    async with running_switch() as (sw, rec):
        route_all(sw)
        b = await answered_b_leg(sw, rec)
        a = (await sw.api("uuid_getvar", f"{b} other_loopback_leg_uuid")).text
        # send_dtmf goes to the loopback's other leg: <ms> at 8 samples each, 50 ms or
        # less keeps the default, and the core's bounds hold.
        await run_app(sw, rec, b, "send_dtmf", "12@200+3+4@50+5@100000")
        await rec.wait_for(lambda e: e.name == "DTMF" and e.get("DTMF-Digit") == "5")
        sent = [
            (e.get("DTMF-Digit"), e.get("DTMF-Duration")) for e in rec.of(a) if e.name == "DTMF"
        ]
        assert sent == [("1", "1600"), ("2", "1600"), ("3", "2000"), ("4", "2000"), ("5", "192000")]
        text = (await sw.api("uuid_recv_dtmf", f"{b} 9@100")).text
        assert text == f"+OK {b} received DTMF 9@100.\n"
        received = await rec.wait_event("DTMF", b, DTMF_Digit="9")
        assert received.get("DTMF-Duration") == "800"
        assert (await sw.api("uuid_send_dtmf", f"{b} 7")).text == f"+OK {b} sent DTMF 7.\n"
        assert (await rec.wait_event("DTMF", a, DTMF_Digit="7")).get("DTMF-Duration") == "2000"


async def test_uuid_transfer_to_an_inline_park_leaves_the_bridge_with_the_new_profile() -> None:
    async with running_switch() as (sw, rec):
        route_all(sw)
        b = await answered_b_leg(sw, rec)
        bridge = execute(sw, "bridge", "{origination_uuid=kt-peer}loopback/100")
        assert await sw.queue_private_event(b, bridge)
        await rec.wait_event("CHANNEL_BRIDGE", b)
        # ecallmgr's unbridge: "<uuid> <leg> park: inline" with no leg.
        assert (await sw.api("uuid_transfer", f"{b}  park: inline")).text == "+OK\n"
        unbridged = await rec.wait_event("CHANNEL_UNBRIDGE", b)
        assert unbridged.get("Caller-Dialplan") == "inline"
        assert unbridged.get("Caller-Destination-Number") == "park:"
        # mod_dptools' inline dialplan runs park, and gives the number back.
        parked = await rec.wait_event("CHANNEL_PARK", b, Caller_Dialplan="inline")
        assert parked.get("Caller-Destination-Number") == "100"
        assert (await sw.api("uuid_getvar", f"{b} current_application")).text == "park"
        # Several applications, with a delimiter of its own.
        assert (await sw.api("uuid_transfer", f"{b} m:^:set:kt=1^park inline")).text == "+OK\n"
        await rec.wait_for(
            lambda e: (
                e.name == "CHANNEL_EXECUTE_COMPLETE"
                and e.get("Unique-ID") == b
                and e.get("Application") == "set"
            )
        )
        assert (await sw.api("uuid_getvar", f"{b} kt")).text == "1"


async def test_origination_uuid_is_the_call_uuid_and_the_loopback_partners_name() -> None:
    async with running_switch() as (sw, rec):
        route_all(sw)
        text = (await sw.api("originate", "{origination_uuid=kt-a}loopback/100 &park()")).text
        assert text == "+OK kt-a\n"
        b = (await sw.api("uuid_getvar", "kt-a other_loopback_leg_uuid")).text
        assert (await sw.api("uuid_getvar", f"{b} other_loopback_leg_uuid")).text == "kt-a"
        assert (await sw.api("uuid_getvar", "kt-a call_uuid")).text == "kt-a"
        assert (await sw.api("uuid_getvar", f"{b} is_outbound")).text == "_undef_"
        # A bridge's peer takes its caller's call_uuid.
        await rec.wait_event("CHANNEL_PARK", b)
        assert await sw.queue_private_event(
            b, execute(sw, "bridge", "{origination_uuid=kt-p}null/1")
        )
        await rec.wait_event("CHANNEL_BRIDGE", b)
        assert (await sw.api("uuid_getvar", "kt-p call_uuid")).text == b
        # What switch_ivr_originate writes on the legs it makes.
        for uuid, endpoint in (("kt-a", "loopback"), ("kt-p", "null")):
            getvar = f"{uuid} originate_endpoint"
            assert (await sw.api("uuid_getvar", getvar)).text == endpoint
            getvar = f"{uuid} originate_early_media"
            assert (await sw.api("uuid_getvar", getvar)).text == "true"
        quiet = "{origination_uuid=kt-q,ignore_early_media=true}null/2 &park()"
        assert (await sw.api("originate", quiet)).text == "+OK kt-q\n"
        assert (await sw.api("uuid_getvar", "kt-q originate_early_media")).text == "false"
