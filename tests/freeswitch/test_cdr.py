"""mod_kazoo's KZ_CDR on a stock FreeSWITCH: made from the XML CDR of
CHANNEL_HANGUP_COMPLETE, fired before it, the CDR then taken off the event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.freeswitch.cdr import kz_cdr_event_headers
from tests.freeswitch.fsmin import FreeSwitch
from tests.freeswitch.kazoo_helpers import backend_running
from tests.waiting import wait_until

CAPTURE = Path(__file__).parent / "captures" / "hangup_complete_with_xml.json"


def _captured() -> tuple[str, list[tuple[str, str]]]:
    data = json.loads(CAPTURE.read_text())
    return data["body"], [(k, v) for k, v in data["headers"]]


def test_kz_cdr_headers_from_a_captured_xml_cdr() -> None:
    body, headers = _captured()
    found = kz_cdr_event_headers(body, headers)
    assert found is not None
    names = [name for name, _ in found]
    # kz_report's order.
    assert names[:2] == ["_json_application_log", "_json_callflow"]
    values = dict(found)
    [park] = json.loads(values["_json_application_log"])
    assert park == {"app_name": "park", "app_data": "", "app_stamp": 1796570497864980}
    [flow] = json.loads(values["_json_callflow"])
    assert flow["profile_index"] == "1"
    profile = flow["Caller-Profile"]
    assert profile["UUID"] == "kt-cdr" and profile["Channel-Name"] == "null/1000"
    assert profile["Caller-ID-Name"] == "Outbound Call"
    assert profile["Callee-ID-Number"] == "0000000000"
    assert profile["Source"] == "mod_loopback" and profile["Context"] == "default"
    assert profile["Direction"] == "outbound"
    # The original caller id comes from the event (the XML CDR does not carry it).
    assert profile["Caller-ID-Original-Number"] == "0000000000"
    assert profile["Profile-Clone-Of"] == "494fa990-ade5-423e-ad92-d9b8827ba5e7"
    assert flow["Time"]["Created"] == 1796570497849502
    assert flow["Time"]["Hangup"] == 1796570498189501
    assert json.loads(values["_json_originated_legs"]) == []


def test_a_body_that_is_no_xml_cdr_gives_nothing() -> None:
    _, headers = _captured()
    assert kz_cdr_event_headers("not xml <", headers) is None
    assert kz_cdr_event_headers("<other/>", headers) is None


@pytest.fixture
def fs(shared_fs: FreeSwitch) -> FreeSwitch:
    return shared_fs


async def test_kz_cdr_fired_before_hangup_complete(fs: FreeSwitch) -> None:
    events: list[Event] = []
    async with backend_running(fs) as backend:
        backend.add_listener(events.append)
        # Subscribed before anything is fired or made: nothing is missed.
        await backend.listeners_followed()
        made = await backend.api("originate", "{origination_uuid=kt-kzcdr}null/1000 &park")
        assert made.ok, made.text
        await wait_until(lambda: backend.channel_exists("kt-kzcdr"), timeout=5)
        await backend.api("uuid_kill", "kt-kzcdr")

        def mine(e: Event) -> bool:
            return e.get("Unique-ID") == "kt-kzcdr"

        await wait_until(
            lambda: any(e.name == "CHANNEL_DESTROY" and mine(e) for e in events), timeout=5
        )
        names = [e.subclass or e.name for e in events if mine(e)]
        assert names.index("KZ_CDR") == names.index("CHANNEL_HANGUP_COMPLETE") - 1
        cdr = next(e for e in events if e.subclass == "KZ_CDR" and mine(e))
        assert cdr.get("Event-Calling-File") == "kazoo_cdr.c"
        [flow] = json.loads(cdr.get("_json_callflow") or "")
        assert flow["Caller-Profile"]["UUID"] == "kt-kzcdr"
        assert [a["app_name"] for a in json.loads(cdr.get("_json_application_log") or "")] == [
            "park"
        ]
        assert cdr.get("Channel-Name") == "null/1000"
        assert cdr.get("variable_hangup_cause") == "NORMAL_CLEARING"
        # The CDR was for KZ_CDR: the event passed on is as without it.
        complete = next(e for e in events if e.name == "CHANNEL_HANGUP_COMPLETE" and mine(e))
        assert complete.body is None and complete.get("CDR-Attached") is None
        assert complete.get("Hangup-Cause") == "NORMAL_CLEARING"
