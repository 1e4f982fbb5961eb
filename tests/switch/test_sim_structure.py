"""The switch package's shape: the two protocol sides, the exception families, and the
layering of the simulated switch's modules (no import cycle, no imports inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import kazoo_trio.switch.sim as sim_package
from kazoo_trio.errors import ConfigurationError, RequestError, RuntimeFailure
from kazoo_trio.switch.protocol import (
    EventNameError,
    Switch,
    SwitchBackend,
    SwitchControl,
    XmlSectionError,
)
from kazoo_trio.switch.sim import SimCore, SimSwitch, SwitchNotRunning, TrafficError
from kazoo_trio.switch.xmltext import XmlError, parse_document
from tests.switch.simhelpers import make_switch

SIM_DIR = Path(sim_package.__file__).parent
PREFIX = "kazoo_trio.switch.sim."


def _sim_imports(path: Path) -> tuple[set[str], list[int]]:
    """The sim modules ``path`` imports, and the lines of imports nested in a body."""
    tree = ast.parse(path.read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            imported.add(node.module[len(PREFIX) :])
    nested = [
        node.lineno
        for top in tree.body
        for node in ast.walk(top)
        if node is not top and isinstance(node, ast.Import | ast.ImportFrom)
    ]
    return imported, nested


def test_sim_modules_import_no_cycle_and_only_at_top_level() -> None:
    graph: dict[str, set[str]] = {}
    for path in SIM_DIR.glob("*.py"):
        imported, nested = _sim_imports(path)
        assert nested == [], f"{path.name} imports inside a function (lines {nested})"
        if path.stem != "__init__":
            graph[path.stem] = imported
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import cycle: {' -> '.join((*path, module))}"
        if module in done:
            return
        for dependency in graph[module]:
            visit(dependency, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())


def test_the_call_layer_reaches_the_switch_through_its_host_only() -> None:
    for name in ("channel", "dialplan", "session", "endpoints", "originate", "applications"):
        imported, _ = _sim_imports(SIM_DIR / f"{name}.py")
        assert not imported & {"core", "simswitch", "commands", "callcommands"}, name


def test_sim_switch_is_both_sides_of_the_protocol() -> None:
    sw, _ = make_switch()
    assert isinstance(sw, SimCore)
    assert isinstance(sw, Switch)
    assert isinstance(sw, SwitchControl)
    assert isinstance(sw, SwitchBackend)
    assert isinstance(SimSwitch(), SwitchBackend)


def test_server_side_protocol_has_no_management() -> None:
    server_side = set(dir(Switch))
    assert not server_side & {"run", "set_global", "identity", "register_json_api"}
    assert {"api", "json_api", "new_event", "fire", "bind_xml", "xml_lookup"} <= server_side


async def test_exceptions_belong_to_the_families() -> None:
    sw, _ = make_switch()
    with pytest.raises(EventNameError) as name_error:
        sw.new_event("NO_SUCH_EVENT")
    assert isinstance(name_error.value, RequestError)
    assert isinstance(name_error.value, ValueError)
    with pytest.raises(XmlSectionError) as section_error:
        sw.bind_xml(["nowhere"], lambda lookup: None)  # type: ignore[arg-type, return-value]
    assert isinstance(section_error.value, ConfigurationError)
    assert isinstance(section_error.value, ValueError)
    with pytest.raises(XmlError) as xml_error:
        parse_document("<unclosed")
    assert isinstance(xml_error.value, ConfigurationError)
    assert isinstance(xml_error.value, ValueError)
    with pytest.raises(SwitchNotRunning) as not_running:
        sw.start_task(sw.api, "status", "")
    assert isinstance(not_running.value, RuntimeFailure)
    assert isinstance(not_running.value, RuntimeError)
    assert issubclass(TrafficError, ConfigurationError)
    assert issubclass(TrafficError, ValueError)
