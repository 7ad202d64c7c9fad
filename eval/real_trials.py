"""Real-robot success counts per policy from a trials CSV (``policy,scenario,trials,successes``).

The same file ``eval.sim2real --real-trials`` reads; here rows are summed per policy (all scenarios),
which is what the real-robot success hypothesis (H5, real) needs.
"""

from __future__ import annotations

import csv
from pathlib import Path


def real_success_by_policy(path: str | Path) -> dict[str, tuple[int, int]]:
    """``{policy: (trials, successes)}`` summed over the CSV's rows; ``ValueError`` naming the file,
    line and column of a missing column or a bad count."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: real-trials CSV not found")
    totals: dict[str, tuple[int, int]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = {h.strip() for h in reader.fieldnames or []}
        missing = [c for c in ("policy", "trials", "successes") if c not in header]
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {', '.join(missing)} (header policy,scenario,trials,successes)"
            )
        for line, raw in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            try:
                n, k = int(row["trials"]), int(row["successes"])
            except ValueError:
                raise ValueError(
                    f"{path}: line {line}: trials={row['trials']!r}, successes={row['successes']!r} "
                    "must be integers"
                ) from None
            if not 0 <= k <= n:
                raise ValueError(f"{path}: line {line}: need 0 <= successes <= trials, got {k} of {n}")
            t0, k0 = totals.get(row["policy"], (0, 0))
            totals[row["policy"]] = (t0 + n, k0 + k)
    return totals
