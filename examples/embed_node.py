"""Embed the kazoo_trio node (mod_kazoo server + simulated switch) in a trio program.

Run it::

    python examples/embed_node.py --name freeswitch@127.0.0.1 --cookie change_me

It starts the node, places a call of its own on the simulated switch every few
seconds (``null/`` endpoint, parked, hung up after a while), and prints the channel
events the switch fires.  Meanwhile Erlang nodes can connect to it as to FreeSWITCH:
``gen_server:call({mod_kazoo, 'freeswitch@127.0.0.1'}, {api, 'show', <<"channels">>})``.
Ctrl-C stops everything: calls are hung up, the node unregisters from EPMD.
"""

from __future__ import annotations

import argparse
import contextlib
import logging

import trio

from kazoo_trio.kazoo import Settings, serve
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.sim import SimSwitch, SimTimings

SHOWN = {"CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_PARK", "CHANNEL_HANGUP", "CHANNEL_DESTROY"}


def show(event: Event) -> None:
    if event.name in SHOWN:
        print(f"{event.name:<16} {event.get('Unique-ID')} {event.get('Channel-Name')} "
              f"{event.get('Hangup-Cause') or ''}")  # fmt: skip


async def place_calls(switch: SimSwitch, every: float, calls: int) -> None:
    """A call every ``every`` seconds, each hung up two seconds later."""
    for n in range(calls):
        result = await switch.api("originate", f"null/{1000 + n} &park()")
        print("originate:", result.text.strip())
        uuid = result.text.split()[-1]
        await trio.sleep(2)
        await switch.api("uuid_kill", uuid)
        await trio.sleep(max(0.0, every - 2))


async def main(name: str, cookie: str | None, epmd_port: int, calls: int) -> None:
    settings = Settings(nodename=name, cookie=cookie, listen_ip="127.0.0.1", epmd_port=epmd_port)
    switch = SimSwitch(timings=SimTimings(ring_delay=1.0))
    remove = switch.add_listener(show)
    try:
        async with trio.open_nursery() as nursery:
            # serve() reports the running server once Erlang nodes can connect.
            await nursery.start(serve, settings, switch)
            print(f"node {name} is up")
            await place_calls(switch, 4.0, calls)
            nursery.cancel_scope.cancel()
    finally:
        remove()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--name", default="freeswitch@127.0.0.1")
    parser.add_argument("--cookie")
    parser.add_argument("--epmd-port", type=int, default=4369)
    parser.add_argument("--calls", type=int, default=3, help="calls to place, then stop")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Ctrl-C unwinds trio.run: the switch hangs up its calls on the way out.
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(main, args.name, args.cookie, args.epmd_port, args.calls)
