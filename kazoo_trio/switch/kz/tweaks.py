"""mod_kazoo's tweaks (``kazoo_tweaks.c``): what it changes on every channel at
``CS_INIT`` and after some events, as pure code over :class:`TweakHost`.

Each tweak is switched on or off by the ``<tweaks>`` section of ``kazoo.conf``
(:func:`tweaks_from_config`; every tweak is on by default, as
``kazoo_ei_config`` sets them).  A backend calls:

* :func:`on_init` for each new channel, between its ``CHANNEL_STATE`` ``CS_INIT``
  and its ``CHANNEL_CREATE`` (mod_kazoo's global ``on_init`` state handler);
* :func:`on_outgoing` when a channel originates another, before the new channel's
  ``on_init`` (the ``outgoing_channel`` hook mod_kazoo adds to every session);
* :func:`on_channel_bridge` for each ``CHANNEL_BRIDGE`` event and
  :func:`on_transferor` for each ``CUSTOM`` ``sofia::transferor`` event, after
  the event has been delivered (FreeSWITCH runs event bindings in its dispatch
  thread).

``export-vars`` and ``bridge-replaces-aleg`` are tweak names the C module accepts
and never reads; the other transfer events mod_kazoo binds (``sofia::replaced``,
``sofia::intercepted``, ``sofia::transferee``) are only logged there, so they have no
handler here.  ``kazoo.conf`` is read for its tweaks when the module loads (the local
settings file), never from the configuration Kazoo sends.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol, runtime_checkable

import attrs

from kazoo_trio.uuids import uuid4_str

__all__ = [
    "BRIDGE_VARIABLES",
    "DEFAULT_TWEAKS",
    "INTERACTION_VARIABLE",
    "UNIX_EPOCH_IN_GREGORIAN",
    "KzTweaks",
    "Tweak",
    "TweakChannel",
    "TweakConfigurable",
    "TweakHost",
    "new_interaction_id",
    "on_channel_bridge",
    "on_init",
    "on_outgoing",
    "on_transferor",
    "tweaks_from_config",
]

log = logging.getLogger(__name__)

INTERACTION_VARIABLE = "Call-Interaction-ID"

# kazoo_defs.h; kz_tweaks_start also sets it as a global variable.
UNIX_EPOCH_IN_GREGORIAN = 62167219200

# What a bridge (and a replacing call) carries from the older leg to the newer one.
BRIDGE_VARIABLES: tuple[str, ...] = (
    "Call-Control-Queue",
    "Call-Control-PID",
    "Call-Control-Node",
    INTERACTION_VARIABLE,
    "ecallmgr_Ecallmgr-Node",
    "sip_h_k-cid",
    "Switch-URI",
    "Switch-URL",
)


class Tweak(enum.Enum):
    """``kz_tweak_t``, valued by its name in ``kazoo.conf`` (``TWEAK_NAMES``)."""

    INTERACTION_ID = "interaction-id"
    EXPORT_VARS = "export-vars"
    SWITCH_URI = "switch-uri"
    REPLACES_CALL_ID = "replaces-call-id"
    LOOPBACK_VARS = "loopback-vars"
    CALLER_ID = "caller-id"
    TRANSFERS = "transfers"
    BRIDGE = "bridge"
    BRIDGE_REPLACES_ALEG = "bridge-replaces-aleg"
    BRIDGE_REPLACES_CALL_ID = "bridge-replaces-call-id"
    BRIDGE_VARIABLES = "bridge-variables"
    RESTORE_CALLER_ID_ON_BLIND_XFER = "restore-caller-id-on-blind-xfer"

    @classmethod
    def named(cls, name: str) -> Tweak | None:
        """``kz_name_tweak``: the tweak of a name, case-insensitively; ``None`` if none."""
        lowered = name.lower()
        for tweak in cls:
            if tweak.value == lowered:
                return tweak
        return None


@attrs.frozen
class KzTweaks:
    """The tweaks switched on."""

    enabled: frozenset[Tweak] = frozenset(Tweak)

    def __contains__(self, tweak: object) -> bool:
        return tweak in self.enabled


DEFAULT_TWEAKS = KzTweaks()


def _true(value: str) -> bool:
    return value.strip().lower() in ("yes", "on", "true", "t", "enabled", "1", "allow", "active")


def tweaks_from_config(
    default: str | None,
    entries: Iterable[tuple[str, str]],
    base: KzTweaks = DEFAULT_TWEAKS,
) -> KzTweaks:
    """``kazoo_ei_config``'s ``<tweaks default="..."><tweak name=".." value=".."/>``:
    a non-empty ``default`` sets every tweak (``switch_true``), then each entry
    sets its own; unknown names are ignored, as the C code ignores them."""
    enabled = set(base.enabled)
    if default:
        enabled = set(Tweak) if _true(default) else set()
    for name, value in entries:
        tweak = Tweak.named(name)
        if tweak is None:
            log.warning("kazoo.conf: unknown tweak %r ignored", name)
            continue
        if _true(value):
            enabled.add(tweak)
        else:
            enabled.discard(tweak)
    return KzTweaks(frozenset(enabled))


class TweakChannel(Protocol):
    """A live channel, as the tweaks read and change it."""

    @property
    def uuid(self) -> str: ...

    @property
    def direction(self) -> str:
        """``inbound`` / ``outbound``."""
        ...

    @property
    def source(self) -> str:
        """The caller profile's source (``mod_sofia``, ``mod_loopback``...)."""
        ...

    @property
    def created_us(self) -> int: ...

    @property
    def variables(self) -> Mapping[str, str]:
        """The channel's own variables, in order."""
        ...

    def get_variable(self, name: str) -> str | None:
        """``switch_channel_get_variable``: a variable, a profile field, or a global."""
        ...

    def set_variable(self, name: str, value: str | None) -> None:
        """``switch_channel_set_variable`` (``None`` unsets)."""
        ...

    def profile_field(self, name: str) -> str | None:
        """``switch_caller_get_field_by_name`` (standard fields, then the profile's own
        variables); ``None`` when unset."""
        ...

    def set_caller_id(self, name: str | None, number: str | None) -> None:
        """Set the caller profile's caller id *and* original caller id (each one given)."""
        ...

    def partner_uuid(self) -> str | None:
        """``switch_channel_get_partner_uuid``: ``signal_bond``, else
        ``originate_signal_bond``."""
        ...

    def fire(self, name: str, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Fire event ``name`` with ``headers`` first, then the channel's data."""
        ...

    def on_hangup(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once when the channel hangs up (a state handler's ``on_hangup``)."""
        ...


class TweakHost(Protocol):
    """The switch under the tweaks."""

    def locate(self, uuid: str) -> TweakChannel | None:
        """``switch_core_session_locate``."""
        ...

    def now_us(self) -> int:
        """Wall clock, µs since the epoch."""
        ...


@runtime_checkable
class TweakConfigurable(Protocol):
    """A switch running mod_kazoo's tweaks, which ``kazoo.conf``'s ``<tweaks>`` set."""

    def set_kz_tweaks(self, tweaks: KzTweaks) -> None: ...


def new_interaction_id(now_us: int, uuid: str | None = None) -> str:
    """``kz_tweaks_new_interaction_id``: Gregorian seconds, ``-``, 8 hex digits."""
    first = now_us // 1_000_000 + UNIX_EPOCH_IN_GREGORIAN
    return f"{first}-{(uuid or uuid4_str())[:8]}"


# -- CS_INIT -------------------------------------------------------------------------------


def on_init(tweaks: KzTweaks, host: TweakHost, channel: TweakChannel) -> None:
    """``kz_tweaks_on_init``: each tweak in the C code's order."""
    _interaction_id(tweaks, host, channel)
    _switch_uri(tweaks, channel)
    _caller_id(tweaks, channel)
    _nightmare_xfer_interaction_id(tweaks, host, channel)
    _replaces_call_id(tweaks, host, channel)
    _loopback(tweaks, host, channel)
    if Tweak.RESTORE_CALLER_ID_ON_BLIND_XFER in tweaks:
        channel.set_variable("execute_on_blind_transfer", "kz_restore_caller_id")


def on_outgoing(tweaks: KzTweaks, originator: TweakChannel, peer: TweakChannel) -> None:
    """``kz_outgoing_channel``: the originator's interaction id on the new channel."""
    if Tweak.INTERACTION_ID not in tweaks:
        return
    interaction_id = originator.get_variable(INTERACTION_VARIABLE)
    if interaction_id:
        peer.set_variable(INTERACTION_VARIABLE, interaction_id)


def _interaction_id(tweaks: KzTweaks, host: TweakHost, channel: TweakChannel) -> None:
    if Tweak.INTERACTION_ID not in tweaks:
        return
    fresh = new_interaction_id(host.now_us())
    channel.set_variable(f"Original-{INTERACTION_VARIABLE}", fresh)
    partner_uuid = channel.partner_uuid()
    partner = host.locate(partner_uuid) if partner_uuid else None
    if partner is not None:
        inherited = partner.get_variable(INTERACTION_VARIABLE)
        if inherited:
            channel.set_variable(INTERACTION_VARIABLE, inherited)
    elif not channel.get_variable(INTERACTION_VARIABLE):
        channel.set_variable(INTERACTION_VARIABLE, fresh)


def _switch_uri(tweaks: KzTweaks, channel: TweakChannel) -> None:
    if Tweak.SWITCH_URI not in tweaks:
        return
    url = channel.get_variable("sofia_profile_url")
    if not url:
        return
    channel.set_variable("Switch-URL", url)
    at = url.find("@")
    # strcspn: without "@" the C code points past the string's end, which reads as "".
    host = url[at + 1 :] if at > 0 else ("" if at == -1 else url)
    channel.set_variable("Switch-URI", f"sip:{host}")


def _caller_id(tweaks: KzTweaks, channel: TweakChannel) -> None:
    if Tweak.CALLER_ID not in tweaks or channel.direction != "inbound":
        return
    name = channel.profile_field("Endpoint-Caller-ID-Name")
    number = channel.profile_field("Endpoint-Caller-ID-Number")
    if name is not None or number is not None:
        channel.set_caller_id(name, number)


def _nightmare_xfer_interaction_id(
    tweaks: KzTweaks, host: TweakHost, channel: TweakChannel
) -> None:
    """A call that replaces another across switches brings its interaction id in SIP
    headers: it goes on this channel, the replaced call and the refer partner."""
    if Tweak.INTERACTION_ID not in tweaks:
        return
    replaced = channel.get_variable("sip_replaces_call_id")
    core_uuid = channel.get_variable("sip_h_X-FS-From-Core-UUID")
    partner = channel.get_variable("sip_h_X-FS-Refer-Partner-UUID")
    interaction_id = channel.get_variable("sip_h_X-FS-Call-Interaction-ID")
    if not (core_uuid and partner and replaced and interaction_id):
        return
    channel.set_variable(INTERACTION_VARIABLE, interaction_id)
    for uuid in (replaced, partner):
        other = host.locate(uuid)
        if other is not None:
            other.set_variable(INTERACTION_VARIABLE, interaction_id)


def _replaces_call_id(tweaks: KzTweaks, host: TweakHost, channel: TweakChannel) -> None:
    """A call that replaces a local one (``Replaces:``) takes its bridge variables."""
    if Tweak.REPLACES_CALL_ID not in tweaks:
        return
    replaced_uuid = channel.get_variable("sip_replaces_call_id")
    if channel.get_variable("sip_h_X-FS-From-Core-UUID") or not replaced_uuid:
        return
    replaced = host.locate(replaced_uuid)
    if replaced is None:
        return
    for name in BRIDGE_VARIABLES:
        channel.set_variable(name, replaced.get_variable(name))
    channel.fire("CHANNEL_DATA")


def _loopback(tweaks: KzTweaks, host: TweakHost, channel: TweakChannel) -> None:
    """The routed (``B``) leg of a loopback pair: ``Export-Loopback-X`` becomes ``X``,
    ``sip_loopback_X`` becomes ``sip_X``; with any ``Export-Loopback-`` variable, the
    ``ecallmgr_`` ones go; the interaction id follows the other leg's unless the legs
    belong to different accounts."""
    if Tweak.LOOPBACK_VARS not in tweaks:
        return
    if not channel.source.startswith("mod_loopback"):
        return
    leg = channel.get_variable("loopback_leg")
    if leg is None or not leg.startswith("B"):
        return
    to_add: list[tuple[str, str]] = []
    to_remove: list[str] = []
    moved = 0
    for name, value in list(channel.variables.items()):
        if name.startswith("Export-Loopback-"):
            to_add.append((name[16:], value))
            channel.set_variable(name, None)
            moved += 1
        elif name.startswith("sip_loopback_"):
            to_add.append((f"sip_{name[13:]}", value))
        elif name.startswith("ecallmgr_"):
            to_remove.append(name)
    if moved:
        for name in to_remove:
            channel.set_variable(name, None)
    for name, value in to_add:
        channel.set_variable(name, value)
    a_uuid = channel.get_variable("other_loopback_leg_uuid")
    a_leg = host.locate(a_uuid) if a_uuid else None
    if a_leg is not None:
        for name in [n for n in a_leg.variables if n.startswith("Export-Loopback-")]:
            a_leg.set_variable(name, None)
    if Tweak.INTERACTION_ID in tweaks and a_leg is not None:
        a_account = a_leg.get_variable("ecallmgr_Account-ID")
        b_account = channel.get_variable("ecallmgr_Account-ID")
        if not a_account or not b_account or a_account == b_account:
            channel.set_variable(INTERACTION_VARIABLE, a_leg.get_variable(INTERACTION_VARIABLE))


# -- events --------------------------------------------------------------------------------


def on_channel_bridge(
    tweaks: KzTweaks, host: TweakHost, header: Callable[[str], str | None]
) -> None:
    """``kz_tweaks_channel_bridge_event_handler``; ``header`` reads the event."""
    if Tweak.BRIDGE not in tweaks:
        return
    _bridge_replaces_call_id(tweaks, host, header)
    _bridge_variables(tweaks, host, header)


def _bridge_replaces_call_id(
    tweaks: KzTweaks, host: TweakHost, header: Callable[[str], str | None]
) -> None:
    """A bridge to a channel that replaced another: the replaced call's channel is
    reported bridged too (``CHANNEL_BRIDGE`` with ``Bridge-Event-Processed``), and
    unbridged when it hangs up."""
    if Tweak.BRIDGE_REPLACES_CALL_ID not in tweaks or header("Bridge-Event-Processed"):
        return
    if not header("variable_sip_replaces_call_id"):
        return
    peer_uuid = header("Unique-ID") or ""
    call_uuid = header("Bridge-B-Unique-ID")
    call = host.locate(call_uuid) if call_uuid else None
    if call is None:
        return
    call.fire(
        "CHANNEL_BRIDGE",
        [
            ("Bridge-A-Unique-ID", call.uuid),
            ("Bridge-B-Unique-ID", peer_uuid),
            ("Bridge-Event-Processed", "true"),
        ],
    )
    call.set_variable("Bridge-B-Unique-ID", peer_uuid)

    def signal_unbridge() -> None:
        call.fire(
            "CHANNEL_UNBRIDGE",
            [
                ("Bridge-A-Unique-ID", call.uuid),
                ("Bridge-B-Unique-ID", call.get_variable("Bridge-B-Unique-ID") or ""),
            ],
        )

    call.on_hangup(signal_unbridge)


def _bridge_variables(
    tweaks: KzTweaks, host: TweakHost, header: Callable[[str], str | None]
) -> None:
    """The older leg's call-control variables (and interaction id...) on the newer one."""
    if Tweak.BRIDGE_VARIABLES not in tweaks or header("Bridge-Event-Processed"):
        return
    a_uuid, b_uuid = header("Bridge-A-Unique-ID"), header("Bridge-B-Unique-ID")
    a_leg = host.locate(a_uuid) if a_uuid else None
    b_leg = host.locate(b_uuid) if b_uuid else None
    if a_leg is None or b_leg is None:
        return
    older, newer = (a_leg, b_leg) if a_leg.created_us <= b_leg.created_us else (b_leg, a_leg)
    for name in BRIDGE_VARIABLES:
        newer.set_variable(name, older.get_variable(name))


def on_transferor(tweaks: KzTweaks, host: TweakHost, header: Callable[[str], str | None]) -> None:
    """``sofia::transferor``: the transferor's interaction id on the destination call,
    its peer and the original call, each with a ``CHANNEL_DATA``."""
    if Tweak.TRANSFERS not in tweaks:
        return
    uuid = header("Unique-ID")
    transferor = host.locate(uuid) if uuid else None
    if transferor is None:
        return
    interaction_id = transferor.get_variable(INTERACTION_VARIABLE)
    if interaction_id is None:
        return
    for name in (
        "att_xfer_destination_call_id",
        "att_xfer_destination_peer_uuid",
        "att_xfer_original_call_id",
    ):
        target_uuid = header(name)
        target = host.locate(target_uuid) if target_uuid else None
        if target is None:
            continue
        target.set_variable(INTERACTION_VARIABLE, interaction_id)
        target.fire("CHANNEL_DATA")
