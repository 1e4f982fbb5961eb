"""The EPMD wire protocol as pure functions over bytes (no sockets, no trio).

Both sides live here: request encoders and reply parsers for the client, request
parsing and reply encoders for the embedded server.  Parsers take the bytes
accumulated so far on one connection and return ``None`` while the message is
incomplete, the decoded value once it is complete, and raise
:class:`EpmdProtocolError` as soon as the bytes cannot be a valid message, so a
caller can feed them one ``receive_some`` at a time.

EPMD carries one request per TCP connection.  Requests are ``Len:16`` followed
by ``Len`` bytes; replies are not length-prefixed, their size follows from their
tag and contents, and NAMES/DUMP replies end only with EOF.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import attrs

from kazoo_trio.errors import ProtocolError

__all__ = [
    "ALIVE2_REQ",
    "ALIVE2_RESP",
    "ALIVE2_X_RESP",
    "DUMP_REQ",
    "DUPLICATE_CREATION",
    "KILL_REQ",
    "MAX_REQUEST_LEN",
    "NAMES_REQ",
    "NODE_TYPE_HIDDEN",
    "NODE_TYPE_NORMAL",
    "PORT2_RESP",
    "PORT_PLEASE2_REQ",
    "STOP_REQ",
    "Alive2Reply",
    "Alive2Request",
    "DumpRequest",
    "EpmdProtocolError",
    "KillRequest",
    "NamesReply",
    "NamesRequest",
    "NodeEntry",
    "Port2Reply",
    "PortPlease2Request",
    "Request",
    "StopRequest",
    "alive2_request",
    "alive2_response",
    "alive2_x_response",
    "dump_response",
    "names_request",
    "names_response",
    "parse_alive2_reply",
    "parse_names_reply",
    "parse_port2_reply",
    "parse_request",
    "port2_response",
    "port_please2_request",
    "validate_name",
]

ALIVE2_REQ = 120  # 'x'
ALIVE2_X_RESP = 118  # 'v': 32-bit creation, sent when the request's highest version >= 6
ALIVE2_RESP = 121  # 'y': 16-bit creation, for older nodes
PORT_PLEASE2_REQ = 122  # 'z'
PORT2_RESP = 119  # 'w'
NAMES_REQ = 110  # 'n'
DUMP_REQ = 100  # 'd'
KILL_REQ = 107  # 'k'
STOP_REQ = 115  # 's'

NODE_TYPE_NORMAL = 77  # 'M'
NODE_TYPE_HIDDEN = 72  # 'H': what a C-node registers

# The creation real epmd sends along with a refused registration (result 1).
DUPLICATE_CREATION = 99

# Real epmd reads a request into a 3 * MAXSYMLEN (3 * 1020) byte buffer and
# drops the connection when the announced length does not fit; staying at the
# same limit keeps the embedded server's memory per connection small and its
# behaviour identical.
MAX_REQUEST_LEN = 3 * 1020 - 3

# Node names: 1..255 characters of UTF-8 without NUL (epmd's verify_utf8 rule).
_MAX_NAME_CHARS = 255

# Fixed part of ALIVE2_REQ after the tag: port, type, protocol, hi, lo, nlen.
_ALIVE2_FIXED = struct.Struct(">HBBHHH")
# Fixed part of an ok PORT2_RESP after tag and result: same layout.
_PORT2_FIXED = _ALIVE2_FIXED


class EpmdProtocolError(ProtocolError):
    """Bytes that cannot be a valid EPMD message (garbage, bad sizes, bad names)."""


@attrs.frozen
class NodeEntry:
    """One registration as EPMD stores it and returns it in PORT2_RESP."""

    name: str
    port: int
    node_type: int
    protocol: int
    highest_version: int
    lowest_version: int
    extra: bytes = b""


@attrs.frozen
class Alive2Reply:
    """ALIVE2_X_RESP (``extended``, 32-bit creation) or ALIVE2_RESP (16-bit creation)."""

    result: int
    creation: int
    extended: bool

    @property
    def ok(self) -> bool:
        return self.result == 0


@attrs.frozen
class Port2Reply:
    """PORT2_RESP: ``entry`` is ``None`` when the name is not registered (result > 0)."""

    result: int
    entry: NodeEntry | None


@attrs.frozen
class NamesReply:
    """NAMES_RESP: the port EPMD says it listens on and the registered (name, port) pairs."""

    epmd_port: int
    nodes: list[tuple[str, int]]


@attrs.frozen
class Alive2Request:
    entry: NodeEntry


@attrs.frozen
class PortPlease2Request:
    name: str


@attrs.frozen
class NamesRequest:
    pass


@attrs.frozen
class DumpRequest:
    pass


@attrs.frozen
class KillRequest:
    pass


@attrs.frozen
class StopRequest:
    name: bytes


Request = (
    Alive2Request | PortPlease2Request | NamesRequest | DumpRequest | KillRequest | StopRequest
)
_BodyParser = Callable[[bytes], Request]


def validate_name(name: str) -> bytes:
    """UTF-8 bytes of ``name``; ``ValueError`` unless it is 1..255 characters without NUL."""
    if not 1 <= len(name) <= _MAX_NAME_CHARS:
        raise ValueError(f"EPMD node names have 1..255 characters, got {len(name)}")
    if "\0" in name:
        raise ValueError("EPMD node names cannot contain NUL")
    try:
        return name.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise ValueError(f"EPMD node name is not encodable as UTF-8: {exc}") from None


def _decode_name(raw: bytes, what: str) -> str:
    if b"\0" in raw:
        raise EpmdProtocolError(f"{what}: node name contains NUL")
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EpmdProtocolError(f"{what}: node name is not valid UTF-8 ({exc})") from None
    if not 1 <= len(name) <= _MAX_NAME_CHARS:
        raise EpmdProtocolError(f"{what}: node name has {len(name)} characters (1..255)")
    return name


def _u16(value: int, what: str) -> int:
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"{what} must fit in 16 bits, got {value}")
    return value


def _u8(value: int, what: str) -> int:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{what} must fit in 8 bits, got {value}")
    return value


def _framed(body: bytes) -> bytes:
    if len(body) > MAX_REQUEST_LEN:
        raise ValueError(f"EPMD request of {len(body)} bytes exceeds {MAX_REQUEST_LEN}")
    return struct.pack(">H", len(body)) + body


def _entry_body(entry: NodeEntry) -> bytes:
    """The shared ``Port, Type, Proto, Hi, Lo, Nlen, Name, Elen, Extra`` layout."""
    raw = validate_name(entry.name)
    extra = entry.extra
    return (
        _ALIVE2_FIXED.pack(
            _u16(entry.port, "port"),
            _u8(entry.node_type, "node type"),
            _u8(entry.protocol, "protocol"),
            _u16(entry.highest_version, "highest version"),
            _u16(entry.lowest_version, "lowest version"),
            len(raw),
        )
        + raw
        + struct.pack(">H", _u16(len(extra), "extra length"))
        + extra
    )


# ---------------------------------------------------------------- client side: requests


def alive2_request(
    name: str,
    port: int,
    *,
    node_type: int = NODE_TYPE_HIDDEN,
    protocol: int = 0,
    highest: int = 6,
    lowest: int = 5,
    extra: bytes = b"",
) -> bytes:
    """ALIVE2_REQ with its 2-byte length prefix; ``ValueError`` for out-of-range fields."""
    entry = NodeEntry(name, port, node_type, protocol, highest, lowest, extra)
    return _framed(bytes([ALIVE2_REQ]) + _entry_body(entry))


def port_please2_request(name: str) -> bytes:
    """PORT_PLEASE2_REQ for the alive part of a node name (no ``@host``)."""
    return _framed(bytes([PORT_PLEASE2_REQ]) + validate_name(name))


def names_request() -> bytes:
    return _framed(bytes([NAMES_REQ]))


# ---------------------------------------------------------------- client side: replies


def _no_trailing(data: bytes | bytearray, size: int, what: str) -> None:
    # EPMD writes nothing after these replies; more bytes mean we are not
    # talking to an EPMD, and guessing where its message ends would be wrong.
    if len(data) > size:
        raise EpmdProtocolError(f"{what}: {len(data) - size} unexpected bytes after the reply")


def parse_alive2_reply(data: bytes | bytearray) -> Alive2Reply | None:
    """Decode ALIVE2_X_RESP (6 bytes) or ALIVE2_RESP (4 bytes)."""
    if not data:
        return None
    tag = data[0]
    if tag == ALIVE2_X_RESP:
        size, fmt = 6, ">BI"
    elif tag == ALIVE2_RESP:
        size, fmt = 4, ">BH"
    else:
        raise EpmdProtocolError(f"ALIVE2 reply: unexpected tag {tag}")
    if len(data) < size:
        return None
    _no_trailing(data, size, "ALIVE2 reply")
    result, creation = struct.unpack(fmt, bytes(data[1:size]))
    return Alive2Reply(result, creation, tag == ALIVE2_X_RESP)


def _parse_entry(data: bytes | bytearray, offset: int, what: str) -> tuple[NodeEntry, int] | None:
    """Decode the entry layout at ``offset``; returns the entry and the offset after it."""
    fixed_end = offset + _ALIVE2_FIXED.size
    if len(data) < fixed_end:
        return None
    port, node_type, protocol, hi, lo, nlen = _ALIVE2_FIXED.unpack(bytes(data[offset:fixed_end]))
    name_end = fixed_end + nlen
    if len(data) < name_end + 2:
        return None
    name = _decode_name(bytes(data[fixed_end:name_end]), what)
    (elen,) = struct.unpack(">H", bytes(data[name_end : name_end + 2]))
    end = name_end + 2 + elen
    if len(data) < end:
        return None
    extra = bytes(data[name_end + 2 : end])
    return NodeEntry(name, port, node_type, protocol, hi, lo, extra), end


def parse_port2_reply(data: bytes | bytearray) -> Port2Reply | None:
    """Decode PORT2_RESP: ``119, Result>0`` or the full ok reply with name and extra."""
    if not data:
        return None
    if data[0] != PORT2_RESP:
        raise EpmdProtocolError(f"PORT2 reply: unexpected tag {data[0]}")
    if len(data) < 2:
        return None
    result = data[1]
    if result != 0:
        _no_trailing(data, 2, "PORT2 reply")
        return Port2Reply(result, None)
    parsed = _parse_entry(data, 2, "PORT2 reply")
    if parsed is None:
        return None
    entry, end = parsed
    _no_trailing(data, end, "PORT2 reply")
    return Port2Reply(0, entry)


def _parse_names_lines(text: bytes) -> list[tuple[str, int]]:
    nodes: list[tuple[str, int]] = []
    for line in text.split(b"\n")[:-1]:
        # "name <Name> at port <Port>"; split from the right because the name
        # is the only free-form part.
        head, sep, port_text = line.rpartition(b" at port ")
        if not sep or not head.startswith(b"name ") or not port_text.isdigit():
            raise EpmdProtocolError(f"NAMES reply: malformed line {line[:80]!r}")
        port = int(port_text)
        if port > 0xFFFF:
            raise EpmdProtocolError(f"NAMES reply: port {port} out of range")
        nodes.append((_decode_name(head[5:], "NAMES reply"), port))
    return nodes


def parse_names_reply(data: bytes | bytearray, *, eof: bool) -> NamesReply | None:
    """Decode NAMES_RESP; it is complete only at EOF (``eof=True``).

    Before EOF the complete lines received so far are checked, so garbage is
    reported without waiting for the peer to close.
    """
    if len(data) < 4:
        if eof:
            raise EpmdProtocolError(f"NAMES reply: connection closed after {len(data)} bytes")
        return None
    (epmd_port,) = struct.unpack(">I", bytes(data[:4]))
    body = bytes(data[4:])
    if not eof:
        complete = body.rfind(b"\n") + 1
        _parse_names_lines(body[:complete])
        return None
    if body and not body.endswith(b"\n"):
        raise EpmdProtocolError("NAMES reply: connection closed in the middle of a line")
    return NamesReply(epmd_port, _parse_names_lines(body))


# ---------------------------------------------------------------- server side


def parse_request(data: bytes | bytearray) -> Request | None:
    """Decode the one request of a connection from all bytes received on it so far.

    Raises :class:`EpmdProtocolError` for an announced length of 0 or above
    :data:`MAX_REQUEST_LEN`, bytes beyond the announced length, an unknown tag,
    or a malformed request body.
    """
    if len(data) < 2:
        return None
    (length,) = struct.unpack(">H", bytes(data[:2]))
    if length == 0 or length > MAX_REQUEST_LEN:
        raise EpmdProtocolError(f"request length {length} outside 1..{MAX_REQUEST_LEN}")
    if len(data) > 2 + length:
        raise EpmdProtocolError(f"{len(data) - 2 - length} bytes after a {length}-byte request")
    if len(data) < 3:
        return None
    tag = data[2]
    if tag not in _REQUEST_PARSERS:
        raise EpmdProtocolError(f"unknown request tag {tag}")
    if len(data) < 2 + length:
        return None
    return _REQUEST_PARSERS[tag](bytes(data[3:]))


def _parse_alive2(body: bytes) -> Request:
    parsed = _parse_entry(body, 0, "ALIVE2_REQ")
    if parsed is None:
        raise EpmdProtocolError(f"ALIVE2_REQ: body of {len(body)} bytes is truncated")
    entry, end = parsed
    if end != len(body):
        raise EpmdProtocolError(f"ALIVE2_REQ: {len(body) - end} bytes after the extra field")
    return Alive2Request(entry)


def _parse_port_please2(body: bytes) -> Request:
    # Very old nodes NUL-terminated the name; epmd strips one trailing NUL.
    if body.endswith(b"\0"):
        body = body[:-1]
    return PortPlease2Request(_decode_name(body, "PORT_PLEASE2_REQ"))


def _parse_empty(request: Request) -> _BodyParser:
    def parse(body: bytes) -> Request:
        if body:
            raise EpmdProtocolError(f"{type(request).__name__}: unexpected {len(body)} bytes")
        return request

    return parse


def _parse_stop(body: bytes) -> Request:
    if not body:
        raise EpmdProtocolError("STOP_REQ without a name")
    return StopRequest(body)


_REQUEST_PARSERS: dict[int, _BodyParser] = {
    ALIVE2_REQ: _parse_alive2,
    PORT_PLEASE2_REQ: _parse_port_please2,
    NAMES_REQ: _parse_empty(NamesRequest()),
    DUMP_REQ: _parse_empty(DumpRequest()),
    KILL_REQ: _parse_empty(KillRequest()),
    STOP_REQ: _parse_stop,
}


def alive2_x_response(result: int, creation: int) -> bytes:
    return struct.pack(">BBI", ALIVE2_X_RESP, result, creation)


def alive2_response(result: int, creation: int) -> bytes:
    return struct.pack(">BBH", ALIVE2_RESP, result, creation & 0xFFFF)


def port2_response(entry: NodeEntry | None) -> bytes:
    """The full ok PORT2_RESP for ``entry``, or ``119, 1`` when it is ``None``."""
    if entry is None:
        return bytes([PORT2_RESP, 1])
    return bytes([PORT2_RESP, 0]) + _entry_body(entry)


def names_response(epmd_port: int, nodes: list[tuple[str, int]]) -> bytes:
    """NAMES_RESP: ``epmd_port`` must be the port the client connected to (OTP checks it)."""
    lines = b"".join(b"name %s at port %d\n" % (name.encode(), port) for name, port in nodes)
    return struct.pack(">I", epmd_port) + lines


def dump_response(epmd_port: int, nodes: list[tuple[str, int]]) -> bytes:
    # Real epmd also prints file descriptors and NUL-terminates each line;
    # ours has no descriptors to show, so it reports 0.
    lines = b"".join(
        b"active name     <%s> at port %d, fd = 0\n\0" % (name.encode(), port)
        for name, port in nodes
    )
    return struct.pack(">I", epmd_port) + lines
