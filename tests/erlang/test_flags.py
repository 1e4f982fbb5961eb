"""Capability flag constants against OTP 25's own values, digest expansion, names."""

from __future__ import annotations

import re

import pytest

from kazoo_trio.erlang.flags import (
    MANDATORY,
    MANDATORY_25,
    MANDATORY_26,
    RECOMMENDED,
    DFlag,
    describe,
    expand_digest,
    flag_names,
    missing_mandatory,
    negotiate,
    uses_dist_header,
)
from tests.erlnode import erl_eval_once


@pytest.mark.erl
def test_constants_match_a_real_otp_node() -> None:
    # #erts_dflags{default, mandatory, addable, rejectable, strict_order}
    out = erl_eval_once(
        "{erts_dflags, D, M, _, _, _} = erts_internal:get_dflags(),"
        ' io:format("~b ~b~n", [D, M]), halt().'
    )
    match = re.search(r"^(\d+) (\d+)$", out, re.M)
    assert match, out
    default, mandatory = int(match[1]), int(match[2])
    assert mandatory == MANDATORY_25
    # Every bit of the default set has its OTP name here (no UNKNOWN<...>).
    assert "UNKNOWN" not in describe(default)
    # What OTP 25 advertises beyond our tier: header framing, fragments and
    # the two features without any wire effect for us.
    extra = (
        DFlag.DIST_HDR_ATOM_CACHE | DFlag.FRAGMENTS | DFlag.UNICODE_IO | DFlag.BIG_SEQTRACE_LABELS
    )
    assert default == RECOMMENDED | extra
    assert default & MANDATORY_26 == MANDATORY_26  # an OTP 25 node passes our check
    assert missing_mandatory(default) == []


def test_documented_values() -> None:
    assert MANDATORY_25 == 0x1070F94
    assert MANDATORY_26 == 0x4_0307_0F94
    assert MANDATORY == MANDATORY_25 | MANDATORY_26
    assert RECOMMENDED == 0xD_074F_4FBC
    assert DFlag.MANDATORY_25_DIGEST.value == 0x4000000  # not 1 << 36 as the protocol doc says
    assert DFlag.LOCAL_EXT == 1 << 36
    assert DFlag.UNLINK_ID.value == 0x2000000
    assert DFlag.SPAWN == 1 << 32
    assert DFlag.V4_NC == 1 << 34
    assert DFlag.ALIAS == 1 << 35
    assert DFlag.ALTACT_SIG == 1 << 37
    # Every flag is one distinct bit.
    values = [f.value for f in DFlag]
    assert len(set(values)) == len(values) == 33  # bits 0-26 and 32-37
    assert all(v & (v - 1) == 0 for v in values)


def test_recommended_is_hidden_and_pass_through() -> None:
    assert not RECOMMENDED & DFlag.PUBLISHED
    assert not uses_dist_header(RECOMMENDED)
    assert not RECOMMENDED & (DFlag.NAME_ME | DFlag.ALTACT_SIG)
    assert RECOMMENDED & DFlag.DIST_MONITOR and RECOMMENDED & DFlag.DIST_MONITOR_NAME
    assert missing_mandatory(RECOMMENDED) == []
    # Without the digest bit expansion, the explicit bits alone suffice (OTP 24).
    assert missing_mandatory(RECOMMENDED & ~DFlag.MANDATORY_25_DIGEST) == []


def test_digest_expansion() -> None:
    digest_only = DFlag.MANDATORY_25_DIGEST | DFlag.V4_NC | DFlag.UNLINK_ID
    assert expand_digest(digest_only) == digest_only | MANDATORY_25
    assert missing_mandatory(digest_only) == []
    assert expand_digest(DFlag.BIT_BINARIES) == DFlag.BIT_BINARIES
    assert expand_digest(0) == 0
    # The intersection uses the expanded peer flags.
    assert negotiate(RECOMMENDED, digest_only) & DFlag.BIT_BINARIES


def test_missing_names_in_otp_order() -> None:
    # OTP 26 logs: "cannot handle ["V4_NC","UNLINK_ID"]" (highest bit first).
    assert missing_mandatory(MANDATORY_25) == ["V4_NC", "UNLINK_ID"]
    assert missing_mandatory(MANDATORY & ~DFlag.BIT_BINARIES) == ["BIT_BINARIES"]
    assert missing_mandatory(MANDATORY_25, required=MANDATORY_25) == []
    assert missing_mandatory(0, required=MANDATORY_25) == [
        "HANDSHAKE_23",
        "BIG_CREATION",
        "MAP_TAG",
        "UTF8_ATOMS",
        "NEW_FLOATS",
        "BIT_BINARIES",
        "EXPORT_PTR_TAG",
        "EXTENDED_PIDS_PORTS",
        "NEW_FUN_TAGS",
        "FUN_TAGS",
        "EXTENDED_REFERENCES",
    ]


def test_dist_header_rule() -> None:
    assert uses_dist_header(DFlag.DIST_HDR_ATOM_CACHE)
    assert uses_dist_header(DFlag.FRAGMENTS)
    assert uses_dist_header(0xD07DF7FBC)
    assert not uses_dist_header(0x4_0707_4F9C)  # what libei advertises


def test_describe() -> None:
    assert describe(0) == "0x0 (none)"
    assert describe(DFlag.PUBLISHED | DFlag.V4_NC) == "0x400000001 PUBLISHED|V4_NC"
    # Internal bits and bits from the future print like dist_util:dflag2str/1.
    assert flag_names(0x8000 | 1 << 40) == ["UNKNOWN<8000>", "UNKNOWN<10000000000>"]
