"""mod_kazoo's kz_att_xfer on the simulated switch: the transferor talks to a new leg
while its partner is held, then hands the partner over (or comes back)."""

from __future__ import annotations

from collections.abc import Callable

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.sim import SimSwitch
from tests.switch.callhelpers import (
    Recorder,
    bind_dialplan,
    dialplan_document,
    extension,
    running_switch,
)

TARGET = dialplan_document("default", extension([("answer", ""), ("park", "")], "^300$"))


async def _bridged_call(sw: SimSwitch, rec: Recorder) -> tuple[str, str]:
    """A caller that bridged to a device: (caller, device)."""
    bind_dialplan(sw, TARGET)
    caller = (await sw.api("originate", "null/1 &bridge(null/2)")).text[4:].strip()
    bridged = await rec.wait_event("CHANNEL_BRIDGE", caller)
    return caller, bridged.get("Bridge-B-Unique-ID") or ""


async def _att_xfer(sw: SimSwitch, rec: Recorder, device: str) -> str:
    """ecallmgr_fs_transfer:attended/3's command on ``device``; the new leg's uuid."""
    seen = len(rec.events)
    command = sw.new_event(
        "COMMAND",
        headers=[
            ("call-command", "execute"),
            ("execute-app-name", "kz_att_xfer"),
            ("execute-app-arg", "{Loopback-Bowout=true,Ignore-Early-Media=ring_ready}loopback/300"),
            ("hold-bleg", "true"),
        ],
    )
    assert await sw.queue_private_event(device, command)
    inner = await rec.wait_for(
        lambda e: (
            e.name == "CHANNEL_BRIDGE"
            and e.get("Bridge-A-Unique-ID") == device
            and e in rec.events[seen:]
        )
    )
    return inner.get("Bridge-B-Unique-ID") or ""


def _bridge_of(a: str, b: str) -> Callable[[Event], bool]:
    def match(event: Event) -> bool:
        return event.name == "CHANNEL_BRIDGE" and {
            event.get("Bridge-A-Unique-ID"),
            event.get("Bridge-B-Unique-ID"),
        } == {a, b}

    return match


async def test_transferor_hanging_up_hands_the_caller_to_the_new_leg() -> None:
    async with running_switch() as (sw, rec):
        caller, device = await _bridged_call(sw, rec)
        target = await _att_xfer(sw, rec, device)
        assert (await sw.api("uuid_getvar", f"{device} att_xfer_peer_uuid")).text == target
        assert (await sw.api("uuid_getvar", f"{caller} bridge_uuid")).text == device
        # The transferor hangs up: the transfer completes.
        assert (await sw.api("uuid_kill", device)).text == "+OK\n"
        transferee = await rec.wait_event("sofia::transferee", caller)
        assert transferee.get("att_xfer_replaced_call_id") == target
        await rec.wait_for(_bridge_of(caller, target))
        assert (await sw.api("uuid_getvar", f"{target} att_xfer_result")).text == "success"
        assert (await sw.api("uuid_getvar", f"{caller} bridge_uuid")).text == target
        done = await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", device, Application="kz_att_xfer")
        assert (done.get("Application-Data") or "").endswith("loopback/300")


async def test_cancel_key_brings_the_transferor_back() -> None:
    async with running_switch() as (sw, rec):
        caller, device = await _bridged_call(sw, rec)
        target = await _att_xfer(sw, rec, device)
        # The transferor presses the cancel key (#): the new leg goes.
        await sw.api("uuid_recv_dtmf", f"{device} #")
        await rec.wait_event("CHANNEL_HANGUP", target)
        await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", device, Application="kz_att_xfer")
        assert (await sw.api("uuid_getvar", f"{device} signal_bond")).text == caller
        assert (await sw.api("uuid_getvar", f"{device} bridge_uuid")).text == caller
        # Still one call: the caller hanging up takes the device with it.
        await sw.api("uuid_kill", caller)
        await rec.wait_event("CHANNEL_DESTROY", device)


async def test_hangup_key_completes_the_transfer() -> None:
    async with running_switch() as (sw, rec):
        caller, device = await _bridged_call(sw, rec)
        target = await _att_xfer(sw, rec, device)
        await sw.api("uuid_recv_dtmf", f"{device} *")
        hangup = await rec.wait_event("CHANNEL_HANGUP", device)
        assert hangup.get("Hangup-Cause") == "ATTENDED_TRANSFER"
        await rec.wait_for(_bridge_of(caller, target))


async def test_caller_as_transferor_hands_the_device_over() -> None:
    async with running_switch() as (sw, rec):
        caller, device = await _bridged_call(sw, rec)
        # The caller (whose bridge application holds the device) transfers.
        target = await _att_xfer(sw, rec, caller)
        # Cancelled first: back to the device, the caller's bridge still up.
        await sw.api("uuid_kill", target)
        await rec.wait_event("CHANNEL_EXECUTE_COMPLETE", caller, Application="kz_att_xfer")
        assert (await sw.api("uuid_getvar", f"{caller} bridge_uuid")).text == device
        # Again, and the caller hangs up: the device goes to the new leg, not down.
        target = await _att_xfer(sw, rec, caller)
        await sw.api("uuid_kill", caller)
        await rec.wait_for(_bridge_of(device, target))
        assert (await sw.api("uuid_getvar", f"{device} bridge_uuid")).text == target


async def test_transferor_hanging_up_while_the_new_leg_rings_cancels_it() -> None:
    async with running_switch() as (sw, rec):
        ringing = extension([("ring_ready", ""), ("park", "")], "^301$", "ringing")
        bind_dialplan(sw, dialplan_document("default", ringing))
        caller = (await sw.api("originate", "null/1 &bridge(null/2)")).text[4:].strip()
        device = (await rec.wait_event("CHANNEL_BRIDGE", caller)).get("Bridge-B-Unique-ID")
        assert device
        command = sw.new_event(
            "COMMAND",
            headers=[
                ("call-command", "execute"),
                ("execute-app-name", "kz_att_xfer"),
                ("execute-app-arg", "loopback/301"),
            ],
        )
        assert await sw.queue_private_event(device, command)
        leg = await rec.wait_for(
            lambda e: e.name == "CHANNEL_CREATE" and e.get("Channel-Name") == "loopback/301-a"
        )
        await sw.api("uuid_kill", device)
        cancelled = await rec.wait_event("CHANNEL_HANGUP", leg.get("Unique-ID"))
        assert cancelled.get("Hangup-Cause") == "ORIGINATOR_CANCEL"
