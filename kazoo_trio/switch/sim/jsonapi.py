"""The simulated core's JSON API commands: FreeSWITCH's ``status`` and mod_kazoo's
``node.info`` (what ecallmgr reads when a switch comes up).
Layer: above :mod:`.core`."""

from __future__ import annotations

from kazoo_trio.switch.sim.core import SimCore
from kazoo_trio.switch.sim.status import stack_sizes_kb, uptime_parts

__all__ = ["node_info", "register_core_json_apis", "status_json"]


def status_json(sw: SimCore) -> dict[str, object]:
    """``json_status_function`` (mod_commands): the ``status`` command as an object."""
    years, days, hours, minutes, seconds, milli, micro = uptime_parts(sw.uptime_us())
    cur, hard = stack_sizes_kb()
    return {
        "systemStatus": "ready",
        "uptime": {
            "years": years,
            "days": days,
            "hours": hours,
            "minutes": minutes,
            "seconds": seconds,
            "milliseconds": milli,
            "microseconds": micro,
        },
        "version": sw.identity.version_full_human,
        "sessions": {
            "count": {
                "total": sw.channels.created_total,
                "active": len(sw.channels),
                "peak": sw.channels.peak,
                "peak5Min": sw.channels.peak,
                "limit": sw.session_limit,
            },
            "rate": {"current": 0, "max": sw.sps, "peak": 0, "peak5Min": 0},
        },
        "idleCPU": {"used": 0, "allowed": 100},
        "stackSizeKB": {"current": cur, "max": hard},
    }


async def node_info(sw: SimCore) -> dict[str, object]:
    """mod_kazoo's ``kz_node_create``: WhApps, Runtime-Info, Modules, Roles.

    ``Roles.Media`` is the ``sofia.status.info`` JSON API's answer when some module
    provides it (absent otherwise, as in a FreeSWITCH without mod_sofia); module names
    containing ``CORE`` are left out, as mod_kazoo does.
    """
    runtime = dict(status_json(sw))
    runtime["Core-UUID"] = sw.identity.core_uuid
    roles: dict[str, object] = {}
    ok, media = await sw.json_call("sofia.status.info")
    if ok and media is not None:
        roles["Media"] = media
    return {
        "WhApps": {"freeswitch": {"Uptime": sw.uptime_us()}},
        "Runtime-Info": runtime,
        "Modules": {
            "available": [m for m in sw.modules.available() if "CORE" not in m],
            "loaded": [m for m in sw.modules.loaded() if "CORE" not in m],
        },
        "Roles": roles,
    }


def register_core_json_apis(sw: SimCore) -> None:
    async def status(request: dict[str, object]) -> tuple[bool, object]:
        return True, status_json(sw)

    async def node(request: dict[str, object]) -> tuple[bool, object]:
        return True, await node_info(sw)

    sw.register_json_api("status", status, "JSON status API")
    sw.register_json_api("node.info", node, "JSON node API")
