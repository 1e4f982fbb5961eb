"""The one exception hierarchy of kazoo_trio.

Every exception the package raises on purpose derives from `KazooTrioError`, in
one of four families, so an embedding program can tell what went wrong without
knowing which module raised it:

- `ProtocolError`: bytes from a peer broke a wire format (terms, the Erlang
  distribution, EPMD, an event socket). The offending connection is closed; the
  rest of the process carries on.
- `ConfigurationError`: a setting, cookie, profile or XML document is unusable.
  Raised at start-up or when a new configuration is offered (which is refused).
- `RequestError`: a well-formed request that cannot be carried out (bad
  argument, unknown UUID). Answered to the requester as ``{error, Reason}``.
- `RuntimeFailure`: the node or a service cannot carry on (a name taken in
  EPMD, a process that has exited, a call that failed).

Classes that also behave like a built-in exception keep that base too (a
`DecodeError` is still a `ValueError`), so existing ``except ValueError`` code
keeps working.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "KazooTrioError",
    "ProtocolError",
    "RequestError",
    "RuntimeFailure",
]


class KazooTrioError(Exception):
    """Base of every exception kazoo_trio raises on purpose."""


class ProtocolError(KazooTrioError):
    """A peer sent bytes that break a wire format."""


class ConfigurationError(KazooTrioError):
    """A setting, cookie, profile or document cannot be used."""


class RequestError(KazooTrioError):
    """A request that cannot be carried out; answered as ``{error, Reason}``."""


class RuntimeFailure(KazooTrioError):
    """The node or a service cannot do what was asked of it."""
