"""mod_kazoo's applications as pure translations into stock applications, and the
helpers they share (kazoo_trio.switch.kz.dptools / .utils)."""

from __future__ import annotations

import attrs
import pytest

from kazoo_trio.switch.kz.dptools import (
    CHANNEL_DATA,
    KZ_APPLICATIONS,
    Api,
    Execute,
)
from kazoo_trio.switch.kz.utils import delimited, profile_var, split_assignment, url_decode


@attrs.define
class FakeView:
    """A channel as a translation reads it; ``${x}`` expands to ``<x>``."""

    variables: dict[str, str] = attrs.field(factory=dict)
    others: set[str] = attrs.field(factory=set)
    profile: dict[str, str] = attrs.field(factory=dict)
    uuid: str = "self-uuid"

    def get_variable(self, name: str) -> str | None:
        return self.variables.get(name)

    def profile_field(self, name: str) -> str:
        return self.profile.get(name, "")

    def expand(self, text: str) -> str:
        return text.replace("${x}", "<x>")

    def channel_exists(self, uuid: str) -> bool:
        return uuid in self.others

    def expand_on(self, uuid: str, text: str) -> str | None:
        return text.replace("${x}", f"<x@{uuid}>") if uuid in self.others else None


def run(name: str, data: str, view: FakeView | None = None) -> list[Execute | Api]:
    return KZ_APPLICATIONS[name](view or FakeView(), data)


@pytest.mark.parametrize(
    ("text", "decoded"),
    [
        ("a%7Cb", "a|b"),
        ("a+b", "a+b"),
        ("%41%4", "A%4"),  # a % needs two characters after it
        ("%4g!", "\x04!"),  # one hex digit, both characters skipped (sscanf "%2x")
        ("%zz", "%zz"),
        ("caf%C3%A9", "café"),
        ("cut%00here", "cut"),  # a decoded NUL ends the C string
        ("no-escapes", "no-escapes"),
    ],
)
def test_url_decode_as_switch_url_decode(text: str, decoded: str) -> None:
    assert url_decode(text) == decoded


def test_list_prefix_assignments_and_profile_vars() -> None:
    assert delimited("^^|a|b") == ("|", "a|b")
    assert delimited("a b") == (" ", "a b")
    assert delimited("^^") is None
    assert split_assignment("a=b=c") == ("a", "b=c")
    assert split_assignment("a,b") == ("a", "b")
    assert split_assignment("a=") == ("a", None)
    assert split_assignment("a") == ("a", None)
    assert profile_var("effective_caller_id_name") == "caller_id_name"
    assert profile_var("ORIGINATION_caller_id_number") == "caller_id_number"
    assert profile_var("ecallmgr_Account-ID") is None


def test_kz_multiset_encoded_is_sets_with_decoded_expanded_values_then_channel_data() -> None:
    steps = run("kz_multiset_encoded", "^^|a=b%7Cc|d=${x}%20y|e=|effective_caller_id_name=Bob")
    assert steps == [
        Execute("set", "a=b|c"),
        Execute("set", "d=<x> y"),
        Execute("set", "e="),
        Execute("set", "effective_caller_id_name=Bob"),
        Execute("set_profile_var", "caller_id_name=Bob"),
        CHANNEL_DATA,
    ]
    # Without ^^ the items are split on spaces; the plain form does not decode.
    assert run("kz_multiset", "a=1%7C b=2") == [
        Execute("set", "a=1%7C"),
        Execute("set", "b=2"),
        CHANNEL_DATA,
    ]
    assert run("kz_multiset", "^^") == []
    assert run("kz_set_encoded", "v=%41") == [Execute("set", "v=A"), CHANNEL_DATA]


def test_unsets_prefix_unset_and_multiunset() -> None:
    view = FakeView({"sip_h_X-One": "1", "ecallmgr_A": "a", "SIP_H_x-two": "2", "sip_h_Y": "y"})
    assert run("kz_prefix_unset", "sip_h_X-", view) == [
        Execute("unset", "sip_h_X-One"),
        Execute("unset", "SIP_H_x-two"),
    ]
    assert run("kz_multiunset", "^^|a|b") == [Execute("unset", "a"), Execute("unset", "b")]
    assert run("kz_unset", "a") == [Execute("unset", "a"), CHANNEL_DATA]


def test_kz_export_exports_new_names_and_sets_changed_exported_ones() -> None:
    view = FakeView({"export_vars": "Old,same", "old": "1", "same": "2"})
    steps = run("kz_export_encoded", "^^|new=%31|old=3|same=2|novalue", view)
    assert steps == [Execute("export", "new=1"), Execute("set", "old=3")]


def test_kz_uuid_multiset_sets_through_the_encoded_api_or_unsets_the_uuid() -> None:
    view = FakeView(others={"other"})
    assert run("kz_uuid_multiset_encoded", "other ^^|a=b%3Bc|d=", view) == [
        Api("kz_uuid_setvar_multi_encoded", "other ^^;a=b%3Bc;d")
    ]
    assert run("kz_uuid_multiset", "missing a=1", view) == [Execute("unset", "missing")]
    # Values expand on the target channel, as base_set runs there.
    assert run("kz_uuid_multiset_encoded", "other a=%24%7Bx%7D", view) == [
        Api("kz_uuid_setvar_multi_encoded", "other ^^;a=%3Cx%40other%3E")
    ]
    assert run("kz_uuid_multiset", "nospace", view) == []


def test_noop_restore_caller_id_and_media() -> None:
    assert run("noop", "msg-1") == [Execute("set", "current_application_response=msg-1")]
    fresh = run("noop", "")
    assert len(fresh) == 1 and isinstance(fresh[0], Execute)
    assert len(fresh[0].data.partition("=")[2]) == 36
    view = FakeView(profile={"orig_caller_id_name": "A", "orig_caller_id_number": "1"})
    assert run("kz_restore_caller_id", "", view) == [
        Execute("set_profile_var", "caller_id_name=A"),
        Execute("set_profile_var", "caller_id_number=1"),
    ]
    assert run("kz_endless_playback", "/m.wav") == [
        Execute("endless_playback", "/m.wav"),
        Execute("set", "current_application_response=PLAYBACK_INTERRUPTED"),
    ]
    assert run("kz_moh", "/moh.wav") == [
        Execute("unset", "playback_terminator_used"),
        Execute("playback", "/moh.wav"),
        Execute("set", "current_application_response=MOH FILE PLAYED"),
    ]
    assert run("kz_bridge", "loopback/1") == [Execute("bridge", "loopback/1")]
    assert run("kz_bridge_uuid", "other", FakeView(others={"other"})) == [
        Api("uuid_bridge", "self-uuid other")
    ]


def test_every_application_add_kz_dptools_registers_but_att_xfer() -> None:
    registered = {
        "kz_set", "kz_set_encoded", "kz_multiset", "kz_multiset_encoded", "kz_unset",
        "kz_multiunset", "kz_export", "kz_export_encoded", "kz_prefix_unset",
        "kz_uuid_multiset", "kz_uuid_multiset_encoded", "kz_endless_playback",
        "kz_restore_caller_id", "noop", "kz_bridge", "kz_bridge_uuid", "kz_att_xfer", "kz_moh",
    }  # fmt: skip
    assert registered - set(KZ_APPLICATIONS) == {"kz_att_xfer"}
