"""The set of event bindings of one event stream (``event``, ``nixevent``, ``noevents``).

A binding is either a FreeSWITCH core event type (``CHANNEL_CREATE``), ``ALL``
(every event), or a CUSTOM subclass (``sofia::register``, ``KZ_CDR``).  The names
come from Erlang atoms; the rules are those of mod_kazoo's ``event`` and
``nixevent`` requests, minus two of its bugs (see :meth:`Bindings.remove`).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from kazoo_trio.kazoo.requests.arguments import BadArg
from kazoo_trio.switch.bus import EVERY_EVENT, EventNames
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.names import core_event_name

__all__ = ["ALL", "CUSTOM", "BadArg", "Bindings"]

ALL = "ALL"
CUSTOM = "CUSTOM"


@attrs.define
class Bindings:
    """What one stream is bound to.

    ``match`` is called for every event the switch fires, so the representation is
    chosen for it: a set of core type names and a dict of subclasses keyed by their
    lower-case form (duplicates are detected ignoring case, as mod_kazoo does),
    whose values keep the case of the first spelling (delivery compares subclasses
    case-sensitively, as FreeSWITCH's ``switch_events_match`` does).
    """

    _core: set[str] = attrs.field(factory=set)
    _custom: dict[str, str] = attrs.field(factory=dict)
    _all: bool = False

    def add(self, names: Sequence[str]) -> None:
        """Bind ``names`` (the ``event`` request).

        ``CUSTOM`` alone is a no-op; a core event name (any case, optional
        ``SWITCH_EVENT_`` prefix) binds that type with any subclass; ``ALL`` binds
        everything; anything else is a CUSTOM subclass, case preserved.  Adding a
        binding that is already there does nothing.  Never raises: every name is
        acceptable to ``event``.
        """
        for name in names:
            core = core_event_name(name)
            if core == CUSTOM:
                continue
            if core == ALL:
                self._all = True
            elif core is not None:
                self._core.add(core)
            else:
                self._custom.setdefault(name.lower(), name)

    def remove(self, names: Sequence[str]) -> None:
        """Unbind ``names`` left to right (the ``nixevent`` request).

        A core name removes that type's binding.  ``ALL`` removes every core
        binding and the ``ALL`` binding itself (mod_kazoo leaves ``ALL`` in place,
        so ``nixevent ALL`` stopped nothing there); subclass bindings stay.
        ``CUSTOM`` switches to subclass mode: every following name is a subclass,
        and exactly that subclass is removed (compared ignoring case, like the
        duplicate check of :meth:`add`; mod_kazoo removes whichever CUSTOM binding
        it meets first).  Removing something not bound is not an error.

        Raises :class:`BadArg` for a name that is not a core event name before
        ``CUSTOM``; the removals made before it stay done, as in mod_kazoo.
        """
        subclass_mode = False
        for name in names:
            if subclass_mode:
                self._custom.pop(name.lower(), None)
                continue
            core = core_event_name(name)
            if core is None:
                raise BadArg(f"{name!r} is not an event name (subclasses follow CUSTOM)")
            if core == CUSTOM:
                subclass_mode = True
            elif core == ALL:
                self._all = False
                self._core.clear()
            else:
                self._core.discard(core)

    def clear(self) -> None:
        """Remove every binding (the ``noevents`` request)."""
        self._core.clear()
        self._custom.clear()
        self._all = False

    def match(self, event: Event) -> str | None:
        """The name of the binding ``event`` is delivered through, or ``None``.

        The most specific binding wins, so an event is sent once even when several
        bindings match it (mod_kazoo sends it once per matching binding): the
        subclass binding of a CUSTOM event, else the binding of its core type, else
        ``ALL``.  The name is what the profile engine looks the event definition up
        by.
        """
        return self.match_name(event.name, event.subclass)

    def match_name(self, name: str, subclass: str | None) -> str | None:
        """:meth:`match` for an event known by its name and subclass only."""
        if name == CUSTOM:
            if subclass is not None:
                bound = self._custom.get(subclass.lower())
                if bound == subclass:
                    return bound
        elif name in self._core:
            return name
        return ALL if self._all else None

    def event_names(self) -> EventNames:
        """Every event :meth:`match_name` may match, by name."""
        if self._all:
            return EVERY_EVENT
        return EventNames(frozenset(self._core), frozenset(self._custom.values()))

    def names(self) -> list[str]:
        """Every binding, for diagnostics: ``ALL`` first, core types, then subclasses."""
        return ([ALL] if self._all else []) + sorted(self._core) + list(self._custom.values())

    def __bool__(self) -> bool:
        return self._all or bool(self._core) or bool(self._custom)
