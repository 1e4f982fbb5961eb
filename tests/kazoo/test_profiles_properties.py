"""Any headers through any of Kazoo's profiles give a well-formed JObj term."""

from __future__ import annotations

import base64
import re
import struct
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.call_events import CallEvents, capture_calls
from kazoo_trio.kazoo.profiles import ProfileSet, default_profiles
from kazoo_trio.kazoo.profiles import compile as compile_module
from kazoo_trio.kazoo.profiles.jsonterm import freeze_object
from kazoo_trio.switch.event import Event
from kazoo_trio.term import Atom, decode, encode
from tests.erlnode import erl_eval_once
from tests.kazoo.profile_reference import Reference
from tests.kazoo.profile_support import (
    duplicate_keys,
    kazoo_profiles,
    profiles_dir,
    require_profiles,
)

pytestmark = pytest.mark.skipif(
    not (profiles_dir() / "definitions").is_dir(),
    reason=f"Kazoo's profile XML not found at {profiles_dir()} (set KAZOO_PROFILES_DIR)",
)

SECTIONS = ("configuration", "directory", "dialplan", "channels", "languages", "chatplan")


@cache
def _kazoo() -> tuple[ProfileSet, tuple[str, ...]]:
    folder = require_profiles()
    return kazoo_profiles(folder), _referenced_names(folder)


def _referenced_names(folder: Path) -> tuple[str, ...]:
    """Header names the profiles read, so generated events exercise their fields."""
    names: set[str] = set()
    for path in folder.rglob("*.xml"):
        text = path.read_text()
        names.update(re.findall(r'name="([^"$]+)"', text))
        for value in re.findall(r'value="([^"]+)"', text):
            names.update(item for item in value.split("|") if re.fullmatch(r"[\w-]+", item))
        names.update(re.findall(r"\$\{([\w-]+)\}", text))
    names.update(("Event-Date-Timestamp", "Target-Node", "_json_callflow", "Unique-ID"))
    return tuple(sorted(names))


def _values() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=12),
        st.sampled_from(
            [
                "",
                "0",
                "1",
                "true",
                "yes",
                "CS_INIT",
                "bridge",
                "WRONG_CALL_STATE",
                "park",
                "1700000000123456",
                "-5",
                "1e400",
                "0x1f",
                "nan",
                "inf",
                "3.25",
                '{"a":[1,2.0]}',
                '[1, {"b": null}]',
                "{bad",
                "%41%2",
                "a|b",
                "${x}",
                "'q'",
                "\\",
                "ARRAY::a|:b",
                "18446744073709551616",
                "-99999999999999999999999",
                "\udcff\udc80",
            ]
        ),
        st.integers().map(str),
    )


@st.composite
def header_sets(draw: st.DrawFn) -> list[tuple[str, str]]:
    _, names = _kazoo()
    name = st.one_of(st.sampled_from(names), st.text(min_size=1, max_size=10))
    return draw(st.lists(st.tuples(name, _values()), max_size=40))


@st.composite
def event_cases(draw: st.DrawFn) -> tuple[str, Event]:
    kazoo, _ = _kazoo()
    binding = draw(st.sampled_from([*kazoo.event_names, "ALL", "CHANNEL_STATE"]))
    headers = draw(header_sets())
    body = draw(st.none() | st.text(max_size=10))
    custom = "::" in binding or binding in (
        "KZ_CDR",
        "ROUTE_WINNER",
        "CHANNEL_SYNC",
        "CHANNEL_METAFLOW",
    )
    event = Event(
        "CUSTOM" if custom else binding, headers, body=body, subclass=binding if custom else None
    )
    return binding, event


@cache
def _unfused() -> ProfileSet:
    """Kazoo's profiles compiled without fusing, to compare the generated code against."""
    original = compile_module._fused
    compile_module._fused = lambda applies, present=None: applies
    try:
        return kazoo_profiles(require_profiles())
    finally:
        compile_module._fused = original


def _check(term: object) -> None:
    assert duplicate_keys(term) == []
    assert decode(encode(term)) == term


SLOW = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(event_cases(), st.sampled_from(["json", "map"]))
def test_any_event_through_kazoo_profiles_encodes(case: tuple[str, Event], encoding: str) -> None:
    kazoo, _ = _kazoo()
    binding, event = case
    term = kazoo.build_event(event, binding=binding, encoding=encoding)  # type: ignore[arg-type]
    if term is not None:
        _check(term)
        assert isinstance(term, dict if encoding == "map" else tuple)


@SLOW
@given(event_cases())
def test_fused_plans_build_what_the_field_closures_build(case: tuple[str, Event]) -> None:
    kazoo, _ = _kazoo()
    binding, event = case
    assert kazoo.build_event(event, binding=binding) == _unfused().build_event(
        event, binding=binding
    )


@SLOW
@given(event_cases())
def test_any_event_through_default_profiles_encodes(case: tuple[str, Event]) -> None:
    binding, event = case
    term = default_profiles().build_event(event, binding=binding)
    if term is not None:
        _check(term)


@SLOW
@given(st.sampled_from(SECTIONS), header_sets())
def test_any_lookup_through_fetch_profiles_encodes(
    section: str, headers: list[tuple[str, str]]
) -> None:
    kazoo, _ = _kazoo()
    for profiles in (kazoo, default_profiles()):
        term = profiles.build_fetch(section, headers)
        assert term is not None
        _check(term)


def test_real_erl_decodes_a_batch_of_generated_events(tmp_path: Path) -> None:
    """One erl run binary_to_terms many {event, json, JObj} frames and sends them back."""
    kazoo, _ = _kazoo()
    frames: list[bytes] = []
    terms: list[object] = []

    @settings(max_examples=1, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(event_cases(), min_size=80, max_size=80))
    def collect(cases: list[tuple[str, Event]]) -> None:
        frames.clear()
        terms.clear()
        for binding, event in cases:
            jobj = kazoo.build_event(event, binding=binding)
            if jobj is None:
                continue
            term = (Atom("event"), Atom("json"), jobj)
            terms.append(term)
            frames.append(encode(term))

    collect()
    assert terms
    blob = tmp_path / "frames.bin"
    blob.write_bytes(b"".join(struct.pack(">I", len(frame)) + frame for frame in frames))
    code = (
        '{ok, Blob} = file:read_file("' + str(blob) + '"),'
        " Split = fun F(<<N:32, B:N/binary, R/binary>>, Acc) -> F(R, [B | Acc]);"
        " F(<<>>, Acc) -> lists:reverse(Acc) end,"
        " Terms = [binary_to_term(B) || B <- Split(Blob, [])],"
        " true = lists:all(fun({event, json, {L}}) when is_list(L) ->"
        " Ks = [K || {K, _} <- L], lists:all(fun erlang:is_binary/1, Ks)"
        " andalso length(lists:usort(Ks)) =:= length(Ks) end, Terms),"
        ' io:format("~s", [base64:encode(term_to_binary(Terms))]), halt().'
    )
    output = erl_eval_once(code, timeout=60)
    assert decode(base64.b64decode(output.strip())) == terms


# ---------------------------------------------------------------- encoded payloads

_TAGS = {"json": Atom("json"), "map": Atom("map")}


def _encoded(term: object, encoding: str) -> bytes | None:
    return None if term is None else encode((Atom("event"), _TAGS[encoding], term))


@SLOW
@given(event_cases(), st.sampled_from(["json", "map"]))
def test_kazoo_payload_is_the_encoded_term(case: tuple[str, Event], encoding: str) -> None:
    kazoo, _ = _kazoo()
    binding, event = case
    term = kazoo.build_event(event, binding=binding, encoding=encoding)  # type: ignore[arg-type]
    payload = kazoo.build_payload(event, binding=binding, encoding=encoding)  # type: ignore[arg-type]
    assert payload == _encoded(term, encoding)
    encoder = kazoo.encoder()
    assert encoder.payload(event, binding, encoding) == payload
    assert encoder(event, binding, encoding) == term


@SLOW
@given(event_cases())
def test_default_profiles_payload_is_the_encoded_term(case: tuple[str, Event]) -> None:
    binding, event = case
    profiles = default_profiles()
    term = profiles.build_event(event, binding=binding)
    assert profiles.build_payload(event, binding=binding) == _encoded(term, "json")


@SLOW
@given(st.sampled_from(SECTIONS), header_sets())
def test_fused_fetch_plans_build_what_the_field_closures_build(
    section: str, headers: list[tuple[str, str]]
) -> None:
    kazoo, _ = _kazoo()
    assert kazoo.build_fetch(section, headers) == _unfused().build_fetch(section, headers)


# ---------------------------------------------------------------- against the reference


@cache
def _reference() -> Reference:
    kazoo, _ = _kazoo()
    return Reference(kazoo, {})


def _as_term(obj: dict[bytes, object] | None) -> object:
    return None if obj is None else freeze_object(obj)


@cache
def _call_events() -> CallEvents:
    return capture_calls(2)


def test_simulated_calls_build_what_the_reference_builds() -> None:
    """Every event of two controlled calls on the simulated switch (as a stream hands
    them over) and their dialplan lookups: the same objects, key order included, and
    the same encoded payloads as the plain interpreter of the specs."""
    kazoo, _ = _kazoo()
    calls = _call_events()
    built = 0
    for binding, event in calls.events:
        expected = _reference().event(binding, list(event.headers), event.body)
        assert kazoo.build_event(event, binding=binding) == _as_term(expected), binding
        assert kazoo.build_payload(event, binding=binding) == _encoded(_as_term(expected), "json")
        built += expected is not None
    assert built >= 10  # CHANNEL_CREATE, ANSWER, DESTROY, route_winner, executions
    for section, event in calls.lookups:
        expected = _reference().fetch(section, list(event.headers))
        assert expected is not None
        assert kazoo.build_fetch(section, event) == _as_term(expected)


@SLOW
@given(event_cases(), st.sampled_from(["json", "map"]))
def test_kazoo_profiles_build_what_the_reference_builds(
    case: tuple[str, Event], encoding: str
) -> None:
    kazoo, _ = _kazoo()
    binding, event = case
    expected = _reference().event(binding, list(event.headers), event.body, encoding)  # type: ignore[arg-type]
    if encoding == "map":
        built = kazoo.build_event(event, binding=binding, encoding="map")
        assert built == expected
        assert built is None or list(_keys(built)) == list(_keys(expected))
    else:
        assert kazoo.build_event(event, binding=binding) == _as_term(expected)
    payload = kazoo.build_payload(event, binding=binding, encoding=encoding)  # type: ignore[arg-type]
    assert payload == _encoded(expected if encoding == "map" else _as_term(expected), encoding)


def _keys(obj: object) -> list[object]:
    """Keys of nested objects in order, depth first (dict equality ignores order)."""
    assert isinstance(obj, dict)
    out: list[object] = []
    for key, value in obj.items():
        out.append(key)
        if isinstance(value, dict):
            out.append(_keys(value))
    return out


@SLOW
@given(st.sampled_from(SECTIONS), header_sets())
def test_fetch_profiles_build_what_the_reference_builds(
    section: str, headers: list[tuple[str, str]]
) -> None:
    kazoo, _ = _kazoo()
    assert kazoo.build_fetch(section, headers) == _as_term(_reference().fetch(section, headers))
