"""The stream table hands new streams to its run() without waiting, and owns their tasks."""

from __future__ import annotations

import pytest
import trio

from kazoo_trio.errors import RequestError
from kazoo_trio.kazoo.config import Settings
from kazoo_trio.kazoo.requests.options import OptionsTable
from kazoo_trio.kazoo.streams import table as table_module
from kazoo_trio.kazoo.streams.table import StreamsBusy, StreamTable
from kazoo_trio.term.types import Atom, Pid
from tests.waiting import wait_until

NODE = Atom("e@127.0.0.1")


def new_table() -> StreamTable:
    return StreamTable(OptionsTable(Settings()), "fs@h", listen_ip="127.0.0.1")


async def test_a_stream_created_before_run_starts_with_it() -> None:
    streams = new_table()
    pid = Pid(NODE, 1, 0, 1)
    created, (_, port) = await streams.subscribe(pid, NODE, ["ALL"], "127.0.0.1")
    assert created and streams.get(pid) is not None
    # The listener is open already: a client may connect before the stream's task runs.
    client = await trio.open_tcp_stream("127.0.0.1", port)
    async with client, trio.open_nursery() as nursery:
        await nursery.start(streams.run)
        stream = streams.get(pid)
        assert stream is not None
        await wait_until(lambda: stream.connected)
        nursery.cancel_scope.cancel()
    assert len(streams) == 0


async def test_a_full_backlog_refuses_the_stream_and_keeps_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(table_module, "STARTING_BACKLOG", 1)
    streams = new_table()
    await streams.subscribe(Pid(NODE, 1, 0, 1), NODE, ["ALL"], "127.0.0.1")
    with pytest.raises(StreamsBusy) as refused:
        await streams.subscribe(Pid(NODE, 2, 0, 1), NODE, ["ALL"], "127.0.0.1")
    assert isinstance(refused.value, RequestError)
    assert len(streams) == 1 and streams.get(Pid(NODE, 2, 0, 1)) is None


async def test_cancelling_run_closes_the_streams_not_started() -> None:
    streams = new_table()
    _, (_, port) = await streams.subscribe(Pid(NODE, 1, 0, 1), NODE, ["ALL"], "127.0.0.1")
    with trio.CancelScope() as scope:
        scope.cancel()
        await streams.run()
    assert len(streams) == 0
    with pytest.raises(OSError):
        await trio.open_tcp_stream("127.0.0.1", port)
