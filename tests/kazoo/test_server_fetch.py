"""XML lookups answered by real Erlang nodes: the way ecallmgr's fetch handlers work."""

from __future__ import annotations

import pytest
import trio

from tests.erlnode import ErlNode, erl_node
from tests.kazoo.server_harness import MK, directory_profile, running_server
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

LOCATE = '{api, xml_locate, <<"directory domain name example.com">>}'


def xml_for(tag: str) -> str:
    """Erlang expression: a directory document whose user id is ``tag``."""
    return (
        '<<"<document type=\\"freeswitch/xml\\"><section name=\\"directory\\">'
        f'<domain name=\\"example.com\\"><user id=\\"{tag}\\"/></domain>'
        '</section></document>">>'
    )


async def start_handler(e: ErlNode, tag: str, *, mode: str = "reply") -> None:
    """Spawn a process that binds ``directory`` and answers every fetch.

    ``mode``: ``reply`` casts the answer at once; ``halt`` stops the whole node when
    a request arrives; ``late`` waits for ``go`` and then *calls* fetch_reply,
    sending the result to the test's process.  The process is bound to the
    erl variable ``Handler_<mode>``.
    """
    parent = f"Parent_{mode}"
    answer = {
        "reply": f"gen_server:cast({MK}, {{fetch_reply, directory, U, {xml_for(tag)}}})",
        "halt": "erlang:halt()",
        "late": (
            f"{parent} ! {{fetched, U}}, receive go -> {parent} ! {{late, "
            f"gen_server:call({MK}, {{fetch_reply, directory, U, {xml_for(tag)}}})}} end"
        ),
    }[mode]
    await e.eval(
        f"{parent} = self(),"
        f"Handler_{mode} = spawn(fun() ->"
        f"  ok = gen_server:call({MK}, {{bind, directory}}),"
        f"  {parent} ! bound,"
        "  Loop = fun L() -> receive {fetch, {Props}} ->"
        '    U = proplists:get_value(<<"Fetch-UUID">>, Props),'
        f"    {answer}, L() end end,"
        "  Loop() end),"
        "receive bound -> ok after 5000 -> timeout end."
    )


async def locate(e: ErlNode) -> str:
    return await e.eval(f"gen_server:call({MK}, {LOCATE}, 10000).")


async def test_api_lookup_answered_by_the_same_node(epmd: int) -> None:
    """The api caller waits for a lookup its own node answers: no deadlock."""
    async with running_server(epmd) as server, erl_node("e1@127.0.0.1", epmd_port=epmd) as e:
        await start_handler(e, "e1")
        with trio.fail_after(10):
            reply = await locate(e)
        assert reply.startswith("{ok,<<") and 'user id=\\"e1\\"' in reply
        assert server.fetch.pending_count() == 0


async def test_fetch_request_carries_the_fetch_headers(epmd: int) -> None:
    async with running_server(epmd), erl_node("e1@127.0.0.1", epmd_port=epmd) as e:
        await e.eval(f"ok = gen_server:call({MK}, {{bind, directory}}).")
        await e.eval(f"Caller = spawn(fun() -> gen_server:call({MK}, {LOCATE}, 10000) end).")
        request = await e.term("receive {fetch, JObj} -> JObj after 5000 -> timeout end.")
        fields = dict(request[0])
        assert fields[b"Fetch-Section"] == b"directory"
        assert fields[b"Fetch-Tag"] == b"domain"
        assert fields[b"Fetch-Key-Name"] == b"name"
        assert fields[b"Fetch-Key-Value"] == b"example.com"
        assert fields[b"Kazoo-Bundle"] == b"community"
        # ecallmgr routes on these; the default profiles' fetch-info definition makes them.
        assert fields[b"Fetch-Version"] == b"community"
        assert fields[b"Event-Category"] == b"fetch"
        assert fields[b"Switch-Nodename"] == b"freeswitch@127.0.0.1"
        assert len(fields[b"Fetch-UUID"]) == 36
        assert int(fields[b"Fetch-Timeout"]) > 0
        assert int(fields[b"Fetch-Timestamp-Micro"]) > 0


async def test_late_reply_is_baduuid(epmd: int) -> None:
    async with (
        running_server(epmd, profiles_xml=directory_profile(200_000)) as server,
        erl_node("e1@127.0.0.1", epmd_port=epmd) as e,
    ):
        await start_handler(e, "late", mode="late")
        # The lookup times out; xml_locate then finds nothing.
        assert await locate(e) == '{ok,<<"can\'t find anything\\n">>}'
        assert server.fetch.pending_count() == 0
        await e.eval("receive {fetched, _} -> ok after 5000 -> timeout end.")
        assert (
            await e.eval("Handler_late ! go, receive {late, R} -> R after 5000 -> timeout end.")
            == "{error,baduuid}"
        )


async def test_round_robin_and_failover_between_nodes(epmd: int) -> None:
    async with (
        # A long timeout: only failover, not the timeout, can make the last lookup quick.
        running_server(epmd, profiles_xml=directory_profile(60_000_000)) as server,
        erl_node("e1@127.0.0.1", epmd_port=epmd) as e1,
        erl_node("e2@127.0.0.1", epmd_port=epmd) as e2,
    ):
        await start_handler(e1, "e1")
        await start_handler(e2, "e2")
        answers = []
        for _ in range(4):
            reply = await locate(e1)
            answers.append(
                "e1" if 'id=\\"e1\\"' in reply else "e2" if 'id=\\"e2\\"' in reply else reply
            )
        assert sorted(answers) == ["e1", "e1", "e2", "e2"]
        assert answers[0] != answers[1] and answers[1] != answers[2]
        # e1's handler now stops its whole node when asked; lookups fail over to e2 at once.
        await e1.eval("exit(Handler_reply, kill).")
        await start_handler(e1, "e1", mode="halt")
        with trio.fail_after(3):
            for _ in range(2):
                reply = await locate(e2)
                assert 'id=\\"e2\\"' in reply, reply
        assert server.fetch.handlers("directory")[0][0].name == "e2@127.0.0.1"


async def test_handler_death_removes_it(epmd: int) -> None:
    async with running_server(epmd) as server, erl_node("e1@127.0.0.1", epmd_port=epmd) as e:
        await start_handler(e, "e1")
        assert server.fetch.handlers("directory")
        await e.eval("exit(Handler_reply, kill).")
        await wait_until(lambda: not server.fetch.handlers("directory"), timeout=5)
        # Nobody to ask: the lookup is an immediate miss, not a timeout.
        with trio.fail_after(2):
            assert await locate(e) == '{ok,<<"can\'t find anything\\n">>}'
