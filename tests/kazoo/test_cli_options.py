"""``kazoo-trio run`` as an operator starts it: default name, embedded EPMD, SIGINT."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from kazoo_trio.cli import build_parser, settings_from_args
from tests.erlnode import erl_node, free_port
from tests.kazoo.run_process import kazoo_trio_run


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
    async with kazoo_trio_run(
        "--name", "t@127.0.0.1", "--cookie", "kazoo_trio_test", "--listen-ip", "127.0.0.1",
        "--epmd", "embedded", "--epmd-port", str(epmd_port),
    ) as run:  # fmt: skip
        # erl finds the node through the embedded EPMD.
        async with erl_node("c1@127.0.0.1", epmd_port=epmd_port) as e:
            assert await e.eval("net_adm:ping('t@127.0.0.1').") == "pong"
            assert (
                await e.eval("gen_server:call({mod_kazoo, 't@127.0.0.1'}, version, 5000).")
                == '{ok,<<"mod_kazoo v1.5.0-1 community">>}'
            )
        code = await run.stop(signal.SIGINT)
        assert code == 0, run.text
        assert run.output.count(b"accepting connections") == 1, run.text
        assert b"Traceback" not in run.output, run.text
