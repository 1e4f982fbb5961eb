"""The hot-packet readers and writers agree with the general control codec.

:func:`read_packet` tries the hand-written readers of the hot shapes before the
general parse; whichever path it takes, the result must be the general parse's.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.erlang.flags import RECOMMENDED, DFlag
from kazoo_trio.erlang.gen_server import alias_of
from kazoo_trio.erlang.wire import (
    DistProtocolError,
    call_reply_parts,
    gen_call,
    monitor_key,
    packet_parts,
    read_monitor,
    read_packet,
    read_reg_send,
    reply_parts,
)
from kazoo_trio.erlang.wire import messages as c
from kazoo_trio.erlang.wire import parse as wire_parse
from kazoo_trio.erlang.wire.parse import parse_general
from kazoo_trio.term import Atom, DecodeError, ImproperList, Pid, Reference, decode_body

U32 = st.integers(0, 2**32 - 1)
names = st.text(st.characters(codec="utf-8", exclude_characters="@"), min_size=1, max_size=20)
# true/false decode as Python bools, so they would not compare equal after a round trip.
atoms = st.builds(
    Atom, st.text(min_size=0, max_size=30).filter(lambda t: t not in ("true", "false"))
)
nodes = st.builds(lambda a, h: Atom(f"{a}@{h}"), names, names)
pids = st.builds(Pid, nodes, U32, U32, U32)
refs = st.builds(Reference, nodes, U32, st.tuples(U32, U32, U32))
tags = st.one_of(refs, refs.map(lambda r: ImproperList([Atom("alias")], r)))
requests = st.recursive(
    st.one_of(st.binary(max_size=40), atoms, st.integers(), st.booleans()),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner)),
    max_leaves=10,
)
messages = st.one_of(
    st.builds(lambda p, t, r: (Atom("$gen_call"), (p, t), r), pids, tags, requests), requests
)
controls = st.one_of(
    st.builds(c.MonitorP, pids, st.one_of(pids, atoms), refs),
    st.builds(c.DemonitorP, pids, st.one_of(pids, atoms), refs),
    st.builds(c.RegSend, pids, atoms, messages),
    st.builds(c.SendSender, pids, pids, messages),
    st.builds(c.Link, pids, pids),
    st.builds(c.Exit, pids, pids, requests),
)


def packet(msg: c.ControlMessage) -> bytes:
    return b"".join(packet_parts(msg, negotiated=RECOMMENDED))


@settings(max_examples=300, deadline=None)
@given(controls)
def test_read_packet_equals_the_general_parse(msg: c.ControlMessage) -> None:
    data = packet(msg)
    general = parse_general(data, negotiated=RECOMMENDED)
    assert general == msg
    assert read_packet(data, negotiated=RECOMMENDED) == general


def test_the_hot_shapes_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    caller = Pid("e@h", 85, 0, 7)
    ref = Reference("e@h", 7, (1, 2, 3))
    call = (Atom("$gen_call"), (caller, ImproperList([Atom("alias")], ref)), (Atom("api"), b""))

    def general(*args: object, **kwargs: object) -> c.ControlMessage:
        raise AssertionError("a hot shape reached the general parse")

    monkeypatch.setattr(wire_parse, "parse_general", general)
    for msg in (
        c.MonitorP(caller, Atom("mod_kazoo"), ref),
        c.DemonitorP(caller, Atom("mod_kazoo"), ref),
        c.RegSend(caller, Atom("mod_kazoo"), call),
        c.SendSender(caller, Pid("me@h", 1, 0, 9), call),
    ):
        assert read_packet(packet(msg), negotiated=RECOMMENDED) == msg


@settings(max_examples=200, deadline=None)
@given(controls, st.integers(1, 60))
def test_truncated_packets_fail_like_the_general_parser(msg: c.ControlMessage, cut: int) -> None:
    data = packet(msg)[:-cut] if cut < len(packet(msg)) else packet(msg)[:1]
    try:
        general: c.ControlMessage | None = parse_general(data, negotiated=RECOMMENDED)
    except DistProtocolError:
        general = None
        with pytest.raises(DistProtocolError):
            read_packet(data, negotiated=RECOMMENDED)
    if general is not None:  # a well-formed prefix (an Unknown)
        assert read_packet(data, negotiated=RECOMMENDED) == general


@settings(max_examples=300, deadline=None)
@given(pids, st.one_of(pids, refs), tags, requests)
def test_reply_parts_equal_packet_parts(
    sender: Pid, to: Pid | Reference, tag: object, value: object
) -> None:
    parts = reply_parts(RECOMMENDED, sender, to, tag, value)
    expected: c.ControlMessage
    if isinstance(to, Reference):
        expected = c.AliasSend(sender, to, (tag, value))
    else:
        expected = c.SendSender(sender, to, (tag, value))
    assert parts is not None
    assert b"".join(parts) == b"".join(packet_parts(expected, negotiated=RECOMMENDED))


def test_reply_parts_declines_what_it_does_not_handle() -> None:
    me, to = Pid("a@h", 1), Pid("b@h", 2)
    ref = Reference("b@h", 1, (1, 2, 3))
    assert reply_parts(RECOMMENDED & ~DFlag.SEND_SENDER, me, to, ref, 1) is None
    assert reply_parts(RECOMMENDED & ~DFlag.ALIAS, me, ref, ref, 1) is None
    assert reply_parts(RECOMMENDED | DFlag.FRAGMENTS, me, to, ref, 1) is None
    assert reply_parts(RECOMMENDED, me, to, (ref, "odd tag"), 1) is None


# -- the reader's hot shapes: MONITOR_P/DEMONITOR_P by reference bytes, REG_SEND -------------

monitor_ops = st.one_of(
    st.builds(c.MonitorP, pids, st.one_of(pids, atoms), refs),
    st.builds(c.DemonitorP, pids, st.one_of(pids, atoms), refs),
)


@settings(max_examples=300, deadline=None)
@given(monitor_ops)
def test_read_monitor_agrees_with_the_general_parse(msg: c.MonitorP | c.DemonitorP) -> None:
    data = packet(msg)
    got = read_monitor(data)
    general = parse_general(data, negotiated=RECOMMENDED)
    assert general == msg
    if got is not None:
        watcher, target, key = got
        assert (watcher, target) == (msg.from_pid, msg.to_proc)
        # The key stands for the reference: the general path finds it again.
        assert key == monitor_key(msg.ref)
        assert decode_body(key) == (msg.ref, len(key))


def test_otp_shaped_monitors_take_the_hot_path() -> None:
    caller = Pid("e@h", 85, 0, 7)
    ref = Reference("e@h", 7, (1, 2, 3))
    for msg in (
        c.MonitorP(caller, Atom("mod_kazoo"), ref),
        c.DemonitorP(caller, Pid("me@h", 1, 0, 9), ref),
    ):
        got = read_monitor(packet(msg))
        assert got is not None and got[:2] == (caller, msg.to_proc)


@settings(max_examples=300, deadline=None)
@given(st.builds(c.RegSend, pids, atoms, messages))
def test_read_reg_send_agrees_with_the_general_parse(msg: c.RegSend) -> None:
    data = packet(msg)
    got = read_reg_send(data)
    if got is not None:
        assert c.RegSend(*got) == parse_general(data, negotiated=RECOMMENDED)


@settings(max_examples=200, deadline=None)
@given(st.one_of(monitor_ops, st.builds(c.RegSend, pids, atoms, messages)), st.integers(1, 60))
def test_truncated_hot_packets_never_parse(msg: c.ControlMessage, cut: int) -> None:
    whole = packet(msg)
    data = whole[:-cut] if cut < len(whole) else whole[:1]
    try:
        got = read_monitor(data) if data[5:6] in (b"\x13", b"\x14") else read_reg_send(data)
    except DecodeError:
        got = None
    assert got is None


def test_repeated_requests_are_shared_only_when_immutable() -> None:
    caller = Pid("e@h", 85, 0, 7)

    def call(request: object, n: int) -> bytes:
        tag = ImproperList([Atom("alias")], Reference("e@h", 7, (n, 2, 3)))
        return packet(c.RegSend(caller, Atom("srv"), (Atom("$gen_call"), (caller, tag), request)))

    frozen = (Atom("api"), Atom("status"), b"")
    first, second = read_reg_send(call(frozen, 1)), read_reg_send(call(frozen, 2))
    assert first is not None and second is not None
    assert first[2][2] == second[2][2] == frozen
    assert first[2][1] != second[2][1]  # each call keeps its own tag
    mutable = (Atom("api"), [b"x"], {b"k": 1})
    first, second = read_reg_send(call(mutable, 3)), read_reg_send(call(mutable, 4))
    assert first is not None and second is not None
    first[2][2][1].append(b"changed")
    first[2][2][2][b"k"] = 2
    assert second[2][2] == mutable


@settings(max_examples=300, deadline=None)
@given(pids, pids, tags, requests, st.booleans())
def test_call_reply_parts_equal_the_general_reply(
    sender: Pid, caller: Pid, tag: object, value: object, alias: bool
) -> None:
    negotiated = RECOMMENDED if alias else RECOMMENDED & ~DFlag.ALIAS
    parts = call_reply_parts(negotiated, sender, caller, tag, value)
    # What gen_server.reply sends without the fast path (gen:reply/2's choice).
    ref = alias_of(tag) if alias else None
    expected: c.ControlMessage
    if ref is not None:
        expected = c.AliasSend(sender, ref, (tag, value))
    else:
        expected = c.SendSender(sender, caller, (tag, value))
    assert parts is not None
    assert b"".join(parts) == b"".join(packet_parts(expected, negotiated=negotiated))


def test_call_reply_parts_declines_what_it_does_not_handle() -> None:
    me, to = Pid("a@h", 1), Pid("b@h", 2)
    ref = Reference("b@h", 1, (1, 2, 3))
    nested = ImproperList([ImproperList([Atom("alias")], ref)], Atom("x"))
    assert call_reply_parts(RECOMMENDED, me, to, nested, 1) is None
    assert call_reply_parts(RECOMMENDED, me, to, (ref, "odd tag"), 1) is None
    assert call_reply_parts(RECOMMENDED | DFlag.FRAGMENTS, me, to, ref, 1) is None
    assert call_reply_parts(RECOMMENDED & ~DFlag.SEND_SENDER, me, to, ref, 1) is None
    four_words = Reference("b@h", 1, (1, 2, 3, 4))
    assert call_reply_parts(RECOMMENDED, me, to, four_words, 1) is None


@settings(max_examples=200, deadline=None)
@given(pids, pids, tags, atoms, st.binary(max_size=5000))
def test_status_replies_equal_the_general_encoding(
    sender: Pid, caller: Pid, tag: object, status: Atom, body: bytes
) -> None:
    # {ok | error, Binary}, spliced into the reply's first piece.
    parts = call_reply_parts(RECOMMENDED, sender, caller, tag, (status, body))
    ref = alias_of(tag)
    expected: c.ControlMessage
    if ref is not None:
        expected = c.AliasSend(sender, ref, (tag, (status, body)))
    else:
        expected = c.SendSender(sender, caller, (tag, (status, body)))
    assert parts is not None
    assert b"".join(parts) == b"".join(packet_parts(expected, negotiated=RECOMMENDED))


@settings(max_examples=200, deadline=None)
@given(messages)
def test_gen_call_splits_what_the_reader_delivers(message: object) -> None:
    caller = Pid("e@h", 85, 0, 7)
    got = read_reg_send(packet(c.RegSend(caller, Atom("srv"), message)))
    delivered = message if got is None else got[2]
    parts = gen_call(delivered)
    if type(message) is tuple and len(message) == 3 and message[0] == Atom("$gen_call"):
        assert parts == (message[1][0], message[1][1], message[2])
    else:
        assert parts is None


def test_gen_call_refuses_other_shapes() -> None:
    caller = Pid("e@h", 85, 0, 7)
    assert gen_call((Atom("$gen_call"), (caller, 1), b"r")) == (caller, 1, b"r")
    assert gen_call((Atom("$gen_call"), (Atom("x"), 1), b"r")) is None
    assert gen_call((Atom("$gen_call"), (caller, 1, 2), b"r")) is None
    assert gen_call((Atom("$gen_cast"), b"r")) is None
    assert gen_call([Atom("$gen_call"), (caller, 1), b"r"]) is None


@settings(max_examples=300, deadline=None)
@given(controls, st.data())
def test_corrupted_hot_packets_read_as_the_general_parse_reads_them(
    msg: c.ControlMessage, data: st.DataObject
) -> None:
    whole = bytearray(packet(msg))
    at = data.draw(st.integers(0, len(whole) - 1))
    whole[at] = data.draw(st.integers(0, 255))
    corrupted = bytes(whole)
    try:
        general: c.ControlMessage | None = parse_general(corrupted, negotiated=RECOMMENDED)
    except DistProtocolError:
        general = None
    if general is None:
        with pytest.raises(DistProtocolError):
            read_packet(corrupted, negotiated=RECOMMENDED)
    else:
        assert read_packet(corrupted, negotiated=RECOMMENDED) == general
