"""How API outcomes become Erlang replies (``api``, ``api4``, ``bgapi``, ``bgapi4``).

Shared by the synchronous requests and the background jobs so that a
``bgapi`` result text is exactly the text the same ``api`` would have given.
"""

from __future__ import annotations

from collections.abc import Callable

from kazoo_trio.kazoo.requests.arguments import to_binary
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.protocol import ApiResult
from kazoo_trio.term.types import Atom

__all__ = ["api_outcome", "legacy_header_list"]

A_UNDEFINED = Atom("undefined")


def api_outcome(command: str, result: ApiResult) -> tuple[bool, str]:
    """``(success, text)`` by mod_kazoo's table.

    Output-less results get mod_kazoo's texts, except that a command that
    exists and failed silently says so instead of "Command not found".
    """
    if result.ok:
        return True, result.text or f"{command}: Command returned no output"
    if result.text:
        return False, result.text
    if result.found:
        return False, f"{command}: Command failed without output"
    return False, f"{command}: Command not found"


def legacy_header_list(event: Event, decode: Callable[[str], str] | None = None) -> list[object]:
    """An event as mod_kazoo's legacy header list: ``[UniqueId | [{Name, Value}…]]``.

    ``UniqueId`` is the binary ``Unique-ID`` or the atom ``undefined``; the body,
    if any, comes last as ``{<<"body">>, Body}``.  ``decode`` (URL decoding) is
    applied to values when given.
    """

    def value(v: str) -> bytes:
        return to_binary(decode(v) if decode is not None else v)

    unique_id = event.get("Unique-ID")
    items: list[object] = [value(unique_id) if unique_id else A_UNDEFINED]
    items += [(to_binary(k), value(v)) for k, v in event.headers]
    if event.body is not None:
        items.append((b"body", to_binary(event.body)))
    return items
