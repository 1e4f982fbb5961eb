"""mod_kazoo's own applications and commands on the real FreeSWITCH, driven from ``erl``.

The route response is ecallmgr's park response exactly as the simulated switch's test
builds it (``kz_multiset_encoded``, ``kz_prefix_unset``, inline conditions); FreeSWITCH
has no ``kz_*`` application, so it only works if kazoo_trio rewrote it.
"""

from __future__ import annotations

import pytest

from kazoo_trio.switch.event import Event
from tests.ecallmgr import CCV_STREAM, PARK_ROUTER, erl_headers
from tests.erlnode import ErlNode, erl_node
from tests.freeswitch.fsmin import FreeSwitch
from tests.freeswitch.kazoo_helpers import E1, kazoo_over
from tests.kazoo.server_harness import MK
from tests.waiting import wait_until

pytestmark = pytest.mark.erl


@pytest.fixture
def fs(shared_fs: FreeSwitch) -> FreeSwitch:
    return shared_fs


async def api_text(e: ErlNode, command: str, args: str) -> str:
    reply = await e.term(f'gen_server:call({MK}, {{api, {command}, <<"{args}">>}}, 10000).')
    assert reply[0].name == "ok", reply
    return bytes(reply[1]).decode()


async def streamed(e: ErlNode) -> list[tuple[bytes, ...]]:
    return list(
        await e.term(
            "(fun() -> Watcher ! {get, self()},"
            " receive {events, Evs} -> Evs after 5000 -> timeout end end)()."
        )
    )


async def test_park_route_response_and_kz_commands_on_freeswitch(fs: FreeSwitch, epmd: int) -> None:
    async with kazoo_over(fs, epmd) as backend, erl_node(E1, epmd_port=epmd) as e:
        assert await e.eval(PARK_ROUTER) == "ok"
        assert await e.eval(CCV_STREAM) == "ok"
        completed: list[Event] = []
        started: list[Event] = []
        backend.add_listener(
            lambda ev: completed.append(ev) if ev.name == "CHANNEL_EXECUTE_COMPLETE" else None
        )
        backend.add_listener(
            lambda ev: started.append(ev) if ev.name == "CHANNEL_EXECUTE" else None
        )
        await backend.listeners_followed()
        bgapi = (
            f"{{ok, J}} = gen_server:call({MK}, {{bgapi, originate, "
            '<<"{sip_h_X-Drop=1}loopback/4000/answered &park">>}),'
            "receive {bgok, J, R} -> R; {bgerror, J, R} -> {error, R} after 8000 -> timeout end."
        )
        reply = await e.term(bgapi)
        assert isinstance(reply, bytes) and reply.startswith(b"+OK "), reply
        routed = await e.term("receive {routed, Q, C} -> {Q, C} after 5000 -> timeout end.")
        queue, b = routed[0].decode(), routed[1].decode()

        async def parked() -> bool:
            text = await api_text(e, "uuid_getvar", f"{b} Call-Control-Queue")
            return text == queue

        # kz_multiset_encoded became multiset with the decoded values.
        await wait_until(parked, timeout=5, interval=0.1)
        assert await api_text(e, "uuid_getvar", f"{b} ecallmgr_Account-ID") == "acc1"
        assert await api_text(e, "uuid_getvar", f"{b} ecallmgr_Ecallmgr-Node") == E1
        assert (await api_text(e, "uuid_getvar", f"{b} Call-Control-PID")).startswith("<")
        # Call control's noop completes through Kazoo's filter, named as it was sent,
        # with its response and the CCVs.
        noop = erl_headers(
            ("call-command", "execute"),
            ("execute-app-name", "noop"),
            ("execute-app-arg", "msg-1"),
            ("event-uuid-name", "noop"),
        )
        reply = await e.term(f'gen_server:call({MK}, {{command, <<"{b}">>, {noop}}}).')
        assert reply[0].name == "ok", reply

        async def noop_completed() -> bool:
            wanted = (b"CHANNEL_EXECUTE_COMPLETE", b.encode(), b"noop", b"msg-1", b"acc1")
            return wanted in await streamed(e)

        await wait_until(noop_completed, timeout=5, interval=0.1)
        # kz_multiset_encoded by sendmsg, as ecallmgr's set command sends it.
        kz_set = erl_headers(
            ("call-command", "execute"),
            ("execute-app-name", "kz_multiset_encoded"),
            ("execute-app-arg", "^^|ecallmgr_Owner-ID=own%201|kt_flag=yes"),
            ("event-uuid-name", "set"),
        )
        reply = await e.term(f'gen_server:call({MK}, {{command, <<"{b}">>, {kz_set}}}).')
        assert reply[0].name == "ok", reply

        def set_completed() -> bool:
            return any(ev.get("Application") == "kz_multiset_encoded" for ev in completed)

        # One completion named as sent (Kazoo's filter drops it: event-uuid-name set);
        # the stock steps before it carry no event-uuid-name.
        await wait_until(set_completed, timeout=5, interval=0.05)
        assert await api_text(e, "uuid_getvar", f"{b} ecallmgr_Owner-ID") == "own 1"
        done = completed[-1]
        assert done.get("Application-Data") == "^^|ecallmgr_Owner-ID=own%201|kt_flag=yes"
        assert done.get("Application-UUID-Name") == "set"
        steps = [ev for ev in completed if ev.get("Application") == "multiset"]
        assert steps and steps[0].get("Application-UUID-Name") is None
        # kz_moh (several stock steps): its one completion, named kz_moh for Kazoo's
        # filters, reaches Kazoo's stream (named by its event-uuid-name) with mod_kazoo's
        # response.
        moh = erl_headers(
            ("call-command", "execute"),
            ("execute-app-name", "kz_moh"),
            ("execute-app-arg", "tone_stream://%(100,0,440)"),
            ("event-uuid-name", "moh"),
        )
        reply = await e.term(f'gen_server:call({MK}, {{command, <<"{b}">>, {moh}}}).')
        assert reply[0].name == "ok", reply

        async def moh_completed() -> bool:
            wanted = (
                b"CHANNEL_EXECUTE_COMPLETE", b.encode(), b"moh", b"MOH FILE PLAYED", b"acc1",
            )  # fmt: skip
            return wanted in await streamed(e)

        await wait_until(moh_completed, timeout=5, interval=0.1)
        assert any(ev.get("Application") == "kz_moh" for ev in completed)
        # kz_endless_playback (ecallmgr's hold music, an endless source) plays until
        # interrupted, then answers as mod_kazoo does.
        hold = erl_headers(
            ("call-command", "execute"),
            ("execute-app-name", "kz_endless_playback"),
            ("execute-app-arg", "tone_stream://%(100,100,440);loops=-1"),
            ("event-uuid-name", "hold"),
        )
        reply = await e.term(f'gen_server:call({MK}, {{command, <<"{b}">>, {hold}}}).')
        assert reply[0].name == "ok", reply

        def holding() -> bool:
            return any(ev.get("Application") == "kz_endless_playback" for ev in started)

        await wait_until(holding, timeout=5, interval=0.05)
        assert await api_text(e, "uuid_break", b) == "+OK\n"

        async def hold_completed() -> bool:
            wanted = (
                b"CHANNEL_EXECUTE_COMPLETE", b.encode(), b"hold", b"PLAYBACK_INTERRUPTED",
                b"acc1",
            )  # fmt: skip
            return wanted in await streamed(e)

        await wait_until(hold_completed, timeout=5, interval=0.1)
        # ecallmgr_fs_command:set: the kz_uuid_setvar_multi_encoded API.
        setvar = await api_text(
            e, "kz_uuid_setvar_multi_encoded", f"{b} ^^;kt_a=one%3Btwo;kt_b=x%20y"
        )
        assert setvar == "+OK\n"
        assert await api_text(e, "uuid_getvar", f"{b} kt_a") == "one;two"
        assert await api_text(e, "uuid_getvar", f"{b} kt_b") == "x y"
        assert await api_text(e, "kz_uuid_setvar", f"{b} kt_b") == "+OK\n"
        assert await api_text(e, "uuid_getvar", f"{b} kt_b") == "_undef_"
        missing = await api_text(e, "kz_uuid_setvar_multi_encoded", "no-such ^^;a=b")
        assert missing.startswith("-ERR No such channel!")
        # kz_expand reads the channel's live data; kz_eval expands on the channel.
        expanded = await api_text(e, "kz_expand", f"uuid:{b} ${{variable_kt_a}}")
        assert expanded == "+OK one;two"
        evaluated = await api_text(e, "kz_eval", f"uuid:{b} <${{kt_a}}>")
        assert evaluated == "+OK <one;two>"
        assert backend.channel_exists(b)
        assert await api_text(e, "uuid_kill", b) == "+OK\n"

        async def destroyed() -> bool:
            return any(ev[:2] == (b"CHANNEL_DESTROY", b.encode()) for ev in await streamed(e))

        await wait_until(destroyed, timeout=5, interval=0.1)
