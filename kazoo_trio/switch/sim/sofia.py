"""mod_sofia on the simulated switch: SIP profiles, simulated devices registering to
them, gateways, the ``sofia/`` endpoint and the ``sofia`` API command's texts.

Nothing goes over the network.  A *device* is declared by registering it
(:meth:`SofiaModule.register`, or the ``sim.register`` JSON API): the registration is
authorised through the ``directory`` fetch binding as ``sofia_reg_parse_auth`` asks
(``action=sip_auth``; Kazoo's registrar answers with the user's ``password`` or
``a1-hash``), then stored and announced with ``CUSTOM sofia::register``.  A device
answers calls as its :data:`Behaviour` says: ``answer`` (rings, then answers),
``busy`` (486), ``reject`` (603), ``unavailable`` (480) or ``no_answer`` (rings until
the caller gives up).

Dial strings (``sofia_outgoing_channel``):

* ``sofia/<profile>/<user>@<host>``: the device registered as ``user@host`` (on any
  profile: the simulated network delivers by address of record).  No such device: a
  host the simulated registrar serves (some device registered there) answers ``480``
  (``NO_USER_RESPONSE``); any other host is a far end that answers, or does what
  :attr:`SofiaModule.far_end` says for that user part;
* ``sofia/<profile>/<user>`` and ``sofia/<profile>/<user>%<domain>``: registered users
  only, else ``USER_NOT_REGISTERED`` (``Cannot locate registered user``);
* ``sofia/gateway/<gateway>/<number>``: through a gateway (``INVALID_GATEWAY`` when
  there is none, ``GATEWAY_DOWN`` when it is down); the carrier behind it answers, or
  does what :attr:`SofiaModule.far_end` or the gateway's ``behaviour`` says;
* an unknown profile is ``INVALID_PROFILE``.

Gateways come from ``sofia.conf`` through the ``configuration`` fetch binding (as
``sofia profile <name> rescan`` reads it; Kazoo's ecallmgr answers with its carriers)
or from :meth:`SofiaModule.add_gateway`.
Layer: above :mod:`.core` (registered by :mod:`.simswitch`).
"""

from __future__ import annotations

import hashlib
import re
import time
import urllib.parse
import xml.etree.ElementTree as ET
from typing import Literal, get_args

import attrs
import trio

from kazoo_trio.errors import ConfigurationError
from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.kz.endpoints import directory_user
from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.separate import separate_string
from kazoo_trio.switch.sim.causes import cause_code
from kazoo_trio.switch.sim.channel import (
    Action,
    Channel,
    ChannelHost,
    Leg,
    SwitchNotRunning,
    true,
)
from kazoo_trio.switch.sim.chatplan import ChatStatus, SmsModule
from kazoo_trio.switch.sim.core import SimCore
from kazoo_trio.switch.sim.endpoints import wait_orders
from kazoo_trio.switch.sim.profile import CallerProfile, sanitize_number
from kazoo_trio.switch.sim.session import route
from kazoo_trio.switch.xmltext import XmlError, parse_document
from kazoo_trio.uuids import uuid4_str

__all__ = [
    "BEHAVIOURS",
    "Behaviour",
    "Device",
    "DeviceError",
    "Gateway",
    "Refer",
    "SofiaModule",
    "SofiaProfile",
    "register_sofia",
]

Behaviour = Literal["answer", "busy", "reject", "unavailable", "no_answer"]
BEHAVIOURS: tuple[str, ...] = get_args(Behaviour)

# The SIP final response each failing behaviour sends, and the cause FreeSWITCH maps
# it to (sofia_glue_sip_cause_to_freeswitch).
_FAILURES: dict[str, tuple[int, str, str]] = {
    "busy": (486, "Busy Here", "USER_BUSY"),
    "reject": (603, "Decline", "CALL_REJECTED"),
    "unavailable": (480, "Temporarily Unavailable", "NO_USER_RESPONSE"),
}

# hangup_cause_to_sip (mod_sofia.c): the final response a leg refusing a call sends
# (480 for any other cause).
_CAUSE_TO_SIP: dict[str, int] = {
    **dict.fromkeys(("UNALLOCATED_NUMBER", "NO_ROUTE_TRANSIT_NET", "NO_ROUTE_DESTINATION"), 404),
    "USER_BUSY": 486,
    "NO_USER_RESPONSE": 408,
    **dict.fromkeys(("NO_ANSWER", "SUBSCRIBER_ABSENT", "NORMAL_UNSPECIFIED"), 480),
    **dict.fromkeys(("CALL_REJECTED", "DECLINE", "REJECT_ALL"), 603),
    **dict.fromkeys(("NUMBER_CHANGED", "REDIRECTION_TO_NEW_DESTINATION"), 410),
    **dict.fromkeys(("DESTINATION_OUT_OF_ORDER", "INVALID_PROFILE"), 502),
    **dict.fromkeys(("INVALID_NUMBER_FORMAT", "INVALID_URL", "INVALID_GATEWAY"), 484),
    **dict.fromkeys(
        ("FACILITY_REJECTED", "FACILITY_NOT_IMPLEMENTED", "SERVICE_NOT_IMPLEMENTED"), 501
    ),
    **dict.fromkeys(
        (
            "REQUESTED_CHAN_UNAVAIL",
            "NORMAL_CIRCUIT_CONGESTION",
            "NETWORK_OUT_OF_ORDER",
            "NORMAL_TEMPORARY_FAILURE",
            "SWITCH_CONGESTION",
            "GATEWAY_DOWN",
            "BEARERCAPABILITY_NOTAVAIL",
        ),
        503,
    ),
    **dict.fromkeys(
        ("OUTGOING_CALL_BARRED", "INCOMING_CALL_BARRED", "BEARERCAPABILITY_NOTAUTH"), 403
    ),
    **dict.fromkeys(("BEARERCAPABILITY_NOTIMPL", "INCOMPATIBLE_DESTINATION"), 488),
    "RECOVERY_ON_TIMER_EXPIRE": 504,
    "ORIGINATOR_CANCEL": 487,
    "EXCHANGE_ROUTING_ERROR": 483,
    "BUSY_EVERYWHERE": 600,
    "DOES_NOT_EXIST_ANYWHERE": 604,
    "NOT_ACCEPTABLE": 606,
    "UNWANTED": 607,
}

# sofia_glue_sip_cause_to_freeswitch (sofia_glue.c): the cause a final response ends the
# calling leg with (NORMAL_UNSPECIFIED for any other code).
_SIP_TO_CAUSE: dict[int, str] = {
    200: "NORMAL_CLEARING",
    **dict.fromkeys((401, 402, 403, 407, 603, 608), "CALL_REJECTED"),
    607: "UNWANTED",
    404: "UNALLOCATED_NUMBER",
    **dict.fromkeys((485, 604), "NO_ROUTE_DESTINATION"),
    **dict.fromkeys((408, 504), "RECOVERY_ON_TIMER_EXPIRE"),
    410: "NUMBER_CHANGED",
    **dict.fromkeys((413, 414, 416, 420, 421, 423, 505, 513), "INTERWORKING"),
    480: "NO_USER_RESPONSE",
    **dict.fromkeys((400, 481, 500, 503), "NORMAL_TEMPORARY_FAILURE"),
    **dict.fromkeys((486, 600), "USER_BUSY"),
    484: "INVALID_NUMBER_FORMAT",
    **dict.fromkeys((488, 606), "INCOMPATIBLE_DESTINATION"),
    502: "NETWORK_OUT_OF_ORDER",
    405: "SERVICE_UNAVAILABLE",
    **dict.fromkeys((406, 415, 501), "SERVICE_NOT_IMPLEMENTED"),
    **dict.fromkeys((482, 483), "EXCHANGE_ROUTING_ERROR"),
    487: "ORIGINATOR_CANCEL",
}


def refused_cause(cause: str) -> str:
    """The cause a SIP leg ends with when the far end, a FreeSWITCH, refuses its INVITE
    because its own leg ended with ``cause``: the response carries ``Reason: Q.850;
    cause=<n>`` for the Q.850 causes (1-127), which the caller takes as it is; other
    causes go as ``SIP;cause=<n>``, which it ignores, taking the response code's cause
    (sofia_on_hangup, sofia_handle_sip_r_invite)."""
    if 0 < cause_code(cause) < 128:
        return cause
    return _SIP_TO_CAUSE.get(_CAUSE_TO_SIP.get(cause, 480), "NORMAL_UNSPECIFIED")


LINE = "=" * 97
USAGE = (
    "USAGE:\n"
    "--------------------------------------------------------------------------------\n"
    "sofia global siptrace <on|off>\n"
    "sofia        capture  <on|off>\n"
    "             watchdog <on|off>\n\n"
    "sofia profile <name> [start | stop | restart | rescan] [wait]\n"
    "                     flush_inbound_reg [<call_id> | <[user]@domain>] [reboot]\n"
    "                     check_sync [<call_id> | <[user]@domain>]\n"
    "                     [register | unregister] [<gateway name> | all]\n"
    "                     killgw <gateway name>\n"
    "                     [stun-auto-disable | stun-enabled] [true | false]]\n"
    "                     siptrace <on|off>\n"
    "                     capture  <on|off>\n"
    "                     watchdog <on|off>\n\n"
    "sofia <status|xmlstatus> profile <name> [reg [<contact str>]] | [pres <pres str>] "
    "| [user <user@domain>]\n"
    "sofia <status|xmlstatus> gateway <name>\n\n"
    "sofia loglevel <all|default|tport|iptsec|nea|nta|nth_client|nth_server|nua|soa|"
    "sresolv|stun> [0-9]\n"
    "sofia tracelevel <console|alert|crit|err|warning|notice|info|debug>\n\n"
    "sofia help\n"
    "--------------------------------------------------------------------------------\n"
)
XML_HEADER = '<?xml version="1.0" encoding="ISO-8859-1"?>'

_ORIGIN_REGISTER = EventOrigin("sofia_reg.c", "sofia_reg_handle_register_token", 2059)
_ORIGIN_UNREGISTER = EventOrigin("sofia_reg.c", "sofia_reg_handle_register_token", 1924)
_ORIGIN_AUTH = EventOrigin("sofia_reg.c", "sofia_reg_parse_auth", 2959)
_ORIGIN_RELOADXML = EventOrigin("switch_xml.c", "switch_xml_open_root", 2423)


class DeviceError(ConfigurationError, ValueError):
    """A simulated device declared with settings it cannot have."""


@attrs.define
class SofiaProfile:
    """A SIP profile (``sofia_profile_t``) as ``sofia status`` shows it."""

    name: str
    port: int
    context: str = "public"
    dialplan: str = "XML"
    # inbound-late-negotiation: codecs are chosen when an inbound call is answered.
    inbound_late_negotiation: bool = False
    ib_calls: int = 0
    ib_failed_calls: int = 0
    ob_calls: int = 0
    ob_failed_calls: int = 0


@attrs.define
class Gateway:
    """A gateway (``sofia_gateway_t``) with the defaults ``parse_gateways`` gives."""

    name: str
    profile: str
    realm: str
    username: str = "FreeSWITCH"
    password: str = ""
    proxy: str = ""
    register: bool = False
    context: str = "default"
    expires: str = "3600"
    behaviour: Behaviour = "answer"
    up: bool = True  # a down gateway refuses calls (GATEWAY_DOWN)
    ping_freq: int = 0
    # <variables>: (name, value, direction); outbound ones go on every leg it dials.
    variables: tuple[tuple[str, str, str], ...] = ()
    uptime_us: int = 0
    ib_calls: int = 0
    ob_calls: int = 0
    ib_failed_calls: int = 0
    ob_failed_calls: int = 0

    @property
    def state(self) -> str:
        return "REGED" if self.register else "NOREG"

    @property
    def register_proxy(self) -> str:
        proxy = self.proxy or self.realm
        return proxy if proxy.startswith(("sip:", "sips:")) else f"sip:{proxy}"

    @property
    def register_to(self) -> str:
        return f"sip:{self.username}@{self.register_proxy.split(':', 1)[1]}"

    @property
    def register_from(self) -> str:
        return f"<sip:{self.username}@{self.proxy or self.realm}>"


@attrs.frozen
class Device:
    """A simulated SIP device registered to a profile."""

    user: str
    domain: str
    profile: str
    behaviour: Behaviour = "answer"
    ring: float | None = None  # seconds before answering; None: SimTimings.ring_delay
    talk: float | None = None  # seconds before hanging up once answered; None: stays
    call_id: str = attrs.field(factory=uuid4_str)
    network_ip: str = "127.0.0.1"
    network_port: int = 5060
    user_agent: str = "kazoo-trio simulated phone"
    expires: int = 3600
    registered_at: int = 0  # epoch seconds

    @property
    def contact(self) -> str:
        return f'"{self.user}" <sip:{self.user}@{self.network_ip}:{self.network_port}>'

    @property
    def aor(self) -> str:
        return f"{self.user}@{self.domain}".lower()


def _refused(channel: Channel, code: int, cause: str, originator: Channel | None) -> None:
    """The leg ends on a final failure response ``code`` (sofia_handle_sip_r_invite):
    ``sip_term_status`` and ``proto_specific_hangup_cause`` (``sip:<code>``), which the
    hang-up copies to the originating leg as ``last_bridge_proto_specific_hangup_cause``
    (switch_channel_perform_hangup)."""
    channel.set_variable("sip_term_status", str(code))
    channel.set_variable("proto_specific_hangup_cause", f"sip:{code}")
    if originator is not None:
        originator.set_variable("last_bridge_proto_specific_hangup_cause", f"sip:{code}")
    channel.hangup(cause)


def _far_end_action(
    behaviour: str,
    ring: float,
    talk: float | None = None,
    counters: tuple[SofiaProfile | Gateway, ...] = (),
    originator: Channel | None = None,
) -> Action:
    """A leg whose far end rings and answers (and hangs up after ``talk`` seconds),
    fails with a SIP response (counted as a failed outbound call on ``counters``), or
    rings on."""

    async def action(channel: Channel) -> None:
        channel.set_state("CS_CONSUME_MEDIA")
        failure = _FAILURES.get(behaviour)
        if failure is not None:
            code, phrase, cause = failure
            channel.set_variable("sip_invite_failure_status", str(code))
            channel.set_variable("sip_invite_failure_phrase", phrase)
            for counted in counters:
                counted.ob_failed_calls += 1
            _refused(channel, code, cause, originator)
            await trio.lowlevel.checkpoint()
            return
        channel.ring_ready()
        if behaviour == "no_answer":
            await trio.sleep_forever()
        await trio.sleep(ring)
        channel.answer()
        if talk is not None:
            # The far end's BYE comes whatever the channel is doing by then.
            channel.sw.start_task(_hang_up_after, channel, talk)
        await wait_orders(channel)

    return action


@attrs.frozen
class Refer:
    """A REFER mod_sofia sent to a channel's far end (``deflect``): the channel, the
    ``Refer-To`` and the extra ``sip_h_*`` headers it carried."""

    uuid: str
    refer_to: str
    headers: tuple[tuple[str, str], ...] = ()


@attrs.define(eq=False)
class SofiaModule:
    """mod_sofia's state on a simulated core: profiles, registrations, gateways."""

    core: SimCore
    profiles: dict[str, SofiaProfile] = attrs.field(factory=dict)
    gateways: dict[str, Gateway] = attrs.field(factory=dict)
    registrations: dict[str, Device] = attrs.field(factory=dict)  # by call-id
    far_end: dict[str, Behaviour] = attrs.field(factory=dict)  # by dialled user part
    served_domains: set[str] = attrs.field(factory=set)
    refers: list[Refer] = attrs.field(factory=list)  # what deflect sent, oldest first
    sms: SmsModule | None = None  # where MESSAGE requests go (mod_sms's chatplan)

    @property
    def sip_ip(self) -> str:
        return self.core.identity.ipv4

    def profile_url(self, profile: SofiaProfile) -> str:
        return f"sip:mod_sofia@{self.sip_ip}:{profile.port}"

    def find_profile(self, name: str) -> SofiaProfile | None:
        return self.profiles.get(name)

    # -- registrations ----------------------------------------------------------------

    def find_registration(
        self, user: str, domain: str, profile: str | None = None
    ) -> Device | None:
        """The newest registration of ``user@domain`` (on ``profile`` if given)."""
        aor = f"{user}@{domain}".lower()
        found = None
        for device in self.registrations.values():
            if device.aor == aor and (profile is None or device.profile == profile):
                found = device
        return found

    def find_by_contact(self, user: str, host: str) -> Device | None:
        """The registration whose contact is ``user@host`` (``host`` with or without the
        port): where a ``sofia_contact`` dial string leads."""
        found = None
        for device in self.registrations.values():
            address = f"{device.network_ip}:{device.network_port}"
            if device.user == user and host in (address, device.network_ip):
                found = device
        return found

    def contact(self, args: str) -> ApiOutput:
        """``sofia_contact [profile/]<user>@<domain>``: the registered contacts as dial
        strings, or ``error/user_not_registered``."""
        if not args:
            return ApiOutput("")
        profile_name, slash, user = args.partition("/")
        if not slash:
            profile_name, user = "", args
        user, _, domain = user.partition("@")
        domain = domain.split("/", 1)[0] or (self.core.get_global("domain") or "")
        wanted = None if profile_name in ("", "*") else profile_name
        if wanted is not None and wanted not in self.profiles:
            wanted = domain if domain in self.profiles else None
        aor = f"{user}@{domain}".lower()
        dials = [
            f"sofia/{d.profile}/sip:{d.user}@{d.network_ip}:{d.network_port}"
            for d in self.registrations.values()
            if d.aor == aor and (wanted is None or d.profile == wanted)
        ]
        return ApiOutput(",".join(dials) if dials else "error/user_not_registered")

    async def register(
        self,
        user: str,
        domain: str,
        *,
        profile: str = "sipinterface_1",
        password: str = "",
        behaviour: Behaviour = "answer",
        ring: float | None = None,
        talk: float | None = None,
        network_ip: str = "127.0.0.1",
        network_port: int = 5060,
        expires: int = 3600,
    ) -> Device | str:
        """Register a simulated device: the registration, or why it was refused
        (``403 Forbidden`` when the directory has no such user or the password
        differs, ``404 Not Found`` for an unknown profile)."""
        sofia = self.find_profile(profile)
        if sofia is None:
            return "404 Not Found"
        if behaviour not in BEHAVIOURS:
            raise DeviceError(f"unknown device behaviour {behaviour!r}")
        call_id = uuid4_str()
        params = [
            ("action", "sip_auth"),
            ("sip_profile", profile),
            ("sip_user_agent", "kazoo-trio simulated phone"),
            ("sip_auth_username", user),
            ("sip_auth_realm", domain),
            ("sip_auth_method", "REGISTER"),
            ("sip_contact_user", user),
            ("sip_contact_host", network_ip),
            ("sip_to_user", user),
            ("sip_to_host", domain),
            ("sip_via_protocol", "udp"),
            ("sip_from_user", user),
            ("sip_from_host", domain),
            ("sip_call_id", call_id),
            ("sip_request_host", domain),
            ("key", "id"),
            ("user", user),
            ("domain", domain),
            ("ip", network_ip),
        ]
        event = self.core.new_event("REQUEST_PARAMS", headers=params, origin=_ORIGIN_AUTH)
        text = await self.core.xml_lookup("directory", "domain", "name", domain, event)
        x_user = directory_user(text, user, domain)
        if x_user is None or not _authorised(x_user, user, domain, password):
            return "403 Forbidden"
        device = Device(
            user=user,
            domain=domain,
            profile=profile,
            behaviour=behaviour,
            ring=ring,
            talk=talk,
            call_id=call_id,
            network_ip=network_ip,
            network_port=network_port,
            expires=expires,
            registered_at=self.core.clock.wall_us() // 1_000_000,
        )
        self.registrations[call_id] = device
        self.served_domains.add(domain.lower())
        self._fire_register("sofia::register", device, "Registered(UDP)", _ORIGIN_REGISTER)
        return device

    def unregister(self, user: str, domain: str) -> int:
        """Drop every registration of ``user@domain`` (``sofia::unregister`` for each)."""
        gone = [d for d in self.registrations.values() if d.aor == f"{user}@{domain}".lower()]
        for device in gone:
            del self.registrations[device.call_id]
            self._fire_register("sofia::unregister", device, "", _ORIGIN_UNREGISTER)
        return len(gone)

    def inbound_channel(self, device: Device, destination: str) -> Channel:
        """The channel a device's INVITE to ``destination`` creates
        (``sofia_handle_sip_i_invite``): named after its From, in its profile's
        context, with the ``sip_*`` variables Kazoo's route and authz requests read."""
        sofia = self.profiles[device.profile]
        user, domain = device.user, device.domain
        profile = CallerProfile(
            caller_id_name=user,
            caller_id_number=user,
            destination_number=destination,
            context=sofia.context,
            dialplan=sofia.dialplan,
            username=user,
            network_addr=device.network_ip,
            ani=user,
            source="mod_sofia",
        )
        call_id = uuid4_str()
        variables = {
            "sip_profile_name": sofia.name,
            "sofia_profile_name": sofia.name,
            "sofia_profile_url": self.profile_url(sofia),
            "recovery_profile_name": sofia.name,
            "sip_local_network_addr": self.sip_ip,
            "sip_network_ip": device.network_ip,
            "sip_network_port": str(device.network_port),
            "sip_received_ip": device.network_ip,
            "sip_received_port": str(device.network_port),
            "sip_via_protocol": "udp",
            "sip_call_id": call_id,
            "sip_user_agent": device.user_agent,
            "sip_from_user": user,
            "sip_from_uri": f"{user}@{domain}",
            "sip_from_host": domain,
            "sip_from_user_stripped": user,
            "sip_req_user": destination,
            "sip_req_uri": f"{destination}@{domain}",
            "sip_req_host": domain,
            "sip_to_user": destination,
            "sip_to_uri": f"{destination}@{domain}",
            "sip_to_host": domain,
            "sip_contact_user": user,
            "sip_contact_port": str(device.network_port),
            "sip_contact_uri": f"{user}@{device.network_ip}:{device.network_port}",
            "sip_contact_host": device.network_ip,
            "presence_id": f"{user}@{domain}",
        }
        if sofia.inbound_late_negotiation:
            variables["endpoint_disposition"] = "DELAYED NEGOTIATION"
        sofia.ib_calls += 1
        return Channel(
            self.core,
            f"sofia/{sofia.name}/{user}@{domain}",
            "inbound",
            profile,
            variables=variables,
            media_on_answer=sofia.inbound_late_negotiation,
        )

    async def place_call(
        self, device: Device, destination: str, *, hold: float | None = None
    ) -> Channel:
        """The device calls ``destination``: the call is routed through the dialplan
        bindings; the caller hangs up after ``hold`` seconds unless it ended before
        (``None``: it stays until the far end or a command ends it)."""
        channel = self.inbound_channel(device, destination)
        await self.core.start_channel(channel, route)
        if hold is not None:
            self.core.start_task(_hang_up_after, channel, hold)
        return channel

    def _fire_register(
        self, subclass: str, device: Device, status: str, origin: EventOrigin
    ) -> None:
        headers = [
            ("profile-name", device.profile),
            ("from-user", device.user),
            ("from-host", device.domain),
            ("presence-hosts", "n/a"),
            ("contact", device.contact),
            ("call-id", device.call_id),
            ("rpid", "unknown"),
            ("status", status),
            ("expires", str(device.expires) if status else "0"),
            ("to-user", device.user),
            ("to-host", device.domain),
            ("network-ip", device.network_ip),
            ("network-port", str(device.network_port)),
            ("username", device.user),
            ("realm", device.domain),
            ("user-agent", device.user_agent),
        ]
        if not status:
            headers = [h for h in headers if h[0] not in ("status", "rpid")]
        self.core.fire(
            self.core.new_event("CUSTOM", subclass=subclass, headers=headers, origin=origin)
        )

    # -- gateways ---------------------------------------------------------------------

    def add_gateway(self, gateway: Gateway) -> bool:
        """Start ``gateway`` unless one of that name runs (``Ignoring duplicate gateway``)."""
        if gateway.name in self.gateways or gateway.profile not in self.profiles:
            return False
        gateway.uptime_us = self.core.clock.wall_us()
        self.gateways[gateway.name] = gateway
        return True

    async def rescan(self, profile: SofiaProfile) -> None:
        """``config_sofia(SOFIA_CONFIG_RESCAN)``: read ``sofia.conf`` and start the
        profile's gateways not yet running."""
        event = self.core.new_event("REQUEST_PARAMS", headers=[("profile", profile.name)])
        text = await self.core.xml_lookup(
            "configuration", "configuration", "name", "sofia.conf", event
        )
        if not text:
            return
        try:
            root = parse_document(text)
        except XmlError:
            return
        for x_profile in root.iter("profile"):
            if x_profile.get("name") != profile.name:
                continue
            for x_gw in x_profile.iter("gateway"):
                gateway = _parse_gateway(x_gw, profile)
                if gateway is not None:
                    self.add_gateway(gateway)

    # -- the endpoint -----------------------------------------------------------------

    async def outgoing_channel(
        self,
        sw: ChannelHost,
        rest: str,
        variables: dict[str, str],
        profile: CallerProfile,
        originator: Channel | None,
    ) -> Leg | str:
        """``sofia_outgoing_channel``: the new leg and what its far end does, or the cause."""
        data = rest.split("^", 1)[0]
        if data.lower().startswith("gateway/"):
            gw_name, slash, dest = data[8:].partition("/")
            if not slash or not dest:
                return "INVALID_URL"
            gateway = self.gateways.get(gw_name)
            if gateway is None:
                return "INVALID_GATEWAY"
            gw_profile = self.profiles[gateway.profile]
            if not gateway.up:
                gateway.ob_failed_calls += 1
                return "GATEWAY_DOWN"
            gateway.ob_calls += 1
            gw_profile.ob_calls += 1
            number = dest.split(";", 1)[0]
            user = number.split("@", 1)[0]
            host = number.split("@", 1)[1] if "@" in number else gateway.register_proxy[4:]
            behaviour = self.far_end.get(user, gateway.behaviour)
            channel = self._new_leg(sw, gw_profile, number, user, host, variables, profile, data)
            channel.set_variable("sip_gateway_name", gateway.name)
            for name, value, direction in gateway.variables:
                if direction in ("outbound", "both"):
                    channel.set_variable(name, value)
            action = _far_end_action(
                behaviour,
                sw.timings.ring_delay,
                counters=(gw_profile, gateway),
                originator=originator,
            )
            return channel, action
        profile_name, slash, dest = data.partition("/")
        if not slash:
            return "INVALID_URL"
        sofia = self.find_profile(profile_name)
        if sofia is None:
            return "INVALID_PROFILE"
        sofia.ob_calls += 1
        # The channel is named after the dial data (sofia_glue_set_name), but only
        # after the user of a registered-user form.
        channame = dest.split(";", 1)[0]
        address = channame
        for prefix in ("sip:", "sips:"):
            if address.lower().startswith(prefix):
                address = address[len(prefix) :]
        dest_url = dest if address != channame else f"sip:{address}"
        if "@" not in address:
            user, _, domain = address.partition("%")
            domain = domain or sofia.name
            device = self.find_registration(user, domain, sofia.name)
            if device is None:
                sofia.ob_failed_calls += 1
                return "USER_NOT_REGISTERED"
            channame = user
            dest_url = f"sip:{user}@{device.network_ip}:{device.network_port}"
        else:
            user, _, domain = address.partition("@")
            device = self.find_registration(user, domain) or self.find_by_contact(user, domain)
            if device is None and domain.lower() in self.served_domains:
                behaviour = "unavailable"
            else:
                behaviour = self.far_end.get(user, "answer")
        ring = sw.timings.ring_delay
        talk = None
        if device is not None:
            behaviour = device.behaviour
            ring = device.ring if device.ring is not None else ring
            talk = device.talk
        channel = self._new_leg(sw, sofia, channame, user, domain, variables, profile, data)
        channel.set_variable("sip_destination_url", dest_url)
        # sofia_glue_do_invite: the request URI without its scheme.
        channel.set_variable("sip_req_uri", re.sub(r"^sips?:", "", dest_url, flags=re.I))
        if device is not None:
            channel.set_variable("sip_local_url", f"{user}@{domain}")
            if not channel.variables.get("presence_id"):
                channel.set_variable("presence_id", f"{user}@{domain}")
        own = self.own_profile(domain) if device is None and "@" in address else None
        if own is not None:
            return channel, self._looped_action(sofia, own, user, domain, originator)
        return channel, _far_end_action(
            behaviour, ring, talk, counters=(sofia,), originator=originator
        )

    # -- calls to itself --------------------------------------------------------------

    def own_profile(self, hostport: str) -> SofiaProfile | None:
        """The profile of this switch listening on ``host[:port]`` (5060 when no port is
        given), if the host is one of its addresses: a call there comes back in."""
        host, _, port = hostport.partition(":")
        if host not in ("127.0.0.1", self.sip_ip):
            return None
        number = int(port) if port.isdigit() else 5060
        return next((p for p in self.profiles.values() if p.port == number), None)

    def looped_channel(
        self, outbound: Channel, sender: SofiaProfile, target: SofiaProfile, user: str, host: str
    ) -> Channel:
        """The inbound leg the INVITE of ``outbound`` (sent from ``sender`` to ``user``
        at ``host``, one of this switch's addresses) creates on ``target``
        (``sofia_handle_sip_i_invite``): From is the caller's number at the address
        dialled (the sending profile listens there too), the display name the caller's
        name or else its number.  Ringing and early media of the inbound leg are not
        passed back; its answer, refusal and hang-up are (:meth:`_looped_action`)."""
        caller = outbound.profile
        # SWITCH_DEFAULT_CLID_NUMBER when the caller has no number.
        from_user = caller.caller_id_number or "0000000000"
        from_host = host.partition(":")[0]
        port = str(sender.port)
        profile = CallerProfile(
            caller_id_name=caller.caller_id_name or from_user,
            caller_id_number=from_user,
            destination_number=user,
            context=target.context,
            dialplan=target.dialplan,
            username=from_user,
            network_addr=from_host,
            ani=from_user,
            source="mod_sofia",
        )
        call_id = outbound.variables.get("sip_call_id") or uuid4_str()
        outbound.set_variable("sip_call_id", call_id)
        variables = {
            "sip_profile_name": target.name,
            "sofia_profile_name": target.name,
            "sofia_profile_url": self.profile_url(target),
            "recovery_profile_name": target.name,
            "sip_local_network_addr": self.sip_ip,
            "sip_network_ip": from_host,
            "sip_network_port": port,
            "sip_received_ip": from_host,
            "sip_received_port": port,
            "sip_via_protocol": "udp",
            "sip_call_id": call_id,
            "sip_user_agent": self.user_agent,
            "sip_from_user": from_user,
            "sip_from_uri": f"{from_user}@{from_host}",
            "sip_from_host": from_host,
            "sip_from_user_stripped": from_user,
            "sip_req_user": user,
            "sip_req_uri": f"{user}@{host}",
            "sip_req_host": from_host,
            "sip_to_user": user,
            "sip_to_uri": f"{user}@{host}",
            "sip_to_host": from_host,
            "sip_contact_user": from_user,
            "sip_contact_port": port,
            "sip_contact_uri": f"{from_user}@{from_host}:{port}",
            "sip_contact_host": from_host,
        }
        if target.inbound_late_negotiation:
            # sofia_handle_sip_i_invite: the codecs wait for the answer.
            variables["endpoint_disposition"] = "DELAYED NEGOTIATION"
        target.ib_calls += 1
        return Channel(
            self.core,
            f"sofia/{target.name}/{from_user}@{from_host}",
            "inbound",
            profile,
            variables=variables,
            media_on_answer=target.inbound_late_negotiation,
        )

    @property
    def user_agent(self) -> str:
        """What this switch's SIP messages say in ``User-Agent`` (mod_sofia's default
        ``user-agent-string``)."""
        return f"FreeSWITCH-mod_sofia/{self.core.identity.version_full}"

    def _looped_action(
        self,
        sender: SofiaProfile,
        target: SofiaProfile,
        user: str,
        host: str,
        originator: Channel | None,
    ) -> Action:
        """A leg whose far end is this switch itself: its INVITE becomes an inbound
        call on ``target``, routed by the dialplan; that leg's answer answers this one,
        its refusal (before an answer) ends this one with the cause of the SIP response
        it sends, and a hang-up on either side after the answer (a BYE) clears the
        other."""

        async def action(channel: Channel) -> None:
            channel.set_state("CS_CONSUME_MEDIA")
            inbound = self.looped_channel(channel, sender, target, user, host)

            def inbound_gone() -> None:
                cause = inbound.hangup_cause or "NORMAL_CLEARING"
                if not channel.up:
                    return
                if channel.profile.answered:
                    channel.hangup("NORMAL_CLEARING")
                    return
                code = _CAUSE_TO_SIP.get(cause, 480)
                channel.set_variable("sip_invite_failure_status", str(code))
                sender.ob_failed_calls += 1
                _refused(channel, code, refused_cause(cause), originator)

            def outbound_gone() -> None:
                # A CANCEL before the answer, a BYE after it.
                if inbound.up:
                    answered = bool(inbound.profile.answered)
                    inbound.hangup("NORMAL_CLEARING" if answered else "ORIGINATOR_CANCEL")

            inbound.hangup_hooks.append(inbound_gone)
            channel.hangup_hooks.append(outbound_gone)
            await self.core.start_channel(inbound, route)
            await inbound.settled.wait()
            if inbound.answered:
                # The 200 OK: its To and From, its User-Agent, and the callee the answering
                # leg asserts (sofia_update_callee_id): its callee id, else its
                # destination, sanitised.
                channel.set_variable("sip_to_uri", inbound.variables["sip_to_uri"])
                channel.set_variable("sip_from_uri", inbound.variables["sip_from_uri"])
                channel.set_variable("sip_user_agent", self.user_agent)
                if not true(channel.variables.get("ignore_display_updates")):
                    answering = inbound.profile
                    number = answering.callee_id_number or answering.destination_number
                    channel.profile.callee_id_number = sanitize_number(number)
                    channel.profile.callee_id_name = sanitize_number(
                        answering.callee_id_name or number
                    )
                channel.answer()
            await wait_orders(channel)

        return action

    def _new_leg(
        self,
        sw: ChannelHost,
        sofia: SofiaProfile,
        dest: str,
        user: str,
        host: str,
        variables: dict[str, str],
        profile: CallerProfile,
        data: str,
    ) -> Channel:
        # As sofia_outgoing_channel: the caller profile's destination is the dial data
        # after "sofia/", sanitised to its number (as are the caller's name and number);
        # the callee is the user part unless the dial string said.
        if profile.callee_id_number == profile.destination_number:
            profile.callee_id_number = user
        profile.destination_number = sanitize_number(data)
        profile.caller_id_name = sanitize_number(profile.caller_id_name)
        profile.caller_id_number = sanitize_number(profile.caller_id_number)
        channel = Channel(
            sw, f"sofia/{sofia.name}/{dest}", "outbound", profile, variables=dict(variables)
        )
        channel.set_variable("sip_local_network_addr", self.sip_ip)
        channel.set_variable("sip_profile_name", sofia.name)
        channel.set_variable("sip_destination_url", f"sip:{user}@{host}")
        channel.set_variable("sip_to_user", user)
        channel.set_variable("sip_to_host", host)
        if channel.variables.get("sofia_profile_name") is None:
            channel.set_variable("sofia_profile_name", sofia.name)
            channel.set_variable("recovery_profile_name", sofia.name)
            channel.set_variable("sofia_profile_url", self.profile_url(sofia))
        return channel

    # -- MESSAGE ----------------------------------------------------------------------

    async def send_message(
        self, device: Device, to: str, body: str, content_type: str = "text/plain"
    ) -> ChatStatus:
        """The device sends a SIP ``MESSAGE`` to ``to`` (``user`` or ``user@host``):
        ``sofia_presence_handle_sip_i_message``'s event, sent on with
        ``switch_core_chat_send("sip", ...)`` (a ``<proto>+<user>`` user picks another
        protocol)."""
        if self.sms is None:
            return "FALSE"
        sofia = self.profiles[device.profile]
        to_user, _, to_host = to.partition("@")
        to_host = to_host or device.domain
        proto = "sip"
        if "+" in to_user:
            proto, _, to_user = to_user.partition("+")
        headers = [
            ("login", self.profile_url(sofia)),
            ("proto", "sip"),
            ("to_proto", proto),
            ("from", f"{device.user}@{device.domain}"),
            ("from_user", device.user),
            ("from_host", device.domain),
            ("to_user", to_user),
            ("to_host", to_host),
            ("from_sip_ip", device.network_ip),
            ("from_sip_port", str(device.network_port)),
            ("to", f"{to_user}@{to_host}"),
            ("subject", "SIMPLE MESSAGE"),
            ("context", sofia.context),
            ("type", content_type),
            ("from_full", f"<sip:{device.user}@{device.domain}>"),
            ("sip_profile", sofia.name),
        ]
        return await self.sms.send(self.sms.message(headers, body), proto)

    # -- deflect ----------------------------------------------------------------------

    async def deflect(self, channel: Channel, data: str) -> None:
        """``SWITCH_MESSAGE_INDICATE_DEFLECT`` on a sofia channel: a REFER to its far
        end with ``Refer-To`` ``data`` (``sip:<data>@<profile ip>`` unless a SIP URI).
        The simulated far end accepts and reports ``SIP/2.0 200 OK``: the channel then
        hangs up with ``BLIND_TRANSFER`` unless ``sip_refer_continue_after_reply``."""
        if not channel.name.startswith("sofia/") or not data:
            await trio.lowlevel.checkpoint()
            return
        refer_to = data if data[:4].lower() == "sip:" else f"sip:{data}@{self.sip_ip}"
        headers = tuple(
            (name[len("sip_h_") :], value)
            for name, value in channel.variables.items()
            if name.startswith("sip_h_") and value
        )
        self.refers.append(Refer(channel.uuid, refer_to, headers))
        # The far end's NOTIFY (a sipfrag of the transfer target's answer) comes later.
        await trio.lowlevel.checkpoint()
        if not channel.up:
            return
        channel.set_variable("sip_refer_target_status_code", "200")
        channel.set_variable("sip_refer_reply", "SIP/2.0 200 OK\r\n")
        if not true(channel.variables.get("sip_refer_continue_after_reply")):
            channel.hangup("BLIND_TRANSFER")

    # -- the sofia command ------------------------------------------------------------

    async def command(self, args: str) -> ApiOutput:
        """``sofia <cmd> <args>``."""
        argv = separate_string(args, " ", 1024) if args else []
        if not argv or not argv[0]:
            return ApiOutput(USAGE)
        name = argv[0].lower()
        rest = argv[1:]
        if name == "help":
            return ApiOutput(USAGE)
        if name == "status":
            return ApiOutput(self._status(rest))
        if name == "xmlstatus":
            return ApiOutput(self._xml_status(rest))
        if name == "profile":
            return ApiOutput(await self._profile(rest))
        return ApiOutput(f"Unknown Command [{argv[0]}]\n")

    def _in_use(self, sofia: SofiaProfile) -> int:
        prefix = f"sofia/{sofia.name}/"
        count = 0
        for uuid in self.core.channels.uuids():
            channel = self.core.channels.get(uuid)
            if isinstance(channel, Channel) and channel.name.startswith(prefix):
                count += 1
        return count

    def _status(self, argv: list[str]) -> str:
        if not argv:
            out = [f"{'Name':>25}\t{'   Type'}\t  {'Data':>40}\t{'State'}\n", f"{LINE}\n"]
            for sofia in self.profiles.values():
                url = self.profile_url(sofia)
                out.append(
                    f"{sofia.name:>25}\tprofile\t  {url:>40}\tRUNNING ({self._in_use(sofia)})\n"
                )
                for gw in self._gateways_of(sofia):
                    key = f"{sofia.name}::{gw.name}"
                    out.append(f"{key:>25}\tgateway\t  {gw.register_to:>40}\t{gw.state}\n")
            count = len(self.profiles)
            out.append(f"{LINE}\n{count} profile{'' if count == 1 else 's'} 0 aliases\n")
            return "".join(out)
        if len(argv) == 1:
            return self._gateway_summary()
        kind = argv[0].lower()
        if kind == "gateway":
            found = self.gateways.get(argv[1])
            return self._gateway_text(found) if found is not None else "Invalid Gateway!\n"
        if kind == "profile":
            asked = self.find_profile(argv[1])
            if asked is None:
                return "Invalid Profile!\n"
            return self._profile_text(asked, argv[1], argv[2:])
        return "Invalid Syntax!\n"

    def _gateways_of(self, sofia: SofiaProfile) -> list[Gateway]:
        return [gw for gw in self.gateways.values() if gw.profile == sofia.name]

    def _gateway_summary(self) -> str:
        out = [
            f"{'Profile::Gateway-Name':>25}\t{'    Data    ':>32}\tState\t{'Ping Time':>9}\t"
            "IB Calls(F/T)\tOB Calls(F/T)\n",
            f"{LINE}\n",
        ]
        totals = [0, 0, 0, 0]
        count = 0
        for sofia in self.profiles.values():
            for gw in self._gateways_of(sofia):
                count += 1
                totals = [
                    totals[0] + gw.ib_failed_calls,
                    totals[1] + gw.ib_calls,
                    totals[2] + gw.ob_failed_calls,
                    totals[3] + gw.ob_calls,
                ]
                key = f"{sofia.name}::{gw.name}"
                out.append(
                    f"{key:>25}\t{gw.register_to:>32}\t{gw.state}\t{0.0:6.2f}\t"
                    f"{gw.ib_failed_calls}/{gw.ib_calls}\t{gw.ob_failed_calls}/{gw.ob_calls}\n"
                )
        out.append(f"{LINE}\n")
        out.append(
            f"{count} gateway{'' if count == 1 else 's'}: Inbound(Failed/Total): "
            f"{totals[0]}/{totals[1]},Outbound(Failed/Total):{totals[2]}/{totals[3]}\n"
        )
        return "".join(out)

    def _gateway_contact(self, gw: Gateway) -> str:
        port = self.profiles[gw.profile].port
        return f"<sip:gw+{gw.name}@{self.sip_ip}:{port};transport=udp;gw={gw.name}>"

    def _gateway_uptime_us(self, gw: Gateway) -> int:
        return max(0, self.core.clock.wall_us() - gw.uptime_us) if gw.up else 0

    def _gateway_text(self, gw: Gateway) -> str:
        fields = [
            ("Name    ", gw.name),
            ("Profile ", gw.profile),
            ("Scheme  ", "Digest"),
            ("Realm   ", gw.realm),
            ("Username", gw.username),
            ("Password", "yes" if gw.password else "no"),
            ("From    ", gw.register_from),
            ("Contact ", self._gateway_contact(gw)),
            ("Exten   ", gw.username),
            ("To      ", gw.register_to),
            ("Proxy   ", gw.register_proxy),
            ("Context ", gw.context),
            ("Expires ", gw.expires),
            ("Freq    ", "0" if not gw.register else gw.expires),
            ("Ping    ", "0"),
            ("PingFreq", str(gw.ping_freq)),
            ("PingTime", "0.00"),
            ("PingState", "0/0/0"),
            ("State   ", gw.state),
            ("Status  ", "UP" if gw.up else "DOWN"),
            ("Uptime  ", f"{self._gateway_uptime_us(gw) // 1_000_000}s"),
            ("CallsIN ", str(gw.ib_calls)),
            ("CallsOUT", str(gw.ob_calls)),
            ("FailedCallsIN", str(gw.ib_failed_calls)),
            ("FailedCallsOUT", str(gw.ob_failed_calls)),
        ]
        body = "".join(f"{name}\t{value}\n" for name, value in fields)
        return f"{LINE}\n{body}{LINE}\n"

    def _gateway_xml(self, gw: Gateway) -> str:
        enc = _amp
        fields = [
            ("name", gw.name),
            ("profile", gw.profile),
            ("scheme", "Digest"),
            ("realm", gw.realm),
            ("username", gw.username),
            ("password", "yes" if gw.password else "no"),
            ("from", enc(gw.register_from)),
            ("contact", enc(self._gateway_contact(gw))),
            ("exten", enc(gw.username)),
            ("to", gw.register_to),
            ("proxy", gw.register_proxy),
            ("context", gw.context),
            ("expires", gw.expires),
            ("freq", "0" if not gw.register else gw.expires),
            ("ping", "0"),
            ("pingfreq", str(gw.ping_freq)),
            ("pingmin", "0"),
            ("pingcount", "0"),
            ("pingmax", "0"),
            ("pingtime", "0.00"),
            ("pinging", "0"),
            ("state", gw.state),
            ("status", "UP" if gw.up else "DOWN"),
            ("uptime-usec", str(self._gateway_uptime_us(gw))),
            ("calls-in", str(gw.ib_calls)),
            ("calls-out", str(gw.ob_calls)),
            ("failed-calls-in", str(gw.ib_failed_calls)),
            ("failed-calls-out", str(gw.ob_failed_calls)),
        ]
        body = "".join(f"    <{tag}>{value}</{tag}>\n" for tag, value in fields)
        return f"  <gateway>\n{body}  </gateway>\n"

    def _xml_status(self, argv: list[str]) -> str:
        if len(argv) == 1:
            gateways = "".join(
                self._gateway_xml(gw) for s in self.profiles.values() for gw in self._gateways_of(s)
            )
            return f"{XML_HEADER}\n<gateways>\n{gateways}</gateways>\n"
        if argv and argv[0].lower() == "gateway":
            gw = self.gateways.get(argv[1])
            return (
                f"{XML_HEADER}\n{self._gateway_xml(gw)}" if gw is not None else "Invalid Gateway!\n"
            )
        if argv and argv[0].lower() == "profile":
            sofia = self.find_profile(argv[1])
            if sofia is None:
                return "Invalid Profile!\n"
            return self._profile_xml(sofia, argv[1], argv[2:])
        if not argv:
            out = [f"{XML_HEADER}\n<profiles>\n"]
            for s in self.profiles.values():
                out.append(
                    f"<profile>\n<name>{s.name}</name>\n<type>profile</type>\n"
                    f"<data>{self.profile_url(s)}</data>\n"
                    f"<state>RUNNING ({self._in_use(s)})</state>\n</profile>\n"
                )
                out += [
                    f"<gateway>\n<name>{s.name}::{gw.name}</name>\n<type>gateway</type>\n"
                    f"<data>{gw.register_to}</data>\n<state>{gw.state}</state>\n</gateway>\n"
                    for gw in self._gateways_of(s)
                ]
            out.append("</profiles>\n")
            return "".join(out)
        return "Invalid Syntax!\n"

    def _profile_info(self, sofia: SofiaProfile, asked: str) -> list[tuple[str, str, str]]:
        """The profile's figures: (``sofia status`` label, ``xmlstatus`` tag, value), in
        the text's order."""
        ip = self.sip_ip
        url = self.profile_url(sofia)
        regs = sum(1 for d in self.registrations.values() if d.profile == sofia.name)
        return [
            ("Name             ", "name", asked),
            ("Domain Name      ", "domain-name", "N/A"),
            ("Auto-NAT         ", "auto-nat", "false"),
            ("DBName           ", "db-name", f"sofia_reg_{sofia.name}"),
            ("Pres Hosts       ", "pres-hosts", f"{self.core.identity.hostname},{ip}"),
            ("Dialplan         ", "dialplan", sofia.dialplan),
            ("Context          ", "context", sofia.context),
            ("Challenge Realm  ", "challenge-realm", "auto_from"),
            ("RTP-IP           ", "rtp-ip", ip),
            ("SIP-IP           ", "sip-ip", ip),
            ("URL              ", "url", url),
            ("BIND-URL         ", "bind-url", f"{url};maddr={ip}"),
            ("HOLD-MUSIC       ", "hold-music", "N/A"),
            ("OUTBOUND-PROXY   ", "outbound-proxy", "N/A"),
            ("CODECS IN        ", "inbound-codecs", "PCMU,PCMA"),
            ("CODECS OUT       ", "outbound-codecs", "PCMU,PCMA"),
            ("TEL-EVENT        ", "tel-event", "101"),
            ("DTMF-MODE        ", "dtmf-mode", "rfc2833"),
            ("CNG              ", "cng", "13"),
            ("SESSION-TO       ", "session-to", "0"),
            ("MAX-DIALOG       ", "max-dialog", "1000"),
            ("MAX-RECV-RPS     ", "max-recv-rps", "0"),
            ("NOMEDIA          ", "nomedia", "false"),
            ("LATE-NEG         ", "late-neg", "true"),
            ("PROXY-MEDIA      ", "proxy-media", "false"),
            ("AGGRESSIVENAT    ", "aggressive-nat", "false"),
            ("CALLS-IN         ", "calls-in", str(sofia.ib_calls)),
            ("FAILED-CALLS-IN  ", "failed-calls-in", str(sofia.ib_failed_calls)),
            ("CALLS-OUT        ", "calls-out", str(sofia.ob_calls)),
            ("FAILED-CALLS-OUT ", "failed-calls-out", str(sofia.ob_failed_calls)),
            ("REGISTRATIONS    ", "registrations", str(regs)),
        ]

    def _listed(self, sofia: SofiaProfile, rest: list[str]) -> list[Device] | None:
        """The registrations ``reg [<contact>]`` / ``user <user@domain>`` select;
        ``None`` when neither was asked."""
        sub = rest[0].lower() if rest else ""
        devices = [d for d in self.registrations.values() if d.profile == sofia.name]
        if sub == "reg":
            match = rest[1] if len(rest) > 1 else ""
            return [d for d in devices if match in d.contact]
        if sub == "user" and len(rest) > 1:
            user, at, host = rest[1].partition("@")
            if not at:
                user, host = "", rest[1]
            return [
                d
                for d in devices
                if (not user or d.user == user) and (not host or d.domain == host)
            ]
        return None

    def _profile_text(self, sofia: SofiaProfile, asked: str, rest: list[str]) -> str:
        out: list[str] = []
        if not rest or rest[0].lower() not in ("reg", "user"):
            out.append(f"{LINE}\n")
            out += [f"{label}\t{value}\n" for label, _, value in self._profile_info(sofia, asked)]
        listed = self._listed(sofia, rest)
        if listed is not None:
            out.append(f"\nRegistrations:\n{LINE}\n")
            out += [self._registration_text(d) for d in listed]
            out.append(f"Total items returned: {len(listed)}\n{LINE}\n")
        return "".join(out)

    def _profile_xml(self, sofia: SofiaProfile, asked: str, rest: list[str]) -> str:
        out = [f"{XML_HEADER}\n<profile>\n"]
        if not rest or rest[0].lower() not in ("reg", "user"):
            info = {tag: value for _, tag, value in self._profile_info(sofia, asked)}
            # The XML lists the call figures in another order than the text.
            tags = [tag for _, tag, _ in self._profile_info(sofia, asked)]
            calls = ["calls-in", "calls-out", "failed-calls-in", "failed-calls-out"]
            tags = [t for t in tags if t not in calls and t != "registrations"]
            tags += [*calls, "registrations"]
            out.append("  <profile-info>\n")
            out += [f"    <{tag}>{_amp(info[tag])}</{tag}>\n" for tag in tags]
            out.append("  </profile-info>\n")
        listed = self._listed(sofia, rest)
        if listed is not None:
            out.append("  <registrations>\n")
            out += [self._registration_xml(d) for d in listed]
            out.append("  </registrations>\n")
        out.append("</profile>\n")
        return "".join(out)

    def _registration_xml(self, device: Device) -> str:
        expiry = device.registered_at + device.expires
        now = self.core.clock.wall_us() // 1_000_000
        exp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(expiry))
        fields = [
            ("call-id", device.call_id),
            ("user", f"{device.user}@{device.domain}"),
            ("contact", _amp(device.contact)),
            ("agent", _amp(device.user_agent)),
            ("status", f"Registered(UDP)(unknown) exp({exp}) expsecs({expiry - now})"),
            ("ping-status", "Reachable"),
            ("ping-time", "0.00"),
            ("host", self.core.identity.hostname),
            ("network-ip", device.network_ip),
            ("network-port", str(device.network_port)),
            ("sip-auth-user", urllib.parse.quote(device.user, safe="")),
            ("sip-auth-realm", device.domain),
            ("mwi-account", f"{device.user}@{device.domain}"),
        ]
        body = "".join(f"        <{tag}>{value}</{tag}>\n" for tag, value in fields)
        return f"    <registration>\n{body}    </registration>\n"

    def _registration_text(self, device: Device) -> str:
        expiry = device.registered_at + device.expires
        now = self.core.clock.wall_us() // 1_000_000
        exp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(expiry))
        return (
            f"Call-ID:    \t{device.call_id}\n"
            f"User:       \t{device.user}@{device.domain}\n"
            f"Contact:    \t{device.contact}\n"
            f"Agent:      \t{device.user_agent}\n"
            f"Status:     \tRegistered(UDP)(unknown) EXP({exp}) EXPSECS({expiry - now})\n"
            f"Ping-Status:\tReachable\n"
            f"Ping-Time:\t0.00\n"
            f"Host:       \t{self.core.identity.hostname}\n"
            f"IP:         \t{device.network_ip}\n"
            f"Port:       \t{device.network_port}\n"
            f"Auth-User:  \t{device.user}\n"
            f"Auth-Realm: \t{device.domain}\n"
            f"MWI-Account:\t{device.user}@{device.domain}\n\n"
        )

    async def _profile(self, argv: list[str]) -> str:
        if len(argv) < 2:
            return "Invalid Args!\n"
        sofia = self.find_profile(argv[0])
        if sofia is None:
            return f"Invalid Profile [{argv[0]}]"
        action = argv[1].lower()
        if action == "killgw":
            if len(argv) < 3:
                return "-ERR missing gw name\n"
            if argv[2].lower() == "_all_":
                for gw in self._gateways_of(sofia):
                    del self.gateways[gw.name]
                return "+OK every gateway marked for deletion.\n"
            if self.gateways.pop(argv[2], None) is None:
                return "-ERR no such gateway.\n"
            return "+OK gateway marked for deletion.\n"
        if action == "rescan":
            self.core.fire(self.core.new_event("RELOADXML", origin=_ORIGIN_RELOADXML))
            await self.rescan(sofia)
            return "Reload XML [Success]\n+OK scan complete\n"
        if action == "startgw":
            if len(argv) < 3:
                return "-ERR missing gw name\n"
            self.core.fire(self.core.new_event("RELOADXML", origin=_ORIGIN_RELOADXML))
            before = set(self.gateways)
            await self.rescan(sofia)
            if argv[2] in self.gateways and argv[2] not in before:
                return f"Reload XML [Success]\n+OK start gateway {argv[2]} complete\n"
            return (
                f"Reload XML [Success]\n-ERR cannot add gateway {argv[2]} for profile "
                f"{sofia.name}\n"
            )
        return "-ERR Unknown command!\n"

    # -- the simulation's own JSON APIs -----------------------------------------------

    async def json_status_info(self, request: dict[str, object]) -> tuple[bool, object]:
        """``sofia.status.info``: each profile's info (node.info's ``Roles.Media``)."""
        if not self.core.modules.exists("mod_sofia"):
            return False, None
        ip = self.sip_ip
        profiles = {
            s.name: {
                "info": {
                    "url": self.profile_url(s),
                    "ext-sip-ip": ip,
                    "sip-ip": ip,
                    "context": s.context,
                    "dialplan": s.dialplan,
                    "calls-in": s.ib_calls,
                    "calls-out": s.ob_calls,
                    "registrations": sum(
                        1 for d in self.registrations.values() if d.profile == s.name
                    ),
                }
            }
            for s in self.profiles.values()
        }
        return True, {"profiles": profiles}

    async def json_register(self, request: dict[str, object]) -> tuple[bool, object]:
        """``sim.register``: ``{"user", "domain", "profile"?, "password"?, "behaviour"?,
        "ring_ms"?, "talk_ms"?}`` registers a simulated device."""
        data = request.get("data")
        if not isinstance(data, dict):
            return False, {"error": "data must be an object"}
        user, domain = data.get("user"), data.get("domain")
        if not isinstance(user, str) or not isinstance(domain, str) or not user or not domain:
            return False, {"error": "user and domain are required"}
        behaviour = data.get("behaviour", "answer")
        if behaviour not in BEHAVIOURS:
            return False, {"error": f"behaviour must be one of {', '.join(BEHAVIOURS)}"}
        ring_ms, talk_ms = data.get("ring_ms"), data.get("talk_ms")
        ring = ring_ms / 1000 if isinstance(ring_ms, int | float) else None
        talk = talk_ms / 1000 if isinstance(talk_ms, int | float) else None
        result = await self.register(
            user,
            domain,
            profile=str(data.get("profile", "sipinterface_1")),
            password=str(data.get("password", "")),
            behaviour=behaviour,
            ring=ring,
            talk=talk,
        )
        if isinstance(result, str):
            return False, {"error": result}
        return True, {"call_id": result.call_id, "contact": result.contact}

    async def json_call(self, request: dict[str, object]) -> tuple[bool, object]:
        """``sim.call``: ``{"user", "domain", "destination", "hold_ms"?}``: a registered
        device places a call; the new channel's ``uuid``."""
        data = request.get("data")
        if not isinstance(data, dict):
            return False, {"error": "data must be an object"}
        user, domain = str(data.get("user", "")), str(data.get("domain", ""))
        destination = data.get("destination")
        device = self.find_registration(user, domain)
        if device is None:
            return False, {"error": f"{user}@{domain} is not registered"}
        if not isinstance(destination, str) or not destination:
            return False, {"error": "destination is required"}
        hold_ms = data.get("hold_ms")
        hold = hold_ms / 1000 if isinstance(hold_ms, int | float) else None
        try:
            channel = await self.place_call(device, destination, hold=hold)
        except SwitchNotRunning:
            return False, {"error": "the switch is not running"}
        return True, {"uuid": channel.uuid}

    async def json_unregister(self, request: dict[str, object]) -> tuple[bool, object]:
        """``sim.unregister``: ``{"user", "domain"}``."""
        data = request.get("data")
        if not isinstance(data, dict):
            return False, {"error": "data must be an object"}
        count = self.unregister(str(data.get("user", "")), str(data.get("domain", "")))
        return True, {"unregistered": count}


def _amp(text: str) -> str:
    """``switch_amp_encode``."""
    return (
        text.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


async def _hang_up_after(channel: Channel, hold: float) -> None:
    with trio.move_on_after(hold):
        await channel.destroyed.wait()
        return
    channel.hangup("NORMAL_CLEARING")


def _authorised(x_user: ET.Element, user: str, domain: str, password: str) -> bool:
    """The digest check of ``sofia_reg_parse_auth``, on the secret the directory gives."""
    params = {(el.get("name") or "").lower(): el.get("value") or "" for el in x_user.iter("param")}
    if "a1-hash" in params:
        a1 = hashlib.md5(f"{user}:{domain}:{password}".encode()).hexdigest()
        return a1 == params["a1-hash"].lower()
    if "password" in params:
        return params["password"] == password
    return True


def _parse_gateway(x_gw: ET.Element, profile: SofiaProfile) -> Gateway | None:
    """``parse_gateways`` for one ``<gateway>``: ``None`` when it is invalid."""
    name = x_gw.get("name") or ""
    if not re.fullmatch(r"[\w.\-]+", name):
        return None
    params = {(p.get("name") or ""): p.get("value") or "" for p in x_gw.iter("param")}
    variables = tuple(
        (v.get("name") or "", v.get("value") or "", (v.get("direction") or "both").lower())
        for v in x_gw.iter("variable")
        if v.get("name")
    )
    register = params.get("register", "true").lower() in ("yes", "on", "true", "t", "1")
    realm = params.get("realm") or params.get("proxy") or ""
    if not realm:
        return None
    username = params.get("username", "")
    password = params.get("password", "")
    if register and (not username or not password):
        return None
    behaviour = params.get("sim-behaviour", "answer")
    return Gateway(
        name=name,
        profile=profile.name,
        realm=realm,
        username=username or "FreeSWITCH",
        password=password,
        proxy=params.get("proxy", ""),
        register=register,
        context=params.get("context", profile.context),
        expires=params.get("expire-seconds", "3600"),
        behaviour=behaviour if behaviour in BEHAVIOURS else "answer",  # type: ignore[arg-type]
        ping_freq=int(params["ping"]) if params.get("ping", "").isdigit() else 0,
        variables=variables,
    )


# Kazoo's FreeSWITCH runs one profile, sipinterface_1 (on the SIP port here, where
# node.info's sofia.status.info reports it); stock FreeSWITCH has internal and external
# (internal moved off 5060 for it).
DEFAULT_PROFILES = (
    SofiaProfile("sipinterface_1", 5060, context="context_2"),
    SofiaProfile("internal", 5070, context="public"),
    SofiaProfile("external", 5080, context="public"),
)


def register_sofia(core: SimCore) -> SofiaModule:
    """Load mod_sofia on ``core``: its profiles, the ``sofia/`` endpoint, the ``sofia``
    and ``sofia_contact`` commands, ``sofia.status.info``, and the simulation's
    ``sim.register`` / ``sim.unregister`` / ``sim.call`` JSON APIs."""
    module = SofiaModule(core)
    for template in DEFAULT_PROFILES:
        module.profiles[template.name] = attrs.evolve(template)
    core.modules.add("mod_sofia")
    core.endpoint_routines["sofia"] = module.outgoing_channel
    core.endpoints.setdefault("sofia", "mod_sofia")
    core.applications["deflect"] = module.deflect

    async def sofia(args: str) -> ApiOutput:
        if not core.modules.exists("mod_sofia"):
            return ApiOutput("", ok=False)
        return await module.command(args)

    core.register_api("sofia", sofia, "Sofia Controls", syntax="<cmd> <args>", module="mod_sofia")
    core.apis.register_sync(
        "sofia_contact",
        module.contact,
        "Sofia Contacts",
        syntax="[profile/]<user>@<domain>",
        module="mod_sofia",
    )
    core.register_json_api("sofia.status.info", module.json_status_info, "sofia status info")
    core.register_json_api("sim.register", module.json_register, "Register a simulated device")
    core.register_json_api("sim.unregister", module.json_unregister, "Unregister a device")
    core.register_json_api("sim.call", module.json_call, "A registered device places a call")
    return module
