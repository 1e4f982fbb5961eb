"""The node's embedded EPMD serving real erl nodes (no system epmd on that port)."""

from __future__ import annotations

import pytest

from kazoo_trio.erlang import Node
from kazoo_trio.erlang.epmd import EpmdMode
from kazoo_trio.term import Atom
from tests.erlang.nodeutil import COOKIE, PY, server
from tests.erlnode import erl_node, free_port

pytestmark = pytest.mark.erl


@pytest.mark.parametrize("mode", ["embedded", "auto"])
async def test_erl_nodes_use_our_embedded_epmd(mode: str) -> None:
    port = free_port()
    epmd_mode: EpmdMode = "embedded" if mode == "embedded" else "auto"
    async with (
        Node(PY, cookie=COOKIE, epmd=epmd_mode, epmd_port=port, listen_host="127.0.0.1") as node,
        server(node, "echo"),
        erl_node("m1@127.0.0.1", epmd_port=port) as m1,
        erl_node("m2@127.0.0.1", epmd_port=port) as m2,
    ):
        names = await m1.eval("{ok, Ns} = net_adm:names(), lists:sort([N || {N, _} <- Ns]).")
        assert names == '["m1","m2","py"]'
        assert await m1.eval("net_adm:ping('m2@127.0.0.1').") == "pong"
        assert await m2.eval(f"gen_server:call({{echo, '{PY}'}}, {{echo, ok}}).") == "ok"
        assert await node.ping("m1@127.0.0.1")
        assert sorted(node.connected_nodes(), key=str) == [
            Atom("m1@127.0.0.1"),
            Atom("m2@127.0.0.1"),
        ]
