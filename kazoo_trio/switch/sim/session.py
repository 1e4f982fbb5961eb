"""The session: the task that lives as long as a channel and runs what it does.

A session runs *actions* one after another (route through the dialplan, park, run
an application, wait in a bridge).  :meth:`Channel.redirect` cancels the running
action and names the next one (``transfer``, ``uuid_park``, ``xferext``...);
:meth:`Channel.hangup` cancels the whole session.  Whatever ends it — the last
action returning (``NORMAL_CLEARING``), a hang-up, or the switch shutting down
(``SYSTEM_SHUTDOWN``) — the channel's closing events fire and it leaves the table.
Applications are looked up through the channel's host, so this module does not
import :mod:`.applications` (which runs on top of it).
Layer: above :mod:`.channel` and :mod:`.dialplan`.
"""

from __future__ import annotations

import logging
import re

import trio

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.kz.cdr import AppLogEntry
from kazoo_trio.switch.sim.causes import parse_cause
from kazoo_trio.switch.sim.channel import Action, Channel, Next
from kazoo_trio.switch.sim.channels import shared_text
from kazoo_trio.switch.sim.dialplan import hunt, inline_hunt
from kazoo_trio.uuids import uuid4_str

__all__ = [
    "INVALID_APPLICATION",
    "app_action",
    "drain_private",
    "execute_app",
    "park_action",
    "run_private",
    "run_session",
    "serve_private",
    "transfer_action",
    "xferext_applications",
]

log = logging.getLogger(__name__)

# What execute_app returns for an application no module registers.
INVALID_APPLICATION = "-ERR invalid application"

_ORIGIN_EXECUTE = EventOrigin("switch_core_session.c", "switch_core_session_exec", 2950)
_ORIGIN_PARK = EventOrigin("switch_ivr.c", "switch_ivr_park", 1005)


async def run_session(
    channel: Channel,
    first: Action,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Register ``channel``, fire its creation, run ``first`` and what follows; always
    ends with the channel destroyed and removed from the table."""
    channel.sw.channels.add(channel)
    try:
        channel.fire_create()
        task_status.started()
        # The status keeps the starter's nursery, and that its task: the session
        # would hold both as long as the call lasts.
        del task_status
        # A hang-up cancels the running action's scope, and every action after it
        # starts cancelled: no scope of its own for the whole session.
        action: Action | None = first
        while action is not None:
            channel.pending = None
            with trio.CancelScope() as work:
                channel.work_scope = work
                if not channel.up:
                    work.cancel()
                await action(channel)
            channel.work_scope = None
            if work.cancelled_caught and not channel.up:
                break
            pending = channel.pending
            action = park_action if pending is Next.PARK else pending
        channel.hangup("NORMAL_CLEARING")
    finally:
        channel.work_scope = None
        if channel.up:
            channel.hangup("SYSTEM_SHUTDOWN")
            channel.sw.shutdown_hangups += 1
        channel.finish()


# -- applications -------------------------------------------------------------------------


async def execute_app(
    channel: Channel,
    name: str,
    arg: str,
    app_uuid: str | None = None,
    uuid_name: str | None = None,
) -> str:
    """Run application ``name``: ``CHANNEL_EXECUTE``, the application, then
    ``CHANNEL_EXECUTE_COMPLETE`` with its ``Application-Response`` (also when it is
    cut short by a hang-up or redirect).  Returns the response.

    An unknown application hangs the channel up with ``DESTINATION_OUT_OF_ORDER``
    before any event, as ``switch_core_session_execute_application_get_flags`` does;
    one that fails completes with an ``-ERR`` response and the channel carries on.
    """
    handler = channel.sw.application(name)
    if handler is None:
        log.error("channel %s: Invalid Application %s", channel.uuid, name)
        channel.hangup("DESTINATION_OUT_OF_ORDER")
        await trio.lowlevel.checkpoint()
        return INVALID_APPLICATION
    # The application log keeps both for the whole call.
    name, data = shared_text(name), shared_text(channel.expand(arg))
    app_id = app_uuid or uuid4_str()
    channel.set_variable("current_application", name)
    channel.set_variable("current_application_data", data)
    channel.set_variable("current_application_response", None)
    channel.running_app, channel.running_app_data = name, data
    channel.app_log.append(AppLogEntry(name, data, channel.sw.clock.wall_us()))
    uuid_name = uuid_name or ""
    # The application's headers are none of the channel's: listeners may judge its
    # events by them before the channel's headers are made.
    headers, known = _app_headers(name, data, app_id, uuid_name)
    channel.fire("CHANNEL_EXECUTE", headers, origin=_ORIGIN_EXECUTE, known=known)
    # Made again for the completion: an application that parks the call would keep
    # them as long as it stays parked.
    del headers, known
    try:
        await handler(channel, data)
    except Exception as exc:
        log.exception("channel %s: application %s failed", channel.uuid, name)
        channel.set_variable("current_application_response", f"-ERR {exc}")
    finally:
        response = channel.variables.get("current_application_response") or "_none_"
        channel.running_app = channel.running_app_data = ""
        headers, known = _app_headers(name, data, app_id, uuid_name, response)
        channel.fire("CHANNEL_EXECUTE_COMPLETE", headers, origin=_ORIGIN_EXECUTE, known=known)
    return response


def _app_headers(
    name: str, data: str, app_id: str, uuid_name: str, response: str | None = None
) -> tuple[list[tuple[str, str]], dict[str, str | None]]:
    """An application event's own headers (with ``Application-Response`` for its
    completion), and what listeners may judge it by (:func:`known_values` of them, for
    these distinct names).  Empty values are left out of the headers: after the
    channel's data, which never has these names, adding one deletes nothing and adds
    nothing."""
    pairs = [("Application", name), ("Application-Data", data)]
    if response is not None:
        pairs.append(("Application-Response", response))
    pairs += [("Application-UUID", app_id), ("Application-UUID-Name", uuid_name)]
    known = {name: value or None for name, value in pairs if not value.startswith("ARRAY::")}
    return [pair for pair in pairs if pair[1]], known


def app_action(name: str, arg: str) -> Action:
    """Run one application, then end the session (originate's ``&app(args)``)."""

    async def action(channel: Channel) -> None:
        channel.set_state("CS_EXECUTE")
        await execute_app(channel, name, arg)

    return action


def extension_action(apps: list[tuple[str, str]]) -> Action:
    """Run ``apps`` in order, taking queued commands between them (an inline extension)."""

    async def action(channel: Channel) -> None:
        channel.set_state("CS_EXECUTE")
        await run_extension(channel, list(apps))

    return action


async def run_extension(channel: Channel, apps: list[tuple[str, str]]) -> None:
    """Run ``apps`` in order, taking queued commands between them.  The list is
    emptied as they start: a call parked by its last application would otherwise keep
    the whole extension as long as it stays parked."""
    apps.reverse()
    while apps:
        await drain_private(channel)
        # As the CS_EXECUTE loop: a channel hung up runs no further application.
        if not channel.up:
            break
        name, arg = apps.pop()
        await execute_app(channel, name, arg)
    await drain_private(channel)


# -- routing and transfer -------------------------------------------------------------------


async def route(channel: Channel) -> None:
    """``CS_ROUTING``: look the extension up, then ``CS_EXECUTE`` it; no route hangs
    up with ``NO_ROUTE_DESTINATION``."""
    channel.set_state("CS_ROUTING")
    # switch_core_standard_on_routing: the profile's dialplan, "<name>[:<arg>]".
    name, _, arg = channel.profile.dialplan.partition(":")
    if name.lower() == "inline":
        apps = inline_hunt(channel, arg)
    else:
        apps = await hunt(channel)
    if apps is None:
        channel.hangup("NO_ROUTE_DESTINATION")
        await trio.lowlevel.checkpoint()
        return
    channel.sort_cid()  # switch_channel_set_caller_extension
    channel.set_state("CS_EXECUTE")
    await run_extension(channel, apps)


def transfer_action(destination: str, dialplan: str = "", context: str = "") -> Action:
    """``switch_ivr_session_transfer``: a new caller profile, then routing again."""

    async def action(channel: Channel) -> None:
        if await apply_transfer(channel, destination, dialplan, context):
            await route(channel)

    return action


async def apply_transfer(
    channel: Channel, destination: str, dialplan: str = "", context: str = ""
) -> bool:
    """``switch_ivr_session_transfer`` up to routing, which it leaves to the state
    machine: one hop less in ``max_session_transfers`` (else ``max_forwards``; 70 when
    neither is set; none left hangs up ``EXCHANGE_ROUTING_ERROR``: ``False``), then
    ``execute_on_blind_transfer`` and the new caller profile.  The ``transfer``
    application does this before it completes, so its ``CHANNEL_EXECUTE_COMPLETE``
    already carries the new profile."""
    forward_name = "max_session_transfers"
    if not channel.variables.get(forward_name):
        forward_name = "max_forwards"
    forwards = channel.variables.get(forward_name)
    # atoi: the leading digits, 0 for none.
    digits = re.match(r"\s*([+-]?\d+)", forwards or "")
    left = (int(digits.group(1)) if digits else 0) - 1 if forwards else 70
    if left <= 0:
        channel.hangup("EXCHANGE_ROUTING_ERROR")
        return False
    channel.set_variable(forward_name, str(left))
    # switch_channel_execute_on: "<app> <arg>" (or "<app>:<arg>") before the new
    # profile (mod_kazoo's tweaks set kz_restore_caller_id there).
    on_transfer = channel.variables.get("execute_on_blind_transfer")
    if on_transfer:
        cut = next((i for i, c in enumerate(on_transfer) if c in " :"), len(on_transfer))
        await execute_app(channel, on_transfer[:cut], on_transfer[cut + 1 :])
    channel.archive_profile()
    profile = channel.profile
    # The channel's dialplan and context unless given, else XML and default.
    use_dialplan = dialplan or profile.dialplan or "XML"
    use_context = context or profile.context or "default"
    profile.transfer_source = (
        f"{channel.sw.clock.wall_us() // 1_000_000}:{channel.uuid}:bl_xfer:"
        f"{destination}/{use_context}/{use_dialplan}"
    )
    profile.rdnis = profile.destination_number
    profile.destination_number = destination
    profile.dialplan = use_dialplan
    profile.context = use_context
    profile.profile_index += 1
    profile.transferred = channel.sw.clock.wall_us()
    channel.set_variable("transfer_history", profile.transfer_source)
    channel.set_variable("transfer_source", profile.transfer_source)
    return True


async def park_action(channel: Channel) -> None:
    """``uuid_park``: ``CS_PARK``, then park."""
    channel.set_state("CS_PARK")
    await park(channel)


async def park(channel: Channel, data: str = "") -> None:
    """``switch_ivr_park``: ``CHANNEL_PARK``, run queued commands until redirected or
    hung up, ``CHANNEL_UNPARK`` on the way out.  Also the ``park`` application itself
    (which ignores its argument): a parked call keeps every frame of its session's
    stack, so none in between (this runs :func:`serve_private`'s loop itself)."""
    channel.fire("CHANNEL_PARK", origin=_ORIGIN_PARK)
    try:
        while True:
            try:
                event = await channel.private_receive.receive()
            except (trio.EndOfChannel, trio.ClosedResourceError):
                await trio.sleep_forever()
            await run_private(channel, event)
            del event  # as serve_private: not kept while waiting for the next one
    finally:
        channel.fire("CHANNEL_UNPARK", origin=_ORIGIN_PARK)


# -- private events (sendmsg, command) ------------------------------------------------------


async def serve_private(channel: Channel) -> None:
    """Run queued private events as they come, until cancelled."""
    while True:
        try:
            event = await channel.private_receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            await trio.sleep_forever()
        await run_private(channel, event)
        # Not held while waiting for the next one: a parked call would keep its last
        # command (a whole event) for as long as it stays parked.
        del event


async def drain_private(channel: Channel) -> None:
    """Run the private events already queued (between dialplan applications)."""
    queue = channel.private_receive
    while channel.up and queue.ready():
        await run_private(channel, queue.receive_nowait())


def _request_headers(event: Event) -> list[tuple[str, str]]:
    """The headers the sender gave (those after the standard ones)."""
    headers = list(event.headers)
    for i, (name, _) in enumerate(headers):
        if name == "Event-Sequence":
            rest = headers[i + 1 :]
            if rest and rest[0][0] == "Event-Subclass":
                rest = rest[1:]
            return rest
    return headers


def xferext_applications(event: Event) -> list[tuple[str, str]]:
    """``xferext``'s inline extension: every ``application: <app> <args>`` header in
    order, split at the first space, as ``switch_ivr_parse_event`` builds it.

    Without any ``application`` header, the simulation's older form is read instead:
    each header after ``call-command`` names an application and holds its argument.
    """
    headers = _request_headers(event)
    apps: list[tuple[str, str]] = []
    for name, value in headers:
        if name.lower() == "application":
            app, _, data = value.partition(" ")
            apps.append((app, data))
    if apps:
        return apps
    seen_command = False
    for name, value in headers:
        if name.lower() == "call-command":
            seen_command = True
        elif seen_command:
            apps.append((name, value))
    return apps


async def run_private(channel: Channel, event: Event) -> None:
    """``switch_ivr_parse_event``: ``call-command`` ``execute`` / ``hangup`` / ``xferext``.

    Unknown commands are logged and ignored, as FreeSWITCH does.
    """
    # The first value of each header by lowered name (what get_ci finds), in one pass
    # over the headers instead of one per header read.
    headers: dict[str, str] = {}
    for key, value in event.headers:
        headers.setdefault(key.lower(), value)
    get = headers.get
    command = (get("call-command") or "").lower()
    if command == "execute":
        name = get("execute-app-name") or ""
        arg = get("execute-app-arg")
        if arg is None:
            arg = event.body or ""
        try:
            loops = max(1, int(get("loops") or "1"))
        except ValueError:
            loops = 1
        app_uuid = get("event-uuid")
        uuid_name = get("event-uuid-name")
        for _ in range(loops):
            if not channel.up:
                break
            await execute_app(channel, name, arg, app_uuid, uuid_name)
    elif command == "hangup":
        cause = parse_cause(get("hangup-cause") or "") or "NORMAL_CLEARING"
        channel.hangup(cause)
        await trio.lowlevel.checkpoint()
    elif command == "xferext":
        channel.redirect(extension_action(xferext_applications(event)))
        await trio.lowlevel.checkpoint()
    else:
        log.warning("channel %s: unsupported call-command %r ignored", channel.uuid, command)
