"""Hypothesis strategies for terms in the form the decoder produces.

"Decoded form" means ``decode(encode(t)) == t`` must hold: no ``str``/``None``
(they encode as a binary / ``undefined``), no ``Atom("true")`` (it decodes
to ``True``), improper-list tails that are not lists, dicts with hashable keys.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from kazoo_trio.term import (
    Atom,
    BitString,
    Export,
    Fun,
    ImproperList,
    MapPairs,
    Pid,
    Port,
    Reference,
    encode_body,
)

U32 = st.integers(0, 2**32 - 1)

atom_text = st.text(max_size=255).filter(lambda s: s not in ("true", "false"))
atoms = atom_text.map(Atom)
node_atoms = st.sampled_from(["a@vm", "freeswitch@127.0.0.1", "nonode@nohost"]) | atom_text
# Bignums up to ~3000 bits, built by shifting so the strategy's repr stays small.
big_integers = st.tuples(st.integers(), st.integers(0, 3000)).map(lambda p: p[0] << p[1])
integers = (
    st.integers()
    | big_integers
    | st.sampled_from([0, 255, 256, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1])
)
floats = st.floats(allow_nan=False, allow_infinity=False)
pids = st.builds(Pid, node_atoms, U32, U32, U32)
refs = st.builds(Reference, node_atoms, U32, st.lists(U32, min_size=1, max_size=5))
ports = st.builds(Port, node_atoms, st.integers(0, 2**64 - 1), U32)
bitstrings = st.builds(BitString, st.binary(min_size=1, max_size=20), st.integers(1, 8))
exports = st.builds(Export, atoms, atoms, st.integers(0, 255))


@st.composite
def funs(draw: st.DrawFn, free: st.SearchStrategy[Any] | None = None) -> Fun:
    """A NEW_FUN_EXT built field by field (what OTP sends for a closure)."""
    free_vars = draw(st.lists(free if free is not None else st.integers(), max_size=3))
    fixed = (
        bytes([draw(st.integers(0, 255))])
        + draw(st.binary(min_size=16, max_size=16))
        + draw(U32).to_bytes(4, "big")
        + len(free_vars).to_bytes(4, "big")
    )
    rest = fixed + b"".join(
        encode_body(x)
        for x in [draw(atoms), draw(st.integers(0, 2**31 - 1)), draw(U32), draw(pids), *free_vars]
    )
    return Fun(b"p" + (len(rest) + 4).to_bytes(4, "big") + rest)


scalars = (
    atoms
    | st.booleans()
    | integers
    | floats
    | st.binary(max_size=64)
    | pids
    | refs
    | ports
    | bitstrings
    | exports
)
hashable_keys = st.recursive(
    atoms | st.booleans() | integers | st.binary(max_size=8) | pids,
    lambda inner: st.lists(inner, max_size=3).map(tuple),
    max_leaves=6,
)


def _containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    non_list = inner.filter(lambda t: not isinstance(t, (list, ImproperList)))
    return (
        st.lists(inner, max_size=6)
        | st.lists(inner, max_size=6).map(tuple)
        | st.dictionaries(hashable_keys, inner, max_size=4)
        | st.builds(ImproperList, st.lists(inner, min_size=1, max_size=4), non_list)
        | st.builds(
            lambda key, pairs: MapPairs([(key, None), *pairs]),
            st.lists(inner, min_size=1, max_size=3),
            st.lists(st.tuples(inner, inner), max_size=3),
        ).map(lambda m: MapPairs([(m.pairs[0][0], Atom("x")), *m.pairs[1:]]))
        | funs(inner)
        | st.lists(st.integers(0, 255), max_size=20)  # an Erlang string
    )


terms = st.recursive(scalars, _containers, max_leaves=30)
