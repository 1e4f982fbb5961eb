"""What mod_kazoo's layer needs from the switch it runs on.

Two narrow interfaces, so the layer is written once for every backend:

* :class:`ChannelView` is what an application's translation reads of the channel it
  runs on (variables, caller profile, expansion, whether another channel exists).
  Translations only read: they return the stock applications that do the work.
* :class:`KzHost` is what the API commands use: the :class:`~kazoo_trio.switch.protocol.Switch`
  primitives they share with the server (channels' event data, events, globals, XML
  lookups) plus four a backend provides for them (setting a channel's variables and
  caller-profile fields without re-parsing their values, and the two expansions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from kazoo_trio.switch.event import Event

__all__ = ["ChannelView", "KzHost"]


class ChannelView(Protocol):
    """The channel an application runs on, read-only."""

    @property
    def uuid(self) -> str: ...

    @property
    def variables(self) -> Mapping[str, str]:
        """The channel's own variables, in the channel's order."""
        ...

    def get_variable(self, name: str) -> str | None:
        """``switch_channel_get_variable``: a variable, else a caller-profile field, else
        a global."""
        ...

    def profile_field(self, name: str) -> str:
        """A caller-profile field by its C name (``orig_caller_id_name``...); ``""`` if unset."""
        ...

    def expand(self, text: str) -> str:
        """``switch_channel_expand_variables`` on this channel."""
        ...

    def channel_exists(self, uuid: str) -> bool:
        """Whether ``switch_core_session_locate(uuid)`` would find a channel."""
        ...

    def expand_on(self, uuid: str, text: str) -> str | None:
        """``switch_channel_expand_variables`` on another channel; ``None`` when none."""
        ...


class KzHost(Protocol):
    """The switch under mod_kazoo's API commands.  Nothing here waits except
    :meth:`xml_lookup`."""

    def channel_exists(self, uuid: str) -> bool: ...

    def channel_headers(self, uuid: str) -> list[tuple[str, str]] | None: ...

    def new_event(
        self,
        name: str,
        *,
        subclass: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: str | None = None,
    ) -> Event: ...

    def fire(self, event: Event) -> None: ...

    def get_global(self, name: str) -> str | None: ...

    def global_variables(self) -> list[tuple[str, str]]:
        """``switch_core_get_variables``: every global variable (name, value)."""
        ...

    async def xml_lookup(
        self,
        section: str,
        tag_name: str,
        key_name: str,
        key_value: str,
        params: Iterable[tuple[str, str]] = (),
    ) -> str | None: ...

    def set_channel_variable(self, uuid: str, name: str, value: str | None) -> bool:
        """``switch_channel_set_variable`` on channel ``uuid`` (``None``/``""`` unsets),
        the value taken as it is; ``False`` when there is no such channel."""
        ...

    def set_profile_var(self, uuid: str, name: str, value: str | None) -> bool:
        """``switch_channel_set_profile_var`` on channel ``uuid``; ``False`` when none."""
        ...

    def expand_event(self, text: str, event: Event) -> str:
        """mod_kazoo's ``kz_event_expand_headers``: ``${name}`` from ``event``'s headers
        (else the globals), ``${api(args)}`` runs the API command without an ``API``
        event."""
        ...

    def expand_channel(self, uuid: str, text: str) -> str | None:
        """``switch_channel_expand_variables`` on channel ``uuid``; ``None`` when none."""
        ...
