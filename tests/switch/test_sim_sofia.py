"""mod_sofia on the simulated switch: registrations through the directory binding,
gateways from sofia.conf, the sofia/ and kz/ endpoints, the sofia command's texts."""

from __future__ import annotations

import hashlib

import pytest

from kazoo_trio.switch.protocol import XmlLookup
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.switch.sim.sofia import LINE, Device, Refer
from tests.switch.callhelpers import bind_dialplan, dialplan_document, extension, running_switch

DOMAIN = "acc1.sip.example.com"


def uuid_of(text: str) -> str:
    assert text.startswith("+OK "), text
    return text[4:].strip()


def directory_document(users: str, domain: str = DOMAIN) -> str:
    return (
        '<document type="freeswitch/xml"><section name="directory">'
        f'<domain name="{domain}">{users}</domain></section></document>'
    )


def auth_user(user: str, password: str) -> str:
    # ecallmgr_fs_fetch_directory's sip_auth answer: the user's a1-hash.
    a1 = hashlib.md5(f"{user}:{DOMAIN}:{password}".encode()).hexdigest()
    return f'<user id="{user}"><params><param name="a1-hash" value="{a1}"/></params></user>'


def device_user(user: str, dial: str, callfwd: str = "") -> str:
    """ecallmgr_fs_xml:directory_resp_device_xml's user (user_call): CCVs, the profile
    variables, and the dial strings kazoo_endpoints.c reads."""
    return (
        f'<user id="{user}" number-alias="+1555{user}" cacheable="3600000">'
        "<variables>"
        '<variable name="ecallmgr_Account-ID" value="acc1"/>'
        f'<variable name="ecallmgr_Owner-ID" value="owner-{user}"/>'
        '<variable name="ecallmgr_Authorizing-Type" value="device"/>'
        "</variables>"
        "<profile-variables>"
        '<variable name="context" value="context_2"/>'
        f'<variable name="Endpoint-Caller-ID-Name" value="Desk {user}"/>'
        f'<variable name="Endpoint-Caller-ID-Number" value="{user}"/>'
        "</profile-variables>"
        "<params>"
        f'<param name="group-dial-string" value="kz/{user}@{DOMAIN}"/>'
        f'<param name="endpoint-dial-string" value="{dial}"/>'
        f'<param name="callforward-dial-string" value="{callfwd}"/>'
        '<param name="endpoint-separator" value=":_:"/>'
        "</params></user>"
    )


def bind_registrar(sw: SimSwitch, auth: str, calls: str, seen: list[XmlLookup]) -> None:
    """A directory binding answering sip_auth and user_call as Kazoo's registrar does."""

    async def handler(lookup: XmlLookup) -> str | None:
        seen.append(lookup)
        if lookup.key_value != DOMAIN:
            return None
        action = lookup.params.get("action") if lookup.params is not None else None
        return directory_document(auth if action == "sip_auth" else calls)

    sw.bind_xml(["directory"], handler)


def interface_list(status: str) -> list[str]:
    """ecallmgr_util:get_interface_list/1: spaces dropped, tab-split lines of four
    fields whose second is ``profile`` and fourth starts with ``RUNNING``."""
    found = []
    for line in status.replace(" ", "").split("\n"):
        fields = line.split("\t")
        if len(fields) == 4 and fields[1] == "profile" and fields[3].startswith("RUNNING"):
            found.append(fields[0])
    return found


SOFIA_CONF = (
    '<document type="freeswitch/xml"><section name="configuration">'
    '<configuration name="sofia.conf"><profiles><profile name="sipinterface_1"><gateways>'
    '<gateway name="carrier1"><param name="realm" value="carrier.example.net"/>'
    '<param name="register" value="false"/><variables>'
    '<variable name="Gateway-Version" value="3" direction="inbound"/>'
    '<variable name="sip_cid_type" value="pid" direction="outbound"/></variables></gateway>'
    '<gateway name="busy_carrier"><param name="realm" value="busy.example.net"/>'
    '<param name="register" value="false"/><param name="sim-behaviour" value="busy"/>'
    "</gateway></gateways></profile></profiles></configuration></section></document>"
)


async def test_registration_goes_through_the_directory_and_shows_in_sofia_status() -> None:
    async with running_switch() as (sw, rec):
        seen: list[XmlLookup] = []
        bind_registrar(sw, auth_user("1000", "secret"), "", seen)
        refused = await sw.sofia.register("1000", DOMAIN, password="wrong")
        assert refused == "403 Forbidden"
        device = await sw.sofia.register("1000", DOMAIN, password="secret")
        assert isinstance(device, Device)
        lookup = seen[-1]
        assert lookup.section == "directory" and lookup.key_value == DOMAIN
        assert lookup.params is not None
        assert lookup.params.get("action") == "sip_auth"
        assert lookup.params.get("sip_auth_username") == "1000"
        assert lookup.params.get("sip_profile") == "sipinterface_1"
        event = await rec.wait_event("sofia::register")
        assert event.get("profile-name") == "sipinterface_1"
        assert event.get("from-user") == "1000"
        assert event.get("from-host") == DOMAIN
        assert event.get("call-id") == device.call_id
        assert event.get("status") == "Registered(UDP)"
        text = (await sw.api("sofia", "status profile sipinterface_1 reg")).text
        assert text.startswith(f"\nRegistrations:\n{LINE}\nCall-ID:    \t{device.call_id}\n")
        assert f"User:       \t1000@{DOMAIN}\n" in text
        assert text.endswith(f"Total items returned: 1\n{LINE}\n")
        info = (await sw.api("sofia", "status profile sipinterface_1")).text
        assert info.startswith(f"{LINE}\nName             \tsipinterface_1\n")
        assert info.endswith("REGISTRATIONS    \t1\n")
        assert (await sw.api("sofia", "status profile nope")).text == "Invalid Profile!\n"
        xml = (await sw.api("sofia", "xmlstatus profile sipinterface_1 reg")).text
        assert xml.startswith(
            '<?xml version="1.0" encoding="ISO-8859-1"?>\n<profile>\n  <registrations>\n'
            f"    <registration>\n        <call-id>{device.call_id}</call-id>\n"
            f"        <user>1000@{DOMAIN}</user>\n"
            "        <contact>&quot;1000&quot; &lt;sip:1000@127.0.0.1:5060&gt;</contact>\n"
        )
        assert xml.endswith("    </registration>\n  </registrations>\n</profile>\n")
        info = (await sw.api("sofia", "xmlstatus profile sipinterface_1")).text
        assert "  <profile-info>\n    <name>sipinterface_1</name>\n" in info
        assert "<failed-calls-out>0</failed-calls-out>\n    <registrations>1</registrations>\n" in (
            info
        )
        listing = (await sw.api("sofia", "xmlstatus")).text
        assert "<profile>\n<name>internal</name>\n<type>profile</type>\n" in listing
        assert sw.sofia.unregister("1000", DOMAIN) == 1
        await rec.wait_event("sofia::unregister")


async def test_sofia_dial_strings_give_a_devices_call_results() -> None:
    async with running_switch() as (sw, rec):
        seen: list[XmlLookup] = []
        bind_registrar(sw, auth_user("1000", "pw") + auth_user("1001", "pw"), "", seen)
        assert isinstance(await sw.sofia.register("1000", DOMAIN, password="pw"), Device)
        assert isinstance(
            await sw.sofia.register("1001", DOMAIN, password="pw", behaviour="busy"), Device
        )
        answered = await sw.api("originate", f"sofia/sipinterface_1/1000@{DOMAIN} &park()")
        uuid = uuid_of(answered.text)
        create = await rec.wait_event("CHANNEL_CREATE", uuid)
        assert create.get("Channel-Name") == f"sofia/sipinterface_1/1000@{DOMAIN}"
        # switch_sanitize_number: the dial data's number.
        assert create.get("Caller-Destination-Number") == "1000"
        assert create.get("variable_sip_profile_name") == "sipinterface_1"
        names = rec.names(uuid)
        assert names.index("CHANNEL_PROGRESS") < names.index("CHANNEL_ANSWER")
        busy = await sw.api("originate", f"sofia/sipinterface_1/1001@{DOMAIN} &park()")
        assert busy.text == "-ERR USER_BUSY\n"
        absent = await sw.api("originate", f"sofia/sipinterface_1/1002@{DOMAIN} &park()")
        assert absent.text == "-ERR NO_USER_RESPONSE\n"
        not_registered = await sw.api("originate", f"sofia/sipinterface_1/1002%{DOMAIN} &park()")
        assert not_registered.text == "-ERR USER_NOT_REGISTERED\n"
        bad_profile = await sw.api("originate", "sofia/nope/1000@example.com &park()")
        assert bad_profile.text == "-ERR INVALID_PROFILE\n"
        # A registered user by the registered-user form.
        again = uuid_of(
            (await sw.api("originate", f"sofia/sipinterface_1/1000%{DOMAIN} &park()")).text
        )
        create = await rec.wait_event("CHANNEL_CREATE", again)
        assert create.get("Channel-Name") == "sofia/sipinterface_1/1000"
        assert create.get("variable_sip_destination_url") == "sip:1000@127.0.0.1:5060"
        assert create.get("variable_sofia_profile_url") == (
            f"sip:mod_sofia@{sw.identity.ipv4}:5060"
        )
        assert (await sw.api("uuid_kill", uuid)).text == "+OK\n"


async def test_a_device_that_does_not_answer_times_out() -> None:
    async with running_switch() as (sw, _rec):
        bind_registrar(sw, auth_user("1000", "pw"), "", [])
        await sw.sofia.register("1000", DOMAIN, password="pw", behaviour="no_answer")
        result = await sw.api(
            "originate", f"{{leg_timeout=1}}sofia/sipinterface_1/1000@{DOMAIN} &park()"
        )
        assert result.text == "-ERR ALLOTTED_TIMEOUT\n"


async def test_gateways_from_sofia_conf_and_their_texts() -> None:
    async with running_switch() as (sw, rec):
        asked: list[XmlLookup] = []

        async def config(lookup: XmlLookup) -> str | None:
            asked.append(lookup)
            return SOFIA_CONF if lookup.key_value == "sofia.conf" else None

        sw.bind_xml(["configuration"], config)
        assert (await sw.api("originate", "sofia/gateway/carrier1/+15552223333 &park()")).text == (
            "-ERR INVALID_GATEWAY\n"
        )
        rescan = await sw.api("sofia", "profile sipinterface_1 rescan")
        assert rescan.text == "Reload XML [Success]\n+OK scan complete\n"
        assert asked[-1].params is not None
        assert asked[-1].params.get("profile") == "sipinterface_1"
        status = (await sw.api("sofia", "status")).text
        assert interface_list(status) == ["sipinterface_1", "internal", "external"]
        assert (
            f"{'sipinterface_1::carrier1':>25}\tgateway\t  "
            f"{'sip:FreeSWITCH@carrier.example.net':>40}\tNOREG\n"
        ) in status
        uuid = uuid_of(
            (await sw.api("originate", "sofia/gateway/carrier1/+15552223333 &park()")).text
        )
        create = await rec.wait_event("CHANNEL_CREATE", uuid)
        assert create.get("variable_sip_gateway_name") == "carrier1"
        assert create.get("variable_sip_cid_type") == "pid"
        assert create.get("variable_Gateway-Version") is None
        busy = await sw.api("originate", "sofia/gateway/busy_carrier/+15552223333 &park()")
        assert busy.text == "-ERR USER_BUSY\n"
        summary = (await sw.api("sofia", "status gateway")).text
        assert (
            f"{'sipinterface_1::busy_carrier':>25}\t{'sip:FreeSWITCH@busy.example.net':>32}"
            "\tNOREG\t  0.00\t0/0\t1/1\n"
        ) in summary
        assert summary.endswith(
            "2 gateways: Inbound(Failed/Total): 0/0,Outbound(Failed/Total):1/2\n"
        )
        xml = (await sw.api("sofia", "xmlstatus gateway carrier1")).text
        assert xml.startswith(
            '<?xml version="1.0" encoding="ISO-8859-1"?>\n  <gateway>\n'
            "    <name>carrier1</name>\n    <profile>sipinterface_1</profile>\n"
        )
        assert "    <state>NOREG</state>\n    <status>UP</status>\n" in xml
        assert "    <calls-out>1</calls-out>\n" in xml
        every = (await sw.api("sofia", "xmlstatus gateway")).text
        assert every.count("<gateway>") == 2 and every.endswith("</gateways>\n")
        assert (await sw.api("sofia", "status gateway nope")).text == "Invalid Gateway!\n"
        sw.sofia.gateways["busy_carrier"].up = False
        down = await sw.api("originate", "sofia/gateway/busy_carrier/+15552223333 &park()")
        assert down.text == "-ERR GATEWAY_DOWN\n"
        down_xml = (await sw.api("sofia", "xmlstatus gateway busy_carrier")).text
        assert "    <status>DOWN</status>\n    <uptime-usec>0</uptime-usec>\n" in down_xml
        killed = await sw.api("sofia", "profile sipinterface_1 killgw carrier1")
        assert killed.text == "+OK gateway marked for deletion.\n"
        again = await sw.api("sofia", "profile sipinterface_1 killgw carrier1")
        assert again.text == "-ERR no such gateway.\n"
        assert (await sw.api("sofia", "profile nope rescan")).text == "Invalid Profile [nope]"
        assert (await sw.api("uuid_kill", uuid)).text == "+OK\n"


@pytest.mark.parametrize(
    ("dial", "registered", "expected"),
    [
        (f"sofia/sipinterface_1/1000@{DOMAIN}", True, "+OK"),
        ("error/subscriber_absent", False, "-ERR SUBSCRIBER_ABSENT\n"),
        (f"kz/1000@{DOMAIN}", False, "-ERR INVALID_IE_CONTENTS\n"),
    ],
)
async def test_kz_endpoint_dials_what_the_directory_says(
    dial: str, registered: bool, expected: str
) -> None:
    async with running_switch() as (sw, rec):
        seen: list[XmlLookup] = []
        bind_registrar(sw, auth_user("1000", "pw"), device_user("1000", dial), seen)
        if registered:
            await sw.sofia.register("1000", DOMAIN, password="pw")
        result = await sw.api("originate", f"{{ecallmgr_Call-ID=c1}}kz/1000@{DOMAIN} &park()")
        lookup = seen[-1]
        assert lookup.params is not None
        assert lookup.params.get("action") == "user_call"
        assert lookup.params.get("user") == "1000"
        assert lookup.params.get("ecallmgr_Call-ID") == "c1"
        if not expected.startswith("+OK"):
            assert result.text == expected
            return
        uuid = uuid_of(result.text)
        park = await rec.wait_event("CHANNEL_PARK", uuid)
        assert park.get("Channel-Name") == f"sofia/sipinterface_1/1000@{DOMAIN}"
        assert park.get("variable_ecallmgr_Account-ID") == "acc1"
        assert park.get("variable_ecallmgr_Owner-ID") == "owner-1000"
        assert park.get("variable_dialed_user") == "1000"
        assert park.get("variable_dialed_domain") == DOMAIN
        assert park.get("Caller-Context") == "context_2"
        # originate's &park flipped the outbound leg's ids: the callee is the caller now.
        assert park.get("Caller-Caller-ID-Name") == "Desk 1000"
        assert park.get("Caller-Orig-Caller-ID-Number") == "1000"


async def test_kz_endpoint_unknown_user_is_subscriber_absent() -> None:
    async with running_switch() as (sw, _rec):
        bind_registrar(sw, "", "", [])
        result = await sw.api("originate", f"kz/9999@{DOMAIN} &park()")
        assert result.text == "-ERR SUBSCRIBER_ABSENT\n"


async def test_kz_endpoint_call_forward_failover() -> None:
    async with running_switch() as (sw, rec):
        callfwd = device_user("1000", "error/subscriber_absent", "null/5551234").replace(
            "</params>",
            '</params><call-forward><variable name="Is-Failover" value="true"/></call-forward>',
        )
        bind_registrar(sw, "", callfwd, [])
        uuid = uuid_of((await sw.api("originate", f"kz/1000@{DOMAIN} &park()")).text)
        park = await rec.wait_event("CHANNEL_PARK", uuid)
        assert park.get("Channel-Name") == "null/5551234"


async def test_sofia_contact_gives_dial_strings_that_reach_the_device() -> None:
    async with running_switch() as (sw, rec):
        bind_registrar(sw, auth_user("1000", "pw"), "", [])
        missing = await sw.api("sofia_contact", f"sipinterface_1/1000@{DOMAIN}")
        assert missing.text == "error/user_not_registered"
        await sw.sofia.register("1000", DOMAIN, password="pw", network_ip="10.9.8.7")
        contact = await sw.api("sofia_contact", f"sipinterface_1/1000@{DOMAIN}")
        assert contact.text == "sofia/sipinterface_1/sip:1000@10.9.8.7:5060"
        # The way stock FreeSWITCH directories dial a user: the contact, expanded.
        result = await sw.api(
            "originate", f"${{sofia_contact(sipinterface_1/1000@{DOMAIN})}} &park()"
        )
        uuid = uuid_of(result.text)
        create = await rec.wait_event("CHANNEL_CREATE", uuid)
        assert create.get("Channel-Name") == "sofia/sipinterface_1/sip:1000@10.9.8.7:5060"
        assert create.get("variable_sip_destination_url") == "sip:1000@10.9.8.7:5060"
        assert create.get("variable_sip_local_url") == "1000@10.9.8.7:5060"


async def test_a_registered_device_places_a_call_through_the_dialplan() -> None:
    async with running_switch() as (sw, rec):
        routed: list[XmlLookup] = []
        bind_registrar(sw, auth_user("1000", "pw"), "", [])
        bind_dialplan(
            sw, dialplan_document("context_2", extension([("answer", ""), ("park", "")])), routed
        )
        ok, reply = await sw.json_call(
            "sim.register",
            {"user": "1000", "domain": DOMAIN, "password": "pw", "behaviour": "answer"},
        )
        assert ok, reply
        ok, reply = await sw.json_call(
            "sim.call", {"user": "1000", "domain": DOMAIN, "destination": "2000", "hold_ms": 50}
        )
        assert ok and isinstance(reply, dict), reply
        uuid = reply["uuid"]
        park = await rec.wait_event("CHANNEL_PARK", uuid)
        assert park.get("Channel-Name") == f"sofia/sipinterface_1/1000@{DOMAIN}"
        assert park.get("Call-Direction") == "inbound"
        assert park.get("Caller-Context") == "context_2"
        assert park.get("Caller-Destination-Number") == "2000"
        assert park.get("variable_sip_req_uri") == f"2000@{DOMAIN}"
        assert park.get("variable_sip_from_user") == "1000"
        lookup = routed[-1]
        assert lookup.params.get("Hunt-Destination-Number") == "2000"
        assert lookup.params.get("variable_sip_profile_name") == "sipinterface_1"
        destroy = await rec.wait_event("CHANNEL_DESTROY", uuid)
        assert destroy.get("Hangup-Cause") == "NORMAL_CLEARING"
        ok, reply = await sw.json_call("sim.call", {"user": "9", "domain": DOMAIN})
        assert not ok and reply == {"error": f"9@{DOMAIN} is not registered"}
        ok, reply = await sw.json_call("sim.register", {"user": "1000", "domain": DOMAIN})
        assert not ok and reply == {"error": "403 Forbidden"}


async def test_a_device_hangs_up_after_its_talk_time() -> None:
    async with running_switch() as (sw, rec):
        bind_registrar(sw, auth_user("1000", "pw"), "", [])
        ok, reply = await sw.json_call(
            "sim.register",
            {"user": "1000", "domain": DOMAIN, "password": "pw", "ring_ms": 0, "talk_ms": 50},
        )
        assert ok, reply
        result = await sw.api("originate", f"sofia/sipinterface_1/1000@{DOMAIN} &park()")
        uuid = uuid_of(result.text)
        destroy = await rec.wait_event("CHANNEL_DESTROY", uuid)
        assert destroy.get("Hangup-Cause") == "NORMAL_CLEARING"
        assert "CHANNEL_ANSWER" in rec.names(uuid)


def kazoo_bridge_routes(dials: list[str], failure_causes: str) -> str:
    """ecallmgr_fs_xml:route_resp_xml(<<"bridge">>): one ``match_<n>`` extension per
    route (``continue="true"``), each setting bypass_media, hangup_after_bridge and
    failure_causes before its bridge, then ``failed_bridge``."""
    matches = "".join(
        f'<extension name="match_{n}" continue="true"><condition>'
        '<action application="set" data="bypass_media=false"/>'
        '<action application="set" data="hangup_after_bridge=true"/>'
        f'<action application="set" data="failure_causes={failure_causes}"/>'
        f'<action application="bridge" data="&lt;progress_timeout=\'6\'&gt;{dial}"/>'
        "</condition></extension>"
        for n, dial in enumerate(dials, 1)
    )
    failed = (
        '<extension name="failed_bridge" continue="false"><condition>'
        '<action application="respond" data="${bridge_hangup_cause}"/>'
        "</condition></extension>"
    )
    return dialplan_document("context_2", matches + failed)


@pytest.mark.parametrize(
    ("failure_causes", "second_rung"),
    [("NORMAL_CLEARING,ORIGINATOR_CANCEL,CRASH", True), ("USER_BUSY,CRASH", False), ("17", False)],
)
async def test_bridge_failure_causes_decide_whether_the_next_route_is_tried(
    failure_causes: str, second_rung: bool
) -> None:
    """switch_channel_handle_cause: a cause missing from failure_causes (Kazoo's
    NORMAL_CLEARING,ORIGINATOR_CANCEL,CRASH) lets the dialplan go on to the next route;
    one listed (by name or number: USER_BUSY is 17) hangs the caller up with it."""
    async with running_switch() as (sw, rec):
        users = auth_user("1000", "pw") + auth_user("1001", "pw") + auth_user("1002", "pw")
        bind_registrar(sw, users, "", [])
        caller = await sw.sofia.register("1000", DOMAIN, password="pw")
        assert isinstance(caller, Device)
        await sw.sofia.register("1001", DOMAIN, password="pw", behaviour="busy")
        await sw.sofia.register("1002", DOMAIN, password="pw")
        dials = [f"sofia/sipinterface_1/{user}@{DOMAIN}" for user in ("1001", "1002")]
        bind_dialplan(sw, kazoo_bridge_routes(dials, failure_causes))
        channel = await sw.sofia.place_call(caller, "2000")
        if second_rung:
            bridged = await rec.wait_event("CHANNEL_BRIDGE", channel.uuid)
            assert bridged.get("Other-Leg-Channel-Name") == f"sofia/sipinterface_1/1002@{DOMAIN}"
            assert bridged.get("variable_originate_failed_cause") == "USER_BUSY"
            assert (await sw.api("uuid_kill", channel.uuid)).text == "+OK\n"
            await rec.wait_event("CHANNEL_DESTROY", channel.uuid)
        else:
            destroy = await rec.wait_event("CHANNEL_DESTROY", channel.uuid)
            assert destroy.get("Hangup-Cause") == "USER_BUSY"
            names = [e.get("Channel-Name") for e in rec.events if e.name == "CHANNEL_CREATE"]
            assert f"sofia/sipinterface_1/1002@{DOMAIN}" not in names
            assert "CHANNEL_BRIDGE" not in rec.names(channel.uuid)


async def test_bridge_failure_without_failure_causes_continues_only_on_no_answer() -> None:
    async with running_switch() as (sw, rec):
        actions = [("answer", ""), ("bridge", "error/NO_ANSWER"),
                   ("set", "reached=yes"), ("bridge", "error/USER_BUSY"), ("park", "")]  # fmt: skip
        bind_dialplan(sw, dialplan_document("default", extension(actions)))
        result = await sw.api("originate", "loopback/1 &park()")
        assert result.text.startswith("+OK "), result.text
        destroy = await rec.wait_event("CHANNEL_DESTROY", Channel_Name="loopback/1-b")
        assert destroy.get("variable_reached") == "yes"
        assert destroy.get("Hangup-Cause") == "USER_BUSY"


async def test_deflect_refers_an_answered_sofia_call_and_it_hangs_up() -> None:
    """ecallmgr_channel_redirect (redirect_via_proxy) on an answered call: sets
    ``sip_rh_X-Redirect-Server`` and sends ``deflect sip:<destination>@<realm>``; mod_sofia
    sends a REFER and, on the far end's ``200 OK`` NOTIFY, hangs up with BLIND_TRANSFER."""
    async with running_switch() as (sw, rec):
        bind_registrar(sw, auth_user("1000", "pw"), "", [])
        caller = await sw.sofia.register("1000", DOMAIN, password="pw")
        assert isinstance(caller, Device)
        refer = [("answer", ""), ("set", "sip_h_X-Kazoo=1"),
                 ("set", "sip_rh_X-Redirect-Server=sip:10.1.1.2:5060"),
                 ("deflect", f"sip:2000@{DOMAIN}"), ("park", "")]  # fmt: skip
        stay = [("answer", ""), ("set", "sip_refer_continue_after_reply=true"),
                ("deflect", "3000"), ("set", "after=yes"), ("park", "")]  # fmt: skip
        extensions = extension(refer, "^2000$", "refer") + extension(stay, "^2001$", "stay")
        bind_dialplan(sw, dialplan_document("context_2", extensions))
        channel = await sw.sofia.place_call(caller, "2000")
        destroy = await rec.wait_event("CHANNEL_DESTROY", channel.uuid)
        assert destroy.get("Hangup-Cause") == "BLIND_TRANSFER"
        assert destroy.get("variable_sip_refer_reply") == "SIP/2.0 200 OK\r\n"
        assert destroy.get("variable_sip_refer_target_status_code") == "200"
        assert "CHANNEL_PARK" not in rec.names(channel.uuid)
        assert sw.sofia.refers == [Refer(channel.uuid, f"sip:2000@{DOMAIN}", (("X-Kazoo", "1"),))]
        # A bare user is referred to at the profile's address; the channel may stay.
        channel = await sw.sofia.place_call(caller, "2001")
        await rec.wait_event("CHANNEL_PARK", channel.uuid)
        assert sw.sofia.refers[-1].refer_to == f"sip:3000@{sw.identity.ipv4}"
        assert (await sw.api("uuid_getvar", f"{channel.uuid} after")).text == "yes"
        assert (await sw.api("uuid_kill", channel.uuid)).text == "+OK\n"


async def test_deflect_on_a_channel_that_is_not_sofia_does_nothing() -> None:
    async with running_switch() as (sw, rec):
        actions = [("answer", ""), ("deflect", "sip:2000@example.com"), ("set", "after=yes")]
        bind_dialplan(sw, dialplan_document("default", extension(actions)))
        result = await sw.api("originate", "loopback/1 &park()")
        assert result.text.startswith("+OK "), result.text
        destroy = await rec.wait_event("CHANNEL_DESTROY", Channel_Name="loopback/1-b")
        assert destroy.get("variable_after") == "yes"
        assert destroy.get("Hangup-Cause") == "NORMAL_CLEARING"
        assert sw.sofia.refers == []


# FreeSWITCH's stock directory dial-string: the registered contacts from mod_sofia.
STOCK_DIAL_STRING = (
    "{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}"
    "${sofia_contact(*/${dialed_user}@${dialed_domain})}"
)


def dial_user(user: str, dial: str = STOCK_DIAL_STRING, extra: str = "") -> str:
    return (
        f'<user id="{user}"><params><param name="dial-string" value="{dial}"/>{extra}'
        '</params><variables><variable name="user_context" value="context_9"/>'
        f'<variable name="effective_caller_id_name" value="Desk {user}"/></variables></user>'
    )


async def test_user_endpoint_dials_the_directorys_dial_string() -> None:
    """user_outgoing_channel: the user's dial-string, expanded with dialed_user and
    dialed_domain, reaches the registered device through sofia_contact; the answered
    leg gets the user's variables and user_context."""
    calls = (
        dial_user(
            "1000",
            extra='<param name="dial-var-sim_tag" value="from-directory"/>'
            '<param name="dial-var-user_context" value="context_8"/>',
        )
        + dial_user("1001")
        + dial_user("1002")
        + dial_user("1003", dial="{x=1}user/1003@${dialed_domain}")
    )
    users = auth_user("1000", "pw") + auth_user("1002", "pw")
    async with running_switch() as (sw, rec):
        bind_registrar(sw, users, calls, [])
        await sw.sofia.register("1000", DOMAIN, password="pw")
        await sw.sofia.register("1002", DOMAIN, password="pw", behaviour="busy")
        uuid = uuid_of((await sw.api("originate", f"user/1000@{DOMAIN} &park()")).text)
        park = await rec.wait_event("CHANNEL_PARK", uuid)
        assert park.get("Channel-Name") == "sofia/sipinterface_1/sip:1000@127.0.0.1:5060"
        assert park.get("variable_sip_invite_domain") == DOMAIN
        assert park.get("variable_presence_id") == f"1000@{DOMAIN}"
        assert park.get("variable_dialed_user") == "1000"
        assert park.get("variable_sim_tag") == "from-directory"
        assert park.get("variable_effective_caller_id_name") == "Desk 1000"
        # user_context is read before the user's variables are set (dial-var- sets it).
        assert park.get("Caller-Context") == "context_8"
        assert park.get("variable_user_context") == "context_9"
        # Not registered: sofia_contact gives error/user_not_registered.
        text = (await sw.api("originate", f"user/1001@{DOMAIN} &park()")).text
        assert text == "-ERR USER_NOT_REGISTERED\n"
        text = (await sw.api("originate", f"user/1002@{DOMAIN} &park()")).text
        assert text == "-ERR USER_BUSY\n"
        text = (await sw.api("originate", f"user/1003@{DOMAIN} &park()")).text
        assert text == "-ERR INVALID_IE_CONTENTS\n"
        text = (await sw.api("originate", f"user/1999@{DOMAIN} &park()")).text
        assert text == "-ERR SUBSCRIBER_ABSENT\n"
        assert (await sw.api("uuid_kill", uuid)).text == "+OK\n"


async def test_user_endpoint_from_a_call_sets_dialed_user_on_the_caller() -> None:
    async with running_switch() as (sw, rec):
        bind_registrar(sw, auth_user("1000", "pw") + auth_user("1001", "pw"), dial_user("1001"), [])
        caller = await sw.sofia.register("1000", DOMAIN, password="pw")
        assert isinstance(caller, Device)
        await sw.sofia.register("1001", DOMAIN, password="pw")
        actions = [("bridge", f"user/1001@{DOMAIN}")]
        bind_dialplan(sw, dialplan_document("context_2", extension(actions)))
        channel = await sw.sofia.place_call(caller, "1001")
        bridged = await rec.wait_event("CHANNEL_BRIDGE", channel.uuid)
        assert bridged.get("Other-Leg-Channel-Name") == (
            "sofia/sipinterface_1/sip:1001@127.0.0.1:5060"
        )
        assert channel.variables.get("dialed_user") == "1001"
        assert channel.variables.get("dialed_domain") == DOMAIN
        assert (await sw.api("uuid_kill", channel.uuid)).text == "+OK\n"


async def test_bridge_failure_transfer_on_fail() -> None:
    """``transfer_on_fail <causes> <exten> <dialplan> <context>`` routes the caller
    again on a listed cause instead of hanging it up."""
    async with running_switch() as (sw, rec):
        first = extension([("answer", ""), ("set", "transfer_on_fail=USER_BUSY,17 200 XML default"),
                           ("bridge", "error/USER_BUSY"), ("set", "not_reached=1")],
                          "^1$", "first")  # fmt: skip
        second = extension([("set", "transferred=yes"), ("park", "")], "^200$", "second")
        bind_dialplan(sw, dialplan_document("default", first + second))
        result = await sw.api("originate", "loopback/1 &park()")
        assert result.text.startswith("+OK "), result.text
        park = await rec.wait_event("CHANNEL_PARK", Channel_Name="loopback/1-b")
        assert park.get("variable_transferred") == "yes"
        assert park.get("variable_not_reached") is None
        assert park.get("Caller-Destination-Number") == "200"
        await sw.api("hupall", "")


async def test_a_bridged_sip_leg_reports_the_display_it_sends() -> None:
    async with running_switch() as (sw, rec):
        seen: list[XmlLookup] = []
        bind_registrar(sw, auth_user("1000", "pw"), "", seen)
        assert isinstance(await sw.sofia.register("1000", DOMAIN, password="pw"), Device)
        made = await sw.api(
            "originate",
            "{origination_uuid=kt-caller,origination_caller_id_name=Alice,"
            "origination_caller_id_number=2000}null/2000 "
            f"&bridge({{origination_uuid=kt-sip}}sofia/sipinterface_1/1000@{DOMAIN})",
        )
        assert made.text.startswith("+OK"), made.text
        await rec.wait_event("CHANNEL_BRIDGE", "kt-caller")
        # mod_sofia (SWITCH_MESSAGE_INDICATE_DISPLAY) on its answered leg: the caller's id
        # it shows; the null leg reports nothing.
        sent = [e for e in rec.of("kt-sip") if e.name == "CALL_UPDATE"]
        sent = [e for e in sent if e.get("Direction") == "SEND"]
        assert len(sent) == 1
        assert sent[0].get("Sent-Callee-ID-Number") == "2000"
        assert sent[0].get("Bridged-To") == "kt-caller"
        assert not any(
            e.get("Direction") == "SEND" for e in rec.of("kt-caller") if e.name == "CALL_UPDATE"
        )
        await sw.api("uuid_kill", "kt-caller")
        await rec.wait_event("CHANNEL_DESTROY", "kt-sip")
