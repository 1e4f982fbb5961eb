"""``kazoo-trio run --switch freeswitch`` as a process in front of the real FreeSWITCH,
asked from ``erl``; and the settings that choose and reach it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import trio

from kazoo_trio.app import switch_from_settings
from kazoo_trio.cli import main
from kazoo_trio.kazoo.config import Settings, SettingsError, settings_from_toml
from kazoo_trio.switch.freeswitch import FreeSwitchBackend, FreeSwitchSettings
from kazoo_trio.switch.sim import SimSwitch
from tests.erlnode import erl_node
from tests.freeswitch.fsmin import PASSWORD, FreeSwitch
from tests.kazoo.run_process import CONSOLE_SCRIPT, kazoo_trio_run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NODE = "t@127.0.0.1"
MK = f"{{mod_kazoo, '{NODE}'}}"


def test_freeswitch_settings_and_their_defaults() -> None:
    assert Settings().switch == "sim"
    assert isinstance(switch_from_settings(Settings()), SimSwitch)
    backend = switch_from_settings(Settings(switch="freeswitch"))
    assert isinstance(backend, FreeSwitchBackend)
    # The defaults are FreeSWITCH's shipped event_socket.conf and the README's
    # xml_curl.conf.
    assert backend.settings == FreeSwitchSettings()
    settings = settings_from_toml(
        'switch = "freeswitch"\nfreeswitch-esl = "[::1]:8022"\n'
        'freeswitch-esl-password = "secret"\nxml-curl-listen = ":9000"\n'
        'xml-curl-path = "/x"\nfreeswitch-reply-timeout = 3\nxml-curl-lookup-timeout = 2\n'
    )
    backend = switch_from_settings(settings)
    assert isinstance(backend, FreeSwitchBackend)
    assert backend.settings == FreeSwitchSettings(
        esl_host="::1",
        esl_port=8022,
        esl_password="secret",
        xml_curl_port=9000,
        xml_curl_path="/x",
        reply_timeout=3.0,
        lookup_timeout=2.0,
    )
    assert "secret" not in repr(settings)
    for bad in (
        'switch = "asterisk"',
        'freeswitch-esl = "host:99999"',
        'xml-curl-listen = "[::1"',
        'xml-curl-path = "fsxml"',
        "freeswitch-connect-timeout = 0",
    ):
        with pytest.raises(SettingsError):
            settings_from_toml(bad)


def test_sim_traffic_is_refused_with_freeswitch(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["run", "--name", "x@127.0.0.1", "--cookie", "c", "--switch", "freeswitch"]
    assert main([*argv, "--sim-traffic", "1"]) == 2
    assert "simulated switch" in capsys.readouterr().err


@pytest.fixture
def fs(shared_fs: FreeSwitch) -> FreeSwitch:
    return shared_fs


@pytest.mark.erl
async def test_run_with_freeswitch_answers_erlang(
    fs: FreeSwitch, epmd: int, tmp_path: Path
) -> None:
    settings = tmp_path / "kazoo.toml"
    settings.write_text(f'freeswitch-esl-password = "{PASSWORD}"\nxml-curl-path = "/fsxml"\n')
    async with kazoo_trio_run(
        "--name", NODE, "--cookie", "kazoo_trio_test",
        "--listen-ip", "127.0.0.1", "--epmd", "external", "--epmd-port", str(epmd),
        "--settings", str(settings), "--switch", "freeswitch",
        "--freeswitch-esl", f"127.0.0.1:{fs.esl_port}",
        "--xml-curl-listen", f"127.0.0.1:{fs.xml_curl_port}",
        program=CONSOLE_SCRIPT,
    ) as run:  # fmt: skip
        async with erl_node("c1@127.0.0.1", epmd_port=epmd) as e:
            status = await e.term(f'gen_server:call({MK}, {{api, status, <<"">>}}, 10000).')
            assert status[0].name == "ok" and b"is ready" in status[1], status
            # The node is FreeSWITCH's: its core uuid, and mod_kazoo's commands on it.
            core = await e.term(f'gen_server:call({MK}, {{api, global_getvar, <<"core_uuid">>}}).')
            assert core[1].decode() == fs.api("global_getvar core_uuid")
            missing = await e.term(
                f'gen_server:call({MK}, {{api, kz_uuid_setvar, <<"nope a b">>}}).'
            )
            assert missing[1] == b"-ERR No such channel!\n"
        # The README's controller against it: two calls routed, played and hung up.
        env = dict(os.environ, ERL_EPMD_PORT=str(epmd), ERL_CRASH_DUMP_SECONDS="0")
        argv = ["escript", str(EXAMPLES / "freeswitch_controller.escript"), NODE,
                "kazoo_trio_test", "2"]  # fmt: skip
        with trio.fail_after(30):
            done = await trio.run_process(
                argv, env=env, capture_stdout=True, stderr=subprocess.STDOUT, check=False
            )
        output = done.stdout.decode(errors="replace")
        assert done.returncode == 0, output
        assert output.count("(demo account), playing") == 2, output
        assert output.count(": FILE PLAYED, hanging up") == 2, output
        assert output.count("ended: NORMAL_CLEARING") == 2, output
        code = await run.stop(signal.SIGTERM)
        assert code == 0, run.text
