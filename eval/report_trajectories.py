"""The trajectories section of the closed-loop report: an overview of every scenario, details of failures.

One small-multiples figure per instruction kind (``trajectories_overview.png``, and
``trajectories_overview_mirrored.png`` for the mirrored-instruction twins) shows every scenario of the
run; scenarios with failures (for twins: episodes that did not go round the named side) also get their
own figure, ``trajectories_<scenario>[_mirrored].png``, most failures first, at most
``MAX_DETAIL_FIGURES``. A figure per scenario for every scenario cost about 0.4 s each (96 for a
100-episode run of ``bottle_2025``), more than the episodes themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.report_kit import Doc, slug
from eval.summary import went_named_side

MAX_DETAIL_FIGURES = 8
"""Scenarios with failures that get their own trajectory figure (the overview shows every one)."""
GRID_PNG = "trajectories_overview.png"
GRID_PNG_MIRRORED = "trajectories_overview_mirrored.png"


def _group_failed(eps: Sequence[Mapping[str, Any]], flipped: bool) -> int:
    """Episodes of a group that count against it: failures, or (mirrored) not the named side."""
    if flipped:
        return sum(1 for e in eps if not went_named_side(e))
    return sum(1 for e in eps if not e["success"])


def _group_caption(name: str, eps: Sequence[Mapping[str, Any]], flipped: bool, failed: int) -> str:
    if flipped:
        return f"{name} (mirrored instruction): went the named side {len(eps) - failed}/{len(eps)}"
    return f"{name}: {len(eps) - failed}/{len(eps)} success"


def trajectories_section(
    doc: Doc, episodes: Sequence[Mapping[str, Any]], run_dir: Path, max_details: int = MAX_DETAIL_FIGURES
) -> list[Path]:
    """One small-multiples overview per instruction kind (every scenario), then one detailed figure
    per scenario that had failures, most failures first, at most ``max_details``."""
    from eval.trajectory_plots import plot_trajectories, plot_trajectory_grid

    doc.heading("Trajectories")
    by_scenario: dict[tuple[str, bool], list[Mapping[str, Any]]] = {}
    for ep in episodes:
        by_scenario.setdefault((ep["scenario"], bool(ep.get("instruction_flipped"))), []).append(ep)
    failed = {key: _group_failed(eps, key[1]) for key, eps in by_scenario.items()}
    pngs = []
    for flipped in (False, True):
        groups = [(key, eps) for key, eps in sorted(by_scenario.items()) if key[1] == flipped]
        if not groups:
            continue
        png_name = GRID_PNG_MIRRORED if flipped else GRID_PNG
        kind = "mirrored instruction: went the named side" if flipped else "success"
        panels = [(f"{key[0]}\n{len(eps) - failed[key]}/{len(eps)}", eps) for key, eps in groups]
        title = f"Every scenario ({kind} per panel), {sum(len(e) for _, e in groups)} episodes"
        png = plot_trajectory_grid(panels, run_dir / png_name, title=title)
        doc.figure(png, title, png_name)
        pngs.append(png)
    failing = sorted((key for key in by_scenario if failed[key]), key=lambda key: (-failed[key], key))
    if failing:
        shown = failing[:max_details]
        doc.para(f"Scenarios with failures in detail: {len(shown)} of {len(failing)}, most failures first.")
    for name, flipped in failing[:max_details]:
        eps = by_scenario[name, flipped]
        png_name = f"trajectories_{slug(name)}{'_mirrored' if flipped else ''}.png"
        caption = _group_caption(name, eps, flipped, failed[name, flipped])
        png = plot_trajectories(eps, run_dir / png_name, title=caption)
        doc.figure(png, caption, png_name)
        pngs.append(png)
    return pngs
