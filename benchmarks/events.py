"""The benchmarks' test events: realistic FreeSWITCH CHANNEL_CREATE events ``e90`` and ``e150``.

``reference/anchors.md`` measures every codec on two events: ``e90``, 90 headers
and 4,748 bytes of ETF, and ``e150``, 150 headers and 7,919 bytes, both counted
as the legacy event ``{event, [UniqueIdBin | [{NameBin, ValueBin}, ...]]}``
(:func:`etf_size`).  Every benchmark builds its events here so that their
numbers compare with the anchors and with each other.

The headers are those of an inbound SIP call routed by Kazoo: the core and
``Caller-*`` headers, the SIP channel variables, and the ecallmgr variables
(``variable_ecallmgr_*``, ``variable_sip_h_X-ecallmgr_*``, ``variable_cav_*``,
``variable_Call-Interaction-ID``) that Kazoo's event profiles and the legacy
filter read.  ``variable_switch_r_sdp`` is padded so that every event has the
anchor's exact size; every value that changes with ``seq`` has a fixed width,
so the size holds for every ``seq`` (up to 2**32), not just the first one.

Events built with different ``seq`` differ in Unique-ID, Call-ID, timestamps,
sequence numbers and tags, so no per-value cache can hide per-event work.
With ``url_escaped=True`` values carry FreeSWITCH's URL escapes
(``switch_url_encode``), as the switch hands them to mod_kazoo, so decoding
does real work; the padding then accounts for the longer values.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from kazoo_trio.switch.event import Event
from kazoo_trio.term import Atom, encode

__all__ = [
    "E90_BYTES",
    "E90_HEADERS",
    "E150_BYTES",
    "E150_EXTRA",
    "E150_HEADERS",
    "SWITCH_NODENAME",
    "TARGET_NODE",
    "channel_create",
    "e90",
    "e150",
    "etf_size",
    "event_bytes",
    "url_escape",
]

E90_HEADERS = 90
E90_BYTES = 4748
E150_HEADERS = 150
E150_BYTES = 7919

_HOST = "fs1.sip.example.net"
_CHANNEL = "sofia/sipinterface_1/1000@sip.example.net"
_ACCOUNT = "4fe69f4fa7ad4a3c85a1b1f4c3a4f2e1"
_DIALLED = "+14155550123"

# The node headers a stream adds to each event (``kazoo_trio.kazoo.streams.encoding.prepare``).
TARGET_NODE = "ecallmgr@kazoo1.example.net"
SWITCH_NODENAME = f"freeswitch@{_HOST}"

# (name, value) in FreeSWITCH's order.  Values are str.format templates over the
# per-event fields of _fields(); none has literal braces.
_E90: tuple[tuple[str, str], ...] = (
    ("Event-Name", "CHANNEL_CREATE"),
    ("Core-UUID", "b3c5ad3e-97b1-4bd3-9be8-4f8f5ab0e3a1"),
    ("FreeSWITCH-Hostname", _HOST),
    ("FreeSWITCH-Switchname", _HOST),
    ("FreeSWITCH-IPv4", "10.26.0.81"),
    ("FreeSWITCH-IPv6", "::1"),
    ("Event-Date-Local", "{local}"),
    ("Event-Date-GMT", "{gmt}"),
    ("Event-Date-Timestamp", "{ts}"),
    ("Event-Calling-File", "switch_core_state_machine.c"),
    ("Event-Calling-Function", "switch_core_session_run"),
    ("Event-Calling-Line-Number", "582"),
    ("Event-Sequence", "{seq}"),
    ("Channel-State", "CS_INIT"),
    ("Channel-Call-State", "DOWN"),
    ("Channel-State-Number", "2"),
    ("Channel-Name", _CHANNEL),
    ("Unique-ID", "{uuid}"),
    ("Call-Direction", "inbound"),
    ("Presence-Call-Direction", "inbound"),
    ("Channel-HIT-Dialplan", "true"),
    ("Channel-Presence-ID", "1000@sip.example.net"),
    ("Channel-Call-UUID", "{uuid}"),
    ("Answer-State", "ringing"),
    ("Caller-Direction", "inbound"),
    ("Caller-Logical-Direction", "inbound"),
    ("Caller-Username", "1000"),
    ("Caller-Dialplan", "XML"),
    ("Caller-Caller-ID-Name", "Reception Desk"),
    ("Caller-Caller-ID-Number", "1000"),
    ("Caller-Orig-Caller-ID-Name", "Reception Desk"),
    ("Caller-Orig-Caller-ID-Number", "1000"),
    ("Caller-Network-Addr", "192.0.2.44"),
    ("Caller-ANI", "1000"),
    ("Caller-Destination-Number", _DIALLED),
    ("Caller-Unique-ID", "{uuid}"),
    ("Caller-Source", "mod_sofia"),
    ("Caller-Context", "context_2"),
    ("Caller-Channel-Name", _CHANNEL),
    ("Caller-Profile-Index", "1"),
    ("Caller-Profile-Created-Time", "{created}"),
    ("Caller-Channel-Created-Time", "{created}"),
    ("Caller-Channel-Answered-Time", "0"),
    ("Caller-Channel-Progress-Time", "0"),
    ("Caller-Channel-Progress-Media-Time", "0"),
    ("Caller-Channel-Hangup-Time", "0"),
    ("Caller-Channel-Transfer-Time", "0"),
    ("Caller-Channel-Resurrect-Time", "0"),
    ("Caller-Channel-Bridged-Time", "0"),
    ("Caller-Channel-Last-Hold", "0"),
    ("Caller-Channel-Hold-Accum", "0"),
    ("Caller-Screen-Bit", "true"),
    ("Caller-Privacy-Hide-Name", "false"),
    ("Caller-Privacy-Hide-Number", "false"),
    ("variable_direction", "inbound"),
    ("variable_uuid", "{uuid}"),
    ("variable_session_id", "{session}"),
    ("variable_sip_from_user", "1000"),
    ("variable_sip_from_uri", "1000@sip.example.net"),
    ("variable_sip_from_host", "sip.example.net"),
    ("variable_channel_name", _CHANNEL),
    ("variable_sip_call_id", "{call_id}"),
    ("variable_sip_network_ip", "192.0.2.44"),
    ("variable_sip_received_ip", "192.0.2.44"),
    ("variable_sip_received_port", "5060"),
    ("variable_sip_from_tag", "{tag}"),
    ("variable_sofia_profile_name", "sipinterface_1"),
    ("variable_sofia_profile_url", "sip:mod_sofia@10.26.0.81:5060"),
    ("variable_sip_full_via", "SIP/2.0/UDP 192.0.2.44:5060;rport=5060;branch=z9hG4bK-{seq}"),
    ("variable_sip_full_from", '"Reception Desk" <sip:1000@sip.example.net>;tag={tag}'),
    ("variable_sip_full_to", f"<sip:{_DIALLED}@sip.example.net>"),
    ("variable_sip_req_user", _DIALLED),
    ("variable_sip_req_uri", f"{_DIALLED}@sip.example.net"),
    ("variable_sip_req_host", "sip.example.net"),
    ("variable_sip_to_user", _DIALLED),
    ("variable_sip_to_uri", f"{_DIALLED}@sip.example.net"),
    ("variable_sip_to_host", "sip.example.net"),
    ("variable_sip_invite_domain", "sip.example.net"),
    ("variable_sip_user_agent", "Yealink SIP-T46S 66.86.0.15"),
    ("variable_presence_id", "1000@sip.example.net"),
    ("variable_ecallmgr_Account-ID", _ACCOUNT),
    ("variable_ecallmgr_Realm", "sip.example.net"),
    ("variable_ecallmgr_Username", "user_k7q2m9"),
    ("variable_ecallmgr_Authorizing-ID", "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"),
    ("variable_ecallmgr_Authorizing-Type", "device"),
    ("variable_ecallmgr_Inception", "on-net"),
    ("variable_Call-Interaction-ID", "{interaction}"),
    ("variable_sip_h_X-ecallmgr_Account-ID", _ACCOUNT),
    ("variable_cav_Flow-ID", "f1"),
    # The SDP's session name pads the event to its size.
    ("variable_switch_r_sdp", "v=0\r\no=- {seq} 1 IN IP4 192.0.2.44\r\ns={pad}\r\n"),
)

# e150's sixty extra headers: more of Kazoo's custom channel variables, then the
# X- SIP headers a PBX adds to an INVITE.
E150_EXTRA: tuple[tuple[str, str], ...] = (
    *(
        (f"variable_ecallmgr_{name}", value)
        for name, value in [
            ("Owner-ID", "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"),
            ("Channel-Authorized", "true"),
            ("Reseller-ID", "11aa22bb33cc44dd55ee66ff77889900"),
            ("Account-Name", "Example Widgets"),
            ("Account-Realm", "sip.example.net"),
            ("Call-Interaction-ID", "{interaction}"),
            ("Global-Resource", "false"),
            ("Authorizing-Name", "Reception Desk"),
            ("Media-Recording", "false"),
            ("Bridge-ID", "{uuid}"),
        ]
    ),
    *((f"variable_sip_h_X-Kazoo-{i:02d}", f"kv-{i:02d}-{{seq}}") for i in range(50)),
)

# FreeSWITCH's SWITCH_URL_UNSAFE; switch_url_encode also escapes bytes outside ' '..'~'.
_URL_UNSAFE = frozenset(b'\r\n #%&+:;<=>?@[\\]^`{|}"')


def url_escape(value: str) -> str:
    """``switch_url_encode``: unsafe and non-printable-ASCII bytes of the UTF-8 become ``%XX``."""
    return "".join(
        f"%{byte:02X}" if byte < 0x20 or byte > 0x7E or byte in _URL_UNSAFE else chr(byte)
        for byte in value.encode()
    )


def etf_size(event: Event) -> int:
    """Bytes of ``event`` as ``{event, [UniqueIdBin | Pairs]}`` in the term format.

    The anchors' 4,748 and 7,919 bytes are counted this way (the codec
    benchmark and its test have always done so); ``term_to_binary`` of the bare
    list is 9 bytes shorter (no two-tuple head, no ``event`` atom).
    """
    unique_id = event.unique_id
    if unique_id is None:
        raise ValueError("event without Unique-ID")
    return len(encode((Atom("event"), [unique_id, *event.headers])))


def event_bytes(event: Event) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """``(UniqueId, [(Name, Value), ...])`` as UTF-8 bytes, the codec's fast-path input."""
    unique_id = event.unique_id
    if unique_id is None:
        raise ValueError("event without Unique-ID")
    return unique_id.encode(), [(name.encode(), value.encode()) for name, value in event.headers]


def _fields(seq: int) -> dict[str, str]:
    if not 0 <= seq < 1 << 32:
        raise ValueError(f"seq {seq} outside 0..2**32-1 (the values would change width)")
    ts = 1_700_000_000_000_000 + seq * 1_237
    second = seq % 86_400
    clock = f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
    return {
        "uuid": f"{seq:08x}-5d1c-4f0a-9a3e-2b7c9e1d4f60",
        "call_id": f"{seq:08x}7f3a9c2e1b0d4a5f@192.0.2.44",
        "ts": str(ts),
        "created": str(ts - 120),
        "seq": str(4_000_000_000 + seq),
        "session": f"{seq:010d}",
        "local": f"2026-11-27 {clock}",
        "gmt": f"Fri, 27 Nov 2026 {clock} GMT",
        "tag": f"a7Bq{seq:08x}",
        "interaction": f"63866931200-{seq:08x}",
    }


def _fill(
    templates: Sequence[tuple[str, str]], seq: int, url_escaped: bool, pad: int
) -> tuple[tuple[str, str], ...]:
    fields = _fields(seq)
    # Zeros are never escaped: the pad adds exactly its length, escaped or not.
    fields["pad"] = "0" * pad
    values = ((name, template.format_map(fields)) for name, template in templates)
    if url_escaped:
        return tuple((name, url_escape(value)) for name, value in values)
    return tuple(values)


@cache
def _pad(extra: tuple[tuple[str, str], ...], url_escaped: bool, etf_bytes: int) -> int:
    bare = etf_size(Event("CHANNEL_CREATE", _fill(_E90 + extra, 0, url_escaped, 0)))
    if bare > etf_bytes:
        raise ValueError(f"the headers alone take {bare} bytes, more than {etf_bytes}")
    return etf_bytes - bare


def channel_create(
    seq: int = 0,
    *,
    url_escaped: bool = False,
    extra: Sequence[tuple[str, str]] = (),
    etf_bytes: int = E90_BYTES,
) -> Event:
    """The CHANNEL_CREATE of call number ``seq``: e90's headers, then ``extra``, ``etf_bytes`` big.

    ``extra`` values may use the same ``{uuid}``, ``{seq}``, ``{ts}``, ...
    placeholders as the base headers.  Raises ``ValueError`` when the headers
    alone are already too big for ``etf_bytes`` or ``seq`` is outside
    ``0..2**32-1``.
    """
    extra = tuple(extra)
    pad = _pad(extra, url_escaped, etf_bytes)
    return Event("CHANNEL_CREATE", _fill(_E90 + extra, seq, url_escaped, pad))


def e90(seq: int = 0, *, url_escaped: bool = False) -> Event:
    """The anchors' ``e90``: 90 headers, 4,748 bytes of ETF."""
    return channel_create(seq, url_escaped=url_escaped)


def e150(seq: int = 0, *, url_escaped: bool = False) -> Event:
    """The anchors' ``e150``: e90 plus :data:`E150_EXTRA`, 150 headers, 7,919 bytes of ETF."""
    return channel_create(seq, url_escaped=url_escaped, extra=E150_EXTRA, etf_bytes=E150_BYTES)
