"""API commands about a call's media and the network that ecallmgr sends:
``uuid_fileman``, ``uuid_audio`` and ``regex`` (mod_commands; ``regex`` serves the
``eval`` ecallmgr's call control asks a channel's state with), ``acl`` (mod_commands, with the
network lists of ``acl.conf`` asked of the configuration bindings), and ``http_get``
(mod_http_cache: a local file, or an ``http://`` URL on this host fetched into the
cache).
Layer: above :mod:`.core` and :mod:`.applications`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import tempfile
import urllib.parse

import h11
import trio

from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.separate import separate_string
from kazoo_trio.switch.sim.applications import playing_file
from kazoo_trio.switch.sim.channel import Channel
from kazoo_trio.switch.sim.core import SimCore
from kazoo_trio.switch.xmltext import XmlError, parse_document

__all__ = [
    "AUDIO_SYNTAX",
    "FILEMAN_SYNTAX",
    "HTTP_GET_SYNTAX",
    "acl_allows",
    "register_media_commands",
]

FILEMAN_SYNTAX = "<uuid> <cmd>:<val>"
AUDIO_SYNTAX = "<uuid> [start [read|write] [mute|level <level>]|stop]"
HTTP_GET_SYNTAX = "{param=val}<url>"
NO_CHANNEL = "-ERR No such channel!\n"

# The lists switch_load_network_lists builds before reading acl.conf.
_AUTO_LISTS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "rfc1918.auto": (False, ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fe80::/10")),
    "wan.auto": (True, ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fe80::/10")),
    "wan_v4.auto": (True, ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
    "wan_v6.auto": (True, ("fe80::/10",)),
    "nat.auto": (False, ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
    "loopback.auto": (False, ("127.0.0.0/8", "::1/128")),
    "any_v4.auto": (False, ("0.0.0.0/0",)),
    "any_v6.auto": (False, ("::/0",)),
}  # fmt: skip


def _channel(sw: SimCore, uuid: str) -> Channel | None:
    found = sw.channels.get(uuid)
    return found if isinstance(found, Channel) and found.up else None


def _uuid_fileman(sw: SimCore, args: str) -> ApiOutput:
    """``uuid_fileman <uuid> <cmd>:<val>``: acts on the file the channel plays
    (``stop`` and ``truncate`` end it; seeking, speed and volume have nothing to change)."""
    argv = separate_string(args, " ", 4) if args else []
    if len(argv) < 2 or not argv[0]:
        return ApiOutput(f"-USAGE: {FILEMAN_SYNTAX}\n")
    channel = _channel(sw, argv[0])
    if channel is None:
        return ApiOutput(NO_CHANNEL)
    if playing_file(channel) is None:
        return ApiOutput("-ERR No file handle!\n")
    command = argv[1].partition(":")[0].lower()
    if command in ("stop", "truncate"):
        channel.interrupt()
    return ApiOutput("+OK\n")


def _uuid_audio(sw: SimCore, args: str) -> ApiOutput:
    """``uuid_audio <uuid> start read|write mute|level <level>`` / ``stop``: the
    levels are kept as ``sim_audio_<direction>_<kind>`` variables."""
    argv = args.split() if args else []
    if len(argv) < 2:
        return ApiOutput(f"-USAGE: {AUDIO_SYNTAX}\n")
    channel = _channel(sw, argv[0])
    if channel is None:
        return ApiOutput(NO_CHANNEL)
    if argv[1].lower() == "stop":
        for direction in ("read", "write"):
            for kind in ("mute", "level"):
                channel.set_variable(f"sim_audio_{direction}_{kind}", None)
        return ApiOutput("+OK\n")
    direction = argv[2].lower() if len(argv) > 2 else ""
    kind = argv[3].lower() if len(argv) > 3 else ""
    if argv[1].lower() != "start" or len(argv) < 5 or direction not in ("read", "write"):
        return ApiOutput(f"-USAGE: {AUDIO_SYNTAX}\n")
    if kind not in ("mute", "level"):
        return ApiOutput(f"-USAGE: {AUDIO_SYNTAX}\n")
    try:
        level = int(argv[4])
    except ValueError:
        level = 0
    channel.set_variable(f"sim_audio_{direction}_{kind}", str(level))
    return ApiOutput("+OK\n")


REGEX_SYNTAX = "<data>|<pattern>[|<subst string>][n|b]"


def _regex(sw: SimCore, args: str) -> ApiOutput:
    """``regex <data>|<pattern>[|<subst>[|<flags>]]`` (``m:<d>`` picks the delimiter):
    the substitution (``%N`` groups) on a match; without one, ``true``/``false``."""
    if not args:
        return ApiOutput("-ERR")
    delim = "|"
    text = args
    if len(text) > 3 and text.startswith("m:") and text[2] in "|~/":
        delim, text = text[2], text[3:]
    argv = separate_string(text, delim, 4)
    if len(argv) < 2:
        return ApiOutput("-ERR")
    try:
        match = re.search(argv[1], argv[0])
    except re.error:
        match = None
    if len(argv) < 3:
        return ApiOutput("true" if match else "false")
    if match is None:
        flags = argv[3] if len(argv) > 3 else ""
        return ApiOutput("" if "n" in flags else "false" if "b" in flags else argv[0])

    def group(found: re.Match[str]) -> str:
        index = int(found.group(1))
        return (match.group(index) or "") if index <= (match.re.groups) else ""

    return ApiOutput(re.sub(r"[%$](\d{1,2})", group, argv[2]))


# -- acl ---------------------------------------------------------------------------------------

Node = tuple[bool, ipaddress.IPv4Network | ipaddress.IPv6Network]


def acl_allows(ip: str, default_allow: bool, nodes: list[Node]) -> bool:
    """``switch_network_list_validate_ip``: the most specific node containing ``ip``
    decides; none does, the list's default."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    best: Node | None = None
    for node in nodes:
        network = node[1]
        if address.version != network.version or address not in network:
            continue
        if best is None or network.prefixlen > best[1].prefixlen:
            best = node
    return default_allow if best is None else best[0]


def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        return None


async def _acl_lists(sw: SimCore) -> dict[str, tuple[bool, list[Node]]]:
    """The automatic lists, then those ``acl.conf`` defines (its bindings answer)."""
    lists: dict[str, tuple[bool, list[Node]]] = {}
    for name, (default_allow, cidrs) in _AUTO_LISTS.items():
        # The .auto lists allow their ranges on a deny default (wan.auto: the reverse).
        nets = [n for n in (_network(c) for c in cidrs) if n is not None]
        lists[name] = (default_allow, [(not default_allow, n) for n in nets])
    text = await sw.xml_lookup(
        "configuration", "configuration", "name", "acl.conf", [("key_value", "acl.conf")]
    )
    if not text:
        return lists
    try:
        root = parse_document(text)
    except XmlError:
        return lists
    for configuration in root.iter("configuration"):
        if configuration.get("name") != "acl.conf":
            continue
        for element in configuration.iter("list"):
            name = element.get("name") or ""
            default_allow = (element.get("default") or "deny").lower() == "allow"
            nodes: list[Node] = []
            for node in element.iter("node"):
                network = _network(node.get("cidr") or "")
                if network is not None:
                    nodes.append(((node.get("type") or "").lower() == "allow", network))
            lists[name] = (default_allow, nodes)
    return lists


async def acl_command(sw: SimCore, args: str) -> ApiOutput:
    """``acl <ip> <list_name|cidr>``: ``true`` or ``false``."""
    argv = separate_string(args, " ", 3) if args else []
    if len(argv) < 2:
        return ApiOutput("false")
    lists = await _acl_lists(sw)
    found = lists.get(argv[1])
    if found is not None:
        allowed = acl_allows(argv[0], found[0], found[1])
    else:
        # switch_check_network_list_ip takes a bare CIDR for a list name too.
        network = _network(argv[1]) if "/" in argv[1] else None
        allowed = network is not None and acl_allows(argv[0], False, [(True, network)])
    return ApiOutput("true" if allowed else "false")


# -- http_get ----------------------------------------------------------------------------------


def cache_dir(sw: SimCore) -> str:
    """Where fetched files go: the ``http_cache_dir`` global, else a temporary folder."""
    return sw.get_global("http_cache_dir") or os.path.join(
        tempfile.gettempdir(), "kazoo_trio_http_cache"
    )


def _cache_path(sw: SimCore, url: str) -> str:
    path = urllib.parse.urlsplit(url).path
    _, dot, ext = os.path.basename(path).rpartition(".")
    name = hashlib.sha1(url.encode()).hexdigest()
    return os.path.join(cache_dir(sw), f"{name}.{ext}" if dot and ext else name)


async def http_fetch(url: str, limit: int = 64 * 1024 * 1024) -> bytes | None:
    """One HTTP/1.1 ``GET`` to this host; the body of a ``200``, else ``None``."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = h11.Connection(h11.CLIENT)
    request = h11.Request(
        method="GET",
        target=target,
        headers=[("Host", parts.netloc), ("User-Agent", "freeswitch-http-cache"),
                 ("Connection", "close")],
    )  # fmt: skip
    try:
        stream = await trio.open_tcp_stream(parts.hostname, parts.port or 80)
    except OSError:
        return None
    body = bytearray()
    status = 0
    async with stream:
        try:
            await stream.send_all(connection.send(request) + connection.send(h11.EndOfMessage()))
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    connection.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > limit:
                        return None
                elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                    break
        except (OSError, trio.BrokenResourceError, h11.ProtocolError):
            return None
    return bytes(body) if status == 200 else None


async def http_get_command(sw: SimCore, args: str) -> ApiOutput:
    """``http_get [{prefetch=true,...}]<url>``: the local file that holds the URL's
    content (a local path or ``file://`` URL names itself), or ``-ERR``."""
    if not args:
        return ApiOutput(f"USAGE: {HTTP_GET_SYNTAX}\n")
    url = args
    if url.startswith("{"):
        url = url.partition("}")[2]
    if url.startswith("file://"):
        url = urllib.parse.unquote(url[len("file://") :])
    if url.startswith("/"):
        exists = await trio.Path(url).is_file()
        return ApiOutput(url) if exists else ApiOutput("-ERR\n", ok=False)
    body = await http_fetch(url)
    if body is None:
        return ApiOutput("-ERR\n", ok=False)
    path = _cache_path(sw, url)
    await trio.Path(cache_dir(sw)).mkdir(parents=True, exist_ok=True)
    await trio.Path(path).write_bytes(body)
    return ApiOutput(path)


def register_media_commands(sw: SimCore) -> None:
    sync = sw.register_sync_api
    sync("uuid_fileman", _uuid_fileman, "Manage session audio", syntax=FILEMAN_SYNTAX)
    sync("uuid_audio", _uuid_audio, "uuid_audio", syntax=AUDIO_SYNTAX)
    sync("regex", _regex, "Evaluate a regex", syntax=REGEX_SYNTAX)

    async def acl(args: str) -> ApiOutput:
        return await acl_command(sw, args)

    async def http_get(args: str) -> ApiOutput:
        return await http_get_command(sw, args)

    sw.register_api("acl", acl, "Compare an ip to an acl list", syntax="<ip> <list_name>",
                    module="mod_commands")  # fmt: skip
    sw.register_api("http_get", http_get, "HTTP GET", syntax=HTTP_GET_SYNTAX,
                    module="mod_http_cache")  # fmt: skip
