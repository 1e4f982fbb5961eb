"""The sans-IO event-socket protocol, on bytes recorded from the real FreeSWITCH."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.switch.freeswitch import esl

CAPTURES = Path(__file__).parent / "captures"


def capture(name: str) -> bytes:
    return (CAPTURES / f"{name}.bin").read_bytes()


def messages(data: bytes, chunks: list[int] | None = None) -> list[esl.Message]:
    """Every message in ``data`` fed in pieces of the given sizes, then EOF."""
    conn = esl.EslConnection()
    out: list[esl.Message] = []

    def drain() -> None:
        while True:
            msg = conn.next_message()
            if msg is esl.NEED_DATA:
                return
            assert not isinstance(msg, esl._NeedData)
            out.append(msg)
            if isinstance(msg, esl.ConnectionClosed):
                return

    pos = 0
    for size in chunks or [len(data)]:
        if pos >= len(data):
            break
        conn.receive_data(data[pos : pos + size])
        pos += size
        drain()
    if pos < len(data):
        conn.receive_data(data[pos:])
        drain()
    conn.receive_data(b"")
    drain()
    return out


def test_auth_and_api_responses() -> None:
    got = messages(capture("api"))
    assert isinstance(got[0], esl.AuthRequest)
    assert isinstance(got[1], esl.CommandReply)
    assert got[1].ok and got[1].reply_text == "+OK accepted"
    status, version, unknown, hostname, exists = got[2:7]
    assert isinstance(status, esl.ApiResponse) and "is ready" in status.text
    assert isinstance(version, esl.ApiResponse)
    assert version.text == "FreeSWITCH Version 1.11.3-dev~64bit ( 64bit)\n"
    assert isinstance(unknown, esl.ApiResponse)
    assert unknown.text == "-ERR nosuchcmd Command not found!\n"
    assert hostname == esl.ApiResponse("vm")
    assert exists == esl.ApiResponse("false")
    assert got[7:] == [esl.ConnectionClosed()]


def test_bad_auth_is_refused_and_disconnected() -> None:
    got = messages(capture("badauth"))
    assert isinstance(got[1], esl.CommandReply) and not got[1].ok
    assert got[1].reply_text == "-ERR invalid"
    notice = got[2]
    assert isinstance(notice, esl.DisconnectNotice)
    assert notice.text.startswith("Disconnected, goodbye.")
    assert got[3] == esl.ConnectionClosed()


def test_bgapi_reply_carries_the_job_uuid() -> None:
    reply = messages(capture("bgapi"))[2]
    assert isinstance(reply, esl.CommandReply)
    assert reply.job_uuid == "7f4de4bc-17d7-11dd-b7a0-db4edd065621"
    assert reply.reply_text == "+OK Job-UUID: 7f4de4bc-17d7-11dd-b7a0-db4edd065621"


def test_plain_events_are_url_decoded_in_order() -> None:
    events = [m.parse() for m in messages(capture("plain")) if isinstance(m, esl.EventMessage)]
    create = events[0]
    assert create.headers[0] == ("Event-Name", "CHANNEL_CREATE")
    assert create.get("FreeSWITCH-IPv6") == "fd00::2"
    assert create.get("Event-Date-GMT") == "Sun, 06 Dec 2026 10:59:00 GMT"
    assert create.get("Caller-Callee-ID-Name") == "Outbound Call"
    assert create.headers[-1] == ("variable_loopback_leg", "A")
    assert create.body is None
    names = [e.get("Event-Name") for e in events]
    assert names.count("CHANNEL_CREATE") == 2 and "CHANNEL_DESTROY" in names


def test_json_and_plain_agree_on_the_shape_of_an_event() -> None:
    events = [m.parse() for m in messages(capture("json")) if isinstance(m, esl.EventMessage)]
    job = next(e for e in events if e.get("Event-Name") == "BACKGROUND_JOB")
    assert job.get("Job-UUID") == "11111111-2222-3333-4444-555555555555"
    assert job.body == "-ERR MANAGER_REQUEST\n"
    # The Content-Length of the serialisation is not one of the event's headers.
    assert "Content-Length" not in dict(job.headers)
    assert job.headers[-1] == ("Job-Command-Arg", "loopback/1000/default &park")
    create = next(e for e in events if e.get("Event-Name") == "CHANNEL_CREATE")
    assert create.get("FreeSWITCH-IPv6") == "fd00::2"
    assert create.get("Caller-Callee-ID-Name") == "Outbound Call"


def test_sendevent_event_keeps_repeated_headers_its_own_content_length_and_body() -> None:
    got = messages(capture("misc"))
    custom = next(m for m in got if isinstance(m, esl.EventMessage)).parse()
    assert custom.get("Event-Subclass") == "kt::test"
    assert [v for k, v in custom.headers if k == "X-A"] == ["1", "2"]
    # sendevent's own Content-Length header stays; the serialisation's goes.
    assert [v for k, v in custom.headers if k == "Content-Length"] == ["5"]
    assert custom.headers[-1] == ("Event-Sequence", "468")
    assert custom.body == "hello"
    replies = [m.reply_text for m in got if isinstance(m, esl.CommandReply)]
    assert replies[3:] == [
        "+OK events nixed",
        "+OK no longer listening for events",
        "+OK filter added. [Unique-ID]=[abc]",
        "+OK filter deleted. [Unique-ID][abc]",
        "-ERR invalid session id [00000000-0000-0000-0000-000000000000]",
        "+OK log level 7 [7]",
        "+OK no longer logging",
        "+OK bye",
    ]
    log = next(m for m in got if isinstance(m, esl.LogData))
    assert ("Log-Level", "6") in log.headers
    assert log.text.endswith("[INFO] mod_commands.c:7247 hello-log\n")
    assert isinstance(got[-2], esl.DisconnectNotice)


def test_plain_arrays_become_repeated_headers() -> None:
    payload = b"Event-Name: CUSTOM\nX-List: ARRAY%3A%3Aa%7C%3Ab\nContent-Length: 2\n\nhi"
    parsed = esl.parse_event_plain(payload)
    assert parsed.headers == (("Event-Name", "CUSTOM"), ("X-List", "a"), ("X-List", "b"))
    assert parsed.body == "hi"
    as_json = esl.parse_event_json(b'{"Event-Name":"CUSTOM","X-List":["a","b"]}')
    assert as_json.headers == parsed.headers and as_json.body is None


CAPTURE_NAMES = ["api", "badauth", "bgapi", "plain", "json", "misc"]


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(CAPTURE_NAMES),
    chunks=st.lists(st.integers(min_value=1, max_value=700), max_size=60),
)
def test_any_chunking_gives_the_same_messages(name: str, chunks: list[int]) -> None:
    data = capture(name)
    assert messages(data, chunks) == messages(data)


def test_truncated_input_is_a_protocol_error() -> None:
    data = capture("api")
    with pytest.raises(esl.EslProtocolError):
        messages(data[:-3])
    with pytest.raises(esl.EslProtocolError):
        messages(b"Content-Type: api/response\nContent-Length: x\n\n")


def test_commands_serialise_as_freeswitch_reads_them() -> None:
    assert esl.auth("ClueCon") == b"auth ClueCon\n\n"
    assert esl.api("status") == b"api status\n\n"
    assert esl.api("uuid_dump", "abc json") == b"api uuid_dump abc json\n\n"
    assert esl.bgapi("status", "", "j1") == b"bgapi status\nJob-UUID: j1\n\n"
    assert esl.event("json", ["CHANNEL_CREATE", "CUSTOM", "a::b"]) == (
        b"event json CHANNEL_CREATE CUSTOM a::b\n\n"
    )
    assert esl.nixevent(["CUSTOM", "a::b"]) == b"nixevent CUSTOM a::b\n\n"
    assert esl.noevents() == b"noevents\n\n"
    assert esl.filter_("Unique-ID", "u") == b"filter Unique-ID u\n\n"
    assert esl.filter_delete("Unique-ID", "u") == b"filter delete Unique-ID u\n\n"
    assert esl.sendmsg("u", [("call-command", "execute"), ("x", "1"), ("x", "2")], "bod") == (
        b"sendmsg u\ncall-command: execute\nx: 1\nx: 2\nContent-Length: 3\n\nbod"
    )
    assert esl.sendevent("CUSTOM", [("Event-Subclass", "a::b")]) == (
        b"sendevent CUSTOM\nEvent-Subclass: a::b\n\n"
    )
    assert esl.exit_() == b"exit\n\n"
    assert esl.log(7) == b"log 7\n\n" and esl.nolog() == b"nolog\n\n"
    with pytest.raises(esl.EslCommandError):
        esl.api("status", "x\n\nexit")
    with pytest.raises(esl.EslCommandError):
        esl.sendmsg("u", [("a", "b\nc")])
