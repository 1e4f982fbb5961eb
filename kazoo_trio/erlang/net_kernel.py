"""The registered process ``net_kernel``: just enough of OTP's to make ``net_adm:ping`` work.

``net_adm:ping(Node)`` is ``gen_server:call({net_kernel, Node}, {is_auth,
CallerNode}, infinity)``; a node that does not answer makes ping hang (no
timeout) or return ``pang``.  Any other request to ``net_kernel`` is logged
and left unanswered, as the C node does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from kazoo_trio.erlang import gen_server
from kazoo_trio.erlang.process import Process, ProcessExit
from kazoo_trio.term.types import Atom

if TYPE_CHECKING:
    from kazoo_trio.erlang.node import Node

__all__ = ["run_net_kernel"]

log = logging.getLogger("kazoo_trio.erlang.net_kernel")

A_NET_KERNEL = Atom("net_kernel")
A_IS_AUTH = Atom("is_auth")
A_YES = Atom("yes")


async def run_net_kernel(
    node: Node, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve ``net_kernel`` on ``node`` until cancelled (``started()`` once registered).

    An exit signal that kills the process (``exit(Pid, kill)`` from a peer)
    is logged and the process is started again under the same name.
    """
    while True:
        try:
            async with node.process(A_NET_KERNEL) as proc:
                if task_status is not trio.TASK_STATUS_IGNORED:
                    task_status.started()
                    task_status = trio.TASK_STATUS_IGNORED
                await _serve(proc)
        except ProcessExit as exc:
            log.warning("net_kernel was killed (%r); restarting it", exc.reason)


async def _serve(proc: Process) -> None:
    while True:
        envelope = await proc.receive()
        msg = gen_server.parse(envelope)
        if (
            type(msg) is gen_server.GenCall
            and type(msg.request) is tuple
            and len(msg.request) == 2
            and msg.request[0] is A_IS_AUTH
        ):
            await gen_server.reply(proc, msg, A_YES)
        else:
            log.info("net_kernel: ignoring %r from %r", envelope.message, envelope.sender)
