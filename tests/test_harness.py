"""The erl harness itself: two real nodes find each other through a private epmd."""

from __future__ import annotations

import pytest

from tests.erlnode import ErlError, erl_node

pytestmark = pytest.mark.erl


async def test_two_erl_nodes_ping_through_private_epmd(epmd: int) -> None:
    async with (
        erl_node("h1@127.0.0.1", epmd_port=epmd) as a,
        erl_node("h2@127.0.0.1", epmd_port=epmd) as b,
    ):
        assert await a.eval("X = 1 + 1.") == "2"
        assert await a.eval("X * 21.") == "42"  # bindings persist
        assert await a.eval("net_adm:ping('h2@127.0.0.1').") == "pong"
        assert await b.eval("nodes().") == "['h1@127.0.0.1']"
        with pytest.raises(ErlError, match="badarith"):
            await a.eval("1 + a.")
