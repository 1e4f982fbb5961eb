"""Fuzzed distribution packets after a real handshake: a protocol error or handled, nothing else.

Hypothesis generates the packets (random bytes, valid control messages with
bytes flipped, cut or inserted, and the gen_server-call prefix the fast path
reads at fixed offsets); each goes to the node on a fresh authenticated
connection, followed by a valid call.  The node must answer the call or close
that connection with a protocol error, never log an internal error, and keep
serving a real ``erl`` node throughout.
"""

from __future__ import annotations

import logging

import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kazoo_trio.erlang.flags import RECOMMENDED
from kazoo_trio.erlang.wire import HOT_HEAD, frame, packet_parts, read_packet
from kazoo_trio.erlang.wire import messages as control
from kazoo_trio.term import Atom, Pid, Reference
from tests.erlang.nodeutil import PY, py_node, server
from tests.erlang.test_node_robustness import raw_connect
from tests.erlnode import erl_node

pytestmark = [pytest.mark.erl, pytest.mark.slow]

A = Atom
ME = Pid("fuzz@127.0.0.1", 1, 0, 77)
TO = Pid(PY, 5, 0, 1)
REF = Reference(PY, 1, (1, 2, 3))
CALL_REF = Reference("fuzz@127.0.0.1", 77, (7, 8, 9))

# Valid packets to mutate: every shape the node's readers special-case.
SEEDS = [
    b"".join(packet_parts(msg, negotiated=RECOMMENDED))
    for msg in (
        control.RegSend(ME, A("echo"), (A("$gen_call"), (ME, REF), (A("echo"), 1))),
        control.RegSend(ME, A("echo"), (A("$gen_cast"), [1, 2.5, b"x", {A("k"): (1,)}])),
        control.SendSender(ME, TO, (A("hello"), ME)),
        control.MonitorP(ME, A("echo"), REF),
        control.DemonitorP(ME, A("echo"), REF),
        control.MonitorP(ME, TO, REF),
        control.Link(ME, TO),
        control.UnlinkId(3, ME, TO),
        control.Exit(ME, TO, A("normal")),
        control.Exit2(ME, TO, A("kill")),
        control.AliasSend(ME, REF, b"hi"),
    )
]


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[at : at + draw(st.integers(1, 8))]
    return bytes(data)


PACKETS = st.one_of(
    _mutated(),
    st.binary(min_size=1, max_size=64),
    st.binary(max_size=48).map(lambda tail: HOT_HEAD + tail),
    st.binary(max_size=48).map(lambda tail: b"p\x83" + tail),
)


def _examples(count: int) -> list[bytes]:
    found: list[bytes] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(PACKETS)
    def collect(packet: bytes) -> None:
        found.append(packet)

    collect()
    return found


async def _probe(port: int, packet: bytes) -> str:
    """Send ``packet`` then a valid call on a fresh connection: ``answered`` or ``closed``."""
    stream = await raw_connect(port, "fuzz@127.0.0.1")
    call = control.RegSend(ME, A("echo"), (A("$gen_call"), (ME, CALL_REF), (A("echo"), 42)))
    async with stream:
        await stream.send_all(
            frame(packet) + frame(b"".join(packet_parts(call, negotiated=RECOMMENDED)))
        )
        buf = b""
        with trio.fail_after(10):
            while True:
                try:
                    got = await stream.receive_some(65536)
                except trio.BrokenResourceError:
                    return "closed"
                if not got:
                    return "closed"
                buf += got
                while len(buf) >= 4:
                    size = int.from_bytes(buf[:4], "big")
                    if len(buf) < 4 + size:
                        break
                    payload, buf = buf[4 : 4 + size], buf[4 + size :]
                    if not payload:
                        continue
                    msg = read_packet(payload, negotiated=RECOMMENDED)
                    if isinstance(msg, control.SendSender) and msg.message == (CALL_REF, 42):
                        return "answered"


async def test_fuzzed_packets_close_with_a_protocol_error_or_are_handled(
    epmd: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kazoo_trio")
    packets = _examples(250)
    outcomes = {"answered": 0, "closed": 0}
    async with (
        py_node(epmd) as node,
        server(node, "echo"),
        erl_node("bystander@127.0.0.1", epmd_port=epmd) as bystander,
    ):
        call = f"gen_server:call({{echo, '{PY}'}}, {{echo, 7}})."
        assert await bystander.eval(call) == "7"
        for i, packet in enumerate(packets):
            outcomes[await _probe(node.port, packet)] += 1
            internal = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert not internal, (packet.hex(), internal[0].getMessage(), internal[0].exc_text)
            if i % 50 == 0:
                assert await bystander.eval(call) == "7"
        assert await bystander.eval(call) == "7"
        assert A("bystander@127.0.0.1") in node.connected_nodes()
    print(f"{len(packets)} fuzzed packets: {outcomes}")
    # Both outcomes occur: the fuzz reaches past the first bytes of a packet.
    assert outcomes["answered"] > 0 and outcomes["closed"] > 0
