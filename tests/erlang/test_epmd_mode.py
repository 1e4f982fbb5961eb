"""ensure_epmd: which EPMD the node ends up using."""

from __future__ import annotations

import logging
from functools import partial

import pytest
import trio

from kazoo_trio.erlang.epmd import EpmdError, ensure_epmd, keep_registered, names, port_please
from tests.erlnode import erl_node, free_port

pytestmark = pytest.mark.erl


async def test_auto_starts_embedded_when_nothing_listens(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kazoo_trio.erlang.epmd")
    port = free_port()
    async with trio.open_nursery() as nursery:
        assert await ensure_epmd("auto", nursery, port=port) is True
        assert any("embedded EPMD" in r.getMessage() for r in caplog.records)
        # It serves at once: our registration and a real erl node.
        await nursery.start(partial(keep_registered, "kt_auto", 5610, port=port))
        async with erl_node("kt_auto_erl@127.0.0.1", epmd_port=port) as node:
            assert '{"kt_auto",5610}' in await node.eval("net_adm:names().")
            assert "kt_auto_erl" in dict(await names(port=port))
        nursery.cancel_scope.cancel()
    # Cancelling the nursery stopped it.
    with pytest.raises(EpmdError, match="cannot connect"):
        await names(port=port)


async def test_auto_uses_a_running_epmd(epmd: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kazoo_trio.erlang.epmd")
    async with trio.open_nursery() as nursery:
        assert await ensure_epmd("auto", nursery, port=epmd) is False
        assert not nursery.child_tasks
        assert any("already running" in r.getMessage() for r in caplog.records)
        await nursery.start(partial(keep_registered, "kt_ext", 5611, port=epmd))
        entry = await port_please("kt_ext", port=epmd)
        assert entry is not None and entry.port == 5611
        nursery.cancel_scope.cancel()


async def test_embedded_fails_clearly_when_port_taken(epmd: int) -> None:
    async with trio.open_nursery() as nursery:
        with pytest.raises(EpmdError, match=f"cannot start the embedded EPMD on 127.0.0.1:{epmd}"):
            await ensure_epmd("embedded", nursery, port=epmd)
        assert not nursery.child_tasks


async def test_external_starts_nothing() -> None:
    port = free_port()
    async with trio.open_nursery() as nursery:
        assert await ensure_epmd("external", nursery, port=port) is False
        assert not nursery.child_tasks
        # ... so registering fails later, before the node starts.
        with pytest.raises(EpmdError, match="cannot connect"):
            await nursery.start(partial(keep_registered, "kt_none", 5612, port=port))


async def test_embedded_mode_and_unknown_mode() -> None:
    port = free_port()
    async with trio.open_nursery() as nursery:
        assert await ensure_epmd("embedded", nursery, port=port) is True
        assert await names(port=port) == []
        with pytest.raises(ValueError, match="unknown EPMD mode"):
            await ensure_epmd("bogus", nursery, port=port)  # type: ignore[arg-type]
        nursery.cancel_scope.cancel()


async def test_reregisters_with_restarted_embedded_epmd() -> None:
    # The node's registration survives its EPMD going away and coming back.
    port = free_port()
    send, receive = trio.open_memory_channel[int](10)
    async with trio.open_nursery() as nursery:
        with trio.CancelScope() as first_epmd:
            async with trio.open_nursery() as epmd_nursery:
                await ensure_epmd("embedded", epmd_nursery, port=port)
                first = await nursery.start(
                    partial(
                        keep_registered,
                        "kt_back",
                        5613,
                        port=port,
                        on_creation=send.send_nowait,
                        retry_interval=0.1,
                    )
                )
                first_epmd.cancel()
        async with trio.open_nursery() as epmd_nursery:
            await ensure_epmd("embedded", epmd_nursery, port=port)
            with trio.fail_after(5):
                creation = await receive.receive()
            assert creation > 0 and first > 0
            entry = await port_please("kt_back", port=port)
            assert entry is not None and entry.port == 5613
            epmd_nursery.cancel_scope.cancel()
        nursery.cancel_scope.cancel()
