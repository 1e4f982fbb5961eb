"""FreeSWITCH's event socket (mod_event_socket, inbound mode) without I/O.

:class:`EslConnection` is fed the bytes read from the socket and hands back typed
messages, in the manner of h11: :meth:`~EslConnection.receive_data` then
:meth:`~EslConnection.next_message` until it returns :data:`NEED_DATA`.  The
functions named after commands (:func:`api`, :func:`bgapi`, :func:`sendmsg` ...)
serialise what to write.  Nothing here reads, writes or waits.

The wire format: every message is a block of ``Name: value`` lines ended by an
empty line; a ``Content-Length`` header announces a body of that many bytes.  The
``Content-Type`` header says what the message is.  An event's own body
(``text/event-plain``) is again such a block, with URL-encoded values and possibly
its own ``Content-Length`` and body.
"""

from __future__ import annotations

import enum
import json
import operator
from collections.abc import Iterable
from typing import Final, Literal
from urllib.parse import unquote

import attrs

from kazoo_trio.errors import ProtocolError, RequestError

__all__ = [
    "NEED_DATA",
    "ApiResponse",
    "AuthRequest",
    "CommandReply",
    "ConnectionClosed",
    "DisconnectNotice",
    "EslCommandError",
    "EslConnection",
    "EslEvent",
    "EslProtocolError",
    "EventFormat",
    "EventMessage",
    "LogData",
    "Message",
    "OtherMessage",
    "api",
    "auth",
    "bgapi",
    "event",
    "exit_",
    "filter_",
    "filter_delete",
    "log",
    "nixevent",
    "noevents",
    "nolog",
    "parse_event_json",
    "parse_event_plain",
    "sendevent",
    "sendmsg",
]

EventFormat = Literal["plain", "json"]

# A peer announcing more than this in one message is broken or hostile.
MAX_BODY = 64 * 1024 * 1024
MAX_HEADER_BLOCK = 1024 * 1024


class EslProtocolError(ProtocolError, ValueError):
    """The event socket sent bytes that are no event-socket message."""


class EslCommandError(RequestError, ValueError):
    """A command cannot be written: a line break in a command line or header would
    let the text be read as further commands."""


class _NeedData(enum.Enum):
    NEED_DATA = "NEED_DATA"


NEED_DATA: Final = _NeedData.NEED_DATA
"""What :meth:`EslConnection.next_message` returns when it needs more bytes."""

Headers = tuple[tuple[str, str], ...]


@attrs.frozen
class AuthRequest:
    """``auth/request``: the first message of an inbound connection."""


@attrs.frozen
class CommandReply:
    """``command/reply``: the answer to every command but ``api`` (``Reply-Text``
    ``+OK ...`` or ``-ERR ...``; ``bgapi`` adds ``Job-UUID``)."""

    headers: Headers

    @property
    def reply_text(self) -> str:
        return _first(self.headers, "Reply-Text") or ""

    @property
    def ok(self) -> bool:
        return self.reply_text.startswith("+OK")

    @property
    def job_uuid(self) -> str | None:
        return _first(self.headers, "Job-UUID")


@attrs.frozen
class ApiResponse:
    """``api/response``: the output of an ``api`` command."""

    text: str


@attrs.frozen
class EventMessage:
    """``text/event-plain`` or ``text/event-json``: one event, still serialised (parse
    it with :meth:`parse`; a reader that only routes by name need not)."""

    format: EventFormat
    payload: bytes

    def parse(self) -> EslEvent:
        if self.format == "json":
            return parse_event_json(self.payload)
        return parse_event_plain(self.payload)

    def header(self, name: str) -> str | None:
        """``parse().get(name)``, found without parsing the whole event when the value
        is a plain one (no escapes, no array), which is nearly always."""
        value = _json_header(self.payload, name) if self.format == "json" else _PARSE
        return self.parse().get(name) if value is _PARSE else value

    def event_name(self) -> str | None:
        """``header("Event-Name")``, read straight from the start of the payload when
        the name comes first, as FreeSWITCH writes it."""
        payload = self.payload
        if self.format == "json" and payload.startswith(_NAME_FIRST):
            end = payload.find(b'"', _NAME_AT)
            value = payload[_NAME_AT:end]
            if end > 0 and b"\\" not in value:
                try:
                    return value.decode()
                except UnicodeDecodeError:
                    pass
        return self.header("Event-Name")

    def has_header(self, name: str) -> bool:
        """Whether the event has a header ``name`` (the body aside)."""
        if self.format == "json" and name not in _PARSED_ONLY and _compact(self.payload):
            key = b'"' + name.encode() + b'":'
            at = self.payload.find(key)
            if at < 0:
                return False
            if self.payload[at + len(key) : at + len(key) + 1] != b"[":
                return True
        return any(key == name for key, _ in self.parse().headers)


class _Parse(enum.Enum):
    PARSE = "PARSE"


# "Look it up by parsing the event": the value is escaped or an array.
_PARSE: Final = _Parse.PARSE


# An event in FreeSWITCH's JSON: the name's value starts at _NAME_AT.
_NAME_FIRST: Final = b'{"Event-Name":"'
_NAME_AT: Final = len(_NAME_FIRST)

# Keys that are not headers as they stand: the body, and the Content-Length that
# goes with it.
_PARSED_ONLY = frozenset(("_body", "Content-Length"))


def _compact(payload: bytes) -> bool:
    # FreeSWITCH writes its JSON without blanks ('{"Event-Name":"...'); anything else
    # is looked at by parsing it.
    if not payload.startswith(b'{"'):
        return False
    end = payload.find(b'"', 2)
    return end > 0 and payload[end + 1 : end + 3] == b':"'


def _json_header(payload: bytes, name: str) -> str | _Parse | None:
    # In JSON text a quote inside a string is escaped, so '"Name":"' is only ever a
    # key followed by a string value; the first one is the first header of that name.
    if name in _PARSED_ONLY or not _compact(payload):
        return _PARSE
    key = b'"' + name.encode() + b'":'
    at = payload.find(key)
    if at < 0:
        return None
    start = at + len(key)
    if payload[start : start + 1] != b'"':
        return _PARSE
    end = payload.find(b'"', start + 1)
    if end < 0:
        return _PARSE
    value = payload[start + 1 : end]
    if b"\\" in value:
        return _PARSE
    try:
        return value.decode()
    except UnicodeDecodeError:
        return _PARSE


@attrs.frozen
class DisconnectNotice:
    """``text/disconnect-notice``: the switch is closing the connection (after
    ``exit``, a failed ``auth``, or at shutdown)."""

    headers: Headers
    text: str


@attrs.frozen
class LogData:
    """``log/data``: one log line (after ``log <level>``)."""

    headers: Headers
    text: str


@attrs.frozen
class OtherMessage:
    """Any other content type (``text/rude-rejection`` for an ACL refusal ...)."""

    content_type: str
    headers: Headers
    body: bytes


@attrs.frozen
class ConnectionClosed:
    """The peer closed the connection (``receive_data(b"")``) at a message boundary."""


Message = (
    AuthRequest
    | CommandReply
    | ApiResponse
    | EventMessage
    | DisconnectNotice
    | LogData
    | OtherMessage
    | ConnectionClosed
)


@attrs.frozen
class EslEvent:
    """A parsed event: its headers in FreeSWITCH's order (a multi-value header is
    repeated, one pair per value) and its body.  The ``Content-Length`` that the
    serialisation adds in front of a body is not among the headers."""

    headers: Headers
    body: str | None

    def get(self, name: str) -> str | None:
        return _first(self.headers, name)


def _first(headers: Headers, name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None


def _parse_header_block(block: bytes) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for line in block.decode("utf-8", "replace").split("\n"):
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise EslProtocolError(f"event socket header line without a colon: {line[:80]!r}")
        # "Name: value": one space; a value's own leading spaces are kept.
        headers.append((name, value[1:] if value.startswith(" ") else value))
    return headers


def _content_length(headers: Iterable[tuple[str, str]]) -> int:
    length = 0
    for name, value in headers:
        if name == "Content-Length":
            try:
                length = int(value)
            except ValueError:
                raise EslProtocolError(f"bad Content-Length {value!r}") from None
            if not 0 <= length <= MAX_BODY:
                raise EslProtocolError(f"Content-Length {length} out of range")
    return length


@attrs.define
class EslConnection:
    """The receiving side of one event-socket connection.

    Feed it with :meth:`receive_data` (``b""`` at end of file) and take messages
    with :meth:`next_message`.  :class:`EslProtocolError` for bytes that are no
    message; the connection is then unusable.
    """

    _buffer: bytearray = attrs.field(init=False, factory=bytearray)
    # Where the next message starts in _buffer: consumed bytes are dropped only
    # now and then, not after each message (a burst of events is many messages).
    _start: int = attrs.field(init=False, default=0)
    # The header block of a message whose body has not fully arrived.
    _pending: list[tuple[str, str]] | None = attrs.field(init=False, default=None)
    _pending_length: int = attrs.field(init=False, default=0)
    # The pending message is an event of this format with the usual header block.
    _pending_event: EventFormat | None = attrs.field(init=False, default=None)
    _eof: bool = attrs.field(init=False, default=False)

    def receive_data(self, data: bytes) -> None:
        if not data:
            self._eof = True
            return
        if self._eof:
            raise EslProtocolError("data received after end of file")
        if self._start and self._start >= len(self._buffer) // 2:
            del self._buffer[: self._start]
            self._start = 0
        self._buffer += data

    def next_message(self) -> Message | _NeedData:
        buffer = self._buffer
        if self._pending is None:
            # Blank lines between messages are allowed (FreeSWITCH does not send
            # them, but ESL clients are lenient about them too).
            while buffer.startswith(b"\n", self._start):
                self._start += 1
            end = buffer.find(b"\n\n", self._start)
            if end < 0:
                if len(buffer) - self._start > MAX_HEADER_BLOCK:
                    raise EslProtocolError("event socket header block too long")
                return self._at_end()
            block = bytes(buffer[self._start : end])
            self._start = end + 2
            self._pending_event = _event_format(block)
            if self._pending_event is not None:
                # "Content-Length: N\nContent-Type: text/event-json": nearly every message.
                length = int(block[16 : block.index(b"\n")])
                self._pending = [
                    ("Content-Length", str(length)),
                    ("Content-Type", f"text/event-{self._pending_event}"),
                ]
                self._pending_length = length
            else:
                headers = _parse_header_block(block)
                self._pending = headers
                self._pending_length = _content_length(headers)
        length = self._pending_length
        if len(buffer) - self._start < length:
            return self._at_end()
        body = bytes(buffer[self._start : self._start + length])
        self._start += length
        headers = self._pending
        self._pending = None
        if self._pending_event is not None:
            return EventMessage(self._pending_event, body)
        return _message(headers, body)

    def _at_end(self) -> ConnectionClosed | _NeedData:
        if not self._eof:
            return NEED_DATA
        if self._pending is not None or self._start < len(self._buffer):
            raise EslProtocolError("event socket closed in the middle of a message")
        return ConnectionClosed()


_EVENT_TAILS: dict[bytes, EventFormat] = {
    b"\nContent-Type: text/event-json": "json",
    b"\nContent-Type: text/event-plain": "plain",
}
# Content-Length's digits, at most: MAX_BODY has 8.
_MAX_DIGITS = len(str(MAX_BODY))


def _event_format(block: bytes) -> EventFormat | None:
    """The format of an event message whose header block is exactly the usual
    ``Content-Length: N`` and ``Content-Type: text/event-...`` lines (read without
    the general parser), else ``None``."""
    if not block.startswith(b"Content-Length: "):
        return None
    newline = block.find(b"\n", 16)
    digits = block[16:newline]
    if newline < 0 or not digits.isdigit() or len(digits) > _MAX_DIGITS:
        return None
    if int(digits) > MAX_BODY:
        return None
    return _EVENT_TAILS.get(block[newline:])


def _message(headers: list[tuple[str, str]], body: bytes) -> Message:
    content_type = _first(tuple(headers), "Content-Type") or ""
    if content_type == "text/event-json":
        return EventMessage("json", body)
    if content_type == "text/event-plain":
        return EventMessage("plain", body)
    if content_type == "command/reply":
        return CommandReply(tuple(headers))
    if content_type == "api/response":
        return ApiResponse(body.decode("utf-8", "replace"))
    if content_type == "auth/request":
        return AuthRequest()
    if content_type == "text/disconnect-notice":
        return DisconnectNotice(tuple(headers), body.decode("utf-8", "replace"))
    if content_type == "log/data":
        return LogData(tuple(headers), body.decode("utf-8", "replace"))
    return OtherMessage(content_type, tuple(headers), body)


def parse_event_plain(payload: bytes) -> EslEvent:
    """A ``text/event-plain`` body: URL-encoded header lines, then a body if they
    end with a ``Content-Length``."""
    end = payload.find(b"\n\n")
    block, rest = (payload, b"") if end < 0 else (payload[:end], payload[end + 2 :])
    raw = _parse_header_block(block)
    headers = [(name, unquote(value)) for name, value in raw]
    body: str | None = None
    if headers and headers[-1][0] == "Content-Length":
        length = _content_length(headers[-1:])
        headers.pop()
        body = rest[:length].decode("utf-8", "replace")
    return EslEvent(tuple(_expand_arrays(headers)), body)


def _expand_arrays(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # An event's multi-value header is serialised as ARRAY::a|:b; the event model
    # holds one pair per value, as FreeSWITCH's event does.
    if not any(value.startswith("ARRAY::") for _, value in headers):
        return headers
    expanded: list[tuple[str, str]] = []
    for name, value in headers:
        if value.startswith("ARRAY::"):
            expanded.extend((name, item) for item in value[7:].split("|:"))
        else:
            expanded.append((name, value))
    return expanded


def _pairs(pairs: list[tuple[str, object]]) -> list[tuple[str, object]]:
    return pairs


# One decoder for every event (json.loads would build one per call).
_DECODER = json.JSONDecoder(object_pairs_hook=_pairs)


_second = operator.itemgetter(1)


def _strings(pairs: list[tuple[str, object]]) -> bool:
    """Whether every value is a string: joining them checks that in one C loop, at
    half the cost of a generator testing each."""
    try:
        "".join(map(_second, pairs))
    except TypeError:
        return False
    return True


def parse_event_json(payload: bytes) -> EslEvent:
    """A ``text/event-json`` body: one object; a multi-value header is an array, the
    body is ``_body``."""
    try:
        if payload.startswith(b"{"):
            pairs = _DECODER.decode(payload.decode("utf-8", "surrogatepass"))
        else:
            pairs = json.loads(payload, object_pairs_hook=_pairs)
    except ValueError as exc:
        raise EslProtocolError(f"bad event JSON: {exc}") from None
    if not isinstance(pairs, list):
        raise EslProtocolError("event JSON is not an object")
    if b'"_body":' not in payload and _strings(pairs):
        # The usual event: string headers only, no body; the pairs are the headers.
        return EslEvent(tuple(pairs), None)
    headers: list[tuple[str, str]] = []
    body: str | None = None
    for name, value in pairs:
        if type(value) is str:
            if name == "_body":
                body = value
            else:
                headers.append((name, value))
        elif isinstance(value, list):
            headers.extend((name, str(item)) for item in value)
        else:
            headers.append((name, "" if value is None else str(value)))
    if body is not None and headers and headers[-1][0] == "Content-Length":
        headers.pop()
    return EslEvent(tuple(headers), body)


# -- commands --------------------------------------------------------------------


def _line(text: str) -> str:
    if "\n" in text or "\r" in text:
        raise EslCommandError(f"line break in an event-socket command: {text[:80]!r}")
    return text


def _command(
    line: str, headers: Iterable[tuple[str, str]] = (), body: str | bytes | None = None
) -> bytes:
    parts = [_line(line)]
    parts.extend(f"{_line(name)}: {_line(value)}" for name, value in headers)
    data = body.encode() if isinstance(body, str) else body
    if data is not None:
        parts.append(f"Content-Length: {len(data)}")
    encoded = ("\n".join(parts) + "\n\n").encode()
    return encoded + data if data is not None else encoded


def auth(password: str) -> bytes:
    return _command(f"auth {password}")


def api(command: str, args: str = "") -> bytes:
    """``api``: runs in the connection's own thread; nothing else is read or answered
    on that connection until it finishes."""
    return _command(f"api {command} {args}" if args else f"api {command}")


def bgapi(command: str, args: str, job_uuid: str) -> bytes:
    """``bgapi``: answered at once; the output comes as a ``BACKGROUND_JOB`` event
    carrying ``Job-UUID`` ``job_uuid``."""
    line = f"bgapi {command} {args}" if args else f"bgapi {command}"
    return _command(line, [("Job-UUID", job_uuid)])


def event(format: EventFormat, names: Iterable[str]) -> bytes:
    """``event plain|json <names>``: ``CUSTOM`` is followed by subclass names."""
    return _command(" ".join(["event", format, *names]))


def nixevent(names: Iterable[str]) -> bytes:
    return _command(" ".join(["nixevent", *names]))


def noevents() -> bytes:
    return _command("noevents")


def filter_(header: str, value: str) -> bytes:
    return _command(f"filter {header} {value}")


def filter_delete(header: str, value: str = "") -> bytes:
    return _command(f"filter delete {header} {value}".rstrip(" "))


def sendmsg(
    uuid: str, headers: Iterable[tuple[str, str]], body: str | bytes | None = None
) -> bytes:
    """``sendmsg <uuid>``: a ``SEND_MESSAGE`` with ``headers`` (repeatable) and a body."""
    return _command(f"sendmsg {uuid}", headers, body)


def sendevent(
    name: str, headers: Iterable[tuple[str, str]], body: str | bytes | None = None
) -> bytes:
    """``sendevent <name>``: fire an event built from ``headers`` (``Event-Subclass``
    for ``CUSTOM``) and a body."""
    return _command(f"sendevent {name}", headers, body)


def log(level: int | str) -> bytes:
    return _command(f"log {level}")


def nolog() -> bytes:
    return _command("nolog")


def exit_() -> bytes:
    return _command("exit")
