"""Closed-loop runs merged per policy: finding run directories, loading them through ``eval.results``,
pairing episodes across policies, and the per-policy figures of a comparison (success with Wilson
intervals, SPL, instruction sensitivity, per-step latency pooled from the stored samples).

Used by ``eval.compare`` and ``eval.sim2real``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.cli import BenchError
from eval import metrics, step_latency
from eval.results import RESULTS_FILE, load_results, main_episodes


class CompareError(BenchError, ValueError):
    """Inputs of a comparison are inconsistent; the message names the run, label or role."""


@dataclass
class PolicyRuns:
    """One compared policy: its label, the run directories merged into it, and their episodes."""

    label: str
    policy: str
    run_dirs: list[Path] = field(default_factory=list)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    open_loop: dict[str, Any] | None = None

    @property
    def main(self) -> list[dict[str, Any]]:
        """Episodes with their scenario's own instruction (mirrored-instruction twins only feed the
        instruction-sensitivity figure, as in ``results.json``'s summary)."""
        return main_episodes(self.episodes)

    @property
    def n(self) -> int:
        return len(self.main)

    @property
    def k(self) -> int:
        return sum(1 for ep in self.main if ep["success"])


# --------------------------------------------------------------------------- loading runs


def find_run_dirs(paths: Sequence[str | Path]) -> list[Path]:
    """Run directories under ``paths``: each path itself if it holds ``results.json``, else every
    folder below it that does (sorted). Raises ``CompareError`` for a path with none."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if (path / RESULTS_FILE).is_file():
            found.append(path)
            continue
        below = sorted(p.parent for p in path.rglob(RESULTS_FILE)) if path.is_dir() else []
        if not below:
            raise CompareError(
                f"{path}: no {RESULTS_FILE} in it or below it (expected a closed-loop run dir)"
            )
        found.extend(below)
    return found


def episode_key(ep: Mapping[str, Any]) -> tuple[str, int, bool]:
    """The pairing key of an episode across policies: ``(scenario, seed, instruction_flipped)``."""
    seed = ep.get("seed")
    flipped = bool(ep.get("instruction_flipped"))
    return str(ep["scenario"]), int(ep["episode"] if seed is None else seed), flipped


def load_policy_runs(run_dirs: Sequence[Path], labels: Sequence[str] | None = None) -> list[PolicyRuns]:
    """Load and merge run directories; ``labels`` (one per directory) default to each run's policy name.

    Raises ``CompareError`` when the same episode key appears twice under one label.
    """
    if labels is not None and len(labels) != len(run_dirs):
        raise CompareError(
            f"--labels has {len(labels)} names for {len(run_dirs)} run directories "
            f"({', '.join(str(d) for d in run_dirs)})"
        )
    by_label: dict[str, PolicyRuns] = {}
    seen_by_label: dict[str, dict[tuple[str, int, bool], Path]] = {}
    for i, run_dir in enumerate(run_dirs):
        results = load_results(run_dir)
        policy = results["summary"]["policy"]
        label = labels[i] if labels is not None else policy
        entry = by_label.setdefault(label, PolicyRuns(label=label, policy=policy))
        seen = seen_by_label.setdefault(label, {})
        for ep in results["episodes"]:
            key = episode_key(ep)
            if key in seen:
                raise CompareError(
                    f"{label}: episode {key} appears twice ({seen[key]} and {run_dir}); "
                    "give the runs different --labels or remove the duplicate run"
                )
            seen[key] = run_dir
            entry.episodes.append(ep)
        entry.run_dirs.append(run_dir)
        entry.summaries.append(results["summary"])
    return list(by_label.values())


# --------------------------------------------------------------------------- per-policy figures


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def merged_latency(episodes: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Per-step total-latency statistics ``{p50, p95, max, mean, n}`` pooled from the stored samples of
    ``episodes`` (all runs merged exactly). None when any episode lacks raw samples (results written
    before they were stored: per-step percentiles cannot be recovered from episode summaries)."""
    samples = step_latency.pooled(episodes)
    if not samples or not samples.get("total_ms"):
        return None
    return metrics.summarize_latency(samples["total_ms"])


def merged_instruction_sensitivity(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Instruction-sensitivity counts summed over runs, with a Wilson interval."""
    parts = [s.get("instruction_sensitivity") for s in summaries]
    parts = [p for p in parts if p and p.get("episodes")]
    if not parts:
        return None
    n = sum(int(p["episodes"]) for p in parts)
    k = sum(round(float(p["named_side_rate"]) * int(p["episodes"])) for p in parts)
    return {
        "episodes": n,
        "named_side": k,
        "named_side_rate": k / n,
        "wilson95": list(metrics.wilson_interval(k, n)),
    }


def policy_row(p: PolicyRuns) -> dict[str, Any]:
    """The comparison-table figures of one policy (JSON-ready)."""
    lo, hi = metrics.wilson_interval(p.k, p.n) if p.n else (0.0, 1.0)
    spl = [float(ep["spl"]) for ep in p.main if ep.get("spl") is not None]
    soft = [float(ep["soft_spl"]) for ep in p.main if ep.get("soft_spl") is not None]
    row: dict[str, Any] = {
        "label": p.label,
        "policy": p.policy,
        "runs": [str(d) for d in p.run_dirs],
        "episodes": p.n,
        "successes": p.k,
        "success_rate": p.k / p.n if p.n else None,
        "wilson95": [lo, hi],
        "spl_mean": _mean(spl),
        "soft_spl_mean": _mean(soft),
        "instruction_sensitivity": merged_instruction_sensitivity(p.summaries),
        "latency_total_ms": merged_latency(p.episodes),
        "open_loop": None,
    }
    if p.open_loop is not None:
        g = p.open_loop["groups"]["all"]
        row["open_loop"] = {
            "model_rmse": g["model"]["rmse"]["overall"],
            "command_rmse": g["command"]["rmse"]["overall"],
            "direction_accuracy": g["model"]["direction_accuracy"],
            "pass": g["pass"],
            "target_rmse": g.get("target_rmse"),
        }
    return row
