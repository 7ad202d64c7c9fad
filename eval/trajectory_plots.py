"""Top-down trajectory figures: one scenario in detail, or a whole run as small multiples.

The world frame (metres, x forward from the start, y left, yaw radians CCW) is drawn the way the robot
sees it: x points up the page and y to the LEFT, so "left of the obstacle" is left in the picture.
Every function writes a PNG atomically and returns its path.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Polygon, Rectangle, Wedge

from eval.plots import outcome, outcome_colour, plt, save_figure

GRID_COLUMNS = 8
"""Panels per row of a small-multiples figure."""


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


def _draw_scenes(ax: Any, episodes: Sequence[Mapping[str, Any]], labels: bool = True) -> dict | None:
    """The first episode's scene, other layouts (when randomised) faintly; returns the first scene."""
    scenes = [ep.get("scene") for ep in episodes if ep.get("scene")]
    if not scenes:
        return None
    draw_scene(ax, scenes[0], labels=labels)
    seen = {repr(scenes[0])}
    for scene in scenes[1:]:
        if repr(scene) not in seen:
            seen.add(repr(scene))
            draw_scene(ax, scene, alpha=0.25, labels=False)
    return scenes[0]


def _draw_episodes(
    ax: Any, episodes: Sequence[Mapping[str, Any]], linewidth: float = 1.4, marker: float = 4.0
) -> dict[str, int]:
    """Each trajectory coloured by outcome, a start marker and the footprint at the final pose;
    returns the count per outcome."""
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
        ax.plot(ys, xs, color=colour, linewidth=linewidth, alpha=0.85)
        ax.plot(ys[0], xs[0], marker="o", color="black", markersize=marker)
        if len(traj[-1]) >= 3:
            radius = float((ep.get("scene") or {}).get("robot_radius", 0.15))
            _draw_robot(ax, traj[-1], radius, colour)
    return counts


def _outcome_handles(counts: Mapping[str, int]) -> list[Line2D]:
    handles = [Line2D([], [], marker="o", color="black", linestyle="", markersize=4, label="start")]
    for name in sorted(counts, key=lambda n: (n != "success", n)):
        handles.append(
            Line2D([], [], color=outcome_colour(name), linewidth=2, label=f"{name} ({counts[name]})")
        )
    return handles


def _frame(ax: Any, scene: Mapping[str, Any] | None) -> None:
    """Equal aspect; the arena (with 0.1 m to spare) when known; +y (left) on the left."""
    ax.set_aspect("equal")
    ax.autoscale_view()
    if scene:
        xmin, xmax, ymin, ymax = (float(v) for v in scene["arena"])
        ax.set_xlim(ymax + 0.1, ymin - 0.1)
        ax.set_ylim(xmin - 0.1, xmax + 0.1)
    else:
        ax.invert_xaxis()


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
    fig, ax = plt.subplots(figsize=(5.5, 6.5))
    scene = _draw_scenes(ax, episodes)
    counts = _draw_episodes(ax, episodes)
    handles, _ = ax.get_legend_handles_labels()
    handles += _outcome_handles(counts)
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    _frame(ax, scene)
    ax.set_xlabel("y (m, left ←)")
    ax.set_ylabel("x (m, forward ↑)")
    scenario = episodes[0].get("scenario", "")
    ax.set_title(title or f"{scenario}: {counts.get('success', 0)}/{len(episodes)} success", fontsize=10)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    return save_figure(fig, out_png)


def plot_trajectory_grid(
    groups: Sequence[tuple[str, Sequence[Mapping[str, Any]]]],
    out_png: str | os.PathLike,
    title: str,
    columns: int = GRID_COLUMNS,
) -> Path:
    """Small multiples: one top-down panel per ``(panel title, episodes)`` group, one shared legend.

    Panels are drawn like ``plot_trajectories`` without per-panel labels, tick labels only on the
    outer panels; the layout is fixed (no tight cropping), so the figure is drawn once — a whole run
    costs about as much as two single-scenario figures.
    """
    if not groups:
        raise ValueError(f"plot_trajectory_grid({out_png}): no groups to plot")
    columns = max(1, min(columns, len(groups)))
    rows = math.ceil(len(groups) / columns)
    panel_w, panel_h, bottom, side = 1.55, 2.05, 0.45, 0.45
    fig_w = max(columns * panel_w + side + 0.1, 6.5)
    totals = Counter(outcome(ep) for _, eps in groups for ep in eps)
    legend_cols = max(2, min(len(totals) + 1, int(fig_w / 1.4)))
    legend_rows = math.ceil((len(totals) + 1) / legend_cols)
    top = 0.45 + 0.2 * legend_rows + 0.3  # title, legend, two-line panel titles
    fig_h = rows * panel_h + top + bottom
    fig, axes = plt.subplots(rows, columns, figsize=(fig_w, fig_h), squeeze=False)
    fig.subplots_adjust(
        left=side / fig_w,
        right=min(1 - 0.1 / fig_w, (side + columns * panel_w) / fig_w),
        bottom=bottom / fig_h,
        top=1 - top / fig_h,
        wspace=0.08,
        hspace=0.35,
    )
    for k, ax in enumerate(axes.flat):
        if k >= len(groups):
            ax.set_axis_off()
            continue
        name, episodes = groups[k]
        scene = _draw_scenes(ax, episodes, labels=False)
        _draw_episodes(ax, episodes, linewidth=0.9, marker=2.0)
        _frame(ax, scene)
        ax.set_title(name, fontsize=6.5)
        ax.tick_params(labelsize=6, length=2, pad=1)
        if k % columns:
            ax.tick_params(labelleft=False)
        if k < len(groups) - columns:
            ax.tick_params(labelbottom=False)
        ax.grid(True, linewidth=0.3, alpha=0.5)
    fig.suptitle(title, x=side / fig_w, y=1 - 0.1 / fig_h, ha="left", va="top", fontsize=9)
    fig.legend(
        handles=_outcome_handles(totals),
        loc="upper left",
        ncol=legend_cols,
        fontsize=7,
        frameon=False,
        bbox_to_anchor=(side / fig_w - 0.01, 1 - 0.35 / fig_h),
    )
    fig.text(side / fig_w, 0.12 / fig_h, "panels: y (m, left ←) across, x (m, forward ↑) up", fontsize=7)
    return save_figure(fig, out_png, dpi=90, tight=False)
