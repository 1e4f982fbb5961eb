"""The examples run: the Erlang call controller against a node, the embedding script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from kazoo_trio.switch.sim import SimSwitch
from tests.erlnode import require_erl
from tests.kazoo.server_harness import COOKIE, FS, running_server
from tests.switch.callhelpers import QUICK, Recorder

pytestmark = pytest.mark.erl

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def run_to_end(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    with trio.fail_after(timeout):
        result = await trio.run_process(
            argv, env=env, capture_stdout=True, stderr=subprocess.STDOUT, check=False
        )
    return result.returncode, result.stdout.decode(errors="replace")


async def test_call_controller_escript_plays_and_hangs_up(epmd: int) -> None:
    require_erl()
    switch = SimSwitch(timings=QUICK)
    rec = Recorder(switch)
    env = dict(os.environ, ERL_EPMD_PORT=str(epmd), ERL_CRASH_DUMP_SECONDS="0")
    async with running_server(epmd, switch=switch):
        code, output = await run_to_end(
            ["escript", str(EXAMPLES / "call_controller.escript"), FS, COOKIE, "1"], env, 30
        )
        assert code == 0, output
        assert "played on" in output and "done" in output
        # The routed leg of its loopback call played the prompt, then hung up on request.
        played = await rec.wait_event(
            "CHANNEL_EXECUTE_COMPLETE", Application="playback", Application_UUID_Name="playback"
        )
        destroy = await rec.wait_event("CHANNEL_DESTROY", played.get("Unique-ID"))
        assert destroy.get("Hangup-Cause") == "NORMAL_CLEARING"


@pytest.mark.slow  # a Python interpreter starting the example, then a whole call
async def test_embed_node_example_places_a_call_and_stops(epmd: int) -> None:
    argv = [sys.executable, str(EXAMPLES / "embed_node.py"), "--name", "embed@127.0.0.1",
            "--cookie", COOKIE, "--epmd-port", str(epmd), "--calls", "1"]  # fmt: skip
    code, output = await run_to_end(argv, dict(os.environ), 30)
    assert code == 0, output
    assert "node embed@127.0.0.1 is up" in output
    assert "CHANNEL_DESTROY" in output and "NORMAL_CLEARING" in output
