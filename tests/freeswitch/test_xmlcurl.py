"""The mod_xml_curl endpoint, fed the request FreeSWITCH sent (no FreeSWITCH needed)."""

from __future__ import annotations

from pathlib import Path

import trio

from kazoo_trio.switch.freeswitch.xmlcurl import (
    NOT_FOUND,
    LookupRequest,
    XmlCurlServer,
    lookup_request,
    parse_form,
)

POST = (Path(__file__).parent / "captures" / "xmlcurl_post.bin").read_bytes()


def test_form_fields_keep_order_and_plus_signs() -> None:
    assert parse_form(b"a=1&b=x%20y+z&a=&c") == [("a", "1"), ("b", "x y+z"), ("a", ""), ("c", "")]
    body = POST.partition(b"\r\n\r\n")[2]
    request = lookup_request(body)
    assert request.section == "dialplan" and request.hostname == "vm"
    assert (request.tag_name, request.key_name, request.key_value) == ("", "", "")
    assert request.params[0] == ("Event-Name", "REQUEST_PARAMS")
    assert ("Event-Date-GMT", "Sun, 06 Dec 2026 11:04:04 GMT") in request.params
    assert ("Caller-Destination-Number", "5555") in request.params


async def exchange(port: int, data: bytes) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(data)
        received = b""
        with trio.fail_after(5):
            while True:
                head, _, body = received.partition(b"\r\n\r\n")
                if _ and b"Content-Length: " in head:
                    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                    if len(body) >= length:
                        return received
                chunk = await stream.receive_some()
                if not chunk:
                    return received
                received += chunk


async def test_lookups_are_answered_by_the_handler_or_not_found() -> None:
    seen: list[LookupRequest] = []

    async def handler(request: LookupRequest) -> str | None:
        seen.append(request)
        if request.section == "directory":
            await trio.sleep(10)  # a handler that never answers in time: the behaviour tested
        return "<document/>" if request.section == "dialplan" else None

    server = XmlCurlServer(handler, port=0, lookup_timeout=0.3)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        port = server.bound_port
        answer = await exchange(port, POST)
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert answer.endswith(b"\r\n\r\n<document/>")
        assert seen[0].section == "dialplan"
        for section in (b"configuration", b"directory"):
            body = b"hostname=h&section=" + section + b"&tag_name=&key_name=&key_value="
            request = (
                b"POST /fsxml HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            answer = await exchange(port, request)
            assert answer.endswith(NOT_FOUND.encode()), answer
        assert (await exchange(port, b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")).startswith(
            b"HTTP/1.1 404 "
        )
        assert (await exchange(port, b"nonsense\r\n\r\n")).startswith(b"HTTP/1.1 400 ")
        nursery.cancel_scope.cancel()
