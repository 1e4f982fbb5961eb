"""A simulated channel: FreeSWITCH's channel state, call state, caller profile and
variables, and the events a channel fires as they change.

Every method here is synchronous: state changes fire their events on the switch's bus
at once, in FreeSWITCH's order.  What a channel *does* over time (ringing, routing,
running applications) lives in :mod:`.session`, the channel's task.

The call layer (this module, then :mod:`.dialplan`, :mod:`.session`, :mod:`.endpoints`,
:mod:`.originate`, :mod:`.applications`, :mod:`.traffic`) never imports the core: it
reaches the switch through :class:`ChannelHost`, which the core implements.
Layer: above :mod:`.events`, :mod:`.causes`, :mod:`.clock`, :mod:`.channels`,
:mod:`.profile`, :mod:`.waits`, :mod:`.applog` (and :mod:`kazoo_trio.switch.kz.cdr`,
for ``KZ_CDR``).
"""

from __future__ import annotations

import enum
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Protocol

import attrs
import trio

from kazoo_trio.errors import RuntimeFailure
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.expand import expand_variables
from kazoo_trio.switch.headers import EventOrigin, vouched
from kazoo_trio.switch.kz.cdr import (
    CDR_ORIGIN,
    KZ_CDR,
    CallflowProfile,
    ProfileData,
    ProfileTimes,
    kz_cdr_headers,
)
from kazoo_trio.switch.protocol import SwitchIdentity
from kazoo_trio.switch.sim.applog import AppLog
from kazoo_trio.switch.sim.causes import CALL_STATES, CHANNEL_STATES, cause_code
from kazoo_trio.switch.sim.channels import ChannelRegistry, shared_text
from kazoo_trio.switch.sim.clock import Clock, SimTimings
from kazoo_trio.switch.sim.profile import CallerProfile
from kazoo_trio.switch.sim.waits import Flag, PrivateQueue
from kazoo_trio.uuids import uuid4_str

__all__ = [
    "Action",
    "Application",
    "Channel",
    "ChannelHost",
    "Endpoint",
    "Leg",
    "Next",
    "OtherLeg",
    "SwitchNotRunning",
    "bridge",
    "true",
    "unbridge",
]

# The queue of private events (sendmsg/command) a channel holds before running them.
PRIVATE_QUEUE_SIZE = 256

_ORIGIN_STATE = EventOrigin("switch_channel.c", "switch_channel_perform_set_running_state", 2483)
_ORIGIN_CALLSTATE = EventOrigin("switch_channel.c", "switch_channel_perform_set_callstate", 346)
_ORIGIN_CREATE = EventOrigin("switch_core_state_machine.c", "switch_core_session_run", 626)
_ORIGIN_ANSWER = EventOrigin("switch_channel.c", "switch_channel_perform_mark_answered", 3998)
_ORIGIN_PRE_ANSWER = EventOrigin(
    "switch_channel.c", "switch_channel_perform_mark_pre_answered", 3753
)
_ORIGIN_RING = EventOrigin("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3698)
_ORIGIN_HANGUP = EventOrigin("switch_channel.c", "switch_channel_perform_hangup", 3453)
_ORIGIN_HANGUP_COMPLETE = EventOrigin(
    "switch_core_state_machine.c", "switch_core_session_reporting_state", 935
)
_ORIGIN_DESTROY = EventOrigin("switch_core_session.c", "switch_core_session_perform_destroy", 1755)
_ORIGIN_FLIP = EventOrigin("switch_channel.c", "switch_channel_flip_cid", 3279)
_ORIGIN_HOLD = EventOrigin("switch_ivr.c", "switch_ivr_hold", 1558)
_ORIGIN_UNHOLD = EventOrigin("switch_ivr.c", "switch_ivr_unhold", 1638)


class _VariableNames(dict[str, str]):
    """Variable name → its header name (``variable_<name>``), remembered: the names
    recur in every event of every call, and a lookup made in C costs less than
    formatting each name again."""

    LIMIT = 20_000

    def __missing__(self, name: str) -> str:
        if len(self) >= self.LIMIT:
            self.clear()
        header = self[name] = f"variable_{name}"
        return header


_variable_names = _VariableNames()


def codec_of(name: str) -> tuple[str, str, str]:
    """A channel's codec, rate and bit rate: mod_loopback's ``loopback/`` and ``null/``
    legs run L16 at 8 kHz (``tech_init``, ``null_tech_init``), SIP calls PCMU."""
    if name.startswith(("loopback/", "null/")):
        return ("L16", "8000", "128000")
    return ("PCMU", "8000", "64000")


def _codec_headers(name: str) -> list[tuple[str, str]]:
    codec, rate, bit_rate = codec_of(name)
    return [
        ("Channel-Read-Codec-Name", codec),
        ("Channel-Read-Codec-Rate", rate),
        ("Channel-Read-Codec-Bit-Rate", bit_rate),
        ("Channel-Write-Codec-Name", codec),
        ("Channel-Write-Codec-Rate", rate),
        ("Channel-Write-Codec-Bit-Rate", bit_rate),
    ]


Action = Callable[["Channel"], Awaitable[None]]
"""What a channel's session does for a while: route, park, run an application..."""

Application = Callable[["Channel", str], Awaitable[None]]
"""A dialplan application: the channel and its (already expanded) argument."""

Leg = tuple["Channel", "Action | None"]
"""A dialled leg and the action its session starts with; ``None`` when the endpoint
has started the channel itself (and it has answered)."""

Endpoint = Callable[
    ["ChannelHost", str, dict[str, str], CallerProfile, "Channel | None"],
    Awaitable["Leg | str"],
]
"""An endpoint (``switch_io_routines_t.outgoing_channel``): given the host, the dial
string after ``<tech>/``, the leg's variables, its caller profile and the calling
channel, the new leg or the failure cause."""


@attrs.frozen
class OtherLeg:
    """A copy of another leg's caller profile as this channel keeps it (the originator
    or originatee profile ``switch_channel_event_set_basic_data`` reports)."""

    kind: str  # "originator" / "originatee"
    profile: CallerProfile
    direction: str
    uuid: str
    name: str


class Next(enum.Enum):
    """A next step a channel asks of its own session.  The session module runs it: this
    module cannot name the session's actions, since the session imports it."""

    PARK = "park"


class SwitchNotRunning(RuntimeFailure, RuntimeError):
    """A call or a call's task was started while the simulated switch is not running."""


class ChannelHost(Protocol):
    """What channels and the rest of the call layer (sessions, dialling, applications,
    traffic) need from the switch that hosts them.

    Methods that are not ``async`` never yield to trio.
    """

    @property
    def identity(self) -> SwitchIdentity: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def timings(self) -> SimTimings: ...

    @property
    def channels(self) -> ChannelRegistry: ...

    init_handlers: list[Callable[[Channel], None]]
    """Global ``on_init`` state handlers: each runs on every new channel in ``CS_INIT``,
    before ``CHANNEL_CREATE``."""

    shutdown_hangups: int
    """Channels hung up with ``SYSTEM_SHUTDOWN`` as the switch stopped (a session that
    sees the cancellation first counts its own)."""

    def new_event(
        self,
        name: str,
        *,
        subclass: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: str | None = None,
        origin: EventOrigin | None = None,
    ) -> Event: ...

    def fire(self, event: Event) -> None: ...

    def event_wanted(
        self,
        name: str,
        subclass: str | None = None,
        known: Mapping[str, str | None] | None = None,
    ) -> bool:
        """Whether an event ``name`` (a core event name) would reach any listener;
        ``known`` as :meth:`~kazoo_trio.switch.bus.EventBus.wanted` takes it."""
        ...

    def skip_event(self) -> None:
        """Take the sequence number of an event nobody wants, without making it."""
        ...

    def get_global(self, name: str) -> str | None: ...

    def api_function(self, name: str, args: str, *, fire_event: bool = True) -> str | None: ...

    async def xml_lookup(
        self,
        section: str,
        tag_name: str,
        key_name: str,
        key_value: str,
        params: Iterable[tuple[str, str]] = (),
    ) -> str | None: ...

    async def xml_lookup_document(
        self, section: str, tag_name: str, key_name: str, key_value: str, params: Event
    ) -> tuple[str, ET.Element] | None:
        """:meth:`xml_lookup` with the answer's root element, parsed once (the caller's own)."""
        ...

    def application(self, name: str) -> Application | None:
        """The dialplan application ``name``; ``None`` when there is none."""
        ...

    def endpoint(self, tech: str) -> Endpoint | None:
        """The endpoint registered for ``tech`` (``sofia``, ``kz``...); ``None`` if none."""
        ...

    async def start_channel(self, channel: Channel, action: Action) -> None:
        """Start ``channel``'s session running ``action`` in the switch's nursery; returns
        once the channel exists.  :class:`SwitchNotRunning` when the switch is not running."""
        ...

    def start_task(self, function: Callable[..., Awaitable[object]], *args: object) -> None:
        """Run ``function(*args)`` in the switch's nursery (cancelled when it stops);
        :class:`SwitchNotRunning` when the switch is not running."""
        ...


@attrs.define(eq=False)
class Channel:
    """One leg of a call.

    ``state`` is the channel state (``CS_*``), ``callstate`` the call state,
    ``answer_state`` what ``Answer-State`` reports.  :meth:`hangup` is the only way a
    channel ends: it fires ``CHANNEL_HANGUP`` at once and cancels the channel's session,
    whose task then fires the rest (``CHANNEL_HANGUP_COMPLETE`` ... ``CHANNEL_DESTROY``).
    """

    sw: ChannelHost
    name: str
    direction: str  # "inbound" / "outbound"
    profile: CallerProfile = attrs.field(factory=CallerProfile)
    uuid: str = attrs.field(factory=uuid4_str)
    state: str = "CS_NEW"
    # The state asked for while the running state (``state``) still lags behind it:
    # Channel-State-Number reports it (switch_channel_event_set_basic_data).
    asked_state: str = ""
    callstate: str = "DOWN"
    answer_state: str = "ringing"
    hangup_cause: str | None = None
    # CF_DIALPLAN: an outbound channel given an extension (its caller id then flipped).
    hit_dialplan: bool = False
    call_uuid: str = ""
    peer: Channel | None = None
    loopback: Channel | None = None  # the other leg of a loopback pair
    other_type: str = ""  # "originator" / "originatee" while bridged
    held: bool = False
    bridge_kind: str = ""  # "app" (bridge application) / "uuid" (uuid_bridge) while bridged
    running_app: str = ""
    running_app_data: str = ""
    variables: dict[str, str] = attrs.field(factory=dict)
    # The session: the scope of what it is doing now (cancelled by a redirect or a
    # hang-up), the scope of an interruptible application (uuid_break).
    work_scope: trio.CancelScope | None = None
    break_scope: trio.CancelScope | None = None
    bridge_scope: trio.CancelScope | None = None  # the bridge application's wait
    pending: Action | Next | None = None  # what the session runs after a redirect
    answered_event: Flag = attrs.field(factory=Flag)
    settled: Flag = attrs.field(factory=Flag)  # answered or hung up
    destroyed: Flag = attrs.field(factory=Flag)
    # Made when first used (see the properties of the same names): most calls
    # record nothing, get no hook and are never transferred.
    _recordings: list[str] | None = attrs.field(default=None, init=False, repr=False)
    exported: dict[str, str] = attrs.field(factory=dict)
    app_log: AppLog = attrs.field(factory=AppLog)  # what KZ_CDR reports
    _hangup_hooks: list[Callable[[], None]] | None = attrs.field(
        default=None, init=False, repr=False
    )
    # The current caller profile's originator/originatee (the other leg's profile when
    # bridged), and the profiles a transfer replaced, newest first (what KZ_CDR reports).
    originator_profile: ProfileData | None = None
    originatee_profile: ProfileData | None = None
    # What Other-Leg-* reports: the copy of the other leg's profile set last (by the
    # originate or a bridge), kept after the bridge ends, as FreeSWITCH keeps it.
    other_leg: OtherLeg | None = None
    # The Direction of the last CALL_UPDATE (what the core's channels table keeps).
    callee_direction: str = ""
    _past_profiles: list[CallflowProfile] | None = attrs.field(default=None, init=False, repr=False)
    # Digits received and not yet collected by an application (the DTMF queue), and
    # an event set (then replaced) each time one arrives.
    digits: str = ""
    digit_arrived: Flag = attrs.field(factory=Flag)
    # An endpoint that negotiates media only when answering (mod_sofia's inbound late
    # negotiation): the answer pre-answers first (sofia_answer_channel).
    media_on_answer: bool = False
    # The queue of private events; the session receives from it.
    private_receive: PrivateQueue[Event] = attrs.field(
        init=False, factory=lambda: PrivateQueue(PRIVATE_QUEUE_SIZE)
    )

    def __attrs_post_init__(self) -> None:
        now = self.sw.clock.wall_us()
        self.profile.created = self.profile.created or now
        self.profile.profile_created = self.profile.profile_created or now
        self.call_uuid = self.call_uuid or self.uuid
        # switch_channel_set_name sets channel_name; mod_loopback's tech_init sets the
        # codec at once (switch_core_session_set_read_codec and _write_codec name it),
        # a SIP leg only once its media is negotiated.
        made = {
            "direction": self.direction,
            "uuid": self.uuid,
            "session_id": str(self.sw.channels.next_session_id()),
            "call_uuid": self.call_uuid,
        }
        if self.direction == "outbound":
            made["is_outbound"] = "true"  # switch_core_session_request sets CF_OUTBOUND
        made["channel_name"] = self.name
        if self.name.startswith(("loopback/", "null/")):
            codec, rate, _ = codec_of(self.name)
            made.update(read_codec=codec, read_rate=rate, write_codec=codec, write_rate=rate)
        self.variables = {**made, **self.variables}

    @property
    def recordings(self) -> list[str]:
        """The files this channel records, oldest first."""
        if self._recordings is None:
            self._recordings = []
        return self._recordings

    @property
    def hangup_hooks(self) -> list[Callable[[], None]]:
        """Run once in ``CS_HANGUP`` (state handlers' ``on_hangup`` a module adds to
        this channel)."""
        if self._hangup_hooks is None:
            self._hangup_hooks = []
        return self._hangup_hooks

    @hangup_hooks.setter
    def hangup_hooks(self, hooks: list[Callable[[], None]]) -> None:
        self._hangup_hooks = hooks

    @property
    def past_profiles(self) -> list[CallflowProfile]:
        """The caller profiles transfers replaced, newest first (what ``KZ_CDR``
        reports)."""
        if self._past_profiles is None:
            self._past_profiles = []
        return self._past_profiles

    # -- the SimChannel protocol ------------------------------------------------------

    @property
    def up(self) -> bool:
        return self.hangup_cause is None

    @property
    def answered(self) -> bool:
        return self.answer_state == "answered"

    def event_headers(self) -> list[tuple[str, str]]:
        """``switch_channel_event_set_data``: basic data, ``Caller-*``, ``Other-Leg-*``,
        then every variable as ``variable_<name>`` (verbose channel events)."""
        return self.event_data(True)

    def event_data(self, keep_empty: bool) -> list[tuple[str, str]]:
        """:meth:`event_headers`; without ``keep_empty``, an empty ``Channel-Presence-ID``
        is left out (what adding it to an event that has none does)."""
        presence = self.variables.get("presence_id", "")
        headers = [
            ("Channel-State", self.state),
            ("Channel-Call-State", self.callstate),
            ("Channel-State-Number", str(CHANNEL_STATES.index(self.asked_state or self.state))),
            ("Channel-Name", self.name),
            ("Unique-ID", self.uuid),
            ("Call-Direction", self.direction),
            ("Presence-Call-Direction", self.direction),
            (
                "Channel-HIT-Dialplan",
                "true" if self.hit_dialplan or self.direction == "inbound" else "false",
            ),
        ]
        if presence or keep_empty:
            headers.append(("Channel-Presence-ID", presence))
        headers.append(("Channel-Call-UUID", self.call_uuid))
        headers.append(("Answer-State", self.answer_state))
        if self.hangup_cause is not None:
            headers.append(("Hangup-Cause", self.hangup_cause))
        headers += _codec_headers(self.name)
        headers += self.profile.headers("Caller", self.direction, self.uuid, self.name)
        other = self.other_leg
        if other is not None:
            headers.append(("Other-Type", other.kind))
            headers += other.profile.headers("Other-Leg", other.direction, other.uuid, other.name)
        variables = self.variables
        headers += zip(map(_variable_names.__getitem__, variables), variables.values(), strict=True)
        return headers

    def get_variable(self, name: str) -> str | None:
        """``switch_channel_get_variable``: a variable, a caller profile field, or a global."""
        found = self.variables.get(name)
        if found is not None:
            return found
        field = self.profile.fields().get(name)
        if field:
            return field
        if name == "uuid":
            return self.uuid
        return self.sw.get_global(name)

    def set_variable(self, name: str, value: str | None) -> None:
        """``switch_channel_set_variable``: an empty value or ``None`` deletes."""
        if not name:
            return
        if value:
            self.variables[shared_text(name)] = shared_text(value)
        else:
            self.variables.pop(name, None)

    def expand(self, template: str) -> str:
        """``switch_channel_expand_variables``."""
        if "$" not in template:
            return template
        return expand_variables(
            template, lookup=self.get_variable, global_lookup=self.sw.get_global,
            call=self.sw.api_function,
        )  # fmt: skip

    async def queue_private_event(self, event: Event) -> None:
        """Queue a ``sendmsg``/``command`` event; waits while the queue is full.

        A channel that has already hung up drops the event (it could never run).
        """
        if not self.up:
            return
        await self.private_receive.send(event)

    def queue_nowait(self, event: Event) -> bool:
        """Queue a private event without waiting; ``False`` when full or hung up."""
        if not self.up:
            return False
        try:
            self.private_receive.send_nowait(event)
        except (trio.WouldBlock, trio.ClosedResourceError):
            return False
        return True

    def close_private(self) -> None:
        self.private_receive.close()

    # -- events -----------------------------------------------------------------------

    def new_event(
        self,
        name: str,
        extra: Iterable[tuple[str, str]] = (),
        *,
        subclass: str | None = None,
        origin: EventOrigin | None = None,
    ) -> Event:
        # Only the standard headers come before the channel's data, and none has its
        # names: its empty values can be left out, and the rest are most often
        # appended as they are (checked once here instead of pair by pair).
        headers = vouched(self.event_data(False))
        headers.extend(extra)
        return self.sw.new_event(
            name, subclass=subclass, headers=headers, origin=origin or EventOrigin.caller()
        )

    def fire(
        self,
        name: str,
        extra: Iterable[tuple[str, str]] = (),
        *,
        subclass: str | None = None,
        origin: EventOrigin | None = None,
        known: Mapping[str, str | None] | None = None,
    ) -> None:
        """Fire an event of this channel with ``extra`` headers after its own.

        ``known``: values of ``extra`` (see :func:`~kazoo_trio.switch.headers.known_values`)
        that listeners may judge the event by before it is made; only names
        :meth:`event_headers` never gives belong there.
        """
        sw = self.sw
        if not sw.event_wanted(name, subclass, known):
            # Nobody would see it: building its headers is the cost of a channel's
            # life, so only its number is taken (what is delivered stays the same).
            sw.skip_event()
            return
        sw.fire(
            self.new_event(name, extra, subclass=subclass, origin=origin or EventOrigin.caller())
        )

    # -- state ------------------------------------------------------------------------

    def fire_create(self) -> None:
        """The state machine's start: ``CHANNEL_STATE CS_INIT``, then ``CHANNEL_CREATE``
        (and ``CHANNEL_ORIGINATE`` for an outbound channel) in the ``CS_INIT`` handler."""
        self.state = "CS_INIT"
        self.fire("CHANNEL_STATE", origin=_ORIGIN_STATE)
        # The global on_init state handlers run before CHANNEL_CREATE fires.
        for handler in list(self.sw.init_handlers):
            handler(self)
        self.fire("CHANNEL_CREATE", origin=_ORIGIN_CREATE)
        if self.direction == "outbound":
            self.fire("CHANNEL_ORIGINATE", origin=_ORIGIN_CREATE)

    def set_state(self, state: str) -> None:
        """``switch_channel_set_running_state``: entering ``CS_ROUTING`` makes an
        unanswered channel ``RINGING``; then ``CHANNEL_STATE`` fires."""
        if not self.up and state not in ("CS_HANGUP", "CS_REPORTING", "CS_DESTROY"):
            return
        self.state = state
        if self.asked_state == state:
            self.asked_state = ""
        # Only inbound channels take their call state from the running state.
        inbound = self.direction == "inbound"
        if inbound and CHANNEL_STATES.index(state) < CHANNEL_STATES.index("CS_HANGUP"):
            if state == "CS_ROUTING" and not self.answered:
                self.set_callstate("RINGING")
            elif self.answered and not self.held:
                self.set_callstate("ACTIVE")
            elif self.answer_state == "early":
                self.set_callstate("EARLY")
        self.fire("CHANNEL_STATE", origin=_ORIGIN_STATE)

    def set_callstate(self, callstate: str) -> None:
        """``switch_channel_set_callstate``: ``CHANNEL_CALLSTATE`` on every change."""
        if callstate == self.callstate:
            return
        original = self.callstate
        self.callstate = callstate
        self.fire(
            "CHANNEL_CALLSTATE",
            [
                ("Original-Channel-Call-State", original),
                ("Channel-Call-State-Number", str(CALL_STATES.index(callstate))),
            ],
            origin=_ORIGIN_CALLSTATE,
        )

    def ring_ready(self) -> None:
        """``switch_channel_mark_ring_ready``: ``CHANNEL_PROGRESS`` once."""
        if not self.up or self.profile.progress or self.answer_state != "ringing":
            return
        self.profile.progress = self.sw.clock.wall_us()
        # As switch_channel_perform_mark_ring_ready_value: the event, then the call state.
        self.fire("CHANNEL_PROGRESS", origin=_ORIGIN_RING)
        self.set_callstate("RINGING")

    def pre_answer(self) -> None:
        """``switch_channel_mark_pre_answered``: early media, ``CHANNEL_PROGRESS_MEDIA``."""
        if not self.up or self.answer_state != "ringing":
            return
        self.profile.progress_media = self.sw.clock.wall_us()
        self.answer_state = "early"
        self.set_variable("endpoint_disposition", "EARLY MEDIA")
        self.fire("CHANNEL_PROGRESS_MEDIA", origin=_ORIGIN_PRE_ANSWER)
        self.set_callstate("EARLY")
        other = self.loopback
        if other is not None and self.variables.get("loopback_leg") == "B":
            other.pre_answer()

    def answer(self) -> bool:
        """``switch_channel_mark_answered``: ``ACTIVE`` and ``CHANNEL_ANSWER`` (once)."""
        if not self.up:
            return False
        if self.answered:
            return True
        if self.media_on_answer:
            self.pre_answer()
        self.profile.answered = self.sw.clock.wall_us()
        self.answer_state = "answered"
        # As switch_channel_perform_mark_answered: CHANNEL_ANSWER still carries the call
        # state and disposition from before the answer.
        self.fire("CHANNEL_ANSWER", origin=_ORIGIN_ANSWER)
        self.set_variable("endpoint_disposition", "ANSWER")
        self.set_callstate("ACTIVE")
        self.answered_event.set()
        self.settled.set()
        other = self.loopback
        if other is not None and self.variables.get("loopback_leg") == "B":
            # mod_loopback answers the outbound leg as the routed leg answers.
            other.answer()
        return True

    def hangup(self, cause: str = "NORMAL_CLEARING") -> bool:
        """``switch_channel_hangup``: the first call wins; ``CHANNEL_HANGUP`` fires now,
        the bridge (if any) ends, and the session is cancelled.  ``False`` if already down."""
        if not self.up:
            return False
        now = self.sw.clock.wall_us()
        self.profile.hungup = now
        self.hangup_cause = cause
        # switch_channel_perform_hangup asks for CS_HANGUP; the running state (what
        # Channel-State reports) follows once the session reaches it (finish).
        self.asked_state = "CS_HANGUP"
        # No endpoint_disposition here: the core sets it on early media and answer only.
        self.answer_state = "hangup"
        # As switch_channel_perform_hangup: the event now, the call state and the
        # hangup_cause variables later, in the session's CS_HANGUP handler (finish).
        self.fire("CHANNEL_HANGUP", origin=_ORIGIN_HANGUP)
        self.leave_bridge()
        other = self.loopback
        if other is not None and other.up:
            other.hangup(cause if not other.answered else "NORMAL_CLEARING")
        self.settled.set()
        if self.work_scope is not None:
            self.work_scope.cancel()
        return True

    def leave_bridge(self) -> None:
        """End this channel's bridge (hang-up, transfer): the originator's ``bridge``
        application returns; the other leg of a ``uuid_bridge`` hangs up (or parks with
        ``park_after_bridge``)."""
        peer = self.peer
        if peer is None:
            return
        kind = self.bridge_kind
        unbridge(self, peer)
        if peer.up and kind == "uuid":
            if true(peer.variables.get("park_after_bridge")):
                peer.redirect(Next.PARK)
            else:
                peer.hangup("NORMAL_CLEARING")

    def redirect(self, action: Action | Next, *, keep_bridge: bool = False) -> None:
        """Stop what the session is doing and run ``action`` next (transfer, park...);
        the channel leaves its bridge unless ``keep_bridge`` (entering one)."""
        if not self.up:
            return
        if not keep_bridge:
            self.leave_bridge()
        self.pending = action
        if self.work_scope is not None:
            self.work_scope.cancel()

    def interrupt(self) -> None:
        """``uuid_break``: stop the running interruptible application."""
        if self.break_scope is not None:
            self.break_scope.cancel()

    def finish(self) -> None:
        """The rest of a hang-up, from the session task: reporting, ``KZ_CDR``, destroy."""
        self.close_private()
        for path in list(self.recordings):
            self.fire("RECORD_STOP", [("Record-File-Path", path)])
        self.recordings.clear()
        self.set_state("CS_HANGUP")
        hooks, self.hangup_hooks = self.hangup_hooks, []
        for hook in hooks:
            hook()
        cause = self.hangup_cause or "NONE"
        self.set_variable("hangup_cause", cause)
        self.set_variable("hangup_cause_q850", str(_q850(cause)))
        self._set_timestamps()
        self.set_callstate("HANGUP")
        self.set_state("CS_REPORTING")
        # mod_kazoo's reporting handler (the state handlers run before
        # switch_core_session_reporting_state fires CHANNEL_HANGUP_COMPLETE): its _json_*
        # headers before the channel data.
        sw = self.sw
        # Both are made only when wanted (their numbers are taken all the same): the
        # CDR's JSON and the channel data are most of the cost of a hang-up.
        # The channel's data after headers that never have its names: as in new_event.
        if sw.event_wanted("CUSTOM", KZ_CDR):
            cdr = vouched([*_kz_cdr_headers(self), *self.event_data(False)])
            sw.fire(sw.new_event("CUSTOM", subclass=KZ_CDR, headers=cdr, origin=CDR_ORIGIN))
        else:
            sw.skip_event()
        if sw.event_wanted("CHANNEL_HANGUP_COMPLETE"):
            # switch_core_session_reporting_state puts Hangup-Cause before the channel data.
            headers = vouched(
                [("Hangup-Cause", self.hangup_cause or "NONE"), *self.event_data(False)]
            )
            sw.fire(
                sw.new_event(
                    "CHANNEL_HANGUP_COMPLETE", headers=headers, origin=_ORIGIN_HANGUP_COMPLETE
                )
            )
        else:
            sw.skip_event()
        # switch_core_session_perform_destroy fires CHANNEL_DESTROY while the running
        # state is still CS_REPORTING (CS_DESTROY asked for); then
        # switch_core_session_destroy_state enters CS_DESTROY.
        self.asked_state = "CS_DESTROY"
        self.fire("CHANNEL_DESTROY", origin=_ORIGIN_DESTROY)
        self.asked_state = ""
        self.set_state("CS_DESTROY")
        self.sw.channels.remove(self.uuid)
        self.destroyed.set()
        self.settled.set()

    def _set_timestamps(self) -> None:
        """``switch_channel_set_timestamps``: the CDR variables (epochs and spans, in
        its order; no ``*_stamp`` texts).  A span whose mark was never reached (a leg
        that never rang, never answered) is 0; seconds and milliseconds are differences
        of truncated times, as FreeSWITCH computes them."""
        p = self.profile
        end = p.hungup or self.sw.clock.wall_us()
        marks = (
            ("start", p.created), ("profile_start", p.profile_created),
            ("answer", p.answered), ("bridge", p.bridged), ("last_hold", p.last_hold),
        )  # fmt: skip
        for name, mark in marks:
            self.set_variable(f"{name}_epoch", str(mark // 1_000_000))
            self.set_variable(f"{name}_uepoch", str(mark))
        self.set_variable("hold_accum_seconds", str(p.hold_accum // 1_000_000))
        self.set_variable("hold_accum_usec", str(p.hold_accum))
        self.set_variable("hold_accum_ms", str(p.hold_accum // 1000))
        later = (
            ("resurrect", 0), ("progress", p.progress), ("progress_media", p.progress_media),
            ("end", end),
        )  # fmt: skip
        for name, mark in later:
            self.set_variable(f"{name}_epoch", str(mark // 1_000_000))
            self.set_variable(f"{name}_uepoch", str(mark))
        # The application log's last entry: only the hang-up names it.
        last = self.app_log[-1] if self.app_log else None
        self.set_variable("last_app", last.app if last else None)
        self.set_variable("last_arg", last.data if last else None)

        def span(start: int, stop: int, reached: bool) -> tuple[int, int, int]:
            if not reached:
                return 0, 0, 0
            seconds = stop // 1_000_000 - start // 1_000_000
            return seconds, stop // 1000 - start // 1000, stop - start

        created = p.created
        duration = span(created, end, True)
        bill = span(p.answered, end, bool(p.answered))
        progress = span(created, p.progress, bool(p.progress))
        answer = span(created, p.answered, bool(p.answered))
        wait = span(created, p.bridged, p.bridged > created)
        media = span(created, p.progress_media, bool(p.progress_media))
        flow = span(created, end, bool(p.answered))
        spans = (
            (("duration", "mduration", "uduration"), duration),
            (("billsec", "billmsec", "billusec"), bill),
            (("progresssec", "progressmsec", "progressusec"), progress),
            (("answersec", "answermsec", "answerusec"), answer),
            (("waitsec", "waitmsec", "waitusec"), wait),
            (("progress_mediasec", "progress_mediamsec", "progress_mediausec"), media),
            (("flow_billsec", "flow_billmsec", "flow_billusec"), flow),
        )
        for unit in range(3):
            for names, values in spans:
                self.set_variable(names[unit], str(values[unit]))

    def archive_profile(self) -> None:
        """Keep the current caller profile as it is now for ``KZ_CDR``'s callflow, before
        a transfer gives the channel a new one (without originator or originatee)."""
        self.past_profiles.insert(0, _callflow_entry(self, attrs.evolve(self.profile)))
        self.originator_profile = self.originatee_profile = None
        self.other_leg = None
        # switch_ivr_session_transfer: the new profile is a clone of the old one.
        self.profile.cloned()

    def set_other_leg(self, kind: str, other: Channel) -> None:
        """``switch_channel_set_originator_caller_profile`` (``kind`` ``originator``) or
        ``..._originatee_...``: a copy of ``other``'s profile as it is now."""
        data = _profile_data(other, other.profile)
        if kind == "originator":
            self.originator_profile = data
        else:
            self.originatee_profile = data
        self.other_leg = OtherLeg(
            kind, attrs.evolve(other.profile), other.direction, other.uuid, other.name
        )

    def sort_cid(self) -> None:
        """``switch_channel_sort_cid`` as an extension is set: an outbound channel's
        first one marks it as dialplan-driven (``CF_DIALPLAN``) and flips its ids."""
        if self.direction == "outbound" and not self.hit_dialplan:
            self.hit_dialplan = True
            self.flip_cid()

    def flip_cid(self) -> None:
        """``switch_channel_flip_cid``: the callee id becomes the caller id, and the
        caller id the callee id (cleared instead while bridged); ``CALL_UPDATE``."""
        p = self.profile
        p.keep_original()
        bridged = self.peer is not None
        name, number = p.caller_id_name, p.caller_id_number
        self.set_variable("pre_transfer_caller_id_name", name)
        p.caller_id_name = p.callee_id_name
        p.callee_id_name = "" if bridged else name
        self.set_variable("pre_transfer_caller_id_number", number)
        p.caller_id_number = p.callee_id_number
        p.callee_id_number = "" if bridged else number
        self.set_variable("channel_cid_flipped", "yes")
        self.callee_direction = "RECV"
        sw = self.sw
        if not sw.event_wanted("CALL_UPDATE"):
            sw.skip_event()
            return
        partner = self.variables.get("signal_bond") or self.variables.get("originate_signal_bond")
        # Its own headers come before the channel data here.
        headers = [("Direction", "RECV"), ("Bridged-To", partner or ""), *self.event_headers()]
        sw.fire(sw.new_event("CALL_UPDATE", headers=headers, origin=_ORIGIN_FLIP))

    def hold(self, on: bool) -> bool:
        """``switch_ivr_hold`` / ``switch_ivr_unhold``; ``False`` when refused.

        The call state decides, not the hold flag: a call already ``HELD`` cannot be held
        again, one not ``HELD`` cannot be unheld.  Only mod_sofia marks its leg as
        holding on the hold indication (``CF_LEG_HOLDING``), which makes an answered
        call ``HELD`` (and ``UNHELD`` after); other endpoints' calls stay ``ACTIVE``, so
        they can be held again and again (a ``CHANNEL_HOLD`` each time) and never unheld.
        """
        if not self.up:
            return False
        holding = self.name.startswith("sofia/")
        now = self.sw.clock.wall_us()
        if on:
            if self.callstate == "HELD":
                return False
            self.held = True
            if holding and self.answered:
                self.profile.last_hold = now
                self.set_callstate("HELD")
            self.fire("CHANNEL_HOLD", origin=_ORIGIN_HOLD)
            return True
        if self.callstate != "HELD":
            return False
        self.held = False
        if holding:
            self.profile.hold_accum += max(0, now - self.profile.last_hold)
            self.set_callstate("UNHELD")
        self.fire("CHANNEL_UNHOLD", origin=_ORIGIN_UNHOLD)
        return True

    def dtmf(self, digits: str, duration: int = 2000) -> int:
        """Receive DTMF: one ``DTMF`` event per valid digit; the count."""
        sent = 0
        for digit in digits:
            if digit.upper() in "0123456789*#ABCDW" and self.up:
                self.fire(
                    "DTMF",
                    [("DTMF-Digit", digit.upper()), ("DTMF-Duration", str(duration)),
                     ("DTMF-Source", "APP")],
                )  # fmt: skip
                sent += 1
                self.digits += digit.upper()
        if sent:
            self.digit_arrived.set()
            self.digit_arrived = Flag()
        return sent


def bridge(a: Channel, b: Channel, kind: str) -> None:
    """Join ``a`` (originator) and ``b`` (originatee): ``CHANNEL_BRIDGE`` on the originator."""
    now = a.sw.clock.wall_us()
    if kind == "uuid":
        # switch_ivr_uuid_bridge: an outbound originator not yet given an extension
        # flips its ids; an outbound originatee is no longer dialplan-driven.
        if a.direction == "outbound" and not a.hit_dialplan:
            a.flip_cid()
            a.hit_dialplan = True
        if b.direction == "outbound":
            b.hit_dialplan = False
    a.peer, b.peer = b, a
    a.other_type, b.other_type = "originatee", "originator"
    # Each profile keeps a copy of the other's: switch_ivr_uuid_bridge sets them; the
    # bridge application's legs have theirs from the originate already.
    if kind != "app" or a.originatee_profile is None:
        a.set_other_leg("originatee", b)
    if kind != "app" or b.originator_profile is None:
        b.set_other_leg("originator", a)
    a.profile.bridged = b.profile.bridged = now
    for ch, other in ((a, b), (b, a)):
        ch.set_variable("bridge_uuid", other.uuid)
        ch.set_variable("signal_bond", other.uuid)
        ch.set_variable("last_bridge_to", other.uuid)
        ch.bridge_kind = kind
        ch.profile.callee_id_name = ch.profile.callee_id_name or other.profile.caller_id_name
        ch.profile.callee_id_number = ch.profile.callee_id_number or other.profile.caller_id_number
    a.fire(
        "CHANNEL_BRIDGE",
        [("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)],
    )
    # switch_ivr_bridge_display: each leg is shown who it is connected to.
    _send_display(a, b, originator=True)
    _send_display(b, a, originator=False)


def _send_display(sender: Channel, receiver: Channel, *, originator: bool) -> None:
    """``send_display``: the display ``sender`` sends ``receiver`` as the bridge starts
    (the originator shows the peer's caller id, the originatee its own callee id).
    The receiver notes it (``last_sent_callee_id_*``); unless it ignores display
    updates, mod_loopback's legs pass it to their other leg, the -b leg as that leg's
    caller id, the -a leg as its callee id."""
    mine, theirs = sender.profile, receiver.profile
    if originator:
        name = theirs.caller_id_name or mine.caller_id_name
        number = theirs.caller_id_number or mine.caller_id_number or "UNKNOWN"
    else:
        name = mine.callee_id_name
        number = mine.callee_id_number or mine.destination_number
    name = (name or number).rpartition("/")[2]
    number = number.rpartition("/")[2]
    last = (
        receiver.variables.get("last_sent_callee_id_name"),
        receiver.variables.get("last_sent_callee_id_number"),
    )
    receiver.set_variable("last_sent_callee_id_name", name)
    receiver.set_variable("last_sent_callee_id_number", number)
    # Only mod_sofia reports a display it passes on (SWITCH_MESSAGE_INDICATE_DISPLAY in
    # mod_sofia.c): an answered leg, not the same id again; other endpoints fire nothing.
    if receiver.name.startswith("sofia/") and receiver.answered and last != (name, number):
        receiver.callee_direction = "SEND"
        receiver.fire(
            "CALL_UPDATE",
            [
                ("Direction", "SEND"),
                ("Sent-Callee-ID-Name", name),
                ("Sent-Callee-ID-Number", number),
                *([("Bridged-To", receiver.peer.uuid)] if receiver.peer else []),
            ],
        )
    other = receiver.loopback
    leg = receiver.variables.get("loopback_leg")
    if other is None or leg not in ("A", "B"):
        return
    if true(receiver.variables.get("ignore_display_updates")):
        return
    p = other.profile
    if leg == "B":
        p.keep_original()
        p.caller_id_name = name or p.caller_id_name
        p.caller_id_number = number or p.caller_id_number
    else:
        p.callee_id_name = name or p.callee_id_name
        p.callee_id_number = number or p.callee_id_number


def unbridge(a: Channel, b: Channel) -> None:
    """End the bridge between ``a`` and ``b``: ``CHANNEL_UNBRIDGE`` on the originator."""
    if a.peer is not b:
        return
    originator = a if a.other_type == "originatee" else b
    other = b if originator is a else a
    originator.fire(
        "CHANNEL_UNBRIDGE",
        [("Bridge-A-Unique-ID", originator.uuid), ("Bridge-B-Unique-ID", other.uuid)],
    )
    for ch in (a, b):
        ch.peer = None
        ch.other_type = ""
        ch.set_variable("bridge_uuid", None)
        ch.set_variable("signal_bond", None)
    a.bridge_kind = b.bridge_kind = ""
    for ch in (a, b):
        if ch.bridge_scope is not None:
            ch.bridge_scope.cancel()


def true(value: str | None) -> bool:
    """``switch_true``."""
    return value is not None and value.lower() in (
        "yes",
        "on",
        "true",
        "t",
        "enabled",
        "1",
        "allow",
        "active",
    )


def _q850(cause: str) -> int:
    code = cause_code(cause)
    return code if code <= 127 else 16


def _profile_data(channel: Channel, p: CallerProfile) -> ProfileData:
    outbound = channel.direction == "outbound"
    return ProfileData(
        username=p.username, dialplan=p.dialplan, ani=p.ani, aniii=p.aniii,
        caller_id_name=p.caller_id_name, caller_id_number=p.caller_id_number,
        orig_caller_id_name=p.original_name, orig_caller_id_number=p.original_number,
        network_addr=p.network_addr, rdnis=p.rdnis, destination_number=p.destination_number,
        callee_id_name=p.callee_id_name, callee_id_number=p.callee_id_number, uuid=channel.uuid,
        source=p.source, context=p.context, chan_name=channel.name,
        transfer_source=p.transfer_source, outbound=outbound, logical_outbound=outbound,
        profile_uuid=p.uuid_str, clone_of=p.clone_of,
    )  # fmt: skip


def _callflow_entry(channel: Channel, p: CallerProfile) -> CallflowProfile:
    times = ProfileTimes(
        created=p.created, profile_created=p.profile_created, progress=p.progress,
        progress_media=p.progress_media, answered=p.answered, bridged=p.bridged,
        last_hold=p.last_hold, hold_accum=p.hold_accum, hungup=p.hungup,
        transferred=p.transferred,
    )  # fmt: skip
    return CallflowProfile(
        _profile_data(channel, p),
        profile_index=str(p.profile_index),
        times=times,
        originator=channel.originator_profile,
        originatee=channel.originatee_profile,
    )


def _kz_cdr_headers(channel: Channel) -> list[tuple[str, str]]:
    """``KZ_CDR``'s ``_json_*`` headers: the caller profiles, newest first, each with
    the other leg's profile it was bridged to; no media statistics."""
    callflow = [_callflow_entry(channel, channel.profile), *channel.past_profiles]
    return kz_cdr_headers(app_log=channel.app_log, callflow=callflow, variables=channel.variables)
