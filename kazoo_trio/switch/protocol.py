"""What a switch backend offers: :class:`Switch` to the mod_kazoo server, :class:`SwitchControl`
to whoever runs the backend.

A backend (the embedded simulated core, later a FreeSWITCH reached over its event
socket) runs API commands, fires events on its bus, answers XML lookups through
the fetch bindings and holds the channels.  Everything here is FreeSWITCH's
behaviour as Kazoo sees it; the backend decides how to produce it.

The interface has two sides:

* :class:`Switch` is exactly what the mod_kazoo server (``kazoo_trio.kazoo``) calls:
  API and JSON API commands, the event bus (build, fire, listen), global variables
  (read), the channels (look up, queue ``sendmsg``/``command`` events), XML lookups
  through fetch bindings, and the one API command the server adds itself
  (``erlang``).  A remote backend answers such locally registered commands itself
  and forwards the others.
* :class:`SwitchControl` is the management side, used by the program that embeds the
  switch (``app``, ``cli``, tests): the backend's own tasks (:meth:`~SwitchControl.run`),
  its identity, global variables set at start-up, and JSON API commands added by
  extension layers.  Backend-specific management (simulated traffic, modules of the
  simulated core) stays on the backend's own class.

:class:`SwitchBackend` is both, what :func:`kazoo_trio.app.serve` takes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, NoReturn, Protocol, runtime_checkable

import attrs
import trio

from kazoo_trio.errors import ConfigurationError, RequestError
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.sections import XML_SECTIONS

if TYPE_CHECKING:
    from kazoo_trio.switch.headers import EventOrigin

__all__ = [
    "XML_SECTIONS",
    "ApiHandler",
    "ApiOutput",
    "ApiResult",
    "ApiWaitHint",
    "EventListener",
    "EventNameError",
    "FetchHandler",
    "FollowsListeners",
    "JsonApiHandler",
    "PrivateQueueNowait",
    "Switch",
    "SwitchBackend",
    "SwitchControl",
    "SwitchIdentity",
    "XmlLookup",
    "XmlSectionError",
]


class EventNameError(RequestError, ValueError):
    """:meth:`Switch.new_event` was given a name that is no core event name, or a
    subclass for an event that cannot have one."""


class XmlSectionError(ConfigurationError, ValueError):
    """:meth:`Switch.bind_xml` was given a section name that selects no XML section."""


@attrs.frozen
class SwitchIdentity:
    """Who the switch is: the values of its standard event headers and version texts.

    The version follows FreeSWITCH's build macros: ``version_full`` is
    ``<major>.<minor>.<micro><revision>~64bit`` (``1.10.12-release~64bit``) and
    ``version_full_human`` ``<major>.<minor>.<micro> <revision_human> 64bit``.
    """

    hostname: str
    switchname: str
    ipv4: str
    ipv6: str
    core_uuid: str
    version_major: str = "1"
    version_minor: str = "10"
    version_micro: str = "12-release"
    version_revision: str = ""
    version_revision_human: str = ""

    @property
    def version_full(self) -> str:
        return (
            f"{self.version_major}.{self.version_minor}.{self.version_micro}"
            f"{self.version_revision}~64bit"
        )

    @property
    def version_full_human(self) -> str:
        return (
            f"{self.version_major}.{self.version_minor}.{self.version_micro} "
            f"{self.version_revision_human} 64bit"
        )

    @property
    def version_revision_full_human(self) -> str:
        """``switch_version_revision_human()``: the revision text plus `` 64bit``."""
        return f"{self.version_revision_human} 64bit"


@attrs.frozen
class ApiOutput:
    """What an API command handler returns: its text and its success status.

    FreeSWITCH commands almost always succeed and report problems in the text
    (``-ERR ...``, ``-USAGE: ...``); ``ok=False`` is the C function's non-success
    status, which mod_kazoo turns into ``{error, Text}``.
    """

    text: str = ""
    ok: bool = True


@attrs.frozen
class ApiResult:
    """The outcome of :meth:`Switch.api`.

    ``ok`` is the command's success status (``False`` also when the command does not
    exist), ``text`` its output (``""`` when it wrote nothing or does not exist) and
    ``event`` the ``API`` event fired for it, carrying ``API-Command``,
    ``API-Command-Argument``, ``API-Command-Argument-Expanded`` (each only when
    non-empty), ``API-Result`` (``success``/``error``) and ``API-Output`` or
    ``API-Error`` (``invalid command`` for an unknown command; absent when the text
    is empty) — the headers mod_kazoo's ``bgapi4`` returns.  ``found`` is ``False``
    only when no such command exists.  A switch may give a function instead of the
    event when nobody was bound to ``API``: it is built when ``event`` is read.
    """

    ok: bool
    text: str
    _event: Event | Callable[[], Event] = attrs.field(alias="event")
    found: bool = True

    @property
    def event(self) -> Event:
        event = self._event
        return event if isinstance(event, Event) else event()


@runtime_checkable
class ApiWaitHint(Protocol):
    """A switch that can tell which API commands never wait, so that a caller can run
    them without a task of their own."""

    def api_never_waits(self, command: str) -> bool:
        """True when :meth:`Switch.api` for ``command`` completes without waiting."""
        ...


@runtime_checkable
class PrivateQueueNowait(Protocol):
    """A switch that can queue a channel's private event without waiting when there is
    room, and tell beforehand whether there is, so that a ``sendmsg`` that would not
    wait can be answered without a task of its own."""

    def private_queue_has_room(self, uuid: str) -> bool:
        """True when :meth:`Switch.queue_private_event` for ``uuid`` would complete
        without waiting now (no such channel, one hanging up, or room in its queue)."""
        ...

    def queue_private_event_nowait(self, uuid: str, event: Event) -> bool | None:
        """:meth:`Switch.queue_private_event` when it need not wait (the same result);
        ``None``, with nothing done, when it would have to."""
        ...


@runtime_checkable
class FollowsListeners(Protocol):
    """A switch that receives its events from elsewhere only as far as its listeners
    name them (``wanted_names``, see :class:`kazoo_trio.switch.bus.SelectiveListener`),
    so that events nobody wants cost nothing on either side.

    Adding or removing a listener counts by itself; whoever changes what a listener
    names calls :meth:`listeners_changed`.
    """

    def listeners_changed(self) -> None:
        """What the listeners name may have changed; never blocks.  Events named no
        more may still come for a while (listeners are not offered them)."""
        ...

    async def listeners_followed(self) -> None:
        """Returns once every event the listeners name now is received, so that none
        fired from then on is missed (at once when nothing changed, or when the switch
        is not connected: it asks for them when it connects)."""
        ...


@attrs.frozen
class XmlLookup:
    """One XML lookup as a fetch binding sees it.

    ``tag_name``/``key_name``/``key_value`` are ``""`` when FreeSWITCH
    passed none; ``params`` is the lookup's parameter event (a ``REQUEST_PARAMS`` or
    channel event with headers such as ``Hunt-*``, ``Caller-*``, ``Action``, ``user``,
    ``domain``); a fetch agent adds its ``Fetch-*`` headers to its own copy.
    ``section`` is the name as the requester gave it (FreeSWITCH itself always uses the
    canonical names; ``xml_locate config ...`` passes ``config``): use
    :func:`kazoo_trio.switch.sections.xml_section` to map it.
    """

    section: str
    tag_name: str
    key_name: str
    key_value: str
    params: Event


ApiHandler = Callable[[str], Awaitable[ApiOutput]]
"""An API command: receives the (already expanded) argument text."""

JsonApiHandler = Callable[[dict[str, object]], Awaitable[tuple[bool, object]]]
"""A JSON API command: receives the request object, returns (success, response)."""

FetchHandler = Callable[[XmlLookup], Awaitable[str | None]]
"""A fetch binding: XML document text, or ``None`` for "no answer"."""

EventListener = Callable[[Event], None]


@runtime_checkable
class Switch(Protocol):
    """A switch backend, as the mod_kazoo server drives it.

    Methods that are not ``async`` never block and never yield to trio; they are safe
    to call from any task.  ``async`` methods are cancellable: cancelling one abandons
    that operation only (an API command's own work is cancelled with it, a lookup
    stops asking further bindings) and leaves the switch usable.
    """

    async def api(self, command: str, args: str, *, expand: bool = True) -> ApiResult:
        """Run API ``command`` with ``args``, as mod_kazoo's ``api`` request does.

        With ``expand`` the arguments first go through variable expansion against a
        fresh ``GENERAL`` event (``${var}``, ``$${global}``, ``\\$`` → ``$``).  An
        unknown command gives ``ok=False``, ``text=""`` and ``API-Error: invalid
        command``.  A handler that raises is reported as ``ok=False`` with the
        exception text (logged), never propagated; the ``API`` event is fired in every
        case except cancellation, which propagates.
        """
        ...

    def register_api(
        self,
        name: str,
        handler: ApiHandler,
        description: str = "",
        *,
        syntax: str = "",
        module: str = "",
    ) -> None:
        """Add (or replace) API command ``name`` (mod_kazoo's ``erlang``).

        ``description``, ``syntax`` and ``module`` are what ``show api`` lists (commands
        without a description are not listed); naming a ``module`` also declares it
        loaded (``module_exists``, ``node.info``'s ``Modules``).
        """
        ...

    async def json_api(self, request: dict[str, object]) -> tuple[bool, dict[str, object]]:
        """FreeSWITCH's ``switch_json_api_execute`` on a copy of ``request``.

        The command named by ``"command"`` runs when it exists and ``"data"`` is
        present; the returned object is the request plus ``"status"`` (``success`` /
        ``error``) and ``"response"``, or ``"message"`` on failure (``"Invalid request
        or non-existant command"`` with ``"response": null`` for an unknown command).
        """
        ...

    def new_event(
        self,
        name: str,
        *,
        subclass: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: str | None = None,
        origin: EventOrigin | None = None,
    ) -> Event:
        """An event carrying the standard headers, then ``Event-Subclass``, then ``headers``.

        Like ``switch_event_create`` it takes the next ``Event-Sequence`` number and
        the current time at creation, not when fired.  ``name`` must be a core event
        name (see :func:`kazoo_trio.switch.names.core_event_name`); :class:`EventNameError`
        otherwise, or when ``subclass`` is given for anything but ``CUSTOM``.

        ``headers`` are added as ``switch_event_add_header_string`` adds them: an empty
        value adds nothing (and removes an earlier header of that name), ``ARRAY::a|:b``
        becomes one header per item, a ``_body`` header also sets the body, and
        ``REQUEST_PARAMS``/``CHANNEL_DATA``/``MESSAGE`` events keep only the last value
        of a name.

        ``origin`` gives ``Event-Calling-File/-Function/-Line-Number``; by default
        the Python code that called.
        """
        ...

    def fire(self, event: Event) -> None:
        """Deliver ``event`` synchronously to every listener, in registration order.

        Listeners must be fast and must not block (typically they put the event on a
        bounded channel with ``send_nowait``).  A listener that raises is logged and
        skipped; the others still get the event.
        """
        ...

    def add_listener(self, listener: EventListener) -> Callable[[], None]:
        """Subscribe to every fired event; returns the (idempotent) remove function."""
        ...

    def get_global(self, name: str) -> str | None: ...

    def channel_exists(self, uuid: str) -> bool: ...

    def channel_headers(self, uuid: str) -> list[tuple[str, str]] | None:
        """The channel's event data (``Unique-ID``, ``Channel-*``, ``Caller-*``,
        ``variable_*``) as ``switch_channel_event_set_data`` adds it; ``None`` if no such
        channel."""
        ...

    async def queue_private_event(self, uuid: str, event: Event) -> bool:
        """Queue ``event`` (``SEND_MESSAGE``/``COMMAND``) on a channel; ``False`` if none."""
        ...

    def bind_xml(self, sections: Iterable[str], handler: FetchHandler) -> Callable[[], None]:
        """Add a fetch binding for ``sections`` (empty: every section); returns unbind.

        Section names are parsed as FreeSWITCH does (substring match, case-insensitive;
        :class:`XmlSectionError` for a name matching none).
        """
        ...

    async def xml_lookup(
        self,
        section: str,
        tag_name: str,
        key_name: str,
        key_value: str,
        params: Iterable[tuple[str, str]] = (),
    ) -> str | None:
        """Ask the bindings of ``section`` in registration order for XML.

        The first answer that parses and is not a ``result`` section with status
        ``not found`` wins; unparsable answers are logged and skipped, as are handlers
        that raise.  ``None`` when no binding answers.  ``params`` become the headers of
        the ``REQUEST_PARAMS`` event the handlers get.
        """
        ...


@runtime_checkable
class SwitchControl(Protocol):
    """The management side of a switch backend: what the program embedding it uses."""

    @property
    def identity(self) -> SwitchIdentity: ...

    async def run(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """The backend's own tasks (clock, heartbeat, channels); reports started, runs
        until cancelled.  Start it in the owner's nursery with ``nursery.start``."""
        ...

    def set_global(self, name: str, value: str | None) -> None:
        """Set a global variable; ``None`` (or ``""``) deletes it, as FreeSWITCH does."""
        ...

    def register_json_api(self, name: str, handler: JsonApiHandler, description: str = "") -> None:
        """Add (or replace) JSON API command ``name``."""
        ...


@runtime_checkable
class SwitchBackend(Switch, SwitchControl, Protocol):
    """A complete backend: the server's side and the management side."""
