"""mod_conference on the simulated switch: the ``conference`` application, the
``conference`` API command and the ``conference::maintenance`` events.

A conference exists while it has members.  Joining fires ``conference-create`` (for
the first member) and ``add-member``; leaving fires ``del-member`` and, for the last
member, ``conference-destroy``, with the headers ``conference_event_add_data`` and
``conference_member_add_event_data`` give them.  Audio is not mixed: ``mute``,
``deaf`` and the like change the member's flags and fire their events.  ``kick`` and
``hup`` take a member out: its ``conference`` application returns and the channel
carries on with what follows.
Layer: above :mod:`.core` and :mod:`.applications`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable
from xml.etree.ElementTree import Element, SubElement

import attrs
import trio

from kazoo_trio.switch.headers import EventOrigin
from kazoo_trio.switch.protocol import ApiOutput
from kazoo_trio.switch.separate import separate_string
from kazoo_trio.switch.sim.channel import Channel
from kazoo_trio.switch.sim.core import SimCore
from kazoo_trio.switch.xmltext import XmlError, parse_document, to_freeswitch_xml
from kazoo_trio.uuids import uuid4_str

__all__ = ["CONFERENCE_MAINTENANCE", "ConferenceRoom", "Conferences", "register_conference"]

CONFERENCE_MAINTENANCE = "conference::maintenance"

_ORIGIN_MEMBER = EventOrigin("conference_member.c", "conference_member_add", 964)
_ORIGIN_CREATE = EventOrigin("mod_conference.c", "conference_new", 3853)
_ORIGIN_API = EventOrigin("conference_api.c", "conference_api_dispatch", 4237)
_ORIGIN_FLOOR = EventOrigin("conference_member.c", "conference_member_set_floor_holder", 1450)
_ORIGIN_CONFIG = EventOrigin("mod_conference.c", "conference_function", 2031)
_ORIGIN_CONTROLS = EventOrigin("conference_member.c", "conference_member_bind_controls", 74)
# conference_new: the domain of a conference neither its profile nor the first
# member's presence id names.
_DEFAULT_DOMAIN = "cluecon.com"
_RATE = 8000


@attrs.define(eq=False)
class Member:
    id: int
    channel: Channel
    moderator: bool = False
    can_speak: bool = True
    can_hear: bool = True
    energy: int = 100
    volume_in: int = 0
    volume_out: int = 0
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)


@attrs.define(eq=False)
class ConferenceRoom:
    name: str
    profile: str
    domain: str
    uuid: str = attrs.field(factory=uuid4_str)
    members: dict[int, Member] = attrs.field(factory=dict)
    locked: bool = False
    floor_holder: int | None = None  # the member id holding the floor
    # The profile's verbose-events: members' events carry their channel's variables.
    verbose_events: bool = False

    def headers(self) -> list[tuple[str, str]]:
        """``conference_event_add_data``."""
        return [
            ("Conference-Name", self.name),
            ("Conference-Domain", self.domain),
            ("Conference-Size", str(len(self.members))),
            ("Conference-Ghosts", "0"),
            ("Conference-Profile-Name", self.profile),
            ("Conference-Unique-ID", self.uuid),
        ]

    def member_headers(self, member: Member) -> list[tuple[str, str]]:
        """``conference_member_add_event_data``: the channel's data, its variables only
        with the profile's ``verbose-events`` (``switch_channel_event_set_basic_data``)."""
        flag = {True: "true", False: "false"}
        channel_data = member.channel.event_headers()
        if not self.verbose_events:
            channel_data = [h for h in channel_data if not h[0].startswith("variable_")]
        return [
            *self.headers(),
            ("Floor", flag[member.id == self.floor_holder]),
            *channel_data,
            ("Video", "false"),
            ("Hear", flag[member.can_hear]),
            ("See", "true"),
            ("Speak", flag[member.can_speak]),
            ("Talking", "false"),
            ("Mute-Detect", "false"),
            ("Hold", "false"),
            ("Member-ID", str(member.id)),
            ("Member-Type", "moderator" if member.moderator else "member"),
            ("Member-Ghost", "false"),
            ("Energy-Level", str(member.energy)),
            ("Current-Energy", "0"),
        ]


@attrs.define(eq=False)
class Conferences:
    """The running conferences of one switch."""

    sw: SimCore
    rooms: dict[str, ConferenceRoom] = attrs.field(factory=dict)
    _next_member_id: int = 0
    _outcalls: weakref.WeakKeyDictionary[Channel, list[str]] = attrs.field(
        factory=weakref.WeakKeyDictionary
    )

    def fire(
        self,
        headers: Iterable[tuple[str, str]],
        action: str,
        origin: EventOrigin,
        after: Iterable[tuple[str, str]] = (),
    ) -> None:
        event = self.sw.new_event(
            "CUSTOM",
            subclass=CONFERENCE_MAINTENANCE,
            headers=[*headers, ("Action", action), *after],
            origin=origin,
        )
        self.sw.fire(event)

    def set_floor(self, room: ConferenceRoom, member: Member | None) -> None:
        """``conference_member_set_floor_holder``: ``floor-change`` with the old and new
        holder's ids (the old one only while it is still a member: a holder leaving is
        already off the list); the new holder's data follows, repeating the conference's
        (as ``conference_member_add_event_data`` adds it again)."""
        old = room.floor_holder if room.floor_holder in room.members else None
        room.floor_holder = None if member is None else member.id
        after = [("Old-ID", "none" if old is None else str(old))]
        if member is None:
            after.append(("New-ID", "none"))
        else:
            after += [*room.member_headers(member), ("New-ID", str(member.id))]
        self.fire(room.headers(), "floor-change", _ORIGIN_FLOOR, after)

    async def open_config(
        self, channel: Channel, name: str, headers: list[tuple[str, str]], origin: EventOrigin
    ) -> str | None:
        """``switch_xml_open_cfg("conference.conf", params)`` with a ``name`` event of
        ``headers`` (mod_kazoo adds the data of the channel ``Fetch-Call-UUID`` names)."""
        params = [*headers, ("Fetch-Call-UUID", channel.uuid)]
        event = self.sw.new_event(name, headers=params, origin=origin)
        return await self.sw.xml_lookup(
            "configuration", "configuration", "name", "conference.conf", event
        )

    # -- the application ------------------------------------------------------------------

    async def run(self, channel: Channel, data: str) -> None:
        """``conference <name>[@<profile>][+flags{mute|deaf|moderator...}]``: join and
        stay until kicked or hung up."""
        spec, _, flag_text = data.strip().partition("+flags{")
        flags = set(flag_text.rstrip("}").split("|")) if flag_text else set()
        name, _, profile = spec.partition("@")
        if not name:
            channel.set_variable("current_application_response", "-ERR no conference name")
            return
        room = self.rooms.get(name)
        if room is not None and room.locked:
            channel.set_variable("conference_locked", "true")
            channel.set_variable("current_application_response", "-ERR conference locked")
            return
        profile = profile or "default"
        config = _profile_params(
            await self.open_config(
                channel,
                "COMMAND",
                [("conference_name", name), ("profile_name", profile)],
                _ORIGIN_CONFIG,
            ),
            profile,
        )
        channel.answer()
        if room is None:
            room = ConferenceRoom(name, profile, _domain(config, channel))
            room.verbose_events = config.get("verbose-events", "").lower() in ("true", "yes")
            self.rooms[name] = room
            self.fire(room.headers(), "conference-create", _ORIGIN_CREATE)
            self._dial_outcalls(channel, f"{name}@{room.profile}")
        self._next_member_id += 1
        member = Member(self._next_member_id, channel, moderator="moderator" in flags,
                        can_speak="mute" not in flags, can_hear="deaf" not in flags)  # fmt: skip
        room.members[member.id] = member
        channel.set_variable("conference_name", name)
        channel.set_variable("conference_uuid", room.uuid)
        channel.set_variable("conference_member_id", str(member.id))
        channel.set_variable("conference_moderator", "true" if member.moderator else "false")
        self.fire(room.member_headers(member), "add-member", _ORIGIN_MEMBER)
        if room.floor_holder is None:
            # conference_thread_run: a floor nobody holds goes to the first member.
            self.set_floor(room, member)
        controls = channel.get_variable("conference_controls") or config.get(
            "moderator-controls" if member.moderator else "caller-controls", ""
        )
        controls = controls or config.get("caller-controls", "") or "default"
        try:
            with member.scope:
                if controls.lower() != "none":
                    await self.open_config(
                        channel,
                        "REQUEST_PARAMS",
                        [
                            ("Conf-Name", name),
                            ("Conf-Profile", room.profile),
                            ("Action", "request-controls"),
                            ("Controls", controls),
                        ],
                        _ORIGIN_CONTROLS,
                    )
                await trio.sleep_forever()
        finally:
            room.members.pop(member.id, None)
            if room.floor_holder == member.id:
                self.set_floor(room, None)
            self.fire(room.member_headers(member), "del-member", _ORIGIN_MEMBER)
            if room.members and room.floor_holder is None:
                # The conference thread's next round gives a floor nobody holds to the
                # first member of its list, the newest.
                self.set_floor(room, room.members[max(room.members)])
            if not room.members:
                self.rooms.pop(name, None)
                self.fire(room.headers(), "conference-destroy", _ORIGIN_MEMBER)

    async def set_auto_outcall(self, channel: Channel, data: str) -> None:
        """``conference_set_auto_outcall <dial string>``: the legs the conference this
        channel creates dials into itself (mod_conference keeps them on the channel)."""
        if data.strip():
            self._outcalls.setdefault(channel, []).append(data.strip())
        await trio.lowlevel.checkpoint()

    def _dial_outcalls(self, channel: Channel, spec: str) -> None:
        for dial in self._outcalls.pop(channel, []):
            self.sw.start_task(self._outcall, dial, spec)

    async def _outcall(self, dial: str, spec: str) -> None:
        await self.sw.api("originate", f"{dial} &conference({spec})", expand=False)

    # -- the API command ------------------------------------------------------------------

    def api(self, args: str) -> ApiOutput:
        argv = separate_string(args, " ", 8) if args else []
        if not argv:
            return ApiOutput("")
        if argv[0] == "list":
            return ApiOutput(self._list_all(argv[1:]))
        if argv[0] == "xml_list":
            return ApiOutput(self._xml_list(list(self.rooms.values())))
        if argv[0] == "count":
            return ApiOutput(f"{len(self.rooms)}\n")
        room = self.rooms.get(argv[0])
        if room is None:
            return ApiOutput(f"-ERR Conference {argv[0]} not found\n")
        if len(argv) < 2:
            return ApiOutput("")
        command, rest = argv[1].lower(), argv[2:]
        if command == "list":
            return ApiOutput(self._members_text(room, ";"))
        if command == "xml_list":
            return ApiOutput(self._xml_list([room]))
        if command in ("lock", "unlock"):
            room.locked = command == "lock"
            self.fire(room.headers(), command, _ORIGIN_API)
            return ApiOutput(f"+OK {room.name} {command}ed\n")
        member_command = _MEMBER_COMMANDS.get(command)
        if member_command is not None:
            return ApiOutput(self._on_members(room, rest[0] if rest else "", member_command))
        if command in ("play", "stop", "say", "saymember", "recording", "set", "relate"):
            return ApiOutput("+OK\n")
        return ApiOutput(f"-ERR Unknown conference command {command}\n")

    def _on_members(self, room: ConferenceRoom, target: str, command: _MemberCommand) -> str:
        if target in ("all", "non_moderator"):
            chosen = [m for m in room.members.values()
                      if target == "all" or not m.moderator]  # fmt: skip
        elif target == "last":
            chosen = [room.members[max(room.members)]] if room.members else []
        elif target.isdigit():
            found = room.members.get(int(target))
            if found is None:
                return f"-ERR Non-Existant ID {target}\n"
            chosen = [found]
        else:
            return "-ERR Non-Existant member\n"
        out = []
        for member in chosen:
            text, action = command.apply(member)
            out.append(text.format(id=member.id))
            self.fire(room.member_headers(member), action, _ORIGIN_API)
        return "".join(out)

    def _members_text(self, room: ConferenceRoom, delim: str) -> str:
        lines = []
        for member in sorted(room.members.values(), key=lambda m: m.id, reverse=True):
            channel = member.channel
            flags = [f for f, on in (("hear", member.can_hear), ("speak", member.can_speak),
                                     ("floor", member.id == room.floor_holder),
                                     ("moderator", member.moderator)) if on]  # fmt: skip
            fields = [str(member.id), channel.name, channel.uuid,
                      channel.profile.caller_id_name, channel.profile.caller_id_number,
                      "|".join(flags), str(member.volume_in), str(member.volume_out),
                      str(member.energy)]  # fmt: skip
            lines.append(delim.join(fields) + "\n")
        return "".join(lines)

    def _list_all(self, argv: list[str]) -> str:
        if not self.rooms:
            return "+OK No active conferences.\n"
        delim = argv[1] if len(argv) > 1 and argv[0] == "delim" else ";"
        out = []
        for room in self.rooms.values():
            count = len(room.members)
            locked = " locked" if room.locked else ""
            flags = "|".join([*(["locked"] if room.locked else []), "running", "answered",
                              "dynamic"])  # fmt: skip
            out.append(f"+OK Conference {room.name} ({count} member{'' if count == 1 else 's'}"
                       f" rate: {_RATE}{locked} flags: {flags})\n")  # fmt: skip
            out.append(self._members_text(room, delim))
        return "".join(out)

    def _xml_list(self, rooms: list[ConferenceRoom]) -> str:
        if not rooms:
            return '<?xml version="1.0"?>\n<conferences>\n</conferences>\n'
        root = Element("conferences")
        for room in rooms:
            conf = SubElement(root, "conference", {
                "name": room.name, "member-count": str(len(room.members)),
                "ghost-count": "0", "rate": str(_RATE), "uuid": room.uuid,
                "running": "true", "answered": "true", "dynamic": "true",
                **({"locked": "true"} if room.locked else {}),
            })  # fmt: skip
            members = SubElement(conf, "members")
            for member in room.members.values():
                el = SubElement(members, "member", {"type": "caller"})
                channel = member.channel
                for tag, value in (
                    ("id", str(member.id)),
                    ("uuid", channel.uuid),
                    ("caller_id_name", channel.profile.caller_id_name),
                    ("caller_id_number", channel.profile.caller_id_number),
                ):
                    SubElement(el, tag).text = value  # fmt: skip
                flags = SubElement(el, "flags")
                for tag, on in (
                    ("can_hear", member.can_hear),
                    ("can_speak", member.can_speak),
                    ("is_moderator", member.moderator),
                ):
                    SubElement(flags, tag).text = "true" if on else "false"  # fmt: skip
        return '<?xml version="1.0"?>\n' + to_freeswitch_xml(root) + "\n"


@attrs.frozen
class _MemberCommand:
    """A member command: what it changes, its output line and its event's Action."""

    change: Callable[[Member], None]
    text: str
    action: str

    def apply(self, member: Member) -> tuple[str, str]:
        self.change(member)
        return self.text, self.action


def _set_speak(on: bool) -> Callable[[Member], None]:
    def change(member: Member) -> None:
        member.can_speak = on

    return change


def _set_hear(on: bool) -> Callable[[Member], None]:
    def change(member: Member) -> None:
        member.can_hear = on

    return change


def _leave(member: Member) -> None:
    member.scope.cancel()


_MEMBER_COMMANDS = {
    "mute": _MemberCommand(_set_speak(False), "+OK mute {id}\n", "mute-member"),
    "unmute": _MemberCommand(_set_speak(True), "+OK unmute {id}\n", "unmute-member"),
    "deaf": _MemberCommand(_set_hear(False), "+OK deaf {id}\n", "deaf-member"),
    "undeaf": _MemberCommand(_set_hear(True), "+OK undeaf {id}\n", "undeaf-member"),
    "kick": _MemberCommand(_leave, "+OK kicked {id}\n", "kick-member"),
    "hup": _MemberCommand(_leave, "+OK hup {id}\n", "hup-member"),
}


def _profile_params(document: str | None, profile: str) -> dict[str, str]:
    """The ``<param>``s of ``profile`` in a ``conference.conf`` answer (none when there
    is no answer, which the simulated switch takes as its built-in default profile)."""
    if not document:
        return {}
    try:
        root = parse_document(document)
    except XmlError:
        return {}
    for x_profile in root.iter("profile"):
        if x_profile.get("name") == profile:
            return {
                x.get("name", "").lower(): x.get("value", "")
                for x in x_profile.iter("param")
                if x.get("name")
            }
    return {}


def _domain(config: dict[str, str], channel: Channel) -> str:
    """``conference_new``: the profile's ``domain``, else the domain of the first
    member's ``presence_id``, else cluecon.com."""
    if config.get("domain"):
        return config["domain"]
    presence = channel.get_variable("presence_id") or ""
    if "@" in presence:
        return presence.split("@", 1)[1]
    return _DEFAULT_DOMAIN


def register_conference(sw: SimCore) -> Conferences:
    """Install mod_conference's application and API command on ``sw``."""
    conferences = Conferences(sw)
    sw.applications["conference"] = conferences.run
    sw.applications["conference_set_auto_outcall"] = conferences.set_auto_outcall

    def api(core: SimCore, args: str) -> ApiOutput:
        return conferences.api(args)

    sw.register_sync_api("conference", api, "Conference module commands",
                         syntax="list|xml_list|<confname> <command> [args]",
                         module="mod_conference")  # fmt: skip
    return conferences
