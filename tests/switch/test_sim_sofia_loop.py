"""mod_sofia on the simulated switch calling its own address: the INVITE comes back in
as an inbound call, routed by the dialplan, whose answer or refusal decides the
outbound leg (as a FreeSWITCH calling ``sofia/internal/<user>@<its ip>:<its port>``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import pytest
import trio

from kazoo_trio.switch.protocol import XmlLookup
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.switch.sim.profile import sanitize_number
from kazoo_trio.switch.sim.sofia import refused_cause
from tests.switch.callhelpers import (
    Recorder,
    bind_dialplan,
    dialplan_document,
    extension,
    running_switch,
)

INTERNAL_PORT = 5070  # the simulated switch's internal profile


@attrs.define
class Originate:
    """An ``originate`` running meanwhile (it returns once its leg answers or fails)."""

    text: str = ""
    done: trio.Event = attrs.field(factory=trio.Event)

    async def run(self, sw: SimSwitch, args: str) -> None:
        self.text = (await sw.api("originate", args)).text
        self.done.set()

    async def result(self) -> str:
        with trio.fail_after(5):
            await self.done.wait()
        return self.text


@asynccontextmanager
async def trio_job(sw: SimSwitch, args: str) -> AsyncIterator[Originate]:
    job = Originate()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(job.run, sw, args)
        yield job


def uuid_of(text: str) -> str:
    assert text.startswith("+OK "), text
    return text[4:].strip()


async def inbound_leg(rec: Recorder, destination: str) -> str:
    create = await rec.wait_for(
        lambda e: (
            e.name == "CHANNEL_CREATE"
            and e.get("Call-Direction") == "inbound"
            and e.get("Caller-Destination-Number") == destination
        )
    )
    uuid = create.get("Unique-ID")
    assert uuid is not None
    return uuid


@pytest.mark.parametrize(
    ("dial", "number"),
    [
        ("internal/4343@127.0.0.1:5070", "4343"),
        ("gateway/carrier/+15551234", "+15551234"),
        ("internal/sip:1000@127.0.0.1:5060", "1000"),
        ("1000", "1000"),
        ("Outbound Call", "Outbound Call"),
    ],
)
def test_sanitize_number_keeps_a_dial_strings_number(dial: str, number: str) -> None:
    assert sanitize_number(dial) == number


@pytest.mark.parametrize(
    ("cause", "refused"),
    [
        # Q.850 causes travel in the Reason header and come back as they were.
        ("USER_BUSY", "USER_BUSY"),
        ("NO_ROUTE_DESTINATION", "NO_ROUTE_DESTINATION"),
        ("NORMAL_CLEARING", "NORMAL_CLEARING"),
        # Others go as "SIP;cause=": the response code decides.
        ("ORIGINATOR_CANCEL", "ORIGINATOR_CANCEL"),  # 487
        ("INVALID_GATEWAY", "INVALID_NUMBER_FORMAT"),  # 484
        ("GATEWAY_DOWN", "NORMAL_TEMPORARY_FAILURE"),  # 503
        ("LOSE_RACE", "NO_USER_RESPONSE"),  # no mapping: 480
    ],
)
def test_a_refusal_reaches_the_caller_through_its_sip_response(cause: str, refused: str) -> None:
    assert refused_cause(cause) == refused


async def test_a_call_to_its_own_address_comes_back_in_and_answers_the_caller() -> None:
    async with running_switch() as (sw, rec):
        internal = sw.sofia.profiles["internal"]
        internal.context = "default"
        internal.inbound_late_negotiation = True
        routed: list[XmlLookup] = []
        bind_dialplan(sw, dialplan_document("default", extension([("park", "")])), routed)
        async with trio_job(sw, f"sofia/internal/4343@127.0.0.1:{INTERNAL_PORT} &park()") as job:
            inbound = await inbound_leg(rec, "4343")
            park = await rec.wait_event("CHANNEL_PARK", inbound)
            assert park.get("Channel-Name") == "sofia/internal/0000000000@127.0.0.1"
            assert park.get("variable_endpoint_disposition") == "DELAYED NEGOTIATION"
            assert park.get("Caller-Context") == "default"
            assert park.get("variable_sip_req_uri") == f"4343@127.0.0.1:{INTERNAL_PORT}"
            assert park.get("variable_sip_user_agent") == (
                f"FreeSWITCH-mod_sofia/{sw.identity.version_full}"
            )
            assert routed[-1].params.get("Hunt-Destination-Number") == "4343"
            outbound = next(
                e.get("Unique-ID")
                for e in rec.events
                if e.name == "CHANNEL_CREATE" and e.get("Call-Direction") == "outbound"
            )
            assert outbound is not None
            create = rec.of(outbound)[0]
            # switch_sanitize_number: the dial data's number is the destination.
            assert create.get("Caller-Destination-Number") == "4343"
            assert create.get("variable_sip_req_uri") == f"4343@127.0.0.1:{INTERNAL_PORT}"
            assert "CHANNEL_ANSWER" not in rec.names(outbound)
            assert (await sw.api("uuid_answer", inbound)).text.startswith("+OK")
            answer = await rec.wait_event("CHANNEL_ANSWER", outbound)
            # Inbound late negotiation: the answer negotiates media first (early media).
            names = rec.names(inbound)
            assert names.index("CHANNEL_PROGRESS_MEDIA") < names.index("CHANNEL_ANSWER")
            assert answer.get("Caller-Callee-ID-Number") == "4343"
            assert answer.get("Caller-Callee-ID-Name") == "4343"
            assert answer.get("variable_sip_to_uri") == f"4343@127.0.0.1:{INTERNAL_PORT}"
            assert answer.get("variable_sip_from_uri") == "0000000000@127.0.0.1"
            assert answer.get("variable_sip_call_id") == park.get("variable_sip_call_id")
            assert (await job.result()).startswith("+OK")
            # The BYE: hanging up one leg clears the other.
            await sw.api("uuid_kill", inbound)
            gone = await rec.wait_event("CHANNEL_HANGUP", outbound)
            assert gone.get("Hangup-Cause") == "NORMAL_CLEARING"
            assert gone.get("variable_proto_specific_hangup_cause") is None


async def test_legs_of_a_call_to_itself_hung_up_together_end_normally() -> None:
    async with running_switch() as (sw, rec):
        bind_dialplan(sw, dialplan_document("public", extension([("answer", ""), ("park", "")])))
        reply = await sw.api("originate", f"sofia/internal/4343@127.0.0.1:{INTERNAL_PORT} &park()")
        outbound = uuid_of(reply.text)
        inbound = await inbound_leg(rec, "4343")
        await sw.api("hupall", "NORMAL_CLEARING sofia_profile_name internal")
        for uuid in (outbound, inbound):
            destroy = await rec.wait_event("CHANNEL_DESTROY", uuid)
            assert destroy.get("Hangup-Cause") == "NORMAL_CLEARING"
            assert destroy.get("variable_proto_specific_hangup_cause") is None


async def test_a_refused_call_to_its_own_address_fails_with_the_mapped_cause() -> None:
    async with running_switch() as (sw, rec):
        bind_dialplan(sw, dialplan_document("public", extension([("park", "")])))
        async with trio_job(sw, f"sofia/internal/4343@127.0.0.1:{INTERNAL_PORT} &park()") as job:
            inbound = await inbound_leg(rec, "4343")
            await rec.wait_event("CHANNEL_PARK", inbound)
            # The inbound leg ends busy before answering: a 486 with its Q.850 Reason.
            await sw.api("uuid_kill", f"{inbound} USER_BUSY")
            assert (await job.result()) == "-ERR USER_BUSY\n"
            outbound = next(
                e
                for e in rec.events
                if e.name == "CHANNEL_HANGUP" and e.get("Call-Direction") == "outbound"
            )
            assert outbound.get("variable_sip_term_status") == "486"
            assert outbound.get("variable_proto_specific_hangup_cause") == "sip:486"


async def test_an_address_of_no_profile_is_a_far_end_and_loops_nothing_back() -> None:
    async with running_switch() as (sw, rec):
        reply = await sw.api("originate", "sofia/internal/4343@127.0.0.1:5999 &park()")
        uuid = uuid_of(reply.text)
        assert [e for e in rec.events if e.get("Call-Direction") == "inbound"] == []
        assert (await sw.api("uuid_kill", uuid)).text == "+OK\n"


async def test_the_answer_updates_the_callee_unless_display_updates_are_ignored() -> None:
    async with running_switch() as (sw, rec):
        routes = [("set_profile_var", "callee_id_number=777"), ("answer", ""), ("park", "")]
        bind_dialplan(sw, dialplan_document("public", extension(routes)))
        target = f"sofia/internal/4343@127.0.0.1:{INTERNAL_PORT} &park()"
        updated = uuid_of((await sw.api("originate", target)).text)
        answer = await rec.wait_event("CHANNEL_ANSWER", updated)
        assert answer.get("Caller-Callee-ID-Number") == "777"
        kept = uuid_of((await sw.api("originate", "{ignore_display_updates=true}" + target)).text)
        answer = await rec.wait_event("CHANNEL_ANSWER", kept)
        assert answer.get("Caller-Callee-ID-Number") == "4343"
