"""``originate`` and the dial strings of ``bridge`` (``switch_ivr_originate``).

Dial string: ``{var=val,...}`` for every leg, then groups separated by ``|``
(tried one after the other) of legs separated by ``,`` (rung at once; the first to
answer wins, the others hang up with ``LOSE_RACE``); each leg may start with
``[var=val,...]``.  Legs not answered within ``originate_timeout`` /
``call_timeout`` / the command's timeout (60 s) hang up with ``NO_ANSWER``; a leg
past its own ``leg_timeout`` hangs up with ``ALLOTTED_TIMEOUT``.
Layer: above :mod:`.endpoints`.
"""

from __future__ import annotations

import logging
import re

import attrs
import trio

from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.separate import separate_string
from kazoo_trio.switch.sim.channel import Channel, ChannelHost, SwitchNotRunning, true
from kazoo_trio.switch.sim.endpoints import create_leg
from kazoo_trio.switch.sim.profile import CallerProfile, sanitize_number
from kazoo_trio.switch.sim.session import app_action, transfer_action
from kazoo_trio.uuids import uuid4_str

__all__ = [
    "ORIGINATE_SYNTAX",
    "DialLeg",
    "Outcome",
    "originate_command",
    "originate_legs",
    "parse_dialstring",
]

log = logging.getLogger(__name__)

ORIGINATE_SYNTAX = (
    "<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] "
    "[<cid_name>] [<cid_num>] [<timeout_sec>]"
)
DEFAULT_TIMEOUT = 60.0


@attrs.frozen
class DialLeg:
    url: str
    variables: dict[str, str]


@attrs.frozen
class Outcome:
    """The answered leg, or ``None`` and the cause FreeSWITCH reports."""

    channel: Channel | None
    cause: str = "SUCCESS"


def _split_outside(text: str, delims: str) -> list[tuple[str, str]]:
    """Split on any of ``delims`` outside ``{}``/``[]``/``<>``/quotes: (piece, delimiter before)."""
    pieces: list[tuple[str, str]] = []
    depth = 0
    quote = ""
    start = 0
    before = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch == "'":
            quote = ch
        elif ch in "{[<":
            depth += 1
        elif ch in "}]>":
            depth = max(0, depth - 1)
        elif depth == 0 and ch in delims:
            pieces.append((text[start:i], before))
            before = ch
            start = i + 1
    pieces.append((text[start:], before))
    return pieces


def _parse_vars(body: str) -> dict[str, str]:
    found: dict[str, str] = {}
    delimiter = ","
    # "^^<c>" first: the variables are separated by <c> instead (values with commas).
    if body.startswith("^^") and len(body) > 2:
        delimiter, body = body[2], body[3:]
    for part, _ in _split_outside(body, delimiter):
        name, eq, value = part.partition("=")
        if name.strip() and eq:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == "'":
                value = value[1:-1]
            found[name.strip()] = value
    return found


def _take_vars(text: str, opening: str, closing: str) -> tuple[dict[str, str], str]:
    text = text.strip()
    if text.startswith(opening):
        end = text.find(closing)
        if end > 0:
            return _parse_vars(text[1:end]), text[end + 1 :].strip()
    return {}, text


def parse_dialstring(text: str) -> list[list[DialLeg]]:
    """Groups (tried in order) of legs (rung together)."""
    global_vars: dict[str, str] = {}
    rest = text.strip()
    while rest[:1] in ("{", "<"):
        found, after = _take_vars(rest, rest[0], "}" if rest[0] == "{" else ">")
        if after == rest:
            break
        global_vars.update(found)
        rest = after
    groups: list[list[DialLeg]] = []
    for group_text, _ in _split_outside(rest, "|"):
        legs = []
        for leg_text, _ in _split_outside(group_text.replace(":_:", ","), ","):
            local, url = _take_vars(leg_text, "[", "]")
            if url:
                legs.append(DialLeg(url, {**global_vars, **local}))
        if legs:
            groups.append(legs)
    return groups


def _timeout(variables: dict[str, str], default: float) -> float:
    """The whole originate's time limit: past it every leg still ringing hangs up
    ``NO_ANSWER`` (IDX_TIMEOUT)."""
    for name in ("originate_timeout", "call_timeout"):
        value = variables.get(name)
        if value and value.isdigit() and int(value) > 0:
            return float(value)
    return default


def _leg_timeout(variables: dict[str, str]) -> float | None:
    """A leg's own limit (``leg_timeout``, atoi > 0): past it that leg hangs up
    ``ALLOTTED_TIMEOUT`` (check_per_channel_timeouts), and an originate whose legs all
    went that way fails with that cause."""
    found = re.match(r"\s*([+-]?\d+)", variables.get("leg_timeout") or "")
    seconds = int(found.group(1)) if found else 0
    return float(seconds) if seconds > 0 else None


def _early_ok(variables: dict[str, str], originator: Channel | None) -> str:
    """``oglobals.early_ok`` when the legs are made (``originate_early_media``): early
    media ends the originate unless the caller is a transfer zombie,
    ``group_confirm_early_ok`` says otherwise, or early media is bridged or ignored."""
    ok = not (originator is not None and true(originator.variables.get("originate_xfer_zombie")))
    group = variables.get("group_confirm_early_ok")
    if group is not None:
        ok = true(group)
    if true(variables.get("bridge_early_media")):
        ok = False
    ignore = variables.get("ignore_early_media") or ""
    if true(ignore) or ignore in ("consume", "ring_ready"):
        ok = False
    return "true" if ok else "false"


async def _hang_up_after(channel: Channel, seconds: float) -> None:
    await trio.sleep(seconds)
    if channel.up and not channel.profile.answered:
        channel.hangup("ALLOTTED_TIMEOUT")


def _profile_for(leg: DialLeg, originator: Channel | None, cid: tuple[str, str]) -> CallerProfile:
    """The new leg's caller profile, as ``switch_ivr_originate`` makes it: a copy of the
    originator's, else a new one with the command's caller id (``SWITCH_DEFAULT_CLID_*``
    by default) and no dialplan; the callee is ``Outbound Call`` at the sanitized
    destination."""
    v = leg.variables
    data = leg.url.partition("/")[2]
    dest = data.split("@")[0].split("/")[0]
    if originator is not None:
        base = originator.profile
        name = (
            v.get("origination_caller_id_name")
            or v.get("effective_caller_id_name")
            or (base.caller_id_name)
        )
        number = (
            v.get("origination_caller_id_number")
            or v.get("effective_caller_id_number")
            or base.caller_id_number
        )
        profile = attrs.evolve(
            base, caller_id_name=name, caller_id_number=number, transfer_source="",
            profile_index=1, profile_created=0, created=0, answered=0, progress=0,
            progress_media=0, hungup=0, transferred=0, bridged=0, last_hold=0, hold_accum=0,
        )  # fmt: skip
        profile.orig_caller_id_name = base.original_name
        profile.orig_caller_id_number = base.original_number
        profile.ani = v.get("origination_ani") or base.ani or number
    else:
        name = v.get("origination_caller_id_name") or cid[0]
        number = v.get("origination_caller_id_number") or cid[1] or "0000000000"
        profile = CallerProfile(
            caller_id_name=name, caller_id_number=number, dialplan="", ani=number
        )
    profile.destination_number = dest
    profile.callee_id_name = v.get("origination_callee_id_name", "Outbound Call")
    profile.callee_id_number = v.get("origination_callee_id_number", sanitize_number(data))
    # Originate's outbound profile is a copy of its own; the endpoint gives the new leg
    # a clone of that (switch_caller_profile_clone in every outgoing_channel).
    profile.uuid_str = uuid4_str()
    profile.cloned()
    return profile


async def originate_legs(
    sw: ChannelHost,
    dialstring: str,
    *,
    originator: Channel | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    cid: tuple[str, str] = ("", "0000000000"),
    base_variables: dict[str, str] | None = None,
) -> Outcome:
    """Dial ``dialstring``; the first answered leg, or the failure cause.

    ``base_variables`` (an endpoint's ``var_event``) go to every leg under the dial
    string's own ``{}``/``[]`` variables.

    Cancelled (the originator hung up, the API request went away): every leg still
    ringing hangs up with ``ORIGINATOR_CANCEL``.
    """
    groups = parse_dialstring(dialstring)
    if not groups:
        return Outcome(None, "DESTINATION_OUT_OF_ORDER")
    cause = "NO_ROUTE_DESTINATION"
    if base_variables:
        groups = [
            [DialLeg(leg.url, {**base_variables, **leg.variables}) for leg in group]
            for group in groups
        ]
    for group in groups:
        outcome = await _ring_group(sw, group, originator, timeout, cid)
        if outcome.channel is not None:
            if originator is not None:
                _settle_originator(originator, outcome.channel)
            return outcome
        cause = outcome.cause
        if originator is not None and not originator.up:
            break
    return Outcome(None, cause)


def _settle_originator(originator: Channel, peer: Channel) -> None:
    """``switch_ivr_originate`` once ``peer`` answered: its callee id passes to the
    caller (``switch_channel_pass_callee_id``), which answers, then keeps a copy of
    the peer's profile as its originatee."""
    mine, theirs = originator.profile, peer.profile
    if theirs.callee_id_name:
        mine.callee_id_name = theirs.callee_id_name
    if theirs.callee_id_number:
        mine.callee_id_number = theirs.callee_id_number
    originator.answer()
    originator.set_other_leg("originatee", peer)


async def _ring_group(
    sw: ChannelHost,
    group: list[DialLeg],
    originator: Channel | None,
    timeout: float,
    cid: tuple[str, str],
) -> Outcome:
    channels: list[Channel] = []
    cause = "NORMAL_TEMPORARY_FAILURE"
    winner: Channel | None = None
    limits: list[tuple[Channel, float]] = []
    try:
        group_timeout = timeout
        for leg in group:
            variables = dict(originator.exported) if originator is not None else {}
            variables.update(leg.variables)
            made = await create_leg(
                sw, leg.url, variables, _profile_for(leg, originator, cid), originator
            )
            if isinstance(made, str):
                cause = made
                continue
            channel, action = made
            # switch_ivr_originate's var_event and the leg it made.
            channel.set_variable("originate_early_media", _early_ok(variables, originator))
            channel.set_variable("originate_endpoint", leg.url.partition("/")[0].lower())
            if originator is not None:
                # switch_core_session_outgoing_channel: the new leg keeps a copy of
                # its caller's profile as its originator.
                channel.set_other_leg("originator", originator)
            group_timeout = min(group_timeout, _timeout(leg.variables, timeout))
            leg_limit = _leg_timeout(leg.variables)
            if leg_limit is not None:
                limits.append((channel, leg_limit))
            if action is None:
                # Started (and answered) by its endpoint, as kz/ does.
                channels.append(channel)
                continue
            uuid = variables.get("origination_uuid")
            if uuid and uuid not in sw.channels:
                channel.uuid = uuid
                channel.call_uuid = uuid
                channel.set_variable("uuid", uuid)
                channel.set_variable("call_uuid", uuid)
                if channel.loopback is not None:
                    # mod_loopback names each leg to the other in channel_on_init,
                    # once the uuids are final.
                    channel.loopback.set_variable("other_loopback_leg_uuid", uuid)
            if originator is not None:
                channel.call_uuid = originator.uuid
                # switch_ivr_originate: the caller's call_uuid variable.
                channel.set_variable("call_uuid", originator.variables.get("call_uuid"))
                channel.set_variable("originating_leg_uuid", originator.uuid)
            try:
                await sw.start_channel(channel, action)
            except SwitchNotRunning:
                return Outcome(None, "NORMAL_TEMPORARY_FAILURE")
            channels.append(channel)
        if not channels:
            return Outcome(None, cause)
        with trio.move_on_after(group_timeout):
            async with trio.open_nursery() as timers:
                for channel, seconds in limits:
                    timers.start_soon(_hang_up_after, channel, seconds)
                winner = await _first_answer(channels)
                timers.cancel_scope.cancel()
        if winner is None:
            down = [c for c in channels if not c.up]
            if len(down) == len(channels):
                return Outcome(None, down[-1].hangup_cause or cause)
            for channel in channels:
                channel.hangup("NO_ANSWER")
            return Outcome(None, "NO_ANSWER")
        for channel in channels:
            if channel is not winner:
                channel.hangup("LOSE_RACE")
        return Outcome(winner)
    finally:
        if winner is None:
            for channel in channels:
                if channel.up:
                    channel.hangup("ORIGINATOR_CANCEL")


async def _first_answer(channels: list[Channel]) -> Channel | None:
    """The first channel to answer; ``None`` once every one has hung up unanswered."""
    send, receive = trio.open_memory_channel[Channel](len(channels))
    async with trio.open_nursery() as nursery:

        async def watch(channel: Channel) -> None:
            await channel.settled.wait()
            send.send_nowait(channel)

        for channel in channels:
            nursery.start_soon(watch, channel)
        for _ in channels:
            settled = await receive.receive()
            # Answered counts even if it hung up since (its originate still succeeded).
            if settled.profile.answered:
                nursery.cancel_scope.cancel()
                return settled
    return None


async def originate_command(sw: ChannelHost, args: str) -> ApiOutput:
    """``originate``: ``+OK <uuid>`` once a leg answers, else ``-ERR <CAUSE>``."""
    argv = separate_string(args, " ", 10) if args else []
    if len(argv) < 2:
        return ApiOutput(f"-USAGE: {ORIGINATE_SYNTAX}\n")
    url, exten = argv[0], argv[1]
    dialplan = argv[2] if len(argv) > 2 and argv[2] != "undef" else ""
    context = argv[3] if len(argv) > 3 and argv[3] != "undef" else ""
    # Unset: SWITCH_DEFAULT_CLID_NAME ("") and SWITCH_DEFAULT_CLID_NUMBER.
    cid_name = argv[4] if len(argv) > 4 and argv[4] != "undef" else ""
    cid_num = argv[5] if len(argv) > 5 and argv[5] != "undef" else "0000000000"
    timeout = DEFAULT_TIMEOUT
    if len(argv) > 6 and argv[6].isdigit() and int(argv[6]) > 0:
        timeout = float(argv[6])
    outcome = await originate_legs(sw, url, timeout=timeout, cid=(cid_name, cid_num))
    channel = outcome.channel
    if channel is None:
        return ApiOutput(f"-ERR {outcome.cause}\n")
    if exten.startswith("&") and len(exten) > 1:
        name, _, rest = exten[1:].partition("(")
        arg = rest[: rest.rfind(")")] if ")" in rest else rest
        channel.sort_cid()  # switch_channel_set_caller_extension
        channel.redirect(app_action(name, arg))
    else:
        channel.redirect(transfer_action(exten, dialplan or "XML", context or "default"))
    return ApiOutput(f"+OK {channel.uuid}\n")
