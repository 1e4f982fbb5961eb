"""Control packets exchanged with a real OTP 25 node over a bare handshake.

What :func:`packet_parts` writes must be understood by erl (messages arrive,
links and monitors fire), and what erl writes must parse into the right
values, in both the pass-through and the header (atom cache) framing.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import pytest
import trio

from kazoo_trio.erlang.flags import RECOMMENDED, DFlag, uses_dist_header
from kazoo_trio.erlang.handshake import Connected, Handshake, Role
from kazoo_trio.erlang.wire import (
    AtomCache,
    ControlMessage,
    DemonitorP,
    Exit,
    Exit2,
    Link,
    MonitorP,
    MonitorPExit,
    RegSend,
    SendSender,
    SpawnReply,
    SpawnRequest,
    UnlinkId,
    UnlinkIdAck,
    frame_parts,
    packet_parts,
    read_packet,
)
from kazoo_trio.term import Atom, Pid, Reference
from tests.erlang.test_handshake_erl import (
    OUR_NAME,
    config,
    erl_sees_us,
    handshake,
    port_please,
    pump,
)
from tests.erlnode import ErlNode, erl_node, erl_until

pytestmark = pytest.mark.erl

OLD_STYLE = RECOMMENDED & ~(DFlag.EXIT_PAYLOAD | DFlag.SEND_SENDER)


@attrs.define
class Link_:
    erl: ErlNode
    stream: trio.SocketStream
    negotiated: int
    creation: int
    packets: trio.MemoryReceiveChannel[bytes]
    cache: AtomCache = attrs.Factory(AtomCache)

    def pid(self, n: int) -> Pid:
        return Pid(OUR_NAME, n, 0, self.creation)

    def ref(self, n: int) -> Reference:
        return Reference(OUR_NAME, self.creation, (n, 0, 0))

    async def send(self, msg: ControlMessage) -> None:
        await self.stream.send_all(
            b"".join(frame_parts(packet_parts(msg, negotiated=self.negotiated)))
        )

    async def receive(self) -> ControlMessage:
        with trio.fail_after(10):
            payload = await self.packets.receive()
        return read_packet(payload, negotiated=self.negotiated, atom_cache=self.cache)


@asynccontextmanager
async def connected(epmd: int, flags: int) -> AsyncIterator[Link_]:
    async with erl_node("c1@127.0.0.1", epmd_port=epmd) as erl:
        port = await port_please(epmd, "c1")
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream, trio.open_nursery() as nursery:
            cfg = config(flags=flags)
            hs = Handshake(Role.INITIATOR, cfg, peer_name="c1@127.0.0.1")
            event = await handshake(stream, hs)
            assert isinstance(event, Connected), event
            send, receive = trio.open_memory_channel[bytes](100)
            nursery.start_soon(pump, stream, hs.trailing_data, send)
            await erl_sees_us(erl)
            await erl.eval("register(sink, self()).")
            yield Link_(erl, stream, event.negotiated_flags, cfg.creation, receive)
            nursery.cancel_scope.cancel()


def erl_pid(pid: Pid) -> str:
    """An erl expression for one of our pids."""
    node = pid.node.name.encode()
    body = [131, 88, 119, len(node), *node]
    for n in (pid.id, pid.serial, pid.creation):
        body += n.to_bytes(4, "big")
    return "binary_to_term(<<" + ",".join(map(str, body)) + ">>)"


_taken = itertools.count()


async def take(erl: ErlNode) -> str:
    """The shell's next message (bindings persist, so a fresh variable each time)."""
    var = f"Taken{next(_taken)}"
    return await erl.eval(f"receive {var} -> {var} after 5000 -> timeout end.")


@pytest.mark.parametrize("flags", [RECOMMENDED, OLD_STYLE], ids=["payload", "old-style"])
async def test_our_packets_are_understood_by_erl(epmd: int, flags: int) -> None:
    async with connected(epmd, flags) as c:
        me = c.pid(1)
        erl = c.erl
        await erl.eval(f"Me = {erl_pid(me)}, Sink = self().")

        # REG_SEND to a registered name, SEND(_SENDER) to a pid.
        await c.send(RegSend(me, Atom("sink"), (Atom("hello"), me)))
        assert await take(erl) == f"{{hello,{await erl.eval('Me.')}}}"
        sink = await erl.term("Sink.")
        await c.send(SendSender(me, sink, b"direct"))
        assert await take(erl) == '<<"direct">>'

        # LINK, then an exit signal through the link (EXIT or PAYLOAD_EXIT).
        await erl.eval(
            "Trap = spawn(fun() -> process_flag(trap_exit, true),"
            " receive X -> Sink ! {got, X} end end)."
        )
        trap = await erl.term("Trap.")
        await c.send(Link(me, trap))
        await erl_until(erl, "lists:member(Me, element(2, process_info(Trap, links)))")
        await c.send(Exit(me, trap, (Atom("bye"), b"now")))
        assert await take(erl) == "{got,{'EXIT'," + await erl.eval("Me.") + ',{bye,<<"now">>}}}'

        # EXIT2 kill: the process is gone.
        await erl.eval(
            "Victim = spawn(fun() -> receive after infinity -> ok end end),"
            " MRef = monitor(process, Victim)."
        )
        await c.send(Exit2(me, await erl.term("Victim."), Atom("kill")))
        assert await take(erl) == "{'DOWN',#Ref<>,process,#Pid<>,killed}".replace(
            "#Ref<>", await erl.eval("MRef.")
        ).replace("#Pid<>", await erl.eval("Victim."))

        # MONITOR_P from us: erl answers with (PAYLOAD_)MONITOR_P_EXIT when it ends.
        await erl.eval("Watched = spawn(fun() -> receive stop -> ok end end).")
        watched = await erl.term("Watched.")
        ref = c.ref(7)
        await c.send(MonitorP(me, watched, ref))
        await erl.eval("Watched ! stop.")
        assert await c.receive() == MonitorPExit(watched, me, ref, Atom("normal"))
        # ... and noproc by name for a name that is not registered.
        await c.send(MonitorP(me, Atom("nobody_here"), c.ref(8)))
        assert await c.receive() == MonitorPExit(Atom("nobody_here"), me, c.ref(8), Atom("noproc"))

        # SPAWN_REQUEST from us: SPAWN_REPLY, then the monitor fires with the result.
        req = c.ref(9)
        await c.send(
            SpawnRequest(req, me, me, Atom("erlang"), Atom("node"), 0, [Atom("monitor")], [])
        )
        reply = await c.receive()
        assert isinstance(reply, SpawnReply) and reply.req_id == req and reply.to_pid == me
        assert reply.flags == 2 and isinstance(reply.result, Pid)
        assert await c.receive() == MonitorPExit(reply.result, me, req, Atom("normal"))


async def test_erl_signals_parse(epmd: int) -> None:
    async with connected(epmd, RECOMMENDED) as c:
        me = c.pid(3)
        erl = c.erl
        await erl.eval(f"Me = {erl_pid(me)}.")
        sink = await erl.term("self().")

        await erl.eval("link(Me).")
        assert await c.receive() == Link(sink, me)
        await erl.eval("unlink(Me).")
        unlink = await c.receive()
        assert isinstance(unlink, UnlinkId) and (unlink.from_pid, unlink.to_pid) == (sink, me)
        await c.send(UnlinkIdAck(unlink.id, me, sink))

        await erl.eval("R1 = monitor(process, Me).")
        r1 = await erl.term("R1.")
        assert await c.receive() == MonitorP(sink, me, r1)
        await erl.eval("demonitor(R1).")
        assert await c.receive() == DemonitorP(sink, me, r1)

        # A monitor by name, answered by us with noproc: erl gets {Name, Node}.
        await erl.eval("R2 = monitor(process, {mod_kazoo, 'py@127.0.0.1'}).")
        r2 = await erl.term("R2.")
        assert await c.receive() == MonitorP(sink, Atom("mod_kazoo"), r2)
        await c.send(MonitorPExit(Atom("mod_kazoo"), sink, r2, Atom("noproc")))
        down = await take(erl)
        assert down.endswith(",process,{mod_kazoo,'py@127.0.0.1'},noproc}")

        await erl.eval("exit(Me, {shutdown, x}).")
        assert await c.receive() == Exit2(sink, me, (Atom("shutdown"), Atom("x")))

        await erl.eval("Me ! {'$gen_cast', ping}.")
        assert await c.receive() == SendSender(sink, me, (Atom("$gen_cast"), Atom("ping")))


async def test_header_framing_with_atom_cache(epmd: int) -> None:
    flags = RECOMMENDED | DFlag.DIST_HDR_ATOM_CACHE
    async with connected(epmd, flags) as c:
        assert uses_dist_header(c.negotiated)
        erl = c.erl
        sink = await erl.term("self().")
        for i in range(3):
            # The same atoms every time: new cache entries first, then references.
            await erl.eval(f"{{mod_kazoo, 'py@127.0.0.1'}} ! {{event, {i}, <<\"x\">>}}.")
            msg = await c.receive()
            assert msg == RegSend(sink, Atom("mod_kazoo"), (Atom("event"), i, b"x"))
        assert Atom("mod_kazoo") in c.cache.slots
        # Our header-form packets (no cache references) are accepted too.
        me = c.pid(5)
        await c.send(RegSend(me, Atom("sink"), (Atom("back"), 1)))
        assert await take(erl) == "{back,1}"
