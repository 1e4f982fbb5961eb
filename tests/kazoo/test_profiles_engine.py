"""The profile engine on small, hand-written profiles: one behaviour per test."""

from __future__ import annotations

import pytest

from kazoo_trio.kazoo.profiles import (
    NULL,
    ProfileError,
    ProfileSet,
    default_profiles,
    verbose_event,
)
from kazoo_trio.kazoo.profiles.template import compile_template
from kazoo_trio.kazoo.profiles.view import HeaderView
from kazoo_trio.switch.event import Event
from tests.kazoo.profile_support import GREGORIAN, channel_create, dialplan_lookup, obj


def profiles(
    fields: str,
    *,
    verbose: bool = False,
    filters: str = "",
    definitions: str = "",
    event: str = "TEST_EVENT",
) -> ProfileSet:
    return ProfileSet.from_xml(
        '<configuration name="kazoo.conf">'
        f"<definitions>{definitions}</definitions>"
        '<event-handlers><profile name="default"><events>'
        f'<event name="{event}">{filters}'
        f'<fields verbose="{str(verbose).lower()}">{fields}</fields></event>'
        "</events></profile></event-handlers></configuration>",
        global_lookup={"GLOBAL_X": "gx", "NESTED": "${Name}"}.get,
    )


def build(
    ps: ProfileSet,
    headers: list[tuple[str, str]],
    body: str | None = None,
    event: str = "TEST_EVENT",
) -> dict[bytes, object] | None:
    term = ps.build_event(Event(event, headers, body=body), binding=event)
    return None if term is None else obj(term)


HEADERS = [
    ("Event-Name", "TEST_EVENT"),
    ("Event-Date-Timestamp", "1700000000123456"),
    ("Name", "value"),
    ("Number", "42"),
    ("Flag", "yes"),
    ("variable_ecallmgr_A", "1"),
    ("variable_ecallmgr_B", "2"),
    ("variable_other", "x"),
]


# ---------------------------------------------------------------- field types


def test_copy_with_as_case_insensitive_lookup_and_body() -> None:
    ps = profiles(
        '<field name="name" as="Copied"/><field name="Missing"/>'
        '<field name="_body" as="Body"/><field name="Number"/>'
    )
    got = build(ps, HEADERS, body="hello")
    assert got == {
        b"Event-Timestamp": 1700000000123456,
        b"Copied": b"value",
        b"Body": b"hello",
        b"Number": b"42",
    }


def test_copy_multi_value_header_and_as_array() -> None:
    ps = profiles('<field name="Multi"/><field name="Name" as-array="true"/>')
    got = build(ps, [*HEADERS, ("Multi", "a"), ("Multi", "b")])
    assert got is not None
    assert got[b"Multi"] == [b"a", b"b"]
    assert got[b"Name"] == [b"value"]


def test_static_values_and_serialize_as() -> None:
    ps = profiles(
        '<field name="S" type="static" value="text"/>'
        '<field name="N" type="static" value="12.50" serialize-as="number"/>'
        '<field name="B" type="static" value="on" serialize-as="boolean"/>'
        '<field name="F" type="static" value="0" serialize-as="boolean"/>'
        '<field name="R" type="static" value=\'{"k": [1, 2.5, null, true]}\' serialize-as="raw"/>'
        '<field name="O" type="static" serialize-as="object"/>'
        '<field name="Ignored" type="static" as="Other" value="v"/>'
    )
    got = build(ps, HEADERS)
    assert got is not None
    assert got[b"S"] == b"text"
    assert got[b"N"] == 12.5
    assert got[b"B"] is True and got[b"F"] is False
    assert got[b"R"] == ([(b"k", [1, 2.5, NULL, True])],)
    assert got[b"O"] == ([],)
    assert got[b"Ignored"] == b"v"  # static fields always use name, as mod_kazoo does


def test_first_of_literal_default_works_on_every_event() -> None:
    ps = profiles(
        '<field name="Pick" type="first-of" value="Absent|Also-Absent|#DEFAULT"/>'
        '<field name="Hit" type="first-of" value="Absent|number|#unused"/>'
    )
    for _ in range(3):
        got = build(ps, HEADERS)
        assert got is not None
        assert got[b"Pick"] == b"DEFAULT"
        assert got[b"Hit"] == b"42"


def test_globals_per_call_override_the_bound_lookup() -> None:
    ps = profiles('<field name="G" type="expand" value="${GLOBAL_X}|${UNIX_EPOCH_IN_GREGORIAN}"/>')
    term = ps.build_event(Event("TEST_EVENT", HEADERS), global_lookup={"GLOBAL_X": "call"}.get)
    assert obj(term)[b"G"] == b"call|62167219200"
    assert obj(ps.build_event(Event("TEST_EVENT", HEADERS)))[b"G"] == b"gx|62167219200"


def test_expand_with_functions_globals_and_empty_result() -> None:
    ps = profiles(
        '<field name="E" type="expand" value="${Name}-$${GLOBAL_X}-${GLOBAL_X}"/>'
        '<field name="Nested" type="expand" value="${NESTED}"/>'
        '<field name="Empty" type="expand" value="${Absent}"/>'
        '<field name="Calc" type="expand" value="${expr(${Number} * 2 + 1)}"'
        ' serialize-as="number"/>'
        '<field name="Re" type="expand" value="${regex(${Name}|^v(.*)$|%1)}"/>'
        '<field name="Cond" type="expand" value="${cond(${Number} &gt; 40 ? big : small)}"/>'
        '<field name="Dec" type="expand" value="${url_decode(a%20b%3C)}"/>'
        '<field name="First" type="expand" value="${first-of(nope|Name)}"/>'
    )
    got = build(ps, HEADERS)
    assert got is not None
    assert got[b"E"] == b"value-gx-gx"
    assert got[b"Nested"] == b"value"  # a global's value is expanded again
    assert b"Empty" not in got
    assert got[b"Calc"] == 85
    assert got[b"Re"] == b"alue"
    assert got[b"Cond"] == b"big"
    assert got[b"Dec"] == b"a b<"
    assert got[b"First"] == b"value"


def test_prefix_with_and_without_exclude_prefix() -> None:
    ps = profiles(
        '<field name="Vars" type="static" serialize-as="object"><fields verbose="false">'
        '<field name="variable_ecallmgr_" type="prefix" exclude-prefix="true"/>'
        "</fields></field>"
        '<field name="variable_ecallmgr_" type="prefix"/>'
    )
    got = build(ps, HEADERS)
    assert got is not None
    assert obj(got[b"Vars"]) == {b"A": b"1", b"B": b"2"}
    assert got[b"variable_ecallmgr_A"] == b"1" and got[b"variable_ecallmgr_B"] == b"2"
    assert b"variable_other" not in got


def test_group_and_reference_with_their_filters() -> None:
    definitions = (
        '<definition name="on-flag"><filters><filter name="Flag" type="include" value="yes"/>'
        '</filters><field name="Name" as="From-Definition"/></definition>'
        '<definition name="off"><filters><filter name="Flag" type="include" value="no"/>'
        '</filters><field name="Name" as="Never"/></definition>'
    )
    ps = profiles(
        '<field name="g" type="group"><filters><filter name="Number" type="include"'
        ' value="42"/></filters><fields verbose="false"><field name="Name" as="In-Group"/>'
        "</fields></field>"
        '<field name="h" type="group"><filters><filter name="Number" type="include"'
        ' value="7"/></filters><fields verbose="false"><field name="Name" as="Not-In-Group"/>'
        "</fields></field>"
        '<field name="on-flag" type="reference"/><field name="off" type="reference"/>',
        definitions=definitions,
    )
    got = build(ps, HEADERS)
    assert got is not None
    assert got[b"In-Group"] == b"value" and got[b"From-Definition"] == b"value"
    assert b"Not-In-Group" not in got and b"Never" not in got


def test_object_with_verbose_children() -> None:
    ps = profiles(
        '<field name="All" type="static" serialize-as="object"><fields verbose="true">'
        '<field name="Name" as="Extra"/></fields></field>'
    )
    got = build(ps, HEADERS)
    assert got is not None
    inner = obj(got[b"All"])
    assert inner[b"Name"] == b"value" and inner[b"Extra"] == b"value"
    assert b"Event-Timestamp" not in inner


def test_serialize_as_number_boolean_raw_on_headers() -> None:
    ps = profiles(
        '<field name="Number" as="N" serialize-as="number"/>'
        '<field name="Name" as="Zero" serialize-as="number"/>'
        '<field name="Big" serialize-as="number"/>'
        '<field name="Neg" serialize-as="number"/>'
        '<field name="Frac" serialize-as="number"/>'
        '<field name="Flag" as="Bool" serialize-as="boolean"/>'
        '<field name="Json" serialize-as="raw"/>'
        '<field name="NotJson" serialize-as="raw"/>'
    )
    big = "123456789012345678901234567890"
    got = build(
        ps,
        [
            *HEADERS,
            ("Big", big),
            ("Neg", "-9223372036854775809"),
            ("Frac", "2.5e-1"),
            ("Json", '{"big": 18446744073709551617, "f": 1.0, "s": "x"}'),
            ("NotJson", "{oops"),
        ],
    )
    assert got is not None
    assert got[b"N"] == 42 and got[b"Zero"] == 0
    assert got[b"Big"] == int(big)
    assert got[b"Neg"] == -9223372036854775809
    assert got[b"Frac"] == 0.25
    assert got[b"Bool"] is True
    assert got[b"Json"] == ([(b"big", 18446744073709551617), (b"f", 1), (b"s", b"x")],)
    assert got[b"NotJson"] == b"{oops"


def test_map_encoding() -> None:
    ps = profiles(
        '<field name="Name"/><field name="O" type="static" serialize-as="object">'
        '<fields verbose="false"><field name="Number"/></fields></field>'
    )
    term = ps.build_event(Event("TEST_EVENT", HEADERS), encoding="map")
    assert term == {
        b"Event-Timestamp": 1700000000123456,
        b"Name": b"value",
        b"O": {b"Number": b"42"},
    }


def test_assigning_an_existing_key_replaces_it_and_moves_it_last() -> None:
    ps = profiles(
        '<field name="Name" as="K"/><field name="Number"/><field name="Flag" as="K"/>',
        verbose=True,
    )
    term = ps.build_event(Event("TEST_EVENT", [*HEADERS, ("Name", "second")]))
    assert isinstance(term, tuple)
    keys = [key for key, _ in term[0]]
    assert len(keys) == len(set(keys))
    assert keys[-2:] == [b"Number", b"K"]
    pairs = dict(term[0])
    assert pairs[b"K"] == b"yes"
    assert pairs[b"Name"] == [b"value", b"second"]  # verbose: repeated header as array
    assert pairs[b"Number"] == b"42"


# ---------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("filter_xml", "passes"),
    [
        ('<filter name="Name" type="include" value="value"/>', True),
        ('<filter name="Name" type="include" value="other"/>', False),
        ('<filter name="Name" value="value"/>', False),  # exclude is the default type
        ('<filter name="Name" type="include" compare="exists"/>', True),
        ('<filter name="Absent" type="include"/>', False),  # no value: exists
        ('<filter name="Absent" type="exclude" compare="exists"/>', True),
        ('<filter type="include" compare="prefix" value="variable_ecallmgr_"/>', True),
        ('<filter type="include" compare="prefix" value="variable_cav_"/>', False),
        ('<filter name="Name" type="include" compare="list" value="x|val"/>', True),
        ('<filter name="Name" type="include" compare="list" value="x|y"/>', False),
        ('<filter name="Name" type="include" compare="field" value="Same"/>', True),
        ('<filter name="Name" type="include" compare="field" value="Number"/>', False),
        ('<filter name="Absent" type="include" compare="field" value="Absent2"/>', False),
        ('<filter name="${Name}" type="include" compare="field" value="Same"/>', True),
        ('<filter name="${Absent}" type="include" compare="value" value=""/>', True),
        ('<filter name="Number" type="include" compare="regex" value="^4[0-9]$"/>', True),
        ('<filter name="Number" type="include" compare="regex" value="^5"/>', False),
        ('<filter name="Absent" type="exclude" compare="regex" value=".*"/>', True),
    ],
)
def test_event_filter_compare_modes(filter_xml: str, passes: bool) -> None:
    ps = profiles('<field name="Name"/>', filters=f"<filters>{filter_xml}</filters>")
    got = build(ps, [*HEADERS, ("Same", "value")])
    assert (got is not None) == passes


def test_field_filters_and_profile_filters() -> None:
    ps = ProfileSet.from_xml(
        '<configuration><event-handlers><profile name="default">'
        '<filters><filter name="Drop-Me" type="exclude" compare="exists"/></filters>'
        '<fields verbose="false"><field name="Name" as="From-Profile"/></fields>'
        '<events><event name="TEST_EVENT"><fields verbose="false">'
        '<field name="Number"><filters><filter name="Flag" type="include" value="no"/>'
        "</filters></field>"
        '<field name="Flag"><filters><filter name="Flag" type="include" value="yes"/>'
        "</filters></field>"
        "</fields></event></events></profile></event-handlers></configuration>"
    )
    got = build(ps, HEADERS)
    assert got == {
        b"Event-Timestamp": 1700000000123456,
        b"From-Profile": b"value",
        b"Flag": b"yes",
    }
    assert build(ps, [*HEADERS, ("Drop-Me", "1")]) is None


# ---------------------------------------------------------------- fallbacks


def test_binding_without_definition_is_sent_verbosely() -> None:
    ps = profiles('<field name="Name"/>')
    event = Event(
        "CHANNEL_STATE",
        [
            ("Event-Name", "CHANNEL_STATE"),
            ("A", "1"),
            ("A", "2"),
            ("_json_x", "{}"),
            ("Event-Date-Timestamp", "5"),
        ],
    )
    term = ps.build_event(event, binding="ALL")
    assert term == verbose_event(event)
    assert obj(term) == {
        b"Event-Name": b"CHANNEL_STATE",
        b"A": [b"1", b"2"],
        b"Event-Date-Timestamp": b"5",
        b"Event-Timestamp": 5,
    }


def test_event_without_fields_is_verbose() -> None:
    ps = ProfileSet.from_xml(
        '<configuration><event-handlers><profile name="default"><events>'
        '<event name="TEST_EVENT"/></events></profile></event-handlers></configuration>'
    )
    got = build(ps, HEADERS)
    assert got is not None and got[b"Name"] == b"value" and got[b"Event-Timestamp"]


def test_custom_event_uses_its_subclass() -> None:
    ps = profiles('<field name="Name"/>', event="my::thing")
    term = ps.build_event(Event("CUSTOM", HEADERS, subclass="My::Thing"))
    assert obj(term) == {b"Event-Timestamp": 1700000000123456, b"Name": b"value"}


def test_missing_sections_come_from_the_base_set() -> None:
    base = profiles('<field name="Name"/>')
    fetch_only = ProfileSet.from_xml(
        '<configuration><fetch-handlers><profile name="dialplan"><fields verbose="false">'
        '<field name="Name"/></fields></profile></fetch-handlers></configuration>',
        base=base,
    )
    assert fetch_only.event_definition("TEST_EVENT") is not None
    plan = fetch_only.fetch_plan("dialplan")
    assert plan is not None and plan.timeout_us == 2_000_000
    assert obj(fetch_only.build_fetch("dialplan", HEADERS))[b"Name"] == b"value"


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ("<configuration><definitions>", "not well-formed"),
        ('<!DOCTYPE x [<!ENTITY a "b">]><configuration/>', "DOCTYPE"),
        ("<kazoo/>", "<kazoo>"),
        (
            '<configuration><definitions><definition name="d"><field name="x" type="copi"/>'
            "</definition></definitions></configuration>",
            "definition 'd' > field #1 'x'",
        ),
        (
            '<configuration><definitions><definition name="d"><field name="x" serialize-as="int"/>'
            "</definition></definitions></configuration>",
            "serialize-as 'int'",
        ),
        (
            '<configuration><definitions><definition name="d"><filters><filter name="a"'
            ' compare="like" value="b"/></filters></definition></definitions></configuration>',
            "definition 'd' > filter #1 'a'",
        ),
        (
            '<configuration><definitions><definition name="d"><filters><filter name="a"'
            ' compare="regex" value="("/></filters></definition></definitions></configuration>',
            "bad regular expression",
        ),
        (
            "<configuration><definitions><definition><field name='x'/></definition>"
            "</definitions></configuration>",
            "<definition> needs a non-empty name",
        ),
        (
            '<configuration><definitions><definition name="d"><field type="copy"/></definition>'
            "</definitions></configuration>",
            "field #1",
        ),
        (
            '<configuration><event-handlers><profile name="other"/></event-handlers>'
            "</configuration>",
            "no <profile name='default'>",
        ),
        (
            '<configuration><fetch-handlers><profile name="nowhere"/></fetch-handlers>'
            "</configuration>",
            "profile 'nowhere'",
        ),
        (
            '<configuration><definitions><definition name="a"><field name="b" type="reference"/>'
            '</definition><definition name="b"><field name="a" type="reference"/></definition>'
            '</definitions><event-handlers><profile name="default"><events><event name="E">'
            '<fields><field name="a" type="reference"/></fields></event></events></profile>'
            "</event-handlers></configuration>",
            "cycle (a -> b -> a)",
        ),
    ],
)
def test_bad_documents_raise_profile_error_naming_the_element(document: str, named: str) -> None:
    with pytest.raises(ProfileError) as caught:
        ProfileSet.from_xml(document)
    assert named in str(caught.value)


def test_missing_reference_is_skipped_with_a_warning() -> None:
    ps = profiles('<field name="nowhere" type="reference"/><field name="Name"/>')
    assert any("no definition named 'nowhere'" in warning for warning in ps.warnings)
    assert build(ps, HEADERS) == {b"Event-Timestamp": 1700000000123456, b"Name": b"value"}


def test_bad_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="encoding"):
        profiles("").build_event(Event("TEST_EVENT", HEADERS), encoding="xml")  # type: ignore[arg-type]


# ---------------------------------------------------------------- compiled templates


TEMPLATES = [
    "${expr(ceil((${Event-Date-Timestamp} / 1000000) + ${UNIX_EPOCH_IN_GREGORIAN}))}",
    "${regex(${Channel-State}|^CS_(.*)$|%1)}",
    "${first-of(variable_debug_call|Call-Debug|#${Call-Debug})}",
    "${cond(${variable_Call-Interaction-ID} == ${variable_Original-Call-Interaction-ID}"
    " ? true : false)}",
    "sip:${regex(${url_decode(${variable_sip_refer_to})}|<sips?:(.*)>|%1)}",
    "${expr(ceil(${first-of(^^!variable_billmsec!#0)} / 1000))}",
    "${first-of(a|b)}@${first-of(c|#d)}",
    "$${UNIX_EPOCH_IN_GREGORIAN} \\${not} ${Name:1:2} ${Name[0]} ${Na${Inner}}",
    "${unknown_function(x)}${Name}",
]


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize(
    "headers",
    [
        [],
        [
            ("Event-Date-Timestamp", "1700000000999999"),
            ("Channel-State", "CS_EXECUTE"),
            ("Call-Debug", "true"),
            ("variable_Call-Interaction-ID", "63-abc"),
            ("variable_Original-Call-Interaction-ID", "63-abc"),
            ("variable_billmsec", "1501"),
            ("variable_sip_refer_to", "%3Csip:1000@example.com%3E"),
            ("Name", "value"),
            ("Inner", "me"),
            ("a", "A"),
            ("c", "C"),
        ],
        [("Name", "v1"), ("NAME", "v2"), ("variable_billmsec", "x"), ("b", "B")],
    ],
)
def test_compiled_templates_expand_like_the_expander(
    template: str, headers: list[tuple[str, str]]
) -> None:
    view = HeaderView(
        tuple(headers),
        None,
        prefixes=(),
        global_lookup={"UNIX_EPOCH_IN_GREGORIAN": "62167219200"}.get,
        encoding="json",
    )
    assert compile_template(template)(view) == view.expand(template)


# ---------------------------------------------------------------- built-in defaults


def test_default_profiles_alone() -> None:
    defaults = default_profiles()
    assert defaults.warnings == ()
    jobj = obj(defaults.build_event(channel_create("u-42")))
    assert jobj[b"Event-Category"] == b"call_event"
    assert jobj[b"Event-Name"] == b"CHANNEL_CREATE"
    assert jobj[b"Call-ID"] == b"u-42"
    assert jobj[b"Node"] == b"freeswitch@fs1.example.com"
    assert jobj[b"Timestamp"] == GREGORIAN
    assert obj(jobj[b"Custom-Channel-Vars"])[b"Account-ID"] == b"4fe69f4fa7ad4a3c85a1b1f4c3a4f2e1"
    route = obj(defaults.build_fetch("dialplan", dialplan_lookup()))
    assert (route[b"Event-Category"], route[b"Event-Name"]) == (b"dialplan", b"route_req")
    assert route[b"Fetch-Timeout"] == 3_500_000
    assert route[b"Fetch-Version"] == b"community"
    assert route[b"Fetch-Key-Value"] == b"context_2"
    assert route[b"From"] == b"1000@example.com"
