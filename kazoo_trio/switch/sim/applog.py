"""A channel's application log (``switch_app_log_t``, what ``KZ_CDR`` reports), kept
compact: a call keeps it as long as it lasts, one entry per application it ran.
Layer: bottom (no imports from the simulated core).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from typing import overload

import attrs

from kazoo_trio.switch.kz.cdr import AppLogEntry

__all__ = ["AppLog"]


@attrs.define(eq=False, weakref_slot=False)
class AppLog(Sequence[AppLogEntry]):
    """The entries in the order the applications ran, as :class:`AppLogEntry` values
    made when read: names and data are kept in one flat tuple and the stamps in an
    array (an entry object and its stamp cost about 100 bytes each)."""

    # name, data, name, data...: one list, not a tuple rebuilt per entry (a long call
    # can run thousands of applications: sendmsg after sendmsg).
    _texts: list[str] = attrs.field(factory=list)
    _stamps: array[int] = attrs.field(factory=lambda: array("q"))

    def append(self, entry: AppLogEntry) -> None:
        self._texts += (entry.app, entry.data)
        self._stamps.append(entry.stamp)

    def __len__(self) -> int:
        return len(self._stamps)

    @overload
    def __getitem__(self, index: int) -> AppLogEntry: ...

    @overload
    def __getitem__(self, index: slice) -> list[AppLogEntry]: ...

    def __getitem__(self, index: int | slice) -> AppLogEntry | list[AppLogEntry]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        stamp = self._stamps[index]  # IndexError as a list gives it
        i = index % len(self._stamps)
        return AppLogEntry(self._texts[2 * i], self._texts[2 * i + 1], stamp)

    def __iter__(self) -> Iterator[AppLogEntry]:
        texts = self._texts
        for i, stamp in enumerate(self._stamps):
            yield AppLogEntry(texts[2 * i], texts[2 * i + 1], stamp)
