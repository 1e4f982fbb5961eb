"""Every application and API command Kazoo's ecallmgr issues is registered on the
simulated switch, except the ones listed (with why) in STILL_MISSING."""

from __future__ import annotations

from kazoo_trio.switch.sim import SimSwitch
from tests.switch.ecallmgr_commands import API, APPLICATION, ECALLMGR_COMMANDS, EcallmgrCommand

# What the simulated switch does not have yet (name, kind).  Keep it to what is really
# missing: the test below accepts these, and only these, unregistered.
STILL_MISSING: frozenset[tuple[str, str]] = frozenset(
    {
        # mod_dptools' deflect (a REFER through mod_sofia), which ecallmgr_channel_redirect
        # sends with redirect_via_proxy (its default).
        ("deflect", APPLICATION),
        # mod_sms's chatplan applications: the simulated switch routes no messages.
        ("reply", "chatplan"),
        ("stop", "chatplan"),
    }
)


def _registered(sw: SimSwitch, command: EcallmgrCommand) -> bool:
    if command.kind == APPLICATION:
        return command.name in sw.applications
    if command.kind == API:
        return command.name in {entry.name for entry in sw.apis.entries()}
    return False


def test_every_ecallmgr_command_is_registered_or_listed_missing() -> None:
    sw = SimSwitch()
    unregistered = {(c.name, c.kind): c.source for c in ECALLMGR_COMMANDS if not _registered(sw, c)}
    assert set(unregistered) - STILL_MISSING == set(), unregistered


def test_the_missing_list_names_only_commands_of_the_table() -> None:
    table = {(c.name, c.kind) for c in ECALLMGR_COMMANDS}
    assert table >= STILL_MISSING
    assert len(table) == len(ECALLMGR_COMMANDS)  # no command listed twice
