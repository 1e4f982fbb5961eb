"""Hostile request shapes get their documented answers, and start-up failures say
which setting to change."""

from __future__ import annotations

import logging
import socket

import pytest
import trio

from kazoo_trio.kazoo.wiring import serve
from kazoo_trio.switch.sim import SimSwitch
from tests.erlnode import erl_node
from tests.kazoo.server_harness import MK, make_settings, running_server

E1 = "e1@127.0.0.1"


@pytest.mark.erl
async def test_json_api_nested_too_deep_is_a_parse_error(
    epmd: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with running_server(epmd), erl_node(E1, epmd_port=epmd) as e:
        reply = await e.eval(
            f"{{error, {{parse_error, Rest}}}} = gen_server:call({MK},"
            ' {json_api, binary:copy(<<"[">>, 100000)}, 10000), byte_size(Rest).'
        )
        # Where cJSON stops: past its nesting limit of 1000.
        assert reply == str(100_000 - 1000)
        # The server is fine and says nothing about it.
        assert (await e.eval(f"gen_server:call({MK}, version).")).startswith("{ok,")
    assert not [r for r in caplog.records if "Recursion" in r.getMessage() or r.exc_info]


async def test_a_listener_bind_failure_names_the_settings_and_the_address() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = make_settings(1, listen_port=port)
        with pytest.raises(OSError) as failure, trio.fail_after(10):
            await serve(settings, SimSwitch())
    text = str(failure.value)
    assert f"127.0.0.1:{port}" in text and "listen-port" in text and "listen-ip" in text
