"""Static figures of the evaluation reports (matplotlib, Agg backend): trajectories, latency, sim2real.

Top-down plots use the world frame (metres, x forward from the start, y left, yaw radians CCW) drawn
the way the robot sees it: x points up the page and y to the LEFT, so "left of the obstacle" is left
in the picture. Every function writes a PNG atomically and returns its path.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Circle, Polygon, Rectangle, Wedge  # noqa: E402

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


def save_figure(fig: Figure, out_png: str | os.PathLike, dpi: int = 100) -> Path:
    """Render ``fig`` to PNG bytes, write them atomically to ``out_png`` and close the figure."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    finally:
        plt.close(fig)
    return atomic_write_bytes(out_png, buffer.getvalue())


# --------------------------------------------------------------------------- scene drawing


def _xy(x: float, y: float) -> tuple[float, float]:
    """World (x, y) → plot (horizontal, vertical): horizontal is y (axis inverted: left is left)."""
    return y, x


def box_corners(x: float, y: float, yaw: float, hx: float, hy: float) -> list[tuple[float, float]]:
    """World (x, y) corners of a rectangle of half-extents ``hx``, ``hy`` (m) rotated by ``yaw`` (rad)."""
    c, s = math.cos(yaw), math.sin(yaw)
    return [
        (x + c * dx - s * dy, y + s * dx + c * dy) for dx, dy in ((hx, hy), (-hx, hy), (-hx, -hy), (hx, -hy))
    ]


def _draw_body(
    ax: Any, body: Mapping[str, Any], face: str, edge: str, alpha: float, label: str | None
) -> None:
    if "half_extents" in body:
        hx, hy = float(body["half_extents"][0]), float(body["half_extents"][1])
        corners = box_corners(float(body["x"]), float(body["y"]), float(body.get("yaw", 0.0)), hx, hy)
        patch = Polygon(
            [_xy(*c) for c in corners], closed=True, facecolor=face, edgecolor=edge, alpha=alpha, label=label
        )
    elif "radius" in body:
        patch = Circle(
            _xy(float(body["x"]), float(body["y"])),
            float(body["radius"]),
            facecolor=face,
            edgecolor=edge,
            alpha=alpha,
            label=label,
        )
    else:
        raise ValueError(f"scene body {dict(body)!r} has neither 'half_extents' nor 'radius'")
    ax.add_patch(patch)


def draw_scene(ax: Any, scene: Mapping[str, Any], alpha: float = 1.0, labels: bool = True) -> None:
    """Arena bounds, obstacles, distractors, target and goal region of one ``scene`` dict."""
    xmin, xmax, ymin, ymax = (float(v) for v in scene["arena"])
    if labels:
        ax.add_patch(
            Rectangle(
                (ymin, xmin),
                ymax - ymin,
                xmax - xmin,
                fill=False,
                edgecolor="black",
                linewidth=1.5,
                label="arena",
            )
        )
    for i, body in enumerate(scene.get("obstacles", [])):
        _draw_body(ax, body, "#8d6e63", "#4e342e", 0.8 * alpha, "obstacle" if labels and i == 0 else None)
    for i, body in enumerate(scene.get("distractors", [])):
        _draw_body(ax, body, "#bdbdbd", "#616161", 0.7 * alpha, "distractor" if labels and i == 0 else None)
    goal = scene.get("goal")
    if goal:
        ax.add_patch(
            Circle(
                _xy(float(goal["x"]), float(goal["y"])),
                float(goal["radius"]),
                facecolor="#a5d6a7",
                edgecolor="#2e7d32",
                linestyle="--",
                alpha=0.5 * alpha,
                label="goal region" if labels else None,
            )
        )
        heading = goal.get("heading")
        if heading is not None and labels:
            tol = math.degrees(float(goal.get("heading_tol", 0.0)))
            # Wedge angles are in data coordinates (horizontal = y, vertical = x): world yaw θ, the
            # direction (cos θ, sin θ) in (x, y), is the data angle atan2(cos θ, sin θ) = 90° − θ.
            centre = 90.0 - math.degrees(float(heading))
            ax.add_patch(
                Wedge(
                    _xy(float(goal["x"]), float(goal["y"])),
                    float(goal["radius"]) * 0.9,
                    centre - tol,
                    centre + tol,
                    facecolor="#2e7d32",
                    alpha=0.25 * alpha,
                )
            )
    target = scene.get("target")
    if target:
        _draw_body(
            ax, target, "#42a5f5", "#0d47a1", alpha, f"target ({target.get('kind', '?')})" if labels else None
        )


def _draw_robot(ax: Any, pose: Sequence[float], radius: float, colour: str) -> None:
    x, y, yaw = (float(v) for v in pose[:3])
    ax.add_patch(Circle(_xy(x, y), radius, fill=False, edgecolor=colour, linewidth=1.2, alpha=0.9))
    tip = (x + radius * math.cos(yaw), y + radius * math.sin(yaw))
    ax.plot([y, tip[1]], [x, tip[0]], color=colour, linewidth=1.2)


def plot_trajectories(
    episodes: Sequence[Mapping[str, Any]], out_png: str | os.PathLike, title: str | None = None
) -> Path:
    """Top-down plot of all ``episodes`` of one scenario, trajectories coloured by outcome.

    Draws the first episode's scene (other layouts, when randomised, faintly), each trajectory
    (``[[x, y, yaw], ...]``, metres/radians, world frame) with a start marker and the robot footprint
    (``scene.robot_radius``) at its final pose, and a legend with outcome counts.
    """
    if not episodes:
        raise ValueError(f"plot_trajectories({out_png}): no episodes to plot")
    scenes = [ep.get("scene") for ep in episodes if ep.get("scene")]
    fig, ax = plt.subplots(figsize=(5.5, 6.5))
    if scenes:
        draw_scene(ax, scenes[0])
        seen = {repr(scenes[0])}
        for scene in scenes[1:]:
            if repr(scene) not in seen:
                seen.add(repr(scene))
                draw_scene(ax, scene, alpha=0.25, labels=False)
    counts: dict[str, int] = {}
    for ep in episodes:
        name = outcome(ep)
        counts[name] = counts.get(name, 0) + 1
        colour = outcome_colour(name)
        traj = [p for p in (ep.get("trajectory") or []) if len(p) >= 2]
        if not traj:
            continue
        xs = [float(p[0]) for p in traj]
        ys = [float(p[1]) for p in traj]
        ax.plot(ys, xs, color=colour, linewidth=1.4, alpha=0.85)
        ax.plot(ys[0], xs[0], marker="o", color="black", markersize=4)
        if len(traj[-1]) >= 3:
            radius = float((ep.get("scene") or {}).get("robot_radius", 0.15))
            _draw_robot(ax, traj[-1], radius, colour)
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], marker="o", color="black", linestyle="", markersize=4, label="start"))
    for name in sorted(counts, key=lambda n: (n != "success", n)):
        handles.append(
            Line2D([], [], color=outcome_colour(name), linewidth=2, label=f"{name} ({counts[name]})")
        )
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.set_aspect("equal")
    ax.autoscale_view()
    if scenes:
        xmin, xmax, ymin, ymax = (float(v) for v in scenes[0]["arena"])
        ax.set_xlim(ymax + 0.1, ymin - 0.1)  # inverted: +y (left) on the left
        ax.set_ylim(xmin - 0.1, xmax + 0.1)
    else:
        ax.invert_xaxis()
    ax.set_xlabel("y (m, left ←)")
    ax.set_ylabel("x (m, forward ↑)")
    scenario = episodes[0].get("scenario", "")
    ax.set_title(title or f"{scenario}: {counts.get('success', 0)}/{len(episodes)} success", fontsize=10)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    return save_figure(fig, out_png)


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
