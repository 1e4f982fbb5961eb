"""Control messages: round trips, operation choice by flags, recorded bytes, bad input."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.erlang.flags import RECOMMENDED, DFlag
from kazoo_trio.erlang.wire import (
    AliasSend,
    AtomCache,
    ControlMessage,
    DemonitorP,
    DistProtocolError,
    Exit,
    Exit2,
    GroupLeader,
    Link,
    MonitorP,
    MonitorPExit,
    RegSend,
    Send,
    SendSender,
    SpawnReply,
    SpawnRequest,
    Unknown,
    Unlink,
    UnlinkId,
    UnlinkIdAck,
    packet_parts,
    read_packet,
)
from kazoo_trio.term import Atom, ImproperList, Pid, Reference, decode_prefixed, encode

NEG = RECOMMENDED
HEADER_NEG = RECOMMENDED | DFlag.DIST_HDR_ATOM_CACHE
OLD_NEG = 0x4_0707_4F9C  # what libei negotiates: no payload exits, no SEND_SENDER, ...

US = Pid("py@127.0.0.1", 7, 0, 11)
THEM = Pid("e1@127.0.0.1", 88, 2, 0x6B097142)
REF = Reference("e1@127.0.0.1", 0x6B097142, (1, 2, 3))
TAG = ImproperList([Atom("alias")], REF)
CALL = (Atom("$gen_call"), (THEM, TAG), (Atom("api"), b"status", [1, 2.5, {b"k": b"v"}]))
TOKEN = (0, Atom("label"), 3, THEM, 1)


def roundtrip(msg: ControlMessage, negotiated: int = NEG) -> ControlMessage:
    return read_packet(b"".join(packet_parts(msg, negotiated=negotiated)), negotiated=negotiated)


def ops(msg: ControlMessage, negotiated: int = NEG) -> tuple[object, object]:
    """The control tuple and the message term (None) of the packet for ``msg``."""
    data = b"".join(packet_parts(msg, negotiated=negotiated))
    assert data[0] == ord("p")
    ctl, end = decode_prefixed(data, 1)
    if end == len(data):
        return ctl, None
    msg_term, end = decode_prefixed(data, end)
    assert end == len(data)
    return ctl, msg_term


ALL = [
    Link(US, THEM),
    GroupLeader(US, THEM),
    UnlinkId(2**64 - 1, US, THEM),
    UnlinkIdAck(4, THEM, US),
    Send(THEM, CALL),
    Send(THEM, Atom("x"), TOKEN),
    SendSender(US, THEM, CALL),
    SendSender(US, THEM, CALL, TOKEN),
    RegSend(THEM, Atom("mod_kazoo"), CALL),
    RegSend(THEM, Atom("mod_kazoo"), CALL, TOKEN),
    AliasSend(US, REF, (TAG, Atom("ok"))),
    AliasSend(US, REF, (TAG, Atom("ok")), TOKEN),
    Exit(US, THEM, Atom("normal")),
    Exit(US, THEM, (Atom("shutdown"), b"why"), TOKEN),
    Exit2(THEM, US, Atom("kill")),
    Exit2(THEM, US, Atom("kill"), TOKEN),
    MonitorP(THEM, US, REF),
    MonitorP(THEM, Atom("mod_kazoo"), REF),
    DemonitorP(THEM, Atom("mod_kazoo"), REF),
    MonitorPExit(US, THEM, REF, Atom("noproc")),
    MonitorPExit(Atom("mod_kazoo"), THEM, REF, (REF, Atom("return"), b"value")),
    SpawnRequest(
        REF, THEM, THEM, Atom("erpc"), Atom("execute_call"), 4, [Atom("monitor")], [REF, 1, 2, []]
    ),
    SpawnRequest(REF, THEM, THEM, Atom("m"), Atom("f"), 0, [], [], TOKEN),
    SpawnReply(REF, THEM, 2, US),
    SpawnReply(REF, THEM, 0, Atom("notsup"), TOKEN),
]


@pytest.mark.parametrize("msg", ALL, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("negotiated", [NEG, HEADER_NEG], ids=["pass-through", "header"])
def test_roundtrip(msg: ControlMessage, negotiated: int) -> None:
    assert roundtrip(msg, negotiated) == msg


def test_every_class_is_covered() -> None:
    covered = {type(m) for m in ALL}
    assert covered | {Unlink, Unknown} == set(ControlMessage.__args__)


def test_exit_payload_selection() -> None:
    e = Exit(US, THEM, Atom("bye"))
    assert ops(e, NEG) == ((24, US, THEM), Atom("bye"))
    assert ops(e, OLD_NEG) == ((3, US, THEM, Atom("bye")), None)
    e2 = Exit2(US, THEM, Atom("kill"))
    assert ops(e2, NEG) == ((26, US, THEM), Atom("kill"))
    assert ops(e2, OLD_NEG) == ((8, US, THEM, Atom("kill")), None)
    m = MonitorPExit(Atom("srv"), THEM, REF, Atom("noproc"))
    assert ops(m, NEG) == ((28, Atom("srv"), THEM, REF), Atom("noproc"))
    assert ops(m, OLD_NEG | DFlag.DIST_MONITOR_NAME) == (
        (21, Atom("srv"), THEM, REF, Atom("noproc")),
        None,
    )
    # Both forms decode to the same value.
    assert roundtrip(e, OLD_NEG) == e == roundtrip(e, NEG)


def test_trace_token_ops() -> None:
    assert ops(Exit(US, THEM, 1, TOKEN), NEG)[0] == (25, US, THEM, TOKEN)
    assert ops(Exit(US, THEM, 1, TOKEN), OLD_NEG)[0] == (13, US, THEM, TOKEN, 1)
    assert ops(Exit2(US, THEM, 1, TOKEN), NEG)[0] == (27, US, THEM, TOKEN)
    assert ops(Exit2(US, THEM, 1, TOKEN), OLD_NEG)[0] == (18, US, THEM, TOKEN, 1)
    assert ops(Send(THEM, 1, TOKEN))[0] == (12, Atom(""), THEM, TOKEN)
    assert ops(SendSender(US, THEM, 1, TOKEN))[0] == (23, US, THEM, TOKEN)
    assert ops(RegSend(US, Atom("n"), 1, TOKEN))[0] == (16, US, Atom(""), Atom("n"), TOKEN)
    assert ops(AliasSend(US, REF, 1, TOKEN))[0] == (34, US, REF, TOKEN)
    assert ops(SpawnReply(REF, THEM, 1, US, TOKEN))[0] == (32, REF, THEM, 1, US, TOKEN)


def test_send_sender_selection() -> None:
    msg = SendSender(US, THEM, (TAG, Atom("ok")))
    assert ops(msg, NEG) == ((22, US, THEM), (TAG, Atom("ok")))
    # Without SEND_SENDER it is a plain SEND with the empty atom as Unused.
    assert ops(msg, NEG & ~DFlag.SEND_SENDER) == ((2, Atom(""), THEM), (TAG, Atom("ok")))
    assert roundtrip(msg, NEG & ~DFlag.SEND_SENDER) == Send(THEM, (TAG, Atom("ok")))
    assert ops(Send(THEM, 1), NEG) == ((2, Atom(""), THEM), 1)


def test_unused_fields_are_the_empty_atom_on_the_wire() -> None:
    data = b"".join(packet_parts(RegSend(US, Atom("rex"), 1), negotiated=NEG))
    # 'p', 131, {6, From, '', rex}: SMALL_TUPLE 4, SMALL_INT 6, NEW_PID, then 77 00.
    assert data.startswith(b"p\x83h\x04a\x06X")
    assert b"w\x00w\x03rex" in data
    assert data == b"p" + encode((6, US, Atom(""), Atom("rex"))) + encode(1)


def test_ops_the_peer_did_not_negotiate_are_refused() -> None:
    with pytest.raises(ValueError, match="ALIAS"):
        packet_parts(AliasSend(US, REF, 1), negotiated=NEG & ~DFlag.ALIAS)
    with pytest.raises(ValueError, match="MONITOR"):
        packet_parts(MonitorP(US, Atom("x"), REF), negotiated=OLD_NEG)
    with pytest.raises(ValueError, match="MONITOR_P_EXIT"):
        packet_parts(MonitorPExit(US, THEM, REF, 1), negotiated=NEG & ~DFlag.DIST_MONITOR_NAME)
    with pytest.raises(ValueError, match="SPAWN"):
        packet_parts(SpawnReply(REF, THEM, 0, Atom("x")), negotiated=NEG & ~DFlag.SPAWN)
    with pytest.raises(ValueError, match="UNLINK_ID"):
        packet_parts(UnlinkId(1, US, THEM), negotiated=0)
    with pytest.raises(ValueError, match="obsolete"):
        packet_parts(Unlink(US, THEM), negotiated=NEG)
    with pytest.raises(TypeError):
        packet_parts((1, US, THEM), negotiated=NEG)  # type: ignore[arg-type, unused-ignore]


def test_old_unlink_is_received() -> None:
    data = b"p" + encode((4, THEM, US))
    assert read_packet(data, negotiated=OLD_NEG) == Unlink(THEM, US)


def op_of(msg: ControlMessage) -> int | None:
    assert isinstance(msg, Unknown), msg
    return msg.op


def test_unknown_ops_and_shapes() -> None:
    def parse(*terms: object) -> ControlMessage:
        return read_packet(b"p" + b"".join(map(encode, terms)), negotiated=NEG)

    assert parse((99, US, THEM)) == Unknown(99, (99, US, THEM), None)
    assert parse((37, 1, US, THEM), b"prio") == Unknown(37, (37, 1, US, THEM), b"prio")
    assert parse(Atom("hello")) == Unknown(None, Atom("hello"), None)
    assert parse((), 1) == Unknown(None, (), 1)
    assert parse((Atom("x"), 1)) == Unknown(None, (Atom("x"), 1), None)
    # Known ops with the wrong shape or types.
    assert parse((1, Atom("a"), THEM)) == Unknown(1, (1, Atom("a"), THEM), None)
    assert parse((1, US, THEM), b"extra") == Unknown(1, (1, US, THEM), b"extra")
    assert parse((2, Atom(""), THEM)) == Unknown(2, (2, Atom(""), THEM), None)  # SEND, no message
    assert op_of(parse((6, US, Atom(""), b"name"), 1)) == 6
    assert op_of(parse((19, US, 5, REF))) == 19
    assert op_of(parse((29, REF, US, US, (Atom("m"), Atom("f")), []), [])) == 29
    assert op_of(parse((29, REF, US, US, (Atom("m"), Atom("f"), 0), []), b"args")) == 29
    assert op_of(parse((35, Atom("id"), US, THEM))) == 35
    # True is the atom true, not the integer 1.
    assert parse((True, US, THEM)) == Unknown(None, (True, US, THEM), None)
    # Unknown values go back out unchanged.
    unknown = Unknown(99, (99, US), b"m")
    assert roundtrip(unknown) == unknown
    assert roundtrip(Unknown(None, Atom("x"), None)) == Unknown(None, Atom("x"), None)
    assert roundtrip(unknown, HEADER_NEG) == unknown


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty packet"),
        (b"x\x83a\x01", "expected a pass-through packet"),
        (b"\x83D\x00h\x01a\x01", "distribution header"),
        (b"p", "corrupted external term"),
        (b"p\x83", "corrupted external term"),
        (b"p\x83h\x03a\x01", "corrupted external term"),
        (b"p\x82a\x01", "corrupted external term"),
        (b"p\x83a\x01\x83a\x02\x83a\x03", "3 bytes left over"),
        (b"p\x83a\x01\x83a\x02junk", "4 bytes left over"),
        (b"p\x83a\x01\x83", "corrupted external term"),
    ],
)
def test_garbage_raises(data: bytes, fragment: str) -> None:
    with pytest.raises(DistProtocolError, match=fragment):
        read_packet(data, negotiated=NEG)


def test_memoryview_payloads() -> None:
    data = b"".join(packet_parts(SendSender(US, THEM, CALL), negotiated=NEG))
    assert read_packet(memoryview(data), negotiated=NEG) == SendSender(US, THEM, CALL)
    assert read_packet(bytearray(data), negotiated=NEG) == SendSender(US, THEM, CALL)


# ---- the distribution header (131, 68) with atom cache references ----------------------

# A REG_SEND OTP 25 node a@vm sent to b@vm, completed after the
# recorded prefix with a NEW_PID_EXT whose node is cache ref 0, then '' and rex
# as refs 1 and 2, and a message {features_request, []} using ref 3.
RECORDED_HEADER = (
    bytes.fromhex("83 44 04 88 dc 00")
    + bytes.fromhex("3a 04")
    + b"a@vm"
    + bytes.fromhex("05 00")
    + bytes.fromhex("77 03")
    + b"rex"
    + bytes.fromhex("5e 10")
    + b"features_request"
    + bytes.fromhex("68 04 61 06")
)
FROM_PID_BODY = bytes.fromhex("58 52 00 00000059 00000000 6b097142")
CTL_TAIL = bytes.fromhex("52 01 52 02")
MSG_BODY = bytes.fromhex("68 02 52 03 6a")


def test_recorded_header_with_new_cache_entries() -> None:
    cache = AtomCache()
    data = RECORDED_HEADER + FROM_PID_BODY + CTL_TAIL + MSG_BODY
    msg = read_packet(data, negotiated=HEADER_NEG, atom_cache=cache)
    sender = Pid("a@vm", 0x59, 0, 0x6B097142)
    assert msg == RegSend(sender, Atom("rex"), (Atom("features_request"), []))
    # Segments 0, 0, 4, 5 with internal indexes 0x3a, 0x05, 0x77, 0x5e.
    assert cache.slots[0x3A] is Atom("a@vm")
    assert cache.slots[0x05] is Atom("")
    assert cache.slots[4 * 256 + 0x77] is Atom("rex")
    assert cache.slots[5 * 256 + 0x5E] is Atom("features_request")

    # A later packet refers to the cached entries: two old refs, segments 0 and 4.
    later = (
        bytes.fromhex("83 44 02 40 00 3a 77 68 04 61 06")
        + FROM_PID_BODY
        + bytes.fromhex("77 00 52 01 61 05")
    )
    assert read_packet(later, negotiated=HEADER_NEG, atom_cache=cache) == RegSend(
        sender, Atom("rex"), 5
    )
    with pytest.raises(DistProtocolError, match="empty slot"):
        read_packet(later, negotiated=HEADER_NEG, atom_cache=AtomCache())


def test_header_long_atoms_and_odd_counts() -> None:
    # One new ref with 2-byte length: nibble 0 = 8 (new, segment 0), nibble 1 = 1 (long).
    name = "ä" * 100  # 200 UTF-8 bytes
    raw = name.encode()
    data = (
        bytes.fromhex("83 44 01 18 07")
        + len(raw).to_bytes(2, "big")
        + raw
        + bytes.fromhex("68 03 61 02 77 00")
        + bytes.fromhex("58 52 00 00000001 00000000 00000001")
        + bytes.fromhex("61 07")
    )
    msg = read_packet(data, negotiated=HEADER_NEG)
    assert msg == Send(Pid(name, 1, 0, 1), 7)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"p\x83h\x01a\x01", "expected a distribution header"),
        (b"\x83E" + bytes(20), "fragmented"),
        (b"\x83C\x00", "expected a distribution header"),
        (b"\x83D\x02", "truncated in its flags"),
        (b"\x83D\x01\x08\x01\x05ab", "truncated"),
        (b"\x83D\x01\x08\x01", "truncated"),
        (b"\x83D\x01\x08\x01\x02\xff\xfe", "not UTF-8"),
        (b"\x83D\x00\x52\x00", "corrupted external term"),
    ],
)
def test_header_garbage(data: bytes, fragment: str) -> None:
    with pytest.raises(DistProtocolError, match=fragment):
        read_packet(data, negotiated=HEADER_NEG)


def test_header_form_is_what_we_write_when_negotiated() -> None:
    parts = packet_parts(SendSender(US, THEM, 5), negotiated=HEADER_NEG)
    data = b"".join(parts)
    assert data.startswith(b"\x83D\x00h\x03a\x16X")
    assert b"\x83" not in data[1:3]


# ---- robustness -----------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([b"p\x83", b"p", b"\x83D", b""]))
def test_random_bytes_raise_only_dist_protocol_error(tail: bytes, head: bytes) -> None:
    for negotiated in (NEG, HEADER_NEG):
        with contextlib.suppress(DistProtocolError):
            read_packet(head + tail, negotiated=negotiated)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ALL), st.data())
def test_truncated_packets_raise_cleanly(msg: ControlMessage, data: st.DataObject) -> None:
    packet = b"".join(packet_parts(msg, negotiated=NEG))
    cut = data.draw(st.integers(0, len(packet) - 1))
    if cut == decode_prefixed(packet, 1)[1]:
        # Cut between the control term and the message: well-formed, wrong shape.
        assert isinstance(read_packet(packet[:cut], negotiated=NEG), Unknown)
    else:
        with pytest.raises(DistProtocolError):
            read_packet(packet[:cut], negotiated=NEG)
