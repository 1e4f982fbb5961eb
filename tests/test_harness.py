"""The test harness itself: real erl nodes through a private epmd, and waiting for conditions."""

from __future__ import annotations

import pytest
import trio

from tests.erlnode import ErlError, erl_node, erl_until
from tests.waiting import WaitTimeout, wait_until


@pytest.mark.erl
async def test_two_erl_nodes_ping_through_private_epmd(epmd: int) -> None:
    async with (
        erl_node("h1@127.0.0.1", epmd_port=epmd) as a,
        erl_node("h2@127.0.0.1", epmd_port=epmd) as b,
    ):
        assert await a.eval("X = 1 + 1.") == "2"
        assert await a.eval("X * 21.") == "42"  # bindings persist
        assert await a.eval("net_adm:ping('h2@127.0.0.1').") == "pong"
        assert await b.eval("nodes().") == "['h1@127.0.0.1']"
        with pytest.raises(ErlError, match="badarith"):
            await a.eval("1 + a.")
        # A condition that becomes true a little later, so erl_until has to poll.
        await a.eval("ets:new(kt_flag, [named_table, public]).")
        await a.eval("spawn(fun() -> timer:sleep(50), ets:insert(kt_flag, {up}) end).")
        await erl_until(a, "ets:member(kt_flag, up)")


async def test_wait_until_returns_once_the_condition_holds(
    autojump_clock: trio.abc.Clock,
) -> None:
    polls: list[float] = []

    def ready() -> bool:
        polls.append(trio.current_time())
        return len(polls) == 3

    start = trio.current_time()
    await wait_until(ready, interval=0.5)
    assert [t - start for t in polls] == [0.0, 0.5, 1.0]
    await wait_until(lambda: True, timeout=0)  # a true condition needs no time at all


async def test_wait_until_awaits_async_predicates(autojump_clock: trio.abc.Clock) -> None:
    answers = iter([0, 0, 1])

    async def asked() -> int:
        await trio.sleep(0.1)  # a round trip, e.g. to an erl node
        return next(answers)

    await wait_until(asked)


async def test_wait_until_fails_with_the_condition_it_waited_for(
    autojump_clock: trio.abc.Clock,
) -> None:
    items: list[int] = []
    with pytest.raises(WaitTimeout, match=r"still false after 2 s: .*len\(items\) == 1"):
        await wait_until(lambda: len(items) == 1, timeout=2)
    # Caught as a failed check and as trio's own timeout alike.
    with pytest.raises(AssertionError, match="the queue drained"):
        await wait_until(lambda: False, timeout=1, what="the queue drained")
    with pytest.raises(trio.TooSlowError):
        await wait_until(lambda: False, timeout=1)
