"""The local processes of a node: pids, registered names, aliases, and new pids and refs.

Plain bookkeeping with no I/O: the node adds a process when its block opens
and removes it when it ends (which also drops its names and aliases).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING

import attrs

from kazoo_trio.erlang.names import NodeIdentity
from kazoo_trio.term.types import Atom, Pid, Reference

if TYPE_CHECKING:
    from kazoo_trio.erlang.process import Process

__all__ = ["ProcessTable"]


@attrs.define(eq=False)
class ProcessTable:
    """Live local processes by pid, by registered name and by alias."""

    identity: NodeIdentity
    #: Live processes by pid (read directly by the routing hot paths).
    by_pid: dict[Pid, Process] = attrs.field(factory=dict, init=False)
    #: Live processes by registered name.
    by_name: dict[Atom, Process] = attrs.field(factory=dict, init=False)
    #: Live processes by alias reference.
    by_alias: dict[Reference, Process] = attrs.field(factory=dict, init=False)
    _pid_counter: int = attrs.field(default=0, init=False)
    _ref_counter: int = attrs.field(default=0, init=False)
    # References must not repeat across restarts of a node with the same
    # creation, so part of every reference is random per node instance.
    _ref_salt: int = attrs.field(factory=lambda: secrets.randbits(32), init=False)

    def make_pid(self) -> Pid:
        n = self._pid_counter = self._pid_counter + 1
        # Stay within 15/13 bits as pre-V4_NC peers expect; wrap after 2**28 pids.
        identity = self.identity
        return Pid(identity.name, n & 0x7FFF, (n >> 15) & 0x1FFF, identity.creation)

    def make_ref(self) -> Reference:
        n = self._ref_counter = self._ref_counter + 1
        ids: tuple[int, ...] = (n & 0x3FFFF, (n >> 18) & 0xFFFFFFFF, self._ref_salt)
        identity = self.identity
        return Reference(identity.name, identity.creation, ids)

    def add(self, proc: Process) -> None:
        self.by_pid[proc.pid] = proc

    def remove(self, proc: Process) -> None:
        """Forget ``proc``, its names and its aliases."""
        self.by_pid.pop(proc.pid, None)
        for name in proc.names:
            if self.by_name.get(name) is proc:
                del self.by_name[name]
        if self.by_alias:
            for alias in [a for a, p in self.by_alias.items() if p is proc]:
                del self.by_alias[alias]

    def get(self, pid: Pid) -> Process | None:
        return self.by_pid.get(pid)

    def __iter__(self) -> Iterator[Process]:
        return iter(list(self.by_pid.values()))

    def register(self, name: Atom, proc: Process) -> None:
        """``ValueError`` if the name is taken or ``proc`` has ended."""
        if not proc.alive:
            raise ValueError(f"cannot register {name.name}: {proc!r} has ended")
        if name in self.by_name:
            raise ValueError(f"the name {name.name} is already registered")
        self.by_name[name] = proc
        proc.names.add(name)

    def unregister(self, name: Atom) -> None:
        proc = self.by_name.pop(name, None)
        if proc is not None:
            proc.names.discard(name)

    def whereis(self, name: Atom) -> Process | None:
        return self.by_name.get(name)

    def registered(self) -> list[Atom]:
        return list(self.by_name)
