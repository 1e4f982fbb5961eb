"""The magic cookie: reading cookie files like Erlang does, and the handshake digest.

:func:`read_cookie` is the only code in kazoo_trio that reads a cookie file:
the node's ``cookie_file`` and the settings' ``cookie-file`` and
``~/.erlang.cookie`` all go through it, so all follow OTP's ``auth`` module.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
from pathlib import Path

from kazoo_trio.errors import ConfigurationError

__all__ = ["CookieError", "default_cookie_path", "digest", "gen_challenge", "read_cookie"]


class CookieError(ConfigurationError):
    """The cookie file is missing, unreadable, too open, or holds no valid cookie."""


def default_cookie_path() -> Path:
    """``$HOME/.erlang.cookie``, the file ``erl`` uses when no ``-setcookie`` is given."""
    return Path.home() / ".erlang.cookie"


def read_cookie(path: str | os.PathLike[str] | None = None) -> bytes:
    """The cookie in ``path`` (default ``~/.erlang.cookie``), checked as Erlang's ``auth`` does.

    The file must be a regular file that group and others have no access to
    at all (Erlang refuses it otherwise: anyone who can read the cookie can
    join the cluster).  The cookie is the leading run of printable ASCII
    (blanks included, leading and trailing); after it only CR, LF and blanks
    may follow, which are ignored.  Anything else after it (a second line,
    a non-ASCII byte) is an error, as is an empty cookie.  There is no length
    limit.

    Raises :class:`CookieError` with a message naming the file and the problem.
    """
    p = Path(path) if path is not None else default_cookie_path()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise CookieError(f"cookie file {p} does not exist") from None
    except OSError as exc:
        raise CookieError(f"cookie file {p}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise CookieError(f"cookie file {p} is not a regular file")
    if st.st_mode & 0o077:
        raise CookieError(
            f"cookie file {p} must be accessible by owner only "
            f"(mode {stat.S_IMODE(st.st_mode):04o}; run chmod 400 {p})"
        )
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise CookieError(f"cookie file {p}: {exc.strerror or exc}") from None
    return _parse_cookie(raw, p)


def _parse_cookie(raw: bytes, path: Path) -> bytes:
    # auth:check_cookie/2: printable ASCII, then only CR, LF and blanks.
    end = 0
    while end < len(raw) and 0x20 <= raw[end] <= 0x7E:
        end += 1
    if raw[end:].strip(b"\r\n "):
        raise CookieError(f"cookie file {path}: bad characters in cookie")
    cookie = raw[:end]
    if not cookie:
        raise CookieError(f"cookie file {path}: too short cookie string")
    return cookie


def digest(cookie: bytes, challenge: int) -> bytes:
    """``MD5(cookie ++ decimal(challenge))``: the 16 bytes of a challenge reply or ack.

    ``challenge`` is the unsigned 32-bit number the peer sent, written in
    decimal without sign or padding (``dist_util:gen_digest/2``).
    """
    return hashlib.md5(cookie + str(challenge).encode("ascii"), usedforsecurity=False).digest()


def gen_challenge() -> int:
    """A fresh, unpredictable 32-bit challenge."""
    return secrets.randbits(32)
