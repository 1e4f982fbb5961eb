"""Run the benchmarks: ``python -m benchmarks.run [names...]``.

Without names every ``benchmarks/bench_*.py`` runs; a name is ``codec`` or
``bench_codec``.  Each benchmark runs in its own interpreter (so one cannot
warm caches or leak memory into the next), prints its table and writes
``benchmarks/results/<name>.json``; this runner then writes
``benchmarks/results/run.json`` listing what ran, how long it took and its
exit status.  The exit status is non-zero if any benchmark failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import print_table, write_json

HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(available())})"
    )
    args = parser.parse_args(argv)
    names = [n.removeprefix("bench_").removesuffix(".py") for n in args.names] or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (have {', '.join(available())})")
    rows = []
    for name in names:
        print(f"=== bench_{name}", flush=True)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", f"benchmarks.bench_{name}"], cwd=HERE.parent, check=False
        )
        took = round(time.perf_counter() - start, 1)
        rows.append({"name": name, "seconds": took, "exit": done.returncode})
    print_table(
        "benchmarks run",
        ["benchmark", "seconds", "exit status"],
        [[r["name"], r["seconds"], r["exit"]] for r in rows],
    )
    write_json("run", {"runs": rows})
    return 0 if all(r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
