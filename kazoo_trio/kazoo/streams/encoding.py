"""What one event stream sends for one event: per-event processing and the two encodings.

Pure code (no trio): an :class:`~kazoo_trio.switch.event.Event` goes in, the
``term_to_binary`` payload of one frame comes out.

Per-event processing, done on a private copy so the shared
event is never changed (mod_kazoo URL-decodes the shared FreeSWITCH event in
place, so a second stream decodes it twice):

1. every header value is URL-decoded once, except headers named ``_json_*``;
2. ``Target-Node`` (the Erlang node that asked for the stream) and
   ``Switch-Nodename`` (our node name) are appended, replacing any the event
   already had;
3. the event is encoded in the legacy form or the JSON form, whichever the
   connection uses at that moment.

Legacy (``enable-legacy true``): ``{event, [UniqueId | [{Name, Value}, ...]]}``
with mod_kazoo's header filter (:class:`LegacyFilter`), ``Event-Subclass``
dropped for CUSTOM events, values URL-decoded a second time (as mod_kazoo
does), and ``{<<"body">>, Body}`` last when the event has a body.

JSON (the default, the only form ecallmgr reads): ``{event, json, {[{K, V}]}}``
or ``{event, map, #{K => V}}``, the object built by a pluggable
:data:`JsonEncoder` (the profile engine); :data:`verbose_encoder` is the
default, which copies every header.  Encoders that also have a ``payload``
method (both of those) write the encoded event themselves, without building
the term first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote, unquote_to_bytes

import attrs

from kazoo_trio.kazoo.profiles.engine import verbose_event, verbose_payload
from kazoo_trio.switch.event import Event
from kazoo_trio.term import Atom, encode, encode_body
from kazoo_trio.term._encode import BIN_HDR, bin_hdr

if TYPE_CHECKING:
    from kazoo_trio.kazoo.config import Settings

__all__ = [
    "DEFAULT_EVENT_FILTER",
    "JSON",
    "MAP",
    "JsonEncoder",
    "LegacyFilter",
    "VerboseEncoder",
    "encode_json_event",
    "encode_legacy_event",
    "prepare",
    "prepared_known",
    "url_decode",
    "verbose_encoder",
]

JSON: Final = "json"
MAP: Final = "map"

TARGET_NODE: Final = "Target-Node"
SWITCH_NODENAME: Final = "Switch-Nodename"

_EVENT: Final = Atom("event")
_ENCODING_ATOMS: Final = {JSON: Atom(JSON), MAP: Atom(MAP)}

JsonEncoder = Callable[[Event, "str | None", str], object]
"""``(event, binding, encoding) -> JObj | None``.

``event`` is the processed private copy, ``binding`` the name of the binding it
matched (what the event profile is looked up by), ``encoding`` ``"json"`` or
``"map"``.  The result is the JSON object as a term in that shape
(``([(KeyBin, Value), ...],)`` for ``json``, a ``dict`` for ``map``), or
``None`` when the event must not be sent (a profile filter rejected it).
"""

# mod_kazoo's built-in legacy event filter (kazoo_ei_utils.c,
# create_default_filter), used when the configuration has no <event-filter>.
DEFAULT_EVENT_FILTER: Final = frozenset(
    {
        "Acquired-UUID", "action", "Action", "alt_event_type", "Answer-State",
        "Application", "Application-Data", "Application-Name", "Application-Response",
        "att_xfer_replaced_by", "Auth-Method", "Auth-Realm", "Auth-User",
        "Bridge-A-Unique-ID", "Bridge-B-Unique-ID", "Call-Direction",
        "Caller-Callee-ID-Name", "Caller-Callee-ID-Number", "Caller-Caller-ID-Name",
        "Caller-Caller-ID-Number", "Caller-Screen-Bit", "Caller-Privacy-Hide-Name",
        "Caller-Privacy-Hide-Number", "Caller-Context", "Caller-Controls",
        "Caller-Destination-Number", "Caller-Dialplan", "Caller-Network-Addr",
        "Caller-Unique-ID", "Call-ID", "Channel-Call-State", "Channel-Call-UUID",
        "Channel-Presence-ID", "Channel-State", "Chat-Permissions", "Conference-Name",
        "Conference-Profile-Name", "Conference-Unique-ID", "contact", "Detected-Tone",
        "dialog_state", "direction", "Distributed-From", "DTMF-Digit", "DTMF-Duration",
        "Event-Date-Timestamp", "Event-Name", "Event-Subclass", "expires", "Expires",
        "Ext-SIP-IP", "File", "FreeSWITCH-Hostname", "from", "Hunt-Destination-Number",
        "ip", "Message-Account", "metadata", "old_node_channel_uuid",
        "Other-Leg-Callee-ID-Name", "Other-Leg-Callee-ID-Number",
        "Other-Leg-Caller-ID-Name", "Other-Leg-Caller-ID-Number",
        "Other-Leg-Destination-Number", "Other-Leg-Direction", "Other-Leg-Unique-ID",
        "Other-Leg-Channel-Name", "Participant-Type", "Path", "profile_name", "Profiles",
        "proto-specific-event-name", "Raw-Application-Data", "realm", "Resigning-UUID",
        "set", "sip_auto_answer", "sip_auth_method", "sip_from_host", "sip_from_user",
        "sip_to_host", "sip_to_user", "sub-call-id", "technology", "to", "Unique-ID",
        "URL", "username", "variable_channel_is_moving", "variable_collected_digits",
        "variable_current_application", "variable_current_application_data",
        "variable_domain_name", "variable_effective_caller_id_name",
        "variable_effective_caller_id_number", "variable_holding_uuid",
        "variable_hold_music", "variable_media_group_id",
        "variable_originate_disposition", "variable_origination_uuid",
        "variable_playback_terminator_used", "variable_presence_id", "variable_record_ms",
        "variable_recovered", "variable_silence_hits_exhausted", "variable_sip_auth_realm",
        "variable_sip_from_host", "variable_sip_from_user", "variable_sip_from_tag",
        "variable_sip_h_X-AUTH-IP", "variable_sip_received_ip", "variable_sip_to_host",
        "variable_sip_to_user", "variable_sip_to_tag", "variable_sofia_profile_name",
        "variable_transfer_history", "variable_user_name", "variable_endpoint_disposition",
        "variable_bridge_hangup_cause", "variable_hangup_cause",
        "variable_last_bridge_proto_specific_hangup_cause",
        "variable_proto_specific_hangup_cause", "VM-Call-ID", "VM-sub-call-id",
        "whistle_application_name", "whistle_application_response", "whistle_event_name",
        "kazoo_application_name", "kazoo_application_response", "kazoo_event_name",
        "sip_auto_answer_notify", "eavesdrop_group", "origination_caller_id_name",
        "origination_caller_id_number", "origination_callee_id_name",
        "origination_callee_id_number", "sip_auth_username", "sip_auth_password",
        "effective_caller_id_name", "effective_caller_id_number",
        "effective_callee_id_name", "effective_callee_id_number",
        "variable_destination_number", "variable_effective_callee_id_name",
        "variable_effective_callee_id_number", "variable_record_silence_hits",
        "variable_refer_uuid", "variable_sip_call_id", "variable_sip_h_Referred-By",
        "variable_sip_h_X-AUTH-PORT", "variable_sip_loopback_req_uri",
        "variable_sip_received_port", "variable_sip_refer_to", "variable_sip_req_host",
        "variable_sip_req_uri", "variable_transfer_source", "variable_uuid",
        # registration headers
        "call-id", "profile-name", "from-user", "from-host", "presence-hosts", "rpid",
        "status", "to-user", "to-host", "network-ip", "network-port", "user-agent",
        "Hangup-Cause", "variable_switch_r_sdp", "variable_rtp_local_sdp_str",
        "variable_sip_to_uri", "variable_sip_from_uri", "variable_sip_user_agent",
        "variable_duration", "variable_billsec", "variable_billmsec",
        "variable_progresssec", "variable_progress_uepoch",
        "variable_progress_media_uepoch", "variable_start_uepoch",
        "variable_digits_dialed", "Member-ID", "Floor", "Video", "Hear", "Speak",
        "Talking", "Current-Energy", "Energy-Level", "Mute-Detect",
        # RTMP headers
        "RTMP-Session-ID", "RTMP-Profile", "RTMP-Flash-Version", "RTMP-SWF-URL",
        "RTMP-TC-URL", "RTMP-Page-URL", "User", "Domain",
        # fax headers
        "variable_fax_bad_rows", "variable_fax_document_total_pages",
        "variable_fax_document_transferred_pages", "variable_fax_ecm_used",
        "variable_fax_result_code", "variable_fax_result_text", "variable_fax_success",
        "variable_fax_transfer_rate", "variable_fax_local_station_id",
        "variable_fax_remote_station_id", "variable_fax_remote_country",
        "variable_fax_remote_vendor", "variable_fax_remote_model",
        "variable_fax_image_resolution", "variable_fax_file_image_resolution",
        "variable_fax_image_size", "variable_fax_image_pixel_size",
        "variable_fax_file_image_pixel_size", "variable_fax_longest_bad_row_run",
        "variable_fax_encoding", "variable_fax_encoding_name", "variable_fax_header",
        "variable_fax_ident", "variable_fax_timezone", "variable_fax_doc_id",
        "variable_fax_doc_database", "variable_has_t38",
        # secure media headers
        "variable_sdp_secure_savp_only", "variable_rtp_has_crypto",
        "variable_rtp_secure_media", "variable_rtp_secure_media_confirmed",
        "variable_rtp_secure_media_confirmed_audio",
        "variable_rtp_secure_media_confirmed_video", "variable_zrtp_secure_media",
        "variable_zrtp_secure_media_confirmed",
        "variable_zrtp_secure_media_confirmed_audio",
        "variable_zrtp_secure_media_confirmed_video", "sdp_secure_savp_only",
        "rtp_has_crypto", "rtp_secure_media", "rtp_secure_media_confirmed",
        "rtp_secure_media_confirmed_audio", "rtp_secure_media_confirmed_video",
        "zrtp_secure_media", "zrtp_secure_media_confirmed",
        "zrtp_secure_media_confirmed_audio", "zrtp_secure_media_confirmed_video",
        # device redirect headers
        "variable_last_bridge_hangup_cause", "variable_sip_redirected_by",
        "intercepted_by", "variable_bridge_uuid", "Record-File-Path",
        # loopback headers
        "variable_loopback_bowout_on_execute", "variable_loopback_bowout",
        "variable_other_loopback_leg_uuid", "variable_loopback_leg", "variable_is_loopback",
        # SMS
        "Message-ID", "Delivery-Failure", "Delivery-Result-Code",
    }
)  # fmt: skip

# Headers mod_kazoo passes in legacy mode when send-all-private-headers is on.
PRIVATE_HEADER_PREFIXES: Final = ("variable_sip_h_", "sip_h_", "P-", "X-")
JSON_HEADER_PREFIX: Final = "_json_"


def url_decode(value: str) -> str:
    """FreeSWITCH's ``switch_url_decode`` on text: ``%XX`` becomes that byte.

    ``+`` stays ``+`` and a ``%`` not followed by two hex digits stays as it is.
    Bytes that do not form UTF-8 become U+FFFD: the result feeds JSON, which is
    text (the legacy encoding decodes byte-exactly instead).
    """
    return unquote(value) if "%" in value else value


def _url_decode_bytes(value: bytes) -> bytes:
    return unquote_to_bytes(value) if b"%" in value else value


# The stream sets these itself; copies already in the event (a spoofed Target-Node
# would fool the profile filters that route KZ_CDR) are left out.
_NODE_HEADERS: Final = frozenset({TARGET_NODE, SWITCH_NODENAME})

# Decoded text of values carrying escapes: most recur from event to event (caller
# names, channel names, SIP URIs), and decoding in Python is what costs.
_decoded_text: dict[str, str] = {}
_DECODED_MAX: Final = 8192


def _decode_text(value: str) -> str:
    decoded = _decoded_text.get(value)
    if decoded is None:
        decoded = unquote(value)
        if len(_decoded_text) >= _DECODED_MAX:
            _decoded_text.clear()
        _decoded_text[value] = decoded
    return decoded


def _decode_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    # A list first: building a tuple from a generator costs more per item; and
    # the memo of decoded texts is read inline, a call per escaped value costs too.
    known = _decoded_text.get
    return tuple(
        [
            pair
            if "%" not in pair[1] or pair[0].startswith(JSON_HEADER_PREFIX)
            else (
                pair[0],
                text if (text := known(pair[1])) is not None else _decode_text(pair[1]),
            )
            for pair in headers
            if pair[0] not in _NODE_HEADERS
        ]
    )


# One-entry memo of the last decoded event.  The switch offers one event to
# every stream in turn, so the streams after the first reuse its decoded headers.
# Keyed by identity: events are immutable, and the entry keeps its event alive.
_last_decoded: tuple[Event, tuple[tuple[str, str], ...]] | None = None


def decoded_headers(event: Event) -> tuple[tuple[str, str], ...]:
    """``event``'s headers with every value URL-decoded once (not ``_json_*`` ones)."""
    global _last_decoded
    memo = _last_decoded
    if memo is not None and memo[0] is event:
        return memo[1]
    decoded = _decode_headers(event.headers)
    _last_decoded = (event, decoded)
    return decoded


def prepare(event: Event, target_node: str, switch_nodename: str) -> Event:
    """The stream's private copy of ``event``: decoded once, with the two node headers."""
    nodes = ((TARGET_NODE, target_node), (SWITCH_NODENAME, switch_nodename))
    # Concatenated: one copy of the decoded headers (unpacking them makes two).
    headers = decoded_headers(event) + nodes
    # What attrs.evolve gives, without its per-call look at the class's fields.
    return Event(event.name, headers, event.body, event.subclass)


_NODE_HEADERS_LOWER: Final = frozenset(name.lower() for name in _NODE_HEADERS)


# Known names whose value is never what a filter reads there: the stream sets the
# node headers itself, and ``_body`` reads the body.
_LEFT_OUT: Final = _NODE_HEADERS_LOWER | {"_body"}
# Known header names (a few recur in every event) → their lower-case form.
_known_names: dict[str, str] = {}


def _known_name(name: str) -> str:
    lowered = name.lower()
    if len(_known_names) < _NAME_CACHE_MAX:  # bounded: names come from the outside
        _known_names[name] = lowered
    return lowered


def prepared_known(known: Mapping[str, str | None]) -> dict[str, str | None]:
    """What a stream's profile filter would read, in the copy :func:`prepare` makes,
    from headers known before an event is made (name → the event's only value under
    that name, ``None`` for none): lower-cased names, values decoded as there.

    Names the stream sets itself, names that clash once lower-cased and ``_body``
    are left out: the event's own value is not what the filter would see there.
    """
    prepared: dict[str, str | None] = {}
    clashes: set[str] = set()
    names = _known_names
    for name, value in known.items():
        lowered = names.get(name)
        if lowered is None:
            lowered = _known_name(name)
        if lowered in _LEFT_OUT:
            # Never in ``prepared``, so never a clash either.
            continue
        if lowered in prepared or lowered in clashes:
            prepared.pop(lowered, None)
            clashes.add(lowered)
            continue
        if value is not None and "%" in value and not name.startswith(JSON_HEADER_PREFIX):
            value = _decode_text(value)
        prepared[lowered] = value
    return prepared


@attrs.frozen
class LegacyFilter:
    """Which headers the legacy encoding keeps (mod_kazoo's ``kazoo_event_dup``).

    A header survives if its name is in ``event_filter``, starts with one of
    ``var_prefixes`` (``variable_`` + each ``kazoo-var-prefix``), or
    ``send_all_headers`` is set, or ``send_all_private_headers`` is set and the
    name starts with a private prefix (``variable_sip_h_``, ``sip_h_``, ``P-``,
    ``X-``).
    """

    event_filter: frozenset[str] = DEFAULT_EVENT_FILTER
    var_prefixes: tuple[str, ...] = ("variable_ecallmgr_", "variable_cav_")
    send_all_headers: bool = False
    send_all_private_headers: bool = True
    # What to do with each header name (one of the _DROP.. codes): names recur
    # across events, so the filter and prefix tests run once per name.
    _codes: dict[str, int] = attrs.field(factory=dict, init=False, eq=False, repr=False, hash=False)
    # Encoded `{Name,` heads of the headers kept as they are (most of them):
    # one lookup tells both that the header is kept and how its name encodes.
    _plain: dict[str, bytes] = attrs.field(
        factory=dict, init=False, eq=False, repr=False, hash=False
    )
    # Encoded `{Name,` heads by name.
    _heads: dict[str, bytes] = attrs.field(
        factory=dict, init=False, eq=False, repr=False, hash=False
    )
    # The encoded Target-Node and Switch-Nodename pairs kept, and how many, by
    # the two names: the same for every event of a stream.
    _nodes: dict[tuple[str, str], tuple[bytes, int]] = attrs.field(
        factory=dict, init=False, eq=False, repr=False, hash=False
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> LegacyFilter:
        prefixes = tuple(f"variable_{p}" for p in settings.kazoo_var_prefix.split(";") if p)
        return cls(
            event_filter=frozenset(settings.event_filter) or DEFAULT_EVENT_FILTER,
            var_prefixes=prefixes,
            send_all_headers=settings.send_all_headers,
            send_all_private_headers=settings.send_all_private_headers,
        )

    def keeps(self, name: str) -> bool:
        return (
            self.send_all_headers
            or name in self.event_filter
            or name.startswith(self.var_prefixes)
            or (self.send_all_private_headers and name.startswith(PRIVATE_HEADER_PREFIXES))
        )

    def _head(self, name: str) -> bytes:
        head = self._heads.get(name)
        if head is None:
            head = b"h\x02" + _binary(_raw(name))
            if len(self._heads) < _NAME_CACHE_MAX:
                self._heads[name] = head
        return head

    def _node_pieces(
        self, target_node: str, switch_nodename: str, to_bytes: Callable[[str], bytes]
    ) -> tuple[bytes, int]:
        kept = [
            self._head(name) + _binary(_url_decode_bytes(to_bytes(value)))
            for name, value in ((TARGET_NODE, target_node), (SWITCH_NODENAME, switch_nodename))
            if self.keeps(name)
        ]
        nodes = (b"".join(kept), len(kept))
        if len(self._nodes) < _NAME_CACHE_MAX:
            self._nodes[(target_node, switch_nodename)] = nodes
        return nodes

    def code(self, name: str) -> int:
        """How :func:`encode_legacy_event` treats an event header called ``name``."""
        code = self._codes.get(name)
        if code is None:
            if name in _NODE_HEADERS or not self.keeps(name):
                code = _DROP
            elif name == "Event-Subclass":
                code = _SUBCLASS
            elif name.lower() == "unique-id":
                code = _UNIQUE_ID
            elif name.startswith(JSON_HEADER_PREFIX):
                code = _JSON
            else:
                code = _KEEP
            if len(self._codes) < _NAME_CACHE_MAX:  # bounded: names come from the outside
                self._codes[name] = code
                if code == _KEEP:
                    self._plain[name] = self._head(name)
        return code


_DROP: Final = 0
_KEEP: Final = 1
_UNIQUE_ID: Final = 2
_SUBCLASS: Final = 3
_JSON: Final = 4
_NAME_CACHE_MAX: Final = 8192
_NO_HEADS: Final[dict[str, bytes]] = {}

# Values carrying escapes, decoded (once, twice): most recur from event to event
# (caller names, channel names, SIP URIs), and decoding in Python is what costs.
_decoded_values: dict[str, tuple[bytes, bytes]] = {}
_DECODED_VALUES_MAX: Final = 8192

# The fixed parts of {event, [UniqueId | Pairs]}, from the codec; a pair is
# SMALL_TUPLE 2 of two BINARY_EXT, the list LIST_EXT with a 4-byte count and NIL.
_LEGACY_HEAD: Final = b"\x83h\x02" + encode_body(_EVENT) + b"l"
_UNDEFINED: Final = encode_body(Atom("undefined"))
_BODY_HEAD: Final = b"h\x02" + encode_body(b"body")


def _binary(data: bytes) -> bytes:
    return b"m" + len(data).to_bytes(4, "big") + data


def _raw(value: str) -> bytes:
    # Lone surrogates (bytes that were not UTF-8 upstream) go back to those bytes.
    return value.encode("utf-8", "surrogateescape")


def _utf8(value: str) -> bytes:
    return value.encode()


def _decoded_twice(value: str) -> tuple[bytes, bytes]:
    known = _decoded_values.get(value)
    if known is None:
        once = unquote_to_bytes(_raw(value))
        known = (once, _url_decode_bytes(once))
        if len(_decoded_values) >= _DECODED_VALUES_MAX:
            _decoded_values.clear()
        _decoded_values[value] = known
    return known


def encode_legacy_event(
    event: Event, target_node: str, switch_nodename: str, legacy_filter: LegacyFilter
) -> bytes:
    """``term_to_binary({event, [UniqueId | Headers]})`` of the processed event.

    Values are URL-decoded twice, byte-exactly, as mod_kazoo does: once in the
    per-event processing (not ``_json_*`` headers), once more while encoding
    (every header).  ``UniqueId`` is the first ``Unique-ID`` header (any case)
    that passed the filter, else ``undefined``; it is decoded once.  Text that
    is not valid Unicode (lone surrogates from undecodable bytes) is sent as
    the original bytes.

    The bytes are those of ``kazoo_trio.term.encode`` for that term (the tests
    compare them); the list is assembled here so that the filter decision and
    the encoded name of each header are worked out once per header name.
    """
    try:
        return _encode_legacy(event, target_node, switch_nodename, legacy_filter, _utf8)
    except UnicodeEncodeError:
        return _encode_legacy(event, target_node, switch_nodename, legacy_filter, _raw)


def _encode_legacy(
    event: Event,
    target_node: str,
    switch_nodename: str,
    legacy_filter: LegacyFilter,
    to_bytes: Callable[[str], bytes],
) -> bytes:
    # Per header: two lookups by name (what the filter does with it, its encoded
    # `{Name,` head), then the value's bytes.  Nothing is cached by value: every
    # event the switch fires carries new value strings, and hashing them for a
    # cache lookup costs as much as encoding them.
    custom = event.subclass is not None
    codes = legacy_filter._codes
    code_of = codes.get
    heads = legacy_filter._heads
    head_of = heads.get
    strict = to_bytes is _utf8  # the common case, inlined below as str.encode()
    unique_id: bytes | None = None
    parts = [_LEGACY_HEAD, b"", b""]  # count and UniqueId are filled in at the end
    append = parts.append
    hdrs = BIN_HDR
    short = len(hdrs)
    # Values that are not UTF-8 text take the careful path below.
    plain_of = (legacy_filter._plain if strict else _NO_HEADS).get
    decoded_of = _decoded_values.get
    for name, value in event.headers:
        head = plain_of(name)
        if head is not None:
            if "%" not in value:
                data = value.encode()
            else:
                known = decoded_of(value)
                data = (known if known is not None else _decoded_twice(value))[1]
            try:
                parts += (head, hdrs[len(data)], data)
            except IndexError:  # beyond the table of prebuilt binary headers
                parts += (head, bin_hdr(len(data)), data)
            continue
        code = code_of(name)
        if code is None:
            code = legacy_filter.code(name)
        if code == _DROP or (code == _SUBCLASS and custom):
            continue
        head = head_of(name)
        if head is None:
            head = legacy_filter._head(name)
        if code == _JSON:
            data = _url_decode_bytes(to_bytes(value))
        elif "%" not in value:
            data = value.encode() if strict else to_bytes(value)
            if code == _UNIQUE_ID and unique_id is None:
                unique_id = data
        else:
            once, data = _decoded_twice(value)
            if code == _UNIQUE_ID and unique_id is None:
                unique_id = once
        size = len(data)
        parts += (head, hdrs[size] if size < short else bin_hdr(size), data)
    # Every kept header added three parts after the three of the head.
    count = (len(parts) - 3) // 3
    nodes = legacy_filter._nodes.get((target_node, switch_nodename))
    if nodes is None:
        nodes = legacy_filter._node_pieces(target_node, switch_nodename, to_bytes)
    if nodes[1]:
        append(nodes[0])
        count += nodes[1]
    if event.body is not None:
        append(_BODY_HEAD + _binary(to_bytes(event.body)))
        count += 1
    append(b"j")
    parts[1] = (count + 1).to_bytes(4, "big")
    parts[2] = _UNDEFINED if unique_id is None else _binary(unique_id)
    return b"".join(parts)


class VerboseEncoder:
    """A :data:`JsonEncoder` that sends every event verbosely, whatever its binding.

    The profile engine's :func:`~kazoo_trio.kazoo.profiles.engine.verbose_event`
    (every header, repeated names as arrays, plus ``Event-Timestamp``): what a
    stream uses until the server gives it the profile set's encoder.
    :meth:`payload` writes the encoded event directly.
    """

    __slots__ = ()

    def __call__(self, event: Event, binding: str | None, encoding: str) -> object:
        return verbose_event(event, encoding=MAP if encoding == MAP else JSON)

    def payload(self, event: Event, binding: str | None, encoding: str) -> bytes | None:
        if encoding == MAP:
            return encode((_EVENT, _ENCODING_ATOMS[MAP], verbose_event(event, encoding=MAP)))
        return verbose_payload(event)


verbose_encoder: Final = VerboseEncoder()


def encode_json_event(
    event: Event, binding: str | None, encoding: str, encoder: JsonEncoder
) -> bytes | None:
    """``term_to_binary({event, json | map, JObj})``, or ``None`` if the encoder drops it.

    An encoder with a ``payload(event, binding, encoding)`` method (the
    profile engine's, :data:`verbose_encoder`) writes the bytes itself, which
    is faster than encoding the term it would return.
    """
    payload: Callable[[Event, str | None, str], bytes | None] | None = getattr(
        encoder, "payload", None
    )
    if payload is not None:
        return payload(event, binding, encoding)
    jobj = encoder(event, binding, encoding)
    if jobj is None:
        return None
    return encode((_EVENT, _ENCODING_ATOMS[encoding], jobj))
