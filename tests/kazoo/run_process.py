"""``kazoo-trio run`` as a child process for the command-line tests.

:func:`kazoo_trio_run` starts the command, waits (bounded) until its log says
it is accepting connections, and yields a :class:`RunningCommand` whose
:meth:`~RunningCommand.stop` sends a signal and collects the exit status and
the rest of the log.  Whatever happens in the test, the process is killed and
reaped on the way out.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import trio

__all__ = ["CONSOLE_SCRIPT", "PYTHON_MODULE", "RunningCommand", "kazoo_trio_run"]

# The two ways to start it: the package as a module, and the installed script the README shows.
PYTHON_MODULE: tuple[str, ...] = (sys.executable, "-m", "kazoo_trio")
CONSOLE_SCRIPT: tuple[str, ...] = (str(Path(sys.executable).with_name("kazoo-trio")),)

READY = b"accepting connections"


@attrs.define
class RunningCommand:
    """A started ``kazoo-trio run`` and everything it has logged to stderr so far."""

    process: trio.Process
    output: bytearray = attrs.field(factory=bytearray)

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    async def stop(self, sig: signal.Signals = signal.SIGTERM, *, timeout: float = 10) -> int:
        """Send ``sig``, wait for the exit and the end of its log; the exit status.

        Raises ``trio.TooSlowError`` if the process has not exited and closed
        stderr within ``timeout`` seconds (the context manager then kills it).
        """
        stderr = self.process.stderr
        assert stderr is not None
        self.process.send_signal(sig)
        with trio.fail_after(timeout):
            code = await self.process.wait()
            while chunk := await stderr.receive_some(65536):
                self.output += chunk
        return code


async def _wait_until_ready(command: RunningCommand, timeout: float) -> None:
    stderr = command.process.stderr
    assert stderr is not None
    with trio.fail_after(timeout):
        while READY not in command.output:
            chunk = await stderr.receive_some(4096)
            assert chunk, command.text  # exited before it was ready
            command.output += chunk


@asynccontextmanager
async def kazoo_trio_run(
    *args: str, program: Sequence[str] = PYTHON_MODULE, ready_timeout: float = 20
) -> AsyncIterator[RunningCommand]:
    """Run ``program run *args`` until the block ends; yields once it accepts connections.

    The child gets its own session, so a signal the test sends reaches it alone.
    Fails (``AssertionError`` with the log) if the command exits before it is
    ready, or ``trio.TooSlowError`` after ``ready_timeout`` seconds.  On leaving,
    a process still running is killed and reaped, even when cancelled.
    """
    process = await trio.lowlevel.open_process(
        [*program, "run", *args], stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        command = RunningCommand(process)
        await _wait_until_ready(command, ready_timeout)
        yield command
    finally:
        with trio.CancelScope(shield=True):
            if process.returncode is None:
                process.kill()
                await process.wait()
            if process.stderr is not None:
                await process.stderr.aclose()
