"""The atom table: atoms the program names are permanent, atoms only peers use are not."""

from __future__ import annotations

import gc
import pickle

from kazoo_trio.term import Atom, decode, encode
from kazoo_trio.term import _decode as decoder


def _wire_atom_count(prefix: str) -> int:
    return sum(1 for name in list(Atom._wire) if name.startswith(prefix))


def test_known_atoms_are_identical_however_they_are_made() -> None:
    ok = Atom("ok")
    assert Atom("ok") is ok
    assert Atom.from_wire("ok") is ok
    assert decode(encode(ok)) is ok
    assert decode(encode((ok, [ok]))) == (ok, [ok])
    assert decode(encode((ok,)))[0] is ok
    assert pickle.loads(pickle.dumps(ok)) is ok
    assert Atom.is_known(ok)
    # true/false still decode to bools.
    assert decode(encode(Atom("true"))) is True


def test_a_received_atom_is_shared_while_held_and_released_after() -> None:
    name = "kt_atoms_only_on_the_wire"
    first = decode(encode(Atom.from_wire(name)))
    assert not Atom.is_known(first)
    # While held, every lookup of the name gives that same object.
    assert Atom.from_wire(name) is first
    assert decode(encode(first)) is first
    held = {first: 1}
    assert held[decode(encode(first))] == 1
    del first, held
    decoder._forget_wire_atoms()  # the decoder's small cache holds recent ones
    gc.collect()
    assert name not in Atom._wire


def test_naming_a_received_atom_makes_that_object_permanent() -> None:
    name = "kt_atoms_promoted"
    received = decode(encode(Atom.from_wire(name)))
    named = Atom(name)
    assert named is received
    assert Atom.is_known(received)
    assert name not in Atom._wire
    del received, named
    gc.collect()
    assert Atom.from_wire(name) is Atom(name)


def test_distinct_received_atoms_do_not_accumulate() -> None:
    gc.collect()
    before = _wire_atom_count("kt_flood_")
    for i in range(20_000):
        term = decode(encode((Atom.from_wire(f"kt_flood_{i}"), i)))
        assert term[0].name == f"kt_flood_{i}"
    del term
    gc.collect()
    # Only what the decoder's cache still holds survives (its bound).
    assert _wire_atom_count("kt_flood_") - before <= decoder._WIRE_ATOMS_MAX
    assert len(decoder._WIRE_KEYS) <= decoder._WIRE_ATOMS_MAX
    decoder._forget_wire_atoms()
    gc.collect()
    assert _wire_atom_count("kt_flood_") == 0


def test_a_repeated_received_atom_stays_cached() -> None:
    data = encode(Atom.from_wire("kt_atoms_repeated"))
    first = decode(data)
    assert decode(data) is first
    assert data[3:] in decoder._ATOMS  # the fast path knows it
