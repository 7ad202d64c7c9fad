"""Test-suite wall time: the default developer run (``-m "not slow"``) and the full suite, with the
slowest tests, on 2 workers. Issue 13's target: the default run <= 90 s on 2 cores.

Run: ``python benchmarks/bench_tests.py [--full] [--workers 2]`` from the repository root on a quiet
machine (the figure depends on the load; the load average is printed next to it).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(marker: str | None, workers: int) -> float:
    cmd = [sys.executable, "-m", "pytest", "-q", "-n", str(workers), "-p", "no:cacheprovider",
           "--durations=10"]
    if marker:
        cmd += ["-m", marker]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    tail = proc.stdout.strip().splitlines()
    slowest = [line for line in tail if " call " in line or " setup " in line]
    print(f"pytest {' '.join(cmd[3:])}: {wall:.1f} s wall, exit {proc.returncode}, "
          f"load average at start {load:.2f}")
    print("\n".join(slowest[-12:]))
    print(tail[-1] if tail else "")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="also time the full suite (slow tests included)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    run("not slow", args.workers)
    if args.full:
        run(None, args.workers)


if __name__ == "__main__":
    main()
