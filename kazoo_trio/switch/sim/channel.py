"""A simulated channel: FreeSWITCH's channel state, call state, caller profile and
variables, and the events a channel fires as they change.

Every method here is synchronous: state changes fire their events on the switch's bus
at once, in FreeSWITCH's order.  What a channel *does* over time (ringing, routing,
running applications) lives in :mod:`.session`, the channel's task.
"""

from __future__ import annotations

import math
import uuid as uuidlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs
import trio

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.expand import expand_variables
from kazoo_trio.switch.sim.causes import CALL_STATES, CHANNEL_STATES, cause_code
from kazoo_trio.switch.sim.events import EventOrigin

if TYPE_CHECKING:
    from kazoo_trio.switch.sim.core import SimSwitch

__all__ = ["CallerProfile", "Channel", "bridge", "true", "unbridge"]

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


@attrs.define
class CallerProfile:
    """``switch_caller_profile_t``: who calls whom, and the channel's time table (µs)."""

    caller_id_name: str = ""
    caller_id_number: str = ""
    destination_number: str = ""
    context: str = "default"
    dialplan: str = "XML"
    username: str = ""
    network_addr: str = ""
    ani: str = ""
    aniii: str = ""
    rdnis: str = ""
    source: str = "mod_sim"
    transfer_source: str = ""
    callee_id_name: str = ""
    callee_id_number: str = ""
    orig_caller_id_name: str = ""
    orig_caller_id_number: str = ""
    profile_index: int = 1
    profile_created: int = 0
    created: int = 0
    answered: int = 0
    progress: int = 0
    progress_media: int = 0
    hungup: int = 0
    transferred: int = 0
    bridged: int = 0
    last_hold: int = 0
    hold_accum: int = 0

    def fields(self) -> dict[str, str]:
        """What ``${...}`` and dialplan conditions read (``switch_caller_get_field_by_name``)."""
        return {
            "dialplan": self.dialplan,
            "username": self.username,
            "caller_id_name": self.caller_id_name,
            "caller_id_number": self.caller_id_number,
            "callee_id_name": self.callee_id_name,
            "callee_id_number": self.callee_id_number,
            "ani": self.ani,
            "aniii": self.aniii,
            "network_addr": self.network_addr,
            "rdnis": self.rdnis,
            "destination_number": self.destination_number,
            "source": self.source,
            "context": self.context,
        }

    def headers(self, prefix: str, direction: str, uuid: str, name: str) -> list[tuple[str, str]]:
        """``switch_caller_profile_event_set_data`` with ``prefix`` (``Caller``, ``Hunt``...)."""
        p = prefix
        return [
            (f"{p}-Direction", direction),
            (f"{p}-Logical-Direction", direction),
            (f"{p}-Username", self.username),
            (f"{p}-Dialplan", self.dialplan),
            (f"{p}-Caller-ID-Name", self.caller_id_name),
            (f"{p}-Caller-ID-Number", self.caller_id_number),
            (f"{p}-Orig-Caller-ID-Name", self.orig_caller_id_name or self.caller_id_name),
            (f"{p}-Orig-Caller-ID-Number", self.orig_caller_id_number or self.caller_id_number),
            (f"{p}-Callee-ID-Name", self.callee_id_name),
            (f"{p}-Callee-ID-Number", self.callee_id_number),
            (f"{p}-Network-Addr", self.network_addr),
            (f"{p}-ANI", self.ani),
            (f"{p}-ANI-II", self.aniii),
            (f"{p}-Destination-Number", self.destination_number),
            (f"{p}-Unique-ID", uuid),
            (f"{p}-Source", self.source),
            (f"{p}-Transfer-Source", self.transfer_source),
            (f"{p}-Context", self.context),
            (f"{p}-RDNIS", self.rdnis),
            (f"{p}-Channel-Name", name),
            (f"{p}-Profile-Index", str(self.profile_index)),
            (f"{p}-Profile-Created-Time", str(self.profile_created)),
            (f"{p}-Channel-Created-Time", str(self.created)),
            (f"{p}-Channel-Answered-Time", str(self.answered)),
            (f"{p}-Channel-Progress-Time", str(self.progress)),
            (f"{p}-Channel-Progress-Media-Time", str(self.progress_media)),
            (f"{p}-Channel-Hangup-Time", str(self.hungup)),
            (f"{p}-Channel-Transfer-Time", str(self.transferred)),
            (f"{p}-Channel-Resurrect-Time", "0"),
            (f"{p}-Channel-Bridged-Time", str(self.bridged)),
            (f"{p}-Channel-Last-Hold", str(self.last_hold)),
            (f"{p}-Channel-Hold-Accum", str(self.hold_accum)),
            (f"{p}-Screen-Bit", "true"),
            (f"{p}-Privacy-Hide-Name", "false"),
            (f"{p}-Privacy-Hide-Number", "false"),
        ]


@attrs.define(eq=False)
class Channel:
    """One leg of a call.

    ``state`` is the channel state (``CS_*``), ``callstate`` the call state,
    ``answer_state`` what ``Answer-State`` reports.  :meth:`hangup` is the only way a
    channel ends: it fires ``CHANNEL_HANGUP`` at once and cancels the channel's session,
    whose task then fires the rest (``CHANNEL_HANGUP_COMPLETE`` ... ``CHANNEL_DESTROY``).
    """

    sw: SimSwitch
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
    pending: object = None  # the next action after a redirect (see session.py)
    answered_event: trio.Event = attrs.field(factory=trio.Event)
    settled: trio.Event = attrs.field(factory=trio.Event)  # answered or hung up
    destroyed: trio.Event = attrs.field(factory=trio.Event)
    recordings: list[str] = attrs.field(factory=list)
    exported: dict[str, str] = attrs.field(factory=dict)
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
        self.sw.fire(
            self.new_event(name, extra, subclass=subclass, origin=origin or EventOrigin.caller())
        )

    # -- state ------------------------------------------------------------------------

    def fire_create(self) -> None:
        """The state machine's start: ``CHANNEL_STATE CS_INIT``, then ``CHANNEL_CREATE``
        (and ``CHANNEL_ORIGINATE`` for an outbound channel) in the ``CS_INIT`` handler."""
        self.state = "CS_INIT"
        self.fire("CHANNEL_STATE", origin=_ORIGIN_STATE)
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
                from kazoo_trio.switch.sim.session import park_action

                peer.redirect(park_action)
            else:
                peer.hangup("NORMAL_CLEARING")

    def redirect(self, action: object, *, keep_bridge: bool = False) -> None:
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
        self.fire("CUSTOM", subclass="KZ_CDR", origin=_ORIGIN_KZ_CDR)
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
        return sent


def bridge(a: Channel, b: Channel, kind: str) -> None:
    """Join ``a`` (originator) and ``b`` (originatee): ``CHANNEL_BRIDGE`` on the originator."""
    now = a.sw.clock.wall_us()
    a.peer, b.peer = b, a
    a.other_type, b.other_type = "originatee", "originator"
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
