"""Node names, gen_server message helpers and the mailbox primitives."""

from __future__ import annotations

import socket

import pytest
import trio
import trio.testing

from kazoo_trio.erlang import (
    Envelope,
    GenCall,
    GenCast,
    complete_node_name,
    parse_gen,
    split_node_name,
)
from kazoo_trio.erlang.gen_server import alias_of
from kazoo_trio.erlang.mailbox import Mailbox, MailboxClosed
from kazoo_trio.erlang.names import NodeIdentity, is_long_name
from kazoo_trio.erlang.process_table import ProcessTable
from kazoo_trio.term import Atom, ImproperList, Pid, Reference


def test_node_names() -> None:
    assert complete_node_name("a@b") is Atom("a@b")
    short = socket.gethostname().split(".")[0]
    assert complete_node_name("fs") is Atom(f"fs@{short}")
    assert split_node_name("fs@h.example.com") == ("fs", "h.example.com")
    assert is_long_name("x@127.0.0.1") and not is_long_name("x@vm")
    for bad in ("@h", "a@", "", "nohost"):
        with pytest.raises(ValueError):
            split_node_name(bad)
    with pytest.raises(ValueError):
        complete_node_name("a@")
    if "." in socket.getfqdn():
        assert complete_node_name("fs", long_names=True).name == f"fs@{socket.getfqdn()}"
    else:
        with pytest.raises(ValueError, match="no domain"):
            complete_node_name("fs", long_names=True)


def test_gen_messages() -> None:
    caller = Pid("e@h", 1)
    ref = Reference("e@h", 1, (1, 2, 3))
    alias_tag = ImproperList([Atom("alias")], ref)
    call = parse_gen(Envelope(caller, (Atom("$gen_call"), (caller, alias_tag), b"req")))
    assert call == GenCall(caller, alias_tag, b"req")
    assert parse_gen(Envelope(None, (Atom("$gen_cast"), 5))) == GenCast(5)
    assert parse_gen(Envelope(None, (Atom("$gen_call"), ("not", "a pid"), 1))) is None
    assert parse_gen(Envelope(None, b"plain")) is None
    assert alias_of(alias_tag) is ref
    assert alias_of(ImproperList([alias_tag], Atom("extra"))) is ref  # [[alias|Ref]|_]
    assert alias_of(ref) is None
    assert alias_of(ImproperList([Atom("other")], ref)) is None


async def test_mailbox_order_close_and_bound() -> None:
    box: Mailbox[int] = Mailbox(2)
    assert box.put(1) and box.put(2) and not box.put(3)
    assert box.dropped == 1
    assert await box.get() == 1
    assert box.get_nowait() == 2
    with pytest.raises(trio.WouldBlock):
        box.get_nowait()
    async with trio.open_nursery() as nursery:
        got: list[object] = []

        async def reader() -> None:
            try:
                got.append(await box.get())
                await box.get()
            except MailboxClosed:
                got.append("closed")

        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        box.put(7)
        await trio.testing.wait_all_tasks_blocked()
        box.close()
    assert got == [7, "closed"]
    assert not box.put(8)
    with pytest.raises(ValueError):
        Mailbox(0)


async def test_a_parked_receiver_is_woken_by_put_and_by_close() -> None:
    box: Mailbox[int] = Mailbox(4)
    got: list[int] = []

    async def receive() -> None:
        got.append(await box.get())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive)
        await trio.testing.wait_all_tasks_blocked()
        box.put(7)
    assert got == [7]
    closed: list[MailboxClosed] = []

    async def receive_closed() -> None:
        try:
            await box.get()
        except MailboxClosed as exc:
            closed.append(exc)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(receive_closed)
        await trio.testing.wait_all_tasks_blocked()
        box.close()
    assert len(closed) == 1
    # A cancelled receiver leaves nothing parked behind.
    other: Mailbox[int] = Mailbox(4)
    with trio.move_on_after(0.01):
        await other.get()
    assert other.put(1) and other.get_nowait() == 1


def test_process_table_identities_and_names() -> None:
    identity = NodeIdentity(Atom("py@127.0.0.1"), creation=3)
    table = ProcessTable(identity)
    first, second = table.make_pid(), table.make_pid()
    assert (first.node, first.creation) == (identity.name, 3) and first != second
    identity.creation = 4
    ref = table.make_ref()
    assert ref.node is identity.name and ref.creation == 4
    assert table.make_ref() != ref
    assert table.whereis(Atom("nobody")) is None and table.registered() == []
