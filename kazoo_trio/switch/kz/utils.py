"""Helpers mod_kazoo's commands and applications share (``kazoo_utils.c`` and the
argument handling repeated in ``kazoo_commands.c``/``kazoo_dptools.c``), as pure code.
"""

from __future__ import annotations

from collections.abc import Sequence

from kazoo_trio.switch.separate import separate_string

__all__ = [
    "PROFILE_VARS_PREFIXES",
    "delimited",
    "profile_var",
    "split_assignment",
    "split_list",
    "url_decode",
]

# kazoo.conf's profile-vars-prefixes when it names none (kazoo_ei_config.c).
PROFILE_VARS_PREFIXES: tuple[str, ...] = ("effective_", "origination_")

# switch_split: at most this many parts; the last keeps the rest of the text.
SPLIT_LIMIT = 256

_HEX = "0123456789abcdefABCDEF"


def url_decode(text: str) -> str:
    """``switch_url_decode``: ``%XX`` becomes the byte ``XX``; ``+`` stays.

    Like the C loop, a ``%`` needs two characters after it and takes one or two hex
    digits (``sscanf("%2x")``), skipping both characters either way; the decoded bytes
    are read as UTF-8, and a decoded NUL ends the text, as it ends a C string.
    """
    if "%" not in text:
        return text
    raw = text.encode()
    out = bytearray()
    i = 0
    n = len(raw)
    while i < n:
        byte = raw[i]
        if byte == 0x25 and n - i > 2:
            window = raw[i + 1 : i + 3].decode("latin-1")
            digits = window if window[1:] and window[1] in _HEX else window[:1]
            if digits and digits[0] in _HEX:
                out.append(int(digits, 16))
                i += 3
                continue
        out.append(byte)
        i += 1
    return out.split(b"\0", 1)[0].decode(errors="replace")


def delimited(data: str, default: str = " ") -> tuple[str, str] | None:
    """mod_kazoo's list argument: ``^^<d>`` selects delimiter ``d``, else ``default``.

    Returns the delimiter and the text after the prefix; ``None`` when the prefix names
    no delimiter (``data`` is exactly ``^^``), which the C code logs and ignores.
    """
    if data.startswith("^^"):
        if len(data) < 3:
            return None
        return data[2], data[3:]
    return default, data


def split_list(text: str, delim: str) -> list[str]:
    """``switch_split``: ``switch_separate_string`` with mod_kazoo's 256 parts."""
    return separate_string(text, delim, SPLIT_LIMIT)


def split_assignment(item: str) -> tuple[str, str | None]:
    """``base_set``'s parse: the name up to ``=`` (or, without one, ``,``); an empty
    value is no value (unset)."""
    cut = item.find("=")
    if cut == -1:
        cut = item.find(",")
    if cut == -1:
        return item, None
    return item[:cut], item[cut + 1 :] or None


def profile_var(name: str, prefixes: Sequence[str] = PROFILE_VARS_PREFIXES) -> str | None:
    """``kz_check_set_profile_var``: the caller-profile field a variable also sets
    (``effective_caller_id_name`` sets ``caller_id_name``), or ``None``.

    The C code tries every prefix; the last one that matches wins.
    """
    field: str | None = None
    lowered = name.lower()
    for prefix in prefixes:
        if prefix and lowered.startswith(prefix.lower()):
            field = name[len(prefix) :]
    return field
