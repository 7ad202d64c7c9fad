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

import numpy as np
from matplotlib.collections import LineCollection, PatchCollection
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


def _body_patch(body: Mapping[str, Any], face: str, edge: str, alpha: float, label: str | None) -> Any:
    if "half_extents" in body:
        hx, hy = float(body["half_extents"][0]), float(body["half_extents"][1])
        corners = box_corners(float(body["x"]), float(body["y"]), float(body.get("yaw", 0.0)), hx, hy)
        return Polygon(
            [_xy(*c) for c in corners], closed=True, facecolor=face, edgecolor=edge, alpha=alpha, label=label
        )
    if "radius" in body:
        return Circle(
            _xy(float(body["x"]), float(body["y"])),
            float(body["radius"]),
            facecolor=face,
            edgecolor=edge,
            alpha=alpha,
            label=label,
        )
    raise ValueError(f"scene body {dict(body)!r} has neither 'half_extents' nor 'radius'")


def scene_patches(scene: Mapping[str, Any], alpha: float = 1.0, labels: bool = True) -> list[Any]:
    """Patches of one ``scene`` dict: arena bounds (with ``labels``), obstacles, distractors, goal region
    (and, with ``labels``, its heading tolerance) and target, in drawing order."""
    patches = []
    xmin, xmax, ymin, ymax = (float(v) for v in scene["arena"])
    if labels:
        patches.append(
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
        label = "obstacle" if labels and i == 0 else None
        patches.append(_body_patch(body, "#8d6e63", "#4e342e", 0.8 * alpha, label))
    for i, body in enumerate(scene.get("distractors", [])):
        label = "distractor" if labels and i == 0 else None
        patches.append(_body_patch(body, "#bdbdbd", "#616161", 0.7 * alpha, label))
    goal = scene.get("goal")
    if goal:
        patches.append(
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
            patches.append(
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
        label = f"target ({target.get('kind', '?')})" if labels else None
        patches.append(_body_patch(target, "#42a5f5", "#0d47a1", alpha, label))
    return patches


def draw_scene(ax: Any, scene: Mapping[str, Any], alpha: float = 1.0, labels: bool = True) -> None:
    """Arena bounds, obstacles, distractors, target and goal region of one ``scene`` dict."""
    for patch in scene_patches(scene, alpha, labels):
        ax.add_patch(patch)


def _draw_scenes(ax: Any, episodes: Sequence[Mapping[str, Any]], labels: bool = True) -> dict | None:
    """The first episode's scene, other layouts (when randomised) faintly in one collection; returns the
    first scene."""
    scenes = [ep.get("scene") for ep in episodes if ep.get("scene")]
    if not scenes:
        return None
    draw_scene(ax, scenes[0], labels=labels)
    seen = {repr(scenes[0])}
    faint = []
    for scene in scenes[1:]:
        if repr(scene) not in seen:
            seen.add(repr(scene))
            faint += scene_patches(scene, alpha=0.25, labels=False)
    if faint:
        ax.add_collection(PatchCollection(faint, match_original=True))
    return scenes[0]


def _draw_episodes(
    ax: Any, episodes: Sequence[Mapping[str, Any]], linewidth: float = 1.4, marker: float = 4.0
) -> dict[str, int]:
    """Each trajectory coloured by outcome, a start marker and the footprint (with a heading tick) at
    the final pose; returns the count per outcome. A few collections per axes, not artists per episode
    (a 200-episode overview would otherwise hold about a thousand artists)."""
    counts: dict[str, int] = {}
    paths, colours, starts, robots, robot_colours, ticks = [], [], [], [], [], []
    for ep in episodes:
        name = outcome(ep)
        counts[name] = counts.get(name, 0) + 1
        colour = outcome_colour(name)
        traj = [p for p in (ep.get("trajectory") or []) if len(p) >= 2]
        if not traj:
            continue
        paths.append([_xy(float(p[0]), float(p[1])) for p in traj])
        colours.append(colour)
        starts.append(paths[-1][0])
        if len(traj[-1]) >= 3:
            radius = float((ep.get("scene") or {}).get("robot_radius", 0.15))
            x, y, yaw = (float(v) for v in traj[-1][:3])
            robots.append(Circle(_xy(x, y), radius))
            robot_colours.append(colour)
            ticks.append([_xy(x, y), _xy(x + radius * math.cos(yaw), y + radius * math.sin(yaw))])
    if paths:
        ax.add_collection(LineCollection(paths, colors=colours, linewidths=linewidth, alpha=0.85))
        ax.scatter(*zip(*starts, strict=True), s=marker**2, color="black", marker="o", zorder=3, linewidths=0)
    if robots:
        ax.add_collection(
            PatchCollection(robots, facecolors="none", edgecolors=robot_colours, linewidths=1.2, alpha=0.9)
        )
        ax.add_collection(LineCollection(ticks, colors=robot_colours, linewidths=1.2))
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


def _grid_lines(
    ax: Any, x_ticks: bool, y_ticks: bool, step_m: float = 0.5, label_step_m: float = 1.0
) -> None:
    """Faint grid lines every ``step_m`` metres inside the current limits, ticks every ``label_step_m``
    only on the axes asked for (outer panels); the grid is one collection, since tick objects (which
    ``ax.grid`` needs) are most of a small multiple's cost."""
    segments = []
    for axis, (lo, hi), other, ticks in (
        (ax.xaxis, ax.get_xlim(), ax.get_ylim(), x_ticks),
        (ax.yaxis, ax.get_ylim(), ax.get_xlim(), y_ticks),
    ):
        lo, hi = min(lo, hi), max(lo, hi)
        values = np.arange(math.ceil(lo / step_m), math.floor(hi / step_m) + 1) * step_m
        labelled = values[np.isclose(np.round(values / label_step_m) * label_step_m, values)]
        axis.set_ticks(labelled if ticks else [])
        for v in values:
            ends = [(v, other[0]), (v, other[1])]
            segments.append(ends if axis is ax.xaxis else [(e[1], e[0]) for e in ends])
    ax.add_collection(LineCollection(segments, colors="#b0b0b0", linewidths=0.3, alpha=0.5, zorder=0.5))


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
        _grid_lines(ax, x_ticks=k >= len(groups) - columns, y_ticks=k % columns == 0)
        # A plain text, not set_title: matplotlib re-measures every tick to place each axes title.
        ax.text(0.5, 1.02, name, transform=ax.transAxes, ha="center", va="bottom", fontsize=6.5)
        ax.tick_params(labelsize=6, length=2, pad=1)
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
