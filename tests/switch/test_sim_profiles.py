"""The simulated switch's caller profiles as FreeSWITCH keeps them: default caller ids,
dialplan names per endpoint, the caller/callee flip of outbound legs, other-leg
profiles, and the state, call state and CDR variables channel events carry."""

from __future__ import annotations

import trio

from kazoo_trio.switch.sim.profile import CallerProfile, sanitize_number
from tests.switch.callhelpers import bind_dialplan, dialplan_document, extension, running_switch

PARK = dialplan_document("default", extension([("answer", ""), ("park", "")]))
ROUTE_ONLY = dialplan_document("default", extension([("park", "")]))
BRIDGE = dialplan_document(
    "default", extension([("bridge", "{origination_uuid=peer-1}null/2000")], "^4242$")
)


def uuid_of(text: str) -> str:
    assert text.startswith("+OK "), text
    return text[4:].strip()


def test_original_caller_id_empty_is_not_unset() -> None:
    unset = CallerProfile(caller_id_name="Alice", caller_id_number="1000")
    assert (unset.original_name, unset.original_number) == ("Alice", "1000")
    unset.caller_id_name = "Bob"  # not yet kept: the original follows the current id
    assert unset.original_name == "Bob"
    empty = CallerProfile(caller_id_name="", caller_id_number="0000000000")
    empty.keep_original()
    empty.caller_id_name = "Changed"
    assert empty.original_name == ""
    assert empty.original_number == "0000000000"
    headers = dict(empty.headers("Caller", "inbound", "u", "n"))
    # switch_caller_profile_event_set_data: no header for an empty field.
    assert headers["Caller-Caller-ID-Name"] == "Changed"
    assert "Caller-Orig-Caller-ID-Name" not in headers
    assert "Caller-Dialplan" in headers
    bare = dict(CallerProfile(dialplan="").headers("Caller", "inbound", "u", "n"))
    assert "Caller-Dialplan" not in bare
    assert "Caller-Caller-ID-Name" not in bare
    assert bare["Caller-Channel-Answered-Time"] == "0"


def test_sanitize_number_keeps_what_follows_the_last_slash_or_colon() -> None:
    assert sanitize_number("1000") == "1000"
    assert sanitize_number("4242/default") == "default"
    assert sanitize_number("internal/1000@127.0.0.1") == "1000"
    assert sanitize_number("gateway/gw:5551234@host") == "5551234"


async def test_originate_without_session_flips_the_answered_leg_ids() -> None:
    async with running_switch() as (sw, rec):
        uuid = uuid_of((await sw.api("originate", "null/1000 &park()")).text)
        park = await rec.wait_event("CHANNEL_PARK", uuid)
        answer = next(e for e in rec.of(uuid) if e.name == "CHANNEL_ANSWER")
        # SWITCH_DEFAULT_CLID_NAME is empty, the number 0000000000; no dialplan.
        assert answer.get("Caller-Caller-ID-Name") is None
        assert answer.get("Caller-Caller-ID-Number") == "0000000000"
        assert answer.get("Caller-Callee-ID-Name") == "Outbound Call"
        assert answer.get("Caller-Callee-ID-Number") == "1000"
        assert answer.get("Caller-Dialplan") is None
        assert answer.get("Caller-Source") == "mod_loopback"
        # The &park extension flipped the ids (switch_channel_sort_cid).
        assert park.get("Caller-Caller-ID-Name") == "Outbound Call"
        assert park.get("Caller-Caller-ID-Number") == "1000"
        assert park.get("Caller-Callee-ID-Name") is None
        assert park.get("Caller-Callee-ID-Number") == "0000000000"
        assert park.get("Caller-Orig-Caller-ID-Number") == "0000000000"
        assert park.get("variable_channel_cid_flipped") == "yes"
        assert park.get("variable_pre_transfer_caller_id_number") == "0000000000"
        assert park.get("Channel-HIT-Dialplan") == "true"
        update = next(e for e in rec.of(uuid) if e.name == "CALL_UPDATE")
        assert update.get("Direction") == "RECV"
        assert update.get("Caller-Caller-ID-Name") == "Outbound Call"
        await sw.api("uuid_kill", uuid)
        await rec.wait_event("CHANNEL_DESTROY", uuid)
        # Flipped once only.
        assert [e.name for e in rec.of(uuid)].count("CALL_UPDATE") == 1


async def test_answer_fires_before_the_call_state_becomes_active() -> None:
    async with running_switch() as (sw, rec):
        uuid = uuid_of((await sw.api("originate", "null/1000 &park()")).text)
        await rec.wait_event("CHANNEL_PARK", uuid)
        answer = next(e for e in rec.of(uuid) if e.name == "CHANNEL_ANSWER")
        assert answer.get("Channel-Call-State") == "DOWN"
        assert answer.get("Answer-State") == "answered"
        assert answer.get("variable_endpoint_disposition") is None
        names = rec.names(uuid)
        assert names.index("CHANNEL_ANSWER") + 1 == names.index("CHANNEL_CALLSTATE:ACTIVE")
        await sw.api("uuid_kill", uuid)
        await rec.wait_event("CHANNEL_DESTROY", uuid)
        assert (
            next(e for e in rec.of(uuid) if e.name == "CHANNEL_DESTROY").get(
                "variable_endpoint_disposition"
            )
            == "ANSWER"
        )


async def test_loopback_legs_use_the_xml_dialplan_and_the_context_as_callee() -> None:
    async with running_switch() as (sw, rec):
        bind_dialplan(sw, PARK)
        a = uuid_of((await sw.api("originate", "loopback/4242/default &park()")).text)
        b = (await sw.api("uuid_getvar", f"{a} other_loopback_leg_uuid")).text
        park = await rec.wait_event("CHANNEL_PARK", b)
        a_create = next(e for e in rec.of(a) if e.name == "CHANNEL_CREATE")
        b_create = next(e for e in rec.of(b) if e.name == "CHANNEL_CREATE")
        for create in (a_create, b_create):
            assert create.get("Caller-Dialplan") == "xml"
            assert create.get("Caller-Context") == "default"
            assert create.get("Caller-Source") == "mod_loopback"
            assert create.get("Caller-Destination-Number") == "4242"
            assert create.get("Caller-Callee-ID-Name") == "Outbound Call"
            assert create.get("Caller-Callee-ID-Number") == "default"
            assert create.get("Caller-Caller-ID-Name") is None
        assert park.get("Caller-Dialplan") == "xml"
        assert b_create.get("Channel-HIT-Dialplan") == "true"  # every inbound leg
        assert a_create.get("Channel-HIT-Dialplan") == "false"
        named = uuid_of((await sw.api("originate", "loopback/77/default/XML &park()")).text)
        other = (await sw.api("uuid_getvar", f"{named} other_loopback_leg_uuid")).text
        b_named = await rec.wait_event("CHANNEL_CREATE", other)
        assert b_named.get("Caller-Dialplan") == "XML"
        assert b_named.get("Caller-Context") == "default"
        assert b_named.get("Caller-Callee-ID-Number") == "XML"


async def test_destroy_fires_in_reporting_and_a_killed_leg_has_no_disposition() -> None:
    async with running_switch() as (sw, rec):
        bind_dialplan(sw, ROUTE_ONLY)
        async with trio.open_nursery() as nursery:
            # The routed leg parks unanswered: the originate waits until it is killed.
            nursery.start_soon(sw.api, "originate", "loopback/4242 &park()")
            park = await rec.wait_event("CHANNEL_PARK")
            b = park.get("Unique-ID") or ""
            await sw.api("uuid_kill", b)
            destroy = await rec.wait_event("CHANNEL_DESTROY", b)
        assert destroy.get("Channel-State") == "CS_REPORTING"
        assert destroy.get("Channel-State-Number") == "12"
        assert destroy.get("variable_endpoint_disposition") is None
        # switch_channel_set_timestamps: 0 for what never happened.
        assert destroy.get("variable_progresssec") == "0"
        assert destroy.get("variable_answersec") == "0"
        assert destroy.get("variable_answer_epoch") == "0"
        assert destroy.get("variable_flow_billsec") == "0"
        assert destroy.get("variable_uduration") == str(
            int(destroy.get("Caller-Channel-Hangup-Time") or "0")
            - int(destroy.get("Caller-Channel-Created-Time") or "0")
        )
        assert rec.names(b)[-2:] == ["CHANNEL_DESTROY", "CHANNEL_STATE:CS_DESTROY"]


async def test_bridged_peer_and_caller_keep_each_others_profiles() -> None:
    async with running_switch() as (sw, rec):
        bind_dialplan(sw, BRIDGE)
        a = uuid_of((await sw.api("originate", "loopback/4242/default &park()")).text)
        b = (await sw.api("uuid_getvar", f"{a} other_loopback_leg_uuid")).text
        bridged = await rec.wait_event("CHANNEL_BRIDGE", b)
        peer_create = next(e for e in rec.of("peer-1") if e.name == "CHANNEL_CREATE")
        # The peer has its originator's profile from its creation.
        assert peer_create.get("Other-Type") == "originator"
        assert peer_create.get("Other-Leg-Unique-ID") == b
        assert peer_create.get("Other-Leg-Destination-Number") == "4242"
        assert peer_create.get("Other-Leg-Direction") == "inbound"
        assert peer_create.get("Caller-Dialplan") == "xml"  # a copy of the caller's
        # Early media first (mod_loopback's null endpoint), then the peer's callee id.
        b_names = rec.names(b)
        assert b_names.index("CHANNEL_PROGRESS_MEDIA") < b_names.index("CHANNEL_ANSWER")
        b_answer = next(e for e in rec.of(b) if e.name == "CHANNEL_ANSWER")
        assert b_answer.get("Channel-Call-State") == "EARLY"
        assert b_answer.get("Caller-Callee-ID-Name") == "Outbound Call"
        assert b_answer.get("Caller-Callee-ID-Number") == "2000"
        assert b_answer.get("Other-Type") is None
        assert bridged.get("Other-Type") == "originatee"
        assert bridged.get("Other-Leg-Unique-ID") == "peer-1"
        # The bridge's display reached the -a leg as its caller id, then its &park
        # flipped it into the callee id.
        a_park = await rec.wait_event("CHANNEL_PARK", a)
        assert a_park.get("Caller-Callee-ID-Name") == "Outbound Call"
        assert a_park.get("Caller-Callee-ID-Number") == "2000"
        assert a_park.get("Caller-Caller-ID-Number") == "default"
        await sw.api("uuid_kill", "peer-1")
        await rec.wait_event("CHANNEL_UNBRIDGE", b)
        await sw.api("uuid_kill", b)
        destroy = await rec.wait_event("CHANNEL_DESTROY", b)
        # Kept after the bridge ended.
        assert destroy.get("Other-Type") == "originatee"
        assert destroy.get("Other-Leg-Destination-Number") == "2000"
        assert destroy.get("Other-Leg-Caller-ID-Number") == "0000000000"
        assert destroy.get("Other-Leg-Direction") == "outbound"


async def test_an_empty_original_caller_id_is_restored_empty() -> None:
    async with running_switch() as (sw, rec):
        document = dialplan_document(
            "default",
            extension([("set_profile_var", "caller_id_name=Changed"), ("transfer", "200")], "^100$")
            + extension([("answer", ""), ("park", "")], "^200$", "parked"),
        )
        bind_dialplan(sw, document)
        a = uuid_of((await sw.api("originate", "loopback/100 &park()")).text)
        b = (await sw.api("uuid_getvar", f"{a} other_loopback_leg_uuid")).text
        park = await rec.wait_event("CHANNEL_PARK", b)
        # kz_restore_caller_id put back the original: empty, so no caller id name.
        assert park.get("Caller-Caller-ID-Name") is None
        assert park.get("Caller-Caller-ID-Number") == "0000000000"
        changed = next(e for e in rec.of(b) if e.name == "CHANNEL_EXECUTE_COMPLETE")
        assert changed.get("Application") == "set_profile_var"
        assert changed.get("Caller-Caller-ID-Name") == "Changed"


async def test_a_leg_ignoring_display_updates_keeps_its_ids() -> None:
    async with running_switch() as (sw, rec):
        document = dialplan_document(
            "default",
            extension(
                [
                    ("set", "ignore_display_updates=true"),
                    ("bridge", "{origination_uuid=peer-1}null/2000"),
                ],
                "^4242$",
            ),
        )
        bind_dialplan(sw, document)
        a = uuid_of((await sw.api("originate", "loopback/4242/default &park()")).text)
        b = (await sw.api("uuid_getvar", f"{a} other_loopback_leg_uuid")).text
        a_park = await rec.wait_event("CHANNEL_PARK", a)
        # Only the flip changed the -a leg's ids: no display reached it.
        assert a_park.get("Caller-Caller-ID-Name") == "Outbound Call"
        assert a_park.get("Caller-Caller-ID-Number") == "default"
        assert a_park.get("Caller-Callee-ID-Name") is None
        assert a_park.get("Caller-Callee-ID-Number") == "0000000000"
        # The -b leg still noted what it was sent.
        assert (await sw.api("uuid_getvar", f"{b} last_sent_callee_id_number")).text == "2000"
        assert (await sw.api("uuid_getvar", f"{b} last_sent_callee_id_name")).text == (
            "Outbound Call"
        )


async def test_bridged_non_sip_legs_send_no_display_update_and_sessions_are_numbered() -> None:
    async with running_switch() as (sw, rec):
        made = await sw.api(
            "originate",
            "{origination_uuid=kt-a}null/1000 &bridge({origination_uuid=kt-b}null/2000)",
        )
        assert made.text.startswith("+OK"), made.text
        await rec.wait_event("CHANNEL_BRIDGE", "kt-a")
        # Only mod_sofia reports the display it passes on (CALL_UPDATE Direction SEND).
        updates = [e for uuid in ("kt-a", "kt-b") for e in rec.of(uuid) if e.name == "CALL_UPDATE"]
        assert all(e.get("Direction") != "SEND" for e in updates)
        # switch_core_session_request numbers sessions in the order it makes them.
        first = [
            int(
                next(e for e in rec.of(uuid) if e.name == "CHANNEL_CREATE").get(
                    "variable_session_id"
                )
                or 0
            )
            for uuid in ("kt-a", "kt-b")
        ]
        assert 0 < first[0] < first[1]
        await sw.api("uuid_kill", "kt-a")
        await rec.wait_event("CHANNEL_DESTROY", "kt-b")
