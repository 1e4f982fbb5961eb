"""The channel table of the simulated core.

Channels, calls and dialplan applications live here once they exist; the core and
its commands only go through this registry, so they work unchanged when it fills.
Layer: bottom (no imports from the simulated core).
"""

from __future__ import annotations

import sys
from typing import Protocol

import attrs

from kazoo_trio.switch.event import Event

__all__ = ["SHARED_TEXT_MAX", "ChannelRegistry", "SimChannel", "shared_text"]

# Longer texts are mostly ids, different in every call.
SHARED_TEXT_MAX = 40


def shared_text(text: str) -> str:
    """One copy of a short text for every channel that keeps it: variable names,
    application names and short values (nodes, accounts, flags) repeat call after
    call but arrive as new strings (parsed from each lookup reply or command), and a
    call keeps them as long as it lasts."""
    if len(text) <= SHARED_TEXT_MAX and type(text) is str:
        return sys.intern(text)
    return text


class SimChannel(Protocol):
    """What the core needs from a channel."""

    @property
    def uuid(self) -> str: ...

    def event_headers(self) -> list[tuple[str, str]]:
        """``Unique-ID``, ``Channel-*``, ``Caller-*``, ``variable_*``, in FreeSWITCH order."""
        ...

    def get_variable(self, name: str) -> str | None: ...

    async def queue_private_event(self, event: Event) -> None: ...


@attrs.define
class ChannelRegistry:
    """Live channels by UUID, plus the counters ``status`` reports."""

    _channels: dict[str, SimChannel] = attrs.field(factory=dict, init=False)
    created_total: int = attrs.field(default=0, init=False)
    peak: int = attrs.field(default=0, init=False)
    # switch_core_session_request numbers every session it makes, from 1, whether or
    # not it is ever registered (a loopback pair takes two before either is).
    _session_ids: int = attrs.field(default=0, init=False)

    def next_session_id(self) -> int:
        self._session_ids += 1
        return self._session_ids

    def add(self, channel: SimChannel) -> None:
        """Register ``channel``; ``ValueError`` if its UUID is taken."""
        if channel.uuid in self._channels:
            raise ValueError(f"channel {channel.uuid} exists")
        self._channels[channel.uuid] = channel
        self.created_total += 1
        self.peak = max(self.peak, len(self._channels))

    def remove(self, uuid: str) -> SimChannel | None:
        return self._channels.pop(uuid, None)

    def get(self, uuid: str) -> SimChannel | None:
        return self._channels.get(uuid)

    def __contains__(self, uuid: object) -> bool:
        return uuid in self._channels

    def __len__(self) -> int:
        return len(self._channels)

    def uuids(self) -> list[str]:
        return list(self._channels)
