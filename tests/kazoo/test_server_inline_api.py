"""``api`` requests for commands that never wait are answered without a lane of their own,
in the sender's order all the same (driven from a real ``erl`` node)."""

from __future__ import annotations

import pytest
import trio

from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.term.types import Atom
from tests.erlnode import erl_node
from tests.kazoo.server_harness import MK, add_test_commands, running_server

pytestmark = pytest.mark.erl

E1 = "e1@127.0.0.1"


def _task_recorder(switch: SimSwitch, ran_in: list[str]) -> None:
    """``kt_task``: a command that never waits, noting the task it ran in."""

    def task(args: str) -> ApiOutput:
        ran_in.append(trio.lowlevel.current_task().name)
        return ApiOutput(f"+OK {args}")

    switch.apis.register_sync("kt_task", task, syntax="", module="")


async def test_waiting_free_api_runs_inline_and_keeps_order(epmd: int) -> None:
    switch = SimSwitch()
    ran_in: list[str] = []
    _task_recorder(switch, ran_in)
    add_test_commands(switch, [])
    async with running_server(epmd, switch) as server, erl_node(E1, epmd_port=epmd) as e:
        reply = await e.term(f'gen_server:call({MK}, {{api, kt_task, <<"alone">>}}).')
        assert reply == (Atom("ok"), b"+OK alone")
        assert len(ran_in) == 1
        assert "_run_lane" not in ran_in[0]
        assert server.lanes() == 0
        # Behind a request that waits, the same command waits its turn in the lane.
        order = await e.term(
            f"MK = {MK}, R1 = make_ref(), R2 = make_ref(),"
            " MK ! {'$gen_call', {self(), R1}, {api, kt_sleep, <<\"0.2\">>}},"
            " MK ! {'$gen_call', {self(), R2}, {api, kt_task, <<\"queued\">>}},"
            " Next = fun() -> receive {R, _} when R =:= R1; R =:= R2 -> R end end,"
            " [case Next() of R1 -> first; R2 -> second end,"
            "  case Next() of R1 -> first; R2 -> second end].",
            timeout=20,
        )
        assert order == [Atom("first"), Atom("second")]
        assert "_run_lane" in ran_in[1]
