"""The hand-written hot-packet reader/writer agrees with the general control codec."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kazoo_trio.dist import control as c
from kazoo_trio.dist.fastpath import parse_fast, reply_parts
from kazoo_trio.dist.flags import RECOMMENDED, DFlag
from kazoo_trio.term import Atom, DecodeError, ImproperList, Pid, Reference

U32 = st.integers(0, 2**32 - 1)
names = st.text(st.characters(codec="utf-8", exclude_characters="@"), min_size=1, max_size=20)
atoms = st.builds(Atom, st.text(min_size=0, max_size=30))
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
    return b"".join(c.packet_parts(msg, negotiated=RECOMMENDED))


@settings(max_examples=300, deadline=None)
@given(controls)
def test_parse_fast_equals_parse_packet(msg: c.ControlMessage) -> None:
    data = packet(msg)
    fast = parse_fast(data)
    general = c.parse_packet(data, negotiated=RECOMMENDED)
    assert general == msg
    if fast is not None:
        assert fast == general


def test_the_hot_shapes_take_the_fast_path() -> None:
    caller = Pid("e@h", 85, 0, 7)
    ref = Reference("e@h", 7, (1, 2, 3))
    call = (Atom("$gen_call"), (caller, ImproperList([Atom("alias")], ref)), (Atom("api"), b""))
    for msg in (
        c.MonitorP(caller, Atom("mod_kazoo"), ref),
        c.DemonitorP(caller, Atom("mod_kazoo"), ref),
        c.RegSend(caller, Atom("mod_kazoo"), call),
        c.SendSender(caller, Pid("me@h", 1, 0, 9), call),
    ):
        assert parse_fast(packet(msg)) == msg


@settings(max_examples=200, deadline=None)
@given(controls, st.integers(1, 60))
def test_truncated_packets_fail_like_the_general_parser(msg: c.ControlMessage, cut: int) -> None:
    data = packet(msg)[:-cut] if cut < len(packet(msg)) else packet(msg)[:1]
    try:
        fast = parse_fast(data)
    except DecodeError:
        fast = None
        with pytest.raises(c.DistProtocolError):
            c.parse_packet(data, negotiated=RECOMMENDED)
    if fast is not None:  # only a complete packet may parse
        assert fast == c.parse_packet(data, negotiated=RECOMMENDED)


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
    assert b"".join(parts) == b"".join(c.packet_parts(expected, negotiated=RECOMMENDED))


def test_reply_parts_declines_what_it_does_not_handle() -> None:
    me, to = Pid("a@h", 1), Pid("b@h", 2)
    ref = Reference("b@h", 1, (1, 2, 3))
    assert reply_parts(RECOMMENDED & ~DFlag.SEND_SENDER, me, to, ref, 1) is None
    assert reply_parts(RECOMMENDED & ~DFlag.ALIAS, me, ref, ref, 1) is None
    assert reply_parts(RECOMMENDED | DFlag.FRAGMENTS, me, to, ref, 1) is None
    assert reply_parts(RECOMMENDED, me, to, (ref, "odd tag"), 1) is None
