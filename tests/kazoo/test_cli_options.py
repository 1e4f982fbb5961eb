"""``kazoo-trio run`` as an operator starts it: default name, embedded EPMD, SIGINT."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from kazoo_trio.cli import build_parser, settings_from_args
from tests.erlnode import erl_node, free_port


def test_default_and_long_names() -> None:
    short_host = socket.gethostname().split(".", 1)[0]
    settings = settings_from_args(build_parser().parse_args(["run", "--cookie", "c"]))
    assert settings.node_name() == f"freeswitch@{short_host}"
    long = settings_from_args(
        build_parser().parse_args(["run", "--name", "fs@switch1.example.com"])
    )
    assert long.node_name() == "fs@switch1.example.com"
    bare = settings_from_args(build_parser().parse_args(["run", "--name", "fs"]))
    assert bare.node_name() == f"fs@{short_host}"


def test_settings_file_in_kazoo_conf_xml(tmp_path: Path) -> None:
    conf = tmp_path / "kazoo.conf.xml"
    conf.write_text(
        '<configuration name="kazoo.conf"><settings>'
        '<param name="listen-ip" value="127.0.0.1"/>'
        '<param name="listen-port" value="6031"/>'
        '<param name="event-stream-framing" value="4"/>'
        "</settings></configuration>"
    )
    settings = settings_from_args(
        build_parser().parse_args(["run", "--settings", str(conf), "--listen-port", "0"])
    )
    assert settings.listen_ip == "127.0.0.1"
    assert settings.listen_port == 0  # the command line wins
    assert settings.event_stream_framing == 4


@pytest.mark.erl
async def test_run_with_embedded_epmd_stops_cleanly_on_sigint() -> None:
    epmd_port = free_port()
    process = await trio.lowlevel.open_process(
        [
            sys.executable,
            "-m",
            "kazoo_trio",
            "run",
            "--name",
            "t@127.0.0.1",
            "--cookie",
            "kazoo_trio_test",
            "--listen-ip",
            "127.0.0.1",
            "--epmd",
            "embedded",
            "--epmd-port",
            str(epmd_port),
        ],
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    output = bytearray()
    try:
        assert process.stderr is not None
        with trio.fail_after(20):
            while b"accepting connections" not in output:
                chunk = await process.stderr.receive_some(4096)
                assert chunk, output.decode()
                output += chunk
        # erl finds the node through the embedded EPMD.
        async with erl_node("c1@127.0.0.1", epmd_port=epmd_port) as e:
            assert await e.eval("net_adm:ping('t@127.0.0.1').") == "pong"
            assert (
                await e.eval("gen_server:call({mod_kazoo, 't@127.0.0.1'}, version, 5000).")
                == '{ok,<<"mod_kazoo v1.5.0-1 community">>}'
            )
        process.send_signal(signal.SIGINT)
        with trio.fail_after(10):
            code = await process.wait()
            output += await process.stderr.receive_some(65536) or b""
        assert code == 0, output.decode()
        assert output.count(b"accepting connections") == 1, output.decode()
        assert b"Traceback" not in output, output.decode()
    finally:
        if process.returncode is None:
            process.kill()
            with trio.CancelScope(shield=True):
                await process.wait()
