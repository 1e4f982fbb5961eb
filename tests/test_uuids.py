"""Random UUID text: RFC 4122 version 4, as ``str(uuid.uuid4())`` writes it, never repeated."""

from __future__ import annotations

import os
import random
import uuid

from hypothesis import given
from hypothesis import strategies as st

from kazoo_trio.uuids import uuid4_str, uuid4_text


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_text_is_what_the_uuid_module_writes_for_the_same_bits(bits: int) -> None:
    assert uuid4_text(bits) == str(uuid.UUID(int=bits, version=4))


def test_drawn_uuids_are_version_4_rfc_4122_and_never_repeat() -> None:
    draws = [uuid4_str() for _ in range(100_000)]
    assert len(set(draws)) == len(draws)
    for text in draws[:1000]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_drawn_uuids_use_all_their_random_bits() -> None:
    # Each of the 122 random bits is set in some draw and clear in another.
    ones, zeros = 0, 0
    for _ in range(2000):
        value = uuid.UUID(uuid4_str()).int
        ones |= value
        zeros |= ~value
    version_and_variant = (0xF000 << 64) | (0xC000 << 48)
    random_bits = ((1 << 128) - 1) & ~version_and_variant
    assert ones & random_bits == random_bits
    assert zeros & random_bits == random_bits


def test_seeding_the_shared_random_module_does_not_repeat_uuids() -> None:
    state = random.getstate()
    try:
        random.seed(1234)
        first = uuid4_str()
        random.seed(1234)
        second = uuid4_str()
    finally:
        random.setstate(state)
    assert first != second


def test_a_forked_child_draws_other_uuids_than_its_parent() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next UUID and leave at once
        try:
            os.write(write_end, uuid4_str().encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            child = pipe.read().decode()
    finally:
        os.waitpid(pid, 0)
    parent = uuid4_str()
    assert uuid.UUID(child).version == 4
    assert child != parent
