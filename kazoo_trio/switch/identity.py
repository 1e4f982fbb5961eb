"""How the simulated core finds its host name and addresses, without network traffic.
Shared by every switch backend."""

from __future__ import annotations

import contextlib
import socket

from kazoo_trio.switch.protocol import SwitchIdentity
from kazoo_trio.uuids import uuid4_str

__all__ = ["discover_identity", "local_ip"]

# Like FreeSWITCH's switch_find_local_ip, ask the kernel which source address it would
# use towards an outside address.  connect() on a UDP socket only consults the routing
# table; no packet is sent.  Documentation-only addresses (RFC 5737 / RFC 3849) are used
# so that even a misbehaving stack could not reach anyone.
_PROBE = {socket.AF_INET: ("192.0.2.1", "127.0.0.1"), socket.AF_INET6: ("2001:db8::1", "::1")}


def local_ip(family: socket.AddressFamily = socket.AF_INET) -> str:
    """The preferred local address of ``family``; the loopback address when none."""
    probe, fallback = _PROBE[family]
    with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect((probe, 9))
        address = sock.getsockname()[0]
        if isinstance(address, str) and address not in ("0.0.0.0", "::"):
            return address
    return fallback


def discover_identity(
    *,
    hostname: str | None = None,
    switchname: str | None = None,
    ipv4: str | None = None,
    ipv6: str | None = None,
    core_uuid: str | None = None,
) -> SwitchIdentity:
    """An identity for a new switch: given values win, the rest is discovered.

    ``switchname`` defaults to the host name (FreeSWITCH's ``switch_core_get_switchname``),
    ``core_uuid`` to a fresh UUID.
    """
    host = hostname if hostname is not None else socket.gethostname()
    return SwitchIdentity(
        hostname=host,
        switchname=switchname or host,
        ipv4=ipv4 if ipv4 is not None else local_ip(socket.AF_INET),
        ipv6=ipv6 if ipv6 is not None else local_ip(socket.AF_INET6),
        core_uuid=core_uuid or uuid4_str(),
    )
