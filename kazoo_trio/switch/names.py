"""FreeSWITCH's core event names (``SWITCH_EVENT_*``) and how names are looked up."""

from __future__ import annotations

__all__ = ["CORE_EVENT_NAMES", "core_event_name"]

# In FreeSWITCH's enum order (switch_event_types_t); "ALL" is the last one.
CORE_EVENT_NAMES: tuple[str, ...] = (
    "CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING",
    "CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID",
    "API", "LOG", "INBOUND_CHAN", "OUTBOUND_CHAN", "STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH",
    "TALK", "NOTALK", "SESSION_CRASH", "MODULE_LOAD", "MODULE_UNLOAD", "DTMF", "MESSAGE",
    "PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT", "PRESENCE_PROBE", "MESSAGE_WAITING",
    "MESSAGE_QUERY", "ROSTER", "CODEC", "BACKGROUND_JOB", "DETECTED_SPEECH", "DETECTED_TONE",
    "PRIVATE_COMMAND", "HEARTBEAT", "TRAP", "ADD_SCHEDULE", "DEL_SCHEDULE", "EXE_SCHEDULE",
    "RE_SCHEDULE", "RELOADXML", "NOTIFY", "PHONE_FEATURE", "PHONE_FEATURE_SUBSCRIBE",
    "SEND_MESSAGE", "RECV_MESSAGE", "REQUEST_PARAMS", "CHANNEL_DATA", "GENERAL", "COMMAND",
    "SESSION_HEARTBEAT", "CLIENT_DISCONNECTED", "SERVER_DISCONNECTED", "SEND_INFO", "RECV_INFO",
    "RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT", "RECORD_START", "RECORD_STOP",
    "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE", "SOCKET_DATA", "MEDIA_BUG_START",
    "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY", "CONFERENCE_DATA", "CALL_SETUP_REQ",
    "CALL_SETUP_RESULT", "CALL_DETAIL", "DEVICE_STATE", "TEXT", "SHUTDOWN_REQUESTED",
    "CERT_RELOAD", "ALL",
)  # fmt: skip

_BY_UPPER = {name.encode(): name for name in CORE_EVENT_NAMES}

# switch_name_event skips this many characters when the name is longer, meant for the
# "SWITCH_EVENT_" prefix; it does not check what the skipped characters are.
_PREFIX_LEN = len("SWITCH_EVENT_")


def core_event_name(text: str) -> str | None:
    """The canonical core event name ``text`` names, or ``None`` (a custom subclass).

    Case-insensitive, with an optional ``SWITCH_EVENT_`` prefix, as FreeSWITCH's
    ``switch_name_event``: ``"channel_create"`` and ``"SWITCH_EVENT_CHANNEL_CREATE"``
    give ``"CHANNEL_CREATE"``; ``"ALL"`` and ``"CUSTOM"`` are names too.  Like
    FreeSWITCH, any 13 leading characters count as the prefix of a longer name.
    """
    # strcasecmp on the UTF-8 bytes: only ASCII letters fold, and the prefix is bytes.
    upper = text.encode("utf-8", "surrogatepass").upper()
    if len(upper) > _PREFIX_LEN and (found := _BY_UPPER.get(upper[_PREFIX_LEN:])):
        return found
    return _BY_UPPER.get(upper)
