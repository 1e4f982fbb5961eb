"""The link table on its own: Erlang's rules for links, monitors and exits, with no I/O."""

from __future__ import annotations

from kazoo_trio.erlang.links import (
    Deliver,
    LinkTable,
    ProcessLinks,
    Terminate,
    Transmit,
)
from kazoo_trio.erlang.wire import messages as c
from kazoo_trio.term import Atom, Pid, Reference

A = Atom
HERE = A("py@127.0.0.1")
PEER = A("e@127.0.0.1")
OTHER = A("f@127.0.0.1")
NOCONNECTION = A("noconnection")


def pid(n: int, node: Atom = HERE) -> Pid:
    return Pid(node, n, 0, 1)


def ref(n: int, node: Atom = HERE) -> Reference:
    return Reference(node, 1, (n, 0, 0))


def table(*pids: Pid) -> tuple[LinkTable, list[ProcessLinks]]:
    links = LinkTable(HERE)
    records = []
    for p in pids:
        record = ProcessLinks()
        links.add(p, record)
        records.append(record)
    return links, records


# -- links ---------------------------------------------------------------------------------------


def test_local_link_is_recorded_on_both_sides() -> None:
    links, (a, b) = table(pid(1), pid(2))
    assert links.link(pid(1), pid(2)) == []
    assert a.links == {pid(2): 0} and b.links == {pid(1): 0}
    assert links.link(pid(1), pid(1)) == []  # linking to oneself does nothing


def test_link_to_a_missing_local_process_is_noproc() -> None:
    links, (a,) = table(pid(1))
    assert links.link(pid(1), pid(9)) == [Terminate(pid(1), A("noproc"))]
    a.trap_exit = True
    assert links.link(pid(1), pid(9)) == [Deliver(pid(1), pid(9), (A("EXIT"), pid(9), A("noproc")))]
    assert a.links == {}


def test_remote_link_dials_once() -> None:
    links, (a,) = table(pid(1))
    remote = pid(5, PEER)
    assert links.link(pid(1), remote) == [Transmit(PEER, c.Link(pid(1), remote), connect=True)]
    assert links.link(pid(1), remote) == []
    assert a.links == {remote: 0}


def test_local_unlink_removes_both_sides() -> None:
    links, (a, b) = table(pid(1), pid(2))
    links.link(pid(1), pid(2))
    assert links.unlink(pid(1), pid(2), connected=True) == []
    assert a.links == {} and b.links == {}


def test_remote_unlink_waits_for_the_ack() -> None:
    links, (a,) = table(pid(1))
    remote = pid(5, PEER)
    links.link(pid(1), remote)
    [sent] = links.unlink(pid(1), remote, connected=True)
    assert isinstance(sent, Transmit) and isinstance(sent.message, c.UnlinkId)
    uid = sent.message.id
    assert a.links == {remote: uid}
    # While unlinking: a second unlink does nothing, exit signals on the link are ignored.
    assert links.unlink(pid(1), remote, connected=True) == []
    assert links.exit_signal(pid(1), remote, A("boom"), link=True) == []
    links.remote_unlink(remote, pid(1), uid)
    assert a.links == {}


def test_unlink_without_a_connection_just_forgets() -> None:
    links, (a,) = table(pid(1))
    remote = pid(5, PEER)
    links.link(pid(1), remote)
    assert links.unlink(pid(1), remote, connected=False) == []
    assert a.links == {}


def test_remote_link_and_unlink_from_the_peer() -> None:
    links, (a,) = table(pid(1))
    remote = pid(5, PEER)
    assert links.remote_link(remote, pid(1))
    assert not links.remote_link(remote, pid(9))
    assert a.links == {remote: 0}
    links.remote_unlink(remote, pid(1))
    assert a.links == {}


# -- exit signals --------------------------------------------------------------------------------


def test_exit_signals_follow_erlangs_rules() -> None:
    links, (a,) = table(pid(1))
    sender = pid(5, PEER)
    # exit/2: normal is ignored, anything else kills, kill becomes killed.
    assert links.exit_signal(pid(1), sender, A("normal"), link=False) == []
    assert links.exit_signal(pid(1), sender, A("boom"), link=False) == [
        Terminate(pid(1), A("boom"))
    ]
    assert links.exit_signal(pid(1), sender, A("kill"), link=False) == [
        Terminate(pid(1), A("killed"))
    ]
    # Trapping turns signals into messages, except kill.
    a.trap_exit = True
    assert links.exit_signal(pid(1), sender, A("normal"), link=False) == [
        Deliver(pid(1), sender, (A("EXIT"), sender, A("normal")))
    ]
    assert links.exit_signal(pid(1), sender, A("kill"), link=False) == [
        Terminate(pid(1), A("killed"))
    ]
    # A link signal needs an active link, which it removes.
    assert links.exit_signal(pid(1), sender, A("boom"), link=True) == []
    links.remote_link(sender, pid(1))
    assert links.exit_signal(pid(1), sender, A("boom"), link=True) == [
        Deliver(pid(1), sender, (A("EXIT"), sender, A("boom")))
    ]
    assert a.links == {}
    # Nothing reaches a process the table does not know.
    assert links.exit_signal(pid(9), sender, A("boom"), link=False) == []


def test_an_exit_reaches_local_and_remote_links_and_monitors() -> None:
    links, (_, b, w) = table(pid(1), pid(2), pid(3))
    remote = pid(5, PEER)
    links.link(pid(1), pid(2))
    links.link(pid(1), remote)
    links.monitor(pid(3), ref(1), pid(1), HERE, pid(1))
    links.remote_monitor(pid(1), ref(2, PEER), remote, A("name"))
    links.monitor(pid(1), ref(3), pid(6, OTHER), OTHER, None)
    links.monitor(pid(1), ref(4), pid(2), HERE, pid(2))
    assert links.exited(pid(1), A("boom")) == [
        Terminate(pid(2), A("boom")),
        Transmit(PEER, c.Exit(pid(1), remote, A("boom"))),
        Deliver(pid(3), None, (A("DOWN"), ref(1), A("process"), pid(1), A("boom"))),
        Transmit(PEER, c.MonitorPExit(A("name"), remote, ref(2, PEER), A("boom"))),
        Transmit(OTHER, c.DemonitorP(pid(1), pid(6, OTHER), ref(3))),
    ]
    assert pid(1) not in links
    assert b.links == {} and b.monitored_by == {} and w.monitors == {}
    assert links.exited(pid(1), A("boom")) == []


def test_a_python_object_as_reason_is_described() -> None:
    links, _ = table(pid(1))
    remote = pid(5, PEER)
    links.link(pid(1), remote)
    [sent] = links.exited(pid(1), object())
    assert isinstance(sent, Transmit) and isinstance(sent.message, c.Exit)
    reason = sent.message.reason
    assert isinstance(reason, tuple) and reason[0] is A("unencodable_reason")


# -- monitors ------------------------------------------------------------------------------------


def test_local_monitor_and_demonitor() -> None:
    links, (w, t) = table(pid(1), pid(2))
    assert links.monitor(pid(1), ref(1), A("srv"), HERE, pid(2)) == []
    assert t.monitored_by == {ref(1): (pid(1), A("srv"))}
    assert links.demonitor(pid(1), ref(1)) == []
    assert t.monitored_by == {} and w.monitors == {}
    assert links.demonitor(pid(1), ref(1)) == []


def test_monitor_of_nothing_is_down_noproc_at_once() -> None:
    links, (w,) = table(pid(1))
    assert links.monitor(pid(1), ref(1), A("srv"), HERE, None) == [
        Deliver(pid(1), None, (A("DOWN"), ref(1), A("process"), (A("srv"), HERE), A("noproc")))
    ]
    assert w.monitors == {}


def test_remote_monitor_dials_and_demonitor_does_not() -> None:
    links, _ = table(pid(1))
    target = pid(5, PEER)
    assert links.monitor(pid(1), ref(1), target, PEER, None) == [
        Transmit(PEER, c.MonitorP(pid(1), target, ref(1)), connect=True)
    ]
    assert links.demonitor(pid(1), ref(1)) == [Transmit(PEER, c.DemonitorP(pid(1), target, ref(1)))]


def test_down_is_delivered_once() -> None:
    links, _ = table(pid(1))
    links.monitor(pid(1), ref(1), A("srv"), PEER, None)
    down = (A("DOWN"), ref(1), A("process"), (A("srv"), PEER), A("gone"))
    assert links.down(pid(1), ref(1), A("gone")) == [Deliver(pid(1), None, down)]
    assert links.down(pid(1), ref(1), A("gone")) == []


def test_remote_monitor_by_reference_bytes() -> None:
    links, (t,) = table(pid(1))
    watcher = pid(5, PEER)
    assert links.remote_monitor(pid(1), b"key", watcher, pid(1))
    assert not links.remote_monitor(pid(9), b"key", watcher, pid(9))
    assert not links.remote_demonitor(pid(1), b"other")
    assert links.remote_demonitor(pid(1), b"key")
    assert t.monitored_by == {}


# -- lost nodes ----------------------------------------------------------------------------------


def test_a_lost_node_is_noconnection_for_everything_behind_it() -> None:
    links, (a, b) = table(pid(1), pid(2))
    remote, elsewhere = pid(5, PEER), pid(6, OTHER)
    a.trap_exit = True
    links.link(pid(1), remote)
    links.link(pid(2), remote)
    links.link(pid(1), elsewhere)
    links.monitor(pid(1), ref(1), remote, PEER, None)
    links.remote_monitor(pid(2), ref(2, PEER), remote, pid(2))
    links.remote_monitor(pid(2), ref(3, OTHER), elsewhere, pid(2))
    unlinking = pid(7, PEER)
    links.link(pid(2), unlinking)
    links.unlink(pid(2), unlinking, connected=True)
    assert links.node_lost(PEER, NOCONNECTION) == [
        Deliver(pid(1), None, (A("DOWN"), ref(1), A("process"), remote, NOCONNECTION)),
        Deliver(pid(1), remote, (A("EXIT"), remote, NOCONNECTION)),
        Terminate(pid(2), NOCONNECTION),
    ]
    assert a.links == {elsewhere: 0} and a.monitors == {}
    assert b.links == {} and list(b.monitored_by) == [ref(3, OTHER)]


def test_an_ended_process_keeps_no_links_or_monitors() -> None:
    links, (a, _) = table(pid(1), pid(2))
    links.link(pid(1), pid(5, PEER))
    links.monitor(pid(1), ref(1), pid(2), HERE, pid(2))
    links.remote_monitor(pid(1), ref(2, PEER), pid(5, PEER), pid(1))
    links.exited(pid(1), A("normal"))
    assert a.links == {} and a.monitors == {} and a.monitored_by == {}
