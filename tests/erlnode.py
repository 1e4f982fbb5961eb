"""Real Erlang/OTP processes for the integration tests.

:class:`ErlNode` runs ``erl`` with a small read-eval-print loop on its standard
input: each :meth:`ErlNode.eval` sends one line of Erlang expressions and waits
for its one result line.  Results travel back as ``term_to_binary`` (base64) and
as ``~tp`` text, so tests can compare either.  Bindings persist between calls
(``P = spawn(...)`` then ``exit(P, kill)``); :func:`erl_until` waits for an Erlang
condition to hold.

Every process started here is killed when its context manager exits, whatever
happened in between; tests never leave an ``erl`` or ``epmd`` behind.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import pytest
import trio

from kazoo_trio.term import decode
from tests.waiting import wait_until

ERL = shutil.which("erl")
EPMD = shutil.which("epmd")

# Printed before every result line so that anything else erl writes to stdout
# (logger reports, io:format from test code) cannot be mistaken for a result.
MARK = b"@@KTR "

# The loop that runs inside erl.  One line in, one marked line out.
_REPL = r"""
Loop = fun Loop(B) ->
  case io:get_line('') of
    eof -> halt(0);
    {error, _} -> halt(0);
    Line0 ->
      {Seq, Line} = string:take(unicode:characters_to_list(Line0), "0123456789"),
      {Tag, V, B2} =
        try
          {ok, Toks, _} = erl_scan:string(Line),
          {ok, Exprs} = erl_parse:parse_exprs(Toks),
          {value, Val, NB} = erl_eval:exprs(Exprs, B),
          {"OK", Val, NB}
        catch C:E:S -> {"ERR", {C, E, S}, B}
        end,
      Text = unicode:characters_to_binary(io_lib:format("~0tp", [V])),
      io:put_chars(["@@KTR ", Seq, " ", Tag, " ", base64:encode(term_to_binary(V)), " ",
                    base64:encode(Text), "\n"]),
      Loop(B2)
  end
end,
io:put_chars("@@KTR READY\n"),
Loop(erl_eval:new_bindings()).
"""


def require_erl() -> str:
    """Path of ``erl``; skips the test locally, fails it under CI, when missing."""
    if ERL is None:
        if os.environ.get("CI"):
            pytest.fail("erl is not installed; .ci/run should have installed erlang-base")
        pytest.skip("erl is not installed (apt-get install erlang-base)")
    return ERL


def _erl_env() -> dict[str, str]:
    # A node killed by a test must not leave an erl_crash.dump in the work tree.
    return dict(os.environ, ERL_CRASH_DUMP_SECONDS="0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ErlError(Exception):
    """An expression raised inside erl; ``args[0]`` is the ``{Class, Reason, Stack}`` text."""


@attrs.frozen
class ErlResult:
    """One evaluation's value, as erl printed it both ways."""

    etf: bytes  # term_to_binary of the value
    text: str  # ~0tp of the value

    def term(self) -> Any:
        return decode(self.etf)


@attrs.define
class ErlNode:
    """A running ``erl`` driven over stdin/stdout.  Use :func:`erl_node` to start one."""

    proc: trio.Process
    name: str | None
    output: bytearray = attrs.field(factory=bytearray, init=False)  # all but results
    _buf: bytearray = attrs.field(factory=bytearray, init=False)
    _lock: trio.Lock = attrs.field(factory=trio.Lock, init=False)
    _seq: int = attrs.field(default=0, init=False)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def _line(self) -> bytes:
        assert self.proc.stdout is not None
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                if line.startswith(MARK):
                    return line[len(MARK) :]
                self.output += line + b"\n"
                continue
            chunk = await self.proc.stdout.receive_some(65536)
            if not chunk:
                raise EOFError(f"erl exited; it printed:\n{self.output.decode(errors='replace')}")
            self._buf += chunk

    async def _wait_ready(self) -> None:
        while (await self._line()) != b"READY":
            pass

    async def result(self, expr: str, timeout: float = 20) -> ErlResult:
        """Evaluate ``expr`` (Erlang expressions ending with ``.``) and return its value."""
        line = " ".join(expr.strip().splitlines())
        if not line.endswith("."):
            line += "."
        assert self.proc.stdin is not None
        async with self._lock:
            # Numbered, so that the reply of an evaluation whose caller was
            # cancelled is skipped instead of being taken for the next one's.
            self._seq += 1
            seq = str(self._seq).encode()
            with trio.fail_after(timeout):
                await self.proc.stdin.send_all(seq + b" " + line.encode() + b"\n")
                while True:
                    got, tag, etf, text = (await self._line()).split(b" ")
                    if got == seq:
                        break
        res = ErlResult(base64.b64decode(etf), base64.b64decode(text).decode())
        if tag == b"ERR":
            raise ErlError(res.text)
        return res

    async def eval(self, expr: str, timeout: float = 20) -> str:
        """Evaluate and return the value as ``~0tp`` text, e.g. ``'pong'`` → ``"pong"``."""
        return (await self.result(expr, timeout)).text

    async def term(self, expr: str, timeout: float = 20) -> Any:
        """Evaluate and return the value decoded by kazoo_trio's own codec."""
        return (await self.result(expr, timeout)).term()

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)


@asynccontextmanager
async def erl_node(
    name: str | None = None,
    *,
    cookie: str = "kazoo_trio_test",
    epmd_port: int | None = None,
    args: Sequence[str] = (),
    start_timeout: float = 30,
) -> AsyncIterator[ErlNode]:
    """Start ``erl`` (``-name`` when ``name`` has a dot in its host, else ``-sname``).

    With ``epmd_port`` the node uses that EPMD (``ERL_EPMD_PORT``) and never
    starts one itself (``-start_epmd false``), so no stray ``epmd`` daemon is left.
    """
    erl = require_erl()
    cmd = [erl, "-noshell"]
    env = _erl_env()
    if name is not None:
        host = name.partition("@")[2]
        cmd += ["-name" if "." in host else "-sname", name, "-setcookie", cookie]
        cmd += ["-start_epmd", "false"]
        if epmd_port is None:
            raise ValueError("a distributed erl needs an epmd_port (see the epmd fixture)")
        env["ERL_EPMD_PORT"] = str(epmd_port)
    cmd += [*args, "-eval", _REPL]
    proc = await trio.lowlevel.open_process(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    node = ErlNode(proc, name)
    try:
        with trio.fail_after(start_timeout):
            await node._wait_ready()
        yield node
    finally:
        _kill_group(proc)
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            await proc.wait()


def _kill_group(proc: trio.Process) -> None:
    # A SIGSTOPped node ignores SIGTERM; SIGKILL ends it in every state.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@asynccontextmanager
async def epmd_daemon(port: int | None = None) -> AsyncIterator[int]:
    """A real ``epmd`` on 127.0.0.1 at ``port`` (a free one by default), in the foreground."""
    require_erl()
    if EPMD is None:
        pytest.fail("epmd is missing although erl is installed")
    port = port or free_port()
    env = dict(os.environ, ERL_EPMD_ADDRESS="127.0.0.1")
    proc = await trio.lowlevel.open_process(
        [EPMD, "-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )

    async def listening() -> bool:
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", port)
        except OSError:
            return False
        await stream.aclose()
        return True

    try:
        await wait_until(listening, timeout=10, interval=0.02, what=f"epmd listens on {port}")
        yield port
    finally:
        _kill_group(proc)
        with trio.CancelScope(shield=True), trio.move_on_after(10):
            await proc.wait()


async def erl_until(node: ErlNode, condition: str, timeout: float = 10.0) -> None:
    """Wait until the Erlang boolean expression ``condition`` evaluates to ``true`` in ``node``."""

    async def holds() -> bool:
        return await node.eval(condition) == "true"

    await wait_until(holds, timeout=timeout, interval=0.02, what=f"erl: {condition}")


def erl_eval_once(code: str, timeout: float = 60) -> str:
    """Run ``erl -noshell -eval CODE`` to completion and return its standard output.

    ``code`` must end by calling ``halt()``.  For tests that only need erl as a
    calculator (no distribution, no EPMD).
    """
    erl = require_erl()
    done = subprocess.run(
        [erl, "-noshell", "-eval", code],
        env=_erl_env(),
        capture_output=True,
        timeout=timeout,
        check=False,
        start_new_session=True,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"erl exited {done.returncode}: {done.stdout.decode()} {done.stderr.decode()}"
        )
    return done.stdout.decode()
