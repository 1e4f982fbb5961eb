"""``kazoo-trio run``: argument handling, and the real command driven from ``erl``."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from kazoo_trio.cli import build_parser, main, settings_from_args
from kazoo_trio.kazoo.config import SettingsError
from tests.erlnode import erl_node
from tests.kazoo.run_process import kazoo_trio_run


def parse(*argv: str) -> object:
    return settings_from_args(build_parser().parse_args(["run", *argv]))


def test_run_options_override_the_settings_file(tmp_path: Path) -> None:
    settings_file = tmp_path / "s.toml"
    settings_file.write_text('nodename = "fs@h"\nlisten-port = 6031\ncookie = "file"\n')
    settings = settings_from_args(
        build_parser().parse_args(
            [
                "run",
                "--settings",
                str(settings_file),
                "--name",
                "t@127.0.0.1",
                "--cookie",
                "cli",
                "--epmd",
                "external",
                "--epmd-port",
                "4400",
                "--listen-ip",
                "127.0.0.1",
            ]
        )
    )
    assert settings.node_name() == "t@127.0.0.1"
    assert settings.cookie == "cli"
    assert settings.listen_port == 6031
    assert settings.listen_ip == "127.0.0.1"
    assert (settings.epmd, settings.epmd_port) == ("external", 4400)


def test_bad_port_is_a_clear_error() -> None:
    with pytest.raises(SettingsError, match="listen-port"):
        parse("--listen-port", "99999")


def test_bad_settings_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("event-stream-framing = 3\n")
    assert main(["run", "--settings", str(bad)]) == 2
    assert "event-stream-framing" in capsys.readouterr().err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "run" in capsys.readouterr().out


@pytest.mark.erl
async def test_run_serves_erlang_and_stops_cleanly_on_sigterm(epmd: int) -> None:
    async with kazoo_trio_run(
        "--name", "t@127.0.0.1", "--cookie", "kazoo_trio_test", "--listen-ip", "127.0.0.1",
        "--epmd", "external", "--epmd-port", str(epmd),
    ) as run:  # fmt: skip
        async with erl_node("c1@127.0.0.1", epmd_port=epmd) as e:
            assert await e.eval("net_adm:ping('t@127.0.0.1').") == "pong"
            status = await e.term(
                "gen_server:call({mod_kazoo, 't@127.0.0.1'}, {api, status, <<>>}, 5000)."
            )
            assert status[0].name == "ok" and status[1].startswith(b"UP ")
        code = await run.stop(signal.SIGTERM)
        assert code == 0, run.text


def test_profiles_that_do_not_compile_stop_the_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "kazoo.conf.xml"
    conf.write_text(
        '<configuration name="kazoo.conf"><settings>'
        '<param name="nodename" value="bad@127.0.0.1"/><param name="cookie" value="c"/>'
        '</settings><event-handlers><profile name="not-default"><event name="DTMF"/>'
        "</profile></event-handlers></configuration>"
    )
    assert main(["run", "--settings", str(conf), "--epmd", "external", "--epmd-port", "1"]) == 2
    assert "profiles in the settings file" in capsys.readouterr().err


def test_unreachable_epmd_is_a_clear_start_failure(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.erlnode import free_port

    argv = ["run", "--name", "x@127.0.0.1", "--cookie", "c", "--listen-ip", "127.0.0.1"]
    code = main([*argv, "--epmd", "external", "--epmd-port", str(free_port())])
    assert code == 1
    assert "kazoo-trio:" in capsys.readouterr().err
