"""Dialplan applications of the simulated switch (mod_dptools'; mod_kazoo's ``kz_*`` are
:mod:`kazoo_trio.switch.kz`'s, registered by :mod:`.modkazoo`).

Each application is ``async def app(channel, data)``; ``data`` is already expanded.
An application reports its outcome in the channel variable
``current_application_response`` (the ``Application-Response`` of
``CHANNEL_EXECUTE_COMPLETE``).  Media is simulated: playback, recording and echo take
the time the switch's :class:`~kazoo_trio.switch.sim.clock.SimTimings` give them and
can be interrupted with ``uuid_break``; digits a caller presses arrive on the channel
(``uuid_recv_dtmf``, its DTMF queue) or, scripted, in the channel variable ``sim_dtmf``.
Detectors (tones, fax) hear what the channel variables ``sim_tone``, ``sim_fax_tone``
and ``sim_fax_result`` say the line carries.  :data:`APPLICATIONS` is the table the
simulated switch serves its sessions from.
Layer: above :mod:`.originate` (``bridge`` dials).
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Callable

import trio

from kazoo_trio.switch.separate import separate_string
from kazoo_trio.switch.sim.causes import cause_code, parse_cause
from kazoo_trio.switch.sim.channel import Application, Channel, bridge, true, unbridge
from kazoo_trio.switch.sim.dialplan import hunt
from kazoo_trio.switch.sim.originate import originate_legs
from kazoo_trio.switch.sim.profile import CallerProfile
from kazoo_trio.switch.sim.session import (
    apply_transfer,
    execute_app,
    park,
    route,
    serve_private,
    transfer_action,
)

__all__ = [
    "APPLICATIONS",
    "dtmf_parts",
    "far_end",
    "multiset_pairs",
    "playing_file",
    "receive_dtmf",
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


app("park")(park)


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
    if target is channel:
        # switch_ivr_session_transfer runs inside the application: the new profile
        # is in place when the application completes; routing follows.
        if await apply_transfer(channel, argv[0], dialplan, context):
            channel.redirect(route)
    else:
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
    if field in ("caller_id_name", "caller_id_number"):
        profile.keep_original()
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


# The file each channel is playing (its file handle, for uuid_fileman).
_PLAYING: weakref.WeakKeyDictionary[Channel, str] = weakref.WeakKeyDictionary()


def playing_file(channel: Channel) -> str | None:
    """The file ``channel`` is playing now, if any."""
    return _PLAYING.get(channel)


async def _play(channel: Channel, path: str, seconds: float) -> bool:
    start = [("Playback-File-Path", path)]
    channel.fire("PLAYBACK_START", start)
    done = False
    _PLAYING[channel] = path
    try:
        done = await interruptible(channel, seconds)
    finally:
        _PLAYING.pop(channel, None)
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


# switch_core_default_dtmf_duration, _min_ and _max_: samples at 8 kHz.
DTMF_DEFAULT, DTMF_MIN, DTMF_MAX = 2000, 400, 192000


def dtmf_parts(text: str) -> list[tuple[str, int]]:
    """A DTMF string as ``switch_channel_queue_dtmf_string`` and
    ``switch_core_session_send_dtmf_string`` read it: ``+``-separated runs of digits,
    each with an optional ``@<ms>`` (8 samples a millisecond; a value no longer than
    the minimum keeps the default), the duration kept within the core's bounds."""
    parts: list[tuple[str, int]] = []
    for part in separate_string(text[1:] if text.startswith("~") else text, "+", 256):
        digits, at, ms = part.partition("@")
        duration = DTMF_DEFAULT
        if at:
            found = re.match(r"\s*([+-]?\d+)", ms)  # atoi
            value = int(found.group(1)) if found else 0
            if value > DTMF_MIN // 8:
                duration = value * 8
        parts.append((digits, min(max(duration, DTMF_MIN), DTMF_MAX)))
    return parts


def far_end(channel: Channel) -> Channel | None:
    """Who hears the digits a channel sends: the other leg of a loopback pair
    (mod_loopback's ``channel_send_dtmf`` queues them there), else its bridged peer."""
    return channel.loopback or channel.peer


def receive_dtmf(channel: Channel, text: str) -> int:
    """The digits of a DTMF string arriving on ``channel`` (one ``DTMF`` each)."""
    return sum(channel.dtmf(digits, duration) for digits, duration in dtmf_parts(text))


@app("send_dtmf")
async def _send_dtmf(channel: Channel, data: str) -> None:
    """Send ``<digits>[@<ms>][+...]`` to the far end (:func:`far_end`: ``DTMF`` there)."""
    far = far_end(channel)
    if far is not None:
        receive_dtmf(far, data)
    await trio.lowlevel.checkpoint()


@app("play_and_get_digits")
async def _play_and_get_digits(channel: Channel, data: str) -> None:
    """``<min> <max> <tries> <timeout> <terminators> <file> <invalid_file> <var>
    <regexp> [<digit_timeout>]``: the prompt plays until a digit arrives on the channel
    (``uuid_recv_dtmf``, a phone's keypad), then digits are collected until ``max``, a
    terminator, or a timeout.  Digits given in ``sim_dtmf`` are "pressed" as the prompt
    starts, one attempt's worth per try."""
    argv = separate_string(data, " ", 12)
    if len(argv) < 6:
        respond(channel, "-ERR usage")
        return
    try:
        min_digits, max_digits, tries = int(argv[0]), int(argv[1]), max(1, int(argv[2]))
        timeout = max(0, int(argv[3])) / 1000
        digit_timeout = int(argv[9]) / 1000 if len(argv) > 9 and argv[9].isdigit() else timeout
    except ValueError:
        respond(channel, "-ERR usage")
        return
    terminators = "" if argv[4] == "none" else argv[4]
    prompt = argv[5]
    invalid = argv[6] if len(argv) > 6 else ""
    var_name = argv[7] if len(argv) > 7 else "pagd_input"
    regexp = argv[8] if len(argv) > 8 else ""
    channel.set_variable("read_terminator_used", None)
    for attempt in range(tries):
        pressed = channel.variables.get("sim_dtmf", "")
        channel.set_variable("sim_dtmf", None)
        if pressed:
            channel.dtmf(pressed)
        if not channel.digits:
            await _play_until_digit(channel, prompt)
        digits = await _collect(channel, max_digits, terminators, timeout, digit_timeout)
        valid = min_digits <= len(digits) <= max_digits and (
            not regexp or re.fullmatch(regexp, digits) is not None
        )
        if valid:
            channel.set_variable(var_name, digits)
            channel.set_variable("read_result", "success")
            return
        channel.set_variable(f"{var_name}_invalid", digits or None)
        if invalid and attempt + 1 < tries:
            await _play(channel, invalid, _media_seconds(channel, invalid))
    channel.set_variable("read_result", "failure")


async def _play_until_digit(channel: Channel, path: str) -> None:
    """Play ``path``; a digit arriving stops it, as playback's DTMF callback does."""
    async with trio.open_nursery() as nursery:

        async def stop_on_digit() -> None:
            while not channel.digits:
                await channel.digit_arrived.wait()
            channel.interrupt()

        nursery.start_soon(stop_on_digit)
        await _play(channel, path, _media_seconds(channel, path))
        nursery.cancel_scope.cancel()


async def _collect(
    channel: Channel, max_digits: int, terminators: str, first: float, between: float
) -> str:
    """Take digits from the channel's queue: up to ``max_digits``, a terminator, or
    ``first``/``between`` seconds without one."""
    digits = ""
    wait = first
    while len(digits) < max_digits:
        if not channel.digits:
            with trio.move_on_after(wait):
                await channel.digit_arrived.wait()
            if not channel.digits:
                break
        digit, channel.digits = channel.digits[0], channel.digits[1:]
        if digit in terminators:
            channel.set_variable("read_terminator_used", digit)
            break
        digits += digit
        wait = between
    return digits


# -- calls -----------------------------------------------------------------------------------


def _cause_listed(listing: str, cause: str) -> bool:
    """Whether a comma-separated list of cause names or numbers names ``cause``."""
    number = str(cause_code(cause))
    return any(
        item.lower() == cause.lower() or item == number
        for item in separate_string(listing, ",", 256)
    )


def handle_cause(channel: Channel, cause: str) -> None:
    """After a failed bridge, hang up with its cause or let the dialplan carry on
    (``switch_channel_handle_cause``).

    ``failure_causes`` lists the causes that end the call (any other carries on);
    ``continue_on_fail`` is ``true`` or the causes that carry on; with neither set only
    ``NO_ANSWER``, ``NO_USER_RESPONSE`` and ``ORIGINATOR_CANCEL`` carry on.
    ``transfer_on_fail <causes> [<exten> [<dialplan> [<context>]]]`` transfers on the
    listed causes (``auto_cause`` or no extension: to the cause's name), and ``true``
    there leaves the channel up.  ``ATTENDED_TRANSFER`` always hangs up.
    """
    if not channel.up:
        return
    if cause != "ATTENDED_TRANSFER":
        continue_on_fail = channel.variables.get("continue_on_fail") or None
        failure_causes = channel.variables.get("failure_causes") or None
        if continue_on_fail is not None or failure_causes is not None:
            if failure_causes is not None and not _cause_listed(failure_causes, cause):
                return
            if continue_on_fail is not None and (
                true(continue_on_fail) or _cause_listed(continue_on_fail, cause)
            ):
                return
        elif cause in ("NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL"):
            return
        tof = (channel.variables.get("transfer_on_fail") or "").split(" ")
        if tof[0]:
            if true(tof[0]):
                return
            if _cause_listed(tof[0], cause):
                exten = tof[1] if len(tof) > 1 and tof[1] not in ("", "auto_cause") else cause
                dialplan = tof[2] if len(tof) > 2 else ""
                context = tof[3] if len(tof) > 3 else ""
                channel.redirect(transfer_action(exten, dialplan, context))
                return
    channel.hangup(cause)


# switch_ivr_originate's DIALSTATUS for a failure; any other cause is its own name.
_DIALSTATUS = {
    "ORIGINATOR_CANCEL": "CANCEL",
    "USER_BUSY": "BUSY",
    "NO_ANSWER": "NOANSWER",
    "DESTINATION_OUT_OF_ORDER": "INVALIDARGS",
    "INVALID_PROFILE": "INVALIDARGS",
    "CALL_REJECTED": "DONTCALL",
}


def _record_failure(channel: Channel, cause: str) -> None:
    """What a failed originate leaves on the bridging channel."""
    channel.set_variable("originate_disposition", cause)
    channel.set_variable("originate_failed_cause", cause)
    channel.set_variable("DIALSTATUS", _DIALSTATUS.get(cause, cause))


@app("bridge")
async def _bridge(channel: Channel, data: str) -> None:
    """Originate to ``data`` and bridge; on failure :func:`handle_cause` decides
    whether the dialplan carries on.  The bridge ends when either side leaves it; the
    B leg is then hung up, and the A leg too with ``hangup_after_bridge``."""
    ended = True
    try:
        outcome = await originate_legs(channel.sw, data, originator=channel)
        ended = False
    finally:
        if ended and not channel.up:
            # The caller hung up while the legs rang: switch_ivr_originate ends with
            # ORIGINATOR_CANCEL, which the application records before the caller's
            # hang-up completes (Kazoo's Hangup-Cause and Disposition read it).
            _record_failure(channel, "ORIGINATOR_CANCEL")
    if outcome.channel is None:
        cause = outcome.cause
        _record_failure(channel, cause)
        respond(channel, cause)
        handle_cause(channel, cause)
        # A transfer (or hang-up) takes effect here, before the next application.
        await trio.lowlevel.checkpoint()
        return
    b_leg = outcome.channel
    # switch_ivr_originate writes "call accepted" and EARLY/ANSWER first, then, for every
    # outcome, the cause's name over both: SUCCESS for an accepted call.
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
        # A B leg bridged elsewhere meanwhile (an attended transfer handed it over) is
        # no longer this bridge's to hang up.
        if b_leg.up and b_leg.peer in (None, channel):
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


@app("log", "sound_test", "displace_session", "respond")
async def _noop(channel: Channel, data: str) -> None:
    await trio.lowlevel.checkpoint()


# -- applications ecallmgr sends --------------------------------------------------------------


@app("unshift")
async def _unshift(channel: Channel, data: str) -> None:
    """``unshift <var>=<value>``: put ``value`` first in the array variable ``var``
    (``ARRAY::first|:second``), as ``SWITCH_STACK_UNSHIFT`` does."""
    name, value = _split_assignment(data)
    if name and value:
        channel.set_variable(name, array_unshift(channel.variables.get(name), value))
    await trio.lowlevel.checkpoint()


def array_unshift(current: str | None, value: str) -> str:
    if not current:
        return value
    items = current[len("ARRAY::") :] if current.startswith("ARRAY::") else current
    return f"ARRAY::{value}|:{items}"


@app("bridge_export")
async def _bridge_export(channel: Channel, data: str) -> None:
    """``bridge_export <var>=<value>``: set here, on the bridged peer, and on every
    leg bridged later (``bridge_export_vars``)."""
    nolocal = data.startswith("nolocal:")
    name, value = _split_assignment(data[len("nolocal:") :] if nolocal else data)
    if name:
        if not nolocal:
            channel.set_variable(name, value)
        exported = [v for v in (channel.variables.get("bridge_export_vars") or "").split(",")
                    if v]  # fmt: skip
        if name not in exported:
            exported.append(name)
        channel.set_variable("bridge_export_vars", ",".join(exported))
        channel.exported[name] = value or ""
        if channel.peer is not None:
            channel.peer.set_variable(name, value)
    await trio.lowlevel.checkpoint()


@app("privacy")
async def _privacy(channel: Channel, data: str) -> None:
    """``privacy off|on|name|full|number|no|yes``: the caller profile's privacy flags."""
    mode = data.strip().lower()
    profile = channel.profile
    if mode == "name":
        profile.hide_name = True
    elif mode == "number":
        profile.hide_number = True
    elif mode == "full" or true(mode):
        profile.hide_name = profile.hide_number = True
    elif mode in ("no", "off", "false", "0", "disabled"):
        profile.hide_name = profile.hide_number = False
    await trio.lowlevel.checkpoint()


@app("say")
async def _say(channel: Channel, data: str) -> None:
    """``say <module>[:<lang>] <type> <method> [<gender>] <text>``: the phrase plays
    as long as a file would."""
    if len(separate_string(data, " ", 6)) < 4:
        log.warning("channel %s: say usage: %s", channel.uuid, data)  # FreeSWITCH only logs it
        await trio.lowlevel.checkpoint()
        return
    await interruptible(channel, _media_seconds(channel, data))


@app("redirect")
async def _redirect(channel: Channel, data: str) -> None:
    """``redirect <contact>``: a 302 to an unanswered call (mod_sofia then hangs it up
    with ``REDIRECTION_TO_NEW_DESTINATION``); an answered call would get a REFER."""
    contact = data.strip()
    if not contact:
        return
    channel.set_variable("sip_redirect_contact", contact)
    if not channel.answered:
        channel.hangup("REDIRECTION_TO_NEW_DESTINATION")
    await trio.lowlevel.checkpoint()


@app("deflect")
async def _deflect(channel: Channel, data: str) -> None:
    """``deflect <target>``: asks the channel's endpoint to move the call elsewhere
    (``SWITCH_MESSAGE_INDICATE_DEFLECT``).  Only mod_sofia acts on it (a REFER; see
    :mod:`.sofia`, which replaces this application when loaded); other endpoints
    ignore the message."""
    await trio.lowlevel.checkpoint()


@app("record_session_mask", "record_session_unmask")
async def _record_session_mask(channel: Channel, data: str) -> None:
    """Masking writes silence into a running recording; without one it fails."""
    path = data.strip()
    if path not in channel.recordings:
        # FreeSWITCH only logs it: the application has no response.
        log.warning("channel %s: no recording %s to mask", channel.uuid, path)
    await trio.lowlevel.checkpoint()


@app("start_dtmf", "stop_dtmf", "spandsp_start_dtmf", "spandsp_stop_dtmf", "soundtouch",
     "spandsp_stop_fax_detect", "stop_tone_detect", "flush_dtmf")  # fmt: skip
async def _media_bug(channel: Channel, data: str) -> None:
    """Media bugs (in-band DTMF, pitch change...) with nothing to simulate."""
    if channel.running_app == "flush_dtmf":
        channel.digits = ""
    await trio.lowlevel.checkpoint()


@app("soft_hold")
async def _soft_hold(channel: Channel, data: str) -> None:
    """``soft_hold <unhold key> [<moh_a>] [<moh_b>]``: wait here until ``unhold key``
    is pressed (or ``uuid_break``) while the bridged peer would hear music.  As
    ``switch_ivr_soft_hold``, nobody is put on hold (no ``CHANNEL_HOLD``)."""
    argv = separate_string(data, " ", 3)
    peer = channel.peer
    if not argv or peer is None:
        # switch_ivr_soft_hold logs it; the application has no response.
        log.warning("channel %s: cannot soft_hold a channel that is not bridged", channel.uuid)
        await trio.lowlevel.checkpoint()
        return
    key = argv[0][:1]
    with trio.CancelScope() as scope:
        channel.break_scope = scope
        try:
            while key not in channel.digits:
                await channel.digit_arrived.wait()
            channel.digits = channel.digits.replace(key, "", 1)
        finally:
            channel.break_scope = None


@app("execute_extension")
async def _execute_extension(channel: Channel, data: str) -> None:
    """``execute_extension <extension> [<dialplan> <context>]``: the extension's
    applications run here, then the caller carries on."""
    argv = separate_string(data, " ", 3)
    if not argv:
        respond(channel, "-ERR usage")
        return
    profile = channel.profile
    saved = (profile.destination_number, profile.context)
    profile.destination_number = argv[0]
    if len(argv) > 2 and argv[2]:
        profile.context = argv[2]
    # The hunted profile is the one variables read while the extension runs
    # (switch_channel_set_hunt_caller_profile), then the channel's own again.
    try:
        apps = await hunt(channel)
        if apps is None:
            log.warning("channel %s: no extension %s to execute", channel.uuid, argv[0])
            await trio.lowlevel.checkpoint()
            return
        for name, arg in apps:
            if not channel.up:
                break
            await execute_app(channel, name, arg)
    finally:
        profile.destination_number, profile.context = saved


def _target(channel: Channel, uuid: str) -> Channel | None:
    found = channel.sw.channels.get(uuid.strip())
    if isinstance(found, Channel) and found.up and found is not channel:
        return found
    return None


@app("eavesdrop")
async def _eavesdrop(channel: Channel, data: str) -> None:
    """``eavesdrop <uuid>``: listen until the target's call ends (or ``uuid_break``);
    a target that is not there ends it at once, as ``switch_ivr_eavesdrop_session``
    (which only logs it)."""
    target = _target(channel, data)
    if target is None:
        log.debug("channel %s: no channel %s to eavesdrop on", channel.uuid, data)
        await trio.lowlevel.checkpoint()
        return
    channel.answer()
    with trio.CancelScope() as scope:
        channel.break_scope = scope
        try:
            await target.destroyed.wait()
        finally:
            channel.break_scope = None


@app("intercept", "call_pickup")
async def _intercept(channel: Channel, data: str) -> None:
    """``intercept [-bleg] <uuid>``: ``switch_ivr_intercept_session``.  The channel
    named (with ``-bleg``, its bridged peer) is answered and bridged to this one as
    ``uuid_bridge`` does; the leg it was with (a ringing phone, a bridged peer) hangs
    up with ``PICKED_OFF``.  The application then ends: the channel stays bridged."""
    bleg = data.startswith("-bleg ")
    target = _target(channel, data[len("-bleg ") :] if bleg else data)
    if target is not None and bleg:
        target = target.peer
    if target is None:
        log.debug("channel %s: nothing to intercept at %s", channel.uuid, data)
        await trio.lowlevel.checkpoint()
        return
    if true(channel.variables.get("intercept_unbridged_only")) and target.peer is not None:
        await trio.lowlevel.checkpoint()
        return
    if true(channel.variables.get("intercept_unanswered_only")) and target.answered:
        await trio.lowlevel.checkpoint()
        return
    channel.answer()
    partner = target.peer
    if partner is not None:
        unbridge(target, partner)
    channel.leave_bridge()
    target.answer()
    target.hold(False)
    bridge(channel, target, "uuid")
    target.redirect(exchange_media, keep_bridge=True)
    if partner is not None and partner is not channel:
        partner.set_variable("park_after_bridge", "true")
        partner.hangup("PICKED_OFF")
    channel.redirect(exchange_media, keep_bridge=True)
    await trio.lowlevel.checkpoint()


# -- fax and tones -----------------------------------------------------------------------------


@app("rxfax")
async def _rxfax(channel: Channel, data: str) -> None:
    """``rxfax <file>``: the simulated sender's outcome comes from ``sim_fax_result``
    (``success`` unless set, or a spandsp result code); the variables and the
    ``spandsp::rxfaxresult`` event are mod_spandsp's."""
    path = data.strip()
    channel.answer()
    await interruptible(channel, _media_seconds(channel, path))
    outcome = channel.variables.get("sim_fax_result", "0")
    code = 0 if outcome in ("", "0", "success") else int(outcome) if outcome.isdigit() else 49
    ok = code == 0
    result = [
        ("fax_success", "1" if ok else "0"),
        ("fax_result_code", str(code)),
        ("fax_result_text", "OK" if ok else "The call dropped prematurely"),
        ("fax_ecm_used", "off"),
        ("fax_local_station_id", channel.variables.get("fax_ident", "SpanDSP Fax Ident")),
        ("fax_remote_station_id", "sim-fax"),
        ("fax_document_transferred_pages", "1" if ok else "0"),
        ("fax_document_total_pages", "1" if ok else "0"),
        ("fax_image_resolution", "8031x3850"),
        ("fax_image_size", "4096" if ok else "0"),
        ("fax_bad_rows", "0"),
        ("fax_transfer_rate", "14400"),
        ("fax_filename", path),
    ]
    for name, value in result:
        channel.set_variable(name, value)
    channel.fire("CUSTOM", result, subclass="spandsp::rxfaxresult")


@app("spandsp_start_fax_detect")
async def _fax_detect(channel: Channel, data: str) -> None:
    """``spandsp_start_fax_detect <app> [<arg>] [<timeout>] [<tone>]``: when the
    simulated line carries a fax tone (``sim_fax_tone`` names ``cng`` or ``ced``, or
    is true), the application runs as the tone is heard."""
    argv = separate_string(data, " ", 4)
    tone = channel.variables.get("sim_fax_tone", "")
    wanted = argv[3].lower() if len(argv) > 3 else "cng"
    if argv and tone and (tone.lower() == wanted or true(tone)):
        channel.set_variable("fax_detected", "true")
        await _queue_app(channel, argv[0], argv[1].strip("'") if len(argv) > 1 else "")
    await trio.lowlevel.checkpoint()


@app("tone_detect")
async def _tone_detect(channel: Channel, data: str) -> None:
    """``tone_detect <key> <freqs> <flags> <timeout> <app> <data> <hits>``: when the
    simulated line carries the tone (``sim_tone`` names ``key``), ``DETECTED_TONE``
    fires and the application runs, as ``switch_ivr_tone_detect_session`` does."""
    argv = separate_string(data, " ", 8)
    if len(argv) < 2:
        log.warning("channel %s: tone_detect: invalid arguments %s", channel.uuid, data)
        await trio.lowlevel.checkpoint()
        return
    key = argv[0]
    if channel.variables.get("sim_tone") == key:
        channel.fire("DETECTED_TONE", [("Detected-Tone", key)])
        if len(argv) > 4 and argv[4]:
            await _queue_app(channel, argv[4], argv[5] if len(argv) > 5 else "")
    await trio.lowlevel.checkpoint()


async def _queue_app(channel: Channel, name: str, arg: str) -> None:
    """Run ``name`` after the current application, as ``execute_application_async``."""
    event = channel.sw.new_event(
        "COMMAND",
        headers=[("call-command", "execute"), ("execute-app-name", name),
                 ("execute-app-arg", arg)],
    )  # fmt: skip
    channel.queue_nowait(event)
    await trio.lowlevel.checkpoint()
