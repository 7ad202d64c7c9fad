"""The summary of a closed-loop run (``results.json``'s ``summary``) from its episode rows, and its
plain-text form for the terminal. Success with Wilson 95 % intervals overall and per tag, trials needed
for ±5 pp, SPL / SoftSPL, collision rate, failure reasons, instruction sensitivity and per-step latency
(definitions: ``docs/metrics.md``; bars: ``eval.targets``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig

from eval import step_latency
from eval.metrics import trials_needed, wilson_interval
from eval.results import main_episodes


def rate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    k = sum(bool(r["success"]) for r in rows)
    lo, hi = wilson_interval(k, n)
    return {"episodes": n, "successes": k, "success_rate": k / n if n else 0.0, "wilson95": [lo, hi]}


def summarize(rows: list[dict[str, Any]], policy: str, cfg: DictConfig | None = None) -> dict[str, Any]:
    """The ``summary`` of ``results.json`` from its rows (mirrored-instruction twins only feed the
    instruction-sensitivity figure)."""
    main = main_episodes(rows)
    overall = rate(main)
    per_tag: dict[str, Any] = {}
    groups: dict[str, list] = defaultdict(list)
    for r in main:
        groups[f"scenario={r['scenario']}"].append(r)
        for axis, value in r["tags"].items():
            groups[f"{axis}={value}"].append(r)
    for key in sorted(groups):
        per_tag[key] = rate(groups[key])
    sided = [
        r
        for r in rows
        if r.get("named_side") in ("left", "right") and r["scene"]["side"] in ("left", "right")
    ]
    sensitivity = None
    if any(r["instruction_flipped"] for r in rows) and sided:
        hits = sum(went_named_side(r) for r in sided)
        lo, hi = wilson_interval(hits, len(sided))
        sensitivity = {
            "episodes": len(sided),
            "named_side_rate": hits / len(sided),
            "wilson95": [lo, hi],
            "original_named_side_rate": _side_rate([r for r in sided if not r["instruction_flipped"]]),
            "flipped_named_side_rate": _side_rate([r for r in sided if r["instruction_flipped"]]),
        }
    n = overall["episodes"]
    summary = {
        "policy": policy,
        **overall,
        "trials_needed_5pp": trials_needed(overall["success_rate"]),
        "spl_mean": sum(r["spl"] for r in main) / n if n else 0.0,
        "soft_spl_mean": sum(r["soft_spl"] for r in main) / n if n else 0.0,
        "collision_rate": sum(r["collisions"] > 0 for r in main) / n if n else 0.0,
        "failure_reasons": dict(Counter(r["failure_reason"] for r in main if r["failure_reason"])),
        "per_tag": per_tag,
        "instruction_sensitivity": sensitivity,
        **step_latency.summary_fields(rows),  # latency_ms, its basis, warm-up, target; policy counts
        "latency_in_loop": {
            "mode": str(cfg.latency_in_loop.mode) if cfg is not None else "none",
            "delay_ms": float(cfg.latency_in_loop.delay_ms) if cfg is not None else 0.0,
        },
    }
    return summary


def went_named_side(row: Mapping[str, Any]) -> bool:
    """The episode passed its primary obstacle on the side its instruction names (``left``/``right``);
    False when it never passed it or the instruction names no side."""
    return row.get("named_side") in ("left", "right") and row.get("went_side") == row.get("named_side")


def _side_rate(rows: list[dict[str, Any]]) -> float | None:
    return sum(went_named_side(r) for r in rows) / len(rows) if rows else None


def format_summary(results: dict[str, Any]) -> str:
    """A plain-text summary table for the terminal."""
    s = results["summary"]
    lo, hi = s["wilson95"]
    lines = [
        f"policy {s['policy']}: success {s['successes']}/{s['episodes']} = {s['success_rate']:.1%} "
        f"(Wilson 95 % [{lo:.1%}, {hi:.1%}]); trials for ±5 pp: {s['trials_needed_5pp']}",
        f"SPL {s['spl_mean']:.3f}  SoftSPL {s['soft_spl_mean']:.3f}  "
        f"collision rate {s['collision_rate']:.1%}",
    ]
    if s["failure_reasons"]:
        lines.append("failures: " + ", ".join(f"{k} {v}" for k, v in sorted(s["failure_reasons"].items())))
    sens = s.get("instruction_sensitivity")
    if sens:
        lines.append(
            f"instruction sensitivity: went round the named side in {sens['named_side_rate']:.1%} of "
            f"{sens['episodes']} episodes (original {sens['original_named_side_rate']:.1%}, mirrored "
            f"{sens['flipped_named_side_rate']:.1%}); a language-blind policy scores ~50 %"
        )
    total = s["latency_ms"].get("total_ms")
    if total and total.get("n") and s.get("latency_basis"):
        target = s["latency_target"]
        warm = s.get("latency_warmup") or {}
        lines.append(
            f"policy latency per step (n={total['n']}): p50 {total['p50']:.2f} ms, "
            f"p95 {total['p95']:.2f} ms, max {total['max']:.2f} ms; target {target['criterion']}: "
            f"{'pass' if target['pass'] else 'FAIL'} ({warm.get('calls', 0)} warm-up calls excluded)"
        )
    width = max(len(k) for k in s["per_tag"]) if s["per_tag"] else 10
    lines.append(f"{'tag':<{width}}  {'n':>4}  {'success':>8}  wilson95")
    for key, stats in s["per_tag"].items():
        lo, hi = stats["wilson95"]
        lines.append(
            f"{key:<{width}}  {stats['episodes']:>4}  {stats['success_rate']:>8.1%}  [{lo:.1%}, {hi:.1%}]"
        )
    return "\n".join(lines)
