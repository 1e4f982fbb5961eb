"""One event's headers, indexed once for the compiled profile plans.

Header names are looked up ignoring ASCII case, as FreeSWITCH's
``switch_event_get_header`` does.  A name that occurs more than once is a
multi-value header: lookups that want one text get FreeSWITCH's serialised
form ``ARRAY::a|:b`` and fields that copy it produce a JSON array.  The pseudo
header ``_body`` is the event body when no real header has that name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

from kazoo_trio.kazoo.profiles.functions import FUNCTIONS
from kazoo_trio.kazoo.profiles.jsonterm import Encoding
from kazoo_trio.switch.expand import expand_variables, needs_expansion

__all__ = ["GlobalLookup", "HeaderView", "PrefixMatcher", "to_binary"]

GlobalLookup = Callable[[str], "str | None"]

_JSON_PREFIX = "_json_"


def to_binary(text: str) -> bytes:
    """A header text as an Erlang binary (UTF-8; undecodable bytes kept as they were)."""
    return text.encode("utf-8", "surrogateescape")


class PrefixMatcher:
    """Header name → the ``prefixes`` it starts with, remembered across events.

    Events of one switch reuse a limited set of header names, so a dictionary hit
    replaces testing every prefix on every header of every event.  ``table`` is a
    plain ``dict`` (subscripting one is cheaper than a subclass with
    ``__missing__``): :meth:`learn` adds the names of an event it lacks.  The
    memory is bounded: the table is emptied when it would exceed :attr:`LIMIT`
    names.
    """

    __slots__ = ("prefixes", "table")

    LIMIT = 20_000

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes
        self.table: dict[str, tuple[str, ...]] = {}

    def __getitem__(self, name: str) -> tuple[str, ...]:
        found = self.table.get(name)
        if found is None:
            found = self._add(name)
        return found

    def _add(self, name: str) -> tuple[str, ...]:
        found = tuple(prefix for prefix in self.prefixes if name.startswith(prefix))
        self.table[name] = found
        return found

    def learn(self, headers: tuple[tuple[str, str], ...]) -> None:
        """Make sure every name of ``headers`` is in :attr:`table`."""
        table = self.table
        if len(table) + len(headers) > self.LIMIT:
            table.clear()
        for name, _ in headers:
            if name not in table:
                self._add(name)


_LOWERED_LIMIT = 20_000

# Header name → its lower-cased form.  Indexing an event lower-cases every header
# name; a hit in a plain dict is cheaper than the call, and names recur from event
# to event.  Bounded like PrefixMatcher.
_lowered: dict[str, str] = {}


def _learn_lowered(headers: tuple[tuple[str, str], ...]) -> None:
    """Make sure every name of ``headers`` is in ``_lowered``."""
    if len(_lowered) + len(headers) > _LOWERED_LIMIT:
        _lowered.clear()
    for name, _ in headers:
        if name not in _lowered:
            _lowered[name] = name.lower()


_NONE: tuple[tuple[str, str | list[str]], ...] = ()


def _may_expand(text: str) -> bool:
    """``needs_expansion``, with its character scan only for texts that hold a
    ``$`` or a backslash (it is false for every other text)."""
    return ("$" in text or "\\" in text) and needs_expansion(text)


def _array_text(values: list[str]) -> str:
    return "ARRAY::" + "|:".join(values)


class HeaderView:
    """Indexes of one event's headers, shared by every field of one build.

    ``first`` maps lower-cased names to the header's text, ``multi`` lower-cased
    names of multi-value headers to their values (``None`` when there are none),
    ``exact_multi`` the same by exact name (what verbose copies group by).
    """

    __slots__ = (
        "_buckets",
        "_global_lookup",
        "_prefixed",
        "_prefixes",
        "body",
        "encoding",
        "exact_multi",
        "first",
        "headers",
        "multi",
    )

    def __init__(
        self,
        headers: tuple[tuple[str, str], ...],
        body: str | None,
        *,
        prefixes: PrefixMatcher | tuple[str, ...],
        global_lookup: GlobalLookup,
        encoding: Encoding,
    ) -> None:
        self.headers = headers
        self.body = body
        self.encoding: Encoding = encoding
        self._prefixes = (
            prefixes if isinstance(prefixes, PrefixMatcher) else PrefixMatcher(prefixes)
        )
        self._global_lookup = global_lookup
        self._prefixed: list[tuple[str, str | list[str]]] | None = None
        self._buckets: dict[str, list[tuple[str, str | list[str]]]] | None = None
        # A repeated name's entry is replaced by its ARRAY:: text below, so
        # which of its values lands here first does not matter.
        lowered = _lowered
        try:
            first = {lowered[name]: value for name, value in headers}
        except KeyError:
            _learn_lowered(headers)
            first = {lowered[name]: value for name, value in headers}
        self.first = first
        self.multi: dict[str, list[str]] | None = None
        self.exact_multi: dict[str, list[str]] | None = None
        if len(first) != len(headers):
            self._index_multi()

    def _index_multi(self) -> None:
        by_lower: dict[str, list[str]] = {}
        by_name: dict[str, list[str]] = {}
        for name, value in self.headers:
            by_lower.setdefault(name.lower(), []).append(value)
            by_name.setdefault(name, []).append(value)
        multi = {name: values for name, values in by_lower.items() if len(values) > 1}
        exact = {name: values for name, values in by_name.items() if len(values) > 1}
        for name, values in multi.items():
            self.first[name] = _array_text(values)
        self.multi = multi or None
        self.exact_multi = exact or None

    # ---------------------------------------------------------------- lookups

    def text(self, name: str) -> str | None:
        """``switch_event_get_header``: the header's text, ``_body`` as the body."""
        value = self.first.get(name.lower())
        if value is None and name == "_body":
            return self.body
        return value

    def text_at(self, name: str, index: int) -> str | None:
        """``switch_event_get_header_idx`` with an index: a value of a multi-value header."""
        if self.multi is None:
            return None
        values = self.multi.get(name.lower())
        if values is None or index >= len(values):
            return None
        return values[index]

    def global_text(self, name: str) -> str | None:
        return self._global_lookup(name)

    def call(self, name: str, args: str) -> str | None:
        """Run a template function the way ``kz_expand_api_execute`` does (stripped args)."""
        function = FUNCTIONS.get(name.strip())
        if function is None:
            return None
        return function(args.strip(), self.text)

    def expand(self, template: str) -> str:
        """Expand a FreeSWITCH template against these headers and the globals."""
        return expand_variables(
            template,
            lookup=self.text,
            global_lookup=self._global_lookup,
            call=self.call,
            lookup_index=self.text_at,
        )

    def text_or_global(self, name: str) -> str | None:
        """What ``${name}`` expands to: the header, else the global (itself expanded)."""
        value = self.text(name)
        if value is None:
            value = self._global_lookup(name)
            if value is not None and _may_expand(value):
                value = self.expand(value)
        return value

    def expanded_global(self, name: str) -> str | None:
        """What ``$${name}`` expands to: the global, itself expanded."""
        value = self._global_lookup(name)
        if value is not None and _may_expand(value):
            value = self.expand(value)
        return value

    # ---------------------------------------------------------------- iteration

    @property
    def prefixed(self) -> list[tuple[str, str | list[str]]]:
        """Headers whose names start with any prefix the profiles use, in event order.

        Multi-value headers appear once, at their first position, with all values.
        """
        found = self._prefixed
        if found is None:
            self._index_prefixes()
            found = self._prefixed
            assert found is not None
        return found

    def with_prefix(self, prefix: str) -> Sequence[tuple[str, str | list[str]]]:
        """The :attr:`prefixed` headers starting with ``prefix`` (one of the profiles')."""
        buckets = self._buckets
        if buckets is None:
            buckets = self._index_prefixes()
        return buckets.get(prefix, _NONE)

    def _index_prefixes(self) -> dict[str, list[tuple[str, str | list[str]]]]:
        matches = self._prefixes
        buckets: dict[str, list[tuple[str, str | list[str]]]] = {}
        found: list[tuple[str, str | list[str]]] = []
        if matches.prefixes:
            headers = self.headers
            table = matches.table
            try:
                hits = [header for header in headers if table[header[0]]]
            except KeyError:
                matches.learn(headers)
                hits = [header for header in headers if table[header[0]]]
            if self.exact_multi is None:
                found = cast(list[tuple[str, str | list[str]]], hits)
            else:
                found = self._grouped(hits)
            for entry in found:
                for prefix in table[entry[0]]:
                    bucket = buckets.get(prefix)
                    if bucket is None:
                        buckets[prefix] = [entry]
                    else:
                        bucket.append(entry)
        self._prefixed = found
        self._buckets = buckets
        return buckets

    def _grouped(self, headers: list[tuple[str, str]]) -> list[tuple[str, str | list[str]]]:
        exact = self.exact_multi or {}
        seen: set[str] = set()
        result: list[tuple[str, str | list[str]]] = []
        for name, value in headers:
            if name in exact:
                if name in seen:
                    continue
                seen.add(name)
                result.append((name, exact[name]))
            else:
                result.append((name, value))
        return result

    def copy_all(self, dst: dict[bytes, object]) -> None:
        """Verbose start: each header but ``_json_*`` as ``Name: Value`` (repeated: arrays)."""
        if self.exact_multi is None and not dst:
            # Names are unique here, so nothing needs replacing.
            dst.update(
                (to_binary(name), to_binary(value))
                for name, value in self.headers
                if not name.startswith(_JSON_PREFIX)
            )
            return
        for name, values in self._grouped(list(self.headers)):
            if name.startswith(_JSON_PREFIX):
                continue
            key = to_binary(name)
            dst.pop(key, None)
            if isinstance(values, list):
                dst[key] = [to_binary(value) for value in values]
            else:
                dst[key] = to_binary(values)
