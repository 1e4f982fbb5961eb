"""A real ``erl`` node sending 100,000 distinct atoms: memory stays bounded and comes back."""

from __future__ import annotations

import gc
import tracemalloc

import pytest
import trio

from kazoo_trio.term import Atom
from tests.erlang.nodeutil import PY, py_node, server
from tests.erlnode import erl_node

pytestmark = [pytest.mark.erl, pytest.mark.slow]

ATOMS = 100_000
# Interning 100,000 atoms for ever costs about 24 MB (the unbounded table did);
# the bound the node must keep is 20 MB per million, 2 MB per 100,000.
RETAINED_MAX = 2 * 1024 * 1024


def _flood_atoms() -> int:
    return sum(1 for name in list(Atom._wire) if name.startswith("kt_flood_"))


async def test_distinct_atoms_from_erl_are_released(epmd: int) -> None:
    known = Atom("kt_known_atom")
    async with (
        py_node(epmd) as node,
        server(node, "echo"),
        erl_node("flood@127.0.0.1", epmd_port=epmd) as e,
    ):
        call = f"gen_server:call({{echo, '{PY}'}}, {{echo, kt_known_atom}}, 60000)"
        assert await e.eval(f"{call}.") == "kt_known_atom"
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            flood = (
                f"[gen_server:cast({{echo, '{PY}'}}, "
                f'{{kt, list_to_atom("kt_flood_" ++ integer_to_list(I))}}) '
                f"|| I <- lists:seq(1, {ATOMS})], "
                # A call after the casts on the same connection: its answer
                # means every cast was decoded and handled.
                f"{call}."
            )
            started = trio.current_time()
            with trio.fail_after(120):
                assert await e.eval(flood, timeout=120) == "kt_known_atom"
            elapsed = trio.current_time() - started
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        retained = after - before
        print(f"{ATOMS:,} distinct atoms in {elapsed:.1f} s; retained {retained / 1e6:.2f} MB")
        assert retained < RETAINED_MAX, retained
        # Only the decoder's bounded cache of recent atoms keeps any alive.
        assert _flood_atoms() <= 2048
        # Known atoms keep their identity across the wire.
        echoed = await e.eval(f"{call}.")
        assert echoed == "kt_known_atom"
        assert Atom.from_wire("kt_known_atom") is known
