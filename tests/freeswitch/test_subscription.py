"""The event socket subscribes to what the listeners name and what the backend needs
itself, and follows the names live, against the real FreeSWITCH.

What FreeSWITCH sends is seen on the event connection itself (every message before
the backend looks at it), so a test shows what was subscribed, not only what the
listeners were given.
"""

from __future__ import annotations

import pytest

from kazoo_trio.switch.bus import EventNames, SelectiveListener, selective
from kazoo_trio.switch.event import Event
from kazoo_trio.switch.freeswitch import FreeSwitchBackend, esl
from kazoo_trio.switch.freeswitch.connection import EventSubscription
from kazoo_trio.switch.protocol import FollowsListeners
from tests.erlnode import erl_node
from tests.freeswitch.fsmin import FreeSwitch
from tests.freeswitch.kazoo_helpers import E1, backend_running, kazoo_over
from tests.kazoo.server_harness import MK
from tests.waiting import wait_until

CDR_GLOBAL = "hangup_complete_with_xml"
TRACKING = {"CHANNEL_CREATE", "CHANNEL_DESTROY"}


@pytest.fixture
def fs(shared_fs: FreeSwitch) -> FreeSwitch:
    # FreeSWITCH as configured: no XML CDR unless the backend asks for it.
    shared_fs.api(f"global_setvar {CDR_GLOBAL}=")
    return shared_fs


def cdr_global(fs: FreeSwitch) -> str:
    text = fs.api(f"global_getvar {CDR_GLOBAL}")
    # What the command line client prints for an unset variable.
    return "" if text.startswith("-ERR no reply") else text.strip()


def received(backend: FreeSwitchBackend) -> list[tuple[str | None, str | None]]:
    """(Event-Name or subclass, Unique-ID) of every event FreeSWITCH sends from now on
    (the results of the backend's own commands aside)."""
    seen: list[tuple[str | None, str | None]] = []
    handler = backend.client.on_message
    assert handler is not None

    def recording(message: esl.EventMessage) -> None:
        name = message.header("Event-Name")
        if name == "CUSTOM":
            name = message.header("Event-Subclass")
        seen.append((name, message.header("Unique-ID")))
        handler(message)

    backend.client.on_message = recording
    return seen


def of(seen: list[tuple[str | None, str | None]], uuid: str) -> set[str | None]:
    return {name for name, owner in seen if owner == uuid}


def given(events: list[Event], uuid: str) -> list[str]:
    return [e.subclass or e.name for e in events if e.get("Unique-ID") == uuid]


async def call(backend: FreeSwitchBackend, uuid: str) -> None:
    """A call that is answered, parked and killed; returns when the backend saw its end
    (its last event: every earlier one of it has come)."""
    made = await backend.api("originate", f"{{origination_uuid={uuid}}}null/1000 &park")
    assert made.ok, made.text
    await wait_until(lambda: backend.channel_exists(uuid), timeout=5)
    assert await backend.api("uuid_kill", uuid)
    await wait_until(lambda: not backend.channel_exists(uuid), timeout=5)


class Naming:
    """A listener naming the events it wants, changed at will."""

    def __init__(self, *core: str, subclasses: tuple[str, ...] = ()) -> None:
        self.core = set(core)
        self.subclasses = set(subclasses)
        self.events: list[Event] = []

    def wants(self, name: str, subclass: str | None) -> bool:
        return name in self.core or (name == "CUSTOM" and subclass in self.subclasses)

    def take(self, event: Event) -> None:
        # Like a stream's bindings: the switch may offer more than was named.
        if self.wants(event.name, event.subclass):
            self.events.append(event)

    def listener(self) -> SelectiveListener:
        return selective(
            self.take,
            self.wants,
            names=lambda: EventNames(frozenset(self.core), frozenset(self.subclasses)),
        )


def test_subscriptions_read_and_written_as_the_event_command_words() -> None:
    parsed = EventSubscription.parse(
        ["channel_create", "SWITCH_EVENT_API", "no_such", "CUSTOM", "a::b", "channel_answer"]
    )
    # After CUSTOM every word is a subclass, as mod_event_socket reads them.
    assert parsed == EventSubscription(
        frozenset({"CHANNEL_CREATE", "API", "CUSTOM"}), frozenset({"a::b", "channel_answer"})
    )
    assert parsed.words() == ["API", "CHANNEL_CREATE", "CUSTOM", "a::b", "channel_answer"]
    assert EventSubscription.parse(["ALL", "API"]).words() == ["ALL"]
    assert EventSubscription(frozenset({"API"})).words() == ["API"]
    assert (parsed | EventSubscription(frozenset({"ALL"}))).every


async def test_with_nothing_bound_only_what_the_backend_needs_is_subscribed(
    fs: FreeSwitch,
) -> None:
    async with backend_running(fs) as backend:
        assert isinstance(backend, FollowsListeners)
        seen = received(backend)
        # bgapi (every command) still gets its BACKGROUND_JOB.
        status = await backend.api("status", "")
        assert status.ok and "is ready" in status.text
        await call(backend, "kt-sub-bare")
        # The channel table still follows the channels.
        assert of(seen, "kt-sub-bare") == TRACKING
        assert {name for name, _ in seen} <= TRACKING
        assert cdr_global(fs) == ""


async def test_names_added_later_arrive_and_names_dropped_stop(fs: FreeSwitch) -> None:
    async with backend_running(fs) as backend:
        seen = received(backend)
        naming = Naming("CHANNEL_ANSWER")
        backend.add_listener(naming.listener())
        await backend.listeners_followed()
        await call(backend, "kt-sub-1")
        assert of(seen, "kt-sub-1") == TRACKING | {"CHANNEL_ANSWER"}
        assert given(naming.events, "kt-sub-1") == ["CHANNEL_ANSWER"]

        # Live: CHANNEL_HANGUP and KZ_CDR (made from CHANNEL_HANGUP_COMPLETE's XML CDR,
        # which FreeSWITCH attaches only now).
        naming.core.add("CHANNEL_HANGUP")
        naming.subclasses.add("KZ_CDR")
        backend.listeners_changed()
        await backend.listeners_followed()
        assert cdr_global(fs) == "true"
        await call(backend, "kt-sub-2")
        assert of(seen, "kt-sub-2") == TRACKING | {
            "CHANNEL_ANSWER",
            "CHANNEL_HANGUP",
            "CHANNEL_HANGUP_COMPLETE",
        }
        assert given(naming.events, "kt-sub-2") == ["CHANNEL_ANSWER", "CHANNEL_HANGUP", "KZ_CDR"]

        # Dropped: CHANNEL_ANSWER and KZ_CDR stop, CHANNEL_HANGUP keeps coming, and
        # FreeSWITCH stops making the XML CDR.
        naming.core.discard("CHANNEL_ANSWER")
        naming.subclasses.clear()
        backend.listeners_changed()
        await backend.listeners_followed()
        assert cdr_global(fs) == ""
        await call(backend, "kt-sub-3")
        assert of(seen, "kt-sub-3") == TRACKING | {"CHANNEL_HANGUP"}
        assert given(naming.events, "kt-sub-3") == ["CHANNEL_HANGUP"]


async def test_a_listener_naming_nothing_takes_all_and_leaving_all_keeps_the_names(
    fs: FreeSwitch,
) -> None:
    async with backend_running(fs) as backend:
        seen = received(backend)
        everything: list[Event] = []
        remove = backend.add_listener(everything.append)
        naming = Naming("CHANNEL_HANGUP")
        backend.add_listener(naming.listener())
        await backend.listeners_followed()
        await call(backend, "kt-all-1")
        assert {"CHANNEL_STATE", "CHANNEL_HANGUP_COMPLETE"} <= of(seen, "kt-all-1")
        assert "CHANNEL_STATE" in given(everything, "kt-all-1")
        remove()
        await backend.listeners_followed()
        await call(backend, "kt-all-2")
        assert of(seen, "kt-all-2") == TRACKING | {"CHANNEL_HANGUP"}
        assert given(naming.events, "kt-all-2") == ["CHANNEL_HANGUP"]
        assert given(everything, "kt-all-2") == []


async def test_a_subclass_that_cannot_be_subscribed_to_takes_nothing_down(
    fs: FreeSwitch,
) -> None:
    async with backend_running(fs) as backend:
        seen = received(backend)
        naming = Naming("CHANNEL_HANGUP", subclasses=("kt::bad\nname", "kt two", ""))
        backend.add_listener(naming.listener())
        await backend.listeners_followed()
        await call(backend, "kt-bad-1")
        assert of(seen, "kt-bad-1") == TRACKING | {"CHANNEL_HANGUP"}
        assert given(naming.events, "kt-bad-1") == ["CHANNEL_HANGUP"]
        assert (await backend.api("status", "")).ok


# An Erlang process owning an event stream bound to CHANNEL_HANGUP, that makes the
# requests it is sent ({call, Request}) as the stream's owner, and keeps
# {Event-Name, Call-ID (or Unique-ID)} of every streamed event.
OWNER = (
    "Parent = self(),"
    "Owner = spawn(fun() ->"
    f"  {{ok, {{Ip, Port}}}} = gen_server:call({MK}, {{event, ['CHANNEL_HANGUP']}}),"
    "  {ok, Addr} = inet_parse:address(Ip),"
    "  {ok, S} = gen_tcp:connect(Addr, Port, [binary, {packet, 2}, {active, true}]),"
    "  Parent ! streaming,"
    "  Loop = fun L(Acc) -> receive"
    "    {tcp, S, Data} -> case binary_to_term(Data) of"
    "      {event, json, {P}} ->"
    "        G = fun(K) -> proplists:get_value(K, P) end,"
    '        Id = case G(<<"Call-ID">>) of undefined -> G(<<"Unique-ID">>); C -> C end,'
    '        L([{G(<<"Event-Name">>), Id} | Acc]);'
    "      Other -> L([{other, Other} | Acc]) end;"
    f"    {{call, Request, From}} -> From ! {{reply, gen_server:call({MK}, Request)}}, L(Acc);"
    "    {get, From} -> From ! {events, lists:reverse(Acc)}, L(Acc);"
    "    stop -> ok"
    "  end end,"
    "  Loop([]) end),"
    "receive streaming -> ok after 5000 -> timeout end."
)


@pytest.mark.erl
async def test_event_requests_drive_the_subscription(fs: FreeSwitch, epmd: int) -> None:
    async with kazoo_over(fs, epmd) as backend, erl_node(E1, epmd_port=epmd) as e:
        seen = received(backend)
        assert await e.eval(OWNER) == "ok"

        async def as_owner(request: str) -> str:
            return await e.eval(
                f"(fun() -> Owner ! {{call, {request}, self()}},"
                " receive {reply, Reply} -> Reply after 5000 -> timeout end end)()."
            )

        async def streamed() -> list[tuple[str, str]]:
            events = await e.term(
                "(fun() -> Owner ! {get, self()},"
                " receive {events, Evs} -> Evs after 5000 -> timeout end end)()."
            )
            return [(name.decode(), uuid.decode()) for name, uuid in events]

        async def streamed_of(uuid: str, count: int) -> list[str]:
            async def arrived() -> bool:
                return len([n for n, u in await streamed() if u == uuid]) >= count

            await wait_until(arrived, timeout=5, interval=0.1)
            return [n for n, u in await streamed() if u == uuid]

        await call(backend, "kt-erl-1")
        assert of(seen, "kt-erl-1") == TRACKING | {"CHANNEL_HANGUP"}
        assert await streamed_of("kt-erl-1", 1) == ["CHANNEL_HANGUP"]

        # The reply to event comes once FreeSWITCH sends the new events: a call made
        # right after it has them.
        assert (await as_owner("{event, ['CHANNEL_ANSWER']}")).startswith("{ok,")
        await call(backend, "kt-erl-2")
        assert of(seen, "kt-erl-2") == TRACKING | {"CHANNEL_HANGUP", "CHANNEL_ANSWER"}
        assert await streamed_of("kt-erl-2", 2) == ["CHANNEL_ANSWER", "CHANNEL_HANGUP"]

        # nixevent: CHANNEL_ANSWER stops coming from FreeSWITCH, CHANNEL_HANGUP stays.
        assert await as_owner("{nixevent, ['CHANNEL_ANSWER']}") == "ok"
        await backend.listeners_followed()
        await call(backend, "kt-erl-3")
        assert of(seen, "kt-erl-3") == TRACKING | {"CHANNEL_HANGUP"}
        assert await streamed_of("kt-erl-3", 1) == ["CHANNEL_HANGUP"]

        # The stream's owner exits: its stream closes and nothing it named is received.
        assert await e.eval("Owner ! stop, ok.") == "ok"
        await wait_until(lambda: "CHANNEL_HANGUP" not in backend.subscription().names, timeout=5)
        await backend.listeners_followed()
        await call(backend, "kt-erl-4")
        assert of(seen, "kt-erl-4") == TRACKING
