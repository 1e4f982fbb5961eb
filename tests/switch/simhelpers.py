"""Shared helpers for the simulated core's tests."""

from __future__ import annotations

import attrs

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.identity import discover_identity
from kazoo_trio.switch.sim import SimSwitch

# 2001-09-09 01:46:40 UTC, a well-known instant.
BILLENNIUM_US = 1_000_000_000 * 1_000_000


@attrs.define
class FakeClock:
    wall: int = BILLENNIUM_US
    mono: int = 5_000_000

    def wall_us(self) -> int:
        return self.wall

    def monotonic_us(self) -> int:
        return self.mono


def make_switch(**kwargs: object) -> tuple[SimSwitch, FakeClock]:
    clock = FakeClock()
    identity = discover_identity(
        hostname="fs1.example.com",
        switchname="fs1",
        ipv4="10.1.2.3",
        ipv6="fd00::3",
        core_uuid="0f0e0d0c-0b0a-4908-8706-050403020100",
    )
    return SimSwitch(identity=identity, clock=clock, **kwargs), clock  # type: ignore[arg-type]


def collect(sw: SimSwitch) -> list[Event]:
    events: list[Event] = []
    sw.add_listener(events.append)
    return events


def names(headers: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> list[str]:
    return [name for name, _ in headers]
