"""Per-connection options and the ``erlang`` API command that reads and sets them.

Every connected Erlang node has its own options: the framing and keepalive
of the event streams it creates next, and whether its events and fetch
requests use the legacy encoding.  They start from the settings on every new
connection and are forgotten when the connection goes away, as in mod_kazoo.

ecallmgr changes them with ``{api, erlang, <<"node ecallmgr@h option
enable-legacy false">>}``; :class:`ErlangCommand` answers those texts exactly
as mod_kazoo's ``erlang`` command does (always success, ``+OK …``/``-ERR …``
in the text; no output when no connection matches).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

import attrs

from kazoo_trio.kazoo.config import Settings, parse_bool
from kazoo_trio.term.types import Atom

__all__ = [
    "USAGE",
    "ConnectionOptions",
    "Diagnostics",
    "ErlangCommand",
    "OptionsTable",
]

USAGE = """\
erlang status
erlang event_filter
erlang nodes list
erlang nodes count
erlang node <node_name> disconnect
erlang node <node_name> connection
erlang node <node_name> event_streams
erlang node <node_name> fetch_bindings
erlang node <node_name> option <option> [<value>]
  options: event-stream-framing (1|2|4), event-stream-keepalive (bool), enable-legacy (bool)
"""


@attrs.define
class ConnectionOptions:
    """The runtime options of one Erlang node's connection."""

    framing: int
    keepalive: bool
    legacy: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionOptions:
        return cls(
            framing=settings.event_stream_framing,
            keepalive=settings.event_stream_keep_alive,
            legacy=settings.legacy_events,
        )


@attrs.define
class OptionsTable:
    """Options of every connected node, newest connection first for prefix lookups."""

    settings: Settings
    _nodes: dict[Atom, ConnectionOptions] = attrs.field(factory=dict)

    def connected(self, node: Atom) -> ConnectionOptions:
        """The options of a node that connected: the defaults, unless a request of this
        connection already got (and perhaps changed) them."""
        options = self._nodes.get(node)
        if options is None:
            options = ConnectionOptions.from_settings(self.settings)
            self._nodes[node] = options
        return options

    def disconnected(self, node: Atom) -> None:
        """Forget the node's options: its next connection starts from the defaults."""
        self._nodes.pop(node, None)

    def get(self, node: Atom) -> ConnectionOptions:
        """The node's options; a node seen for the first time gets the defaults."""
        return self.connected(node)

    def nodes(self) -> list[Atom]:
        """Connected nodes, newest first."""
        return list(reversed(self._nodes))

    def find(self, text: str) -> Atom | None:
        """mod_kazoo's match: the newest node whose name is a *prefix* of ``text``."""
        for node in self.nodes():
            if text.startswith(node.name):
                return node
        return None

    def any_legacy(self) -> bool:
        return any(o.legacy for o in self._nodes.values())

    def any_non_legacy(self) -> bool:
        return any(not o.legacy for o in self._nodes.values())


class Diagnostics(Protocol):
    """What the server tells the ``erlang`` command about a node (human-readable lines)."""

    def status_lines(self) -> list[str]: ...

    def event_filter_lines(self) -> list[str]: ...

    def connection_lines(self, node: Atom) -> list[str]: ...

    def event_stream_lines(self, node: Atom) -> list[str]: ...

    def fetch_binding_lines(self, node: Atom) -> list[str]: ...


def _lines(lines: Sequence[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


@attrs.define
class ErlangCommand:
    """The ``erlang`` FreeSWITCH API command.

    :meth:`run` returns the output text; the command always succeeds, so the
    caller reports ``{ok, Text}`` (and mod_kazoo's "Command returned no
    output" when the text is empty).  ``disconnect`` drops a node's
    connection; it is awaited, so ``erlang node N disconnect`` returns once
    the node is gone.
    """

    options: OptionsTable
    diagnostics: Diagnostics
    disconnect: Callable[[Atom], Awaitable[None]]

    async def run(self, args: str) -> str:
        words = args.split()
        if not words:
            return USAGE
        if words == ["status"]:
            return _lines(self.diagnostics.status_lines())
        if words == ["event_filter"]:
            return _lines(self.diagnostics.event_filter_lines())
        if words == ["nodes", "list"]:
            return _lines([node.name for node in self.options.nodes()])
        if words == ["nodes", "count"]:
            return f"{len(self.options.nodes())}\n"
        if len(words) >= 3 and words[0] == "node":
            node = self.options.find(words[1])
            if node is None:
                return ""
            return await self._node_command(node, words[2:])
        return USAGE

    async def _node_command(self, node: Atom, words: list[str]) -> str:
        if words == ["disconnect"]:
            await self.disconnect(node)
            return f"+OK {node.name} disconnected\n"
        if words == ["connection"]:
            return _lines(self.diagnostics.connection_lines(node))
        if words == ["event_streams"]:
            return _lines(self.diagnostics.event_stream_lines(node))
        if words == ["fetch_bindings"]:
            return _lines(self.diagnostics.fetch_binding_lines(node))
        if words[0] == "option" and len(words) in (2, 3):
            return option_command(self.options.get(node), words[1], words[2:])
        return USAGE


def option_command(options: ConnectionOptions, name: str, value: Sequence[str]) -> str:
    """Get (``value`` empty) or set one option; mod_kazoo's answer texts."""
    if name == "event-stream-framing":
        if value:
            try:
                framing = int(value[0])
            except ValueError:
                framing = 0
            if framing not in (1, 2, 4):
                return f"-ERR Invalid event stream framing value ({value[0]})"
            options.framing = framing
        return f"+OK {options.framing}"
    if name == "event-stream-keepalive":
        if value:
            try:
                options.keepalive = parse_bool(value[0])
            except ValueError:
                return f"-ERR Invalid event stream keepalive value ({value[0]})"
        return f"+OK {int(options.keepalive)}"
    if name == "enable-legacy":
        if value:
            try:
                options.legacy = parse_bool(value[0])
            except ValueError:
                return f"-ERR Invalid enable-legacy value ({value[0]})"
        return f"+OK {'true' if options.legacy else 'false'}"
    return f"-ERR invalid option {name}"
