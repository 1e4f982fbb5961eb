"""mod_kazoo's own commands and applications on a stock FreeSWITCH.

:mod:`kazoo_trio.switch.kz` writes them once, over two synchronous interfaces.  A
FreeSWITCH reached over its event socket answers nothing synchronously, so:

* The API commands run over :class:`FsKzHost`, which replays: a command runs
  against what is known (the local channel table and globals, and the answers
  gathered so far); every answer it asks for that only FreeSWITCH has (a channel's
  live ``uuid_dump``, an API call inside an expansion) is recorded, fetched and the
  command run again, until it asks for nothing new.  Its writes (variables, profile
  fields, events) are recorded and applied once, from the final run, in order, with
  stock commands (``uuid_setvar``; ``set_profile_var`` executed on the channel;
  ``sendevent``).  Replaying keeps :mod:`kazoo_trio.switch.kz` written once and
  synchronous, and no command waits while holding a half-applied state; an
  async adapter would have needed an async copy of every command.
* The applications are rewritten where they enter FreeSWITCH, into the stock
  applications they translate to: in the route XML mod_xml_curl is answered with
  (:func:`rewrite_dialplan`), and in ``sendmsg`` ``execute``/``xferext``
  (:func:`rewrite_message`).  The translations read the channel through a view
  that leaves expansion to FreeSWITCH, which expands a stock application's data
  when it runs it: one expansion, on the channel, at the time mod_kazoo's
  application would have expanded it.
"""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Protocol

import attrs

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.expand import expand_variables
from kazoo_trio.switch.headers import EventOrigin, event_index_lookup, event_lookup
from kazoo_trio.switch.kz.commands import COMMANDS_ORIGIN, KZ_COMMANDS, SyncCommand, first_of_in
from kazoo_trio.switch.kz.dptools import KZ_APPLICATIONS, Api, Execute, Step
from kazoo_trio.switch.protocol import ApiHandler, ApiOutput
from kazoo_trio.uuids import uuid4_str

__all__ = [
    "FsKzHost",
    "FsSwitch",
    "LookupChannel",
    "Rewritten",
    "kz_api_handlers",
    "rewrite_dialplan",
    "rewrite_message",
    "translate",
]

log = logging.getLogger(__name__)

# Replays of one command before it is given up (each asks for at least one new
# answer, and expansions nest only this deep in practice).
_MAX_RUNS = 8

# Delimiters a multiset may use, in order of preference.
_DELIMITERS = "|~`^;,!#"


class FsSwitch(Protocol):
    """What :class:`FsKzHost` needs of the FreeSWITCH backend."""

    def channel_exists(self, uuid: str) -> bool: ...

    def get_global(self, name: str) -> str | None: ...

    def fire(self, event: Event) -> None: ...

    def new_event(
        self,
        name: str,
        *,
        subclass: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: str | None = None,
        origin: EventOrigin | None = None,
    ) -> Event: ...

    async def xml_lookup(
        self,
        section: str,
        tag_name: str,
        key_name: str,
        key_value: str,
        params: Iterable[tuple[str, str]] = (),
    ) -> str | None: ...

    async def live_channel(self, uuid: str) -> list[tuple[str, str]] | None:
        """The channel's data as ``uuid_dump`` gives it now; ``None`` if gone."""
        ...

    async def raw_api(self, command: str, args: str) -> str:
        """A FreeSWITCH API command, its arguments not expanded; raises
        :class:`~kazoo_trio.errors.RequestError` when FreeSWITCH cannot answer."""
        ...

    async def execute_on(self, uuid: str, application: str, data: str) -> None:
        """Queue a stock application on the channel (``sendmsg`` ``execute``)."""
        ...


Need = tuple[str, ...]


@attrs.define(eq=False)
class _Run:
    """One run of a command: a :class:`~kazoo_trio.switch.kz.host.KzHost` answering
    from what is known and recording what it lacks and what it writes."""

    switch: FsSwitch
    answers: Mapping[Need, str | None]
    needs: list[Need] = attrs.field(factory=list)
    writes: list[tuple[str, str, str, str | None]] = attrs.field(factory=list)
    fired: list[Event] = attrs.field(factory=list)

    def _answer(self, need: Need) -> str | None:
        if need in self.answers:
            return self.answers[need]
        if need not in self.needs:
            self.needs.append(need)
        return None

    def channel_exists(self, uuid: str) -> bool:
        return self.switch.channel_exists(uuid)

    def channel_headers(self, uuid: str) -> list[tuple[str, str]] | None:
        if not self.switch.channel_exists(uuid):
            return None
        dump = self._answer(("dump", uuid))
        return [(name, value) for name, value in json.loads(dump)] if dump is not None else None

    def new_event(
        self,
        name: str,
        *,
        subclass: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: str | None = None,
    ) -> Event:
        return self.switch.new_event(
            name, subclass=subclass, headers=headers, body=body, origin=COMMANDS_ORIGIN
        )

    def fire(self, event: Event) -> None:
        self.fired.append(event)

    def get_global(self, name: str) -> str | None:
        return self.switch.get_global(name)

    def global_variables(self) -> list[tuple[str, str]]:
        # FreeSWITCH's globals are not listed here: kz_expand still finds each by name.
        return []

    async def xml_lookup(
        self,
        section: str,
        tag_name: str,
        key_name: str,
        key_value: str,
        params: Iterable[tuple[str, str]] = (),
    ) -> str | None:
        return await self.switch.xml_lookup(section, tag_name, key_name, key_value, params)

    def set_channel_variable(self, uuid: str, name: str, value: str | None) -> bool:
        if not self.switch.channel_exists(uuid):
            return False
        self.writes.append(("var", uuid, name, value))
        return True

    def set_profile_var(self, uuid: str, name: str, value: str | None) -> bool:
        if not self.switch.channel_exists(uuid):
            return False
        self.writes.append(("profile", uuid, name, value))
        return True

    def _call(self, name: str, args: str) -> str | None:
        return self._answer(("api", name.strip(), args))

    def expand_event(self, text: str, event: Event) -> str:
        header = event_lookup(event)

        def call(name: str, args: str) -> str | None:
            if name.strip() == "first-of":
                output = first_of_in(args.strip(), header)
                return output.text if output.ok else None
            return self._call(name, args)

        return expand_variables(
            text,
            lookup=header,
            global_lookup=self.switch.get_global,
            call=call,
            lookup_index=event_index_lookup(event),
        )

    def expand_channel(self, uuid: str, text: str) -> str | None:
        # switch_channel_expand_variables: a channel variable, else a global, values
        # expanded again; read from the channel's live dump.
        if not self.switch.channel_exists(uuid):
            return None
        need = ("dump", uuid)
        if need not in self.answers:
            self._answer(need)
            return ""
        headers = self.channel_headers(uuid)
        if headers is None:
            return None
        variables = {k[9:]: v for k, v in headers if k.startswith("variable_")}
        return expand_variables(
            text,
            lookup=variables.get,
            global_lookup=self.switch.get_global,
            call=self._call,
            expand_found=True,
        )


@attrs.define(eq=False)
class FsKzHost:
    """Runs :mod:`kazoo_trio.switch.kz`'s API commands on FreeSWITCH by replay (see the
    module text)."""

    switch: FsSwitch

    async def run(self, command: SyncCommand, args: str) -> ApiOutput:
        answers: dict[Need, str | None] = {}
        for _ in range(_MAX_RUNS):
            run = _Run(self.switch, answers)
            output = command(run, args)
            if not run.needs:
                await self._apply(run)
                return output
            for need in run.needs:
                answers[need] = await self._fetch(need)
        return ApiOutput("-ERR expansion too deep\n", ok=False)

    async def _fetch(self, need: Need) -> str | None:
        kind = need[0]
        if kind == "dump":
            headers = await self.switch.live_channel(need[1])
            return json.dumps(headers) if headers is not None else None
        text = await self.switch.raw_api(need[1], need[2])
        return None if text.startswith("-ERR") else text

    async def _apply(self, run: _Run) -> None:
        written: set[str] = set()
        for kind, uuid, name, value in run.writes:
            written.add(uuid)
            if kind == "var":
                # uuid_setvar unsets without a value; the value is the rest of the line.
                args = f"{uuid} {name} {value}" if value else f"{uuid} {name}"
                await self.switch.raw_api("uuid_setvar", args)
            else:
                await self.switch.execute_on(uuid, "set_profile_var", f"{name}={value or ''}")
        for event in run.fired:
            target = event.get("Unique-ID")
            if event.name == "CHANNEL_DATA" and target is not None and target in written:
                # mod_kazoo fires it after the writes: the channel as it is now.
                fresh = await self.switch.live_channel(target)
                if fresh is None:
                    continue
                event = self.switch.new_event("CHANNEL_DATA", headers=fresh, origin=COMMANDS_ORIGIN)
            self.switch.fire(event)


def kz_api_handlers(host: FsKzHost) -> list[tuple[str, ApiHandler, str, str]]:
    """``(name, handler, description, syntax)`` of every command of
    :data:`~kazoo_trio.switch.kz.commands.KZ_COMMANDS`, running over ``host``."""
    handlers: list[tuple[str, ApiHandler, str, str]] = []
    for command in KZ_COMMANDS:
        handlers.append(
            (command.name, _bind(command.sync, command.wait, host), command.description,
             command.syntax)
        )  # fmt: skip
    return handlers


def _bind(
    sync: SyncCommand | None,
    wait: Callable[..., Awaitable[ApiOutput]] | None,
    host: FsKzHost,
) -> ApiHandler:
    async def handler(args: str) -> ApiOutput:
        if wait is not None:
            # The waiting commands only look up XML and read files.
            return await wait(_Run(host.switch, {}), args)
        assert sync is not None
        return await host.run(sync, args)

    return handler


# -- applications ---------------------------------------------------------------------


@attrs.frozen
class LookupChannel:
    """A :class:`~kazoo_trio.switch.kz.host.ChannelView` of the channel a lookup or a
    dump describes (its ``variable_*`` and ``Caller-*`` headers); expansion is left to
    FreeSWITCH, which expands the stock applications' data when it runs them."""

    uuid: str
    headers: tuple[tuple[str, str], ...]
    exists: Callable[[str], bool]

    @property
    def variables(self) -> Mapping[str, str]:
        return {k[9:]: v for k, v in self.headers if k.startswith("variable_")}

    def get_variable(self, name: str) -> str | None:
        return self.variables.get(name)

    def profile_field(self, name: str) -> str:
        header = "Caller-" + "-".join(p.capitalize() for p in name.split("_"))
        header = header.replace("-Id-", "-ID-")
        for key, value in self.headers:
            if key == header:
                return value
        return ""

    def expand(self, text: str) -> str:
        return text

    def channel_exists(self, uuid: str) -> bool:
        return self.exists(uuid)

    def expand_on(self, uuid: str, text: str) -> str | None:
        # Another channel's expansion needs its live data: the value goes as given.
        return None


def _endless_playback(view: LookupChannel, data: str) -> list[Step]:
    """``kz_endless_playback`` on FreeSWITCH: its ``endless_playback`` goes on playing
    after ``uuid_break`` (it only stops for a hang-up or a transfer), which would leave
    ecallmgr's hold impossible to end; ``playback`` stops.  So the source plays once:
    endlessly for the endless sources hold music uses (``local_stream://``,
    ``tone_stream://...;loops=-1``), once for a plain file."""
    return [
        Execute("playback", data),
        Execute("set", "current_application_response=PLAYBACK_INTERRUPTED"),
    ]


# Where FreeSWITCH's stock application does not do what the translation expects.
_FREESWITCH_TRANSLATIONS: dict[str, Callable[[LookupChannel, str], list[Step]]] = {
    "kz_endless_playback": _endless_playback,
}


def translate(view: LookupChannel, application: str, data: str) -> list[Step] | None:
    """The stock steps of a ``kz_*`` application, with runs of ``set`` folded into one
    ``multiset``; ``None`` when ``application`` is not mod_kazoo's."""
    own = _FREESWITCH_TRANSLATIONS.get(application)
    if own is not None:
        return _fold_sets(own(view, data))
    translation = KZ_APPLICATIONS.get(application)
    if translation is None:
        return None
    return _fold_sets(translation(view, data))


def _fold_sets(steps: list[Step]) -> list[Step]:
    folded: list[Step] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) == 1:
            folded.append(Execute("set", run[0]))
        elif run:
            delim = next((d for d in _DELIMITERS if not any(d in item for item in run)), None)
            if delim is None:
                folded.extend(Execute("set", item) for item in run)
            else:
                folded.append(Execute("multiset", f"^^{delim}" + delim.join(run)))
        run.clear()

    for step in steps:
        if isinstance(step, Execute) and step.application == "set":
            run.append(step.data)
            continue
        flush()
        folded.append(step)
    flush()
    return folded


def _api_as_application(step: Api) -> Execute | None:
    # A stock command runs from the dialplan inside an expansion; mod_kazoo's own
    # (kz_uuid_setvar_multi_encoded) does not exist on FreeSWITCH.
    if step.command.startswith("kz_"):
        return None
    return Execute("set", f"kz_api_response=${{{step.command}({step.args})}}")


def _as_executes(steps: list[Step], deferred: list[Api] | None = None) -> list[Execute]:
    """The steps as stock applications; mod_kazoo's own API commands go to
    ``deferred`` (run by the backend) or, without it, are skipped."""
    out: list[Execute] = []
    for step in steps:
        if isinstance(step, Execute):
            out.append(step)
            continue
        converted = _api_as_application(step)
        if converted is not None:
            out.append(converted)
        elif deferred is not None:
            deferred.append(step)
        else:
            log.warning("%s %s cannot run on FreeSWITCH: skipped", step.command, step.args)
    return out


def rewrite_dialplan(document: str, params: Iterable[tuple[str, str]],
                     exists: Callable[[str], bool]) -> str:  # fmt: skip
    """Route XML with every ``kz_*`` action replaced by its stock actions, the channel
    read from the lookup's parameters (``Unique-ID``, ``variable_*``, ``Caller-*``).
    A document without ``kz_*`` actions is returned as it is."""
    if "kz_" not in document:
        return document
    try:
        root = ET.fromstring(document)
    except ET.ParseError:
        return document
    headers = tuple(params)
    uuid = next((v for k, v in headers if k in ("Unique-ID", "Call-ID")), "")
    view = LookupChannel(uuid, headers, exists)
    changed = False
    for parent in root.iter():
        children = list(parent)
        for index in range(len(children) - 1, -1, -1):
            element = children[index]
            if element.tag not in ("action", "anti-action"):
                continue
            steps = translate(view, element.get("application", ""), element.get("data", ""))
            if steps is None:
                continue
            changed = True
            parent.remove(element)
            extra = {k: v for k, v in element.attrib.items() if k not in ("application", "data")}
            for offset, step in enumerate(_as_executes(steps)):
                replacement = ET.Element(element.tag, {"application": step.application})
                if step.data:
                    replacement.set("data", step.data)
                replacement.attrib.update(extra)
                replacement.tail = element.tail
                parent.insert(index + offset, replacement)
    if not changed:
        return document
    return ET.tostring(root, encoding="unicode")


@attrs.frozen
class Rewritten:
    """A ``sendmsg`` message made of stock applications: the messages to send in order
    and, for an ``execute``, the ``Application-UUID`` of its last step with the
    application and data the message asked for (its events are renamed back)."""

    messages: list[list[tuple[str, str]]]
    application_uuid: str | None = None
    application: str = ""
    data: str = ""
    # mod_kazoo's own commands among the steps, run here once the messages are sent.
    apis: list[Api] = attrs.field(factory=list)
    # The Application-Response the renamed completion reports (mod_kazoo's own).
    response: str | None = None


_RESPONSE = "current_application_response="


def _response_step(executes: list[Execute]) -> tuple[list[Execute], str | None]:
    """A final ``set current_application_response=X`` after other steps is left out, and
    X reported in the renamed completion instead: sent as a message of its own, it
    would run inside a media application before it ends (FreeSWITCH parses queued
    messages while playing), answering too early."""
    last = executes[-1]
    if len(executes) > 1 and last.application == "set" and last.data.startswith(_RESPONSE):
        return executes[:-1], last.data[len(_RESPONSE) :]
    return executes, None


def rewrite_message(headers: list[tuple[str, str]], view: LookupChannel) -> Rewritten | None:
    """A ``sendmsg`` message with its ``kz_*`` applications made stock ones: the
    messages to send, in order, or ``None`` when it has none.

    ``execute`` of a ``kz_*`` application becomes one ``execute`` per stock step,
    the message's other headers on each; only the last carries ``event-uuid`` (one
    is made when the message has none) and ``event-uuid-name``, so the command's
    ``CHANNEL_EXECUTE_COMPLETE`` comes when all of it is done, and Kazoo's stream
    filters (which want ``Application-UUID-Name``) let only that one through.  The
    steps before the last hold ``event-lock``, so that FreeSWITCH does not run the
    next one inside them.  In ``xferext`` each ``application`` header is rewritten in
    place.
    """
    command = next((v for k, v in headers if k.lower() == "call-command"), "")
    if command == "execute":
        name = next((v for k, v in headers if k.lower() == "execute-app-name"), "")
        arg = next((v for k, v in headers if k.lower() == "execute-app-arg"), "")
        steps = translate(view, name, arg)
        if steps is None:
            return None
        apis: list[Api] = []
        executes = _as_executes(steps, apis)
        if not executes:
            # Nothing to do still answers with one execution, as mod_kazoo does.
            executes = [Execute("set", "kz_noop=")]
        executes, response = _response_step(executes)
        event_uuid = next((v for k, v in headers if k.lower() == "event-uuid"), "")
        renamed: str | None = event_uuid
        if event_uuid == "null":
            # A commands list's earlier commands: Kazoo filters their events out
            # (Application-UUID null), so they are neither tracked nor renamed.
            renamed = None
        elif not event_uuid:
            renamed = event_uuid = uuid4_str()
            headers = [*headers, ("event-uuid", event_uuid)]
        messages: list[list[tuple[str, str]]] = []
        for position, step in enumerate(executes):
            last = position == len(executes) - 1
            message: list[tuple[str, str]] = []
            for key, value in headers:
                lowered = key.lower()
                if lowered == "execute-app-name":
                    value = step.application
                elif lowered == "execute-app-arg":
                    value = step.data
                elif lowered in ("event-uuid", "event-uuid-name", "event-lock") and not last:
                    continue
                message.append((key, value))
            if not last:
                message.append(("event-lock", "true"))
            messages.append(message)
        return Rewritten(messages, renamed, name, arg, apis, response)
    if command == "xferext":
        rewritten: list[tuple[str, str]] = []
        deferred: list[Api] = []
        changed = False
        for key, value in headers:
            if key.lower() != "application":
                rewritten.append((key, value))
                continue
            name, _, arg = value.partition(" ")
            steps = translate(view, name, arg)
            if steps is None:
                rewritten.append((key, value))
                continue
            changed = True
            executes = _as_executes(steps, deferred)
            rewritten += [(key, f"{s.application} {s.data}".rstrip()) for s in executes]
        return Rewritten([rewritten], apis=deferred) if changed else None
    return None
