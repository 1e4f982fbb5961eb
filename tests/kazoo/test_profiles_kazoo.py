"""Kazoo's own profile XML applied to simulated switch events and XML lookups."""

from __future__ import annotations

from pathlib import Path

import pytest

from kazoo_trio.kazoo.profiles import ProfileSet, default_profiles
from kazoo_trio.switch.event import Event
from tests.kazoo.profile_support import (
    GREGORIAN,
    STAMP,
    channel_create,
    dialplan_lookup,
    kazoo_conf_document,
    kazoo_profiles,
    obj,
    require_profiles,
    texts,
)


@pytest.fixture(scope="module")
def folder() -> Path:
    return require_profiles()


@pytest.fixture(scope="module")
def kazoo(folder: Path) -> ProfileSet:
    return kazoo_profiles(folder)


def test_every_shared_file_loads_without_warnings(kazoo: ProfileSet, folder: Path) -> None:
    assert kazoo.warnings == ()
    files = sorted((folder / "events").glob("*.xml"))
    assert len(kazoo.event_names) == len(files)
    for binding in ("CHANNEL_CREATE", "channel_create", "SWITCH_EVENT_CHANNEL_CREATE"):
        plan = kazoo.event_definition(binding)
        assert plan is not None and plan.name == "CHANNEL_CREATE"
    # CUSTOM subclasses match ignoring case.
    plan = kazoo.event_definition("Conference::Maintenance")
    assert plan is not None and plan.name == "conference::maintenance"
    assert kazoo.event_definition("CHANNEL_STATE") is None


def test_channel_create(kazoo: ProfileSet) -> None:
    uuid = "6f0b3c1a-9d2e-4c7b-8a51-3e9f2d4c1b70"
    jobj = obj(kazoo.build_event(channel_create(uuid)))
    assert jobj[b"Event-Category"] == b"call_event"
    assert jobj[b"Event-Name"] == b"CHANNEL_CREATE"
    assert jobj[b"Call-ID"] == uuid.encode()
    assert jobj[b"Node"] == b"freeswitch@fs1.example.com"
    assert jobj[b"Timestamp"] == GREGORIAN
    assert jobj[b"Event-Timestamp"] == STAMP
    assert jobj[b"Msg-ID"] == str(STAMP).encode()
    assert jobj[b"Channel-State"] == b"INIT"
    assert jobj[b"Caller-ID-Name"] == b"Alice Example"
    assert jobj[b"Caller-ID-Number"] == b"1000"
    assert jobj[b"Request"] == b"+14155550100@example.com"
    assert jobj[b"To-DID"] == b"+14155550100"
    assert jobj[b"App-Name"] == b"freeswitch"
    ccv = obj(jobj[b"Custom-Channel-Vars"])
    assert ccv[b"Account-ID"] == b"4fe69f4fa7ad4a3c85a1b1f4c3a4f2e1"
    assert ccv[b"Realm"] == b"example.com"
    assert ccv[b"Owner-ID"] == b"owner-7"  # from variable_sip_h_X-ecallmgr_
    assert ccv[b"Presence-ID"] == b"1000@example.com"
    assert obj(jobj[b"Custom-Application-Vars"]) == {b"Flow-ID": b"flow-1"}
    # Not verbose: raw headers are not copied.
    assert b"Event-Calling-File" not in jobj
    # No debug flag: the debug-call definition's filter keeps Call-Debug out.
    assert b"Call-Debug" not in jobj


def test_debug_call_definition_follows_its_template_filter(kazoo: ProfileSet) -> None:
    jobj = obj(kazoo.build_event(channel_create(extra=[("variable_debug_call", "true")])))
    debug = obj(jobj[b"Call-Debug"])
    assert debug[b"Event-Calling-File"] == b"switch_core_state_machine.c"  # verbose object


def test_timestamp_global_is_built_in(folder: Path) -> None:
    bare = ProfileSet.from_parts(
        texts(folder, "definitions"), texts(folder, "events"), texts(folder, "fetch")
    )
    assert obj(bare.build_event(channel_create()))[b"Timestamp"] == GREGORIAN


def test_dialplan_lookup(kazoo: ProfileSet) -> None:
    plan = kazoo.fetch_plan("dialplan")
    assert plan is not None and plan.timeout_us == 3_500_000
    jobj = obj(kazoo.build_fetch("dialplan", dialplan_lookup()))
    assert jobj[b"Event-Category"] == b"dialplan"
    assert jobj[b"Event-Name"] == b"route_req"
    assert jobj[b"Fetch-UUID"] == b"11111111-2222-3333-4444-555555555555"
    assert jobj[b"Msg-ID"] == jobj[b"Fetch-UUID"]
    assert jobj[b"Fetch-Timeout"] == 3_500_000
    assert isinstance(jobj[b"Fetch-Timeout"], int)
    assert jobj[b"Fetch-Timestamp-Micro"] == STAMP + 5
    assert jobj[b"Fetch-Section"] == b"dialplan"
    assert jobj[b"Fetch-Version"] == b"community"
    assert jobj[b"Fetch-Key-Value"] == b"context_2"  # Hunt-Context
    assert jobj[b"Call-Setup"] is True
    assert jobj[b"Resource-Type"] == b"audio"
    assert jobj[b"Call-ID"] == b"6f0b3c1a-9d2e-4c7b-8a51-3e9f2d4c1b70"
    assert jobj[b"Request"] == b"+14155550100@example.com"
    assert jobj[b"From"] == b"1000@example.com"
    assert jobj[b"From-Network-Addr"] == b"192.0.2.10"
    assert jobj[b"Timestamp"] == GREGORIAN
    assert obj(jobj[b"Custom-Channel-Vars"])[b"Fetch-ID"] == jobj[b"Fetch-UUID"]
    assert b"Fetch-Tag" not in jobj  # dialplan is not verbose


def test_verbose_fetch_sections(kazoo: ProfileSet) -> None:
    headers = [
        ("Event-Name", "REQUEST_PARAMS"),
        ("Action", "sip_auth"),
        ("user", "1000"),
        ("domain", "example.com"),
        ("Fetch-UUID", "f-1"),
        ("Fetch-Section", "directory"),
        ("Fetch-Key-Value", "example.com"),
        ("Kazoo-Bundle", "community"),
        ("variable_sip_h_X-AUTH-IP", "192.0.2.10"),
    ]
    directory = obj(kazoo.build_fetch("directory", headers))
    assert directory[b"Event-Category"] == b"fetch"
    assert directory[b"Event-Name"] == b"REQUEST_PARAMS"  # verbose copy
    assert directory[b"Action"] == b"sip_auth"
    assert obj(directory[b"Custom-AUTH-Headers"]) == {b"IP": b"192.0.2.10"}
    channels = obj(kazoo.build_fetch("channels", headers))
    assert (channels[b"Event-Category"], channels[b"Event-Name"]) == (b"channels", b"channel_req")
    languages = obj(kazoo.build_fetch("languages", headers))
    assert languages[b"Event-Name"] == b"language_req"
    assert kazoo.build_fetch("result", headers) is None


def _cdr(node: str, target: str) -> Event:
    return Event(
        "CUSTOM",
        [
            ("Event-Name", "CUSTOM"),
            ("Event-Subclass", "KZ_CDR"),
            ("Event-Date-Timestamp", str(STAMP)),
            ("Unique-ID", "cdr-call"),
            ("Core-UUID", "core-1"),
            ("variable_Call-Control-Node", node),
            ("variable_hangup_cause", "NORMAL_CLEARING"),
            ("variable_duration", "12"),
            ("_json_callflow", '[{"a": 1}]'),
            ("Target-Node", target),
        ],
        subclass="KZ_CDR",
    )


def test_kz_cdr_goes_only_to_the_controlling_node(kazoo: ProfileSet) -> None:
    mine = kazoo.build_event(_cdr("ecallmgr@k1", "ecallmgr@k1"))
    assert mine is not None
    jobj = obj(mine)
    assert (jobj[b"Event-Category"], jobj[b"Event-Name"]) == (b"cdr", b"report")
    assert jobj[b"Call-ID"] == b"cdr-call"
    extended = obj(jobj[b"Extended-Data"])
    assert extended[b"Channel-CallFlow"] == [([(b"a", 1)],)]
    assert kazoo.build_event(_cdr("ecallmgr@k1", "ecallmgr@k2")) is None


def test_execute_complete_filters_and_first_of_default(kazoo: ProfileSet) -> None:
    def execute_complete(app: str, extra: list[tuple[str, str]]) -> Event:
        return Event(
            "CHANNEL_EXECUTE_COMPLETE",
            [
                ("Event-Name", "CHANNEL_EXECUTE_COMPLETE"),
                ("Unique-ID", "u1"),
                ("Application", app),
                ("Application-UUID", "app-1"),
                ("Application-UUID-Name", app),
                ("variable_Call-Control-Queue", "q1"),
                *extra,
            ],
        )

    assert kazoo.build_event(execute_complete("park", [])) is None  # excluded application
    assert kazoo.build_event(execute_complete("set", [])) is None
    first = obj(kazoo.build_event(execute_complete("playback", [])))
    assert first[b"Application-Response"] == b"NONE"
    second = obj(kazoo.build_event(execute_complete("playback", [])))
    assert second[b"Application-Response"] == b"NONE"  # the '#' default survives
    answered = obj(
        kazoo.build_event(execute_complete("playback", [("Application-Response", "FILE PLAYED")]))
    )
    assert answered[b"Application-Response"] == b"FILE PLAYED"
    no_queue = Event("CHANNEL_EXECUTE_COMPLETE", [("Application", "playback")])
    assert kazoo.build_event(no_queue) is None  # include filter on variable_Call-Control-Queue


def test_kazoo_conf_document_gives_the_same_objects(kazoo: ProfileSet, folder: Path) -> None:
    pushed = ProfileSet.from_xml(
        kazoo_conf_document(folder), global_lookup={"UNIX_EPOCH_IN_GREGORIAN": "62167219200"}.get
    )
    assert pushed.warnings == ()
    event = channel_create()
    assert pushed.build_event(event) == kazoo.build_event(event)
    assert pushed.build_fetch("dialplan", dialplan_lookup()) == kazoo.build_fetch(
        "dialplan", dialplan_lookup()
    )


ESSENTIAL_EVENT_KEYS = (
    b"Event-Category",
    b"Event-Name",
    b"Call-ID",
    b"Node",
    b"Timestamp",
    b"Msg-ID",
    b"Caller-ID-Name",
    b"Caller-ID-Number",
    b"Channel-State",
    b"Call-Direction",
    b"Presence-ID",
    b"From",
    b"To",
    b"Request",
    b"From-Tag",
)
ESSENTIAL_FETCH_KEYS = (
    b"Event-Category",
    b"Event-Name",
    b"Fetch-UUID",
    b"Fetch-Section",
    b"Fetch-Version",
    b"Fetch-Key-Value",
    b"Fetch-Timeout",
    b"Fetch-Timestamp-Micro",
    b"Call-ID",
    b"Node",
    b"Timestamp",
    b"Caller-ID-Number",
    b"To-DID",
    b"Call-Setup",
    b"Request",
    b"From",
    b"To",
)


def test_default_profiles_match_kazoo_on_essential_keys(kazoo: ProfileSet) -> None:
    defaults = default_profiles()
    assert defaults.warnings == ()
    event = channel_create()
    mine, theirs = obj(defaults.build_event(event)), obj(kazoo.build_event(event))
    for key in ESSENTIAL_EVENT_KEYS:
        assert mine.get(key) == theirs.get(key), key
        assert key in mine, key
    assert (
        obj(mine[b"Custom-Channel-Vars"])[b"Account-ID"]
        == obj(theirs[b"Custom-Channel-Vars"])[b"Account-ID"]
    )
    mine_fetch = obj(defaults.build_fetch("dialplan", dialplan_lookup()))
    theirs_fetch = obj(kazoo.build_fetch("dialplan", dialplan_lookup()))
    for key in ESSENTIAL_FETCH_KEYS:
        assert key in mine_fetch, key
        assert mine_fetch[key] == theirs_fetch[key], key
    for section in ("configuration", "directory", "dialplan", "channels", "languages"):
        mine_plan, theirs_plan = defaults.fetch_plan(section), kazoo.fetch_plan(section)
        assert mine_plan is not None and theirs_plan is not None
        assert mine_plan.timeout_us == theirs_plan.timeout_us


def test_default_profiles_cover_every_bound_event(kazoo: ProfileSet) -> None:
    """Every binding of ecallmgr's 14 stream groups has a default definition."""
    bindings = [
        "CHANNEL_CREATE",
        "CHANNEL_ANSWER",
        "CHANNEL_DESTROY",
        "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE",
        "DETECTED_TONE",
        "DTMF",
        "CHANNEL_PROGRESS",
        "CHANNEL_PROGRESS_MEDIA",
        "RECORD_START",
        "RECORD_STOP",
        "ROUTE_WINNER",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_METAFLOW",
        "PRESENCE_IN",
        "CHANNEL_DATA",
        "CHANNEL_SYNC",
        "CALL_UPDATE",
        "CHANNEL_HOLD",
        "CHANNEL_UNHOLD",
        "conference::maintenance",
        "spandsp::txfaxresult",
        "spandsp::rxfaxresult",
        "spandsp::txfaxpageresult",
        "spandsp::rxfaxpageresult",
        "spandsp::txfaxnegociateresult",
        "spandsp::rxfaxnegociateresult",
        "kazoo::noop",
        "kazoo::masquerade",
        "sofia::transferor",
        "sofia::transferee",
        "sofia::replaced",
        "sofia::intercepted",
        "loopback::bowout",
        "loopback::direct",
        "KZ_CDR",
    ]
    defaults = default_profiles()
    for binding in bindings:
        assert defaults.event_definition(binding) is not None, binding
        assert kazoo.event_definition(binding) is not None, binding
    for binding in bindings:
        custom = "::" in binding or binding in (
            "KZ_CDR",
            "CHANNEL_SYNC",
            "ROUTE_WINNER",
            "CHANNEL_METAFLOW",
        )
        event = Event(
            "CUSTOM" if custom else binding,
            [
                ("Event-Name", "CUSTOM" if custom else binding),
                ("Event-Subclass", binding),
                ("Unique-ID", "u-1"),
                ("Event-Date-Timestamp", str(STAMP)),
                ("Switch-Nodename", "freeswitch@fs1"),
                ("Conference-Name", "conf-1"),
                ("variable_Call-Control-Node", "ecallmgr@k1"),
                ("Target-Node", "ecallmgr@k1"),
                ("variable_Call-Control-Queue", "q1"),
                ("Application-UUID-Name", "playback"),
                ("Application", "playback"),
            ],
            subclass=binding if custom else None,
        )
        mine, theirs = defaults.build_event(event), kazoo.build_event(event)
        assert (mine is None) == (theirs is None), binding
        if mine is None or theirs is None:
            continue
        mine_obj, theirs_obj = obj(mine), obj(theirs)
        for key in (b"Event-Category", b"Event-Name", b"Call-ID"):
            assert mine_obj.get(key) == theirs_obj.get(key), (binding, key)
