"""The simulated core's global variables (``switch_core_set_variable`` and friends).
Layer: bottom (no imports from the simulated core)."""

from __future__ import annotations

import attrs

__all__ = ["GlobalVariables"]


def _sanitize(value: str) -> str:
    """``switch_string_var_check(v, SWITCH_TRUE)``: a ``$`` opening ``${`` (backslashes
    may sit between) becomes ``%``, so a stored global can never expand further."""
    chars = list(value)
    dollar: int | None = None
    for i, ch in enumerate(chars):
        if ch == "$":
            dollar = i
        elif dollar is not None:
            if ch == "{":
                chars[dollar] = "%"
                dollar = None
            elif ch != "\\":
                dollar = None
    return "".join(chars)


@attrs.define
class GlobalVariables:
    """Names are case-insensitive; each keeps the spelling it was last set with, and
    the table keeps FreeSWITCH's order (oldest first; setting again moves a name last)."""

    _values: dict[str, tuple[str, str]] = attrs.field(init=False, factory=dict)

    def get(self, name: str) -> str | None:
        found = self._values.get(name.lower())
        return found[1] if found else None

    def set(self, name: str, value: str | None) -> None:
        """``switch_core_set_variable``: ``None``/``""`` deletes; ``${`` is stored as ``%{``."""
        key = name.lower()
        self._values.pop(key, None)
        if value:
            self._values[key] = (name, _sanitize(value))

    def set_conditional(self, name: str, value: str | None, expected: str | None) -> bool:
        """``switch_core_set_var_conditional``: set only if the current value is
        ``expected`` (or there is none and ``expected`` is empty)."""
        current = self.get(name)
        if current is not None:
            if expected is None or current != expected:
                return False
        elif expected:
            return False
        self.set(name, value)
        return True

    def items(self) -> list[tuple[str, str]]:
        """Every variable as (name, value), oldest first."""
        return list(self._values.values())
