"""The one way tests wait for a condition: poll it, bounded by a deadline.

Tests that need something to have happened (a connection closed, a counter
reached, an Erlang process linked) wait for that condition with :func:`wait_until`
instead of sleeping a guessed time: they go on as soon as it holds, and a
condition that never holds fails the test with a message naming it, not with a
bare ``TooSlowError``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

import trio

__all__ = ["WaitTimeout", "wait_until"]


class WaitTimeout(AssertionError, trio.TooSlowError):
    """A condition did not hold in time.

    An ``AssertionError`` so that pytest reports it as a failed check, and a
    ``TooSlowError`` so that code expecting ``trio.fail_after``'s exception still
    catches it.
    """


async def wait_until(
    predicate: Callable[[], object] | Callable[[], Awaitable[object]],
    timeout: float = 10.0,
    interval: float = 0.01,
    *,
    what: str | None = None,
) -> None:
    """Return as soon as ``predicate()`` is true; fail after ``timeout`` seconds.

    ``predicate`` may be a coroutine function (e.g. one asking an erl node), then
    each poll awaits it.  It is checked at once, then every ``interval`` seconds;
    ``timeout`` is a bound on the whole wait, including the time the predicate
    itself takes.  ``what`` describes the condition in the failure message (by
    default the predicate's source text).
    """
    try:
        with trio.fail_after(timeout):
            while True:
                result = predicate()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return
                await trio.sleep(interval)
    except trio.TooSlowError:
        raise WaitTimeout(
            f"still false after {timeout:g} s: {what or _describe(predicate)}"
        ) from None


def _describe(predicate: Callable[[], object]) -> str:
    name = getattr(predicate, "__qualname__", repr(predicate))
    if name.endswith("<lambda>"):
        try:
            # The whole source line of the call, which names the condition.
            return inspect.getsource(predicate).strip()
        except (OSError, TypeError):
            pass
    return name
