"""Import cost of the light entry points: ``python benchmarks/bench_imports.py [--rounds N]``.

Each figure is the wall time of a fresh interpreter running one statement (median of ``--rounds``), and
whether it loaded torch: making and stepping ``mean_action``, importing the settings modules
(``policies.vla.config``, ``training.config``), and, for scale, importing the VLA policy (torch,
transformers). Prints the load average: figures on a busy machine are inflated.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "python only (baseline)": "pass",
    "mean_action: make + 3 steps": (
        "import numpy as np; from policies import make_policy;"
        " p = make_policy('mean_action', mean=[0.5, 0, 0]); p.reset('go left');"
        " [p.act({'rgb': np.zeros((36, 64, 3), np.uint8)}) for _ in range(3)]"
    ),
    "import policies.vla.config": "import policies.vla.config",
    "import training.config": "import training.config",
    "import policies.vla.policy (torch, transformers)": "import policies.vla.policy",
}


def measure(statement: str, rounds: int) -> tuple[float, bool]:
    """(median wall seconds of a fresh interpreter running ``statement``, whether torch got loaded)."""
    code = f"{statement}\nimport sys; print('torch' in sys.modules)"
    times, loaded = [], False
    for _ in range(rounds):
        start = time.perf_counter()
        cmd = [sys.executable, "-c", code]
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - start)
        loaded = out.stdout.strip().endswith("True")
    return statistics.median(times), loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; median of {args.rounds} fresh interpreters")
    for name, statement in CASES.items():
        seconds, torch_loaded = measure(statement, args.rounds)
        print(f"{name:52s} {seconds * 1e3:8.0f} ms   torch loaded: {torch_loaded}")


if __name__ == "__main__":
    main()
