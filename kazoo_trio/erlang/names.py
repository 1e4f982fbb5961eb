"""Node names: completing ``alive`` to ``alive@host`` the way ``erl`` does, and splitting them.

:class:`NodeIdentity` is this node's full name with the creation EPMD gave
it, shared by the parts of the node that stamp pids and references or
introduce the node to peers.

A node name is ``alive@host``.  Whether it is a *short* name (``-sname``,
host without dots) or a *long* one (``-name``, host with dots or an IP
address) matters: Erlang nodes of the two kinds do not talk to each other,
and the name in the handshake challenge must be exactly the one the peer
dialed.
"""

from __future__ import annotations

import socket

import attrs

from kazoo_trio.term.types import Atom

__all__ = ["NodeIdentity", "complete_node_name", "is_long_name", "split_node_name"]


@attrs.define(eq=False)
class NodeIdentity:
    """Who this node is: its name, and its creation (0 until registered with EPMD)."""

    name: Atom
    creation: int = 0


def split_node_name(name: Atom | str) -> tuple[str, str]:
    """``(alive, host)`` of ``alive@host``; ``ValueError`` unless there is exactly one ``@``.

    Both parts must be non-empty, as ``dist_util:is_node_name/1`` requires: a
    second ``@`` would make a name no Erlang node can dial.
    """
    text = name.name if isinstance(name, Atom) else name
    alive, at, host = text.partition("@")
    if not at or not alive or not host or "@" in host:
        raise ValueError(
            f"node name {text!r} is not of the form alive@host (one '@', both parts non-empty)"
        )
    if len(alive) > 255:
        raise ValueError(f"node name {text!r}: the alive part is longer than 255 characters")
    return alive, host


def is_long_name(name: Atom | str) -> bool:
    """Whether ``name`` is a long (``-name``) node name: its host part has a dot."""
    return "." in split_node_name(name)[1]


def complete_node_name(name: str, *, long_names: bool = False) -> Atom:
    """``name`` as a full node name atom.

    A name with ``@`` is taken verbatim (after checking both parts are
    non-empty).  A bare ``alive`` gets the host appended as ``erl`` does: the
    short host name (up to the first dot) for short names, the fully
    qualified domain name for long names.  Raises ``ValueError`` for a name
    that cannot be completed (e.g. long names on a host without a domain).
    """
    if "@" in name:
        split_node_name(name)
        return Atom(name)
    if not name:
        raise ValueError("empty node name")
    hostname = socket.gethostname()
    if long_names:
        host = socket.getfqdn(hostname)
        if "." not in host:
            raise ValueError(
                f"cannot make a long node name for {name!r}: host {host!r} has no domain; "
                "give the full name (e.g. name@127.0.0.1)"
            )
    else:
        host = hostname.split(".", 1)[0]
    return Atom(f"{name}@{host}")
