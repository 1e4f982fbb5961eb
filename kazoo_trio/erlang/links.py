"""Links, monitors and exit signals of local processes, as a pure table (Erlang's rules).

:class:`LinkTable` records, for every live local process, its links, the
monitors it holds and the monitors held on it.  It does no I/O and knows
nothing of trio, sockets or mailboxes: every operation updates the records
and returns the *signals* that follow from it, in order, for the caller to
carry out:

- :class:`Deliver`: put a message in a local process's mailbox
  (``{'EXIT', From, Reason}`` for a trapping process, ``DOWN``);
- :class:`Terminate`: a local process is ended by an exit signal; the caller
  ends it and feeds :meth:`LinkTable.exited` back in;
- :class:`Transmit`: a control message for a peer node (``connect`` says
  whether it is worth dialing the peer for it).

The rules: ``kill`` sent with ``exit/2`` is untrappable and becomes
``killed``; ``normal`` is ignored unless trapped; a trapping process gets
``{'EXIT', From, Reason}`` messages; a link set up to something that does not
exist answers ``noproc``; a process that ends sends its reason to its links
and its monitors; a lost node is ``noconnection`` for everything behind it.
"""

from __future__ import annotations

import attrs

from kazoo_trio.erlang.wire import messages as c
from kazoo_trio.term import EncodeError, decode_body, encode
from kazoo_trio.term.types import Atom, Pid, Reference

__all__ = [
    "A_DOWN",
    "A_EXIT",
    "A_KILL",
    "A_KILLED",
    "A_NOCONNECTION",
    "A_NOPROC",
    "A_NORMAL",
    "A_PROCESS",
    "Deliver",
    "LinkTable",
    "MonitorOut",
    "ProcessLinks",
    "Signal",
    "Terminate",
    "Transmit",
]

A_DOWN = Atom("DOWN")
A_EXIT = Atom("EXIT")
A_PROCESS = Atom("process")
A_NORMAL = Atom("normal")
A_KILL = Atom("kill")
A_KILLED = Atom("killed")
A_NOPROC = Atom("noproc")
A_NOCONNECTION = Atom("noconnection")


@attrs.frozen(slots=True)
class Deliver:
    """Put ``message`` (from ``sender``, None for messages of the runtime) in ``to``'s mailbox."""

    to: Pid
    sender: Pid | None
    message: object


@attrs.frozen(slots=True)
class Terminate:
    """End the local process ``pid`` with ``reason``; it was killed by an exit signal."""

    pid: Pid
    reason: object


@attrs.frozen(slots=True)
class Transmit:
    """Send ``message`` to ``peer``; dial it first only when ``connect`` is set."""

    peer: Atom
    message: c.ControlMessage
    connect: bool = False


Signal = Deliver | Terminate | Transmit


@attrs.define(slots=True)
class MonitorOut:
    """A monitor a process holds: on a pid, or on a registered name at ``node``."""

    target: Pid | Atom
    node: Atom
    local: Pid | None = None  # the local process watched, for local targets

    def down_object(self) -> object:
        return self.target if isinstance(self.target, Pid) else (self.target, self.node)


@attrs.define(slots=True, eq=False)
class ProcessLinks:
    """What the table records for one live local process."""

    #: Linked pid -> 0 when the link is active, else the id of our pending UNLINK_ID.
    links: dict[Pid, int] = attrs.Factory(dict)
    #: Monitors this process holds: ref -> what it watches.
    monitors: dict[Reference, MonitorOut] = attrs.Factory(dict)
    #: Monitors on this process: ref -> (watcher, what it monitored: the pid or
    #: one of its names).  Remote monitors set up by the dispatcher's hot path
    #: are keyed by the reference's encoded bytes instead.
    monitored_by: dict[Reference | bytes, tuple[Pid, Pid | Atom]] = attrs.Factory(dict)
    trap_exit: bool = False


def encodable(reason: object) -> object:
    """``reason``, or a description of it when it has no Erlang form (a Python object)."""
    try:
        encode(reason)
    except EncodeError:
        return (Atom("unencodable_reason"), repr(reason).encode("utf-8", "replace")[:1000])
    return reason


@attrs.define(eq=False)
class LinkTable:
    """Links and monitors of the live local processes of node ``node``."""

    node: Atom
    _local: dict[Pid, ProcessLinks] = attrs.field(factory=dict, init=False)
    _unlink_id: int = attrs.field(default=0, init=False)

    # -- local processes ------------------------------------------------------------------------

    def add(self, pid: Pid, record: ProcessLinks) -> None:
        """Start recording for a new local process, in ``record``."""
        self._local[pid] = record

    def get(self, pid: Pid) -> ProcessLinks | None:
        """The record of a live local process."""
        return self._local.get(pid)

    def __contains__(self, pid: object) -> bool:
        return pid in self._local

    def link(self, pid: Pid, other: Pid) -> list[Signal]:
        """``pid`` links to ``other`` (``noproc`` when a local ``other`` does not live)."""
        record = self._local.get(pid)
        if record is None or other == pid:
            return []
        if other.node is self.node:
            peer_record = self._local.get(other)
            if peer_record is None:
                return self.exit_signal(pid, other, A_NOPROC, link=False, from_link_setup=True)
            record.links[other] = 0
            peer_record.links[pid] = 0
            return []
        if record.links.get(other) == 0:
            return []
        record.links[other] = 0
        return [Transmit(other.node, c.Link(pid, other), connect=True)]

    def unlink(self, pid: Pid, other: Pid, *, connected: bool) -> list[Signal]:
        """``pid`` unlinks ``other``; ``connected`` says whether ``other``'s node is connected.

        A remote link is kept, marked with the id of the UNLINK_ID sent, until
        the peer acknowledges it: exit signals on it are ignored meanwhile.
        """
        record = self._local.get(pid)
        state = None if record is None else record.links.get(other)
        if record is None or state is None:
            return []
        if other.node is self.node:
            del record.links[other]
            peer_record = self._local.get(other)
            if peer_record is not None:
                peer_record.links.pop(pid, None)
            return []
        if state != 0:
            return []  # already unlinking
        if not connected:
            del record.links[other]
            return []
        self._unlink_id += 1
        uid = record.links[other] = self._unlink_id
        return [Transmit(other.node, c.UnlinkId(uid, pid, other))]

    def monitor(
        self, pid: Pid, ref: Reference, target: Pid | Atom, node: Atom, local: Pid | None
    ) -> list[Signal]:
        """``pid`` monitors ``target`` (a pid or a name at ``node``) under ``ref``.

        For a target on this node, ``local`` is the live process it resolves
        to (None: ``DOWN`` with ``noproc`` at once).
        """
        record = self._local.get(pid)
        if record is None:
            return []
        mon = MonitorOut(target, node)
        record.monitors[ref] = mon
        if node is self.node:
            watched = self._local.get(local) if local is not None else None
            if watched is None:
                return self.down(pid, ref, A_NOPROC)
            watched.monitored_by[ref] = (pid, target)
            mon.local = local
            return []
        return [Transmit(node, c.MonitorP(pid, target, ref), connect=True)]

    def demonitor(self, pid: Pid, ref: Reference) -> list[Signal]:
        """``pid`` drops its monitor ``ref`` (nothing happens for an unknown one)."""
        record = self._local.get(pid)
        mon = None if record is None else record.monitors.pop(ref, None)
        if mon is None:
            return []
        if mon.node is self.node:
            self._forget_watcher(mon, ref)
            return []
        return [Transmit(mon.node, c.DemonitorP(pid, mon.target, ref))]

    def down(self, watcher: Pid, ref: Reference, reason: object) -> list[Signal]:
        """``DOWN`` for the monitor ``ref`` of ``watcher`` (once; then the monitor is gone)."""
        record = self._local.get(watcher)
        if record is None:
            return []
        mon = record.monitors.pop(ref, None)
        if mon is None:
            return []
        return [Deliver(watcher, None, (A_DOWN, ref, A_PROCESS, mon.down_object(), reason))]

    def exit_signal(
        self,
        to: Pid,
        sender: Pid,
        reason: object,
        *,
        link: bool,
        from_link_setup: bool = False,
    ) -> list[Signal]:
        """An exit signal from ``sender`` reaches local ``to``.

        ``link`` for the signal of a linked process that ended (ignored
        without an active link), else ``exit/2``.
        """
        record = self._local.get(to)
        if record is None:
            return []
        if link:
            if record.links.get(sender) != 0:
                return []
            del record.links[sender]
        elif reason is A_KILL and not from_link_setup:
            return [Terminate(to, A_KILLED)]
        if record.trap_exit:
            return [Deliver(to, sender, (A_EXIT, sender, reason))]
        if reason is not A_NORMAL:
            return [Terminate(to, reason)]
        return []

    def exited(self, pid: Pid, reason: object) -> list[Signal]:
        """Local ``pid`` ended with ``reason``: forget it, and tell its links and monitors."""
        record = self._local.pop(pid, None)
        if record is None:
            return []
        # The record is left empty, as a process that ended has no links or monitors.
        links, record.links = record.links, {}
        monitored_by, record.monitored_by = record.monitored_by, {}
        monitors, record.monitors = record.monitors, {}
        out: list[Signal] = []
        if links or monitored_by:
            reason = encodable(reason)
        for other, state in links.items():
            if other.node is self.node:
                out += self.exit_signal(other, pid, reason, link=True)
            elif state == 0:
                out.append(Transmit(other.node, c.Exit(pid, other, reason)))
        for key, (watcher, target) in monitored_by.items():
            ref: Reference = decode_body(key)[0] if isinstance(key, bytes) else key
            if watcher.node is self.node:
                out += self.down(watcher, ref, reason)
            else:
                out.append(Transmit(watcher.node, c.MonitorPExit(target, watcher, ref, reason)))
        for ref, mon in monitors.items():
            if mon.node is self.node:
                self._forget_watcher(mon, ref)
            else:
                out.append(Transmit(mon.node, c.DemonitorP(pid, mon.target, ref)))
        return out

    def node_lost(self, peer: Atom, reason: object) -> list[Signal]:
        """The connection to ``peer`` is lost (or never came up)."""
        out: list[Signal] = []
        for pid, record in list(self._local.items()):
            for ref, mon in list(record.monitors.items()):
                if mon.node is peer:
                    out += self.down(pid, ref, reason)
            for key, (watcher, _) in list(record.monitored_by.items()):
                if watcher.node is peer:
                    del record.monitored_by[key]
            for other, state in list(record.links.items()):
                if other.node is peer:
                    if state == 0:
                        out += self.exit_signal(pid, other, reason, link=True)
                    else:
                        del record.links[other]
        return out

    # -- control messages from peers ------------------------------------------------------------

    def remote_link(self, sender: Pid, to: Pid) -> bool:
        """LINK from remote ``sender``: False when ``to`` does not live here."""
        record = self._local.get(to)
        if record is None:
            return False
        # Already linked, or our UNLINK_ID is in flight: nothing changes.
        record.links.setdefault(sender, 0)
        return True

    def remote_unlink(self, sender: Pid, to: Pid, unlink_id: int = 0) -> None:
        """UNLINK (``unlink_id`` 0) or UNLINK_ID_ACK (our id) from remote ``sender``."""
        record = self._local.get(to)
        if record is not None and record.links.get(sender) == unlink_id:
            del record.links[sender]

    def remote_monitor(
        self, to: Pid, key: Reference | bytes, watcher: Pid, what: Pid | Atom
    ) -> bool:
        """MONITOR_P from remote ``watcher`` on local ``to`` (by pid or name ``what``).

        False when ``to`` does not live here.
        """
        record = self._local.get(to)
        if record is None:
            return False
        record.monitored_by[key] = (watcher, what)
        return True

    def remote_demonitor(self, to: Pid, key: Reference | bytes) -> bool:
        """DEMONITOR_P: False when no monitor was recorded under ``key``."""
        record = self._local.get(to)
        return record is not None and record.monitored_by.pop(key, None) is not None

    # -- helpers --------------------------------------------------------------------------------

    def _forget_watcher(self, mon: MonitorOut, ref: Reference) -> None:
        watched = self._local.get(mon.local) if mon.local is not None else None
        if watched is not None:
            watched.monitored_by.pop(ref, None)
