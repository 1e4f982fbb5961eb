"""The smaller holes: a truncated fast-path packet, cookie files, node names."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio

from kazoo_trio.cli import main
from kazoo_trio.erlang import Node
from kazoo_trio.erlang.cookie import CookieError
from kazoo_trio.erlang.names import complete_node_name, split_node_name
from kazoo_trio.erlang.wire import frame
from kazoo_trio.kazoo.config import Settings, SettingsError
from tests.erlang.nodeutil import PY, py_node, server
from tests.erlang.test_node_robustness import raw_connect
from tests.erlnode import erl_node
from tests.waiting import wait_until


@pytest.mark.erl
async def test_the_five_byte_call_prefix_closes_with_a_protocol_error(
    epmd: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kazoo_trio.erlang")
    async with (
        py_node(epmd) as node,
        server(node, "echo"),
        erl_node("other@127.0.0.1", epmd_port=epmd) as other,
    ):
        assert await other.eval(f"net_adm:ping('{PY}').") == "pong"
        stream = await raw_connect(node.port, "short@127.0.0.1")
        await stream.send_all(frame(bytes.fromhex("7083680461")))
        with trio.fail_after(5):
            while await stream.receive_some(4096):
                pass  # closed by the node
        await stream.aclose()
        await wait_until(lambda: len(node.connected_nodes()) == 1)
        assert "closing connection to short@127.0.0.1: protocol error" in caplog.text
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert await other.eval(f"gen_server:call({{echo, '{PY}'}}, {{echo, 3}}).") == "3"


def test_a_home_cookie_readable_by_others_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    cookie = home / ".erlang.cookie"
    cookie.write_text("secret")
    cookie.chmod(0o644)
    # As OTP refuses to start with it: no fallback to a default cookie.
    with pytest.raises(SettingsError, match="owner only"):
        Settings().resolve_cookie(home=str(home))
    cookie.chmod(0o640)
    with pytest.raises(SettingsError, match="owner only"):
        Settings().resolve_cookie(home=str(home))
    cookie.chmod(0o400)
    assert Settings().resolve_cookie(home=str(home)) == "secret"


def test_no_cookie_anywhere_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="no cookie"):
        Settings().resolve_cookie(home=str(tmp_path))
    # A cookie given explicitly needs no file.
    assert Settings(cookie="given").resolve_cookie(home=str(tmp_path)) == "given"


def test_the_node_refuses_an_open_cookie_file(tmp_path: Path) -> None:
    cookie = tmp_path / "cookie"
    cookie.write_text("secret")
    cookie.chmod(0o604)
    with pytest.raises(CookieError, match="owner only"):
        Node("x@127.0.0.1", cookie_file=str(cookie))
    with pytest.raises(CookieError, match="does not exist"):
        Node("x@127.0.0.1", cookie_file=str(tmp_path / "missing"))


@pytest.mark.parametrize("name", ["a@b@c", "@b", "a@", "a@@b"])
def test_node_names_with_other_than_one_at_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="alive@host"):
        split_node_name(name)
    with pytest.raises(ValueError, match="alive@host"):
        complete_node_name(name)
    with pytest.raises(SettingsError, match="not a node name"):
        Settings(nodename=name, cookie="c").node_name()


def test_the_command_line_refuses_a_name_with_two_ats(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["run", "--name", "a@b@c", "--cookie", "c"]) == 2
    err = capsys.readouterr().err
    assert "nodename 'a@b@c' is not a node name" in err
