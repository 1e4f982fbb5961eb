"""A tiny Python Erlang node with one gen_server, ``echo``.

Run it::

    python examples/echo_node.py echo@127.0.0.1 --cookie secret

then, from an Erlang shell started with ``erl -name a@127.0.0.1 -setcookie secret``::

    1> net_adm:ping('echo@127.0.0.1').
    pong
    2> gen_server:call({echo, 'echo@127.0.0.1'}, hello).
    {ok,hello}
    3> gen_server:cast({echo, 'echo@127.0.0.1'}, {note, 1}).   % printed by the node
    ok

The node uses the EPMD on 127.0.0.1:4369, or starts an embedded one if none runs.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from typing import Any

import trio

from kazoo_trio.erlang import Node, NodeDown, NodeUp, serve
from kazoo_trio.term import Atom, Pid


async def main(name: str, cookie: str | None, port: int) -> None:
    async with Node(name, cookie=cookie, listen_port=port) as node:
        print(f"node {node.name} listening on port {node.port} (creation {node.creation})")

        async def handle_call(request: Any, sender: Pid) -> Any:
            return (Atom("ok"), request)

        async def handle_cast(request: Any) -> None:
            print(f"cast: {request!r}")

        async def report_nodes() -> None:
            async with node.monitor_nodes() as events:
                async for event in events:
                    if isinstance(event, NodeUp):
                        print(f"{event.node} connected")
                    elif isinstance(event, NodeDown):
                        print(f"{event.node} disconnected ({event.reason})")

        async with trio.open_nursery() as nursery, node.process("echo") as proc:
            nursery.start_soon(report_nodes)
            await serve(proc, handle_call, handle_cast)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="node name, e.g. echo@127.0.0.1")
    parser.add_argument("--cookie", help="default: ~/.erlang.cookie")
    parser.add_argument("--port", type=int, default=0, help="listen port (default: any)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(main, args.name, args.cookie, args.port)
