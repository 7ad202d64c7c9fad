"""The summary of a generated sim dataset, computed from its manifest lines.

Figures: episodes, frames, bytes; tag balance (observed share of every tag value vs the share the suite
requests); distinct action sequences per scenario (the real data's timing-memorisation trap is one key
sequence shared by every episode of a scenario); expert retries; and, for a run, wall time and rates.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any

from sim.suites import Suite
from sim.taxonomy import parse_scenario_name


def requested_tag_shares(suite: Suite) -> dict[str, dict[str, float]]:
    """``{axis: {tag: share}}`` the suite's proportions imply (shares of one axis sum to 1)."""
    shares: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for name, share in suite.proportions().items():
        _, tags = parse_scenario_name(name)
        for axis, value in tags.items():
            shares[axis][value] += share
    return {axis: dict(values) for axis, values in shares.items()}


def summarize(entries: list[dict[str, Any]], suite: Suite,
              run: dict[str, Any] | None = None) -> dict[str, Any]:
    """Summary of manifest lines (dicts with ``scenario``, ``frames``, ``bytes``, ``attempt``,
    ``actions_sha1``); ``run`` adds the run's own figures (``wall_s``, ``generated``, ``kept``, ...)."""
    n = len(entries)
    requested = requested_tag_shares(suite)
    observed: dict[str, Counter] = defaultdict(Counter)
    for e in entries:
        _, tags = parse_scenario_name(e["scenario"])
        for axis, value in tags.items():
            observed[axis][value] += 1
    balance = {}
    for axis in sorted(set(requested) | set(observed)):
        values = sorted(set(requested.get(axis, {})) | set(observed[axis]))
        balance[axis] = {
            v: {"episodes": observed[axis][v], "observed": observed[axis][v] / n if n else 0.0,
                "requested": requested.get(axis, {}).get(v, 0.0)}
            for v in values
        }
    per_scenario: dict[str, Counter] = defaultdict(Counter)
    for e in entries:
        per_scenario[e["scenario"]][e["actions_sha1"]] += 1
    sequences = {}
    for name, c in sorted(per_scenario.items()):
        count = sum(c.values())
        sequences[name] = {"episodes": count, "distinct": len(c), "top_share": max(c.values()) / count}
    distinct_ratio = [s["distinct"] / s["episodes"] for s in sequences.values()]
    attempts = [int(e.get("attempt", 0)) for e in entries]
    summary: dict[str, Any] = {
        "episodes": n,
        "frames": sum(int(e["frames"]) for e in entries),
        "bytes": sum(int(e["bytes"]) for e in entries),
        "suite": suite.name,
        "scenarios": len(per_scenario),
        "tag_balance": balance,
        "max_tag_share_error": max(
            (abs(t["observed"] - t["requested"]) for axis in balance.values() for t in axis.values()),
            default=0.0,
        ),
        "distinct_sequences": {
            "total": sum(s["distinct"] for s in sequences.values()),
            "per_scenario_min": min((s["distinct"] for s in sequences.values()), default=0),
            "per_scenario_median": statistics.median([s["distinct"] for s in sequences.values()])
            if sequences else 0,
            "per_scenario_max": max((s["distinct"] for s in sequences.values()), default=0),
            "distinct_ratio_min": min(distinct_ratio, default=0.0),
            "largest_top_share": max((s["top_share"] for s in sequences.values()), default=0.0),
            "per_scenario": sequences,
        },
        "retries": {
            "extra_attempts": sum(attempts),
            "episodes_retried": sum(a > 0 for a in attempts),
            "max_attempt": max(attempts, default=0),
        },
    }
    if run:
        wall = float(run.get("wall_s", 0.0))
        generated = int(run.get("generated", 0))
        summary["run"] = {
            **run,
            "episodes_per_s": generated / wall if wall > 0 else 0.0,
            "frames_per_s": generated * (summary["frames"] / n if n else 0) / wall if wall > 0 else 0.0,
        }
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """Plain-text summary for the terminal."""
    n = summary["episodes"]
    mb = summary["bytes"] / 1e6
    lines = [
        f"episodes {n}  frames {summary['frames']}  size {mb:.1f} MB "
        f"({summary['bytes'] / n / 1e3 if n else 0:.0f} kB/episode)  suite {summary['suite']} "
        f"({summary['scenarios']} scenarios)",
    ]
    run = summary.get("run")
    if run:
        lines.append(
            f"this run: generated {run['generated']}, kept {run['kept']} (resumed), "
            f"wall {run['wall_s']:.1f} s, "
            f"{run['episodes_per_s']:.2f} episodes/s, {run['frames_per_s']:.1f} frames/s, "
            f"{run.get('renders', 0)} renders, workers {run.get('workers', 1)}"
        )
    r = summary["retries"]
    lines.append(f"expert retries: {r['extra_attempts']} extra attempts over {r['episodes_retried']} "
                 f"episodes (max attempt index {r['max_attempt']})")
    d = summary["distinct_sequences"]
    lines.append(
        f"distinct action sequences: {d['total']} over {n} episodes; per scenario min "
        f"{d['per_scenario_min']} / median {d['per_scenario_median']} / max {d['per_scenario_max']}; "
        f"lowest distinct ratio {d['distinct_ratio_min']:.2f}; largest share of one sequence in a scenario "
        f"{d['largest_top_share']:.2f}"
    )
    lines.append(f"tag balance (observed vs requested; max error {summary['max_tag_share_error']:.3f}):")
    for axis, tags in summary["tag_balance"].items():
        parts = [f"{tag} {t['episodes']} = {t['observed']:.1%} (req {t['requested']:.1%})"
                 for tag, t in tags.items()]
        lines.append(f"  {axis:<12} " + ", ".join(parts))
    return "\n".join(lines)
