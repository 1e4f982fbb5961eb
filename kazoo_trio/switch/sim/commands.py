"""The simulated core's API commands, with FreeSWITCH's (mod_commands) texts.

Every command receives the argument text already expanded by the caller and answers
with an :class:`ApiOutput`.  Like FreeSWITCH they report misuse in the text
(``-USAGE: ...``, ``-ERR ...``) and keep the success status.
Layer: above :mod:`.core` (commands run on a :class:`~kazoo_trio.switch.sim.core.SimCore`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from xml.etree.ElementTree import Element, SubElement

from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.separate import separate_string
from kazoo_trio.switch.sim.appdocs import APPLICATION_DOCS
from kazoo_trio.switch.sim.channel import Channel, codec_of
from kazoo_trio.switch.sim.core import SimCore
from kazoo_trio.switch.sim.status import stack_sizes_kb, uptime_text
from kazoo_trio.switch.xmltext import XmlError, find_tag, parse_document, to_freeswitch_xml
from kazoo_trio.uuids import uuid4_str

__all__ = ["UPTIME_SYNTAX", "register_core_commands"]

UPTIME_SYNTAX = "[us|ms|s|m|h|d|microseconds|milliseconds|seconds|minutes|hours|days]"
GLOBAL_SETVAR_SYNTAX = "<var>=<value> [=<value2>]"
GLOBAL_GETVAR_SYNTAX = "<var>"
LOAD_SYNTAX = "<mod_name>"
XML_LOCATE_SYNTAX = "[root | <section> <tag> <tag_attr_name> <tag_attr_val>]"
SHOW_SYNTAX = (
    "codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels "
    "[count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|"
    "aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|"
    "limits|status"
)

# The static configuration the simulated core has of its own: none, so lookups that
# no binding answers find nothing, as in a FreeSWITCH with an empty freeswitch.xml.
STATIC_ROOT_XML = '<document type="freeswitch/xml"/>'

_RELOADXML_ORIGIN = EventOrigin("switch_xml.c", "switch_xml_open_root", 2423)

_UPTIME_SCALES = {
    "": 1_000_000,
    "microseconds": 1,
    "us": 1,
    "milliseconds": 1_000,
    "ms": 1_000,
    "seconds": 1_000_000,
    "s": 1_000_000,
    "minutes": 60_000_000,
    "m": 60_000_000,
    "hours": 3_600_000_000,
    "h": 3_600_000_000,
    "days": 86_400_000_000,
    "d": 86_400_000_000,
}

# Columns of FreeSWITCH's core database tables the show command prints.
_API_COLUMNS = ("name", "description", "syntax", "ikey")
_INTERFACE_COLUMNS = ("type", "name", "ikey")
_CHANNEL_COLUMNS = (
    "uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num",
    "ip_addr", "dest", "application", "application_data", "dialplan", "context", "read_codec",
    "read_rate", "read_bit_rate", "write_codec", "write_rate", "write_bit_rate", "secure",
    "hostname", "presence_id", "presence_data", "accountcode", "callstate", "callee_name",
    "callee_num", "callee_direction", "call_uuid", "sent_callee_name", "sent_callee_num",
    "initial_cid_name", "initial_cid_num", "initial_ip_addr", "initial_dest",
    "initial_dialplan", "initial_context",
)  # fmt: skip


def _status(sw: SimCore, args: str) -> ApiOutput:
    sessions = len(sw.channels)
    cur, hard = stack_sizes_kb()
    text = (
        f"UP {uptime_text(sw.uptime_us())}\n"
        f"FreeSWITCH (Version {sw.identity.version_full_human}) is ready\n"
        f"{sw.channels.created_total} session(s) since startup\n"
        f"{sessions} session(s) - peak {sw.channels.peak}, last 5min {sw.channels.peak} \n"
        f"0 session(s) per Sec out of max {sw.sps}, peak 0, last 5min 0 \n"
        f"{sw.session_limit} session(s) max\n"
        f"min idle cpu 0.00/100.00\n"
        f"Current Stack Size/Max {cur}K/{hard}K\n"
    )
    return ApiOutput(text)


def _version(sw: SimCore, args: str) -> ApiOutput:
    ident = sw.identity
    if not args:
        return ApiOutput(
            f"FreeSWITCH Version {ident.version_full} ({ident.version_revision_full_human})\n"
        )
    argv = separate_string(args, " ", 2)
    if argv and "short" in argv[0].lower():
        return ApiOutput(f"{ident.version_major}.{ident.version_minor}.{ident.version_micro}\n")
    return ApiOutput(f"FreeSWITCH Version {ident.version_full} ({ident.version_full_human})\n")


def _uptime(sw: SimCore, args: str) -> ApiOutput:
    scale = _UPTIME_SCALES.get(args.lower())
    if scale is None:
        return ApiOutput(f"-USAGE: {UPTIME_SYNTAX}\n")
    return ApiOutput(f"{sw.uptime_us() // scale}\n")


def _hostname(sw: SimCore, args: str) -> ApiOutput:
    return ApiOutput(sw.identity.hostname)


def _switchname(sw: SimCore, args: str) -> ApiOutput:
    return ApiOutput(sw.identity.switchname or sw.identity.hostname)


def _echo(sw: SimCore, args: str) -> ApiOutput:
    return ApiOutput(args)


def _eval(sw: SimCore, args: str) -> ApiOutput:
    """``eval [uuid:<uuid> ]<expression>``: expand against a CHANNEL_DATA event, filled
    with the channel's data when the channel exists (else only the standard headers)."""
    text: str | None = args
    channel_uuid = ""
    if args[:5].lower() == "uuid:":
        rest = args[5:]
        space = rest.find(" ")
        if space == -1:
            text = None
        else:
            channel_uuid = rest[:space][:79]
            text = rest[space + 1 :]
    if not text:
        return ApiOutput("")
    headers = sw.channel_headers(channel_uuid) if channel_uuid else None
    event = sw.new_event("CHANNEL_DATA", headers=headers or ())
    return ApiOutput(sw.expand(text, event))


def _global_getvar(sw: SimCore, args: str) -> ApiOutput:
    if not args:
        return ApiOutput("".join(f"{name}={value}\n" for name, value in sw.variables.items()))
    return ApiOutput(sw.get_global(args) or "")


def _global_setvar(sw: SimCore, args: str) -> ApiOutput:
    argv = separate_string(args, "=", 3) if args else []
    if argv and argv[0]:
        name = argv[0]
        value = argv[1] if len(argv) > 1 and argv[1] else None
        expected = argv[2] if len(argv) > 2 and argv[2] else None
        if expected is not None:
            sw.variables.set_conditional(name, value, expected)
        else:
            sw.set_global(name, value)
        return ApiOutput("+OK")
    return ApiOutput(f"-USAGE: {GLOBAL_SETVAR_SYNTAX}\n")


def _module_exists(sw: SimCore, args: str) -> ApiOutput:
    if not args:
        return ApiOutput("")
    return ApiOutput("true" if sw.modules.exists(args) else "false")


def _uuid_exists(sw: SimCore, args: str) -> ApiOutput:
    return ApiOutput("true" if args and sw.channel_exists(args) else "false")


def _reload_xml(sw: SimCore) -> None:
    """``switch_xml_reload``: the static XML is re-read (the core has none) and
    ``RELOADXML`` fired."""
    sw.fire(sw.new_event("RELOADXML", origin=_RELOADXML_ORIGIN))


def _reloadxml(sw: SimCore, args: str) -> ApiOutput:
    _reload_xml(sw)
    return ApiOutput("+OK [Success]\n")


def _reloadacl(sw: SimCore, args: str) -> ApiOutput:
    prefix = ""
    if args.lower() == "reloadxml":
        prefix = "This option is deprecated, we now always reloadxml.\n"
    _reload_xml(sw)
    return ApiOutput(prefix + "+OK acl reloaded\n")


def _load(sw: SimCore, args: str) -> ApiOutput:
    """``load <mod_name>``: modules the core declared available can be loaded."""
    if not args:
        return ApiOutput(f"-USAGE: {LOAD_SYNTAX}\n")
    _reload_xml(sw)
    text = "+OK Reloading XML\n"
    if sw.modules.exists(args):
        return ApiOutput(text + "-ERR [Module already loaded]\n")
    if args not in sw.modules.available():
        return ApiOutput(text + "-ERR [module load file routine returned an error]\n")
    sw.modules.add(args)
    return ApiOutput(text + "+OK\n")


def _create_uuid(sw: SimCore, args: str) -> ApiOutput:
    return ApiOutput(uuid4_str())


def _rows_text(columns: Sequence[str], rows: Sequence[Sequence[str]], as_: str, delim: str) -> str:
    """The show command's table printers (delimited, xml, json)."""
    kind = as_.lower()
    if kind in ("delim", "csv"):
        out = []
        if rows:
            out.append(delim.join(columns) + "\n")
            out.extend(delim.join(row) + "\n" for row in rows)
        out.append(f"\n{len(rows)} total.\n")
        return "".join(out)
    if kind == "json":
        if not rows:
            return '{"row_count": 0}\n'
        objects = [dict(zip(columns, row, strict=True)) for row in rows]
        return json.dumps(
            {"row_count": len(rows), "rows": objects}, separators=(",", ":"), ensure_ascii=False
        )
    if kind == "xml":
        if not rows:
            return '<result row_count="0"/>\n'
        result = Element("result", {"row_count": str(len(rows))})
        for i, row in enumerate(rows, 1):
            row_el = SubElement(result, "row", {"row_id": str(i)})
            for column, value in zip(columns, row, strict=True):
                SubElement(row_el, column).text = value
        return to_freeswitch_xml(result)
    return f"-USAGE: {SHOW_SYNTAX}\n"


def _channel_row(channel: Channel, hostname: str) -> list[str]:
    """A row of FreeSWITCH's ``channels`` table (the ``show channels`` columns)."""
    p = channel.profile
    created_s = p.created // 1_000_000
    codec, rate, bit_rate = codec_of(channel.name)
    return [
        channel.uuid, channel.direction,
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created_s)), str(created_s),
        channel.name, channel.state, p.caller_id_name, p.caller_id_number, p.network_addr,
        p.destination_number, channel.running_app, channel.running_app_data, p.dialplan,
        p.context, codec, rate, bit_rate, codec, rate, bit_rate, "", hostname,
        channel.variables.get("presence_id", ""), channel.variables.get("presence_data", ""),
        channel.variables.get("accountcode", ""), channel.callstate, p.callee_id_name,
        p.callee_id_number, channel.callee_direction, channel.call_uuid, "", "",
        p.original_name, p.original_number,
        p.network_addr, p.destination_number, p.dialplan, p.context,
    ]  # fmt: skip


def _channels(sw: SimCore) -> list[Channel]:
    found = [sw.channels.get(uuid) for uuid in sw.channels.uuids()]
    return [c for c in found if isinstance(c, Channel)]


def _show(sw: SimCore, args: str) -> ApiOutput:
    argv = separate_string(args, " ", 6) if args else []
    if not argv:
        return ApiOutput(f"-USAGE: {SHOW_SYNTAX}\n")
    command = argv[0].lower()
    as_ = argv[2] if len(argv) > 2 and argv[1].lower() == "as" else "delim"
    delim = argv[3] if len(argv) > 3 and as_.lower() in ("delim", "csv") else ","
    if command.startswith("status"):
        return _status(sw, "")
    if command in ("api", "application"):
        name_filter = argv[1] if len(argv) > 1 and argv[1].lower() != "as" else None
        rows = []
        if command == "api":
            for entry in sorted(sw.apis.entries(), key=lambda e: e.name.encode()):
                if entry.description and name_filter in (None, entry.name):
                    rows.append((entry.name, entry.description, entry.syntax, entry.module))
        else:
            for name in sorted(sw.applications, key=str.encode):
                doc = APPLICATION_DOCS.get(name)
                if doc is not None and doc.description and name_filter in (None, name):
                    rows.append((name, doc.description, doc.syntax, doc.module))
        return ApiOutput(_rows_text(_API_COLUMNS, rows, as_, delim))
    if command.startswith("endpoint"):
        endpoint_rows = [
            ("endpoint", name, module)
            for name, module in sorted(sw.endpoints.items(), key=lambda e: e[0].encode())
            if sw.modules.exists(module)
        ]
        return ApiOutput(_rows_text(_INTERFACE_COLUMNS, endpoint_rows, as_, delim))
    if command.startswith("chat"):
        chat_rows = [
            ("chat", name, module)
            for name, module in sorted(sw.chat_interfaces.items(), key=lambda e: e[0].encode())
            if sw.modules.exists(module)
        ]
        return ApiOutput(_rows_text(_INTERFACE_COLUMNS, chat_rows, as_, delim))
    if command in ("channels", "calls", "detailed_calls", "bridged_calls"):
        if len(argv) > 1 and argv[1].lower() == "count":
            return ApiOutput(f"\n{len(sw.channels)} total.\n")
        listed = _channels(sw)
        if command == "bridged_calls":
            listed = [c for c in listed if c.peer is not None]
        if command in ("calls", "bridged_calls", "detailed_calls"):
            # One row per call: the originating leg of a bridge stands for both.
            listed = [c for c in listed if c.other_type != "originator"]
        channel_rows = [_channel_row(c, sw.identity.hostname) for c in listed]
        return ApiOutput(_rows_text(_CHANNEL_COLUMNS, channel_rows, as_, delim))
    return ApiOutput(f"-USAGE: {SHOW_SYNTAX}\n")


def register_core_commands(sw: SimCore) -> None:
    """Install the core's commands on ``sw`` and declare ``mod_commands`` loaded."""
    sw.modules.add("mod_commands")
    sync = sw.register_sync_api
    sync("status", _status, "Show current status")
    sync("version", _version, "Version", syntax="[short]")
    sync("uptime", _uptime, "Show uptime", syntax=UPTIME_SYNTAX)
    sync("hostname", _hostname, "Return the system hostname")
    sync("switchname", _switchname, "Return the switch name")
    sync("echo", _echo, "Echo", syntax="<data>")
    sync("eval", _eval, "eval (noop)", syntax="[uuid:<uuid> ]<expression>")
    sync("global_getvar", _global_getvar, "Get global var", syntax=GLOBAL_GETVAR_SYNTAX)
    sync("global_setvar", _global_setvar, "Set global var", syntax=GLOBAL_SETVAR_SYNTAX)
    sync("module_exists", _module_exists, "Check if module exists", syntax="<module>")
    sync("uuid_exists", _uuid_exists, "Check if a uuid exists", syntax="<uuid>")
    sync("create_uuid", _create_uuid, "Create a uuid", syntax="<uuid> <other_uuid>")
    sync("show", _show, "Show various reports", syntax=SHOW_SYNTAX)
    sync("load", _load, "Load Module", syntax=LOAD_SYNTAX)
    sync("reloadxml", _reloadxml, "Reload XML")
    sync("reloadacl", _reloadacl, "Reload ACL")

    async def xml_locate(args: str) -> ApiOutput:
        return await _xml_locate(sw, args)

    sw.register_api(
        "xml_locate", xml_locate, "Find some xml", syntax=XML_LOCATE_SYNTAX, module="mod_commands"
    )


async def _xml_locate(sw: SimCore, args: str) -> ApiOutput:
    """``xml_locate <section> <tag> <tag_attr_name> <tag_attr_val>`` (or just a section,
    or ``root``): look up through the fetch bindings and print the element found."""
    argv = separate_string(args, " ", 4) if args else []
    if len(argv) == 1 and argv[0].lower() == "root":
        return ApiOutput(to_freeswitch_xml(parse_document(STATIC_ROOT_XML)))
    if len(argv) not in (1, 4):
        return ApiOutput("-ERR bad args\n")
    section = argv[0]
    tag, attr, value = (argv[1], argv[2], argv[3]) if len(argv) == 4 else ("", "", "")
    params = [("section", section)]
    if len(argv) == 4:
        params += [("tag", tag), ("tag_attr_name", attr), ("tag_attr_val", value)]
    event = sw.new_event("REQUEST_PARAMS", headers=params)
    candidates = []
    found = await sw.xml_lookup(section, tag, attr, value, event)
    if found is not None:
        candidates.append(found)
    candidates.append(STATIC_ROOT_XML)
    for text in candidates:
        try:
            root = parse_document(text)
        except XmlError:
            continue
        element = find_tag(root, section, tag, attr, value)
        if element is not None:
            return ApiOutput(to_freeswitch_xml(element))
    return ApiOutput("can't find anything\n")
