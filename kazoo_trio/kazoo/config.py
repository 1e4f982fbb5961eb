"""Settings of the mod_kazoo server, with mod_kazoo's own names and defaults.

Settings come from a TOML file (``kazoo-trio run --settings x.toml``) or from
mod_kazoo's ``kazoo.conf.xml`` (its ``<settings>`` block), so an existing
FreeSWITCH configuration can be reused as is.  Both spell keys the way
``kazoo.conf.xml`` does (``listen-ip``, ``event-stream-framing``); TOML may also
use underscores.  A key this project does not know is logged as a warning and
ignored; a known key with a bad value raises :class:`SettingsError` naming the
key, the value and what was expected.

Settings this server adds to mod_kazoo's are spelled the same way:
``epmd``/``epmd-port``, ``fetch-timeout`` (µs, when a fetch profile has none),
``bgapi-timeout``, ``max-concurrent-requests``, ``node-backlog`` (messages of one
node not yet handled before its connection stops being read), ``sender-queue-size``,
``event-stream-max-events``/``event-stream-max-bytes`` (the bounds of each
stream's queue; past them the oldest events are dropped) and
``event-stream-clients`` (who may connect to a stream: ``node``, the address of
the Erlang node that asked for it, the default; ``any``; and/or IP addresses) and
``sim-traffic`` (``RATE[:HOLD]``: inbound calls the simulated switch places).

The switch behind the server is chosen with ``switch`` (``sim``, the default, or
``freeswitch``); a real FreeSWITCH is reached with ``freeswitch-esl`` (its event
socket, ``host:port``), ``freeswitch-esl-password``, ``freeswitch-connect-timeout``
and ``freeswitch-reply-timeout`` (seconds), and posts its XML lookups to
``xml-curl-listen`` (``host:port``) at ``xml-curl-path``, answered within
``xml-curl-lookup-timeout`` seconds.  Their defaults match a FreeSWITCH configured
as its packages ship it (``event_socket.conf``: 127.0.0.1:8021, ``ClueCon``).

mod_kazoo knobs that only tuned its thread and buffer model (``receive-timeout``,
``send-msg-batch-size``, ...) are accepted and ignored: the trio server writes
replies at once and has no worker pool to size.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, cast

import attrs

from kazoo_trio.erlang.cookie import CookieError, read_cookie
from kazoo_trio.errors import ConfigurationError
from kazoo_trio.switch.kz.tweaks import KzTweaks, tweaks_from_config

__all__ = [
    "IGNORED_KEYS",
    "Settings",
    "SettingsError",
    "load_settings",
    "parse_bool",
    "settings_from_mapping",
    "settings_from_toml",
    "settings_from_xml",
]

log = logging.getLogger(__name__)

# The literal mod_kazoo falls back to when no cookie is configured anywhere;
# known to everyone, so never used here (no cookie is an error).
DEFAULT_COOKIE = "ClueCon"

# mod_kazoo settings that only sized its threads, buffers and polling loops.
IGNORED_KEYS = frozenset(
    {
        "compat-rel",
        "nat-map",
        "event-stream-queue-timeout",
        "event-stream-preallocate",
        "node-worker-threads",
        "receive-timeout",
        "send-msg-batch-size",
        "receive-msg-preallocate",
        "connection-timeout",
        "io-fault-tolerance",
        "io-fault-tolerance-sleep-micro",
        "io-fault-tolerance-sleep-ms",
        "io-fault-tolerance-sleep-sec",
        "node-receiver-queue-timeout",
        "node-sender-queue-timeout",
        "set-profile-vars-prefix",
    }
)

_TRUE = {"true", "yes", "on", "enabled", "active", "allow", "1"}
_FALSE = {"false", "no", "off", "disabled", "inactive", "deny", "0"}


class SettingsError(ConfigurationError, ValueError):
    """A setting has a value this server cannot use."""


def parse_bool(value: object) -> bool:
    """FreeSWITCH's ``switch_true`` words (``true``, ``yes``, ``on``, ``1``, ...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"not an integer: {value!r}")
    if isinstance(value, int):
        return value
    return int(str(value).strip(), 10)


def _float(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    return float(str(value).strip())


def _str(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError(f"not a string: {value!r}")


def _framing(value: object) -> int:
    framing = _int(value)
    if framing not in (1, 2, 4):
        raise ValueError(f"event stream framing must be 1, 2 or 4, not {framing}")
    return framing


def _port(value: object) -> int:
    port = _int(value)
    if not 0 <= port <= 65535:
        raise ValueError(f"not a TCP port: {port}")
    return port


def _positive(convert: Callable[[object], float]) -> Callable[[object], float]:
    def check(value: object) -> float:
        number = convert(value)
        if number <= 0:
            raise ValueError(f"must be greater than zero: {value!r}")
        return number

    return check


def _positive_int(value: object) -> int:
    number = _int(value)
    if number <= 0:
        raise ValueError(f"must be greater than zero: {value!r}")
    return number


def _json_encoding(value: object) -> str:
    text = _str(value).strip().lower()
    # mod_kazoo: "map" selects maps, anything else the {[...]} tuple form.
    return "map" if text == "map" else "tuple"


EpmdMode = Literal["auto", "external", "embedded"]
SwitchKind = Literal["sim", "freeswitch"]


def _switch_kind(value: object) -> SwitchKind:
    text = _str(value).strip().lower()
    if text not in ("sim", "freeswitch"):
        raise ValueError(f"switch must be sim or freeswitch, not {value!r}")
    return cast(SwitchKind, text)


def _host_port(value: object) -> str:
    """``host:port``, ``host``, ``:port`` or ``[v6]:port``, checked, kept as text."""
    text = _str(value).strip()
    host, port = text, ""
    if host.startswith("["):
        host, bracket, rest = host[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"wants [address]:port, not {text!r}")
        port = rest[1:]
    elif host.count(":") == 1:
        host, _, port = host.partition(":")
    if port:
        _port(port)
    return text


def _url_path(value: object) -> str:
    text = _str(value).strip()
    if not text.startswith("/"):
        raise ValueError(f"an HTTP path starts with /, not {text!r}")
    return text


def _epmd_mode(value: object) -> EpmdMode:
    text = _str(value).strip().lower()
    if text not in ("auto", "external", "embedded"):
        raise ValueError(f"epmd must be auto, external or embedded, not {value!r}")
    return cast(EpmdMode, text)


def _flag_text(value: object) -> str:
    """A TOML boolean or a kazoo.conf truth text, as text ``switch_true`` reads."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _str(value)


def _stream_clients(value: object) -> tuple[str, ...]:
    """``node`` (the requesting node's address), ``any``, and/or IP addresses.

    A TOML list or a text separated by ``;`` or ``,``; ``any`` cannot be mixed
    with anything else, since it would make the rest meaningless.
    """
    if isinstance(value, list):
        items = [_str(v).strip() for v in value]
    else:
        items = [part.strip() for part in _str(value).replace(",", ";").split(";")]
    entries: list[str] = []
    for item in items:
        if not item:
            continue
        word = item.lower()
        if word in ("node", "any"):
            entries.append(word)
            continue
        try:
            entries.append(str(ipaddress.ip_address(item)))
        except ValueError:
            raise ValueError(f"{item!r} is neither node, any nor an IP address") from None
    if not entries:
        raise ValueError("needs node, any or at least one IP address")
    if "any" in entries and len(set(entries)) > 1:
        raise ValueError("any cannot be combined with other entries")
    return tuple(dict.fromkeys(entries))


def _optional_str(value: object) -> str | None:
    text = _str(value)
    return text or None


@attrs.frozen
class Settings:
    """Everything the server reads from its configuration.

    Durations are seconds (floats) whatever unit the source used; the fetch
    timeout stays in microseconds because it travels to Erlang as
    ``Fetch-Timeout`` in that unit.
    """

    listen_ip: str = "0.0.0.0"
    listen_port: int = 0
    cookie: str | None = None
    cookie_file: str | None = None
    nodename: str = "freeswitch"
    # None: mod_kazoo's rule for a name without "@" (short host name), see node_name().
    shortname: bool | None = None
    epmd: EpmdMode = "auto"
    epmd_port: int = 4369
    event_stream_framing: int = 2
    event_stream_keep_alive: bool = True
    # Bounds of one stream's queue while its reader is slow or not yet connected;
    # past either, the oldest events are dropped (counted and logged).
    event_stream_max_events: int = 25_000
    event_stream_max_bytes: int = 32 * 1024 * 1024
    # Who may connect to a stream: "node" (the host of the Erlang node that asked for
    # the stream), "any", and/or IP addresses.
    event_stream_clients: tuple[str, ...] = ("node",)
    legacy_events: bool = False
    json_term_encoding: str = "tuple"
    send_all_headers: bool = False
    send_all_private_headers: bool = True
    kazoo_var_prefix: str = "ecallmgr_;cav_"
    expand_headers_on_fetch: bool = True
    # Used when the section's fetch profile has no fetch-timeout of its own.
    fetch_timeout_us: int = 2_000_000
    delay_before_initial_fetch: float = 10.0
    # Bounded execution time of one bgapi job; ecallmgr itself waits 360 s at most.
    bgapi_timeout: float = 360.0
    # Requests executing at once over all senders (each sender's requests run in order).
    max_concurrent_requests: int = 100
    # Accepted for compatibility; queues are bounded per node by node_backlog.
    sender_queue_size: int = 1000
    # Messages of one node received and not yet handled before the server stops
    # reading that node's connection (TCP backpressure on that node only).
    node_backlog: int = 10_000
    # Connections that have not passed the handshake yet: at most this many at
    # once (the node stops accepting beyond), and this many handshakes at once
    # per source address (more wait for a slot).
    handshake_max_unauthenticated: int = 128
    handshake_max_per_host: int = 16
    # Simulated inbound calls, RATE[:HOLD] (calls per second, seconds held); the
    # command line's --sim-traffic wins over it.
    sim_traffic: str | None = None
    # The switch behind the server, and where a real FreeSWITCH is (the defaults of
    # FreeSWITCH's shipped event_socket.conf; xml_curl.conf must post to the
    # xml-curl-listen address and path).
    switch: SwitchKind = "sim"
    freeswitch_esl: str = "127.0.0.1:8021"
    freeswitch_esl_password: str = attrs.field(default="ClueCon", repr=False)
    freeswitch_connect_timeout: float = 5.0
    freeswitch_reply_timeout: float = 10.0
    xml_curl_listen: str = "127.0.0.1:8090"
    xml_curl_path: str = "/fsxml"
    # Longer than the profiles' fetch-timeouts, shorter than mod_xml_curl's own timeout.
    xml_curl_lookup_timeout: float = 4.5
    # FreeSWITCH globals from <variables> (kazoo.conf.xml) or [variables] (TOML).
    variables: tuple[tuple[str, str], ...] = ()
    # Legacy event filter from <event-filter>; empty means the built-in list.
    event_filter: tuple[str, ...] = ()
    # mod_kazoo's tweaks from <tweaks> (kazoo.conf.xml); None: the switch's defaults.
    kz_tweaks: KzTweaks | None = None
    # A kazoo.conf.xml settings file that also holds profiles (<definitions>,
    # <event-handlers>, <fetch-handlers>): its text, for the profile engine.
    profiles_xml: str | None = attrs.field(default=None, repr=False)

    def node_name(self, hostname: str | None = None) -> str:
        """The distribution node name.

        A ``nodename`` containing ``@`` is used verbatim; otherwise the host is
        appended: the short host name, or the fully qualified one when
        ``shortname`` is explicitly false.  ``shortname = true`` shortens the
        *host part* at its first dot (mod_kazoo cuts the whole name, so a dot
        in the name part would have broken it).
        """
        name, at, host = self.nodename.partition("@")
        if not name or (at and (not host or "@" in host)):
            raise SettingsError(
                f"nodename {self.nodename!r} is not a node name: alive or alive@host, "
                "with exactly one '@' and both parts non-empty"
            )
        if not at:
            if hostname is not None:
                host = hostname
            elif self.shortname is False:
                host = socket.getfqdn()
            else:
                host = socket.gethostname()
            if self.shortname is not False:
                host = host.split(".", 1)[0]
        elif self.shortname:
            host = host.split(".", 1)[0]
        return f"{name}@{host}"

    def resolve_cookie(self, home: str | None = None) -> str:
        """mod_kazoo's cookie order: ``cookie``, ``cookie-file``, ``~/.erlang.cookie``.

        A cookie file that cannot be used (missing, unreadable, readable by
        group or others, malformed) raises :class:`SettingsError`, as Erlang
        refuses it; so does having no cookie at all (mod_kazoo fell back to the
        public ``ClueCon``).
        """
        if self.cookie:
            return self.cookie
        # Cookie files are read by Erlang's rules (kazoo_trio.erlang.cookie);
        # a cookie is printable ASCII, so it decodes as such.
        if self.cookie_file:
            try:
                return read_cookie(self.cookie_file).decode("ascii")
            except CookieError as exc:
                raise SettingsError(f"cookie-file {self.cookie_file!r}: {exc}") from exc
        home = home if home is not None else os.environ.get("HOME")
        if home:
            path = Path(home) / ".erlang.cookie"
            if path.exists():
                try:
                    return read_cookie(path).decode("ascii")
                except CookieError as exc:
                    # Erlang refuses to start with such a file rather than
                    # fall back: a cookie others can read protects nothing.
                    raise SettingsError(str(exc)) from exc
        # No public default either (mod_kazoo's was DEFAULT_COOKIE): anyone
        # who knows it could command the switch.
        raise SettingsError(
            "no cookie: set cookie or cookie-file, or create ~/.erlang.cookie "
            "(readable by its owner only)"
        )


_DELAY_UNITS = {
    "delay-before-initial-fetch-micro": 1e-6,
    "delay-before-initial-fetch-ms": 1e-3,
    "delay-before-initial-fetch-sec": 1.0,
    "delay-before-initial-fetch": 1.0,
}


def _traffic(value: object) -> str | None:
    # Kept as text: what it means belongs to the simulated switch, which whoever
    # chooses that switch parses it for.  Only its shape is checked here, so a
    # malformed value is refused when the settings are read.
    text = _optional_str(value)
    if text:
        rate, _, hold = text.partition(":")
        try:
            float(rate)
            if hold:
                float(hold)
        except ValueError:
            raise ValueError(f"wants RATE[:HOLD], not {text!r}") from None
    return text or None


# key -> (attribute, converter)
_FIELDS: dict[str, tuple[str, Callable[[object], Any]]] = {
    "listen-ip": ("listen_ip", _str),
    "listen-port": ("listen_port", _port),
    "cookie": ("cookie", _optional_str),
    "cookie-file": ("cookie_file", _optional_str),
    "nodename": ("nodename", _str),
    "shortname": ("shortname", parse_bool),
    "epmd": ("epmd", _epmd_mode),
    "epmd-port": ("epmd_port", _port),
    "event-stream-framing": ("event_stream_framing", _framing),
    "event-stream-keep-alive": ("event_stream_keep_alive", parse_bool),
    "event-stream-keepalive": ("event_stream_keep_alive", parse_bool),
    "event-stream-max-events": ("event_stream_max_events", _positive_int),
    "event-stream-max-bytes": ("event_stream_max_bytes", _positive_int),
    "event-stream-clients": ("event_stream_clients", _stream_clients),
    "legacy-events": ("legacy_events", parse_bool),
    "json-term-encoding": ("json_term_encoding", _json_encoding),
    "send-all-headers": ("send_all_headers", parse_bool),
    "send-all-private-headers": ("send_all_private_headers", parse_bool),
    "kazoo-var-prefix": ("kazoo_var_prefix", _str),
    "expand-headers-on-fetch": ("expand_headers_on_fetch", parse_bool),
    "fetch-timeout": ("fetch_timeout_us", _positive_int),
    "bgapi-timeout": ("bgapi_timeout", _positive(_float)),
    "max-concurrent-requests": ("max_concurrent_requests", _positive_int),
    "sender-queue-size": ("sender_queue_size", _positive_int),
    "node-backlog": ("node_backlog", _positive_int),
    "handshake-max-unauthenticated": ("handshake_max_unauthenticated", _positive_int),
    "handshake-max-per-host": ("handshake_max_per_host", _positive_int),
    "sim-traffic": ("sim_traffic", _traffic),
    "switch": ("switch", _switch_kind),
    "freeswitch-esl": ("freeswitch_esl", _host_port),
    "freeswitch-esl-password": ("freeswitch_esl_password", _str),
    "freeswitch-connect-timeout": ("freeswitch_connect_timeout", _positive(_float)),
    "freeswitch-reply-timeout": ("freeswitch_reply_timeout", _positive(_float)),
    "xml-curl-listen": ("xml_curl_listen", _host_port),
    "xml-curl-path": ("xml_curl_path", _url_path),
    "xml-curl-lookup-timeout": ("xml_curl_lookup_timeout", _positive(_float)),
}


def settings_from_mapping(
    values: Mapping[str, object], *, source: str = "settings", base: Settings | None = None
) -> Settings:
    """Build :class:`Settings` from ``key -> value`` pairs (kazoo.conf names).

    ``variables`` (a mapping), ``event-filter`` (a list of header names) and
    ``tweaks`` (``default`` and tweak names to booleans) are accepted too, for TOML files.
    """
    changes: dict[str, Any] = {}
    for raw_key, value in values.items():
        key = raw_key.strip().lower().replace("_", "-")
        try:
            if key in _DELAY_UNITS:
                delay = _float(value) * _DELAY_UNITS[key]
                if delay < 0:
                    raise ValueError("must not be negative")
                changes["delay_before_initial_fetch"] = delay
            elif key == "variables":
                if not isinstance(value, Mapping):
                    raise ValueError("must be a table of name = value")
                changes["variables"] = tuple((str(k), _str(v)) for k, v in value.items())
            elif key == "event-filter":
                if not isinstance(value, list):
                    raise ValueError("must be a list of header names")
                changes["event_filter"] = tuple(_str(v) for v in value)
            elif key == "tweaks":
                if not isinstance(value, Mapping):
                    raise ValueError("must be a table of tweak = true/false")
                flags = {str(k): _flag_text(v) for k, v in value.items()}
                default = flags.pop("default", None)
                changes["kz_tweaks"] = tweaks_from_config(default, list(flags.items()))
            elif key in _FIELDS:
                attribute, convert = _FIELDS[key]
                changes[attribute] = convert(value)
            elif key in IGNORED_KEYS:
                log.info("%s: %s has no effect in kazoo_trio", source, raw_key)
            else:
                log.warning("%s: unknown setting %r ignored", source, raw_key)
        except ValueError as exc:
            raise SettingsError(f"{source}: setting {raw_key!r} = {value!r}: {exc}") from exc
    return attrs.evolve(base or Settings(), **changes)


def settings_from_toml(text: str, *, source: str = "TOML settings") -> Settings:
    """Settings from TOML: top-level keys, or the same keys under ``[settings]``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{source}: not valid TOML: {exc}") from exc
    table = data.get("settings", data)
    if not isinstance(table, dict):
        raise SettingsError(f"{source}: [settings] must be a table")
    values = {k: v for k, v in table.items() if k != "settings"}
    if table is not data:
        for extra in ("variables", "event-filter", "event_filter", "tweaks"):
            if extra in data:
                values[extra] = data[extra]
        for key in data:
            if key not in ("settings", "variables", "event-filter", "event_filter", "tweaks"):
                log.warning("%s: unknown top-level key %r ignored", source, key)
    return settings_from_mapping(values, source=source)


def settings_from_xml(text: str, *, source: str = "kazoo.conf.xml") -> Settings:
    """Settings from mod_kazoo's ``kazoo.conf.xml``.

    Reads ``<settings><param name=… value=…/>``, ``<variables><variable …/>``,
    ``<event-filter><header name=…/>`` and ``<tweaks default=…><tweak name=… value=…/>``
    (mod_kazoo reads its tweaks from the local file only), wherever the ``kazoo.conf``
    configuration sits in the document (alone or inside a FreeSWITCH
    ``<document>``).  When the configuration also holds profiles (non-empty
    ``<definitions>``, ``<event-handlers>`` or ``<fetch-handlers>``), the
    document is kept in ``profiles_xml`` for the profile engine.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SettingsError(f"{source}: not well-formed XML: {exc}") from exc
    conf = root
    if root.tag != "configuration":
        found = None
        for element in root.iter("configuration"):
            if element.get("name", "kazoo.conf") == "kazoo.conf":
                found = element
                break
        if found is None:
            raise SettingsError(f'{source}: no <configuration name="kazoo.conf"> element')
        conf = found
    values: dict[str, object] = {}
    settings = conf.find("settings")
    if settings is not None:
        for param in settings.iter("param"):
            name = param.get("name")
            value = param.get("value")
            if name is None or value is None:
                raise SettingsError(f"{source}: <param> needs name and value attributes")
            values[name] = value
    variables = conf.find("variables")
    if variables is not None:
        values["variables"] = {
            v.get("name", ""): v.get("value", "")
            for v in variables.iter("variable")
            if v.get("name")
        }
    event_filter = conf.find("event-filter")
    if event_filter is not None:
        values["event-filter"] = [
            h.get("name", "") for h in event_filter.iter("header") if h.get("name")
        ]
    result = settings_from_mapping(values, source=source)
    tweaks = conf.find("tweaks")
    if tweaks is not None:
        entries = [
            (t.get("name", ""), t.get("value", ""))
            for t in tweaks.iter("tweak")
            if t.get("name") is not None and t.get("value") is not None
        ]
        result = attrs.evolve(result, kz_tweaks=tweaks_from_config(tweaks.get("default"), entries))
    if any(len(conf.findall(f"{name}/*")) for name in _PROFILE_ELEMENTS):
        result = attrs.evolve(result, profiles_xml=text)
    return result


_PROFILE_ELEMENTS = ("definitions", "event-handlers", "fetch-handlers")


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Settings from a file: XML when it starts with ``<``, else TOML."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {str(file)!r}: {exc}") from exc
    if text.lstrip().startswith("<"):
        return settings_from_xml(text, source=str(file))
    return settings_from_toml(text, source=str(file))
