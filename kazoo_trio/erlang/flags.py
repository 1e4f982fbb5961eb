"""Distribution capability flags (``DFLAG_*``), what is mandatory, and how to print them.

A node advertises its flags in the handshake; both sides then base every wire
decision on the intersection (:func:`negotiate`).  The values are those of
OTP's ``dist.hrl``/``dist.h``; the names are those OTP's ``dist_util`` prints,
so log lines read like an Erlang node's.
"""

from __future__ import annotations

import enum

__all__ = [
    "MANDATORY",
    "MANDATORY_25",
    "MANDATORY_26",
    "RECOMMENDED",
    "DFlag",
    "describe",
    "expand_digest",
    "flag_names",
    "missing_mandatory",
    "negotiate",
    "uses_dist_header",
]


class DFlag(enum.IntFlag):
    """Every ``DFLAG_*`` bit OTP 25 to 28 knows, internal ones included (so they print by name)."""

    PUBLISHED = 0x1
    ATOM_CACHE = 0x2
    EXTENDED_REFERENCES = 0x4
    DIST_MONITOR = 0x8
    FUN_TAGS = 0x10
    DIST_MONITOR_NAME = 0x20
    HIDDEN_ATOM_CACHE = 0x40
    NEW_FUN_TAGS = 0x80
    EXTENDED_PIDS_PORTS = 0x100
    EXPORT_PTR_TAG = 0x200
    BIT_BINARIES = 0x400
    NEW_FLOATS = 0x800
    UNICODE_IO = 0x1000
    DIST_HDR_ATOM_CACHE = 0x2000
    SMALL_ATOM_TAGS = 0x4000
    ETS_COMPRESSED = 0x8000  # erts-internal, never on the wire
    UTF8_ATOMS = 0x10000
    MAP_TAG = 0x20000
    BIG_CREATION = 0x40000
    SEND_SENDER = 0x80000
    BIG_SEQTRACE_LABELS = 0x100000
    PENDING_CONNECT = 0x200000  # erts-internal, never on the wire
    EXIT_PAYLOAD = 0x400000
    FRAGMENTS = 0x800000
    HANDSHAKE_23 = 0x1000000
    UNLINK_ID = 0x2000000
    # The distribution protocol document says ``1 bsl 36``; the code of every
    # release (dist.hrl, dist.h, ei) uses bit 26, and that is what peers check.
    MANDATORY_25_DIGEST = 0x4000000
    SPAWN = 1 << 32
    NAME_ME = 1 << 33
    V4_NC = 1 << 34
    ALIAS = 1 << 35
    LOCAL_EXT = 1 << 36  # term_to_binary local format, never on the wire
    ALTACT_SIG = 1 << 37


# What OTP 25 refuses a connection without (dist.hrl MANDATORY_DFLAGS_25);
# erts_internal:get_dflags() on OTP 25.2.3 reports exactly 0x1070F94.
MANDATORY_25: int = (
    DFlag.EXTENDED_REFERENCES
    | DFlag.FUN_TAGS
    | DFlag.NEW_FUN_TAGS
    | DFlag.EXTENDED_PIDS_PORTS
    | DFlag.EXPORT_PTR_TAG
    | DFlag.BIT_BINARIES
    | DFlag.NEW_FLOATS
    | DFlag.UTF8_ATOMS
    | DFlag.MAP_TAG
    | DFlag.BIG_CREATION
    | DFlag.HANDSHAKE_23
).value

# OTP 26, 27 and 28 add the new link protocol and the big pid/port/ref formats.
MANDATORY_26: int = MANDATORY_25 | (DFlag.V4_NC | DFlag.UNLINK_ID).value

# What we require from a peer: the OTP 26+ set.  Every OTP 24/25 node
# advertises V4_NC and UNLINK_ID too (they were optional there, but on by
# default), so requiring them refuses nobody we can talk to, and it spares the
# runtime the old UNLINK (op 4) protocol on the way out.
MANDATORY: int = MANDATORY_26

# The flags the C-node advertises by default ("tier 1" of the reference):
# everything OTP 26+ requires, spelled out and as the digest bit (OTP 24 does
# not know the digest), plus the features the runtime implements: monitors
# by pid and name (OTP sends MONITOR_P only when both bits are negotiated),
# payload exits, SEND_SENDER, SPAWN_REQUEST/REPLY (rpc/erpc on OTP 25+) and
# ALIAS_SEND.  Not set: PUBLISHED (a hidden node is spared global/rex/pg
# traffic), DIST_HDR_ATOM_CACHE and FRAGMENTS (they switch both directions to
# the header framing), NAME_ME, ALTACT_SIG (DOP 37 is not implemented).
RECOMMENDED: int = (
    MANDATORY_26
    | DFlag.MANDATORY_25_DIGEST
    | DFlag.DIST_MONITOR
    | DFlag.DIST_MONITOR_NAME
    | DFlag.SMALL_ATOM_TAGS
    | DFlag.SEND_SENDER
    | DFlag.EXIT_PAYLOAD
    | DFlag.SPAWN
    | DFlag.ALIAS
).value

_DIST_HEADER = (DFlag.DIST_HDR_ATOM_CACHE | DFlag.FRAGMENTS).value

# dist_util:dflag2str/1 has no clause for these two internal bits.
_UNNAMED = (DFlag.ETS_COMPRESSED | DFlag.PENDING_CONNECT).value


def expand_digest(flags: int) -> int:
    """``flags`` with the whole OTP 25 mandatory set ORed in if the digest bit is set.

    This is what OTP 25+ does to a peer's flags before anything else
    (``dist_util:expand_mandatory_25_flag/1``).
    """
    if flags & DFlag.MANDATORY_25_DIGEST:
        return flags | MANDATORY_25
    return flags


def negotiate(ours: int, theirs: int) -> int:
    """The flags both sides act on: ours AND the peer's digest-expanded flags."""
    return ours & expand_digest(theirs)


def _name(bit: int) -> str:
    if bit & _UNNAMED:
        return f"UNKNOWN<{bit:X}>"
    try:
        name = DFlag(bit).name
    except ValueError:
        name = None
    return name if name is not None else f"UNKNOWN<{bit:X}>"


def flag_names(flags: int) -> list[str]:
    """Names of the bits set in ``flags``, lowest bit first; unknown bits as ``UNKNOWN<hex>``."""
    names = []
    rest = flags
    while rest:
        low = rest & -rest
        names.append(_name(low))
        rest ^= low
    return names


def missing_mandatory(flags: int, *, required: int = MANDATORY) -> list[str]:
    """Names of the ``required`` flags a peer's ``flags`` lack, as OTP lists them.

    The digest bit is expanded first.  The order is OTP's (highest bit first),
    so ``["V4_NC", "UNLINK_ID"]`` reads as in an Erlang node's log.  An empty
    list means the peer is acceptable.
    """
    return list(reversed(flag_names(required & ~expand_digest(flags))))


def uses_dist_header(negotiated: int) -> bool:
    """Whether packets carry the ``131,68`` distribution header instead of pass-through ``'p'``.

    erts decides it per connection from the negotiated flags: either
    DIST_HDR_ATOM_CACHE or FRAGMENTS switches both directions to the header form.
    """
    return bool(negotiated & _DIST_HEADER)


def describe(flags: int) -> str:
    """``flags`` for a log line: ``0x74F4FBC EXTENDED_REFERENCES|DIST_MONITOR|...``."""
    if not flags:
        return "0x0 (none)"
    return f"0x{flags:X} " + "|".join(flag_names(flags))
