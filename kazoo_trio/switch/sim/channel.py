"""A simulated channel: FreeSWITCH's channel state, call state, caller profile and
variables, and the events a channel fires as they change.

Every method here is synchronous: state changes fire their events on the switch's bus
at once, in FreeSWITCH's order.  What a channel *does* over time (ringing, routing,
running applications) lives in :mod:`.session`, the channel's task.

The call layer (this module, then :mod:`.dialplan`, :mod:`.session`, :mod:`.endpoints`,
:mod:`.originate`, :mod:`.applications`, :mod:`.traffic`) never imports the core: it
reaches the switch through :class:`ChannelHost`, which the core implements.
Layer: above :mod:`.events`, :mod:`.causes`, :mod:`.clock`, :mod:`.channels`,
:mod:`.profile` (and :mod:`kazoo_trio.switch.kz.cdr`, for ``KZ_CDR``).
"""

from __future__ import annotations

import enum
import math
import uuid as uuidlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

import attrs
import trio

from kazoo_trio.errors import RuntimeFailure
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.expand import expand_variables
from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.kz.cdr import (
    KZ_CDR,
    AppLogEntry,
    CallflowProfile,
    ProfileData,
    ProfileTimes,
    kz_cdr_headers,
)
from kazoo_trio.switch.protocol import SwitchIdentity
from kazoo_trio.switch.sim.causes import CALL_STATES, CHANNEL_STATES, cause_code
from kazoo_trio.switch.sim.channels import ChannelRegistry
from kazoo_trio.switch.sim.clock import Clock, SimTimings
from kazoo_trio.switch.sim.profile import CallerProfile

__all__ = [
    "Action",
    "Application",
    "Channel",
    "ChannelHost",
    "Endpoint",
    "Leg",
    "Next",
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
_ORIGIN_KZ_CDR = EventOrigin("kazoo_cdr.c", "kz_cdr_event_handler", 436)

_CODEC = [
    ("Channel-Read-Codec-Name", "PCMU"),
    ("Channel-Read-Codec-Rate", "8000"),
    ("Channel-Read-Codec-Bit-Rate", "64000"),
    ("Channel-Write-Codec-Name", "PCMU"),
    ("Channel-Write-Codec-Rate", "8000"),
    ("Channel-Write-Codec-Bit-Rate", "64000"),
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

    def event_wanted(self, name: str, subclass: str | None = None) -> bool:
        """Whether an event ``name`` (a core event name) would reach any listener."""
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
    uuid: str = attrs.field(factory=lambda: str(uuidlib.uuid4()))
    state: str = "CS_NEW"
    callstate: str = "DOWN"
    answer_state: str = "ringing"
    hangup_cause: str | None = None
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
    # The session: its scope (cancelled by hangup), the scope of what it is doing now
    # (cancelled by a redirect), the scope of an interruptible application (uuid_break).
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    work_scope: trio.CancelScope | None = None
    break_scope: trio.CancelScope | None = None
    bridge_scope: trio.CancelScope | None = None  # the bridge application's wait
    pending: Action | Next | None = None  # what the session runs after a redirect
    answered_event: trio.Event = attrs.field(factory=trio.Event)
    settled: trio.Event = attrs.field(factory=trio.Event)  # answered or hung up
    destroyed: trio.Event = attrs.field(factory=trio.Event)
    recordings: list[str] = attrs.field(factory=list)
    exported: dict[str, str] = attrs.field(factory=dict)
    app_log: list[AppLogEntry] = attrs.field(factory=list)  # what KZ_CDR reports
    # Run once in CS_HANGUP (state handlers' on_hangup a module adds to this channel).
    hangup_hooks: list[Callable[[], None]] = attrs.field(factory=list)
    # The current caller profile's originator/originatee (the other leg's profile when
    # bridged), and the profiles a transfer replaced, newest first (what KZ_CDR reports).
    originator_profile: ProfileData | None = None
    originatee_profile: ProfileData | None = None
    past_profiles: list[CallflowProfile] = attrs.field(factory=list)
    # Digits received and not yet collected by an application (the DTMF queue), and
    # an event set (then replaced) each time one arrives.
    digits: str = ""
    digit_arrived: trio.Event = attrs.field(factory=trio.Event)
    _private_send: trio.MemorySendChannel[Event] = attrs.field(init=False)
    private_receive: trio.MemoryReceiveChannel[Event] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._private_send, self.private_receive = trio.open_memory_channel[Event](
            PRIVATE_QUEUE_SIZE
        )
        now = self.sw.clock.wall_us()
        self.profile.created = self.profile.created or now
        self.profile.profile_created = self.profile.profile_created or now
        self.call_uuid = self.call_uuid or self.uuid
        self.variables = {"direction": self.direction, "uuid": self.uuid, **self.variables}

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
        headers = [
            ("Channel-State", self.state),
            ("Channel-Call-State", self.callstate),
            ("Channel-State-Number", str(CHANNEL_STATES.index(self.state))),
            ("Channel-Name", self.name),
            ("Unique-ID", self.uuid),
            ("Call-Direction", self.direction),
            ("Presence-Call-Direction", self.direction),
            ("Channel-HIT-Dialplan", "true" if self.hit_dialplan else "false"),
            ("Channel-Presence-ID", self.variables.get("presence_id", "")),
            ("Channel-Call-UUID", self.call_uuid),
            ("Answer-State", self.answer_state),
        ]
        if self.hangup_cause is not None:
            headers.append(("Hangup-Cause", self.hangup_cause))
        headers += _CODEC
        headers += self.profile.headers("Caller", self.direction, self.uuid, self.name)
        peer = self.peer
        if peer is not None and self.other_type:
            headers.append(("Other-Type", self.other_type))
            headers += peer.profile.headers("Other-Leg", peer.direction, peer.uuid, peer.name)
        headers += [(f"variable_{k}", v) for k, v in self.variables.items()]
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
            self.variables[name] = value
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
        await self._private_send.send(event)

    def queue_nowait(self, event: Event) -> bool:
        """Queue a private event without waiting; ``False`` when full or hung up."""
        if not self.up:
            return False
        try:
            self._private_send.send_nowait(event)
        except (trio.WouldBlock, trio.ClosedResourceError):
            return False
        return True

    def close_private(self) -> None:
        self._private_send.close()

    # -- events -----------------------------------------------------------------------

    def new_event(
        self,
        name: str,
        extra: Iterable[tuple[str, str]] = (),
        *,
        subclass: str | None = None,
        origin: EventOrigin | None = None,
    ) -> Event:
        headers = self.event_headers()
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
    ) -> None:
        sw = self.sw
        if not sw.event_wanted(name, subclass):
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
        self.set_callstate("RINGING")
        self.fire("CHANNEL_PROGRESS", origin=_ORIGIN_RING)

    def pre_answer(self) -> None:
        """``switch_channel_mark_pre_answered``: early media, ``CHANNEL_PROGRESS_MEDIA``."""
        if not self.up or self.answer_state != "ringing":
            return
        self.profile.progress_media = self.sw.clock.wall_us()
        self.answer_state = "early"
        self.set_variable("endpoint_disposition", "EARLY MEDIA")
        self.set_callstate("EARLY")
        self.fire("CHANNEL_PROGRESS_MEDIA", origin=_ORIGIN_PRE_ANSWER)
        other = self.loopback
        if other is not None and self.variables.get("loopback_leg") == "B":
            other.pre_answer()

    def answer(self) -> bool:
        """``switch_channel_mark_answered``: ``ACTIVE`` and ``CHANNEL_ANSWER`` (once)."""
        if not self.up:
            return False
        if self.answered:
            return True
        self.profile.answered = self.sw.clock.wall_us()
        self.answer_state = "answered"
        self.set_variable("endpoint_disposition", "ANSWER")
        self.set_callstate("ACTIVE")
        self.fire("CHANNEL_ANSWER", origin=_ORIGIN_ANSWER)
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
        self.state = "CS_HANGUP"
        if not self.answered:
            self.set_variable("endpoint_disposition", _disposition(cause))
        self.answer_state = "hangup"
        # As switch_channel_perform_hangup: the event now, the call state and the
        # hangup_cause variables later, in the session's CS_HANGUP handler (finish).
        self.fire("CHANNEL_HANGUP", origin=_ORIGIN_HANGUP)
        self.leave_bridge()
        other = self.loopback
        if other is not None and other.up:
            other.hangup(cause if not other.answered else "NORMAL_CLEARING")
        self.settled.set()
        self.scope.cancel()
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
        # switch_core_session_reporting_state puts Hangup-Cause before the channel data.
        headers = [("Hangup-Cause", self.hangup_cause or "NONE"), *self.event_headers()]
        self.sw.fire(
            self.sw.new_event(
                "CHANNEL_HANGUP_COMPLETE", headers=headers, origin=_ORIGIN_HANGUP_COMPLETE
            )
        )
        # mod_kazoo's reporting handler: its _json_* headers before the channel data.
        cdr = [*_kz_cdr_headers(self), *self.event_headers()]
        self.sw.fire(
            self.sw.new_event("CUSTOM", subclass=KZ_CDR, headers=cdr, origin=_ORIGIN_KZ_CDR)
        )
        self.set_state("CS_DESTROY")
        self.fire("CHANNEL_DESTROY", origin=_ORIGIN_DESTROY)
        self.sw.channels.remove(self.uuid)
        self.destroyed.set()
        self.settled.set()

    def _set_timestamps(self) -> None:
        """``switch_channel_set_timestamps``: the CDR variables."""
        p = self.profile
        end = p.hungup or self.sw.clock.wall_us()
        duration_us = max(0, end - p.created)
        bill_us = max(0, end - p.answered) if p.answered else 0
        self.set_variable("start_epoch", str(p.created // 1_000_000))
        self.set_variable("start_uepoch", str(p.created))
        if p.answered:
            self.set_variable("answer_epoch", str(p.answered // 1_000_000))
            self.set_variable("answer_uepoch", str(p.answered))
        self.set_variable("end_epoch", str(end // 1_000_000))
        self.set_variable("end_uepoch", str(end))
        self.set_variable("duration", str(math.floor(duration_us / 1_000_000)))
        self.set_variable("uduration", str(duration_us))
        self.set_variable("billsec", str(bill_us // 1_000_000))
        self.set_variable("billusec", str(bill_us))
        self.set_variable("billmsec", str(bill_us // 1000))

    def archive_profile(self) -> None:
        """Keep the current caller profile as it is now for ``KZ_CDR``'s callflow, before
        a transfer gives the channel a new one (without originator or originatee)."""
        self.past_profiles.insert(0, _callflow_entry(self, attrs.evolve(self.profile)))
        self.originator_profile = self.originatee_profile = None

    def hold(self, on: bool) -> None:
        """``CHANNEL_HOLD`` / ``CHANNEL_UNHOLD`` and the ``HELD`` call state."""
        if not self.up or on == self.held:
            return
        now = self.sw.clock.wall_us()
        self.held = on
        if on:
            self.profile.last_hold = now
            self.set_callstate("HELD")
            self.fire("CHANNEL_HOLD")
        else:
            self.profile.hold_accum += max(0, now - self.profile.last_hold)
            self.set_callstate("ACTIVE" if self.answered else "RINGING")
            self.fire("CHANNEL_UNHOLD")

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
            self.digit_arrived = trio.Event()
        return sent


def bridge(a: Channel, b: Channel, kind: str) -> None:
    """Join ``a`` (originator) and ``b`` (originatee): ``CHANNEL_BRIDGE`` on the originator."""
    now = a.sw.clock.wall_us()
    a.peer, b.peer = b, a
    a.other_type, b.other_type = "originatee", "originator"
    # switch_ivr_multi_threaded_bridge: each profile keeps a copy of the other's.
    a.originatee_profile = _profile_data(b, b.profile)
    b.originator_profile = _profile_data(a, a.profile)
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
    for ch in (a, b):
        ch.fire("CALL_UPDATE", [("Direction", "SEND"), ("Callee-Name", ch.profile.callee_id_name),
                                ("Callee-Number", ch.profile.callee_id_number),
                                ("Bridged-To", ch.peer.uuid if ch.peer else "")])  # fmt: skip


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


def _disposition(cause: str) -> str:
    return {"ORIGINATOR_CANCEL": "ORIGINATOR_CANCEL", "NO_ANSWER": "NO ANSWER"}.get(cause, cause)


def _profile_data(channel: Channel, p: CallerProfile) -> ProfileData:
    outbound = channel.direction == "outbound"
    return ProfileData(
        username=p.username, dialplan=p.dialplan, ani=p.ani, aniii=p.aniii,
        caller_id_name=p.caller_id_name, caller_id_number=p.caller_id_number,
        orig_caller_id_name=p.orig_caller_id_name or p.caller_id_name,
        orig_caller_id_number=p.orig_caller_id_number or p.caller_id_number,
        network_addr=p.network_addr, rdnis=p.rdnis, destination_number=p.destination_number,
        callee_id_name=p.callee_id_name, callee_id_number=p.callee_id_number, uuid=channel.uuid,
        source=p.source, context=p.context, chan_name=channel.name,
        transfer_source=p.transfer_source, outbound=outbound, logical_outbound=outbound,
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
