"""The streams' bindings, by name, for a switch that subscribes to events by name: it
hears of every change, and the ``event`` request waits until it delivers what was bound."""

from __future__ import annotations

import attrs
import trio

from kazoo_trio.kazoo.config import Settings
from kazoo_trio.kazoo.requests.options import OptionsTable
from kazoo_trio.kazoo.streams.bindings import Bindings
from kazoo_trio.kazoo.streams.table import StreamTable
from kazoo_trio.switch.bus import EVERY_EVENT, EventNames
from kazoo_trio.switch.protocol import FollowsListeners
from kazoo_trio.term.types import Atom, Pid

NODE = Atom("e@127.0.0.1")


def names(*core: str, subclasses: tuple[str, ...] = ()) -> EventNames:
    return EventNames(frozenset(core), frozenset(subclasses))


@attrs.define
class Follower:
    """A switch that records what the table told it, and holds ``listeners_followed``
    until released."""

    table: StreamTable | None = None
    seen: list[EventNames] = attrs.field(factory=list)
    followed: int = 0
    release: trio.Event = attrs.field(factory=trio.Event)

    def listeners_changed(self) -> None:
        assert self.table is not None
        self.seen.append(self.table.wanted_names())

    async def listeners_followed(self) -> None:
        await self.release.wait()
        self.followed += 1


def test_bindings_name_what_they_match() -> None:
    b = Bindings()
    assert b.event_names() == names()
    b.add(["channel_create", "SWITCH_EVENT_CHANNEL_ANSWER", "CUSTOM", "Kt::Sub", "kt::sub"])
    # The first spelling of a subclass is what is matched (case-sensitively).
    assert b.event_names() == names("CHANNEL_CREATE", "CHANNEL_ANSWER", subclasses=("Kt::Sub",))
    b.remove(["CHANNEL_CREATE", "CUSTOM", "kt::sub"])
    assert b.event_names() == names("CHANNEL_ANSWER")
    b.add(["ALL"])
    assert b.event_names() == EVERY_EVENT
    b.clear()
    assert b.event_names() == names()


async def test_the_follower_hears_every_change_and_event_waits_for_it() -> None:
    follower = Follower()
    assert isinstance(follower, FollowsListeners)
    table = StreamTable(OptionsTable(Settings()), "fs@h", listen_ip="127.0.0.1", follower=follower)
    follower.table = table
    a, b = Pid(NODE, 1, 0, 1), Pid(NODE, 2, 0, 1)
    async with trio.open_nursery() as nursery:
        await nursery.start(table.run)
        done = trio.Event()

        async def bind() -> None:
            await table.subscribe(a, NODE, ["CHANNEL_CREATE", "CUSTOM", "kt::a"], "127.0.0.1")
            done.set()

        nursery.start_soon(bind)
        await trio.testing.wait_all_tasks_blocked()
        # Bound, told, and the request waits until the switch delivers it.
        assert follower.seen == [names("CHANNEL_CREATE", subclasses=("kt::a",))]
        assert not done.is_set()
        follower.release.set()
        with trio.fail_after(5):
            await done.wait()
        assert follower.followed == 1
        await table.subscribe(b, NODE, ["CHANNEL_DESTROY"], "127.0.0.1")
        assert follower.seen[-1] == names(
            "CHANNEL_CREATE", "CHANNEL_DESTROY", subclasses=("kt::a",)
        )
        stream = table.get(a)
        assert stream is not None
        stream.bindings.remove(["CHANNEL_CREATE"])
        table.bindings_changed()
        assert follower.seen[-1] == names("CHANNEL_DESTROY", subclasses=("kt::a",))
        await table.close(b)
        assert follower.seen[-1] == names(subclasses=("kt::a",))
        await table.subscribe(b, NODE, ["ALL"], "127.0.0.1")
        assert follower.seen[-1] == EVERY_EVENT
        assert await table.close_node(NODE) == 2
        assert follower.seen[-1] == names()
        nursery.cancel_scope.cancel()
