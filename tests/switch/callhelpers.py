"""Helpers for the simulated switch's call tests: a running switch and an event recorder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import XmlLookup
from kazoo_trio.switch.sim import SimSwitch, SimTimings

QUICK = SimTimings(ring_delay=0.05, answer_delay=0.0, playback=0.05, record=0.05)


class Recorder:
    """Every event the switch fires, with a way to wait for one."""

    def __init__(self, sw: SimSwitch) -> None:
        self.events: list[Event] = []
        self._changed = trio.Event()
        self.remove = sw.add_listener(self._on_event)

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 5) -> Event:
        with trio.fail_after(timeout):
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                await self._changed.wait()

    async def wait_event(
        self, name: str, uuid: str | None = None, timeout: float = 5, **headers: str
    ) -> Event:
        def match(event: Event) -> bool:
            if event.name != name and event.subclass != name:
                return False
            if uuid is not None and event.get("Unique-ID") != uuid:
                return False
            return all(event.get(k.replace("_", "-")) == v for k, v in headers.items())

        return await self.wait_for(match, timeout)

    def of(self, uuid: str, skip: tuple[str, ...] = ("API",)) -> list[Event]:
        return [e for e in self.events if e.get("Unique-ID") == uuid and e.name not in skip]

    def names(self, uuid: str) -> list[str]:
        out = []
        for e in self.of(uuid):
            label = e.subclass if e.name == "CUSTOM" and e.subclass else e.name
            if e.name == "CHANNEL_STATE":
                label += ":" + (e.get("Channel-State") or "")
            elif e.name == "CHANNEL_CALLSTATE":
                label += ":" + (e.get("Channel-Call-State") or "")
            elif e.name.startswith("CHANNEL_EXECUTE"):
                label += ":" + (e.get("Application") or "")
            out.append(label)
        return out


@asynccontextmanager
async def running_switch(
    timings: SimTimings = QUICK, **kwargs: object
) -> AsyncIterator[tuple[SimSwitch, Recorder]]:
    sw = SimSwitch(timings=timings, **kwargs)  # type: ignore[arg-type]
    recorder = Recorder(sw)
    async with trio.open_nursery() as nursery:
        await nursery.start(sw.run)
        yield sw, recorder
        nursery.cancel_scope.cancel()


def dialplan_document(context: str, extensions: str) -> str:
    return (
        '<document type="freeswitch/xml"><section name="dialplan">'
        f'<context name="{context}">{extensions}</context></section></document>'
    )


def extension(actions: list[tuple[str, str]], expression: str = "", name: str = "x") -> str:
    field = f' field="destination_number" expression="{expression}"' if expression else ""
    body = "".join(f'<action application="{a}" data="{d}"/>' for a, d in actions)
    return f'<extension name="{name}"><condition{field}>{body}</condition></extension>'


def bind_dialplan(sw: SimSwitch, document: str, seen: list[XmlLookup] | None = None) -> None:
    async def handler(lookup: XmlLookup) -> str | None:
        if seen is not None:
            seen.append(lookup)
        return document

    sw.bind_xml(["dialplan"], handler)


def bind_directory(sw: SimSwitch, domain: str, users: str) -> None:
    document = (
        '<document type="freeswitch/xml"><section name="directory">'
        f'<domain name="{domain}"><users>{users}</users></domain></section></document>'
    )

    async def handler(lookup: XmlLookup) -> str | None:
        return document if lookup.key_value == domain else None

    sw.bind_xml(["directory"], handler)
