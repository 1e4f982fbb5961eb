"""A real FreeSWITCH for tests: the relocatable build in ``../shared/freeswitch``.

:func:`freeswitch_instance` unpacks ``fsmin.tar.xz`` into a temporary directory and
starts FreeSWITCH in the foreground on free ports; tests use it through a
module-scoped fixture (one start per test module, 3-5 s) and may kill and restart
it.  When the archive is absent the tests skip (locally) or fail (under CI, which
must provide it); when its runtime libraries are missing they skip with the
``apt-get`` line that installs them.

``python -m tests.freeswitch.fsmin`` prints that line (CI runs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest

from tests.erlnode import free_port

REPO = Path(__file__).resolve().parents[2]
ARCHIVE = Path(
    os.environ.get("KAZOO_TRIO_FSMIN", REPO.parent / "shared" / "freeswitch" / "fsmin.tar.xz")
)

# The Debian 12 packages the build links against (its README).
RUNTIME_PACKAGES = (
    "libc6", "libgcc-s1", "libstdc++6", "zlib1g", "libssl3", "libcurl4", "libedit2",
    "libjpeg62-turbo", "libpcre2-8-0", "libsndfile1", "libspeex1", "libspeexdsp1",
    "libsqlite3-0", "libtiff6", "libuuid1",
)  # fmt: skip

PASSWORD = "ClueCon"
START_TIMEOUT = 20.0


def apt_command() -> str:
    return "apt-get install -y " + " ".join(RUNTIME_PACKAGES)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"FreeSWITCH tests cannot run in CI: {reason}")
    pytest.skip(reason)


def missing_libraries(binary: Path) -> list[str]:
    """Shared libraries ``binary`` needs and the system lacks (``ldd``'s "not found")."""
    env = dict(os.environ, LD_LIBRARY_PATH=str(binary.parent.parent / "lib"))
    out = subprocess.run(
        ["ldd", str(binary)], capture_output=True, text=True, env=env, check=False
    ).stdout
    return [line.split()[0] for line in out.splitlines() if "not found" in line]


def esl_exchange(port: int, command: str, timeout: float = 2.0) -> str:
    """Authenticate and run one ``api`` command over a raw socket (for readiness checks
    outside trio); the response body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        data = b""

        def until(marker: bytes) -> None:
            nonlocal data
            while marker not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                data += chunk

        until(b"auth/request\n\n")
        data = b""
        sock.sendall(f"auth {PASSWORD}\n\n".encode())
        until(b"Reply-Text: ")
        until(b"\n\n")
        if b"+OK" not in data:
            raise ConnectionError("auth refused")
        data = b""
        sock.sendall(f"api {command}\n\n".encode())
        until(b"\n\n")
        head, _, rest = data.partition(b"\n\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\n")[0])
        data = rest
        while len(data) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data[:length].decode()


@attrs.define(eq=False)
class FreeSwitch:
    """One FreeSWITCH process (restartable on the same ports and work directory)."""

    root: Path  # the unpacked fsmin/
    workdir: Path
    esl_port: int
    xml_curl_port: int
    sip_port: int = 0
    xml_curl_bindings: str = "dialplan|directory"
    process: subprocess.Popen[bytes] | None = None
    # A configuration of our own (``--conf``) instead of the bundled one.
    conf: Path | None = None

    @property
    def xml_curl_url(self) -> str:
        return f"http://127.0.0.1:{self.xml_curl_port}/fsxml"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        args = [
            str(self.root / "bin" / "run-freeswitch.sh"),
            "--fg",
            "--esl-port", str(self.esl_port),
            "--esl-password", PASSWORD,
            "--xml-curl-url", self.xml_curl_url,
            "--xml-curl-bindings", self.xml_curl_bindings,
            "--sip-port", str(self.sip_port),
            "--loglevel", "info",
            *(["--conf", str(self.conf)] if self.conf is not None else []),
            str(self.workdir),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"FreeSWITCH exited at start: {err[-2000:]}")
            try:
                if "is ready" in esl_exchange(self.esl_port, "status", timeout=1.0):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"FreeSWITCH not ready in {START_TIMEOUT} s; see {self.workdir}/log")

    def kill(self) -> None:
        """SIGKILL (FreeSWITCH's own shutdown takes seconds and can hang)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()

    def api(self, command: str) -> str:
        return esl_exchange(self.esl_port, command)


def core_settings_conf(root: Path, target: Path, settings: Mapping[str, str]) -> Path:
    """A copy at ``target`` of the bundled configuration under ``root`` with these
    ``switch.conf`` settings (``max-sessions``, ``sessions-per-second`` ...) replaced or
    added; the directory to pass as ``--conf``."""
    shutil.copytree(root / "conf", target)
    path = target / "autoload_configs" / "switch.conf.xml"
    lines = path.read_text().splitlines()
    left = dict(settings)
    for index, line in enumerate(lines):
        for name in list(left):
            if f'<param name="{name}" ' in line:
                lines[index] = f'    <param name="{name}" value="{left.pop(name)}"/>'
    end = next(i for i, line in enumerate(lines) if "</settings>" in line)
    lines[end:end] = [f'    <param name="{name}" value="{value}"/>' for name, value in left.items()]
    path.write_text("\n".join(lines) + "\n")
    return target


@contextmanager
def freeswitch_instance(
    *,
    sip: bool = False,
    bindings: str = "dialplan|directory",
    sessions_per_second: int | None = None,
    max_sessions: int | None = None,
    core_settings: Mapping[str, str] | None = None,
    configs: Mapping[str, str] | None = None,
) -> Iterator[FreeSwitch]:
    """A started FreeSWITCH in a fresh temporary directory; killed and removed at exit.

    ``sessions_per_second`` and ``max_sessions`` replace the bundled configuration's
    100 and 1,000 (for load tests); ``core_settings`` are further ``switch.conf``
    settings (e.g. ``core-db-name``); ``configs`` are further ``autoload_configs``
    files (name -> XML), e.g. a module configured as Kazoo configures it."""
    if not ARCHIVE.exists():
        _unavailable(f"no FreeSWITCH archive at {ARCHIVE} (set KAZOO_TRIO_FSMIN)")
    tmp = Path(tempfile.mkdtemp(prefix="kt-fs-"))
    try:
        with tarfile.open(ARCHIVE) as tar:
            tar.extractall(tmp, filter="tar")
        root = tmp / "fsmin"
        missing = missing_libraries(root / "bin" / "freeswitch")
        if missing:
            _unavailable(f"FreeSWITCH needs {', '.join(missing)}: {apt_command()}")
        fs = FreeSwitch(
            root=root,
            workdir=tmp / "work",
            esl_port=free_port(),
            xml_curl_port=free_port(),
            sip_port=free_port() if sip else 0,
            xml_curl_bindings=bindings,
        )
        settings = dict(core_settings or {})
        if sessions_per_second is not None:
            settings["sessions-per-second"] = str(sessions_per_second)
        if max_sessions is not None:
            settings["max-sessions"] = str(max_sessions)
        if settings:
            fs.conf = core_settings_conf(root, tmp / "conf", settings)
        for name, xml in (configs or {}).items():
            # The unpacked copy is this instance's own: it may be written.
            ((fs.conf or root / "conf") / "autoload_configs" / name).write_text(xml)
        fs.workdir.mkdir()
        try:
            fs.start()
            yield fs
        finally:
            fs.kill()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    print(apt_command())
