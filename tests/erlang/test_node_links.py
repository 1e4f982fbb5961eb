"""Links, exit signals and monitors between Python processes and real erl processes."""

from __future__ import annotations

import signal

import pytest
import trio

from kazoo_trio.erlang import CallError, NodeDown, ProcessExit
from kazoo_trio.term import Atom
from tests.erlang.nodeutil import (
    PY,
    give_pid,
    linked,
    py_node,
    server,
    shielded_eval,
)
from tests.erlnode import erl_node, erl_until
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

E1 = "e1@127.0.0.1"
A = Atom

# An erl process that reports what it receives to the shell process.
SPY = (
    "Self = self(), "
    "Spy = fun(Setup) -> spawn(fun() -> process_flag(trap_exit, true), Setup(), Self ! ready, "
    "(fun L() -> receive M -> Self ! {spy, M}, L() end end)() end) end."
)


def next_spied(var: str) -> str:
    """Erlang: the next message a spy forwarded (``var`` must be a fresh variable name)."""
    return f"receive {{spy, {var}}} -> {var} after 5000 -> timeout end."


READY = "receive ready -> ok after 5000 -> timeout end."


async def test_erl_links_to_python_and_sees_exit(epmd: int) -> None:
    async with py_node(epmd) as node, erl_node(E1, epmd_port=epmd) as e:
        await e.eval(SPY)
        async with node.process("p1") as proc:
            await give_pid(e, proc, "PyPid")
            await e.eval("W = Spy(fun() -> link(PyPid) end).")
            assert await e.eval(READY) == "ok"
            await wait_until(lambda: len(proc.links) == 1)
            proc.exit(A("bye"))
        # The owner learns why its process ended.
        assert await e.eval(next_spied("M1")) == f"{{'EXIT',{await e.eval('PyPid.')},bye}}"
        # Linking to the pid that no longer exists: the node answers noproc.
        await e.eval("W2 = Spy(fun() -> link(PyPid) end).")
        assert await e.eval(READY) == "ok"
        assert await e.eval(next_spied("M2")) == f"{{'EXIT',{await e.eval('PyPid.')},noproc}}"


async def test_link_exit_trap_and_unlink(epmd: int) -> None:
    async with py_node(epmd) as node, erl_node(E1, epmd_port=epmd) as e:
        await e.eval(SPY)
        # Python links to an erl process that exits: trapped, then untrapped.
        victim = await e.term("V1 = spawn(fun() -> receive stop -> exit(bye) end end), V1.")
        async with node.process() as proc:
            proc.trap_exit = True
            await proc.link(victim)
            await erl_until(e, linked("V1"))
            await e.eval("V1 ! stop.")
            with trio.fail_after(5):
                env = await proc.receive()
            assert env.message == (A("EXIT"), victim, A("bye"))
            assert proc.links == {}
            # Linking to a pid that no longer exists: noproc.
            await proc.link(victim)
            with trio.fail_after(5):
                env = await proc.receive()
            assert env.message == (A("EXIT"), victim, A("noproc"))

        victim2 = await e.term("V2 = spawn(fun() -> receive stop -> exit(bye) end end), V2.")
        with pytest.raises(ProcessExit) as exit_info:
            async with node.process() as proc:
                await proc.link(victim2)
                await erl_until(e, linked("V2"))
                await shielded_eval(e, "V2 ! stop.")
                await trio.sleep_forever()
        assert exit_info.value.reason is A("bye")

        # A normal exit of a linked process does not kill a non-trapping one.
        victim3 = await e.term("V3 = spawn(fun() -> receive stop -> ok end end), V3.")
        async with node.process() as proc:
            await proc.link(victim3)
            mref = await proc.monitor(victim3)
            await erl_until(e, linked("V3"))
            await e.eval("V3 ! stop.")
            with trio.fail_after(5):
                env = await proc.receive()
            assert env.message == (A("DOWN"), mref, A("process"), victim3, A("normal"))
            assert proc.alive

        # Python unlinks (UNLINK_ID, acked by OTP), then the erl process dies: no signal.
        victim4 = await e.term("V4 = spawn(fun() -> receive stop -> exit(bye) end end), V4.")
        async with node.process() as proc:
            await proc.link(victim4)
            await erl_until(e, linked("V4"))
            await proc.unlink(victim4)
            await wait_until(lambda: victim4 not in proc.links)  # UNLINK_ID_ACK arrived
            assert await e.eval("{links, L5} = process_info(V4, links), L5.") == "[]"
            mref = await proc.monitor(victim4)
            await erl_until(e, "element(2, process_info(V4, monitored_by)) =/= []")
            await e.eval("V4 ! stop.")
            with trio.fail_after(5):
                env = await proc.receive()
            assert env.message[0] is A("DOWN") and env.message[4] is A("bye")
            assert proc.alive


async def test_erl_unlinks_and_exit2(epmd: int) -> None:
    async with py_node(epmd) as node, erl_node(E1, epmd_port=epmd) as e:
        await e.eval(SPY)
        async with node.process("target") as proc:
            await give_pid(e, proc, "T")
            # erl links then unlinks (UNLINK_ID, which we ack).
            await e.eval("W = Spy(fun() -> link(T), unlink(T) end).")
            assert await e.eval(READY) == "ok"
            await e.eval("W ! ping.")
            assert await e.eval(next_spied("M1")) == "ping"
            assert proc.links == {}
            # exit/2 with reason normal is ignored unless trapping; trapped signals
            # (normal ones too, as in Erlang) become messages.
            await e.eval("exit(T, normal), T ! after_normal_exit.")
            with trio.fail_after(5):
                assert (await proc.receive()).message is A("after_normal_exit")
            proc.trap_exit = True
            await e.eval("exit(T, normal), exit(T, custom).")
            with trio.fail_after(5):
                reasons = [(await proc.receive()).message for _ in range(2)]
            shell = await e.term("self().")
            assert reasons == [(A("EXIT"), shell, A("normal")), (A("EXIT"), shell, A("custom"))]
            # kill cannot be trapped; a monitor on the erl side sees killed.
            await e.eval("R = monitor(process, T).")
            await wait_until(lambda: len(proc.monitored_by) == 1)
        with pytest.raises(ProcessExit) as info:
            async with node.process("target2") as proc:
                proc.trap_exit = True
                await give_pid(e, proc, "T2")
                await shielded_eval(e, "R2 = monitor(process, T2), exit(T2, kill).")
                await trio.sleep_forever()
        assert info.value.reason is A("killed")
        assert (
            await e.eval("receive {'DOWN', R2, process, T2, Why} -> Why after 5000 -> timeout end.")
            == "killed"
        )


async def test_exit_reasons_of_a_python_process(epmd: int) -> None:
    async with py_node(epmd) as node, erl_node(E1, epmd_port=epmd) as e:
        # An exception escaping the block is the exit reason seen by monitors.
        with pytest.raises(ValueError):
            async with node.process("k") as proc:
                await e.eval(f"R = monitor(process, {{k, '{PY}'}}).")
                await wait_until(lambda: len(proc.monitored_by) == 1)
                raise ValueError("broken")
        assert (
            await e.eval("receive {'DOWN', R, process, _, Why} -> Why after 5000 -> timeout end.")
            == '{exception,<<"ValueError: broken">>}'
        )
        # Leaving the block normally: normal.
        async with node.process("k2") as proc:
            await e.eval(f"R2 = monitor(process, {{k2, '{PY}'}}).")
            await wait_until(lambda: len(proc.monitored_by) == 1)
        assert (
            await e.eval("receive {'DOWN', R2, process, _, W2} -> W2 after 5000 -> timeout end.")
            == "normal"
        )
        # exit(Pid, Reason) from erl ends a non-trapping process: ProcessExit.
        with pytest.raises(ProcessExit) as info:
            async with node.process("k3") as proc:
                await give_pid(e, proc, "K3")
                await shielded_eval(e, "exit(K3, x).")
                await trio.sleep_forever()
        assert info.value.reason is A("x")


async def test_monitors_both_ways(epmd: int) -> None:
    async with py_node(epmd) as node, erl_node(E1, epmd_port=epmd) as e:
        # erl monitors Python processes by pid and by name.
        async with server(node, "named") as srv:
            await e.eval(f"Np = gen_server:call({{named, '{PY}'}}, getpid).")
            await e.eval(f"R1 = monitor(process, Np), R2 = monitor(process, {{named, '{PY}'}}).")
            await wait_until(lambda: len(srv.monitored_by) == 2)
            # demonitor arrives as DEMONITOR_P
            await e.eval("R3 = monitor(process, Np), demonitor(R3).")
            await e.eval(f"gen_server:call({{named, '{PY}'}}, sync).")
            # (the call's own monitor is removed by a DEMONITOR_P right behind the reply)
            await wait_until(lambda: len(srv.monitored_by) == 2)
            srv.exit(A("gone"))
        assert (
            await e.eval("receive {'DOWN', R1, process, Np, W1} -> W1 after 5000 -> timeout end.")
            == "gone"
        )
        assert (
            await e.eval(
                "receive {'DOWN', R2, process, O2, W2} -> {O2, W2} after 5000 -> timeout end."
            )
            == f"{{{{named,'{PY}'}},gone}}"
        )
        # A missing name or pid: noproc at once.
        assert (
            await e.eval(
                f"R4 = monitor(process, {{nosuch, '{PY}'}}), "
                "receive {'DOWN', R4, process, _, W4} -> W4 after 5000 -> timeout end."
            )
            == "noproc"
        )
        assert (
            await e.eval(
                "R5 = monitor(process, Np), "
                "receive {'DOWN', R5, process, _, W5} -> W5 after 5000 -> timeout end."
            )
            == "noproc"
        )

        # Python monitors erl processes by pid and by name.
        victim = await e.term(
            "V = spawn(fun() -> receive stop -> exit(bye) end end), register(victim, V), V."
        )
        async with node.process() as proc:
            r1 = await proc.monitor(victim)
            r2 = await proc.monitor((A("victim"), A(E1)))
            r3 = await proc.monitor((A("nosuch"), A(E1)))
            with trio.fail_after(5):
                env = await proc.receive()
            assert env.message == (A("DOWN"), r3, A("process"), (A("nosuch"), A(E1)), A("noproc"))
            r4 = await proc.monitor(victim)
            await proc.demonitor(r4)
            await erl_until(e, "length(element(2, process_info(V, monitored_by))) =:= 2")
            await e.eval("V ! stop.")
            got = set()
            with trio.fail_after(5):
                for _ in range(2):
                    got.add((await proc.receive()).message)
            assert got == {
                (A("DOWN"), r1, A("process"), victim, A("bye")),
                (A("DOWN"), r2, A("process"), (A("victim"), A(E1)), A("bye")),
            }
            with pytest.raises(trio.WouldBlock):
                proc.receive_nowait()


async def test_node_killed_gives_noconnection(epmd: int) -> None:
    async with (
        py_node(epmd) as node,
        node.monitor_nodes() as events,
        erl_node(E1, epmd_port=epmd) as e,
    ):
        victim = await e.term("V = spawn(fun() -> receive after infinity -> ok end end), V.")
        await e.eval("register(mute, spawn(fun() -> receive after infinity -> ok end end)).")
        async with node.process() as proc, trio.open_nursery() as nursery:
            proc.trap_exit = True
            await proc.link(victim)
            mref = await proc.monitor(victim)
            await erl_until(e, linked("V"))
            call_result: list[object] = []

            async def caller() -> None:
                try:
                    await node.call((A("mute"), A(E1)), A("x"), timeout=30)
                except CallError as exc:
                    call_result.append(exc.reason)

            nursery.start_soon(caller)
            await wait_until(lambda: len(node.processes.by_pid) >= 3)
            with trio.fail_after(5):
                assert isinstance(await events.receive(), object)
            e.signal(signal.SIGKILL)
            with trio.fail_after(10):
                down = await events.receive()
                while not isinstance(down, NodeDown):
                    down = await events.receive()
            assert down.node is A(E1)
            got = set()
            with trio.fail_after(5):
                for _ in range(2):
                    got.add((await proc.receive()).message)
            assert got == {
                (A("EXIT"), victim, A("noconnection")),
                (A("DOWN"), mref, A("process"), victim, A("noconnection")),
            }
            await wait_until(lambda: bool(call_result))
            assert call_result == [A("noconnection")]
