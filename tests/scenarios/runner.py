"""One scenario, driven from a real ``erl`` node through kazoo_trio's mod_kazoo server, on
either backend (the simulated switch or the real FreeSWITCH), and what Erlang observed.

A :class:`Scenario` is a list of steps (``api``/``bgapi``/``json_api`` calls, ``sendmsg``,
waits for streamed events or fetch requests) plus the fetch sections an Erlang handler
answers with given XML and the events an Erlang stream owner subscribes to.
:func:`run_scenario` plays it against a running server and returns an
:class:`Observation`: every reply, every fetch request and every stream frame, with the
values that differ by nature (UUIDs, times, ports, hosts, sequence numbers, versions)
normalised, so that the two backends' observations can be compared field by field
(:func:`differences` over :func:`legs`, :func:`header_values`, :func:`fetch_fields`).
Both backends run with Kazoo's own profiles (as ecallmgr pushes them in kazoo.conf),
so stream frames and fetch requests hold exactly what Kazoo reads.

Reusable outside the tests: :func:`observe_both` takes any started FreeSWITCH
(``tests.freeswitch.fsmin``) and ``epmd`` port; ``python -m tests.scenarios.report``
prints every difference with both values.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import attrs
import trio

import kazoo_trio.kazoo
from kazoo_trio.app import serve
from kazoo_trio.kazoo.config import Settings
from kazoo_trio.switch.freeswitch import FreeSwitchBackend, FreeSwitchSettings
from kazoo_trio.switch.sim import SimSwitch
from kazoo_trio.term import Atom
from tests.erlnode import ErlNode, erl_node
from tests.freeswitch.fsmin import FreeSwitch
from tests.kazoo.profile_support import kazoo_conf_document, require_profiles
from tests.kazoo.server_harness import MK, make_settings
from tests.waiting import wait_until

E1 = "ecallmgr@127.0.0.1"

# ---------------------------------------------------------------------------- steps


@attrs.frozen
class Api:
    """``{api, Command, Args}``; the reply is recorded under ``label`` as ``view`` shows it."""

    command: str
    args: str = ""
    label: str = ""
    view: str = "text"
    # Asked again (for up to 5 s) until the reply holds this text: FreeSWITCH's
    # channel table is written by a background SQL thread, after the call exists.
    until: str = ""


@attrs.frozen
class BgApi:
    """``{bgapi, Command, Args}`` then its ``bgok``/``bgerror``."""

    command: str
    args: str = ""
    label: str = ""
    view: str = "text"


@attrs.frozen
class BgStart:
    """``{bgapi, Command, Args}`` whose reply :class:`BgCollect` takes later (an
    originate that completes only once the call is answered or gone)."""

    command: str
    args: str
    job: str


@attrs.frozen
class BgCollect:
    """The ``bgok``/``bgerror`` of the :class:`BgStart` named ``job``."""

    job: str
    label: str = ""
    view: str = "text"


@attrs.frozen
class JsonApi:
    """``{json_api, Json}`` with ``{"command": command, "data": data}``."""

    command: str
    data: str = ""
    label: str = ""
    view: str = "json"


@attrs.frozen
class SendMsg:
    """``{sendmsg, UUID, Headers}``; ``target`` may name a bound value (``{route0}``)."""

    target: str
    headers: tuple[tuple[str, str], ...]
    label: str = ""


@attrs.frozen
class Command:
    """``{command, UUID, Headers}``: how ecallmgr sends an ``execute`` (``freeswitch:cmd``);
    the reply carries the event UUID."""

    target: str
    headers: tuple[tuple[str, str], ...]
    label: str = ""


@attrs.frozen
class Commands:
    """``{commands, UUID, [Headers, ...]}``: several ``execute``s at once
    (``freeswitch:cmds``, e.g. a blind transfer)."""

    target: str
    commands: tuple[tuple[tuple[str, str], ...], ...]
    label: str = ""


@attrs.frozen
class WaitEvent:
    """Until the stream carried ``name`` for the channel ``target``."""

    name: str
    target: str
    application: str = ""
    timeout: float = 8.0
    count: int = 1  # until the stream carried that many


@attrs.frozen
class WaitFetch:
    """Until ``count`` fetch requests came; binds ``route<i>`` to the i-th one's Call-ID."""

    count: int
    timeout: float = 8.0


Step = (
    Api
    | BgApi
    | BgStart
    | BgCollect
    | JsonApi
    | SendMsg
    | Command
    | Commands
    | WaitEvent
    | WaitFetch
)


@attrs.frozen
class Scenario:
    name: str
    steps: tuple[Step, ...]
    # Section -> the XML document its Erlang handler answers (``@CTX@`` is replaced by
    # the request's Hunt-Context).
    bindings: Mapping[str, str] = attrs.field(factory=dict)
    events: tuple[str, ...] = ()


# ---------------------------------------------------------------------- observation


@attrs.define
class Observation:
    replies: dict[str, object] = attrs.field(factory=dict)
    fetches: list[dict[str, object]] = attrs.field(factory=list)
    frames: list[dict[str, object]] = attrs.field(factory=list)


def _bin(text: str) -> str:
    """An Erlang expression for the binary ``text`` (base64, so no quoting issues)."""
    return f'base64:decode(<<"{base64.b64encode(text.encode()).decode()}">>)'


def _pairs_expr(run: _Run, headers: Sequence[tuple[str, str]]) -> str:
    """Erlang ``{K, V}`` pairs of binaries, bound values (``{route0}``) filled in."""
    return ", ".join(f"{{{_bin(k)}, {_bin(run.fill(v))}}}" for k, v in headers)


def _setup(scenario: Scenario) -> str:
    code = [
        "Parent = self(),",
        "Rec = spawn(fun() -> Loop = fun L(Acc) -> receive {rec, X} -> L([X | Acc]);"
        " {get, From} -> From ! {recs, lists:reverse(Acc)}, L(Acc) end end,"
        " Loop([]) end),",
    ]
    for section, xml in scenario.bindings.items():
        code.append(
            "spawn(fun() ->"
            f" ok = gen_server:call({MK}, {{bind, {section}}}), Parent ! bound,"
            f" Xml = {_bin(xml)},"
            " Loop = fun L() -> receive {fetch, {Props}} ->"
            ' U = proplists:get_value(<<"Fetch-UUID">>, Props),'
            ' Ctx = case proplists:get_value(<<"Hunt-Context">>, Props) of'
            " undefined -> <<>>; C -> C end,"
            " Rec ! {rec, {fetch, Props}},"
            f" gen_server:cast({MK}, {{fetch_reply, {section}, U,"
            ' binary:replace(Xml, <<"@CTX@">>, Ctx, [global])}), L() end end,'
            " Loop() end),"
            " receive bound -> ok after 5000 -> exit(not_bound) end,"
        )
    if scenario.events:
        names = ", ".join(f"'{name}'" for name in scenario.events)
        code.append(
            "spawn(fun() ->"
            f" {{ok, {{Ip, Port}}}} = gen_server:call({MK}, {{event, [{names}]}}),"
            " {ok, Addr} = inet_parse:address(Ip),"
            " {ok, S} = gen_tcp:connect(Addr, Port, [binary, {packet, 2}, {active, true}]),"
            " Parent ! streaming,"
            " Loop = fun L() -> receive {tcp, S, Data} ->"
            " Rec ! {rec, {frame, binary_to_term(Data)}}, L() end end,"
            " Loop() end),"
            " receive streaming -> ok after 5000 -> exit(not_streaming) end,"
        )
    code.append("ok.")
    return " ".join(code)


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _pairs(props: object) -> dict[str, object]:
    assert isinstance(props, list), props
    return {_text(k): v for k, v in props}


@attrs.define
class _Run:
    e: ErlNode
    bound: dict[str, str] = attrs.field(factory=dict)

    async def records(self) -> list[Any]:
        recs: list[Any] = await self.e.term(
            "(fun() -> Rec ! {get, self()}, receive {recs, R} -> R after 5000 -> timeout end"
            " end)()."
        )
        return recs

    async def fetches(self) -> list[dict[str, object]]:
        return [_pairs(r[1]) for r in await self.records() if r[0] == Atom("fetch")]

    async def frames(self) -> list[dict[str, object]]:
        found = []
        for r in await self.records():
            if r[0] == Atom("frame"):
                frame = r[1]
                if isinstance(frame, tuple) and frame[:2] == (Atom("event"), Atom("json")):
                    found.append(_pairs(frame[2][0]))
                else:
                    found.append({"Event-Name": f"other: {frame!r}"})
        return found

    def fill(self, text: str) -> str:
        return re.sub(r"\{(route\d+|sip_port)\}", lambda m: self.bound[m.group(1)], text)


async def run_scenario(
    scenario: Scenario, e: ErlNode, values: Mapping[str, str] | None = None
) -> Observation:
    """Play ``scenario`` from ``e`` (connected to a running server) and record it.
    ``values`` fills placeholders of the backend (``{sip_port}``: its SIP profile's port)."""
    assert await e.eval(_setup(scenario)) == "ok"
    run = _Run(e, bound=dict(values or {}))
    seen = Observation()
    for index, step in enumerate(scenario.steps):
        label = getattr(step, "label", "") or f"{index}:{type(step).__name__}"
        match step:
            case Api(command, args, _, view, until):
                ask = f"gen_server:call({MK}, {{api, '{command}', {_bin(run.fill(args))}}}, 10000)."
                reply = await e.term(ask)
                if until:
                    last = [reply]

                    async def shows(
                        ask: str = ask, until: str = until, last: list[Any] = last
                    ) -> bool:
                        last[0] = await e.term(ask)
                        return until in repr(last[0])

                    if until not in repr(reply):
                        await wait_until(
                            shows, timeout=5, interval=0.05, what=f"{ask} shows {until}"
                        )
                    reply = last[0]
                if view == "table":
                    seen.replies.update(table_replies(label, reply))
                else:
                    seen.replies[label] = normalise_reply(reply, view)
            case BgApi(command, args, _, view):
                reply = await e.term(
                    f"(fun() -> {{ok, J}} = gen_server:call({MK}, {{bgapi, '{command}',"
                    f" {_bin(run.fill(args))}}}),"
                    " receive {bgok, J, R} -> {bgok, R}; {bgerror, J, R} -> {bgerror, R}"
                    " after 10000 -> timeout end end)().",
                    timeout=15,
                )
                seen.replies[label] = normalise_reply(reply, view)
            case BgStart(command, args, job):
                # An erl shell binding, so that the job id outlives this evaluation.
                started = await e.eval(
                    f"{{ok, Job_{job}}} = gen_server:call({MK}, {{bgapi, '{command}',"
                    f" {_bin(run.fill(args))}}}), ok."
                )
                assert started == "ok", started
            case BgCollect(job, _, view):
                reply = await e.term(
                    # In a fun: a receive at the top binds R in the shell for good.
                    f"(fun() -> receive {{bgok, Job_{job}, R}} -> {{bgok, R}};"
                    f" {{bgerror, Job_{job}, R}} -> {{bgerror, R}} after 10000 -> timeout end"
                    " end)().",
                    timeout=15,
                )
                seen.replies[label] = normalise_reply(reply, view)
            case JsonApi(command, data, _, view):
                text = json.dumps({"command": command, "data": data})
                reply = await e.term(f"gen_server:call({MK}, {{json_api, {_bin(text)}}}, 10000).")
                seen.replies[label] = normalise_reply(reply, view)
            case SendMsg(target, headers, _):
                pairs = ", ".join(f"{{{_bin(k)}, {_bin(run.fill(v))}}}" for k, v in headers)
                reply = await e.term(
                    f"gen_server:call({MK}, {{sendmsg, {_bin(run.fill(target))}, [{pairs}]}})."
                )
                seen.replies[label] = normalise_reply(reply, "text")
            case Command(target, headers, _):
                reply = await e.term(
                    f"gen_server:call({MK}, {{command, {_bin(run.fill(target))},"
                    f" [{_pairs_expr(run, headers)}]}})."
                )
                seen.replies[label] = normalise_reply(reply, "text")
            case Commands(target, commands, _):
                lists = ", ".join(f"[{_pairs_expr(run, headers)}]" for headers in commands)
                reply = await e.term(
                    f"gen_server:call({MK}, {{commands, {_bin(run.fill(target))}, [{lists}]}})."
                )
                seen.replies[label] = normalise_reply(reply, "text")
            case WaitEvent(name, target, application, timeout, count):

                async def arrived(
                    name: str = name, target: str = target, app: str = application, n: int = count
                ) -> bool:
                    uuid = run.fill(target)
                    return (
                        sum(
                            _text(f.get("Event-Name")) == name
                            and call_id(f) == uuid
                            and (not app or _text(f.get("Application-Name")) == app)
                            for f in await run.frames()
                        )
                        >= n
                    )

                await wait_until(arrived, timeout=timeout, interval=0.05, what=f"{name} {target}")
            case WaitFetch(count, timeout):

                async def asked(count: int = count) -> bool:
                    return len(await run.fetches()) >= count

                await wait_until(asked, timeout=timeout, interval=0.05, what=f"{count} fetches")
                for i, props in enumerate(await run.fetches()):
                    run.bound[f"route{i}"] = _text(props.get("Call-ID", ""))
    seen.fetches = await run.fetches()
    seen.frames = await run.frames()
    return seen


# -------------------------------------------------------------------- normalisation

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_DIGITS = re.compile(r"\d+")
# The build tag of a version ("1.10.12-release", "1.11.0-dev").
# "1 second" / "2 seconds": the count decides, not the switch.
_PLURAL = re.compile(r"(N [a-z]+?)s\b")
_BUILD = re.compile(r"(N\.N\.N)-[a-z]+")


def normalise_text(text: str) -> str:
    return _UUID.sub("<uuid>", text)


def normalise_reply(term: object, view: str) -> object:
    """A reply as the comparison sees it.  ``text``: UUIDs replaced; ``shape``: digits
    too; ``json``: the JSON value's shape (keys, and leaf types)."""
    if isinstance(term, tuple):
        return tuple(normalise_reply(item, view) for item in term)
    if isinstance(term, list):
        return [normalise_reply(item, view) for item in term]
    if isinstance(term, bytes):
        text = term.decode(errors="replace")
        if view == "json":
            try:
                return json_shape(json.loads(text))
            except ValueError:
                pass
        text = normalise_text(text)
        if view == "shape":
            text = _PLURAL.sub(r"\1", _BUILD.sub(r"\1", _DIGITS.sub("N", text)))
        return text
    if isinstance(term, Atom):
        return term.name
    return term


# Columns of a ``show`` table whose values differ by nature (when, where).
TABLE_VOLATILE = frozenset({"created", "created_epoch", "hostname"})


def table_replies(label: str, term: object) -> dict[str, object]:
    """A ``show ...`` table (``view="table"``) as several replies: ``label`` the status,
    the header line and the count line; ``label: column`` each column's values (rows
    joined by ``|``), so that a known difference names its column."""
    if not (isinstance(term, tuple) and len(term) == 2 and isinstance(term[1], bytes)):
        return {label: normalise_reply(term, "text")}
    lines = term[1].decode(errors="replace").split("\n")
    header = lines[0] if lines else ""
    columns = header.split(",")
    rows = [line.split(",") for line in lines[1:] if line and not line.endswith(" total.")]
    count = next((line for line in lines if line.endswith(" total.")), "")
    found: dict[str, object] = {label: (normalise_reply(term[0], "text"), header, count)}
    for i, column in enumerate(columns):
        values = [
            "<volatile>" if column in TABLE_VOLATILE else row[i] if i < len(row) else MISSING
            for row in rows
        ]
        found[f"{label}: {column}"] = normalise_text("|".join(values))
    return found


def json_shape(value: object) -> object:
    if isinstance(value, dict):
        return {k: json_shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [json_shape(item) for item in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # cJSON prints a whole double as an integer: int or float is the value's nature.
        return "number"
    return type(value).__name__


# -------------------------------------------------------------------- comparison

# Frame fields whose values differ by nature between two runs of the same call (or
# between FreeSWITCH builds: the C source line an event was fired from).  A digit's
# DTMF-Duration is what was asked for, not a call's length: compared.
VOLATILE = re.compile(
    r"(UUID|-ID$|Unique-ID|Call-ID|Time|Date|Timestamp|Sequence|Hostname|Switch-Name|"
    r"Switch-URI|Switch-URL|IPv4|IPv6|Port|Node|Version|Created|Elapsed|(?<!DTMF-)Duration|"
    r"Epoch|PID|"
    r"Billing-|Milli|Micro|Line-Number|-Tag$|_stamp$)"
)


# Counters since the switch started (FreeSWITCH's session numbers): compared for
# presence only, since one FreeSWITCH serves many scenarios.
COUNTED = re.compile(r"(^|_)session_id$")


def call_id(frame: Mapping[str, object]) -> str:
    """The frame's channel: Kazoo's profiles name it Call-ID, raw events Unique-ID."""
    return _text(frame.get("Call-ID") or frame.get("Unique-ID"))


def leg_of(frame: Mapping[str, object]) -> str:
    """A name for the frame's channel that is the same on both backends."""
    name = frame.get("Channel-Name") or frame.get("Caller-Channel-Name")
    if name is not None:
        return normalise_text(_text(name))
    return f"{_text(frame.get('Call-Direction', '?'))} {call_id(frame)}"


def legs(frames: Sequence[Mapping[str, object]]) -> dict[str, list[str]]:
    """Event names (with the application, for executes) per leg, in order."""
    by_call: dict[str, list[Mapping[str, object]]] = {}
    for frame in frames:
        by_call.setdefault(call_id(frame), []).append(frame)
    found: dict[str, list[str]] = {}
    for call in by_call.values():
        label = next((leg_of(f) for f in call if "Channel-Name" in f), leg_of(call[0]))
        found[label] = [_event_label(f) for f in call]
    return found


def _event_label(frame: Mapping[str, object]) -> str:
    name = _text(frame.get("Event-Name"))
    app = frame.get("Application-Name") or frame.get("Application")
    return f"{name}:{_text(app)}" if app is not None and "EXECUTE" in name else name


def header_values(frames: Sequence[Mapping[str, object]]) -> dict[tuple[str, str], object]:
    """(leg + event, field) -> value of the stable fields, first occurrence per leg.

    Only frames shaped by Kazoo's profiles (they carry ``Call-ID``) count: their fields
    are what Kazoo reads; events its profiles do not cover arrive raw and are compared
    by name only (:func:`legs`).  Nested objects (``Custom-Channel-Vars``) are
    flattened to ``Outer.Inner``.  A frame whose profile leaves out the channel's name
    (``DTMF``) is placed by its channel's other frames, as :func:`legs` does.
    """
    names = {call_id(f): leg_of(f) for f in frames if "Channel-Name" in f}
    found: dict[tuple[str, str], object] = {}
    for frame in frames:
        if "Call-ID" not in frame:
            continue
        where = f"{names.get(call_id(frame)) or leg_of(frame)} {_event_label(frame)}"
        for key, value in _flat(frame):
            found.setdefault((where, key), value)
    return found


def _flat(fields: Mapping[str, object], prefix: str = "") -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    for key, value in fields.items():
        if VOLATILE.search(key):
            continue
        if isinstance(value, tuple) and len(value) == 1 and isinstance(value[0], list):
            found.extend(_flat({_text(k): v for k, v in value[0]}, f"{prefix}{key}."))
        else:
            found.append((prefix + key, "<count>" if COUNTED.search(key) else _stable(value)))
    return found


def _stable(value: object) -> object:
    if isinstance(value, bytes):
        return normalise_text(value.decode(errors="replace"))
    if isinstance(value, list):
        return [_stable(v) for v in value]
    if isinstance(value, tuple) and len(value) == 1 and isinstance(value[0], list):
        # A JSON object inside a value (KZ_CDR's raw Extended-Data): its stable fields.
        return dict(_flat({_text(k): v for k, v in value[0]}))
    if isinstance(value, Atom):
        return value.name
    return value


def differences(sim: Mapping[Any, object], real: Mapping[Any, object]) -> dict[Any, object]:
    """key -> (sim value, FreeSWITCH value) wherever they differ (``MISSING`` if absent)."""
    return {
        key: (sim.get(key, MISSING), real.get(key, MISSING))
        for key in sorted(set(sim) | set(real), key=repr)
        if sim.get(key, MISSING) != real.get(key, MISSING)
    }


MISSING = "<missing>"


# The raw channel variables of a verbose fetch request (a configuration lookup naming
# its channel by Fetch-Call-UUID): the FreeSWITCH backend adds them from its copy of
# the channel, which channel events keep up to date and which may lag behind the
# lookup (FreeSWITCH asks before the event that set a variable has reached kazoo_trio).
FETCH_CHANNEL_VARIABLES = re.compile(r"^variable_")


def fetch_fields(fetches: Sequence[Mapping[str, object]]) -> dict[tuple[str, str], object]:
    """(section #i, field) -> value of the stable fields of every fetch request."""
    found: dict[tuple[str, str], object] = {}
    counts: dict[str, int] = {}
    for props in fetches:
        section = _text(props.get("Fetch-Section", "?"))
        i = counts[section] = counts.get(section, -1) + 1
        for key, value in _flat(props):
            if not FETCH_CHANNEL_VARIABLES.match(key):
                found[(f"{section}#{i}", key)] = value
    return found


# ------------------------------------------------------------------------ backends


def kazoo_settings(epmd: int) -> Settings:
    """The server's settings with Kazoo's own profiles (what ecallmgr pushes in its
    kazoo.conf), so that stream frames and fetch requests carry what Kazoo reads."""
    return make_settings(epmd, profiles_xml=kazoo_conf_document(require_profiles()))


def sim_like(fs: FreeSwitch) -> SimSwitch:
    """A simulated switch set up as ``fs`` is (``tests.freeswitch.fsmin``'s configuration):
    with SIP, its ``internal`` profile on the same port, in the context ``default``, with
    inbound late negotiation."""
    switch = SimSwitch()
    internal = switch.sofia.profiles["internal"]
    if fs.sip_port:
        internal.port = fs.sip_port
    internal.context = "default"
    internal.inbound_late_negotiation = True
    return switch


def placeholders(fs: FreeSwitch) -> dict[str, str]:
    """The values of a scenario's placeholders on both backends (the same by design)."""
    return {"sip_port": str(fs.sip_port)} if fs.sip_port else {}


@asynccontextmanager
async def sim_session(epmd: int, switch: SimSwitch | None = None) -> AsyncIterator[ErlNode]:
    """The simulated switch behind the server, and an ``erl`` node to drive it."""
    switch = SimSwitch() if switch is None else switch
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(serve, kazoo_settings(epmd), switch=switch))
        async with erl_node(E1, epmd_port=epmd) as e:
            yield e
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def freeswitch_session(fs: FreeSwitch, epmd: int) -> AsyncIterator[ErlNode]:
    """The real FreeSWITCH ``fs`` behind the server, and an ``erl`` node to drive it."""
    backend = FreeSwitchBackend(
        FreeSwitchSettings(esl_port=fs.esl_port, xml_curl_port=fs.xml_curl_port)
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(kazoo_trio.kazoo.serve, kazoo_settings(epmd), backend))
        with trio.fail_after(10):
            await backend.wait_ready()
        async with erl_node(E1, epmd_port=epmd) as e:
            yield e
        nursery.cancel_scope.cancel()


async def observe_both(
    scenario: Scenario, fs: FreeSwitch, epmd: int
) -> tuple[Observation, Observation]:
    """The scenario on the simulated switch, then on the real FreeSWITCH."""
    values = placeholders(fs)
    with trio.fail_after(60):
        async with sim_session(epmd, sim_like(fs)) as e:
            sim = await run_scenario(scenario, e, values)
        async with freeswitch_session(fs, epmd) as e:
            real = await run_scenario(scenario, e, values)
    return sim, real
