"""Exit signals to ``mod_kazoo`` from one node never hurt another node's streams,
bindings, links or calls (the C module ignores ``exit/2`` to its process)."""

from __future__ import annotations

import pytest

from kazoo_trio.term.types import Atom
from tests.erlnode import erl_node
from tests.kazoo.server_harness import MK, running_server
from tests.kazoo.test_server_streams_erl import fields, next_event, send, spawn_owner
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

E1 = "e1@127.0.0.1"  # the bystander: a stream, a fetch binding, a link
E2 = "e2@127.0.0.1"  # the attacker


async def test_exit_signals_from_one_node_leave_the_others_intact(epmd: int) -> None:
    async with (
        running_server(epmd) as server,
        erl_node(E1, epmd_port=epmd) as e1,
        erl_node(E2, epmd_port=epmd) as e2,
    ):
        await spawn_owner(e1, "by", "['kt::by']")
        # A linked process that does not trap exits: a `killed` signal would end it.
        await e1.eval(
            "Parent = self(),"
            "Linked = spawn(fun() ->"
            f"  ok = gen_server:call({MK}, {{bind, directory}}),"
            f"  ok = gen_server:call({MK}, link),"
            "  Parent ! linked, receive stop -> ok end end),"
            "receive linked -> ok after 5000 -> timeout end."
        )
        proc = server.proc
        assert proc is not None and len(server.streams) == 1
        assert server.fetch.handlers("directory")
        for reason in ["kill", "normal", "shutdown", "{shutdown, kt}", "killed"]:
            reply = await e2.eval(
                f"{{ok, P}} = gen_server:call({MK}, getpid), exit(P, {reason}),"
                f" gen_server:call({MK}, version, 5000)."
            )
            assert reply.startswith("{ok,"), (reason, reply)
        await wait_until(lambda: proc.ignored_exit2 == 5)
        # Same process, same state; the bystander's link holds and its calls are answered.
        assert server.proc is proc and proc.alive
        assert len(server.streams) == 1 and server.fetch.handlers("directory")
        assert any(pid.node is Atom(E1) for pid in proc.links)
        assert await e1.eval("is_process_alive(Linked).") == "true"
        assert (await e1.eval(f"gen_server:call({MK}, version, 5000).")).startswith("{ok,")
        await e1.eval(send("kt::by", '[{<<"Seq">>, <<"1">>}]') + ".")
        assert fields(await next_event(e1, "by"))[b"Seq"] == b"1"
        # Link exits still clean up what the exited process had.
        await e1.eval("Linked ! stop, ok.")
        await wait_until(lambda: not server.fetch.handlers("directory"))
        assert len(server.streams) == 1
