"""Erlang distribution: EPMD, handshake, framing, connections and the local node.

The public surface is :class:`Node` and what it hands out: :class:`Process`
(with :class:`Envelope` messages), node events (:class:`NodeUp`,
:class:`NodeDown`), errors (:class:`CallError`, :class:`ProcessExit`, and
:class:`CookieError`, :class:`DuplicateName`, :class:`EpmdError` from
starting a node) and the gen_server helpers (:class:`GenCall`,
:class:`GenCast`, :func:`parse_gen`, :func:`reply`, :func:`serve`).
"""

from kazoo_trio.erlang.cookie import CookieError
from kazoo_trio.erlang.epmd import DuplicateName, EpmdError
from kazoo_trio.erlang.gen_server import GenCall, GenCast, reply, serve
from kazoo_trio.erlang.gen_server import parse as parse_gen
from kazoo_trio.erlang.mailbox import DEFAULT_MAILBOX_SIZE
from kazoo_trio.erlang.names import complete_node_name, split_node_name
from kazoo_trio.erlang.node import Node, NodeDown, NodeUp
from kazoo_trio.erlang.process import CallError, Envelope, Process, ProcessExit

__all__ = [
    "DEFAULT_MAILBOX_SIZE",
    "CallError",
    "CookieError",
    "DuplicateName",
    "Envelope",
    "EpmdError",
    "GenCall",
    "GenCast",
    "Node",
    "NodeDown",
    "NodeUp",
    "Process",
    "ProcessExit",
    "complete_node_name",
    "parse_gen",
    "reply",
    "serve",
    "split_node_name",
]
