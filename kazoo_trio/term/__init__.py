"""The Erlang external term format: value types and the codec (sans-IO)."""

from kazoo_trio.term.types import (
    Atom,
    BitString,
    Export,
    Fun,
    ImproperList,
    Pid,
    Port,
    Reference,
)

__all__ = [
    "Atom",
    "BitString",
    "Export",
    "Fun",
    "ImproperList",
    "Pid",
    "Port",
    "Reference",
]
