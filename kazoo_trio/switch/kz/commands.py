"""mod_kazoo's API commands (``kazoo_commands.c``), written once over :class:`.KzHost`.

``kz_uuid_setvar[_multi][_encoded]``, ``first-of``, ``kz_expand``, ``kz_eval``,
``kz_contact`` and ``kz_http_put``, with the C code's syntax, outputs, error texts and
success statuses (``ok=False`` is ``SWITCH_STATUS_GENERR``/``FALSE``, which mod_kazoo's
``api`` turns into ``{error, Text}``).  :data:`KZ_COMMANDS` lists them for a backend to
register; every command but ``kz_http_put`` and ``kz_contact`` never waits, so a
backend can also run them inside ``${...}`` expansions.

These commands run without a calling session (as mod_kazoo's ``api`` request runs
them), so ``kz_eval`` needs ``uuid:`` and ``first-of`` only answers its ``#default``
(inside mod_kazoo's event expansion it also reads the event: :func:`first_of_in`).
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Protocol
from xml.etree import ElementTree

import attrs
import trio

from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.kz.host import KzHost
from kazoo_trio.switch.kz.utils import delimited, profile_var, url_decode
from kazoo_trio.switch.protocol import ApiHandler, ApiOutput
from kazoo_trio.switch.separate import separate_string

__all__ = [
    "COMMANDS_ORIGIN",
    "KZ_COMMANDS",
    "KzCommand",
    "first_of",
    "first_of_in",
    "kz_contact",
    "kz_eval",
    "kz_expand",
    "kz_http_put",
    "kz_uuid_setvar",
    "kz_uuid_setvar_encoded",
    "kz_uuid_setvar_multi",
    "kz_uuid_setvar_multi_encoded",
    "register_commands",
]

# Where mod_kazoo's commands create the events they fire (kazoo_commands.c), on any
# backend.
COMMANDS_ORIGIN = EventOrigin("kazoo_commands.c", "kz_uuid_setvar_multi", 232)

UUID_SET_SYNTAX = "<uuid> <var> [value]"
UUID_MULTISET_SYNTAX = "<uuid> <var>=<value>;<var>=<value>..."
KZ_HTTP_PUT_SYNTAX = "localfile url"
KZ_FIRST_OF_SYNTAX = "list of headers to check"
KZ_CONTACT_SYNTAX = "endpoint@account"

# first-of looks at no more items than this; the last keeps the rest of the list.
MAX_FIRST_OF = 25

# kz_contact's answer when the directory has no location for the endpoint.
SUBSCRIBER_ABSENT = "error/subscriber_absent"

# kz_http_put gives the upload this long (libcurl has no timeout set; a bound keeps a
# stuck server from holding the command forever).
HTTP_PUT_TIMEOUT = 60.0

SyncCommand = Callable[[KzHost, str], ApiOutput]
AsyncCommand = Callable[[KzHost, str], Awaitable[ApiOutput]]


def _set_on(host: KzHost, uuid: str, name: str, value: str | None) -> None:
    """``switch_channel_set_variable`` then ``kz_check_set_profile_var``."""
    host.set_channel_variable(uuid, name, value)
    field = profile_var(name)
    if field is not None:
        host.set_profile_var(uuid, field, value)


def _fire_channel_data(host: KzHost, uuid: str) -> None:
    """The ``CHANNEL_DATA`` event mod_kazoo fires "to keep kazoo nodes in sync"."""
    headers = host.channel_headers(uuid)
    if headers is not None:
        host.fire(host.new_event("CHANNEL_DATA", headers=headers))


def _uuid_setvar(host: KzHost, args: str, urldecode: bool) -> ApiOutput:
    argv = separate_string(args, " ", 3) if args else []
    if len(argv) in (2, 3) and argv[0]:
        uuid, name = argv[0], argv[1]
        value = argv[2] if len(argv) == 3 else None
        if not host.channel_exists(uuid):
            return ApiOutput("-ERR No such channel!\n")
        if not name:
            text = "-ERR No variable specified\n"
        else:
            if urldecode and value is not None:
                value = url_decode(value)
            _set_on(host, uuid, name, value)
            text = "+OK\n"
        _fire_channel_data(host, uuid)
        return ApiOutput(text)
    return ApiOutput(f"-USAGE: {UUID_SET_SYNTAX}\n")


def kz_uuid_setvar(host: KzHost, args: str) -> ApiOutput:
    """``kz_uuid_setvar <uuid> <var> [value]``."""
    return _uuid_setvar(host, args, urldecode=False)


def kz_uuid_setvar_encoded(host: KzHost, args: str) -> ApiOutput:
    """``kz_uuid_setvar_encoded <uuid> <var> [url-encoded value]``."""
    return _uuid_setvar(host, args, urldecode=True)


def _uuid_setvar_multi(host: KzHost, args: str, urldecode: bool) -> ApiOutput:
    usage = f"-USAGE: {UUID_MULTISET_SYNTAX}\n"
    if not args:
        return ApiOutput(usage)
    uuid, space, rest = args.partition(" ")
    if not space:
        return ApiOutput("")
    delim, items = (";", rest) if not rest.startswith("^^") else (rest[2:3] or "\0", rest[3:])
    if not host.channel_exists(uuid):
        return ApiOutput("-ERR No such channel!\n" + usage)
    text = ""
    count = 0
    for item in separate_string(items, delim, 64):
        name, eq, value = item.partition("=")
        if not name:
            text += "-ERR No variable specified\n"
            continue
        decoded: str | None = value if eq else None
        if urldecode and decoded is not None:
            decoded = url_decode(decoded)
        _set_on(host, uuid, name, decoded)
        count += 1
    _fire_channel_data(host, uuid)
    return ApiOutput(text + ("+OK\n" if count else usage))


def kz_uuid_setvar_multi(host: KzHost, args: str) -> ApiOutput:
    """``kz_uuid_setvar_multi <uuid> [^^<d>]<var>=<value>;<var>=<value>...``."""
    return _uuid_setvar_multi(host, args, urldecode=False)


def kz_uuid_setvar_multi_encoded(host: KzHost, args: str) -> ApiOutput:
    """``kz_uuid_setvar_multi`` with URL-encoded values: what ``ecallmgr_fs_command``
    sends for every variable set and unset."""
    return _uuid_setvar_multi(host, args, urldecode=True)


def first_of(host: KzHost, args: str) -> ApiOutput:
    """``first-of [^^<d>]item|item|...`` as an API request runs it: no calling session
    and no parameter event, so only a ``#default`` (or ``!``/``?``) item answers."""
    return first_of_in(args, lambda name: None)


def first_of_in(args: str, header: Callable[[str], str | None]) -> ApiOutput:
    """``first-of`` with a parameter event (``header`` looks its headers up), as it runs
    inside mod_kazoo's event expansion: the first item that is a header of the event, or
    the first non-empty ``#default``."""
    if not args:
        return ApiOutput("", ok=False)
    parsed = delimited(args, "|")
    if parsed is None:
        return ApiOutput("")
    delim, rest = parsed
    for item in separate_string(rest, delim, MAX_FIRST_OF):
        if item[:1] in ("#", "!", "?"):
            if item[1:]:
                return ApiOutput(item[1:])
            continue
        value = header(item)
        if value is not None:
            return ApiOutput(value)
    return ApiOutput("")


def _uuid_and_input(args: str) -> tuple[str | None, str] | None:
    """``[uuid:<uuid> ]<input>``; ``None`` for ``uuid:`` with nothing after the uuid."""
    if args[:5].lower() != "uuid:":
        return None, args
    uuid, space, text = args[5:].partition(" ")
    if not space:
        return None
    return uuid, text


def kz_expand(host: KzHost, args: str) -> ApiOutput:
    """``kz_expand [uuid:<uuid> ]<text>``: ``+OK `` and the text expanded against a
    ``GENERAL`` event carrying every global variable, then the channel's data when the
    channel exists."""
    if not args:
        return ApiOutput("-ERR invalid input", ok=False)
    parsed = _uuid_and_input(args)
    if parsed is None:
        return ApiOutput("-ERR invalid argument", ok=False)
    uuid, text = parsed
    headers = host.channel_headers(uuid) if uuid is not None else None
    event = host.new_event("GENERAL", headers=[*host.global_variables(), *(headers or ())])
    return ApiOutput(f"+OK {host.expand_event(text, event)}")


def kz_eval(host: KzHost, args: str) -> ApiOutput:
    """``kz_eval uuid:<uuid> <text>``: ``+OK `` and the text expanded as the channel
    expands variables."""
    if not args:
        return ApiOutput("-ERR invalid input", ok=False)
    parsed = _uuid_and_input(args)
    uuid, text = parsed if parsed is not None else (None, "")
    if uuid is None:
        # Without uuid: the calling session's channel, and API requests have none.
        return ApiOutput("-ERR invalid argument", ok=False)
    expanded = host.expand_channel(uuid, text)
    if expanded is None:
        return ApiOutput("-ERR invalid session", ok=False)
    return ApiOutput(f"+OK {expanded}")


async def kz_contact(host: KzHost, args: str) -> ApiOutput:
    """``kz_contact <endpoint@account>``: the ``value`` of the directory's
    ``<location id="...">``, as Kazoo's registrar answers the lookup."""
    params = [("action", "call"), ("Fetch-Exclude-Cache", "true")]
    document = await host.xml_lookup("directory", "location", "id", args, params)
    if document is None:
        return ApiOutput(SUBSCRIBER_ABSENT)
    value = _location_value(document, args)
    return ApiOutput(value or SUBSCRIBER_ABSENT)


def _location_value(document: str, key: str) -> str:
    """``switch_xml_locate(directory, location, id, key)``: a ``location`` child of the
    ``directory`` section with that id; its ``value``."""
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError:
        return ""
    for section in root.iter("section"):
        if section.get("name") != "directory":
            continue
        for location in section.findall("location"):
            if location.get("id") == key:
                return location.get("value", "")
    return ""


async def kz_http_put(host: KzHost, args: str) -> ApiOutput:
    """``kz_http_put <url> <localfile>``: upload the file with HTTP ``PUT``; on 200, 201,
    202 or 204 the file is deleted and ``+OK <file> saved to <url>``.

    The C code reads the URL first, despite its syntax text; a ``{...}`` parameter
    block before the URL is accepted and ignored, as mod_kazoo ignores it.  Only
    ``http://`` URLs are supported (no TLS), and redirects are not followed.
    """
    argv = separate_string(args, " ", 10) if args else []
    if len(argv) != 2:
        return ApiOutput(f"USAGE: {KZ_HTTP_PUT_SYNTAX}\n")
    url, filename = argv
    if url.startswith("{"):
        close = url.find("}")
        if close == -1:
            return ApiOutput("-ERR error parsing parameters\n", ok=False)
        url = url[close + 1 :]
    # Plain file calls: recordings are small, and the package runs no worker threads.
    try:
        with open(filename, "rb") as file:
            body = file.read()
    except OSError:
        return ApiOutput("-ERR error opening file\n", ok=False)
    status = 0
    with trio.move_on_after(HTTP_PUT_TIMEOUT):
        status = await _http_put(url, body, _mime_type(filename))
    if status in (200, 201, 202, 204):
        with contextlib.suppress(OSError):
            os.remove(filename)
        return ApiOutput(f"+OK {filename} saved to {url}")
    error = f"Received HTTP error {status} trying to save {filename} to {url}"
    return ApiOutput(f"-ERR {error}", ok=False)


_OCTET_STREAM = "application/octet-stream"
_MIME_TYPES = {
    "wav": "audio/x-wav",
    "mp3": "audio/mpeg",
    "pdf": "application/pdf",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "txt": "text/plain",
}


def _mime_type(filename: str) -> str:
    """``switch_core_mime_ext2type`` for the types Kazoo uploads."""
    _, dot, ext = filename.rpartition(".")
    return _MIME_TYPES.get(ext.lower(), _OCTET_STREAM) if dot else _OCTET_STREAM


async def _http_put(url: str, body: bytes, mime_type: str) -> int:
    """One HTTP/1.1 ``PUT``; the response's status code, ``0`` when there is none."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return 0
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host_header = parts.netloc.rpartition("@")[2]
    request = (
        f"PUT {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: freeswitch-kazoo/1.0\r\n"
        f"Accept: */*\r\nContent-Type: {mime_type}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")
    try:
        stream = await trio.open_tcp_stream(parts.hostname, parts.port or 80)
    except OSError:
        return 0
    async with stream:
        try:
            await stream.send_all(request + body)
            head = b""
            while b"\r\n" not in head:
                chunk = await stream.receive_some(4096)
                if not chunk:
                    break
                head += chunk
        except (OSError, trio.BrokenResourceError):
            return 0
    fields = head.split(b"\r\n", 1)[0].split(b" ")
    if len(fields) < 2 or not fields[0].startswith(b"HTTP/") or not fields[1].isdigit():
        return 0
    return int(fields[1])


@attrs.frozen
class KzCommand:
    """One API command as ``add_kz_commands`` registers it."""

    name: str
    description: str
    syntax: str
    sync: SyncCommand | None = None
    wait: AsyncCommand | None = None


# As add_kz_commands registers them (its descriptions of the setvar pairs are swapped).
KZ_COMMANDS: tuple[KzCommand, ...] = (
    KzCommand("kz_uuid_setvar_multi", "Set a variable", UUID_MULTISET_SYNTAX,
              sync=kz_uuid_setvar_multi),
    KzCommand("kz_uuid_setvar_multi_encoded", "Set a variable", UUID_MULTISET_SYNTAX,
              sync=kz_uuid_setvar_multi_encoded),
    KzCommand("kz_uuid_setvar", "Set multiple variables", UUID_SET_SYNTAX, sync=kz_uuid_setvar),
    KzCommand("kz_uuid_setvar_encoded", "Set multiple variables", UUID_SET_SYNTAX,
              sync=kz_uuid_setvar_encoded),
    KzCommand("kz_http_put", "upload a local freeswitch file to a url", KZ_HTTP_PUT_SYNTAX,
              wait=kz_http_put),
    KzCommand("first-of", "returns first-of existing event header in params",
              KZ_FIRST_OF_SYNTAX, sync=first_of),
    KzCommand("kz_expand", "returns first-of existing event header in params",
              KZ_FIRST_OF_SYNTAX, sync=kz_expand),
    KzCommand("kz_eval", "returns first-of existing event header in params",
              KZ_FIRST_OF_SYNTAX, sync=kz_eval),
    KzCommand("kz_contact", "returns kazoo contact", KZ_CONTACT_SYNTAX, wait=kz_contact),
)  # fmt: skip


class ApiRegistry(Protocol):
    """Where a backend takes API commands (:meth:`Switch.register_api`)."""

    def register_api(
        self,
        name: str,
        handler: ApiHandler,
        description: str = "",
        *,
        syntax: str = "",
        module: str = "",
    ) -> None: ...


def register_commands(registry: ApiRegistry, host: KzHost, module: str = "mod_kazoo") -> None:
    """Register :data:`KZ_COMMANDS` on ``registry``, running over ``host``.

    A backend that can run commands inside its expansions registers the ``sync`` ones
    its own way (the simulated switch does).
    """
    for command in KZ_COMMANDS:
        registry.register_api(
            command.name,
            bind_command(command, host),
            command.description,
            syntax=command.syntax,
            module=module,
        )


def bind_command(command: KzCommand, host: KzHost) -> ApiHandler:
    """``command`` as an API handler over ``host``."""
    sync, wait = command.sync, command.wait

    async def handler(args: str) -> ApiOutput:
        if wait is not None:
            return await wait(host, args)
        await trio.lowlevel.checkpoint()
        return sync(host, args) if sync is not None else ApiOutput("", ok=False)

    return handler
