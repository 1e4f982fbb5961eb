"""The events and lookups of controlled calls on the simulated switch, for the encoders.

:func:`capture_calls` runs a :class:`~kazoo_trio.switch.sim.SimSwitch` in this
process and places ``calls`` inbound calls the way ``--sim-traffic`` does.  Each is
routed by a dialplan handler answering with ecallmgr's park route response (the XML
:data:`tests.ecallmgr.PARK_ROUTER` builds: log, exports, the Custom-Channel-Vars and
the control queue by ``kz_multiset_encoded``, the ``kazoo::route_winner`` event,
``park``), then controlled as :mod:`benchmarks.controller` does it: ``sendmsg``
execute ``answer``, then ``playback``, then ``sendmsg`` hangup ``NORMAL_CLEARING``,
each a ``SEND_MESSAGE`` event queued to the channel as the server queues it.

What comes back is what the event stream of :data:`benchmarks.controller.EVENTS`
hands its encoder (the stream's copy from
:func:`~kazoo_trio.kazoo.streams.encoding.prepare`, with the binding it matched),
in firing order, and the dialplan lookups as a fetch agent sends them
(``Fetch-*`` headers added, values URL-decoded).
"""

from __future__ import annotations

import uuid

import attrs
import trio

from benchmarks.controller import EVENTS
from kazoo_trio.kazoo.fetch.agents import request_event
from kazoo_trio.kazoo.streams.encoding import prepare
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import XmlLookup
from kazoo_trio.switch.sim import SimSwitch, SimTimings
from kazoo_trio.switch.sim.channel import Channel
from kazoo_trio.switch.sim.session import route
from kazoo_trio.switch.sim.traffic import TrafficGenerator, TrafficSpec

__all__ = ["CallEvents", "capture_calls"]

TARGET_NODE = "ecallmgr@kazoo1.example.net"
_TIMINGS = SimTimings(ring_delay=0.0, answer_delay=0.0, playback=0.01, record=0.01)
_ACCOUNT = "4fe69f4fa7ad4a3c85a1b1f4c3a4f2e1"


@attrs.frozen
class CallEvents:
    """``events``: (binding, prepared event) as the stream encodes them, in order;
    ``lookups``: (section, request event) as the fetch agent builds them."""

    events: tuple[tuple[str, Event], ...]
    lookups: tuple[tuple[str, Event], ...]
    switch_nodename: str


def _escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _element(tag: str, **attributes: str) -> str:
    body = "".join(f' {key}="{_escape(value)}"' for key, value in attributes.items())
    return f"<{tag}{body}/>"


def _action(application: str, data: str | None = None, tag: str = "action", **more: str) -> str:
    if data is None:
        return _element(tag, application=application, **more)
    return _element(tag, application=application, data=data, **more)


def park_route(context: str, fetch_uuid: str, node: str) -> str:
    """ecallmgr's park route response, as :data:`tests.ecallmgr.PARK_ROUTER` writes it."""
    queue = f"ecallmgr_call_control-{fetch_uuid}"
    pid = "<0.4242.0>"
    ccvs = [
        ("Application-Name", "callflow"),
        ("Application-Node", node),
        ("Account-ID", _ACCOUNT),
        ("Authorizing-Type", "device"),
    ]
    ring = "%(2000,4000,440,480)"
    extension = [
        _action("log", f"NOTICE log|${{uuid}}|{node} won call control"),
        _action("export", f"ecallmgr_Ecallmgr-Node={node}"),
        '<condition field="${sip_h_k-cid}" expression="^$">'
        + _action("export", "sip_h_k-cid=${uuid}", inline="true")
        + _action("export", "sip_h_k-cid=${sip_h_k-cid}", tag="anti-action", inline="true")
        + "</condition>",
        '<condition field="${ecallmgr_Bridge-ID}" expression="^$">'
        + _action("export", "ecallmgr_Bridge-ID=${UUID}", inline="true")
        + "</condition>",
        _action("set", f"ringback={ring}"),
        _action("set", f"transfer_ringback={ring}"),
        _action("kz_multiset_encoded", "^^|" + "|".join(f"ecallmgr_{k}={v}" for k, v in ccvs)),
        _action("kz_prefix_unset", "sip_h_X-"),
        _action(
            "kz_multiset_encoded",
            f"^^;Call-Control-Queue={queue};Call-Control-PID={pid}"
            f";ecallmgr_Ecallmgr-Node={node};Call-Control-Node={node};Fetch-UUID={fetch_uuid}",
        ),
        _action(
            "event",
            ",".join(
                [
                    "Event-Subclass=kazoo::route_winner",
                    "Event-Name=CUSTOM",
                    "Event-Category=dialplan",
                    f"Routing-Queue={queue}",
                    f"Request-From-PID={pid}",
                    "Controller-Queue=callflow_queue",
                    f"Fetch-UUID={fetch_uuid}",
                ]
            ),
        ),
        _action("park"),
    ]
    return (
        '<document type="freeswitch/xml">'
        '<section name="dialplan" description="Route Park Response">'
        f'<context name="{_escape(context)}"><extension name="park"><condition>'
        + "".join(extension)
        + "</condition></extension></context></section></document>"
    )


def _binding(event: Event) -> str | None:
    name = event.subclass if event.name == "CUSTOM" and event.subclass else event.name
    return name if name in EVENTS else None


def _sendmsg(sw: SimSwitch, headers: list[tuple[str, str]]) -> Event:
    return sw.new_event("SEND_MESSAGE", headers=headers)


def _execute(sw: SimSwitch, application: str, argument: str, event_uuid: str) -> Event:
    return _sendmsg(
        sw,
        [
            ("call-command", "execute"),
            ("execute-app-name", application),
            ("execute-app-arg", argument),
            ("event-uuid", event_uuid),
            ("event-uuid-name", application),
        ],
    )


async def _capture(calls: int) -> CallEvents:
    sw = SimSwitch(timings=_TIMINGS)
    nodename = f"freeswitch@{sw.identity.hostname}"
    events: list[tuple[str, Event]] = []
    lookups: list[tuple[str, Event]] = []
    changed = trio.Event()
    seen: list[Event] = []

    def listen(event: Event) -> None:
        nonlocal changed
        binding = _binding(event)
        if binding is not None:
            events.append((binding, prepare(event, TARGET_NODE, nodename)))
        seen.append(event)
        changed.set()
        changed = trio.Event()

    async def wait_for(uuid_: str, name: str, application: str | None = None) -> None:
        with trio.fail_after(10):
            start = 0
            while True:
                for event in seen[start:]:
                    if (
                        (event.name == name or event.subclass == name)
                        and event.get("Unique-ID") == uuid_
                        and (application is None or event.get("Application") == application)
                    ):
                        return
                start = len(seen)
                await changed.wait()

    async def router(lookup: XmlLookup) -> str | None:
        fetch_uuid = str(uuid.uuid4())
        lookups.append(
            (
                lookup.section,
                request_event(
                    lookup,
                    fetch_uuid,
                    nodename=nodename,
                    timeout_us=2000000,
                    timestamp_us=1700000000123456,
                ),
            )
        )
        return park_route(lookup.key_value or "context_2", fetch_uuid, TARGET_NODE)

    sw.add_listener(listen)
    sw.bind_xml(["dialplan"], router)
    traffic = TrafficGenerator(sw, TrafficSpec(rate=1.0, hold=3600.0))
    async with trio.open_nursery() as nursery:
        await nursery.start(sw.run)
        for n in range(1, calls + 1):
            channel: Channel = traffic.new_call(n)
            await sw.start_channel(channel, route)
            call = channel.uuid
            await wait_for(call, "kazoo::route_winner")
            await sw.queue_private_event(call, _execute(sw, "answer", "", f"answer-{call}"))
            await wait_for(call, "CHANNEL_ANSWER")
            playback = _execute(sw, "playback", "silence_stream://100", f"playback-{call}")
            await sw.queue_private_event(call, playback)
            await wait_for(call, "CHANNEL_EXECUTE_COMPLETE", "playback")
            hangup = [("call-command", "hangup"), ("hangup-cause", "NORMAL_CLEARING")]
            await sw.queue_private_event(call, _sendmsg(sw, hangup))
            await wait_for(call, "CHANNEL_DESTROY")
        nursery.cancel_scope.cancel()
    return CallEvents(tuple(events), tuple(lookups), nodename)


def capture_calls(calls: int = 8) -> CallEvents:
    """The stream's events and the dialplan lookups of ``calls`` controlled calls."""
    return trio.run(_capture, calls)
