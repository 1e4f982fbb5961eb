"""The caller profile (``switch_caller_profile_t``): who calls whom, and a channel's time
table.  Layer: bottom (no imports from the simulated core)."""

from __future__ import annotations

import uuid

import attrs

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
    uuid_str: str = attrs.field(factory=lambda: str(uuid.uuid4()))
    clone_of: str = ""

    def cloned(self) -> None:
        """Become a clone of the profile this one was copied from: the channel
        endpoints, originate's outbound profile and transfers all clone."""
        self.clone_of = self.uuid_str
        self.uuid_str = str(uuid.uuid4())

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
        p = prefix
        headers = [
            (f"{p}-Direction", direction),
            (f"{p}-Logical-Direction", direction),
            (f"{p}-Username", self.username),
            (f"{p}-Dialplan", self.dialplan),
            (f"{p}-Caller-ID-Name", self.caller_id_name),
            (f"{p}-Caller-ID-Number", self.caller_id_number),
            # switch_caller_profile_event_set_data: each original only beside a current one.
            (f"{p}-Orig-Caller-ID-Name", self.original_name if self.caller_id_name else ""),
            (f"{p}-Orig-Caller-ID-Number", self.original_number if self.caller_id_number else ""),
            (f"{p}-Callee-ID-Name", self.callee_id_name),
            (f"{p}-Callee-ID-Number", self.callee_id_number),
            (f"{p}-Network-Addr", self.network_addr),
            (f"{p}-ANI", self.ani),
            (f"{p}-ANI-II", self.aniii),
            (f"{p}-Destination-Number", self.destination_number),
            (f"{p}-Unique-ID", uuid),
            (f"{p}-Source", self.source),
            (f"{p}-Transfer-Source", self.transfer_source),
            (f"{p}-Context", self.context),
            (f"{p}-RDNIS", self.rdnis),
            (f"{p}-Channel-Name", name),
            (f"{p}-Profile-Index", str(self.profile_index)),
            (f"{p}-Profile-Created-Time", str(self.profile_created)),
            (f"{p}-Channel-Created-Time", str(self.created)),
            (f"{p}-Channel-Answered-Time", str(self.answered)),
            (f"{p}-Channel-Progress-Time", str(self.progress)),
            (f"{p}-Channel-Progress-Media-Time", str(self.progress_media)),
            (f"{p}-Channel-Hangup-Time", str(self.hungup)),
            (f"{p}-Channel-Transfer-Time", str(self.transferred)),
            (f"{p}-Channel-Resurrect-Time", "0"),
            (f"{p}-Channel-Bridged-Time", str(self.bridged)),
            (f"{p}-Channel-Last-Hold", str(self.last_hold)),
            (f"{p}-Channel-Hold-Accum", str(self.hold_accum)),
            (f"{p}-Screen-Bit", "true"),
            (f"{p}-Privacy-Hide-Name", "true" if self.hide_name else "false"),
            (f"{p}-Privacy-Hide-Number", "true" if self.hide_number else "false"),
        ]
        return [(name, value) for name, value in headers if value]


def sanitize_number(number: str) -> str:
    """``switch_sanitize_number``: what follows the last ``/`` or ``:``, without any
    ``@...`` (``internal/1000@host`` is ``1000``, ``4242/default`` is ``default``)."""
    if not any(c in number for c in "/:@"):
        return number
    number = number.partition("@")[0]
    for mark in "/:":
        number = number.rpartition(mark)[2]
    return number
