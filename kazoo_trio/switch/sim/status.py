"""The figures ``status``, ``HEARTBEAT`` and ``node.info`` report, in FreeSWITCH's units.
Layer: bottom (no imports from the simulated core)."""

from __future__ import annotations

import functools
import resource

__all__ = ["stack_sizes_kb", "uptime_parts", "uptime_text"]


def uptime_parts(us: int) -> tuple[int, int, int, int, int, int, int]:
    """``switch_core_measure_time``: years, days, hours, minutes, seconds, ms, µs."""
    micro = us % 1000
    rest = us // 1000
    milli = rest % 1000
    rest //= 1000
    seconds = rest % 60
    rest //= 60
    minutes = rest % 60
    rest //= 60
    hours = rest % 24
    rest //= 24
    return rest // 365, rest % 365, hours, minutes, seconds, milli, micro


def uptime_text(us: int) -> str:
    """``0 years, 0 days, 1 hour, ...`` as the ``status`` command and HEARTBEAT print it."""
    # One format instead of a join over the units: ``status`` prints this per call.
    y, d, h, m, s, ms, mu = uptime_parts(us)
    return (
        f"{y} year{_S[y == 1]}, {d} day{_S[d == 1]}, {h} hour{_S[h == 1]},"
        f" {m} minute{_S[m == 1]}, {s} second{_S[s == 1]},"
        f" {ms} millisecond{_S[ms == 1]}, {mu} microsecond{_S[mu == 1]}"
    )


# The plural ending by "the count is one".
_S = ("s", "")


# Read once: ``status`` prints it per call, getrlimit is a system call, and the
# limit changes only if this process sets it, which it never does.
@functools.cache
def stack_sizes_kb() -> tuple[int, int]:
    """``switch_core_get_stacksizes`` / 1024: the process stack rlimit (soft, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    infinity = 2**64 - 1  # RLIM_INFINITY as the size_t FreeSWITCH divides
    soft = infinity if soft == resource.RLIM_INFINITY else soft
    hard = infinity if hard == resource.RLIM_INFINITY else hard
    return soft // 1024, hard // 1024
