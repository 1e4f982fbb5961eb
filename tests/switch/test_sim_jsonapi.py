from __future__ import annotations

import json

from kazoo_trio.switch.sim.callcommands import AVAILABLE_MODULES, LOADED_AT_START
from tests.switch.simhelpers import make_switch

CORE_UUID = "0f0e0d0c-0b0a-4908-8706-050403020100"


async def test_node_info_has_what_ecallmgr_reads() -> None:
    sw, clock = make_switch()
    clock.mono += 90_061_000_000 + 400 * 86_400_000_000  # 1 y 36 d 1 h 1 min 1 s
    request: dict[str, object] = {"command": "node.info", "data": ""}
    ok, reply = await sw.json_api(request)
    assert ok
    assert request == {"command": "node.info", "data": ""}  # the caller's copy is untouched
    assert list(reply) == ["command", "data", "status", "response"]
    assert reply["status"] == "success"
    # What ecallmgr decodes: the whole object, as JSON text.
    info = json.loads(json.dumps(reply))["response"]
    assert list(info) == ["WhApps", "Runtime-Info", "Modules", "Roles"]
    assert info["WhApps"] == {"freeswitch": {"Uptime": 400 * 86_400_000_000 + 90_061_000_000}}
    runtime = info["Runtime-Info"]
    assert runtime["Core-UUID"] == CORE_UUID
    assert runtime["version"] == "1.10.12-release  64bit"
    assert runtime["systemStatus"] == "ready"
    assert runtime["uptime"] == {
        "years": 1,
        "days": 36,
        "hours": 1,
        "minutes": 1,
        "seconds": 1,
        "milliseconds": 0,
        "microseconds": 0,
    }
    assert runtime["sessions"]["count"] == {
        "total": 0,
        "active": 0,
        "peak": 0,
        "peak5Min": 0,
        "limit": 1000,
    }
    # The call modules (sofia, loopback, dptools...) are loaded at start; ecallmgr's
    # start-up "load mod_sofia" finds it loaded.
    loaded = ["mod_commands", *[m for m in AVAILABLE_MODULES if m in LOADED_AT_START]]
    assert info["Modules"]["loaded"] == loaded
    assert info["Modules"]["available"] == ["mod_commands", *AVAILABLE_MODULES]
    media = info["Roles"]["Media"]["profiles"]["sipinterface_1"]["info"]
    assert media["url"] == f"sip:mod_sofia@{sw.identity.ipv4}:5060"


async def test_node_info_modules_and_media_role() -> None:
    sw, _ = make_switch()
    sw.add_module("mod_kazoo")
    sw.add_module("mod_conference", loaded=False)
    sw.add_module("CORE_SOFTTIMER_MODULE")
    media = {"profiles": {"sipinterface_1": {"info": {"url": "sip:mod_sofia@10.1.2.3:5060"}}}}

    async def sofia_status_info(request: dict[str, object]) -> tuple[bool, object]:
        return True, media

    sw.register_json_api("sofia.status.info", sofia_status_info, "sofia status JSON API")
    ok, reply = await sw.json_api({"command": "node.info", "data": ""})
    info = reply["response"]
    assert ok and isinstance(info, dict)
    modules = info["Modules"]
    assert modules["available"] == ["mod_commands", *AVAILABLE_MODULES]
    assert "mod_kazoo" in modules["loaded"] and "mod_conference" in modules["loaded"]
    assert "mod_sofia" in modules["loaded"]
    assert not any("CORE" in m for m in modules["available"] + modules["loaded"])
    assert info["Roles"] == {"Media": media}


async def test_status_json() -> None:
    sw, _ = make_switch()
    ok, reply = await sw.json_api({"command": "status", "data": {}})
    assert ok
    status = reply["response"]
    assert isinstance(status, dict)
    assert list(status) == [
        "systemStatus",
        "uptime",
        "version",
        "sessions",
        "idleCPU",
        "stackSizeKB",
    ]
    assert status["sessions"]["rate"] == {"current": 0, "max": 30, "peak": 0, "peak5Min": 0}


async def test_unknown_command_and_missing_data() -> None:
    sw, _ = make_switch()
    for request in (
        {"command": "nope", "data": ""},
        {"command": "node.info"},
        {"data": ""},
        {"command": 7, "data": ""},
    ):
        ok, reply = await sw.json_api(dict(request))
        assert not ok
        assert reply == {
            **request,
            "status": "error",
            "message": "Invalid request or non-existant command",
            "response": None,
        }


async def test_failing_and_raising_commands() -> None:
    sw, _ = make_switch()

    async def refuses(request: dict[str, object]) -> tuple[bool, object]:
        return False, {"why": "no"}

    async def raises(request: dict[str, object]) -> tuple[bool, object]:
        raise RuntimeError("bug")

    sw.register_json_api("refuses", refuses)
    sw.register_json_api("raises", raises)
    ok, reply = await sw.json_api({"command": "refuses", "data": 1})
    assert not ok
    assert reply == {
        "command": "refuses",
        "data": 1,
        "status": "error",
        "message": "The command returned an error",
        "response": {"why": "no"},
    }
    ok, reply = await sw.json_api({"command": "raises", "data": 1})
    assert not ok and reply["response"] is None
    assert await sw.json_call("refuses") == (False, {"why": "no"})
    assert await sw.json_call("missing") == (False, None)
