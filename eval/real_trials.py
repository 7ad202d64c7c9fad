"""Real-robot trial counts from a trials CSV (``policy,scenario,trials,successes``): the one reader of the
file that ``eval.sim2real --real-trials`` (per policy and scenario) and ``eval.compare --real-trials``
(summed per policy, for the real-robot success hypothesis H5) both take.
"""

from __future__ import annotations

import csv
from pathlib import Path

from common.cli import BenchError

CSV_COLUMNS = ("policy", "scenario", "trials", "successes")


class TrialsError(BenchError, ValueError):
    """A trials CSV is missing or malformed; the message names the file, line and column."""


def read_trials_csv(path: str | Path) -> dict[tuple[str, str], tuple[int, int]]:
    """``{(policy, scenario): (trials, successes)}`` from a CSV headed ``policy,scenario,trials,successes``.

    Rows repeating a (policy, scenario) are summed (several sessions). Raises ``TrialsError`` naming the
    file, line and column of a malformed value, or the missing columns.
    """
    path = Path(path)
    if not path.is_file():
        raise TrialsError(f"{path}: real-trials CSV not found")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise TrialsError(
                f"{path}: line 1: missing column(s) {', '.join(missing)}; "
                f"expected header {','.join(CSV_COLUMNS)}, got {','.join(header) or '(empty)'}"
            )
        reader.fieldnames = header
        out: dict[tuple[str, str], tuple[int, int]] = {}
        for row in reader:
            line = reader.line_num
            values = {c: (row.get(c) or "").strip() for c in CSV_COLUMNS}
            for col in ("policy", "scenario"):
                if not values[col]:
                    raise TrialsError(f"{path}: line {line}, column '{col}': empty")
            counts = {}
            for col in ("trials", "successes"):
                try:
                    counts[col] = int(values[col])
                except ValueError:
                    raise TrialsError(
                        f"{path}: line {line}, column '{col}': expected a non-negative integer, "
                        f"got {values[col]!r}"
                    ) from None
                if counts[col] < 0:
                    raise TrialsError(
                        f"{path}: line {line}, column '{col}': expected a non-negative integer, "
                        f"got {counts[col]}"
                    )
            if counts["successes"] > counts["trials"]:
                raise TrialsError(
                    f"{path}: line {line}, column 'successes': {counts['successes']} successes "
                    f"exceed {counts['trials']} trials"
                )
            key = (values["policy"], values["scenario"])
            n0, k0 = out.get(key, (0, 0))
            out[key] = (n0 + counts["trials"], k0 + counts["successes"])
    if not out:
        raise TrialsError(f"{path}: no trial rows")
    return out


def real_success_by_policy(path: str | Path) -> dict[str, tuple[int, int]]:
    """``{policy: (trials, successes)}`` summed over every scenario of the CSV (``read_trials_csv``)."""
    totals: dict[str, tuple[int, int]] = {}
    for (policy, _), (n, k) in read_trials_csv(path).items():
        t0, k0 = totals.get(policy, (0, 0))
        totals[policy] = (t0 + n, k0 + k)
    return totals
