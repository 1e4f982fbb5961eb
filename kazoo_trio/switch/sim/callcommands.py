"""API commands about channels and calls, with mod_commands' texts.

``originate``, the ``uuid_*`` family, ``hupall``, plus the module and profile
commands a switch answers for ecallmgr (``unload``/``reload``, ``sofia status``,
``xml_flush_cache``; ``conference`` is :mod:`.conference`'s).  A UUID naming no channel
gets ``-ERR No such channel!`` where FreeSWITCH prints it.
Layer: above :mod:`.core` and :mod:`.applications`.
"""

from __future__ import annotations

import json
import urllib.parse

from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.separate import separate_string
from kazoo_trio.switch.sim.applications import (
    far_end,
    multiset_pairs,
    receive_dtmf,
    start_recording,
    stop_recording,
)
from kazoo_trio.switch.sim.causes import parse_cause
from kazoo_trio.switch.sim.channel import Channel, bridge, unbridge
from kazoo_trio.switch.sim.core import SimCore
from kazoo_trio.switch.sim.originate import ORIGINATE_SYNTAX, originate_command
from kazoo_trio.switch.sim.session import (
    apply_transfer,
    park_action,
    route,
    serve_private,
)

__all__ = [
    "AVAILABLE_MODULES",
    "ENDPOINT_MODULES",
    "LOADED_AT_START",
    "SIM_PROFILE",
    "register_call_commands",
]

NO_CHANNEL = "-ERR No such channel!\n"
SIM_PROFILE = "sipinterface_1"

# Modules a FreeSWITCH that serves Kazoo has on disk; the simulated switch can "load" them.
AVAILABLE_MODULES = (
    "mod_sofia", "mod_loopback", "mod_dptools", "mod_dialplan_xml", "mod_conference",
    "mod_event_socket", "mod_kazoo", "mod_spandsp", "mod_sms", "mod_flite", "mod_http_cache",
    "mod_channel_move", "mod_sndfile", "mod_native_file", "mod_tone_stream", "mod_say_en",
)  # fmt: skip
LOADED_AT_START = (
    "mod_sofia", "mod_loopback", "mod_dptools", "mod_dialplan_xml", "mod_conference", "mod_sndfile",
    "mod_native_file", "mod_tone_stream", "mod_http_cache", "mod_sms",
)  # fmt: skip


# The endpoints dial strings can name, by the module that registers each.
ENDPOINT_MODULES = {
    "error": "mod_dptools", "user": "mod_dptools", "loopback": "mod_loopback",
    "null": "mod_loopback", "sofia": "mod_sofia", "kz": "mod_kazoo",
}  # fmt: skip


def _channel(sw: SimCore, uuid: str) -> Channel | None:
    found = sw.channels.get(uuid)
    return found if isinstance(found, Channel) and found.up else None


# -- uuid_* ----------------------------------------------------------------------------------


def _uuid_kill(sw: SimCore, args: str) -> ApiOutput:
    argv = separate_string(args, " ", 2) if args else []
    if not argv:
        return ApiOutput("-USAGE: <uuid> [cause]\n")
    channel = _channel(sw, argv[0])
    if channel is None:
        return ApiOutput(NO_CHANNEL)
    cause = parse_cause(argv[1]) if len(argv) > 1 else None
    channel.hangup(cause or "NORMAL_CLEARING")
    return ApiOutput("+OK\n")


def _uuid_getvar(sw: SimCore, args: str) -> ApiOutput:
    argv = separate_string(args, " ", 2) if args else []
    if len(argv) < 2:
        return ApiOutput("-USAGE: <uuid> <var>\n")
    channel = _channel(sw, argv[0])
    if channel is None:
        return ApiOutput(NO_CHANNEL)
    value = channel.get_variable(argv[1])
    return ApiOutput(value if value is not None else "_undef_")


def _uuid_setvar(sw: SimCore, args: str) -> ApiOutput:
    argv = separate_string(args, " ", 3) if args else []
    if len(argv) < 2 or not argv[1]:
        return ApiOutput("-USAGE: <uuid> <var> [value]\n")
    channel = _channel(sw, argv[0])
    if channel is None:
        return ApiOutput(NO_CHANNEL)
    value = argv[2] if len(argv) > 2 else None
    if value is not None and value.lower() == "undef":
        value = None
    channel.set_variable(argv[1], value)
    return ApiOutput("+OK\n")


def _uuid_setvar_multi(sw: SimCore, args: str) -> ApiOutput:
    argv = separate_string(args, " ", 2) if args else []
    if len(argv) < 2:
        return ApiOutput("-USAGE: <uuid> <var>=<value>;<var>=<value>...\n")
    channel = _channel(sw, argv[0])
    if channel is None:
        return ApiOutput(NO_CHANNEL)
    for name, value in multiset_pairs("^^;" + argv[1]):
        channel.set_variable(name, value)
    return ApiOutput("+OK\n")


def _uuid_dump(sw: SimCore, args: str) -> ApiOutput:
    argv = separate_string(args, " ", 2) if args else []
    if not argv:
        return ApiOutput("-USAGE: <uuid> [format]\n")
    channel = _channel(sw, argv[0])
    if channel is None:
        return ApiOutput(NO_CHANNEL)
    event = sw.new_event("CHANNEL_DATA", headers=channel.event_headers())
    form = argv[1].lower() if len(argv) > 1 else "txt"
    if form == "json":
        return ApiOutput(json.dumps(dict(event.headers), separators=(",", ":")))
    # switch_event_serialize: values URL-encoded, except for the "plain" format.
    encode = form != "plain"
    lines = [f"{k}: {urllib.parse.quote(v, safe='') if encode else v}\n" for k, v in event.headers]
    return ApiOutput("".join(lines))


def _uuid_answer(sw: SimCore, args: str) -> ApiOutput:
    channel = _channel(sw, args.strip())
    if channel is None or not channel.answer():
        return ApiOutput("-ERROR\n")
    return ApiOutput("+OK\n")


def _uuid_pre_answer(sw: SimCore, args: str) -> ApiOutput:
    channel = _channel(sw, args.strip())
    if channel is None:
        return ApiOutput("-ERROR\n")
    channel.pre_answer()
    return ApiOutput("+OK\n")


def _uuid_park(sw: SimCore, args: str) -> ApiOutput:
    channel = _channel(sw, args.strip())
    if channel is None:
        return ApiOutput(NO_CHANNEL)
    channel.redirect(park_action)
    return ApiOutput("+OK\n")


def _uuid_break(sw: SimCore, args: str) -> ApiOutput:
    argv = separate_string(args, " ", 2) if args else []
    if not argv:
        return ApiOutput("-USAGE: <uuid> [all]\n")
    channel = _channel(sw, argv[0])
    if channel is None:
        return ApiOutput(NO_CHANNEL)
    channel.interrupt()
    return ApiOutput("+OK\n")


TRANSFER_SYNTAX = "<uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]"


async def _uuid_transfer(sw: SimCore, args: str) -> ApiOutput:
    """``uuid_transfer <uuid> [-bleg|-both] <dest> [<dialplan>] [<context>]``: as
    ``switch_ivr_session_transfer`` from the API thread, the new caller profile is in
    place before the channel leaves its bridge (its ``CHANNEL_UNBRIDGE`` shows it)."""
    argv = separate_string(args, " ", 5) if args else []
    if len(argv) < 2:
        return ApiOutput(f"-USAGE: {TRANSFER_SYNTAX}\n")
    channel = _channel(sw, argv[0])
    if channel is None:
        return ApiOutput(NO_CHANNEL)
    rest = argv[1:]
    targets = [channel]
    if rest[0] in ("-bleg", "-both"):
        peer = channel.peer
        targets = [peer] if rest[0] == "-bleg" and peer else [channel, *([peer] if peer else [])]
        rest = rest[1:]
    if not rest:
        return ApiOutput(f"-USAGE: {TRANSFER_SYNTAX}\n")
    dialplan = rest[1] if len(rest) > 1 else ""
    context = rest[2] if len(rest) > 2 else ""
    if len(targets) == 2:
        unbridge(targets[0], targets[1])  # both legs go on: neither hangs up the other
    for target in targets:
        if await apply_transfer(target, rest[0], dialplan, context):
            target.redirect(route)
    return ApiOutput("+OK\n")


async def _bridged(channel: Channel) -> None:
    """A leg of a ``uuid_bridge``: ``CS_EXCHANGE_MEDIA``, taking queued commands."""
    channel.set_state("CS_EXCHANGE_MEDIA")
    await serve_private(channel)


def _uuid_bridge(sw: SimCore, args: str) -> ApiOutput:
    argv = separate_string(args, " ", 3) if args else []
    if len(argv) < 2:
        return ApiOutput("-USAGE: <uuid> <other_uuid>\n")
    a, b = _channel(sw, argv[0]), _channel(sw, argv[1])
    if a is None or b is None or a is b:
        return ApiOutput("-ERR Invalid uuid\n")
    for leg in (a, b):
        leg.leave_bridge()  # an existing bridge ends first
    if not b.answered:
        b.answer()
    bridge(a, b, "uuid")
    a.redirect(_bridged, keep_bridge=True)
    b.redirect(_bridged, keep_bridge=True)
    return ApiOutput(f"+OK {argv[1]}\n")


def _uuid_hold(sw: SimCore, args: str) -> ApiOutput:
    """``uuid_hold [off|toggle] <uuid> [<display>]`` as mod_commands runs it: the
    ``switch_ivr_*_uuid`` calls succeed when no channel has the uuid; ``toggle`` holds
    an ``ACTIVE``/``UNHELD`` call, unholds a ``HELD`` one and leaves any other be."""
    argv = separate_string(args, " ", 4) if args else []
    if not argv or not argv[0]:
        return ApiOutput("-USAGE: [off|toggle] <uuid> [<display>]\n")
    mode = argv[0].lower()
    target = (argv[1] if len(argv) > 1 else "") if mode in ("off", "toggle") else argv[0]
    channel = _channel(sw, target) if target else None
    done = True
    if channel is not None:
        if mode == "toggle" and channel.callstate == "HELD":
            mode = "off"
        if mode == "off":
            done = channel.hold(False)
        elif mode != "toggle" or channel.callstate in ("ACTIVE", "UNHELD"):
            done = channel.hold(True)
    return ApiOutput("+OK Success\n" if done else "-ERR Operation failed\n")


def _uuid_record(sw: SimCore, args: str) -> ApiOutput:
    argv = separate_string(args, " ", 4) if args else []
    usage = "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
    if len(argv) < 3:
        return ApiOutput(usage)
    channel = _channel(sw, argv[0])
    if channel is None:
        return ApiOutput("-ERR Cannot locate session!\n")
    action, path = argv[1].lower(), argv[2]
    if action == "start":
        start_recording(channel, path)
    elif action == "stop":
        if not stop_recording(channel, path):
            return ApiOutput("-ERR Cannot stop record session!\n")
    elif action not in ("mask", "unmask"):
        return ApiOutput(usage)
    return ApiOutput("+OK Success\n")


def _uuid_send_dtmf(sw: SimCore, args: str) -> ApiOutput:
    argv = separate_string(args, " ", 2) if args else []
    if len(argv) < 2:
        return ApiOutput("-USAGE: <uuid> <dtmf_data>\n")
    channel = _channel(sw, argv[0])
    if channel is None:
        return ApiOutput("-ERR Cannot locate session!\n")
    far = far_end(channel)
    if far is not None:
        receive_dtmf(far, argv[1])
    return ApiOutput(f"+OK {argv[0]} sent DTMF {argv[1]}.\n")


def _uuid_recv_dtmf(sw: SimCore, args: str) -> ApiOutput:
    argv = separate_string(args, " ", 2) if args else []
    if len(argv) < 2:
        return ApiOutput("-USAGE: <uuid> <dtmf_data>\n")
    channel = _channel(sw, argv[0])
    if channel is None:
        return ApiOutput("-ERR Cannot locate session!\n")
    receive_dtmf(channel, argv[1])
    return ApiOutput(f"+OK {argv[0]} received DTMF {argv[1]}.\n")


def _uuid_broadcast(sw: SimCore, args: str) -> ApiOutput:
    argv = separate_string(args, " ", 3) if args else []
    if len(argv) < 2:
        return ApiOutput("-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n")
    channel = _channel(sw, argv[0])
    if channel is None:
        return ApiOutput("-ERR invalid uuid\n")
    path = argv[1]
    name, arg = "playback", path
    if "::" in path:
        name, _, arg = path.partition("::")
        arg = arg.replace("::", " ")
    legs = [channel]
    where = argv[2].lower() if len(argv) > 2 else "aleg"
    if where in ("bleg", "both") and channel.peer is not None:
        legs = [channel.peer] if where == "bleg" else [channel, channel.peer]
    for leg in legs:
        event = sw.new_event(
            "COMMAND",
            headers=[("call-command", "execute"), ("execute-app-name", name),
                     ("execute-app-arg", arg), ("event-lock", "true")],
        )  # fmt: skip
        if not leg.queue_nowait(event):
            return ApiOutput("-ERR invalid uuid\n")
    return ApiOutput("+OK Message sent\n")


def _hupall(sw: SimCore, args: str) -> ApiOutput:
    argv = separate_string(args, " ", 3) if args else []
    cause = (parse_cause(argv[0]) if argv else None) or "MANAGER_REQUEST"
    var = argv[1] if len(argv) > 2 else ""
    value = argv[2] if len(argv) > 2 else ""
    sw.hangup_all(cause, var, value)
    if var:
        return ApiOutput(
            f"+OK hangup all channels matching [{var}]=[{value}] with cause: {cause}\n"
        )
    return ApiOutput(f"+OK hangup all channels with cause {cause}\n")


# -- modules, profiles, conferences ----------------------------------------------------------


def _unload(sw: SimCore, args: str) -> ApiOutput:
    name = args.split(" ")[-1].strip() if args else ""
    if not name:
        return ApiOutput("-USAGE: [-f] <mod_name>\n")
    if not sw.modules.exists(name):
        return ApiOutput("-ERR [Module not loaded]\n")
    sw.modules.unload(name)
    return ApiOutput("+OK\n")


def _reload(sw: SimCore, args: str) -> ApiOutput:
    name = args.split(" ")[-1].strip() if args else ""
    if not name:
        return ApiOutput("-USAGE: [-f] <mod_name>\n")
    if name not in sw.modules.available():
        return ApiOutput("-ERR [module load file routine returned an error]\n")
    sw.modules.add(name)
    return ApiOutput("+OK Reloading XML\n+OK module unloaded\n+OK module loaded\n")


def _xml_flush_cache(sw: SimCore, args: str) -> ApiOutput:
    return ApiOutput("+OK\n")


def register_call_commands(sw: SimCore) -> None:
    """Install the call commands (mod_commands, mod_sofia, mod_conference)."""
    for name in AVAILABLE_MODULES:
        sw.modules.add(name, loaded=name in LOADED_AT_START)
    for endpoint, module in ENDPOINT_MODULES.items():
        sw.endpoints.setdefault(endpoint, module)
    sync = sw.register_sync_api
    sync("uuid_kill", _uuid_kill, "Kill channel", syntax="<uuid> [cause]")
    sync("uuid_getvar", _uuid_getvar, "Get a variable from a channel", syntax="<uuid> <var>")
    sync("uuid_setvar", _uuid_setvar, "Set a variable", syntax="<uuid> <var> [value]")
    sync("uuid_setvar_multi", _uuid_setvar_multi, "Set multiple variables",
         syntax="<uuid> <var>=<value>;<var>=<value>...")  # fmt: skip
    sync("uuid_dump", _uuid_dump, "Dump session vars", syntax="<uuid> [format]")
    sync("uuid_answer", _uuid_answer, "answer", syntax="<uuid>")
    sync("uuid_pre_answer", _uuid_pre_answer, "pre_answer", syntax="<uuid>")
    sync("uuid_park", _uuid_park, "Park channel", syntax="<uuid>")
    sync("uuid_break", _uuid_break, "Break out of media sent to channel", syntax="<uuid> [all]")
    sync("uuid_bridge", _uuid_bridge, "Bridge call legs", syntax="<uuid> <other_uuid>")
    sync("uuid_hold", _uuid_hold, "Place call on hold", syntax="[off|toggle] <uuid> [<display>]")
    sync("uuid_record", _uuid_record, "Record session audio",
         syntax="<uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]")  # fmt: skip
    sync("uuid_send_dtmf", _uuid_send_dtmf, "Send dtmf digits", syntax="<uuid> <dtmf_data>")
    sync("uuid_recv_dtmf", _uuid_recv_dtmf, "Receive dtmf digits", syntax="<uuid> <dtmf_data>")
    sync("uuid_broadcast", _uuid_broadcast, "Execute dialplan application",
         syntax="<uuid> <path> [aleg|bleg|holdb|both]")  # fmt: skip
    sync("hupall", _hupall, "hupall", syntax="<cause> [<var> <value>]")
    sync("unload", _unload, "Unload module", syntax="[-f] <mod_name>")
    sync("reload", _reload, "Reload module", syntax="[-f] <mod_name>")
    sync("xml_flush_cache", _xml_flush_cache, "Clear xml cache", syntax="<id> <key> <val>")

    async def originate(args: str) -> ApiOutput:
        return await originate_command(sw, args)

    sw.register_api("originate", originate, "Originate a call", syntax=ORIGINATE_SYNTAX,
                    module="mod_commands")  # fmt: skip

    async def uuid_transfer(args: str) -> ApiOutput:
        return await _uuid_transfer(sw, args)

    sw.register_api("uuid_transfer", uuid_transfer, "Transfer a session",
                    syntax=TRANSFER_SYNTAX, module="mod_commands")  # fmt: skip
