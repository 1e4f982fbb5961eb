"""Reading the cookie file the way Erlang's auth module does, and the digest."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kazoo_trio.erlang.cookie import CookieError, digest, gen_challenge, read_cookie
from kazoo_trio.errors import ConfigurationError


def _write(path: Path, data: bytes, mode: int = 0o400) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def test_digest_vector() -> None:
    assert digest(b"c", 5).hex() == "25ea1682e16466c0667abdc095920f6c"
    assert digest(b"c", 0) != digest(b"c", 5)
    assert len(digest(b"kazoo_trio_test", 2**32 - 1)) == 16


def test_challenges_are_32_bit_and_vary() -> None:
    values = {gen_challenge() for _ in range(50)}
    assert all(0 <= v < 2**32 for v in values)
    assert len(values) > 40


def test_reads_and_strips_line_end(tmp_path: Path) -> None:
    assert read_cookie(_write(tmp_path / "c", b"SECRETCOOKIE\n")) == b"SECRETCOOKIE"
    assert read_cookie(str(_write(tmp_path / "d", b"abc\r\n \n", 0o600))) == b"abc"
    assert read_cookie(_write(tmp_path / "e", b"no newline")) == b"no newline"


def test_blanks_before_the_line_break_belong_to_the_cookie(tmp_path: Path) -> None:
    # What OTP 25 does (checked with erlang:get_cookie() on a node whose
    # ~/.erlang.cookie held these bytes): only what follows the first line
    # break is ignored.
    assert read_cookie(_write(tmp_path / "a", b"abc \n  ")) == b"abc "
    assert read_cookie(_write(tmp_path / "b", b" abc\n")) == b" abc"


def test_refuses_group_or_other_access(tmp_path: Path) -> None:
    for mode in (0o440, 0o404, 0o644, 0o620, 0o602):
        path = _write(tmp_path / f"c{mode:o}", b"cookie\n", mode)
        with pytest.raises(CookieError, match="owner only"):
            read_cookie(path)


def test_refuses_bad_contents(tmp_path: Path) -> None:
    with pytest.raises(CookieError, match="bad characters"):
        read_cookie(_write(tmp_path / "a", b"abc\ndef\n"))
    with pytest.raises(CookieError, match="bad characters"):
        read_cookie(_write(tmp_path / "b", b"caf\xc3\xa9\n"))
    with pytest.raises(CookieError, match="too short"):
        read_cookie(_write(tmp_path / "c", b"\n"))
    with pytest.raises(CookieError, match="too short"):
        read_cookie(_write(tmp_path / "d", b""))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CookieError, match="does not exist"):
        read_cookie(tmp_path / "nope")
    d = tmp_path / "dir"
    d.mkdir(mode=0o700)
    with pytest.raises(CookieError, match="not a regular file"):
        read_cookie(d)


def test_default_path_is_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(CookieError, match=str(tmp_path / ".erlang.cookie")):
        read_cookie()
    _write(tmp_path / ".erlang.cookie", b"HOMECOOKIE")
    assert read_cookie() == b"HOMECOOKIE"
    assert os.stat(tmp_path / ".erlang.cookie").st_mode & 0o777 == 0o400


def test_no_length_limit_and_one_error_family(tmp_path: Path) -> None:
    # OTP reads the whole file; mod_kazoo's 255-byte cap is not Erlang's rule.
    assert read_cookie(_write(tmp_path / "long", b"x" * 300 + b"\n")) == b"x" * 300
    assert issubclass(CookieError, ConfigurationError)
