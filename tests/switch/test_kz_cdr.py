"""mod_kazoo's KZ_CDR event (kazoo_trio.switch.kz.cdr), pure and on the simulated switch."""

from __future__ import annotations

import json

from kazoo_trio.switch.kz.cdr import (
    AppLogEntry,
    CallflowProfile,
    ProfileData,
    ProfileTimes,
    kz_cdr_headers,
)
from tests.switch.callhelpers import bind_dialplan, dialplan_document, extension, running_switch


def test_headers_in_the_c_order_with_compact_json() -> None:
    variables = {
        "originated_legs": "ARRAY::b1;Bob;100|:b2;Carl;200",
        "originate_causes": "ARRAY::b1;USER_BUSY|:b2;SUCCESS",
        "transfer_history": "ARRAY::1700000000:cp-1:bl_xfer:200/default/XML"
        "|:1700000001:cp-2:att_xfer:tee/ter|:1700000002:cp-3:odd:x",
        "transfer_source": "1700000003:cp-4:uuid_br:other-leg",
    }
    profile = ProfileData(caller_id_name="Al", uuid="u-1", context="default", dialplan="XML")
    headers = kz_cdr_headers(
        app_log=[AppLogEntry("park", "", 5)],
        callflow=[CallflowProfile(profile, "1", ProfileTimes(created=7))],
        variables=variables,
    )
    assert [name for name, _ in headers] == [
        "_json_application_log",
        "_json_callflow",
        "_json_channel_stats",
        "_json_channel_media_errors",
        "_json_originated_legs",
        "_json_transfer_history",
        "_json_transfer_source",
    ]
    values = dict(headers)
    assert values["_json_application_log"] == '[{"app_name":"park","app_data":"","app_stamp":5}]'
    flow = json.loads(values["_json_callflow"])
    assert flow[0]["dialplan"] == "XML" and flow[0]["profile_index"] == "1"
    assert flow[0]["Caller-Profile"] == {
        "Dialplan": "XML",
        "Caller-ID-Name": "Al",
        "UUID": "u-1",
        "Context": "default",
        "Direction": "inbound",
        "Logical-Direction": "inbound",
        "Directory": {},
    }
    assert flow[0]["Time"]["Created"] == 7
    assert values["_json_channel_stats"] == "{}"
    assert json.loads(values["_json_originated_legs"]) == [
        {
            "Call-ID": "b1",
            "Caller-ID-Name": "Bob",
            "Caller-ID-Number": "100",
            "Result": "USER_BUSY",
        },
        {"Call-ID": "b2", "Caller-ID-Name": "Carl", "Caller-ID-Number": "200", "Result": "SUCCESS"},
    ]
    assert json.loads(values["_json_transfer_history"]) == [
        {"Caller-Profile-ID": "cp-1", "Type": "blind", "Extension": "200/default/XML",
         "Timestamp": 1700000000},
        {"Caller-Profile-ID": "cp-2", "Type": "attended", "Transferee": "tee",
         "Transferer": "ter", "Timestamp": 1700000001},
    ]  # fmt: skip
    assert json.loads(values["_json_transfer_source"])[0]["Type"] == "bridge"
    # Without an application log the header is left out; without history too.
    bare = kz_cdr_headers(app_log=[], callflow=[], variables={})
    assert [name for name, _ in bare] == [
        "_json_callflow",
        "_json_channel_stats",
        "_json_channel_media_errors",
        "_json_originated_legs",
    ]


async def test_kz_cdr_on_hangup_reports_applications_and_transfers() -> None:
    async with running_switch() as (sw, rec):
        document = dialplan_document(
            "default",
            extension([("transfer", "200")], "^100$", "first")
            + extension([("answer", ""), ("park", "")], "^200$", "second"),
        )
        bind_dialplan(sw, document)
        a = (await sw.api("originate", "loopback/100 &park()")).text[4:].strip()
        b = (await sw.api("uuid_getvar", f"{a} other_loopback_leg_uuid")).text
        await rec.wait_event("CHANNEL_PARK", b)
        await sw.api("uuid_kill", b)
        cdr = await rec.wait_event("KZ_CDR", b)
        names = [name for name, _ in cdr.headers]
        assert names.index("_json_callflow") < names.index("Unique-ID")
        apps = json.loads(cdr.get("_json_application_log") or "")
        # The tweaks' execute_on_blind_transfer runs as the transfer starts.
        assert [app["app_name"] for app in apps] == [
            "transfer",
            "kz_restore_caller_id",
            "answer",
            "park",
        ]
        flow = json.loads(cdr.get("_json_callflow") or "")
        assert flow[0]["Caller-Profile"]["UUID"] == b
        assert flow[0]["Caller-Profile"]["Destination-Number"] == "200"
        history = json.loads(cdr.get("_json_transfer_history") or "")
        assert history[0]["Type"] == "blind"
        # The transfer keeps the loopback leg's dialplan, "xml" as mod_loopback names it.
        assert history[0]["Extension"] == "200/default/xml"


async def test_kz_cdr_callflow_has_every_profile_and_the_bridged_legs() -> None:
    async with running_switch() as (sw, rec):
        document = dialplan_document("default", extension([("answer", ""), ("park", "")]))
        bind_dialplan(sw, document)
        one = (await sw.api("originate", "null/1 &park()")).text[4:].strip()
        two = (await sw.api("originate", "null/2 &park()")).text[4:].strip()
        await rec.wait_event("CHANNEL_PARK", two)
        assert (await sw.api("uuid_bridge", f"{one} {two}")).text.startswith("+OK")
        await rec.wait_event("CHANNEL_BRIDGE", one)
        # A transfer gives the channel a new profile; the bridged one goes to history.
        assert (await sw.api("uuid_transfer", f"{two} 300")).text == "+OK\n"
        await rec.wait_event("CHANNEL_PARK", two, Caller_Destination_Number="300")
        await sw.api("uuid_kill", two)
        cdr = await rec.wait_event("KZ_CDR", two)
        flow = json.loads(cdr.get("_json_callflow") or "")
        assert [p["profile_index"] for p in flow] == ["2", "1"]
        assert flow[0]["Caller-Profile"]["Destination-Number"] == "300"
        assert "originator" not in flow[0]["Caller-Profile"]
        before = flow[1]["Caller-Profile"]
        assert before["originator"]["UUID"] == one
        assert before["originator"]["Channel-Name"] == "null/1"
        assert flow[1]["Time"]["Bridged"] > 0
        # Every profile has its id; the transfer's is a clone of the one before, which
        # is itself the clone originate's endpoint made (switch_caller_profile_clone).
        newer, older = flow[0]["Caller-Profile"], before
        assert newer["Profile-Clone-Of"] == older["Profile-UUID"]
        assert older["Profile-Clone-Of"] not in (older["Profile-UUID"], newer["Profile-UUID"])
        # The other leg: bridged to `two` as its originatee.
        other = await rec.wait_event("KZ_CDR", one)
        [only] = json.loads(other.get("_json_callflow") or "")
        assert only["Caller-Profile"]["originatee"]["UUID"] == two
