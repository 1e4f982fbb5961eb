"""The codec's example script and benchmark helpers (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import bench_codec, common
from kazoo_trio.term import Atom, decode, encode

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_events_have_the_anchor_sizes_and_fresh_ids() -> None:
    for kind, (headers, size) in bench_codec.SIZES.items():
        pool = bench_codec.build_pool(kind, 3)
        wires = [encode((Atom("event"), [uid, *hs])) for uid, hs in pool]
        assert [len(w) for w in wires] == [size] * 3, kind
        assert all(len(hs) == headers for _, hs in pool)
        assert len({uid for uid, _ in pool}) == 3  # a fresh Unique-ID per event
        assert len({dict(hs)[b"Event-Date-Timestamp"] for _, hs in pool}) == 3
        tag, items = decode(wires[0])
        assert tag is Atom("event") and items[1] == (b"Event-Name", b"CHANNEL_CREATE")


def test_table_and_json_helpers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common.print_table("t", ["name", "rate"], [["a", 1234567.0], ["bb", 2.5]])
    out = capsys.readouterr().out
    assert "1,234,567" in out and "2.50" in out
    path = common.write_json("demo", {"rows": [1]}, directory=tmp_path)
    doc = json.loads(path.read_text())
    assert doc["benchmark"] == "demo" and doc["rows"] == [1]
    assert doc["machine"]["python"] and doc["timestamp"].endswith("+00:00")


def test_best_time_measures_both_clocks() -> None:
    calls = []
    timing = common.best_time(lambda: calls.append(1), repeat=2, min_time=0.01)
    assert timing.number >= 1 and timing.wall > 0 and timing.cpu >= 0
    assert len(calls) >= 1 + 2 * timing.number


def test_codec_demo_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "codec_demo.py")],
        capture_output=True,
        timeout=120,
        check=True,
    )
    out = done.stdout.decode()
    assert "identical to the general encode(): True" in out
    assert "Event-Name: CHANNEL_CREATE" in out


def test_codec_is_sans_io() -> None:
    code = "import sys, kazoo_trio.term; print('trio' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, check=True)
    assert done.stdout.decode().strip() == "False"
