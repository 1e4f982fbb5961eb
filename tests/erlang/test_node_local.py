"""Local processes on one node: messages, calls, links, monitors, exits, overload (no erl)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from kazoo_trio.erlang import CallError, DuplicateName, Node, ProcessExit
from kazoo_trio.erlang.cookie import CookieError
from kazoo_trio.term import Atom, Pid
from tests.erlang.nodeutil import server
from tests.erlnode import free_port

A = Atom


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    async with Node(
        "local@127.0.0.1",
        cookie="c",
        epmd="embedded",
        epmd_port=free_port(),
        listen_host="127.0.0.1",
    ) as n:
        yield n


async def test_identity_and_registry(node: Node) -> None:
    assert node.name is A("local@127.0.0.1")
    assert node.creation > 0
    async with node.process("alpha") as p:
        assert p.pid.node is node.name and p.pid.creation == node.creation
        assert node.whereis("alpha") is p
        with pytest.raises(ValueError, match="already registered"):
            node.register("alpha", p)
        node.unregister("alpha")
        assert node.whereis("alpha") is None
        node.register(A("beta"), p)
        assert A("beta") in node.registered()
    assert node.whereis("beta") is None  # names die with the process
    ref1, ref2 = node.make_ref(), node.make_ref()
    assert ref1 != ref2 and ref1.node is node.name and len(ref1.ids) == 3


async def test_new_creation_is_used_for_new_pids(node: Node) -> None:
    async with node.process() as old:
        node._set_creation(node.creation + 1)
        async with node.process() as new:
            assert new.pid.creation == old.pid.creation + 1
            await new.send(old.pid, b"still reachable")
            assert (await old.receive()).message == b"still reachable"


async def test_send_receive_and_envelopes(node: Node) -> None:
    async with node.process("rx") as rx, node.process() as tx:
        await tx.send(rx.pid, 1)
        await tx.send(A("rx"), 2)
        await tx.send((A("rx"), node.name), 3)
        await tx.send((A("nobody"), node.name), 4)  # dropped silently
        with pytest.raises(ValueError, match="no process is registered"):
            await tx.send(A("nobody"), 5)
        got = [await rx.receive() for _ in range(3)]
        assert [e.message for e in got] == [1, 2, 3]
        assert all(e.sender == tx.pid for e in got)
        with pytest.raises(trio.WouldBlock):
            rx.receive_nowait()
    with pytest.raises(ProcessExit):
        await tx.send(rx.pid, "after the end")


async def test_local_calls_casts_and_failures(node: Node) -> None:
    casts: trio.MemorySendChannel[object]
    casts, got_casts = trio.open_memory_channel[object](5)
    async with server(node, "srv", casts=casts) as srv:
        assert await node.call(A("srv"), (A("echo"), b"x")) == b"x"
        assert await node.call(srv.pid, A("getpid")) == srv.pid
        await node.cast(A("srv"), A("note"))
        assert await got_casts.receive() is A("note")
        # Concurrent calls on one process are matched by their tags.
        async with node.process() as p:
            results: dict[int, object] = {}

            async def one(i: int) -> None:
                results[i] = await p.call(A("srv"), (A("echo"), i))

            async with trio.open_nursery() as nursery:
                for i in range(20):
                    nursery.start_soon(one, i)
            assert results == {i: i for i in range(20)}
            with pytest.raises(trio.WouldBlock):
                p.receive_nowait()  # replies never reach the mailbox
    with pytest.raises(CallError) as err:
        await node.call(A("srv"), A("x"))
    assert err.value.reason is A("noproc")
    async with node.process("mute"):
        with pytest.raises(CallError) as err:
            await node.call(A("mute"), A("x"), timeout=0.05)
        assert err.value.reason is A("timeout")


async def test_server_dying_during_call(node: Node) -> None:
    async with node.process("dies") as victim, trio.open_nursery() as nursery:

        async def die_on_request() -> None:
            await victim.receive()
            victim.exit(A("boom"))

        nursery.start_soon(die_on_request)
        with pytest.raises(CallError) as err:
            await node.call(A("dies"), A("x"))
        assert err.value.reason is A("boom")


async def test_local_links_and_exit_signals(node: Node) -> None:
    # A linked process ending with a non-normal reason kills a non-trapping one.
    with pytest.raises(ProcessExit) as info:
        async with node.process() as a:
            async with node.process() as b:
                await a.link(b.pid)
                assert b.pid in a.links and a.pid in b.links
                b.exit(A("bye"))
            await trio.sleep_forever()
    assert info.value.reason is A("bye")
    # Trapping turns it into a message; normal ends are messages too.
    async with node.process() as a:
        a.trap_exit = True
        async with node.process() as b:
            await b.link(a.pid)
            b_pid = b.pid
        assert (await a.receive()).message == (A("EXIT"), b_pid, A("normal"))
        # Unlinked processes send nothing.
        async with node.process() as c:
            await a.link(c.pid)
            await a.unlink(c.pid)
            c.exit(A("quiet"))
        with pytest.raises(trio.WouldBlock):
            a.receive_nowait()
        # Linking to a dead pid: noproc.
        await a.link(b_pid)
        assert (await a.receive()).message == (A("EXIT"), b_pid, A("noproc"))
    # A non-trapping process survives a normal exit of a linked one.
    async with node.process() as a:
        async with node.process() as b:
            await a.link(b.pid)
        assert a.alive and a.links == {}


async def test_kill_is_untrappable_and_propagates_killed(node: Node) -> None:
    async with node.process() as watcher:
        watcher.trap_exit = True
        with pytest.raises(ProcessExit) as info:
            async with node.process() as victim:
                victim.trap_exit = True
                await watcher.link(victim.pid)
                node.signals.exit_signal(victim, watcher.pid, A("kill"), link=False)
                await trio.sleep_forever()
        assert info.value.reason is A("killed")
        assert (await watcher.receive()).message == (A("EXIT"), victim.pid, A("killed"))


async def test_local_monitors(node: Node) -> None:
    async with node.process() as w:
        async with node.process("target") as t:
            r1 = await w.monitor(t.pid)
            r2 = await w.monitor(A("target"))
            r3 = await w.monitor((A("target"), node.name))
            r4 = await w.monitor(t.pid)
            await w.demonitor(r4)
            assert len(t.monitored_by) == 3
            t.exit(A("gone"))
        got = {(await w.receive()).message for _ in range(3)}
        assert got == {
            (A("DOWN"), r1, A("process"), t.pid, A("gone")),
            (A("DOWN"), r2, A("process"), (A("target"), node.name), A("gone")),
            (A("DOWN"), r3, A("process"), (A("target"), node.name), A("gone")),
        }
        r5 = await w.monitor(t.pid)
        assert (await w.receive()).message == (A("DOWN"), r5, A("process"), t.pid, A("noproc"))
        r6 = await w.monitor(A("nobody"))
        msg = (await w.receive()).message
        assert msg == (A("DOWN"), r6, A("process"), (A("nobody"), node.name), A("noproc"))
        assert w.monitors == {}


async def test_exit_reasons(node: Node) -> None:
    async with node.process() as w:
        with pytest.raises(ZeroDivisionError):
            async with node.process() as p:
                ref = await w.monitor(p.pid)
                _ = 1 / 0
        msg = (await w.receive()).message
        reason = (A("exception"), b"ZeroDivisionError: division by zero")
        assert msg == (A("DOWN"), ref, A("process"), p.pid, reason)
        with trio.CancelScope() as scope:
            async with node.process() as p:
                ref = await w.monitor(p.pid)
                scope.cancel()
                await trio.sleep_forever()
        assert (await w.receive()).message[4] is A("shutdown")


async def test_mailbox_overload_drops_and_counts(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kazoo_trio.erlang")
    async with node.process(mailbox_size=3) as p, node.process() as tx:
        for i in range(5):
            await tx.send(p.pid, i)
        assert p.mailbox.dropped == 2
        assert [(await p.receive()).message for _ in range(3)] == [0, 1, 2]
        with pytest.raises(trio.WouldBlock):
            p.receive_nowait()
        await tx.send(p.pid, 9)  # room again
        assert (await p.receive()).message == 9
    assert "mailbox of" in caplog.text and "is full" in caplog.text


async def test_unreachable_node_gives_noconnection(node: Node) -> None:
    async with node.process() as p:
        ghost = Pid("ghost@127.0.0.1", 1, 0, 1)
        p.trap_exit = True
        await p.link(ghost)
        ref = await p.monitor(ghost)
        await p.send(ghost, "lost")  # queued, then dropped with the failed set-up
        with trio.fail_after(10):
            got = {(await p.receive()).message for _ in range(2)}
        assert got == {
            (A("EXIT"), ghost, A("noconnection")),
            (A("DOWN"), ref, A("process"), ghost, A("noconnection")),
        }
        assert not await node.ping("ghost@127.0.0.1")


async def test_cookie_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cookie"
    path.write_text("from_file\n")
    path.chmod(0o644)
    with pytest.raises(CookieError, match="owner only"):
        Node("c@127.0.0.1", cookie_file=str(path))
    path.chmod(0o400)
    assert Node("c@127.0.0.1", cookie_file=str(path)).cookie == b"from_file"
    assert Node("c@127.0.0.1", cookie="given", cookie_file=str(path)).cookie == b"given"
    home = tmp_path / "home"
    home.mkdir()
    (home / ".erlang.cookie").write_text("from_home")
    (home / ".erlang.cookie").chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    assert Node("c@127.0.0.1").cookie == b"from_home"


async def test_a_taken_name_refuses_to_start(epmd: int) -> None:
    async with Node("twin@127.0.0.1", cookie="c", epmd="external", epmd_port=epmd) as first:
        with pytest.raises(DuplicateName):
            async with Node("twin@127.0.0.1", cookie="c", epmd="external", epmd_port=epmd):
                pass  # pragma: no cover
        assert await first.ping(first.name)
