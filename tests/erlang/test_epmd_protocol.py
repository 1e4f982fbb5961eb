"""The sans-IO EPMD codec against bytes observed from real OTP 25 epmd and erl."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kazoo_trio.erlang.epmd_protocol import (
    MAX_REQUEST_LEN,
    Alive2Reply,
    Alive2Request,
    DumpRequest,
    EpmdProtocolError,
    KillRequest,
    NamesReply,
    NamesRequest,
    NodeEntry,
    Port2Reply,
    PortPlease2Request,
    StopRequest,
    alive2_request,
    alive2_response,
    alive2_x_response,
    names_request,
    names_response,
    parse_alive2_reply,
    parse_names_reply,
    parse_port2_reply,
    parse_request,
    port2_response,
    port_please2_request,
    validate_name,
)

# Observed on the wire (real OTP 25.2.3 epmd and erl).
OTP25_REGISTRATION = bytes.fromhex("000e789bb54d0000060005000161 0000")
X_RESP_OK = bytes.fromhex("76006b09759d")
X_RESP_DUP = bytes.fromhex("760100000063")
RESP_OLD5 = bytes.fromhex("79000001")
PORT2_DUP = bytes.fromhex("77 0015b3 48 00 0006 0005 0003 647570 0000")
PORT2_NOSUCH = bytes.fromhex("7701")
NAMES = bytes.fromhex("00001111") + b"name old5 at port 5555\nname dup at port 5555\n"

T = TypeVar("T")

DUP_ENTRY = NodeEntry("dup", 5555, 72, 0, 6, 5, b"")


def feed_bytewise(data: bytes, parse: Callable[[bytes], T | None]) -> T:
    """Every proper prefix parses to None; the whole message parses to a value."""
    for i in range(len(data)):
        assert parse(data[:i]) is None, f"complete after {i} of {len(data)} bytes"
    result = parse(data)
    assert result is not None
    return result


def test_encodes_the_otp25_registration_packet() -> None:
    assert alive2_request("a", 39861, node_type=77) == OTP25_REGISTRATION


def test_hidden_node_registration_defaults() -> None:
    packet = alive2_request("kz", 4242)
    # type 72 (hidden), protocol 0, highest 6, lowest 5
    assert packet == bytes.fromhex("000f78 1092 48 00 0006 0005 0002") + b"kz" + b"\x00\x00"


def test_lookup_requests() -> None:
    assert port_please2_request("dup") == b"\x00\x04zdup"
    assert names_request() == b"\x00\x01n"


def test_alive2_replies() -> None:
    assert feed_bytewise(X_RESP_OK, parse_alive2_reply) == Alive2Reply(0, 0x6B09759D, True)
    dup = feed_bytewise(X_RESP_DUP, parse_alive2_reply)
    assert (dup.ok, dup.creation) == (False, 99)
    old = feed_bytewise(RESP_OLD5, parse_alive2_reply)
    assert old == Alive2Reply(0, 1, False) and old.ok


def test_port2_replies() -> None:
    assert feed_bytewise(PORT2_DUP, parse_port2_reply) == Port2Reply(0, DUP_ENTRY)
    assert feed_bytewise(PORT2_NOSUCH, parse_port2_reply) == Port2Reply(1, None)


def test_port2_reply_with_extra_and_utf8_name() -> None:
    entry = NodeEntry("nœud", 1, 77, 0, 6, 6, b"\x01\x02")
    assert feed_bytewise(port2_response(entry), parse_port2_reply) == Port2Reply(0, entry)


def test_names_reply_needs_eof() -> None:
    for i in range(len(NAMES) + 1):
        assert parse_names_reply(NAMES[:i], eof=False) is None
    assert parse_names_reply(NAMES, eof=True) == NamesReply(0x1111, [("old5", 5555), ("dup", 5555)])
    assert parse_names_reply(NAMES[:4], eof=True) == NamesReply(0x1111, [])


@pytest.mark.parametrize(
    ("data", "eof", "match"),
    [
        (b"\x00\x00", True, "closed after 2 bytes"),
        (NAMES[:-1], True, "middle of a line"),
        (NAMES[:4] + b"hello world\n", False, "malformed line"),
        (NAMES[:4] + b"name x at port 99999\n", True, "out of range"),
        (NAMES[:4] + b"name \xff at port 1\n", True, "UTF-8"),
    ],
)
def test_names_reply_garbage(data: bytes, eof: bool, match: str) -> None:
    with pytest.raises(EpmdProtocolError, match=match):
        parse_names_reply(data, eof=eof)


@pytest.mark.parametrize(
    ("parse", "data", "match"),
    [
        (parse_alive2_reply, b"HTTP", "unexpected tag 72"),
        (parse_alive2_reply, X_RESP_OK + b"\x00", "unexpected bytes"),
        (parse_alive2_reply, RESP_OLD5 + b"\x00", "unexpected bytes"),
        (parse_port2_reply, b"\x00", "unexpected tag 0"),
        (parse_port2_reply, PORT2_NOSUCH + b"\x00", "unexpected bytes"),
        (parse_port2_reply, PORT2_DUP + b"\x00", "unexpected bytes"),
        (parse_port2_reply, bytes.fromhex("77 00 0001 48 00 0006 0005 0000 0000"), "characters"),
        (parse_port2_reply, bytes.fromhex("77 00 0001 48 00 0006 0005 0001 00 0000"), "NUL"),
    ],
)
def test_reply_garbage(parse: Callable[[bytes], object], data: bytes, match: str) -> None:
    with pytest.raises(EpmdProtocolError, match=match):
        parse(data)


def test_server_parses_the_otp25_registration() -> None:
    request = feed_bytewise(OTP25_REGISTRATION, parse_request)
    assert request == Alive2Request(NodeEntry("a", 39861, 77, 0, 6, 5, b""))


def test_server_parses_lookups_and_commands() -> None:
    assert feed_bytewise(b"\x00\x04zdup", parse_request) == PortPlease2Request("dup")
    # Very old clients NUL-terminate the name.
    assert parse_request(b"\x00\x05zdup\x00") == PortPlease2Request("dup")
    assert feed_bytewise(b"\x00\x01n", parse_request) == NamesRequest()
    assert parse_request(b"\x00\x01d") == DumpRequest()
    assert parse_request(b"\x00\x01k") == KillRequest()
    assert parse_request(b"\x00\x03sab") == StopRequest(b"ab")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x00\x00", "outside"),
        (b"\xff\xff", "outside"),
        ((MAX_REQUEST_LEN + 1).to_bytes(2, "big"), "outside"),
        (b"GET / HTTP/1.1\r\n", "outside"),  # "GE" read as a length
        (b"\x00\x05Q", "unknown request tag 81"),
        (b"\x00\x01n\x00", "after a 1-byte request"),
        (b"\x00\x02nn", "unexpected 1 bytes"),
        (b"\x00\x01z", "characters"),
        (b"\x00\x04za\x00b", "NUL"),
        (b"\x00\x03z\xc3\x28", "UTF-8"),
        (b"\x00\x01s", "without a name"),
        (OTP25_REGISTRATION[:1] + b"\x0c" + OTP25_REGISTRATION[2:-2], "truncated"),
        (b"\x00\x0f" + OTP25_REGISTRATION[2:] + b"\x00", "after the extra field"),
        (bytes.fromhex("000e789bb54d0000060005000100 0000"), "NUL"),
    ],
)
def test_request_garbage(data: bytes, match: str) -> None:
    with pytest.raises(EpmdProtocolError, match=match):
        parse_request(data)


def test_garbage_is_reported_before_the_announced_length_arrives() -> None:
    # A peer announcing a long request but sending an unknown tag is dropped
    # at once instead of being waited for.
    with pytest.raises(EpmdProtocolError, match="unknown request tag"):
        parse_request(b"\x0b\xb8\x01")


def test_server_replies() -> None:
    assert alive2_x_response(0, 0x6B09759D) == X_RESP_OK
    assert alive2_x_response(1, 99) == X_RESP_DUP
    assert alive2_response(0, 1) == RESP_OLD5
    assert port2_response(DUP_ENTRY) == PORT2_DUP
    assert port2_response(None) == PORT2_NOSUCH
    assert names_response(0x1111, [("old5", 5555), ("dup", 5555)]) == NAMES


@pytest.mark.parametrize("name", ["", "x" * 256, "a\0b", "\udc80"])
def test_invalid_names_rejected_by_encoders(name: str) -> None:
    with pytest.raises(ValueError):
        validate_name(name)
    with pytest.raises(ValueError):
        port_please2_request(name)


def test_out_of_range_fields_rejected_by_encoders() -> None:
    with pytest.raises(ValueError, match="port"):
        alive2_request("a", 70000)
    with pytest.raises(ValueError, match="node type"):
        alive2_request("a", 1, node_type=256)


names_st = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\0\n"),
    min_size=1,
    max_size=255,
)
entries = st.builds(
    NodeEntry,
    name=names_st,
    port=st.integers(0, 0xFFFF),
    node_type=st.integers(0, 255),
    protocol=st.integers(0, 255),
    highest_version=st.integers(0, 0xFFFF),
    lowest_version=st.integers(0, 0xFFFF),
    extra=st.binary(max_size=300),
)


@given(entries)
def test_alive2_request_round_trip(entry: NodeEntry) -> None:
    packet = alive2_request(
        entry.name,
        entry.port,
        node_type=entry.node_type,
        protocol=entry.protocol,
        highest=entry.highest_version,
        lowest=entry.lowest_version,
        extra=entry.extra,
    )
    assert parse_request(packet) == Alive2Request(entry)
    assert parse_request(packet[:-1]) is None


@given(entries)
def test_port2_round_trip(entry: NodeEntry) -> None:
    reply = port2_response(entry)
    assert parse_port2_reply(reply) == Port2Reply(0, entry)
    assert parse_port2_reply(reply[:-1]) is None


@given(st.lists(st.tuples(names_st, st.integers(0, 0xFFFF)), max_size=20), st.integers(0, 0xFFFF))
def test_names_round_trip(nodes: list[tuple[str, int]], port: int) -> None:
    assert parse_names_reply(names_response(port, nodes), eof=True) == NamesReply(port, nodes)


@given(
    st.one_of(
        st.binary(max_size=64),
        st.builds(
            lambda n, tag, body: n.to_bytes(2, "big") + bytes([tag]) + body,
            st.integers(1, 40),
            st.sampled_from(b"xznkds"),
            st.binary(max_size=40),
        ),
    )
)
def test_arbitrary_bytes_only_raise_protocol_errors(data: bytes) -> None:
    for i in range(len(data) + 1):
        with contextlib.suppress(EpmdProtocolError):
            parse_request(data[:i])
