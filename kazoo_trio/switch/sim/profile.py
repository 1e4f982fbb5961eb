"""The caller profile (``switch_caller_profile_t``): who calls whom, and a channel's time
table.  Layer: bottom (no imports from the simulated core)."""

from __future__ import annotations

from operator import itemgetter

import attrs

from kazoo_trio.uuids import uuid4_str

__all__ = ["CallerProfile", "sanitize_number"]


@attrs.define
class CallerProfile:
    """``switch_caller_profile_t``: who calls whom, and the channel's time table (µs)."""

    caller_id_name: str = ""
    caller_id_number: str = ""
    destination_number: str = ""
    context: str = "default"
    dialplan: str = "XML"
    username: str = ""
    network_addr: str = ""
    ani: str = ""
    aniii: str = ""
    rdnis: str = ""
    source: str = "mod_sim"
    transfer_source: str = ""
    callee_id_name: str = ""
    callee_id_number: str = ""
    # The caller id the profile was made with; ``None`` while it is still the current
    # one (set on the first change), which keeps an empty original apart from an unset
    # one (SWITCH_DEFAULT_CLID_NAME is "").
    orig_caller_id_name: str | None = None
    orig_caller_id_number: str | None = None
    profile_index: int = 1
    profile_created: int = 0
    created: int = 0
    answered: int = 0
    progress: int = 0
    progress_media: int = 0
    hungup: int = 0
    transferred: int = 0
    bridged: int = 0
    last_hold: int = 0
    hold_accum: int = 0
    hide_name: bool = False  # SWITCH_CPF_HIDE_NAME (the privacy application)
    hide_number: bool = False  # SWITCH_CPF_HIDE_NUMBER
    # Every profile has its own id; a clone names the profile it was made from
    # (switch_caller_profile_clone): KZ_CDR's Profile-UUID and Profile-Clone-Of.
    uuid_str: str = attrs.field(factory=uuid4_str)
    clone_of: str = ""

    def cloned(self) -> None:
        """Become a clone of the profile this one was copied from: the channel
        endpoints, originate's outbound profile and transfers all clone."""
        self.clone_of = self.uuid_str
        self.uuid_str = uuid4_str()

    @property
    def original_name(self) -> str:
        """``orig_caller_id_name``."""
        found = self.orig_caller_id_name
        return self.caller_id_name if found is None else found

    @property
    def original_number(self) -> str:
        """``orig_caller_id_number``."""
        found = self.orig_caller_id_number
        return self.caller_id_number if found is None else found

    def keep_original(self) -> None:
        """Fix the original caller id before the current one changes."""
        if self.orig_caller_id_name is None:
            self.orig_caller_id_name = self.caller_id_name
        if self.orig_caller_id_number is None:
            self.orig_caller_id_number = self.caller_id_number

    def fields(self) -> dict[str, str]:
        """What ``${...}`` and dialplan conditions read (``switch_caller_get_field_by_name``)."""
        return {
            "dialplan": self.dialplan,
            "username": self.username,
            "caller_id_name": self.caller_id_name,
            "caller_id_number": self.caller_id_number,
            "callee_id_name": self.callee_id_name,
            "callee_id_number": self.callee_id_number,
            "ani": self.ani,
            "aniii": self.aniii,
            "network_addr": self.network_addr,
            "rdnis": self.rdnis,
            "destination_number": self.destination_number,
            "source": self.source,
            "context": self.context,
        }

    def headers(self, prefix: str, direction: str, uuid: str, name: str) -> list[tuple[str, str]]:
        """``switch_caller_profile_event_set_data`` with ``prefix`` (``Caller``, ``Hunt``...):
        an empty field gives no header."""
        values = (
            direction,
            direction,
            self.username,
            self.dialplan,
            self.caller_id_name,
            self.caller_id_number,
            # switch_caller_profile_event_set_data: each original only beside a current one.
            self.original_name if self.caller_id_name else "",
            self.original_number if self.caller_id_number else "",
            self.callee_id_name,
            self.callee_id_number,
            self.network_addr,
            self.ani,
            self.aniii,
            self.destination_number,
            uuid,
            self.source,
            self.transfer_source,
            self.context,
            self.rdnis,
            name,
            str(self.profile_index),
            str(self.profile_created),
            str(self.created),
            str(self.answered),
            str(self.progress),
            str(self.progress_media),
            str(self.hungup),
            str(self.transferred),
            "0",
            str(self.bridged),
            str(self.last_hold),
            str(self.hold_accum),
            "true",
            "true" if self.hide_name else "false",
            "true" if self.hide_number else "false",
        )
        # filter() keeps the pairs with a value in C, a comprehension in Python.
        return list(filter(_value_of, zip(_header_names(prefix), values, strict=True)))


_value_of = itemgetter(1)

# The fields of switch_caller_profile_event_set_data, in its order (each named
# "<prefix>-<field>"; CallerProfile.headers gives their values in this order).
_HEADER_FIELDS = (
    "Direction",
    "Logical-Direction",
    "Username",
    "Dialplan",
    "Caller-ID-Name",
    "Caller-ID-Number",
    "Orig-Caller-ID-Name",
    "Orig-Caller-ID-Number",
    "Callee-ID-Name",
    "Callee-ID-Number",
    "Network-Addr",
    "ANI",
    "ANI-II",
    "Destination-Number",
    "Unique-ID",
    "Source",
    "Transfer-Source",
    "Context",
    "RDNIS",
    "Channel-Name",
    "Profile-Index",
    "Profile-Created-Time",
    "Channel-Created-Time",
    "Channel-Answered-Time",
    "Channel-Progress-Time",
    "Channel-Progress-Media-Time",
    "Channel-Hangup-Time",
    "Channel-Transfer-Time",
    "Channel-Resurrect-Time",
    "Channel-Bridged-Time",
    "Channel-Last-Hold",
    "Channel-Hold-Accum",
    "Screen-Bit",
    "Privacy-Hide-Name",
    "Privacy-Hide-Number",
)
# The header names by prefix: a few prefixes (Caller, Other-Leg, Hunt...) name the
# headers of every channel event.
_NAMES_BY_PREFIX: dict[str, tuple[str, ...]] = {}
_NAMES_MAX = 64


def _header_names(prefix: str) -> tuple[str, ...]:
    names = _NAMES_BY_PREFIX.get(prefix)
    if names is None:
        if len(_NAMES_BY_PREFIX) >= _NAMES_MAX:
            _NAMES_BY_PREFIX.clear()
        names = _NAMES_BY_PREFIX[prefix] = tuple(f"{prefix}-{field}" for field in _HEADER_FIELDS)
    return names


def sanitize_number(number: str) -> str:
    """``switch_sanitize_number``: what follows the last ``/`` or ``:``, without any
    ``@...`` (``internal/1000@host`` is ``1000``, ``4242/default`` is ``default``)."""
    if not any(c in number for c in "/:@"):
        return number
    number = number.partition("@")[0]
    for mark in "/:":
        number = number.rpartition(mark)[2]
    return number
