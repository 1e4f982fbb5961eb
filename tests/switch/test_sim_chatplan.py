"""mod_sms on the simulated switch: a device's MESSAGE through the chatplan fetch
binding, with the chatplan documents Kazoo's ecallmgr_fs_xml builds (``sms``:
``stop stored``; ``chatplan_error``: ``reply <code> <message>``)."""

from __future__ import annotations

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import XmlLookup
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.switch.sim.sofia import Device
from tests.switch.callhelpers import running_switch
from tests.switch.test_sim_sofia import DOMAIN, auth_user, bind_registrar


def chatplan_document(context: str, extensions: str, description: str) -> str:
    return (
        '<document type="freeswitch/xml">'
        f'<section name="chatplan" description="{description}">'
        f'<context name="{context}">{extensions}</context></section></document>'
    )


# route_resp_xml(<<"sms">>, ...): the message is stored by Kazoo; the chatplan stops.
KAZOO_SMS = chatplan_document(
    "context_2",
    '<extension name="chat plan" continue="false"><condition>'
    '<action application="stop" data="stored"/></condition></extension>',
    "Chat Response",
)
# route_resp_xml(<<"chatplan_error">>, ...): ErrCode, " ", ErrMsg.
KAZOO_ERROR = chatplan_document(
    "context_2",
    '<extension><condition><action application="reply" data="503 no route"/>'
    "</condition></extension>",
    "Route Error Response",
)


def bind_chatplan(sw: SimSwitch, document: str, seen: list[XmlLookup]) -> None:
    async def handler(lookup: XmlLookup) -> str | None:
        seen.append(lookup)
        return document

    sw.bind_xml(["chatplan"], handler)


async def registered(sw: SimSwitch) -> Device:
    bind_registrar(sw, auth_user("1000", "pw"), "", [])
    device = await sw.sofia.register("1000", DOMAIN, password="pw")
    assert isinstance(device, Device)
    return device


def messages(events: list[Event]) -> list[Event]:
    return [e for e in events if e.name == "MESSAGE"]


async def test_kazoo_sms_response_stops_the_chatplan_and_the_message_goes_on() -> None:
    async with running_switch() as (sw, rec):
        device = await registered(sw)
        seen: list[XmlLookup] = []
        bind_chatplan(sw, KAZOO_SMS, seen)
        status = await sw.sofia.send_message(device, "2000", "hello")
        assert status == "SUCCESS"
        lookup = seen[-1]
        assert lookup.section == "chatplan"
        assert lookup.params.get("Event-Name") == "MESSAGE"
        assert lookup.params.get("from") == f"1000@{DOMAIN}"
        assert lookup.params.get("to_user") == "2000"
        assert lookup.params.get("context") == "context_2"
        assert lookup.params.get("max_forwards") == "70"
        assert lookup.params.body == "hello"
        # "stop" ends the chatplan without final delivery: sip delivers it.
        [delivery] = sw.sms.delivered
        assert delivery.proto == "sip"
        assert delivery.message.body == "hello"
        assert delivery.message.get("to") == f"2000@{DOMAIN}"
        [fired] = messages(rec.events)
        assert fired.get("dest_proto") == "sip"
        assert fired.get("Nonblocking-Delivery") == "true"
        assert fired.body == "hello"


async def test_kazoo_chatplan_error_replies_to_the_sender() -> None:
    async with running_switch() as (sw, _rec):
        device = await registered(sw)
        bind_chatplan(sw, KAZOO_ERROR, [])
        assert await sw.sofia.send_message(device, "2000", "hello") == "SUCCESS"
        reply, original = sw.sms.delivered
        assert reply.proto == "sip"
        assert reply.message.body == "503 no route"
        assert reply.message.get("to") == f"1000@{DOMAIN}"
        assert reply.message.get("to_user") == "1000"
        assert reply.message.get("from_user") == "2000"
        assert reply.message.get("replying") == "true"
        assert reply.message.get("orig_body") == "hello"
        assert original.message.body == "hello"


async def test_no_chatplan_still_delivers() -> None:
    async with running_switch() as (sw, rec):
        device = await registered(sw)
        assert await sw.sofia.send_message(device, "2000", "hello") == "SUCCESS"
        assert [d.message.body for d in sw.sms.delivered] == ["hello"]
        # An unknown protocol fails, and a blocking message says so.
        message = sw.sms.message([("proto", "sip"), ("blocking", "true")], "x")
        assert await sw.sms.send(message, "xmpp") == "FALSE"
        assert messages(rec.events)[-1].get("Delivery-Failure") == "true"


async def test_conditions_captures_set_fire_and_final() -> None:
    """parse_exten: a header condition with captures; anti-actions on a mismatch;
    ``final`` ends the chatplan and keeps the message from being delivered."""
    extensions = (
        '<extension name="numbers" continue="true">'
        '<condition field="to_user" expression="^(\\d{2})(\\d+)$">'
        '<action application="set" data="prefix=$1"/>'
        '<action application="set" data="rest=$2"/>'
        '<action application="unset" data="subject"/></condition></extension>'
        '<extension name="nomatch"><condition field="from_user" expression="^9">'
        '<action application="set" data="never=1"/>'
        '<anti-action application="fire"/>'
        '<anti-action application="final"/>'
        '<anti-action application="set" data="after_final=1"/></condition></extension>'
    )
    async with running_switch() as (sw, rec):
        device = await registered(sw)
        bind_chatplan(sw, chatplan_document("context_2", extensions, "test"), [])
        assert await sw.sofia.send_message(device, "2000", "hello") == "SUCCESS"
        fired, delivered = messages(rec.events)
        assert fired.get("prefix") == "20" and fired.get("rest") == "00"
        assert fired.get("subject") is None and fired.get("never") is None
        assert delivered.get("final_delivery") == "true"
        assert delivered.get("after_final") is None
        assert sw.sms.delivered == []


async def test_system_runs_nothing_and_ends_the_chatplan() -> None:
    document = chatplan_document(
        "context_2",
        '<extension><condition><action application="system" data="touch /tmp/x"/>'
        '<action application="set" data="after=1"/></condition></extension>',
        "test",
    )
    async with running_switch() as (sw, rec):
        device = await registered(sw)
        bind_chatplan(sw, document, [])
        assert await sw.sofia.send_message(device, "2000", "hi") == "SUCCESS"
        assert messages(rec.events)[-1].get("after") is None


async def test_show_chat_lists_the_chat_interfaces() -> None:
    sw = SimSwitch()
    text = (await sw.api("show", "chat")).text
    assert text == ("type,name,ikey\nchat,GLOBAL_SMS,mod_sms\nchat,sip,mod_sofia\n\n2 total.\n")
    assert set(sw.sms.chat_applications) == {
        "info", "reply", "stop", "final", "set", "unset", "send", "fire", "system",
    }  # fmt: skip
