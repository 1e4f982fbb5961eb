"""Which EPMD the node uses: an external one, the embedded one, or whichever works.

Re-exports the client, the server and the protocol's public values so the node
imports everything EPMD-related from here.
"""

from __future__ import annotations

import logging
from typing import Literal

import trio

from kazoo_trio.erlang.epmd_client import (
    DEFAULT_EPMD_PORT,
    DuplicateName,
    EpmdError,
    keep_registered,
    names,
    port_please,
)
from kazoo_trio.erlang.epmd_protocol import EpmdProtocolError, NodeEntry
from kazoo_trio.erlang.epmd_server import EpmdServer

__all__ = [
    "DEFAULT_EPMD_PORT",
    "PROBE_TIMEOUT",
    "DuplicateName",
    "EpmdError",
    "EpmdMode",
    "EpmdProtocolError",
    "EpmdServer",
    "NodeEntry",
    "ensure_epmd",
    "keep_registered",
    "names",
    "port_please",
]

log = logging.getLogger("kazoo_trio.erlang.epmd")

EpmdMode = Literal["auto", "external", "embedded"]

# A local EPMD accepts a connection in well under a millisecond; a second is
# generous on a loaded host and still keeps node start-up quick when the
# address silently drops packets.
PROBE_TIMEOUT = 1.0


async def _probe(host: str, port: int, timeout: float) -> bool | None:
    """True if something accepts TCP at host:port, False if refused, None if no answer."""
    with trio.move_on_after(timeout):
        try:
            stream = await trio.open_tcp_stream(host, port)
        except OSError:
            return False
        await trio.aclose_forcefully(stream)
        return True
    return None


async def _start_embedded(nursery: trio.Nursery, host: str, port: int) -> None:
    try:
        bound = await nursery.start(EpmdServer().serve, host, port)
    except OSError as exc:
        raise EpmdError(f"cannot start the embedded EPMD on {host}:{port}: {exc}") from exc
    log.info("using the embedded EPMD on %s:%d", host, bound)


async def ensure_epmd(
    mode: EpmdMode,
    nursery: trio.Nursery,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_EPMD_PORT,
    probe_timeout: float = PROBE_TIMEOUT,
) -> bool:
    """Make sure an EPMD answers at host:port; returns True if it started the embedded one.

    * ``external``: nothing is checked or started; if no EPMD answers, the
      registration fails later with :class:`EpmdError`.
    * ``embedded``: an :class:`EpmdServer` is started in ``nursery`` (so it
      lives as long as that nursery); :class:`EpmdError` if host:port cannot
      be bound (typically a system epmd already listens there).
    * ``auto``: connect to host:port; if the connection is refused, start the
      embedded server as above, otherwise use what answered.  A probe that
      times out (something filters the port) counts as an existing EPMD, since
      binding that address would not help.

    Logs one line saying which EPMD is used.  ``ValueError`` for an unknown mode.
    """
    if mode == "external":
        log.info("using the external EPMD at %s:%d", host, port)
        return False
    if mode == "embedded":
        await _start_embedded(nursery, host, port)
        return True
    if mode != "auto":
        raise ValueError(f"unknown EPMD mode {mode!r} (auto, external or embedded)")
    answered = await _probe(host, port, probe_timeout)
    if answered is False:
        await _start_embedded(nursery, host, port)
        return True
    if answered is None:
        log.warning(
            "using the external EPMD at %s:%d, although it did not accept a connection in %g s",
            *(host, port, probe_timeout),
        )
    else:
        log.info("using the external EPMD already running at %s:%d", host, port)
    return False
