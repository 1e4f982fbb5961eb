"""The handshake state machine against a recorded OTP 25 exchange.

The recorded run was ``a@vm`` (initiator) to ``b@vm`` (acceptor); with the
same flags, creations and challenges our machine must produce the very same
bytes.  Digests depend on the cookie, which the recording does not show, so
they are computed here for a cookie of our choosing.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.erlang.cookie import digest
from kazoo_trio.erlang.flags import MANDATORY_25, RECOMMENDED, DFlag
from kazoo_trio.erlang.handshake import (
    MAX_HANDSHAKE_PACKET,
    AliveAnswered,
    Connected,
    Failed,
    FailureKind,
    Handshake,
    HandshakeConfig,
    HandshakeEvent,
    HandshakeState,
    NameReceived,
    PeerAlive,
    Role,
    Status,
)

COOKIE = b"kazoo_trio_test"
OTP25_FLAGS = 0x0000_000D_07DF_7FBD  # OTP 25 defaults + PUBLISHED, as recorded

# OTP 25 a@vm -> b@vm, message bodies without the 2-byte length.
A_NAME = bytes.fromhex("4e 0000000d07df7fbd 6b097142 0004") + b"a@vm"
B_STATUS = b"sok"
B_CHALLENGE = bytes.fromhex("4e 0000000d07df7fbd 65b315d3 6b097141 0004") + b"b@vm"
A_CHALLENGE, B_CHALLENGE_VALUE = 0x71E591E4, 0x65B315D3
A_CREATION, B_CREATION = 0x6B097142, 0x6B097141


def pk(body: bytes) -> bytes:
    return len(body).to_bytes(2, "big") + body


def reply_packet(cookie: bytes = COOKIE) -> bytes:
    return pk(b"r" + A_CHALLENGE.to_bytes(4, "big") + digest(cookie, B_CHALLENGE_VALUE))


def ack_packet(cookie: bytes = COOKIE) -> bytes:
    return pk(b"a" + digest(cookie, A_CHALLENGE))


def acceptor(flags: int = OTP25_FLAGS, cookie: bytes = COOKIE) -> Handshake:
    config = HandshakeConfig("b@vm", cookie, flags, B_CREATION)
    return Handshake(Role.ACCEPTOR, config, challenge=B_CHALLENGE_VALUE)


def initiator(flags: int = OTP25_FLAGS, cookie: bytes = COOKIE, peer: str = "b@vm") -> Handshake:
    config = HandshakeConfig("a@vm", cookie, flags, A_CREATION)
    return Handshake(Role.INITIATOR, config, peer_name=peer, challenge=A_CHALLENGE)


def events(hs: Handshake) -> list[HandshakeEvent]:
    out = []
    while (event := hs.next_event()) is not None:
        out.append(event)
    return out


def feed(hs: Handshake, data: bytes) -> list[HandshakeEvent]:
    hs.receive_data(data)
    return events(hs)


def failed(evs: list[HandshakeEvent], *fragments: str) -> str:
    assert len(evs) == 1 and isinstance(evs[0], Failed), evs
    for fragment in fragments:
        assert fragment in evs[0].reason, evs[0].reason
    return evs[0].reason


# ---- the recorded exchange -------------------------------------------------------


def test_acceptor_replays_otp25_bytes() -> None:
    hs = acceptor()
    assert events(hs) == [] and hs.data_to_send() == b""
    evs = feed(hs, pk(A_NAME))
    assert evs == [NameReceived("a@vm", OTP25_FLAGS, A_CREATION, 6)]
    assert hs.state == "decide_status" and hs.next_event() is None
    hs.decide_status("ok")
    assert hs.data_to_send() == pk(B_STATUS) + pk(B_CHALLENGE)
    evs = feed(hs, reply_packet())
    assert evs == [Connected("a@vm", OTP25_FLAGS, OTP25_FLAGS, A_CREATION)]
    assert hs.data_to_send() == ack_packet()
    assert hs.trailing_data == b""
    assert hs.next_event() is None


def test_initiator_replays_otp25_bytes() -> None:
    hs = initiator()
    assert hs.data_to_send() == pk(A_NAME)
    assert events(hs) == []
    # OTP writes status and challenge back to back; here they arrive in one read.
    assert feed(hs, pk(B_STATUS) + pk(B_CHALLENGE)) == []
    assert hs.data_to_send() == reply_packet()
    assert hs.state == "recv_challenge_ack"
    tick, frame = b"\0\0\0\0", b"\0\0\0\x03p\x83j"
    evs = feed(hs, ack_packet() + tick + frame)
    assert evs == [Connected("b@vm", OTP25_FLAGS, OTP25_FLAGS, B_CREATION)]
    assert hs.trailing_data == tick + frame  # pitfall 25: nothing after 'a' is lost
    hs.receive_data(b"more")
    assert hs.trailing_data == tick + frame + b"more"


def test_negotiated_is_the_intersection() -> None:
    hs = initiator(flags=RECOMMENDED)
    hs.data_to_send()
    evs = feed(hs, pk(B_STATUS) + pk(B_CHALLENGE) + ack_packet())
    assert evs == [Connected("b@vm", OTP25_FLAGS, RECOMMENDED & OTP25_FLAGS, B_CREATION)]
    assert isinstance(evs[0], Connected)
    assert not evs[0].negotiated_flags & DFlag.PUBLISHED  # hidden


def test_acceptor_byte_by_byte() -> None:
    hs = acceptor()
    got: list[HandshakeEvent] = []
    for b in pk(A_NAME):
        got += feed(hs, bytes([b]))
    assert got == [NameReceived("a@vm", OTP25_FLAGS, A_CREATION, 6)]
    hs.decide_status("ok")
    hs.data_to_send()
    got = []
    for b in reply_packet() + b"\0\0\0\0":
        got += feed(hs, bytes([b]))
    assert [type(e) for e in got] == [Connected]
    assert hs.trailing_data == b"\0\0\0\0"


def test_initiator_byte_by_byte() -> None:
    hs = initiator()
    hs.data_to_send()
    got: list[HandshakeEvent] = []
    for b in pk(B_STATUS) + pk(B_CHALLENGE) + ack_packet():
        got += feed(hs, bytes([b]))
    assert [type(e) for e in got] == [Connected]
    assert hs.data_to_send() == reply_packet()


def test_name_message_extra_bytes_are_ignored() -> None:
    hs = acceptor()
    assert feed(hs, pk(A_NAME + b"future")) == [NameReceived("a@vm", OTP25_FLAGS, A_CREATION, 6)]


# ---- old 'n' name message + 'c' complement (OTP 23/24 without EPMD) -------------


def old_name(low_flags: int, name: bytes = b"old@host") -> bytes:
    return pk(b"n" + struct.pack(">HI", 5, low_flags) + name)


def complement(high: int, creation: int) -> bytes:
    return pk(b"c" + struct.pack(">II", high, creation))


def test_acceptor_old_name_and_complement() -> None:
    full = OTP25_FLAGS
    hs = acceptor()
    evs = feed(hs, old_name(full & 0xFFFF_FFFF))
    assert evs == [NameReceived("old@host", full & 0xFFFF_FFFF, None, 5)]
    hs.decide_status("ok")
    assert hs.data_to_send() == pk(B_STATUS) + pk(B_CHALLENGE)
    assert hs.state == "recv_complement"
    evs = feed(hs, complement(full >> 32, 1234) + reply_packet())
    assert evs == [Connected("old@host", full, full & OTP25_FLAGS, 1234)]
    assert hs.data_to_send() == ack_packet()


def test_acceptor_old_name_checks_high_flags_after_complement() -> None:
    hs = acceptor()
    # Low word complete, but no V4_NC in the complement's high word.
    assert [type(e) for e in feed(hs, old_name(MANDATORY_25 | DFlag.UNLINK_ID))] == [NameReceived]
    hs.decide_status("ok")
    hs.data_to_send()
    failed(feed(hs, complement(0, 7)), "check_dflags", '"V4_NC"', "old@host")
    assert hs.data_to_send() == pk(b"snot_allowed")


def test_acceptor_bad_complement() -> None:
    hs = acceptor()
    feed(hs, old_name(OTP25_FLAGS & 0xFFFF_FFFF))
    hs.decide_status("ok")
    failed(feed(hs, pk(b"c\0\0\0\x0d\0\0\0")), "recv_complement", "9-byte")


# ---- failures -----------------------------------------------------------------------


def test_wrong_cookie_at_the_acceptor() -> None:
    hs = acceptor()
    feed(hs, pk(A_NAME))
    hs.decide_status("ok")
    hs.data_to_send()
    failed(feed(hs, reply_packet(cookie=b"other")), "recv_challenge_reply: invalid digest", "a@vm")
    assert hs.data_to_send() == b""  # no 'a': OTP just closes too
    assert hs.state == "failed"
    assert feed(hs, b"anything") == []


def test_wrong_cookie_at_the_initiator() -> None:
    hs = initiator()
    feed(hs, pk(B_STATUS) + pk(B_CHALLENGE))
    failed(feed(hs, ack_packet(cookie=b"other")), "recv_challenge_ack: invalid digest")


def test_missing_mandatory_flags_get_not_allowed() -> None:
    # With the digest bit set a missing BIT_BINARIES is implied, as in OTP.
    no_bits = A_NAME.replace(bytes.fromhex("0d07df7fbd"), bytes.fromhex("0d07df7bbd"))
    assert no_bits != A_NAME
    assert [type(e) for e in feed(acceptor(), pk(no_bits))] == [NameReceived]
    # Without it, the peer is refused with the flag named as OTP names it.
    hs = acceptor()
    flags = (OTP25_FLAGS & ~DFlag.BIT_BINARIES) & ~DFlag.MANDATORY_25_DIGEST
    msg = b"N" + struct.pack(">QIH", flags, 1, 4) + b"a@vm"
    failed(
        feed(hs, pk(msg)),
        "check_dflags: connection attempt from node a@vm rejected",
        'cannot handle ["BIT_BINARIES"]',
    )
    assert hs.data_to_send() == pk(b"snot_allowed")


def test_digest_bit_alone_is_accepted() -> None:
    # OTP 25 accepts digest + UNLINK_ID + V4_NC; so do we.
    flags = DFlag.MANDATORY_25_DIGEST | DFlag.UNLINK_ID | DFlag.V4_NC | DFlag.DIST_MONITOR
    msg = b"N" + struct.pack(">QIH", flags, 9, 4) + b"a@vm"
    (event,) = feed(acceptor(), pk(msg))
    assert isinstance(event, NameReceived)
    assert event.peer_flags == flags | MANDATORY_25


def test_initiator_aborts_on_peer_without_mandatory_flags() -> None:
    hs = initiator()
    weak = B_CHALLENGE.replace(bytes.fromhex("0000000d07df7fbd"), struct.pack(">Q", MANDATORY_25))
    failed(feed(hs, pk(B_STATUS) + pk(weak)), "check_dflags", "aborted", '["V4_NC", "UNLINK_ID"]')
    assert hs.data_to_send() == pk(A_NAME)  # nothing after the name


@pytest.mark.parametrize("name", [b"c2", b"@host", b"alive@", b"a@b@c", b"", b"x" * 300 + b"@h"])
def test_bad_names_close_without_status(name: bytes) -> None:
    hs = acceptor()
    msg = b"N" + struct.pack(">QIH", OTP25_FLAGS, 1, len(name)) + name
    failed(feed(hs, pk(msg)), "recv_name: invalid node name")
    assert hs.data_to_send() == b""


def test_name_me_is_refused() -> None:
    hs = acceptor()
    msg = b"N" + struct.pack(">QIH", OTP25_FLAGS | DFlag.NAME_ME, 0, 2) + b"vm"
    failed(feed(hs, pk(msg)), "NAME_ME")
    assert hs.data_to_send() == pk(b"snot_allowed")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (pk(b"GET / HTTP/1.1"), "recv_name: expected a name message"),
        (pk(b"N\0\0\0"), "recv_name: truncated 'N'"),
        (pk(b"n\0\x05"), "recv_name: truncated 'n'"),
        (pk(A_NAME[:-2]), "recv_name: name length 4 runs past"),
        (b"\0\0", "recv_name: empty handshake message"),
        (b"\xff\xff", f"more than {MAX_HANDSHAKE_PACKET}"),
        (b"GET / HTTP/1.1\r\n", f"more than {MAX_HANDSHAKE_PACKET}"),
    ],
)
def test_garbage_at_the_acceptor(data: bytes, fragment: str) -> None:
    hs = acceptor()
    failed(feed(hs, data), fragment)


def test_eof_fails_in_every_waiting_state() -> None:
    failed(feed(acceptor(), b""), "recv_name: connection closed by peer")
    hs = acceptor()
    hs.receive_data(pk(A_NAME)[:5])
    failed(feed(hs, b""), "recv_name: connection closed", "5 bytes")
    hs = acceptor()
    feed(hs, pk(A_NAME))
    hs.decide_status("ok")
    failed(feed(hs, b""), "recv_challenge_reply: connection closed")
    failed(feed(initiator(), b""), "recv_status: connection closed")
    hs = initiator()
    feed(hs, pk(B_STATUS))
    failed(feed(hs, b""), "recv_challenge: connection closed")


def test_truncated_and_wrong_replies() -> None:
    for bad in (b"r" + bytes(19), b"r" + bytes(21), b"x" + bytes(20)):
        hs = acceptor()
        feed(hs, pk(A_NAME))
        hs.decide_status("ok")
        failed(feed(hs, pk(bad)), "recv_challenge_reply: expected a 21-byte 'r'")
    for bad in (b"a" + bytes(15), b"a" + bytes(17), b"s" + bytes(16)):
        hs = initiator()
        feed(hs, pk(B_STATUS) + pk(B_CHALLENGE))
        failed(feed(hs, pk(bad)), "recv_challenge_ack: expected a 17-byte 'a'")


def test_initiator_checks_the_challenge_name() -> None:
    hs = initiator(peer="b@vm.example")
    failed(feed(hs, pk(B_STATUS) + pk(B_CHALLENGE)), "no_node", "'b@vm'", "'b@vm.example'")
    hs = initiator()
    failed(feed(hs, pk(B_STATUS) + pk(B_CHALLENGE[:-1])), "no_node")
    hs = initiator()
    failed(feed(hs, pk(B_STATUS) + pk(b"N" + bytes(10))), "recv_challenge: expected an 'N'")


# ---- status flows ---------------------------------------------------------------------


@pytest.mark.parametrize("status", ["nok", "not_allowed"])
def test_acceptor_refusing_statuses(status: str) -> None:
    hs = acceptor()
    feed(hs, pk(A_NAME))
    hs.decide_status(status)
    failed(events(hs), "mark_pending", status, "a@vm")
    assert hs.data_to_send() == pk(b"s" + status.encode())


def test_acceptor_ok_simultaneous_continues() -> None:
    hs = acceptor()
    feed(hs, pk(A_NAME))
    hs.decide_status("ok_simultaneous")
    assert hs.data_to_send() == pk(b"sok_simultaneous") + pk(B_CHALLENGE)
    assert [type(e) for e in feed(hs, reply_packet())] == [Connected]


def test_acceptor_alive_true_continues() -> None:
    hs = acceptor()
    feed(hs, pk(A_NAME))
    hs.decide_status("alive")
    assert hs.data_to_send() == pk(b"salive")
    assert feed(hs, pk(b"strue")) == [AliveAnswered(True)]
    assert hs.data_to_send() == pk(B_CHALLENGE)
    assert [type(e) for e in feed(hs, reply_packet())] == [Connected]


def test_acceptor_alive_false_ends() -> None:
    hs = acceptor()
    feed(hs, pk(A_NAME))
    hs.decide_status("alive")
    hs.data_to_send()
    evs = feed(hs, pk(b"sfalse"))
    assert evs[0] == AliveAnswered(False)
    failed(evs[1:], "recv_status_reply", "keeps its existing connection")
    assert hs.data_to_send() == b""


def test_acceptor_alive_garbage_answer() -> None:
    hs = acceptor()
    feed(hs, pk(A_NAME))
    hs.decide_status("alive")
    failed(feed(hs, pk(b"smaybe")), "recv_status_reply: expected 's' true/false")


def test_initiator_alive_answer_true() -> None:
    hs = initiator()
    hs.data_to_send()
    assert feed(hs, pk(b"salive")) == [PeerAlive()]
    assert hs.state == "answer_alive" and hs.next_event() is None
    hs.answer_alive(True)
    assert hs.data_to_send() == pk(b"strue")
    evs = feed(hs, pk(B_CHALLENGE) + ack_packet())
    assert [type(e) for e in evs] == [Connected]


def test_initiator_alive_answer_false() -> None:
    hs = initiator()
    hs.data_to_send()
    feed(hs, pk(b"salive"))
    hs.answer_alive(False)
    assert hs.data_to_send() == pk(b"sfalse")
    failed(events(hs), "recv_status", "answered false")


@pytest.mark.parametrize(
    ("status", "fragment"),
    [
        (b"snok", "answered nok"),
        (b"snot_allowed", "answered not_allowed"),
        (b"snamed:\x00\x04x@vm\x00\x00\x00\x01", "named:"),
        (b"swhatever", "unknown status"),
        (b"N" + bytes(20), "expected a status message"),
    ],
)
def test_initiator_failing_statuses(status: bytes, fragment: str) -> None:
    failed(feed(initiator(), pk(status)), "recv_status", fragment)


def test_initiator_ok_simultaneous_continues() -> None:
    hs = initiator()
    evs = feed(hs, pk(b"sok_simultaneous") + pk(B_CHALLENGE) + ack_packet())
    assert [type(e) for e in evs] == [Connected]


# ---- caller mistakes ---------------------------------------------------------------------


def test_caller_mistakes_raise() -> None:
    hs = acceptor()
    with pytest.raises(RuntimeError):
        hs.decide_status("ok")
    with pytest.raises(RuntimeError):
        hs.answer_alive(True)
    feed(hs, pk(A_NAME))
    with pytest.raises(ValueError, match="unknown status"):
        hs.decide_status("fine")
    config = HandshakeConfig("a@vm", COOKIE, RECOMMENDED, 1)
    with pytest.raises(ValueError, match="peer_name"):
        Handshake(Role.INITIATOR, config)
    with pytest.raises(ValueError, match="acceptor"):
        Handshake(Role.ACCEPTOR, config, peer_name="b@vm")
    with pytest.raises(ValueError, match="node name"):
        Handshake(Role.ACCEPTOR, HandshakeConfig("nohost", COOKIE, RECOMMENDED, 1))
    with pytest.raises(ValueError, match="creation"):
        Handshake(Role.ACCEPTOR, HandshakeConfig("a@vm", COOKIE, RECOMMENDED, 0))
    with pytest.raises(ValueError, match="NAME_ME"):
        Handshake(Role.ACCEPTOR, HandshakeConfig("a@vm", COOKIE, RECOMMENDED | DFlag.NAME_ME, 1))
    with pytest.raises(ValueError, match="Latin-1"):
        Handshake(Role.INITIATOR, config, peer_name="\u4e00@vm")


# ---- both roles in memory -------------------------------------------------------------------


def _run_pair(
    cuts_a: list[int], cuts_b: list[int], cookie_b: bytes = COOKIE
) -> tuple[list[HandshakeEvent], list[HandshakeEvent], Handshake, Handshake]:
    a = Handshake(
        Role.INITIATOR, HandshakeConfig("py@127.0.0.1", COOKIE, RECOMMENDED, 11), peer_name="b@h"
    )
    b = Handshake(Role.ACCEPTOR, HandshakeConfig("b@h", cookie_b, OTP25_FLAGS, 22))
    got_a: list[HandshakeEvent] = []
    got_b: list[HandshakeEvent] = []

    def deliver(data: bytes, to: Handshake, cuts: list[int], sink: list[HandshakeEvent]) -> None:
        pos = 0
        for cut in cuts:
            if pos >= len(data):
                break
            sink.extend(feed(to, data[pos : pos + cut]))
            pos += cut
        if data[pos:]:
            sink.extend(feed(to, data[pos:]))

    for _ in range(10):
        deliver(a.data_to_send(), b, cuts_b, got_b)
        for e in got_b:
            if isinstance(e, NameReceived) and b.state == "decide_status":
                b.decide_status("ok")
        deliver(b.data_to_send(), a, cuts_a, got_a)
    return got_a, got_b, a, b


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(1, 40), max_size=12),
    st.lists(st.integers(1, 40), max_size=12),
)
def test_two_machines_connect_whatever_the_chunking(cuts_a: list[int], cuts_b: list[int]) -> None:
    got_a, got_b, a, b = _run_pair(cuts_a, cuts_b)
    negotiated = RECOMMENDED & OTP25_FLAGS
    assert got_a == [Connected("b@h", OTP25_FLAGS, negotiated, 22)]
    assert got_b == [
        NameReceived("py@127.0.0.1", RECOMMENDED, 11, 6),
        Connected("py@127.0.0.1", RECOMMENDED, negotiated, 11),
    ]
    assert a.trailing_data == b.trailing_data == b""


def test_two_machines_with_different_cookies() -> None:
    got_a, got_b, _, _ = _run_pair([], [], cookie_b=b"other")
    assert got_a == []  # the initiator just sees the connection close
    assert isinstance(got_b[-1], Failed) and "invalid digest" in got_b[-1].reason


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_random_bytes_never_raise(data: bytes, as_initiator: bool) -> None:
    hs = initiator() if as_initiator else acceptor()
    hs.receive_data(data)
    hs.receive_data(b"")
    evs = events(hs)
    # Whatever arrives, the machine ends in one event: a name (then a caller
    # decision is due), an alive question, or a failure.
    assert len(evs) <= 1
    if hs.state == "decide_status":
        hs.decide_status("ok")
        evs = events(hs)
    assert all(isinstance(e, (NameReceived, PeerAlive, Failed)) for e in evs)


# ---- typed states and failure kinds ---------------------------------------------------


def kind(evs: list[HandshakeEvent]) -> FailureKind:
    assert len(evs) == 1 and isinstance(evs[0], Failed), evs
    return evs[0].kind


def test_states_are_typed_and_read_as_dist_util_names() -> None:
    hs = acceptor()
    assert hs.state is HandshakeState.RECV_NAME
    feed(hs, pk(A_NAME))
    assert hs.state is HandshakeState.DECIDE_STATUS == "decide_status"
    hs.decide_status(Status.OK)
    assert hs.state is HandshakeState.RECV_CHALLENGE_REPLY
    feed(hs, reply_packet())
    assert hs.state is HandshakeState.CONNECTED


@pytest.mark.parametrize(
    ("status", "expected"),
    [(Status.NOK, FailureKind.NOK_SIMULTANEOUS), (Status.NOT_ALLOWED, FailureKind.NOT_ALLOWED)],
)
def test_acceptor_refusals_have_their_kind(status: Status, expected: FailureKind) -> None:
    hs = acceptor()
    feed(hs, pk(A_NAME))
    hs.decide_status(status)
    assert kind(events(hs)) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (b"snok", FailureKind.NOK_SIMULTANEOUS),
        (b"snot_allowed", FailureKind.NOT_ALLOWED),
        (b"swhatever", FailureKind.PROTOCOL),
    ],
)
def test_initiator_failures_have_their_kind(status: bytes, expected: FailureKind) -> None:
    hs = initiator()
    assert kind(feed(hs, pk(status))) is expected


def test_cookie_eof_and_alive_failures_have_their_kind() -> None:
    hs = acceptor(cookie=b"other")
    feed(hs, pk(A_NAME))
    hs.decide_status(Status.OK)
    assert kind(feed(hs, reply_packet())) is FailureKind.BAD_COOKIE
    assert kind(feed(initiator(), b"")) is FailureKind.CLOSED
    hs = initiator()
    feed(hs, pk(b"salive"))
    hs.answer_alive(False)
    assert kind(events(hs)) is FailureKind.ALIVE
