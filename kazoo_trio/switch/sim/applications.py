"""Dialplan applications of the simulated switch (mod_dptools'; mod_kazoo's ``kz_*`` are
:mod:`kazoo_trio.switch.kz`'s, registered by :mod:`.modkazoo`).

Each application is ``async def app(channel, data)``; ``data`` is already expanded.
An application reports its outcome in the channel variable
``current_application_response`` (the ``Application-Response`` of
``CHANNEL_EXECUTE_COMPLETE``).  Media is simulated: playback, recording and echo take
the time the switch's :class:`~kazoo_trio.switch.sim.clock.SimTimings` give them and
can be interrupted with ``uuid_break``; digits a caller "presses" come from the
channel variable ``sim_dtmf``.  :data:`APPLICATIONS` is the table the simulated switch
serves its sessions from.
Layer: above :mod:`.originate` (``bridge`` dials).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

import trio

from kazoo_trio.switch.separate import separate_string
from kazoo_trio.switch.sim.causes import parse_cause
from kazoo_trio.switch.sim.channel import Application, Channel, bridge, true
from kazoo_trio.switch.sim.originate import originate_legs
from kazoo_trio.switch.sim.profile import CallerProfile
from kazoo_trio.switch.sim.session import park, serve_private, transfer_action

__all__ = [
    "APPLICATIONS",
    "multiset_pairs",
    "set_profile_var",
    "start_recording",
    "stop_recording",
]

log = logging.getLogger(__name__)

APPLICATIONS: dict[str, Application] = {}


def app(*names: str) -> Callable[[Application], Application]:
    def register(function: Application) -> Application:
        for name in names:
            APPLICATIONS[name] = function
        return function

    return register


def respond(channel: Channel, text: str) -> None:
    channel.set_variable("current_application_response", text)


async def interruptible(channel: Channel, seconds: float) -> bool:
    """Wait ``seconds`` (``inf``: until interrupted); ``False`` when ``uuid_break`` (or
    the end of a bridge) cut it short.  Hang-up and redirect cancel it as usual."""
    with trio.CancelScope() as scope:
        channel.break_scope = scope
        try:
            await trio.sleep(seconds)
        finally:
            channel.break_scope = None
    return not scope.cancelled_caught


# -- answer states ---------------------------------------------------------------------------


@app("answer")
async def _answer(channel: Channel, data: str) -> None:
    channel.answer()
    await trio.lowlevel.checkpoint()


@app("pre_answer")
async def _pre_answer(channel: Channel, data: str) -> None:
    channel.pre_answer()
    await trio.lowlevel.checkpoint()


@app("ring_ready")
async def _ring_ready(channel: Channel, data: str) -> None:
    channel.ring_ready()
    await trio.lowlevel.checkpoint()


@app("hangup")
async def _hangup(channel: Channel, data: str) -> None:
    channel.hangup(parse_cause(data) or "NORMAL_CLEARING" if data else "NORMAL_CLEARING")
    await trio.lowlevel.checkpoint()


@app("park")
async def _park(channel: Channel, data: str) -> None:
    await park(channel)


@app("transfer")
async def _transfer(channel: Channel, data: str) -> None:
    argv = separate_string(data, " ", 4)
    target = channel
    if argv and argv[0] in ("-bleg", "-both"):
        if argv[0] == "-bleg" and channel.peer is not None:
            target = channel.peer
        argv = argv[1:]
    if not argv:
        respond(channel, "-ERR no destination")
        return
    dialplan = argv[1] if len(argv) > 1 else ""
    context = argv[2] if len(argv) > 2 else ""
    target.redirect(transfer_action(argv[0], dialplan, context))
    await trio.lowlevel.checkpoint()


# -- variables -------------------------------------------------------------------------------


def _split_assignment(text: str) -> tuple[str, str | None]:
    name, eq, value = text.partition("=")
    return name.strip(), value if eq else None


def multiset_pairs(data: str) -> list[tuple[str, str | None]]:
    """``multiset``'s argument: ``^^<d>a=1<d>b=2`` or ``a=1 b=2``."""
    if data.startswith("^^") and len(data) >= 3:
        parts = data[3:].split(data[2])
    else:
        parts = separate_string(data, " ", 1024)
    return [_split_assignment(part) for part in parts if part]


def _set(channel: Channel, data: str, export: bool) -> None:
    nolocal = data.startswith("nolocal:")
    if nolocal:
        data = data[len("nolocal:") :]
    name, value = _split_assignment(data)
    if not name:
        return
    if not nolocal:
        channel.set_variable(name, value)
    if export:
        exported = [v for v in (channel.variables.get("export_vars") or "").split(",") if v]
        if name not in exported:
            exported.append(name)
        channel.set_variable("export_vars", ",".join(exported))
        channel.exported[name] = value or ""
        if channel.peer is not None:
            channel.peer.set_variable(name, value)


@app("set")
async def _set_app(channel: Channel, data: str) -> None:
    _set(channel, data, export=False)
    await trio.lowlevel.checkpoint()


@app("export")
async def _export(channel: Channel, data: str) -> None:
    _set(channel, data, export=True)
    await trio.lowlevel.checkpoint()


@app("unset")
async def _unset(channel: Channel, data: str) -> None:
    channel.set_variable(data.strip(), None)
    await trio.lowlevel.checkpoint()


@app("multiset")
async def _multiset(channel: Channel, data: str) -> None:
    for name, value in multiset_pairs(data):
        channel.set_variable(name, value)
    await trio.lowlevel.checkpoint()


@app("set_profile_var")
async def _set_profile_var(channel: Channel, data: str) -> None:
    name, value = _split_assignment(data)
    set_profile_var(channel, name, value)
    await trio.lowlevel.checkpoint()


# The caller-profile fields switch_channel_set_profile_var sets by name (others become
# the profile's "soft" variables, which the simulation does not keep).
_PROFILE_FIELDS = frozenset(CallerProfile().fields())


def set_profile_var(channel: Channel, name: str, value: str | None) -> None:
    """``switch_channel_set_profile_var``: a caller-profile field by name."""
    field = name.lower()
    if field not in _PROFILE_FIELDS:
        return
    profile = channel.profile
    # The simulated profile leaves the original caller id empty while it is the
    # current one: keep it before the first change.
    if field == "caller_id_name" and not profile.orig_caller_id_name:
        profile.orig_caller_id_name = profile.caller_id_name
    if field == "caller_id_number" and not profile.orig_caller_id_number:
        profile.orig_caller_id_number = profile.caller_id_number
    setattr(profile, field, value or "")


# -- media -----------------------------------------------------------------------------------


def _media_seconds(channel: Channel, path: str) -> float:
    if path.startswith("silence_stream://"):
        ms = path[len("silence_stream://") :].split(",")[0]
        try:
            value = int(ms)
        except ValueError:
            value = 0
        return float("inf") if value < 0 else value / 1000
    override = channel.variables.get("sim_playback_ms")
    if override is not None and override.isdigit():
        return int(override) / 1000
    return channel.sw.timings.playback


async def _play(channel: Channel, path: str, seconds: float) -> bool:
    start = [("Playback-File-Path", path)]
    channel.fire("PLAYBACK_START", start)
    done = False
    try:
        done = await interruptible(channel, seconds)
    finally:
        status = "done" if done else "break"
        channel.fire("PLAYBACK_STOP", [*start, ("Playback-Status", status)])
        channel.set_variable("playback_last_offset_pos", "0")
    return done


@app("playback", "gentones", "speak")
async def _playback(channel: Channel, data: str) -> None:
    path = data.strip()
    if not path:
        respond(channel, "FILE NOT FOUND")
        return
    respond(channel, "FILE PLAYED")
    await _play(channel, path, _media_seconds(channel, path))


@app("endless_playback")
async def _endless_playback(channel: Channel, data: str) -> None:
    respond(channel, "FILE PLAYED")
    await _play(channel, data.strip(), float("inf"))


@app("sleep")
async def _sleep(channel: Channel, data: str) -> None:
    try:
        ms = int(data.strip() or "0")
    except ValueError:
        ms = 0
    await interruptible(channel, max(0, ms) / 1000)


@app("echo")
async def _echo(channel: Channel, data: str) -> None:
    await interruptible(channel, float("inf"))


@app("record")
async def _record(channel: Channel, data: str) -> None:
    argv = separate_string(data, " ", 4)
    if not argv:
        respond(channel, "-ERR no file")
        return
    path = argv[0]
    limit = channel.sw.timings.record
    if len(argv) > 1 and argv[1].isdigit() and int(argv[1]) > 0:
        limit = min(limit, float(argv[1]))
    headers = [("Record-File-Path", path)]
    channel.fire("RECORD_START", headers)
    try:
        await interruptible(channel, limit)
    finally:
        channel.fire("RECORD_STOP", [*headers, ("Record-Completion-Cause", "success-maxtime")])


@app("record_session")
async def _record_session(channel: Channel, data: str) -> None:
    path = separate_string(data, " ", 2)[0] if data.strip() else ""
    if not path:
        respond(channel, "-ERR no file")
        return
    start_recording(channel, path)
    await trio.lowlevel.checkpoint()


@app("stop_record_session")
async def _stop_record_session(channel: Channel, data: str) -> None:
    stop_recording(channel, data.strip() or "all")
    await trio.lowlevel.checkpoint()


def start_recording(channel: Channel, path: str) -> None:
    """A recording media bug: ``RECORD_START`` now, ``RECORD_STOP`` when stopped or at hang-up."""
    channel.recordings.append(path)
    channel.fire("RECORD_START", [("Record-File-Path", path)])


def stop_recording(channel: Channel, path: str) -> bool:
    stopping = list(channel.recordings) if path == "all" else [p for p in channel.recordings
                                                                if p == path]  # fmt: skip
    for p in stopping:
        channel.recordings.remove(p)
        channel.fire("RECORD_STOP", [("Record-File-Path", p)])
    return bool(stopping)


@app("hold")
async def _hold(channel: Channel, data: str) -> None:
    channel.hold(True)
    await trio.lowlevel.checkpoint()


@app("unhold")
async def _unhold(channel: Channel, data: str) -> None:
    channel.hold(False)
    await trio.lowlevel.checkpoint()


@app("send_dtmf")
async def _send_dtmf(channel: Channel, data: str) -> None:
    """Send digits to the far end: the bridged peer (or the other leg of a loopback
    pair) receives them (``DTMF`` there)."""
    digits = data.split("@")[0]
    far = channel.peer or channel.loopback
    if far is not None:
        far.dtmf(digits)
    await trio.lowlevel.checkpoint()


@app("play_and_get_digits")
async def _play_and_get_digits(channel: Channel, data: str) -> None:
    """``<min> <max> <tries> <timeout> <terminators> <file> <invalid_file> <var> <regexp>``;
    the caller's digits come from ``sim_dtmf`` (one attempt's worth per try)."""
    argv = separate_string(data, " ", 12)
    if len(argv) < 6:
        respond(channel, "-ERR usage")
        return
    try:
        min_digits, max_digits, tries = int(argv[0]), int(argv[1]), max(1, int(argv[2]))
    except ValueError:
        respond(channel, "-ERR usage")
        return
    terminators = argv[4]
    prompt = argv[5]
    var_name = argv[7] if len(argv) > 7 else "pagd_input"
    regexp = argv[8] if len(argv) > 8 else ""
    for _ in range(tries):
        await _play(channel, prompt, _media_seconds(channel, prompt))
        pressed = channel.variables.get("sim_dtmf", "")
        channel.set_variable("sim_dtmf", None)
        digits = ""
        for digit in pressed:
            channel.dtmf(digit)
            if digit in terminators:
                channel.set_variable("read_terminator_used", digit)
                break
            digits += digit
            if len(digits) >= max_digits:
                break
        valid = min_digits <= len(digits) <= max_digits and (
            not regexp or re.fullmatch(regexp, digits) is not None
        )
        if valid:
            channel.set_variable(var_name, digits)
            channel.set_variable("read_result", "success")
            return
        channel.set_variable(f"{var_name}_invalid", digits or None)
    channel.set_variable("read_result", "failure")


# -- calls -----------------------------------------------------------------------------------


@app("bridge")
async def _bridge(channel: Channel, data: str) -> None:
    """Originate to ``data`` and bridge; on failure hang up with the cause unless
    ``continue_on_fail``.  The bridge ends when either side leaves it; the B leg is
    then hung up, and the A leg too with ``hangup_after_bridge``."""
    outcome = await originate_legs(channel.sw, data, originator=channel)
    if outcome.channel is None:
        cause = outcome.cause
        channel.set_variable("originate_disposition", cause)
        channel.set_variable("originate_failed_cause", cause)
        channel.set_variable("DIALSTATUS", cause)
        respond(channel, cause)
        if not true(channel.variables.get("continue_on_fail")):
            channel.hangup(cause)
        return
    b_leg = outcome.channel
    channel.set_variable("originate_disposition", "SUCCESS")
    channel.set_variable("DIALSTATUS", "SUCCESS")
    channel.answer()
    bridge(channel, b_leg, "app")
    b_leg.redirect(exchange_media, keep_bridge=True)
    try:
        # Commands queued meanwhile run during the bridge, as FreeSWITCH's bridge loop does.
        with trio.CancelScope() as scope:
            channel.bridge_scope = scope
            try:
                await serve_private(channel)
            finally:
                channel.bridge_scope = None
    finally:
        channel.set_variable("bridge_hangup_cause", b_leg.hangup_cause or "NORMAL_CLEARING")
        channel.set_variable("last_bridge_hangup_cause", channel.variables["bridge_hangup_cause"])
        if b_leg.up:
            b_leg.hangup("NORMAL_CLEARING")
    if true(channel.variables.get("hangup_after_bridge")):
        channel.hangup("NORMAL_CLEARING")


async def exchange_media(channel: Channel) -> None:
    """A bridged leg's state: ``CS_EXCHANGE_MEDIA``, taking queued commands."""
    channel.set_state("CS_EXCHANGE_MEDIA")
    await serve_private(channel)


# -- events ----------------------------------------------------------------------------------


@app("info")
async def _info(channel: Channel, data: str) -> None:
    channel.fire("CHANNEL_DATA")
    await trio.lowlevel.checkpoint()


@app("event")
async def _event(channel: Channel, data: str) -> None:
    """``event Event-Name=CUSTOM,Event-Subclass=x,Header=value``, with the channel's data."""
    headers = [_split_assignment(part) for part in separate_string(data, ",", 128)]
    values = {k: v or "" for k, v in headers}
    name = values.pop("Event-Name", "CHANNEL_APPLICATION")
    subclass = values.pop("Event-Subclass", None)
    if name != "CUSTOM":
        subclass = None
    try:
        channel.fire(name, list(values.items()), subclass=subclass)
    except ValueError as exc:
        respond(channel, f"-ERR {exc}")
    await trio.lowlevel.checkpoint()


@app("log", "sound_test", "displace_session", "tone_detect", "respond")
async def _noop(channel: Channel, data: str) -> None:
    await trio.lowlevel.checkpoint()
