"""The simulated switch against the real FreeSWITCH: each scenario is driven from a real
``erl`` node through kazoo_trio's mod_kazoo server over both backends, and what Erlang
observed must match, apart from the known differences listed (with their reasons) in
:data:`KNOWN`, which are asserted too, so that a silent change on either side shows.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.freeswitch.fsmin import FreeSwitch, freeswitch_instance
from tests.scenarios.runner import (
    Api,
    BgApi,
    JsonApi,
    Scenario,
    SendMsg,
    WaitEvent,
    WaitFetch,
    differences,
    fetch_fields,
    header_values,
    legs,
    observe_both,
)

pytestmark = [pytest.mark.erl, pytest.mark.slow]

# ecallmgr's park route as an Erlang handler answers it (the control queue variable,
# then park); the call is answered later by `sendmsg`.
PARK = (
    '<document type="freeswitch/xml"><section name="dialplan"><context name="@CTX@">'
    '<extension name="park"><condition>'
    '<action application="multiset" data="^^|Call-Control-Queue=q1|kt_routed=erlang"/>'
    '<action application="park"/></condition></extension></context></section></document>'
)

CALL_EVENTS = (
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_PARK",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_DESTROY",
)


def execute(app: str, arg: str = "") -> tuple[tuple[str, str], ...]:
    return (
        ("call-command", "execute"),
        ("execute-app-name", app),
        ("execute-app-arg", arg),
        ("event-uuid-name", app),
    )


HANGUP = (("call-command", "hangup"), ("hangup-cause", "NORMAL_CLEARING"))

SCENARIOS = (
    Scenario(
        "api_replies",
        (
            Api("status", label="status", view="shape"),
            Api("show", "channels as json", label="show channels as json (none)", view="json"),
            Api("uuid_exists", "no-such-uuid", label="uuid_exists unknown"),
            Api("uuid_kill", "no-such-uuid", label="uuid_kill unknown"),
            Api("eval", "plain text", label="eval plain"),
            Api("echo", "hello world", label="echo"),
            Api("no_such_command", "x", label="unknown command"),
            BgApi("echo", "bg", label="bgapi echo"),
            BgApi("no_such_command", "x", label="bgapi unknown command"),
            JsonApi("status", label="json_api status"),
            Api("originate", "{origination_uuid=kt-show}null/1000 &park", label="originate"),
            Api("show", "channels as json", label="show channels as json (one)", view="json"),
            Api("uuid_exists", "kt-show", label="uuid_exists live"),
            Api("uuid_kill", "kt-show", label="uuid_kill live"),
        ),
    ),
    Scenario(
        "originate_results",
        (
            Api("originate", "{origination_uuid=kt-null}null/1000 &park", label="null/"),
            Api("uuid_kill", "kt-null", label="kill null"),
            Api("originate", "error/USER_BUSY &park", label="error/USER_BUSY"),
            Api("originate", "error/NO_ANSWER &park", label="error/NO_ANSWER"),
            BgApi("originate", "error/USER_BUSY &park", label="bgapi error/USER_BUSY"),
            BgApi(
                "originate", "{origination_uuid=kt-lb}loopback/4242/default &park", label="loopback/"
            ),
            WaitFetch(1),
            Api("uuid_kill", "kt-lb", label="kill loopback"),
            WaitEvent("CHANNEL_DESTROY", "{route0}"),
        ),
        bindings={"dialplan": PARK},
        events=("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_DESTROY"),
    ),
    Scenario(
        "inbound_call_sendmsg",
        (
            BgApi("originate", "{origination_uuid=kt-in}loopback/4242/default &park", label="originate"),
            WaitFetch(1),
            WaitEvent("CHANNEL_PARK", "{route0}"),
            SendMsg("{route0}", execute("answer"), label="sendmsg answer"),
            WaitEvent("CHANNEL_ANSWER", "{route0}"),
            SendMsg("{route0}", execute("playback", "tone_stream://%(100,0,440)"), label="play"),
            WaitEvent("CHANNEL_EXECUTE_COMPLETE", "{route0}"),
            SendMsg("{route0}", HANGUP, label="sendmsg hangup"),
            WaitEvent("CHANNEL_DESTROY", "{route0}"),
            WaitEvent("CHANNEL_DESTROY", "kt-in"),
            SendMsg("{route0}", HANGUP, label="sendmsg hangup after"),
        ),
        bindings={"dialplan": PARK},
        events=CALL_EVENTS,
    ),
)


@pytest.fixture(scope="module")
def fs() -> Iterator[FreeSwitch]:
    with freeswitch_instance() as instance:
        yield instance
