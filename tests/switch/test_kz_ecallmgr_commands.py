"""Every application, chat application and API command Kazoo's ecallmgr issues is
registered on the simulated switch."""

from __future__ import annotations

from kazoo_trio.switch.sim import SimSwitch
from tests.switch.ecallmgr_commands import (
    API,
    APPLICATION,
    CHATPLAN,
    ECALLMGR_COMMANDS,
    EcallmgrCommand,
)


def _registered(sw: SimSwitch, command: EcallmgrCommand) -> bool:
    if command.kind == APPLICATION:
        return command.name in sw.applications
    if command.kind == API:
        return command.name in {entry.name for entry in sw.apis.entries()}
    if command.kind == CHATPLAN:
        return command.name in sw.sms.chat_applications
    return False


def test_every_ecallmgr_command_is_registered() -> None:
    sw = SimSwitch()
    unregistered = {(c.name, c.kind): c.source for c in ECALLMGR_COMMANDS if not _registered(sw, c)}
    assert unregistered == {}


def test_the_table_lists_each_command_once() -> None:
    table = {(c.name, c.kind) for c in ECALLMGR_COMMANDS}
    assert len(table) == len(ECALLMGR_COMMANDS)


def test_an_unregistered_command_is_noticed() -> None:
    sw = SimSwitch()
    del sw.applications["deflect"]
    del sw.sms.chat_applications["stop"]
    missing = {(c.name, c.kind) for c in ECALLMGR_COMMANDS if not _registered(sw, c)}
    assert missing == {("deflect", APPLICATION), ("stop", CHATPLAN)}
