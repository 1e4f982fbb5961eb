"""Every dialplan application and API command Kazoo's ecallmgr issues to FreeSWITCH.

Collected from ``applications/ecallmgr/src`` (2600hz/kazoo, master): the applications
``ecallmgr_call_command:get_fs_app`` returns (sent by ``ecallmgr_util:send_cmd`` as
``sendmsg execute``, or inside ``xferext``), the actions of the route responses
``ecallmgr_fs_xml`` builds, the applications of the bridge/transfer/fax/redirect
builders, and every ``freeswitch:api``/``bgapi`` command (``send_cmd`` turns
``playstop``, ``playseek``, ``unbridge``, ``broadcast``, ``call_pickup``, ``hangup``,
``break``, ``audio_level``, ``transfer``, ``uuid_*`` and ``kz_uuid_*`` into API calls).
``source`` is the file (under ``applications/ecallmgr/src``) that sends it.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

APPLICATION: Literal["application"] = "application"
API: Literal["api"] = "api"
CHATPLAN: Literal["chatplan"] = "chatplan"

CALL_COMMAND = "call_cmd/ecallmgr_call_command.erl"
FS_XML = "ecallmgr_fs_xml.erl"
FS_BRIDGE = "call_cmd/ecallmgr_fs_bridge.erl"
UTIL = "ecallmgr_util.erl"


class EcallmgrCommand(NamedTuple):
    name: str
    kind: Literal["application", "api", "chatplan"]
    source: str


ECALLMGR_COMMANDS: tuple[EcallmgrCommand, ...] = (
    # -- applications: ecallmgr_call_command:get_fs_app/3 --------------------------------
    EcallmgrCommand("noop", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("answer", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("pre_answer", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("ring_ready", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("privacy", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("kz_endless_playback", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("soft_hold", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("park", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("echo", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("sleep", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("say", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("tone_detect", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("set", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("kz_export_encoded", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("respond", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("spandsp_start_fax_detect", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("spandsp_stop_fax_detect", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("kz_multiset_encoded", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("playback", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("play_and_get_digits", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("record", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("send_dtmf", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("eavesdrop", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("intercept", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("execute_extension", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("conference", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("conference_set_auto_outcall", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("record_session_mask", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("record_session_unmask", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("unshift", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("record_session", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("stop_record_session", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("soundtouch", APPLICATION, CALL_COMMAND),
    EcallmgrCommand("speak", APPLICATION, "call_cmd/ecallmgr_fs_flite.erl"),
    # -- applications: transfers, fax, redirect, bridge_export ----------------------------
    EcallmgrCommand("kz_att_xfer", APPLICATION, "call_cmd/ecallmgr_fs_transfer.erl"),
    EcallmgrCommand("kz_uuid_multiset_encoded", APPLICATION, "call_cmd/ecallmgr_fs_transfer.erl"),
    EcallmgrCommand("transfer", APPLICATION, UTIL),  # blind_xfer (dialplan_application/1)
    EcallmgrCommand("rxfax", APPLICATION, "call_cmd/ecallmgr_fs_fax.erl"),
    EcallmgrCommand("redirect", APPLICATION, "call_cmd/ecallmgr_channel_redirect.erl"),
    EcallmgrCommand("deflect", APPLICATION, "call_cmd/ecallmgr_channel_redirect.erl"),
    EcallmgrCommand("bridge_export", APPLICATION, "call_cmd/ecallmgr_fs_command.erl"),
    # -- applications: the bridge (xferext) and the route responses -----------------------
    EcallmgrCommand("kz_export", APPLICATION, FS_BRIDGE),
    EcallmgrCommand("export", APPLICATION, FS_BRIDGE),
    EcallmgrCommand("bridge", APPLICATION, FS_BRIDGE),
    EcallmgrCommand("event", APPLICATION, FS_BRIDGE),
    EcallmgrCommand("log", APPLICATION, FS_XML),
    EcallmgrCommand("kz_prefix_unset", APPLICATION, FS_XML),
    EcallmgrCommand("start_dtmf", APPLICATION, FS_XML),
    EcallmgrCommand("reply", CHATPLAN, FS_XML),
    EcallmgrCommand("stop", CHATPLAN, FS_XML),
    # -- API commands ---------------------------------------------------------------------
    EcallmgrCommand("uuid_break", API, UTIL),  # playstop, break
    EcallmgrCommand("uuid_fileman", API, UTIL),  # playseek
    EcallmgrCommand("uuid_park", API, UTIL),  # unbridge
    EcallmgrCommand("uuid_broadcast", API, UTIL),  # broadcast
    EcallmgrCommand("uuid_bridge", API, UTIL),  # call_pickup
    EcallmgrCommand("uuid_kill", API, UTIL),  # hangup
    EcallmgrCommand("uuid_audio", API, UTIL),  # audio_level
    EcallmgrCommand("uuid_transfer", API, UTIL),  # transfer
    EcallmgrCommand("uuid_hold", API, CALL_COMMAND),
    EcallmgrCommand("uuid_recv_dtmf", API, CALL_COMMAND),
    EcallmgrCommand("kz_uuid_setvar_multi_encoded", API, "call_cmd/ecallmgr_fs_command.erl"),
    EcallmgrCommand("uuid_exists", API, "call_control/ecallmgr_call_control.erl"),
    EcallmgrCommand("eval", API, "call_control/ecallmgr_call_control.erl"),
    EcallmgrCommand("conference", API, "conference/ecallmgr_conference_command.erl"),
    EcallmgrCommand("http_get", API, "ecallmgr_originate.erl"),
    EcallmgrCommand("originate", API, "ecallmgr_originate.erl"),
    EcallmgrCommand("sofia", API, UTIL),  # status, status profile, xmlstatus, profile rescan
    EcallmgrCommand("show", API, "node/ecallmgr_fs_node.erl"),
    EcallmgrCommand("reloadacl", API, "node/ecallmgr_fs_node.erl"),
    EcallmgrCommand("xml_flush_cache", API, "node/ecallmgr_fs_nodes.erl"),
    EcallmgrCommand("acl", API, "ecallmgr_maintenance.erl"),
    EcallmgrCommand("kz_http_put", API, "node/ecallmgr_fs_node_command.erl"),
    # ?FS_CMD_SAFELIST (ecallmgr.hrl): what fs_command requests may run through bgapi.
    EcallmgrCommand("load", API, "node/ecallmgr_fs_node.erl"),
    EcallmgrCommand("uuid_dump", API, "node/ecallmgr_fs_node.erl"),
    EcallmgrCommand("uuid_record", API, "node/ecallmgr_fs_node.erl"),
    EcallmgrCommand("uuid_getvar", API, "node/ecallmgr_fs_node.erl"),
    EcallmgrCommand("reload", API, "node/ecallmgr_fs_node.erl"),
    EcallmgrCommand("reloadxml", API, "node/ecallmgr_fs_node.erl"),
)
