"""Static figures of the evaluation reports (matplotlib, Agg backend): latency, comparisons, sim2real,
plus the shared outcome colours and PNG writer (top-down trajectory plots: ``eval.trajectory_plots``).

Every function writes a PNG atomically and returns its path.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from common.files import atomic_write_bytes  # noqa: E402
from eval.targets import LATENCY_STATISTIC, LATENCY_TARGET_MS  # noqa: E402

OUTCOME_COLOURS: dict[str, str] = {
    "success": "#2ca02c",
    "collision": "#d62728",
    "timeout": "#ff7f0e",
    "stopped_short": "#bcbd22",
    "wrong_side": "#9467bd",
    "left_arena": "#8c564b",
    "policy_error": "#17becf",
}
"""Colour of a trajectory by outcome; an unknown failure reason is grey."""

OTHER_COLOUR = "#7f7f7f"
LATENCY_COMPONENTS = ("preprocess_ms", "vlm_ms", "head_ms", "postprocess_ms")
VLM_PARTS = ("vision_ms", "lm_ms")
"""Parts of ``vlm_ms`` (the VLA policy's breakdown): listed in tables, never stacked on top of it."""


def outcome(episode: Mapping[str, Any]) -> str:
    """``"success"`` or the episode's failure reason (``"failure"`` when none is recorded)."""
    if episode.get("success"):
        return "success"
    return str(episode.get("failure_reason") or "failure")


def outcome_colour(name: str) -> str:
    return OUTCOME_COLOURS.get(name, OTHER_COLOUR)


def save_figure(fig: Figure, out_png: str | os.PathLike, dpi: int = 100, tight: bool = True) -> Path:
    """Render ``fig`` to PNG bytes, write them atomically to ``out_png`` and close the figure.

    ``tight`` crops to the drawn content (matplotlib then draws the figure twice); figures laid out
    with fixed margins pass ``tight=False`` and are drawn once."""
    buffer = io.BytesIO()
    try:
        fig.savefig(
            buffer,
            format="png",
            dpi=dpi,
            bbox_inches="tight" if tight else None,
            metadata={"Software": None},
        )
    finally:
        plt.close(fig)
    return atomic_write_bytes(out_png, buffer.getvalue())


# --------------------------------------------------------------------------- latency


def _stat(stats: Mapping[str, Any] | None, key: str) -> float:
    value = (stats or {}).get(key)
    return float(value) if value is not None else 0.0


def plot_latency(
    summary: Mapping[str, Any], out_png: str | os.PathLike, target_ms: float = LATENCY_TARGET_MS
) -> Path:
    """Per-step latency breakdown (ms): stacked component bars at p50/p95/max, total marked, target line.

    Reads ``summary["latency_ms"]`` (``{"total_ms": {p50, p95, max, mean, n}, "vlm_ms": ..., ...}``);
    the part of the total no component accounts for is drawn as "other". Component percentiles do
    not add exactly to the total's, so the total's own value is marked separately.
    """
    latency = summary.get("latency_ms") or {}
    total = latency.get("total_ms") or {}
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    stats = ("p50", "p95", "max")
    if not total.get("n"):
        ax.text(0.5, 0.5, "no latency data", ha="center", va="center", transform=ax.transAxes)
    else:
        components = [c for c in LATENCY_COMPONENTS if (latency.get(c) or {}).get("n")]
        extra = sorted(
            k
            for k in latency
            if k not in (*LATENCY_COMPONENTS, *VLM_PARTS, "total_ms")
            and isinstance(latency.get(k), Mapping)
            and latency[k].get("n")
        )
        components += extra
        cmap = plt.get_cmap("tab10")
        xs = list(range(len(stats)))
        bottoms = [0.0] * len(stats)
        for i, comp in enumerate(components):
            heights = [_stat(latency[comp], s) for s in stats]
            ax.bar(xs, heights, bottom=bottoms, width=0.55, color=cmap(i), label=comp.removesuffix("_ms"))
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
        others = [max(0.0, _stat(total, s) - b) for s, b in zip(stats, bottoms, strict=True)]
        if any(o > 0 for o in others):
            ax.bar(xs, others, bottom=bottoms, width=0.55, color="#dddddd", label="other")
        ax.scatter(
            xs, [_stat(total, s) for s in stats], marker="_", s=900, color="black", zorder=3, label="total"
        )
        ax.set_xticks(xs, [f"{s}\n{_stat(total, s):.1f} ms" for s in stats])
    ax.axhline(
        target_ms,
        color="#d62728",
        linestyle="--",
        linewidth=1.2,
        label=f"target: {LATENCY_STATISTIC} < {target_ms:.0f} ms",
    )
    in_loop = summary.get("latency_in_loop") or {}
    mode = in_loop.get("mode", "none")
    suffix = f" · in-loop latency: {mode}"
    if mode != "none" and in_loop.get("delay_ms") is not None:
        suffix += f" {float(in_loop['delay_ms']):.0f} ms"
    ax.set_title(f"Per-step latency (n={total.get('n', 0)}){suffix}", fontsize=10)
    ax.set_ylabel("ms per control step")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(True, axis="y", linewidth=0.3, alpha=0.5)
    return save_figure(fig, out_png)


# --------------------------------------------------------------------------- comparisons


def plot_success_intervals(
    rows: Sequence[Mapping[str, Any]],
    out_png: str | os.PathLike,
    title: str = "Success rate (Wilson 95 %)",
    reference: float | None = None,
) -> Path:
    """Horizontal interval plot: one row per ``{"label", "rate", "lo", "hi"}`` (fractions)."""
    fig, ax = plt.subplots(figsize=(6.0, 0.5 * len(rows) + 1.5))
    for i, row in enumerate(rows):
        rate, lo, hi = float(row["rate"]), float(row["lo"]), float(row["hi"])
        ax.errorbar(
            rate, i, xerr=[[rate - lo], [hi - rate]], fmt="o", color=row.get("colour", "#1f77b4"), capsize=4
        )
    ax.set_yticks(range(len(rows)), [str(r["label"]) for r in rows])
    if reference is not None:
        ax.axvline(reference, color="#d62728", linestyle="--", linewidth=1.0)
    ax.set_xlim(-0.02, 1.02)
    ax.invert_yaxis()
    ax.set_xlabel("success rate")
    ax.set_title(title, fontsize=10)
    ax.grid(True, axis="x", linewidth=0.3, alpha=0.5)
    return save_figure(fig, out_png)


def plot_sim_vs_real(
    points: Sequence[Mapping[str, Any]], out_png: str | os.PathLike, title: str = ""
) -> Path:
    """Scatter of per-policy success, sim (x) vs real (y), with Wilson 95 % bars and the diagonal.

    Each point: ``{"label", "sim", "sim_lo", "sim_hi", "real", "real_lo", "real_hi"}`` (fractions).
    """
    fig, ax = plt.subplots(figsize=(5.0, 5.0))
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1.0)
    for p in points:
        s, r = float(p["sim"]), float(p["real"])
        ax.errorbar(
            s,
            r,
            xerr=[[s - float(p["sim_lo"])], [float(p["sim_hi"]) - s]],
            yerr=[[r - float(p["real_lo"])], [float(p["real_hi"]) - r]],
            fmt="o",
            capsize=3,
        )
        ax.annotate(str(p["label"]), (s, r), textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("sim success rate")
    ax.set_ylabel("real success rate")
    ax.set_title(title or "Sim vs real success per policy", fontsize=10)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    return save_figure(fig, out_png)


def plot_bars(
    labels: Sequence[str], values: Sequence[float], out_png: str | os.PathLike, title: str, ylabel: str
) -> Path:
    """A plain bar chart (e.g. the sim2real visual gap per tag)."""
    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(labels) + 2.0), 3.5))
    ax.bar(range(len(labels)), [float(v) for v in values], color="#1f77b4")
    ax.set_xticks(range(len(labels)), [str(label) for label in labels], rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, axis="y", linewidth=0.3, alpha=0.5)
    return save_figure(fig, out_png)
