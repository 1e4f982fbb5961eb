"""Profiles end to end from real ``erl`` nodes.

* the whole ``kazoo.conf`` loop: an Erlang configuration handler receives the
  lookup and answers with the profile set ecallmgr assembles from Kazoo's
  profile files; an existing stream's events change shape, and lookups use the
  pushed fetch profiles;
* ``KZ_CDR`` reaches only the stream of the Erlang node that controls the call
  (``Target-Node``), with the built-in profiles and with Kazoo's.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from kazoo_trio.kazoo.server import ModKazooServer
from kazoo_trio.term.types import Atom
from tests.erlnode import ErlNode, erl_node
from tests.kazoo.profile_support import kazoo_conf_document, require_profiles
from tests.kazoo.server_harness import FS, MK, running_server
from tests.waiting import wait_until

pytestmark = pytest.mark.erl

E1 = "e1@127.0.0.1"
E2 = "e2@127.0.0.1"
CALL = "6f0b3c1a-9d2e-4c7b-8a51-3e9f2d4c1b70"

# The profiles in force before the push: CHANNEL_CREATE carries a marker only.
INITIAL = (
    '<configuration name="kazoo.conf"><event-handlers><profile name="default">'
    '<event name="CHANNEL_CREATE"><fields verbose="false">'
    '<field name="Kind" type="static" value="initial"/><field name="Unique-ID"/>'
    "</fields></event></profile></event-handlers></configuration>"
)

_fresh = itertools.count()


def fresh() -> str:
    return f"W{next(_fresh)}"


async def open_stream(e: ErlNode, tag: str, atoms: str) -> None:
    """Owner ``S_<tag>``: asks for a stream of ``atoms``, connects, forwards each frame
    (decoded) to the shell as ``{frame_<tag>, Term}``."""
    await e.eval(
        f"Sh_{tag} = self(),"
        f"S_{tag} = spawn(fun() ->"
        f"  {{ok, {{Ip, Port}}}} = gen_server:call({MK}, {{event, {atoms}}}, 5000),"
        "  {ok, Addr} = inet_parse:address(Ip),"
        "  {ok, Sock} = gen_tcp:connect(Addr, Port, [binary, {packet, 2}, {active, true}]),"
        f"  Sh_{tag} ! {{connected_{tag}}},"
        f"  Loop = fun L() -> receive {{tcp, _, D}} -> Sh_{tag} ! {{frame_{tag}, "
        "    binary_to_term(D)}, L() end end,"
        "  Loop() end),"
        f"receive {{connected_{tag}}} -> ok after 5000 -> timeout end."
    )


async def frame(e: ErlNode, tag: str, timeout_ms: int = 5000) -> object:
    v = fresh()
    return await e.term(
        f"receive {{frame_{tag}, {v}}} -> {v} after {timeout_ms} -> timeout end.",
        timeout=timeout_ms / 1000 + 5,
    )


def obj(event: object) -> dict[bytes, object]:
    assert isinstance(event, tuple) and event[:2] == (Atom("event"), Atom("json")), event
    return dict(event[2][0])


def channel_create(call_id: str) -> str:
    return (
        f"gen_server:cast({MK}, {{sendevent, 'CHANNEL_CREATE', ["
        f'{{<<"Unique-ID">>, <<"{call_id}">>}},'
        '{<<"Call-Direction">>, <<"inbound">>},'
        '{<<"Channel-State">>, <<"CS_INIT">>},'
        '{<<"Caller-Caller-ID-Number">>, <<"1000">>},'
        '{<<"variable_ecallmgr_Account-ID">>, <<"acc-1">>},'
        '{<<"variable_ecallmgr_Realm">>, <<"example.com">>}]}).'
    )


def connected(server: ModKazooServer, node: str) -> bool:
    streams = server.streams.streams_of(Atom(node))
    return bool(streams) and all(s.connected for _, s in streams)


async def test_kazoo_conf_loop_with_kazoos_profiles(epmd: int, tmp_path: Path) -> None:
    folder = require_profiles()
    document = tmp_path / "kazoo.conf.xml"
    document.write_text(kazoo_conf_document(folder))
    async with (
        running_server(epmd, profiles_xml=INITIAL, delay_before_initial_fetch=0.3) as server,
        erl_node(E1, epmd_port=epmd) as e,
    ):
        # A stream that exists before the push.
        await open_stream(e, "cc", "['CHANNEL_CREATE']")
        await wait_until(lambda: connected(server, E1))
        await e.eval(channel_create(CALL))
        before = obj(await frame(e, "cc"))
        timestamp = before.pop(b"Event-Timestamp")  # always added
        assert isinstance(timestamp, int)
        assert before == {b"Kind": b"initial", b"Unique-ID": CALL.encode()}
        # ecallmgr's configuration handler: answers kazoo.conf with the document,
        # reports what it was asked.
        await e.eval(
            f'{{ok, Doc}} = file:read_file("{document}"),'
            "Shell = self(),"
            "Conf = spawn(fun() ->"
            f"  ok = gen_server:call({MK}, {{bind, configuration}}),"
            "  Loop = fun L() -> receive {fetch, {Props}} ->"
            '    U = proplists:get_value(<<"Fetch-UUID">>, Props),'
            "    Shell ! {asked, Props},"
            f"    gen_server:cast({MK}, {{fetch_reply, configuration, U, Doc}}), L() end end,"
            "  Loop() end)."
        )
        asked = await e.term("receive {asked, P} -> P after 5000 -> timeout end.")
        props = dict(asked)
        assert props[b"Action"] == b"request-handlers"
        assert props[b"Fetch-Key-Value"] == b"kazoo.conf"
        assert props[b"Fetch-Section"] == b"configuration"
        assert props[b"Event-Category"] == b"fetch"
        assert props[b"Fetch-Version"] == b"community"  # ecallmgr's handler matches on it
        await wait_until(lambda: server.kazoo_conf.lookups == 1)
        profiles = server.profiles.current
        assert profiles is not None and "KZ_CDR" in profiles.event_names
        # The same stream, the next event: Kazoo's call_event shape.
        await e.eval(channel_create(CALL))
        after = obj(await frame(e, "cc"))
        assert b"Kind" not in after
        assert after[b"Event-Category"] == b"call_event"
        assert after[b"Event-Name"] == b"CHANNEL_CREATE"
        assert after[b"Call-ID"] == CALL.encode()
        assert after[b"Node"] == FS.encode()
        assert isinstance(after[b"Timestamp"], int) and after[b"Timestamp"] > 63_000_000_000
        ccv_term = after[b"Custom-Channel-Vars"]
        assert isinstance(ccv_term, tuple)
        ccv = dict(ccv_term[0])
        assert ccv[b"Account-ID"] == b"acc-1" and ccv[b"Realm"] == b"example.com"
        # A dialplan lookup now uses Kazoo's voice_dialplan fetch profile.
        await e.eval(
            f"ok = gen_server:call({MK}, {{bind, dialplan}}),"
            "spawn(fun() -> gen_server:call("
            f'{MK}, {{api, xml_locate, <<"dialplan context name context_2">>}}, 10000) end).'
        )
        request = await e.term("receive {fetch, J} -> J after 5000 -> timeout end.")
        route = dict(request[0])
        assert route[b"Event-Category"] == b"dialplan"
        assert route[b"Event-Name"] == b"route_req"
        assert len(route[b"Fetch-UUID"]) == 36
        assert route[b"Fetch-Timeout"] == 3_500_000  # an integer, from the profile
        # config asks again; Kazoo's handler answers the same document: still in force.
        assert await e.eval(f"gen_server:call({MK}, config).") == "ok"
        await e.eval("receive {asked, _} -> ok after 5000 -> timeout end.")
        await wait_until(lambda: server.kazoo_conf.lookups == 2)


CDR = (
    "gen_server:cast({mk}, {{sendevent, 'CUSTOM', 'KZ_CDR', ["
    '{{<<"Unique-ID">>, <<"{call}">>}},'
    '{{<<"variable_Call-Control-Node">>, <<"{node}">>}},'
    '{{<<"variable_hangup_cause">>, <<"NORMAL_CLEARING">>}},'
    '{{<<"variable_duration">>, <<"12">>}}]}}).'
)


@pytest.mark.parametrize("profiles", ["built-in", "kazoo"])
async def test_kz_cdr_reaches_only_the_controlling_node(epmd: int, profiles: str) -> None:
    pushed = kazoo_conf_document(require_profiles()) if profiles == "kazoo" else None
    async with (
        running_server(epmd, profiles_xml=pushed) as server,
        erl_node(E1, epmd_port=epmd) as e1,
        erl_node(E2, epmd_port=epmd) as e2,
    ):
        await open_stream(e1, "cdr", "['KZ_CDR']")
        await open_stream(e2, "cdr", "['KZ_CDR']")
        await wait_until(lambda: connected(server, E1) and connected(server, E2))
        await e1.eval(CDR.format(mk=MK, call="call-of-e1", node=E1))
        await e1.eval(CDR.format(mk=MK, call="call-of-e2", node=E2))
        first_e1 = obj(await frame(e1, "cdr"))
        first_e2 = obj(await frame(e2, "cdr"))
        assert (first_e1[b"Event-Category"], first_e1[b"Event-Name"]) == (b"cdr", b"report")
        assert first_e1[b"Call-ID"] == b"call-of-e1"
        assert first_e2[b"Call-ID"] == b"call-of-e2"
        # Each stream's filter rejected the other node's CDR: not sent at all.
        for node in (E1, E2):
            ((_, stream),) = server.streams.streams_of(Atom(node))
            assert stream.stats.events_filtered == 1
            assert stream.stats.events_sent == 1
        assert await e1.eval("receive {frame_cdr, X} -> X after 300 -> none end.") == "none"
