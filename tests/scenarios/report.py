"""Print, per scenario, what differs between the simulated switch and the real FreeSWITCH.

``python -m tests.scenarios.report [scenario ...]`` starts a private ``epmd`` and one
FreeSWITCH per set of options the modules ask for (a module's ``FREESWITCH``: SIP,
xml_curl bindings), runs the scenarios of every ``tests/scenarios/test_*.py`` (all, or
those named) on both backends and prints every difference with both values, grouped by
field: the material for fixing the simulated switch or for the known-differences table.
"""

from __future__ import annotations

import ast
import importlib
import pprint
import sys
from pathlib import Path

import trio

from tests.erlnode import epmd_daemon
from tests.freeswitch.fsmin import freeswitch_instance
from tests.scenarios.common import KAZOO_CONFIGS
from tests.scenarios.runner import (
    Observation,
    Scenario,
    differences,
    fetch_fields,
    header_values,
    legs,
    observe_both,
)


def all_scenarios() -> list[Scenario]:
    """The ``SCENARIOS`` of every scenario module in this package."""
    found: list[Scenario] = []
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        module = importlib.import_module(f"tests.scenarios.{path.stem}")
        found.extend(getattr(module, "SCENARIOS", ()))
    return found


def by_field(found: dict[tuple[str, str], object]) -> dict[str, list[str]]:
    """field -> the distinct (sim, FreeSWITCH) value pairs, with one place each was seen."""
    grouped: dict[str, dict[str, str]] = {}
    for (where, field), pair in found.items():
        grouped.setdefault(field, {}).setdefault(repr(pair), where)
    return {field: [f"{p} at {w}" for p, w in pairs.items()] for field, pairs in grouped.items()}


def show(name: str, sim: Observation, real: Observation) -> None:
    print(f"===== {name}")
    print("replies:")
    pprint.pprint(differences(sim.replies, real.replies), width=120)
    print("event sequences:")
    pprint.pprint(differences(legs(sim.frames), legs(real.frames)), width=120)
    print("fetch fields:")
    pprint.pprint(by_field(differences(fetch_fields(sim.fetches), fetch_fields(real.fetches))))
    print("stream fields:")
    pprint.pprint(by_field(differences(header_values(sim.frames), header_values(real.frames))))


def by_options() -> dict[str, list[Scenario]]:
    """The scenarios grouped by the FreeSWITCH their module needs: a module's
    ``FREESWITCH`` (``freeswitch_instance`` keywords, as a sorted tuple of pairs)."""
    found: dict[str, list[Scenario]] = {}
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        module = importlib.import_module(f"tests.scenarios.{path.stem}")
        options = repr(sorted(getattr(module, "FREESWITCH", {}).items()))
        found.setdefault(options, []).extend(getattr(module, "SCENARIOS", ()))
    return found


async def main(names: list[str]) -> None:
    async with epmd_daemon() as epmd:
        for options, scenarios in by_options().items():
            wanted = [s for s in scenarios if not names or s.name in names]
            if not wanted:
                continue
            extra = dict(ast.literal_eval(options))
            with freeswitch_instance(configs=KAZOO_CONFIGS, **extra) as fs:
                for scenario in wanted:
                    sim, real = await observe_both(scenario, fs, epmd)
                    show(scenario.name, sim, real)


if __name__ == "__main__":
    trio.run(main, sys.argv[1:])
