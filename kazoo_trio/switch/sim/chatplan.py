"""mod_sms on the simulated switch: text messages through the chatplan.

A message (a ``MESSAGE`` event: ``proto``, ``from``, ``to``, ``context``... and a
body) sent with :meth:`SmsModule.send` goes as ``switch_core_chat_send`` takes it:
unless it is a reply (``replying``), already ``global`` or marked
``skip_global_process``, mod_sms's ``GLOBAL_SMS`` interface runs it through the
chatplan; then, unless the chatplan delivered it (``final_delivery``) or the
destination protocol is ``GLOBAL``, it is delivered to that protocol; last, a copy is
fired as a ``MESSAGE`` event with ``Delivery-Failure`` (``blocking`` messages) or
``Nonblocking-Delivery``.

The chatplan is the ``chatplan`` section from the fetch bindings (a
``<section name="chatplan"><context name=...><extension>`` document, as Kazoo's
``ecallmgr_fs_xml`` builds for ``sms``), walked as mod_sms's ``chatplan_hunt`` /
``parse_exten`` do: the message's ``context`` (else ``default``, else ``global``),
conditions on a header (or an expanded ``${...}`` field), ``$1``... captures in the
data, anti-actions, ``break`` and ``continue``.  The collected chat applications then
run in order until one fails (``stop`` and ``final`` end it on purpose).

Chat applications (``SWITCH_ADD_CHAT_APP`` in ``mod_sms.c``): ``info``, ``reply``,
``stop``, ``final``, ``set``, ``unset``, ``send``, ``fire``, ``system``.  What reaches
a protocol (a ``reply``, a ``send``, a direct delivery) is kept in
:attr:`SmsModule.delivered`: the simulated network's far ends.
Layer: above :mod:`.core` (registered by :mod:`.simswitch`).
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from typing import Literal

import attrs

from kazoo_trio.switch.event import Event
from kazoo_trio.switch.expand import expand_variables
from kazoo_trio.switch.sim.channel import true
from kazoo_trio.switch.sim.core import SimCore
from kazoo_trio.switch.xmltext import XmlError, parse_document

__all__ = [
    "CHAT_APPLICATIONS",
    "ChatMessage",
    "ChatStatus",
    "SmsModule",
    "register_sms",
]

log = logging.getLogger(__name__)

ChatStatus = Literal["SUCCESS", "BREAK", "FALSE"]

# name -> description, as mod_sms registers them.
CHAT_APPLICATIONS: dict[str, str] = {
    "info": "Display Call Info",
    "reply": "reply to a message",
    "stop": "stop execution",
    "final": "final delivery",
    "set": "set a variable",
    "unset": "unset a variable",
    "send": "send the message as-is",
    "fire": "fire the message",
    "system": "execute a system command",
}
SMS_CHAT_PROTO = "GLOBAL_SMS"
DEFAULT_MAX_FORWARDS = 70


@attrs.define(eq=False)
class ChatMessage:
    """A message on its way (a ``switch_event_t`` of ``MESSAGE``): headers in order
    (looked up without regard to case, first wins), a body, and ``EF_NO_CHAT_EXEC``."""

    headers: list[tuple[str, str]] = attrs.field(factory=list)
    body: str | None = None
    no_exec: bool = False

    def get(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)

    def add(self, name: str, value: str) -> None:
        self.headers.append((name, value))

    def delete(self, name: str) -> None:
        lower = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != lower]

    def copy(self) -> ChatMessage:
        return ChatMessage(list(self.headers), self.body, self.no_exec)

    def reply(self, proto: str) -> ChatMessage:
        """``switch_ivr_create_message_reply``: ``from*``/``to*`` swapped, ``replying``,
        the original body as ``orig_body``, then ``proto``."""
        headers: list[tuple[str, str]] = []
        for name, value in self.headers:
            lower = name.lower()
            if lower.startswith("from_"):
                name = "to_" + name[5:]
            elif lower.startswith("to_"):
                name = "from_" + name[3:]
            elif lower == "to":
                name = "from"
            elif lower == "from":
                name = "to"
            headers.append((name, value))
        headers.append(("replying", "true"))
        if self.body is not None:
            headers.append(("orig_body", self.body))
        headers.append(("proto", proto))
        return ChatMessage(headers)

    def event(self) -> Event:
        return Event("MESSAGE", tuple(self.headers), self.body)


ChatApplication = Callable[[ChatMessage, str | None], Awaitable[bool]]


@attrs.frozen
class Delivery:
    """A message handed to a protocol's far end."""

    proto: str
    message: ChatMessage


@attrs.define(eq=False)
class SmsModule:
    """mod_sms's chat applications and chatplan on a simulated core."""

    core: SimCore
    chat_applications: dict[str, ChatApplication] = attrs.field(factory=dict)
    delivered: list[Delivery] = attrs.field(factory=list)
    # Chat interfaces that deliver (mod_sofia's "sip" when loaded).
    protocols: set[str] = attrs.field(factory=set)

    def __attrs_post_init__(self) -> None:
        self.chat_applications.update(
            {
                "info": self._info,
                "reply": self._reply,
                "stop": self._stop,
                "final": self._final,
                "set": self._set,
                "unset": self._unset,
                "send": self._send,
                "fire": self._fire,
                "system": self._system,
            }
        )

    def message(self, headers: list[tuple[str, str]], body: str | None = None) -> ChatMessage:
        """A new ``MESSAGE`` event's headers (the core's standard ones first)."""
        event = self.core.new_event("MESSAGE", headers=headers)
        return ChatMessage(list(event.headers), body)

    # -- switch_core_chat_send ----------------------------------------------------------

    async def send(self, message: ChatMessage, dest_proto: str) -> ChatStatus:
        """``switch_core_chat_send(dest_proto, message)`` and the chat thread's
        ``do_chat_send``: the chatplan, the delivery, the ``MESSAGE`` event."""
        message = message.copy()
        message.delete("dest_proto")
        message.add("dest_proto", dest_proto)
        proto = message.get("proto")
        if proto is None:
            proto = "global"
            message.add("proto", proto)
        status: ChatStatus = "FALSE"
        skip = False
        if (
            not true(message.get("replying"))
            and "global" not in proto.lower()
            and not true(message.get("skip_global_process"))
        ):
            status = await self.chatplan(message)
            if status == "SUCCESS" and true(message.get("final_delivery")):
                skip = True
        if not skip and "global" not in dest_proto.lower():
            status = self.deliver(dest_proto, message)
        fired = message.copy()
        if true(message.get("blocking")):
            fired.add("Delivery-Failure", "false" if status == "SUCCESS" else "true")
        else:
            fired.add("Nonblocking-Delivery", "true")
        self.core.fire(fired.event())
        return status

    def deliver(self, proto: str, message: ChatMessage) -> ChatStatus:
        """``switch_core_chat_deliver``: hand the message to ``proto``'s interface."""
        if proto not in self.protocols:
            log.error("Invalid chat interface [%s]!", proto)
            return "FALSE"
        self.delivered.append(Delivery(proto, message.copy()))
        return "SUCCESS"

    # -- GLOBAL_SMS: chat_send ------------------------------------------------------------

    async def chatplan(self, message: ChatMessage) -> ChatStatus:
        """mod_sms's ``chat_send``: hunt the chatplan and run what it collected;
        ``BREAK`` when no extension matched."""
        forwards_text = message.get("max_forwards")
        if forwards_text is None:
            forwards = DEFAULT_MAX_FORWARDS
        else:
            forwards = _atoi(forwards_text)
            if forwards:
                forwards -= 1
            if not forwards:
                log.error("Max forwards reached")
                return "FALSE"
        message.add("max_forwards", str(forwards))
        apps = await self.hunt(message)
        if apps is None:
            return "BREAK"
        for name, data in apps:
            if not await self.execute(message, name, data):
                break
        return "SUCCESS"

    async def hunt(self, message: ChatMessage) -> list[tuple[str, str]] | None:
        """``chatplan_hunt``: the chat applications the message's context collects."""
        context = message.get("context") or "default"
        text = await self.core.xml_lookup("chatplan", "", "", "", message.event())
        if text is None:
            return None
        try:
            root = parse_document(text)
        except XmlError:
            return None
        x_context = _context(root, context)
        if x_context is None:
            log.warning("Context %s not found", context)
            return None
        collected: list[tuple[str, str]] | None = None
        for x_exten in x_context.findall("extension"):
            proceed, apps = await self._parse_exten(message, x_exten)
            if apps is not None:
                collected = (collected or []) + apps
            if proceed and not true(x_exten.get("continue")):
                break
        return collected

    async def _parse_exten(
        self, message: ChatMessage, x_exten: ET.Element
    ) -> tuple[bool, list[tuple[str, str]] | None]:
        """``parse_exten``: whether to stop hunting, and the applications collected
        (``None``: the extension added none)."""
        proceed = False
        apps: list[tuple[str, str]] | None = None
        for x_cond in x_exten.findall("condition"):
            field = x_cond.get("field")
            x_expression = x_cond.find("expression")
            if x_expression is not None:
                expression = x_expression.text or ""
            else:
                expression = x_cond.get("expression") or ""
            expression = self.expand(message, expression)
            do_break = (x_cond.get("break") or "on-false").lower()
            anti = True
            found: re.Match[str] | None = None
            if field:
                value = self.expand(message, field) if "$" in field else message.get(field)
                try:
                    found = re.search(expression, value or "")
                except re.error:
                    log.warning("bad chatplan expression %r", expression)
                proceed = found is not None
                anti = not proceed
            else:
                anti = False
            tag = "anti-action" if anti else "action"
            for x_action in x_cond.findall(tag):
                name = x_action.get("application") or ""
                data = x_action.text if x_action.text else (x_action.get("data") or "")
                if not anti and found is not None and "(" in expression:
                    data = _substitute(data, found)
                loops = _atoi(x_action.get("loop") or "1") if x_action.get("loop") else 1
                if apps is None:
                    apps = []
                for _ in range(loops):
                    if true(x_action.get("inline")):
                        await self.execute(message, name, data)
                    else:
                        apps.append((name, data or "__undef"))
                if anti:
                    proceed = True
            if (
                (not anti and do_break == "on-true")
                or (anti and do_break == "on-false")
                or do_break == "always"
            ):
                break
        return proceed, apps

    async def execute(self, message: ChatMessage, name: str, data: str | None) -> bool:
        """``switch_core_execute_chat_app``: ``False`` stops the chatplan."""
        function = self.chat_applications.get(name)
        if function is None:
            log.error("Invalid chat application interface [%s]!", name)
            return False
        if message.no_exec:
            return False
        if data == "__undef":
            data = None
        if data is not None:
            data = self.expand(message, data)
        return await function(message, data)

    def expand(self, message: ChatMessage, text: str) -> str:
        """``switch_event_expand_headers`` over the message's headers."""
        if "$" not in text:
            return text
        return expand_variables(
            text,
            lookup=message.get,
            global_lookup=self.core.get_global,
            call=self.core.api_function,
        )

    # -- the chat applications ----------------------------------------------------------

    async def _info(self, message: ChatMessage, data: str | None) -> bool:
        log.info("CHANNEL_DATA:\n%s", "\n".join(f"{k}: {v}" for k, v in message.headers))
        return True

    async def _reply(self, message: ChatMessage, data: str | None) -> bool:
        proto = message.get("proto")
        if proto:
            reply = message.reply(SMS_CHAT_PROTO)
            if data:
                reply.body = data
            self.deliver(proto, reply)
        return True

    async def _stop(self, message: ChatMessage, data: str | None) -> bool:
        message.no_exec = True
        return False

    async def _final(self, message: ChatMessage, data: str | None) -> bool:
        message.add("final_delivery", "true")
        message.no_exec = True
        return False

    async def _set(self, message: ChatMessage, data: str | None) -> bool:
        if data:
            name, _, value = data.partition("=")
            if value:
                message.add(name, value)
            else:
                message.delete(name)
        return True

    async def _unset(self, message: ChatMessage, data: str | None) -> bool:
        if data:
            message.delete(data)
        return True

    async def _send(self, message: ChatMessage, data: str | None) -> bool:
        dest_proto = data or message.get("dest_proto") or ""
        message.add("skip_global_process", "true")
        await self.send(message, dest_proto)
        return True

    async def _fire(self, message: ChatMessage, data: str | None) -> bool:
        self.core.fire(message.event())
        return True

    async def _system(self, message: ChatMessage, data: str | None) -> bool:
        # The simulation runs no host commands: as if the command could not run.
        log.warning("Failed to execute command: %s", data)
        return False


def _atoi(text: str) -> int:
    digits = re.match(r"\s*[-+]?\d+", text)
    return int(digits.group()) if digits else 0


def _substitute(data: str, match: re.Match[str]) -> str:
    """``switch_perform_substitution``: ``$1``..``$9`` from the captures."""

    def group(m: re.Match[str]) -> str:
        index = int(m.group(1))
        return (match.group(index) or "") if index <= (match.re.groups) else ""

    return re.sub(r"\$(\d)", group, data)


def _context(root: ET.Element, name: str) -> ET.Element | None:
    """The section's context ``name``, else its ``global`` one."""
    for section in root.iter("section"):
        if (section.get("name") or "").lower() != "chatplan":
            continue
        contexts = section.findall("context")
        for wanted in (name, "global"):
            for x_context in contexts:
                if x_context.get("name") == wanted:
                    return x_context
    return None


def register_sms(core: SimCore) -> SmsModule:
    """Load mod_sms on ``core``: its chat applications and the ``GLOBAL_SMS`` chatplan."""
    module = SmsModule(core)
    core.modules.add("mod_sms")
    core.chat_interfaces[SMS_CHAT_PROTO] = "mod_sms"
    return module
