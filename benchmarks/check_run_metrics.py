"""Check a closed-loop run's printed figures against its stored rows, optionally against an earlier run
of the same seeds (e.g. before the exact planner).

    python benchmarks/check_run_metrics.py RUN_DIR [--before OLD_RUN_DIR]

Prints SPL / SoftSPL (and, with ``--before``, old → new, whether trajectories and outcomes are the same
and how much longer the old ``d_start`` was), and the summary's per-step latency next to the statistics
recomputed from the stored per-step samples (max must equal the slowest stored step, p95 the p95 of
the stored steps).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def _load(run_dir: str) -> dict:
    return json.loads((Path(run_dir) / "results.json").read_text(encoding="utf-8"))


def _key(ep: dict) -> tuple[int, bool]:
    return ep["episode"], bool(ep["instruction_flipped"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--before", help="an earlier run of the same policy, seeds and episodes")
    args = parser.parse_args()
    new = _load(args.run_dir)
    s = new["summary"]
    print(
        f"{s['policy']}: success {s['successes']}/{s['episodes']}, SPL {s['spl_mean']:.4f}, SoftSPL "
        f"{s['soft_spl_mean']:.4f}"
    )
    if args.before:
        old = _load(args.before)
        so = old["summary"]
        by_key = {_key(ep): ep for ep in old["episodes"]}
        same = all(
            by_key[_key(ep)]["trajectory"] == ep["trajectory"]
            and by_key[_key(ep)]["success"] == ep["success"]
            for ep in new["episodes"]
        )
        ratios = [
            by_key[_key(ep)]["d_start_m"] / ep["d_start_m"] - 1 for ep in new["episodes"] if ep["d_start_m"]
        ]
        print(
            f"  before: SPL {so['spl_mean']:.4f} -> {s['spl_mean']:.4f}, "
            f"SoftSPL {so['soft_spl_mean']:.4f} -> {s['soft_spl_mean']:.4f}; "
            f"same trajectories and outcomes: {same}"
        )
        print(
            f"  old d_start longer by {100 * np.mean(ratios):.2f} % on average, "
            f"{100 * max(ratios):.2f} % at most"
        )
    steps = [v for ep in new["episodes"] for v in ep.get("latency_samples_ms", {}).get("total_ms", [])]
    warm = [v for ep in new["episodes"] for v in ep.get("latency_warmup_ms", {}).get("total_ms", [])]
    total = s["latency_ms"].get("total_ms")
    if not steps or not total:
        print("  per-step latency: unavailable (no stored samples)")
        return 0
    print(
        f"  summary latency: p50 {total['p50']:.2f} ms, p95 {total['p95']:.2f} ms, "
        f"max {total['max']:.2f} ms, n {total['n']}"
    )
    print(
        f"  stored samples : p50 {np.percentile(steps, 50):.2f} ms, p95 {np.percentile(steps, 95):.2f} ms, "
        f"max {max(steps):.2f} ms, n {len(steps)}; "
        f"warm-up calls {len(warm)} (slowest {max(warm, default=0):.2f} ms)"
    )
    print(
        f"  max equals slowest stored step: {total['max'] == max(steps)}; "
        f"p95 equals stored p95: {abs(total['p95'] - float(np.percentile(steps, 95))) < 1e-9}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
