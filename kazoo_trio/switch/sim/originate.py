"""``originate`` and the dial strings of ``bridge`` (``switch_ivr_originate``).

Dial string: ``{var=val,...}`` for every leg, then groups separated by ``|``
(tried one after the other) of legs separated by ``,`` (rung at once; the first to
answer wins, the others hang up with ``LOSE_RACE``); each leg may start with
``[var=val,...]``.  Legs not answered within ``originate_timeout`` /
``leg_timeout`` / the command's timeout (60 s) hang up with ``NO_ANSWER``.
Layer: above :mod:`.endpoints`.
"""

from __future__ import annotations

import logging

import attrs
import trio

from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.separate import separate_string
from kazoo_trio.switch.sim.channel import Channel, ChannelHost, SwitchNotRunning
from kazoo_trio.switch.sim.endpoints import create_leg
from kazoo_trio.switch.sim.profile import CallerProfile
from kazoo_trio.switch.sim.session import app_action, transfer_action

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
    for name in ("leg_timeout", "originate_timeout", "call_timeout"):
        value = variables.get(name)
        if value and value.isdigit() and int(value) > 0:
            return float(value)
    return default


def _profile_for(leg: DialLeg, originator: Channel | None, cid: tuple[str, str]) -> CallerProfile:
    v = leg.variables
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
        context, dialplan = base.context, base.dialplan
    else:
        name = v.get("origination_caller_id_name") or cid[0]
        number = v.get("origination_caller_id_number") or cid[1]
        context, dialplan = "default", "XML"
    dest = leg.url.partition("/")[2].split("@")[0].split("/")[0]
    return CallerProfile(
        caller_id_name=name,
        caller_id_number=number,
        callee_id_name=v.get("origination_callee_id_name", "Outbound Call"),
        callee_id_number=v.get("origination_callee_id_number", dest),
        destination_number=dest,
        context=context,
        dialplan=dialplan,
        ani=number,
    )


async def originate_legs(
    sw: ChannelHost,
    dialstring: str,
    *,
    originator: Channel | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    cid: tuple[str, str] = ("FreeSWITCH", "0000000000"),
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
            return outcome
        cause = outcome.cause
        if originator is not None and not originator.up:
            break
    return Outcome(None, cause)


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
            group_timeout = min(group_timeout, _timeout(leg.variables, timeout))
            if action is None:
                # Started (and answered) by its endpoint, as kz/ does.
                channels.append(channel)
                continue
            uuid = variables.get("origination_uuid")
            if uuid and uuid not in sw.channels:
                channel.uuid = uuid
                channel.call_uuid = uuid
                channel.set_variable("uuid", uuid)
            if originator is not None:
                channel.call_uuid = originator.uuid
                channel.set_variable("originating_leg_uuid", originator.uuid)
            try:
                await sw.start_channel(channel, action)
            except SwitchNotRunning:
                return Outcome(None, "NORMAL_TEMPORARY_FAILURE")
            channels.append(channel)
        if not channels:
            return Outcome(None, cause)
        with trio.move_on_after(group_timeout):
            winner = await _first_answer(channels)
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
    cid_name = argv[4] if len(argv) > 4 and argv[4] != "undef" else "FreeSWITCH"
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
        channel.redirect(app_action(name, arg))
    else:
        channel.redirect(transfer_action(exten, dialplan or "XML", context or "default"))
    return ApiOutput(f"+OK {channel.uuid}\n")
