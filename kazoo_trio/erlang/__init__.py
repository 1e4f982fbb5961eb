"""Erlang distribution: a hidden Erlang node in Python, and what it hands out.

The embedding API:

- :class:`Node` (``async with Node(name, cookie=...) as node``) and its node
  events :class:`NodeUp` / :class:`NodeDown` (``node.monitor_nodes()``);
  :data:`EpmdMode` says which EPMD it uses;
- :class:`Process` (``async with node.process(name) as proc``), the
  :class:`Envelope` its messages arrive in and the :data:`Dest` they are
  sent to, :data:`DEFAULT_MAILBOX_SIZE`;
- gen_server conventions: :func:`serve`, :func:`reply`, :func:`parse_gen`
  giving :class:`GenCall` / :class:`GenCast`;
- errors, all :class:`~kazoo_trio.errors.KazooTrioError`: :class:`CallError`,
  :class:`ProcessExit`, :class:`MailboxClosed` while running;
  :class:`CookieError`, :class:`DuplicateName`, :class:`EpmdError` when
  starting a node;
- node names: :func:`complete_node_name`, :func:`split_node_name`.

The wire formats (:mod:`kazoo_trio.erlang.wire`), the handshake, EPMD and the
node's parts (:mod:`.process_table`, :mod:`.links`, :mod:`.peers`,
:mod:`.signals`, :mod:`.dispatch`) are importable from their modules.
"""

from kazoo_trio.erlang.cookie import CookieError
from kazoo_trio.erlang.epmd import DuplicateName, EpmdError, EpmdMode
from kazoo_trio.erlang.gen_server import GenCall, GenCast, reply, serve
from kazoo_trio.erlang.gen_server import parse as parse_gen
from kazoo_trio.erlang.mailbox import DEFAULT_MAILBOX_SIZE, MailboxClosed
from kazoo_trio.erlang.names import complete_node_name, split_node_name
from kazoo_trio.erlang.node import Node, NodeDown, NodeUp
from kazoo_trio.erlang.process import CallError, Dest, Envelope, Process, ProcessExit

__all__ = [
    "DEFAULT_MAILBOX_SIZE",
    "CallError",
    "CookieError",
    "Dest",
    "DuplicateName",
    "Envelope",
    "EpmdError",
    "EpmdMode",
    "GenCall",
    "GenCast",
    "MailboxClosed",
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
