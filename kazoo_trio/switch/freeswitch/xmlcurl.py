"""The HTTP endpoint mod_xml_curl posts XML lookups to, on h11 and trio.

mod_xml_curl sends ``POST <gateway-url>`` with an ``application/x-www-form-urlencoded``
body: ``hostname``, ``section``, ``tag_name``, ``key_name``, ``key_value``, then
the headers of the lookup's parameter event in order (a ``REQUEST_PARAMS`` event
or the channel's data).  The answer is the XML document; when nobody answers (no
binding for the section, every binding declined, or the lookup took longer than
``lookup_timeout``) it is FreeSWITCH's not-found document, after which FreeSWITCH
falls back to its static XML.

Task tree: :meth:`XmlCurlServer.run` owns a nursery with the listener
(``trio.serve_tcp``), which starts one task per HTTP connection; a connection
task serves its requests one after another (keep-alive) and ends with the
connection.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import NoReturn
from urllib.parse import unquote

import attrs
import h11
import trio

__all__ = ["NOT_FOUND", "LookupRequest", "XmlCurlServer", "parse_form"]

log = logging.getLogger(__name__)

NOT_FOUND = (
    '<document type="freeswitch/xml"><section name="result">'
    '<result status="not found"/></section></document>'
)

MAX_REQUEST = 4 * 1024 * 1024
# An idle keep-alive connection is closed after this long.
IDLE_TIMEOUT = 60.0


@attrs.frozen
class LookupRequest:
    """One lookup as mod_xml_curl posted it."""

    hostname: str
    section: str
    tag_name: str
    key_name: str
    key_value: str
    params: tuple[tuple[str, str], ...]


_FIXED = frozenset(("hostname", "section", "tag_name", "key_name", "key_value"))

LookupHandler = Callable[[LookupRequest], Awaitable[str | None]]


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """``a=1&b=2`` in order, repeated names kept.

    FreeSWITCH encodes with ``switch_url_encode``, which leaves ``+`` alone, so a
    ``+`` is a plus sign here, not a space (``parse_qsl`` would read a space).
    """
    pairs: list[tuple[str, str]] = []
    for item in body.decode("utf-8", "replace").split("&"):
        if not item:
            continue
        name, _, value = item.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def lookup_request(body: bytes) -> LookupRequest:
    pairs = parse_form(body)
    fixed: dict[str, str] = {}
    # The five fixed fields come first; everything after them is the event.
    index = 0
    while index < len(pairs) and pairs[index][0] in _FIXED and pairs[index][0] not in fixed:
        fixed[pairs[index][0]] = pairs[index][1]
        index += 1
    return LookupRequest(
        hostname=fixed.get("hostname", ""),
        section=fixed.get("section", ""),
        tag_name=fixed.get("tag_name", ""),
        key_name=fixed.get("key_name", ""),
        key_value=fixed.get("key_value", ""),
        params=tuple(pairs[index:]),
    )


@attrs.define(eq=False)
class XmlCurlServer:
    """Answers mod_xml_curl's lookups with ``handler`` (``None``: not found)."""

    handler: LookupHandler
    host: str = "127.0.0.1"
    port: int = 8090
    path: str = "/fsxml"
    lookup_timeout: float = 10.0
    listeners: list[trio.SocketListener] = attrs.field(init=False, factory=list)

    @property
    def bound_port(self) -> int:
        """The port listened on (``port`` may be 0)."""
        port: int = self.listeners[0].socket.getsockname()[1]
        return port

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        async with trio.open_nursery() as nursery:
            self.listeners = await nursery.start(
                partial(trio.serve_tcp, self._serve_connection, self.port, host=self.host)
            )
            task_status.started()
            await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def _serve_connection(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
        async with stream:
            try:
                while True:
                    request, body = await self._read_request(stream, conn)
                    if request is None:
                        return
                    await self._respond(stream, conn, request, body)
                    if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
                        return
                    conn.start_next_cycle()
            except h11.RemoteProtocolError as exc:
                log.warning("bad HTTP request on the XML endpoint: %s", exc)
                await _send_simple(stream, conn, exc.error_status_hint, b"")
            except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError):
                return

    async def _read_request(
        self, stream: trio.SocketStream, conn: h11.Connection
    ) -> tuple[h11.Request | None, bytes]:
        request: h11.Request | None = None
        body = bytearray()
        with trio.fail_after(IDLE_TIMEOUT):
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await stream.receive_some())
                elif isinstance(event, h11.Request):
                    request = event
                elif isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > MAX_REQUEST:
                        raise h11.RemoteProtocolError("request too large", 413)
                elif isinstance(event, h11.EndOfMessage):
                    return request, bytes(body)
                elif isinstance(event, h11.ConnectionClosed):
                    return None, b""
                else:  # PAUSED cannot happen before we answer
                    return None, b""

    async def _respond(
        self, stream: trio.SocketStream, conn: h11.Connection, request: h11.Request, body: bytes
    ) -> None:
        target = request.target.decode("ascii", "replace").split("?", 1)[0]
        if target != self.path:
            await _send_simple(stream, conn, 404, b"")
            return
        if request.method != b"POST":
            await _send_simple(stream, conn, 405, b"")
            return
        lookup = lookup_request(body)
        xml: str | None = None
        with trio.move_on_after(self.lookup_timeout) as scope:
            try:
                xml = await self.handler(lookup)
            except Exception:
                log.exception("XML lookup %s failed", lookup.section)
        if scope.cancelled_caught:
            log.warning(
                "XML lookup %s %s=%s took over %g s: not found",
                lookup.section, lookup.key_name, lookup.key_value, self.lookup_timeout,
            )  # fmt: skip
        await _send_simple(stream, conn, 200, (xml or NOT_FOUND).encode("utf-8"), xml=True)


async def _send_simple(
    stream: trio.SocketStream, conn: h11.Connection, status: int, body: bytes, *, xml: bool = False
) -> None:
    headers = [("Content-Length", str(len(body)))]
    if xml:
        headers.append(("Content-Type", "text/xml"))
    try:
        data = conn.send(h11.Response(status_code=status, headers=headers)) or b""
        if body:
            data += conn.send(h11.Data(data=body)) or b""
        data += conn.send(h11.EndOfMessage()) or b""
    except h11.LocalProtocolError:
        return
    await stream.send_all(data)
