"""EPMD client: look nodes up, list them, and keep this node registered.

Every failure to talk to EPMD (connection refused, timeout, reset, bytes that
are not an EPMD reply) is raised as :class:`EpmdError`, with the original
exception as ``__cause__``; callers never need to catch ``OSError`` as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NoReturn, TypeVar

import trio

from kazoo_trio.erlang.epmd_protocol import (
    NODE_TYPE_HIDDEN,
    EpmdProtocolError,
    NodeEntry,
    alive2_request,
    names_request,
    parse_alive2_reply,
    parse_names_reply,
    parse_port2_reply,
    port_please2_request,
)
from kazoo_trio.errors import RuntimeFailure

__all__ = [
    "DEFAULT_EPMD_PORT",
    "EPMD_TIMEOUT",
    "REREGISTER_INTERVAL",
    "DuplicateName",
    "EpmdError",
    "keep_registered",
    "names",
    "port_please",
]

log = logging.getLogger("kazoo_trio.erlang.epmd.client")

DEFAULT_EPMD_PORT = 4369
# EPMD answers from memory on the local host; a reply that takes longer than
# this means it is wedged or not an EPMD, and waiting longer only delays the
# caller's own error handling.
EPMD_TIMEOUT = 5.0
# OTP's erl_epmd retries a lost registration every 2 s; doing the same keeps
# the node's behaviour familiar to operators.
REREGISTER_INTERVAL = 2.0

# Log every 30th failed re-registration attempt (once a minute at 2 s) as a warning.
_LOUD_EVERY = 30

_T = TypeVar("_T")


class EpmdError(RuntimeFailure):
    """EPMD could not be reached or did not answer like an EPMD."""


class DuplicateName(EpmdError):
    """EPMD refused the registration: the name is already registered by a live node."""


def _alive_part(name: str) -> str:
    # EPMD knows only the part before "@"; registering "name@host" would
    # succeed but no peer would ever find it.
    if "@" in name:
        raise ValueError(f"pass the alive part of the node name to EPMD, not {name!r}")
    return name


async def _connect(host: str, port: int) -> trio.SocketStream:
    try:
        return await trio.open_tcp_stream(host, port)
    except OSError as exc:
        raise EpmdError(f"cannot connect to EPMD at {host}:{port}: {exc}") from exc


async def _exchange(
    host: str,
    port: int,
    request: bytes,
    parse: Callable[[bytearray, bool], _T | None],
    timeout: float,
    what: str,
) -> _T:
    """One request on a fresh connection; reads until ``parse`` has a complete reply."""
    try:
        with trio.fail_after(timeout):
            stream = await _connect(host, port)
            async with stream:
                await stream.send_all(request)
                buf = bytearray()
                while True:
                    chunk = await stream.receive_some()
                    if chunk:
                        buf += chunk
                    reply = parse(buf, not chunk)
                    if reply is not None:
                        return reply
                    if not chunk:
                        raise EpmdError(
                            f"{what}: EPMD at {host}:{port} closed the connection "
                            f"after {len(buf)} bytes of a reply"
                        )
    except trio.TooSlowError as exc:
        raise EpmdError(f"{what}: EPMD at {host}:{port} did not answer in {timeout} s") from exc
    except EpmdProtocolError as exc:
        raise EpmdError(f"{what}: bad reply from EPMD at {host}:{port}: {exc}") from exc
    except (OSError, trio.BrokenResourceError) as exc:
        raise EpmdError(f"{what}: connection to EPMD at {host}:{port} failed: {exc}") from exc


async def port_please(
    name: str,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_EPMD_PORT,
    timeout: float = EPMD_TIMEOUT,
) -> NodeEntry | None:
    """Where node ``name`` (alive part only, no ``@host``) listens, per EPMD at host:port.

    Returns ``None`` when the name is not registered.  Raises :class:`EpmdError`
    when EPMD cannot be reached, times out or answers garbage, and ``ValueError``
    for a name EPMD could never hold (empty, over 255 characters, NUL) or one
    containing ``@``.
    """
    request = port_please2_request(_alive_part(name))
    reply = await _exchange(
        host, port, request, lambda buf, _eof: parse_port2_reply(buf), timeout, "PORT_PLEASE2"
    )
    return reply.entry


async def names(
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_EPMD_PORT,
    timeout: float = EPMD_TIMEOUT,
) -> list[tuple[str, int]]:
    """The ``(name, port)`` pairs registered with EPMD at host:port, in EPMD's order.

    Raises :class:`EpmdError` like :func:`port_please`.
    """
    reply = await _exchange(
        host,
        port,
        names_request(),
        lambda buf, eof: parse_names_reply(buf, eof=eof),
        timeout,
        "NAMES",
    )
    return reply.nodes


async def _register(
    name: str, listen_port: int, host: str, port: int, node_type: int, timeout: float
) -> tuple[trio.SocketStream, int]:
    """ALIVE2 on a new connection; returns the open registration socket and the creation."""
    request = alive2_request(name, listen_port, node_type=node_type)
    where = f"EPMD at {host}:{port}"
    try:
        with trio.fail_after(timeout):
            stream = await _connect(host, port)
            try:
                await stream.send_all(request)
                buf = bytearray()
                while (reply := parse_alive2_reply(buf)) is None:
                    chunk = await stream.receive_some()
                    if not chunk:
                        raise EpmdError(f"ALIVE2: {where} closed the connection without a reply")
                    buf += chunk
            except BaseException:
                await trio.aclose_forcefully(stream)
                raise
    except trio.TooSlowError as exc:
        raise EpmdError(f"ALIVE2: {where} did not answer in {timeout} s") from exc
    except EpmdProtocolError as exc:
        raise EpmdError(f"ALIVE2: bad reply from {where}: {exc}") from exc
    except (OSError, trio.BrokenResourceError) as exc:
        raise EpmdError(f"ALIVE2: connection to {where} failed: {exc}") from exc
    if not reply.ok:
        await trio.aclose_forcefully(stream)
        raise DuplicateName(
            f"{where} refused the name {name!r} (result {reply.result}); "
            "another node is registered under it"
        )
    if reply.creation == 0:
        # Creation 0 is reserved; a node using it produces pids a peer cannot
        # tell apart from a previous incarnation's.
        await trio.aclose_forcefully(stream)
        raise EpmdError(f"ALIVE2: {where} handed out the reserved creation 0")
    return stream, reply.creation


async def _hold(stream: trio.SocketStream) -> str:
    """Keep the registration socket open until it is lost; returns why it was lost.

    Never writes: EPMD drops a registration on any byte sent after ALIVE2.
    """
    while True:
        try:
            data = await stream.receive_some()
        except (OSError, trio.BrokenResourceError) as exc:
            return f"connection error: {exc}"
        if not data:
            return "EPMD closed the connection"
        # EPMD never writes here; the registration itself is still valid.
        log.warning("ignoring %d unexpected bytes from EPMD on the registration socket", len(data))


async def keep_registered(
    name: str,
    listen_port: int,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_EPMD_PORT,
    node_type: int = NODE_TYPE_HIDDEN,
    on_creation: Callable[[int], None] | None = None,
    timeout: float = EPMD_TIMEOUT,
    retry_interval: float = REREGISTER_INTERVAL,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Register ``name`` → ``listen_port`` with EPMD and keep it registered until cancelled.

    Meant for ``await nursery.start(keep_registered, ...)``: ``started()`` reports
    the creation of the first registration.  If that first attempt fails the
    exception propagates out of ``nursery.start`` before anything started:
    :class:`DuplicateName` when the name is taken, :class:`EpmdError` when EPMD
    is unreachable or misbehaves (a node must not run under a name it could
    not claim).  ``ValueError`` for an invalid name (see :func:`port_please`) or
    port.

    Afterwards the registration socket stays open and silent.  When it is lost
    (EPMD restarted or closed it) a warning is logged and registration is
    retried every ``retry_interval`` seconds, indefinitely; each success logs
    and calls ``on_creation(new_creation)`` (exceptions from the callback
    propagate and end this task).  Cancellation closes the socket, which makes
    EPMD forget the name.
    """
    _alive_part(name)
    stream, creation = await _register(name, listen_port, host, port, node_type, timeout)
    log.info(
        "registered %r (port %d) with EPMD at %s:%d, creation %d",
        *(name, listen_port, host, port, creation),
    )
    task_status.started(creation)
    while True:
        try:
            reason = await _hold(stream)
        finally:
            await trio.aclose_forcefully(stream)
        log.warning(
            "EPMD registration of %r lost (%s); re-registering every %g s",
            *(name, reason, retry_interval),
        )
        stream, creation = await _reregister(
            name, listen_port, host, port, node_type, timeout, retry_interval
        )
        log.info("re-registered %r with EPMD at %s:%d, creation %d", name, host, port, creation)
        if on_creation is not None:
            on_creation(creation)


async def _reregister(
    name: str,
    listen_port: int,
    host: str,
    port: int,
    node_type: int,
    timeout: float,
    retry_interval: float,
) -> tuple[trio.SocketStream, int]:
    attempts = 0
    while True:
        await trio.sleep(retry_interval)
        attempts += 1
        try:
            return await _register(name, listen_port, host, port, node_type, timeout)
        except DuplicateName as exc:
            # Someone else took the name while we were away; keep trying, since
            # their registration ends when they stop.
            log.warning("re-registration attempt %d: %s", attempts, exc)
        except EpmdError as exc:
            # EPMD may stay down for long: say so now and then, not every 2 s.
            level = logging.WARNING if attempts % _LOUD_EVERY == 1 else logging.DEBUG
            log.log(level, "re-registration attempt %d failed: %s", attempts, exc)
