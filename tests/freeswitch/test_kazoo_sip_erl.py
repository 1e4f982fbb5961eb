"""A SIP call from FreeSWITCH to itself (mod_sofia), routed by Erlang through kazoo_trio."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.erlnode import erl_node
from tests.freeswitch.fsmin import FreeSwitch, freeswitch_instance
from tests.freeswitch.kazoo_helpers import E1, ROUTER, STREAM, kazoo_over, streamed
from tests.kazoo.server_harness import MK
from tests.waiting import wait_until

pytestmark = pytest.mark.erl


@pytest.fixture(scope="module")
def fs() -> Iterator[FreeSwitch]:
    with freeswitch_instance(sip=True) as instance:
        yield instance


async def test_sip_call_to_itself_routed_by_erlang(fs: FreeSwitch, epmd: int) -> None:
    async with kazoo_over(fs, epmd), erl_node(E1, epmd_port=epmd) as e:
        assert await e.eval(ROUTER) == "ok"
        assert await e.eval(STREAM) == "ok"
        target = f"sofia/internal/4343@127.0.0.1:{fs.sip_port}"
        reply = await e.term(
            f"{{ok, J}} = gen_server:call({MK}, {{bgapi, originate, "
            f'<<"{target} &park">>}}),'
            "receive {bgok, J, R} -> R; {bgerror, J, R} -> {error, R}"
            " after 10000 -> timeout end."
        )
        assert isinstance(reply, bytes) and reply.startswith(b"+OK "), reply
        outbound = reply[4:].decode().strip()
        request = dict(await e.term("receive {route_req, P} -> P after 5000 -> timeout end."))
        inbound = request[b"Call-ID"].decode()
        assert request[b"Destination-Number"] == b"4343"
        assert request[b"Hunt-Context"] == b"default"
        name = await e.term(
            f'gen_server:call({MK}, {{api, uuid_getvar, <<"{inbound} channel_name">>}}, 10000).'
        )
        assert name[1].startswith(b"sofia/internal/")
        codec = await e.term(
            f'gen_server:call({MK}, {{api, uuid_getvar, <<"{inbound} read_codec">>}}, 10000).'
        )
        assert codec[1] in (b"PCMU", b"PCMA")

        async def answered() -> bool:
            names = {(n, c) for n, c, *_ in await streamed(e)}
            return {("CHANNEL_ANSWER", outbound), ("CHANNEL_ANSWER", inbound)} <= names

        await wait_until(answered, timeout=5, interval=0.1)
        # Both legs: the BYE a leg of a call to itself sends is not always seen by
        # the other (FreeSWITCH's own behaviour, not the event socket's).
        for leg in (outbound, inbound):
            await e.eval(f'gen_server:call({MK}, {{api, uuid_kill, <<"{leg}">>}}).')

        async def destroyed() -> bool:
            names = {(n, c) for n, c, *_ in await streamed(e)}
            return {("CHANNEL_DESTROY", outbound), ("CHANNEL_DESTROY", inbound)} <= names

        await wait_until(destroyed, timeout=5, interval=0.1)
