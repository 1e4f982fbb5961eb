"""A Python node against real erl nodes: ping, visibility, gen_server calls and casts."""

from __future__ import annotations

import pytest
import trio

from kazoo_trio.erlang import CallError, NodeDown, NodeUp
from kazoo_trio.term import Atom, Pid
from tests.erlang.nodeutil import PY, py_node, server
from tests.erlnode import ErlError, erl_node

pytestmark = pytest.mark.erl

E1 = "e1@127.0.0.1"
A = Atom


async def test_ping_both_directions_and_hidden(epmd: int) -> None:
    async with py_node(epmd) as node, node.monitor_nodes() as events:
        async with erl_node(E1, epmd_port=epmd) as e:
            assert await e.eval(f"net_adm:ping('{PY}').") == "pong"
            assert await e.eval("nodes(hidden).") == f"['{PY}']"
            assert await e.eval("nodes().") == "[]"
            with trio.fail_after(5):
                assert await events.receive() == NodeUp(A(E1))
            assert node.connected_nodes() == [A(E1)]
            assert await node.ping(E1)
            addrs = node.connection_addresses(A(E1))
            assert addrs is not None
            assert addrs[0] == ("127.0.0.1", node.port)
            assert addrs[1][0] == "127.0.0.1"
        with trio.fail_after(10):
            down = await events.receive()
        assert isinstance(down, NodeDown) and down.node is A(E1)
        assert node.connected_nodes() == []


async def test_python_pings_first(epmd: int) -> None:
    """An outgoing connection made on demand by ping; unknown nodes give pang quickly."""
    async with py_node(epmd) as node, erl_node(E1, epmd_port=epmd) as e:
        assert await node.ping(E1)
        assert await e.eval("nodes(hidden).") == f"['{PY}']"
        with trio.fail_after(5):
            assert not await node.ping("nosuch@127.0.0.1")


async def test_erl_calls_and_casts_python(epmd: int) -> None:
    send, receive = trio.open_memory_channel[object](10)
    async with (
        py_node(epmd) as node,
        server(node, "echo", casts=send) as proc,
        erl_node(E1, epmd_port=epmd) as e,
    ):
        assert await e.eval(f"gen_server:call({{echo, '{PY}'}}, hello).") == "{ok,hello}"
        # The tag is [alias|Ref] from OTP 25; by pid as well as by name.
        await e.eval(f"P = gen_server:call({{echo, '{PY}'}}, getpid).")
        assert await e.eval("node(P).") == f"'{PY}'"
        assert await e.term('gen_server:call(P, {echo, <<"x">>}).') == b"x"
        assert await e.eval(f"gen_server:cast({{echo, '{PY}'}}, {{note, 1}}).") == "ok"
        with trio.fail_after(5):
            assert await receive.receive() == (A("note"), 1)
        assert await e.eval("P ! plain, ok.") == "ok"
        # Concurrent callers from many processes.
        text = await e.eval(
            "Self = self(), "
            "[spawn(fun() -> Self ! {done, gen_server:call(P, {echo, N})} end)"
            " || N <- lists:seq(1, 200)], "
            "lists:sort([receive {done, X} -> X after 5000 -> timeout end"
            " || _ <- lists:seq(1, 200)]) =:= lists:seq(1, 200)."
        )
        assert text == "true"
        assert proc.alive


async def test_python_calls_and_casts_erl(epmd: int) -> None:
    async with py_node(epmd) as node, erl_node(E1, epmd_port=epmd) as e:
        await e.eval(
            "Srv = spawn(fun Loop() -> receive "
            "{'$gen_call', From, {add, X, Y}} -> gen:reply(From, X + Y), Loop(); "
            "{'$gen_call', From, Req} -> gen:reply(From, {got, Req}), Loop(); "
            "{'$gen_cast', C} -> put(last, C), Loop(); "
            "{last, From} -> From ! {last, get(last)}, Loop() end end), "
            "register(srv, Srv)."
        )
        dest = (A("srv"), A(E1))
        assert await node.call(dest, (A("add"), 2, 3)) == 5
        # A real gen_server as well (code in OTP), by pid.
        async with node.process() as p:
            assert await p.call(dest, b"bin") == (A("got"), b"bin")
            await p.cast(dest, A("hello"))
            await p.send(dest, (A("last"), p.pid))
            env = await p.receive()
            assert env.message == (A("last"), A("hello"))
            rex_call: tuple[object, ...] = (A("call"), A("erlang"), A("node"), [], A("user"))
            rex = await p.call((A("rex"), A(E1)), rex_call)
            assert rex is A(E1)
            srv_pid = await e.term("Srv.")
            assert isinstance(srv_pid, Pid)
            assert await p.call(srv_pid, (A("add"), 1, 1)) == 2


async def test_call_failures(epmd: int) -> None:
    async with py_node(epmd) as node, erl_node(E1, epmd_port=epmd) as e:
        with trio.fail_after(5), pytest.raises(CallError) as err:
            await node.call((A("nosuch"), A(E1)), x)
        assert err.value.reason is A("noproc")
        with trio.fail_after(5), pytest.raises(CallError) as err:
            await node.call((A("nosuch"), A("ghost@127.0.0.1")), x)
        assert err.value.reason is A("noconnection")
        await e.eval("register(mute, spawn(fun() -> receive stop -> ok end end)).")
        with trio.fail_after(5), pytest.raises(CallError) as err:
            await node.call((A("mute"), A(E1)), x, timeout=0.3)
        assert err.value.reason is A("timeout")
        # A server that dies during the call: the monitor reports its reason.
        await e.eval(
            "register(dier, spawn(fun() -> receive {'$gen_call', _, _} -> exit(boom) end end))."
        )
        with trio.fail_after(5), pytest.raises(CallError) as err:
            await node.call((A("dier"), A(E1)), x)
        assert err.value.reason is A("boom")
        # Local targets too.
        with pytest.raises(CallError) as err:
            await node.call(A("nosuch_local"), x)
        assert err.value.reason is A("noproc")
        # erl calling a missing Python name fails fast with noproc.
        text = await e.eval(f"catch gen_server:call({{nosuch, '{PY}'}}, x, 3000).")
        assert text.startswith("{'EXIT',{noproc,")


x = A("x")


@pytest.mark.slow  # 10 MB each way between erl and the Python node
async def test_ten_megabytes_each_way(epmd: int) -> None:
    async with py_node(epmd) as node, server(node, "echo"), erl_node(E1, epmd_port=epmd) as e:
        await e.eval('Big = binary:copy(<<"0123456789">>, 1048576).')
        text = await e.eval(f"gen_server:call({{echo, '{PY}'}}, {{size, Big}}, 30000).")
        assert text == "10485760"
        echoed = await e.eval(
            f"B2 = gen_server:call({{echo, '{PY}'}}, {{echo, Big}}, 30000), B2 =:= Big."
        )
        assert echoed == "true"
        await e.eval(
            "register(srv, spawn(fun Loop() -> receive {'$gen_call', From, {size, B}} -> "
            "gen:reply(From, byte_size(B)), Loop() end end))."
        )
        big = bytes(range(256)) * 40960
        assert await node.call((A("srv"), A(E1)), (A("size"), big), timeout=30) == len(big)


async def test_net_kernel_tag_forms_and_spawn_requests(epmd: int) -> None:
    async with py_node(epmd) as node, erl_node(E1, epmd_port=epmd) as e:
        # The pre-OTP-24 plain reference tag, sent by hand.
        text = await e.eval(
            f"Ref = make_ref(), {{net_kernel, '{PY}'}} ! "
            "{'$gen_call', {self(), Ref}, {is_auth, node()}}, "
            "receive {Ref, R} -> R after 5000 -> timeout end."
        )
        assert text == "yes"
        # ...and the OTP 24+ alias form, as gen_server:call makes it.
        assert await e.eval(f"gen_server:call({{net_kernel, '{PY}'}}, {{is_auth, node()}}).") == (
            "yes"
        )
        # rpc (SPAWN_REQUEST) gets a clean error and the connection stays up.
        assert await e.eval(f"rpc:call('{PY}', erlang, node, [], 5000).") == "{badrpc,notsup}"
        with pytest.raises(ErlError, match=r"^\{error,\{erpc,notsup\}"):
            await e.eval(f"erpc:call('{PY}', erlang, node, [], 5000).")
        assert node.connected_nodes() == [A(E1)]
        assert await e.eval(f"net_adm:ping('{PY}').") == "pong"
