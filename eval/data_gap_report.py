"""``report.html`` and the printed table of ``eval.data_gap``: side-by-side bar plots, TV per statistic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eval.plots import plt, save_figure
from eval.report_kit import Doc, fmt_num, fmt_pct, slug, text_table, write_doc

KEY_ORDER = ("w", "q", "e", "a", "d", "s", "z", "c", "r", "t", ".", "?", "-")
"""Display order: teleop keys, ``.`` stop, ``?`` a command outside the vocabulary, ``-`` no row."""
KEY_LABELS = {".": "stop", "?": "other", "-": "none"}
OVERALL = "overall"
"""The group of all episodes of each side (``eval.data_gap`` names the others by scenario)."""


def key_label(key: str) -> str:
    """The display name of a key (``w`` → ``W``, ``.`` → ``stop``)."""
    return KEY_LABELS.get(key, key.upper())


SIDE_COLOURS = ("#1f77b4", "#ff7f0e", "#7f7f7f")
KEY_COLOURS = {
    "w": "#1f77b4",
    "q": "#2ca02c",
    "e": "#d62728",
    "a": "#98df8a",
    "d": "#ff9896",
    "s": "#9467bd",
    "z": "#c5b0d5",
    "c": "#8c564b",
    "r": "#e377c2",
    "t": "#f7b6d2",
    ".": "#7f7f7f",
    "?": "#bcbd22",
    "-": "#ffffff",
}


def _ordered(*dists: Mapping[str, float]) -> list[str]:
    keys = set().union(*dists)
    known = [k for k in KEY_ORDER if k in keys]
    return known + sorted(keys - set(known), key=lambda k: (len(k), k))


def _grouped(
    ax: Any,
    dists: Sequence[Mapping[str, float]],
    names: Sequence[str],
    title: str,
    keys: Sequence[str] | None = None,
    label=key_label,
) -> None:
    keys = list(keys or _ordered(*dists))
    width = 0.8 / len(dists)
    for i, (dist, name) in enumerate(zip(dists, names, strict=True)):
        ax.bar(
            np.arange(len(keys)) + (i - (len(dists) - 1) / 2) * width,
            [dist.get(k, 0.0) for k in keys],
            width,
            label=name,
            color=SIDE_COLOURS[i],
        )
    ax.set_xticks(range(len(keys)), [label(k) for k in keys])
    ax.set_title(title, fontsize=9)
    ax.grid(True, axis="y", linewidth=0.3, alpha=0.5)


def _stacked(ax: Any, per_position: Sequence[Mapping[str, float]], keys: Sequence[str], title: str) -> None:
    bottom = np.zeros(len(per_position))
    xs = np.arange(1, len(per_position) + 1)
    for k in keys:
        vals = np.array([p.get(k, 0.0) for p in per_position])
        ax.bar(
            xs,
            vals,
            0.85,
            bottom=bottom,
            color=KEY_COLOURS.get(k, "#bcbd22"),
            label=key_label(k),
            edgecolor="#555" if k == "-" else None,
            linewidth=0.3,
        )
        bottom += vals
    ax.set_xticks(xs)
    ax.tick_params(labelsize=7)
    ax.set_xlabel("press")
    ax.set_title(title, fontsize=9)


def group_figures(
    name: str, group: Mapping[str, Any], labels: Sequence[str], out_dir: Path, ref: Mapping[str, Any] | None
) -> list[tuple[Path, str]]:
    """PNG figures of one scenario group: key mixes, per-position mix, presses and stops per episode."""
    a, b, tv = group["a"], group["b"], group["tv"]
    figs = []
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    shares = [a["key_shares"], b["key_shares"]]
    names = list(labels)
    if ref is not None:
        shares.append(ref["shares"])
        names.append(ref["label"])
    _grouped(axes[0], shares, names, f"key shares (TV {tv['key_shares']:.3f})")
    _grouped(
        axes[1], [a["first_press"], b["first_press"]], labels, f"first press (TV {tv['first_press']:.3f})"
    )
    _grouped(axes[2], [a["last_press"], b["last_press"]], labels, f"last press (TV {tv['last_press']:.3f})")
    axes[0].set_ylabel("share")
    axes[0].legend(fontsize=7)
    figs.append(
        (save_figure(fig, out_dir / f"{slug(name)}_keys.png"), f"{name}: key mix, first and last press")
    )

    keys = _ordered(*a["per_position"], *b["per_position"])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2), gridspec_kw={"width_ratios": [3, 3, 2]})
    _stacked(axes[0], a["per_position"], keys, f"{labels[0]}: key per press")
    _stacked(axes[1], b["per_position"], keys, f"{labels[1]}: key per press")
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    xs = np.arange(1, len(tv["per_position"]) + 1)
    axes[2].bar(xs, tv["per_position"], color="#9467bd")
    axes[2].axhline(tv["per_position_mean"], color="k", linewidth=0.8, linestyle="--")
    axes[2].set_ylim(0, 1)
    axes[2].set_title(f"TV per press (mean {tv['per_position_mean']:.3f})", fontsize=9)
    axes[2].set_xlabel("press")
    axes[2].set_xticks(xs)
    axes[2].tick_params(labelsize=7)
    fig.tight_layout()
    figs.append((save_figure(fig, out_dir / f"{slug(name)}_positions.png"), f"{name}: key at each press"))

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.0))
    for ax, key, title in (
        (axes[0], "presses_per_episode", "presses per episode"),
        (axes[1], "stop_rows_per_episode", "stop rows per episode"),
    ):
        hists = [a[key]["histogram"], b[key]["histogram"]]
        bins = sorted(set().union(*hists), key=float)
        _grouped(ax, hists, labels, f"{title} (TV {tv[key]:.3f})", bins, label=str)
    axes[0].legend(fontsize=7)
    figs.append((save_figure(fig, out_dir / f"{slug(name)}_counts.png"), f"{name}: presses and stop rows"))
    return figs


def _pair(a: Mapping[str, Any], b: Mapping[str, Any], key: str) -> str:
    return f"{fmt_num(a[key]['mean'], 2)} / {fmt_num(b[key]['mean'], 2)}"


def _row(name: str, g: Mapping[str, Any]) -> list[str]:
    a, b, tv = g["a"], g["b"], g["tv"]
    return [
        name,
        f"{a['episodes']} / {b['episodes']}",
        fmt_num(tv["key_shares"]),
        fmt_num(tv["per_position_mean"]),
        f"{fmt_pct(a['first_press'].get('w', 0.0))} / {fmt_pct(b['first_press'].get('w', 0.0))}",
        _pair(a, b, "stop_rows_per_episode"),
        _pair(a, b, "presses_per_episode"),
        f"{a['distinct_sequences']} ({fmt_pct(a['top_sequence_share'])}) / "
        f"{b['distinct_sequences']} ({fmt_pct(b['top_sequence_share'])})",
        fmt_num(tv["first_press"]),
        fmt_num(tv["last_press"]),
        fmt_num(tv["sequences"]),
    ]


HEADERS = [
    "scenario",
    "episodes A / B",
    "TV keys",
    "TV per press (mean)",
    "first W A / B",
    "stop rows/ep A / B",
    "presses/ep A / B",
    "distinct seqs (top share) A / B",
    "TV first",
    "TV last",
    "TV sequences",
]


def by_tag_table(ref: Mapping[str, Any], labels: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the key shares per scenario tag value against the reference (axes where a
    side has more than one value)."""
    sides = [(labels[0], ref.get("by_tag_a") or {}), (labels[1], ref.get("by_tag_b") or {})]
    groups = [g for _, axes in sides for values in axes.values() for g in values.values()]
    keys = _ordered(ref["shares"], *(g["key_shares"] for g in groups))
    headers = ["side", "tag", "episodes", *(key_label(k) for k in keys), f"TV vs {ref['label']}"]
    rows = [["reference", "all", "", *(fmt_pct(ref["shares"].get(k, 0.0)) for k in keys), ""]]
    for label, axes in sides:
        for axis, values in axes.items():
            if len(values) < 2:
                continue
            for value, g in values.items():
                shares = [fmt_pct(g["key_shares"].get(k, 0.0)) for k in keys]
                rows.append([label, f"{axis}: {value}", f"{g['episodes']:g}", *shares, fmt_num(g["tv"])])
    return headers, rows


def summary_rows(result: Mapping[str, Any]) -> list[list[str]]:
    return [_row(name, g) for name, g in result["groups"].items()]


def format_summary(result: Mapping[str, Any]) -> str:
    """A plain-text table of the headline figures (what the CLI prints)."""
    lines = [
        f"A = {result['a']['label']} ({result['a']['source']}), B = {result['b']['label']} "
        f"({result['b']['source']})"
    ]
    lines += text_table(HEADERS, summary_rows(result))
    ref = result.get("key_shares_reference")
    if ref:
        lines.append(f"overall key shares vs {ref['label']}: TV A {ref['tv_a']:.3f}, TV B {ref['tv_b']:.3f}")
        headers, rows = by_tag_table(ref, [result["a"]["label"], result["b"]["label"]])
        if len(rows) > 1:
            lines.append("key shares by scenario tag:")
            lines += text_table(headers, rows, indent="  ")
    for row in (result.get("visual") or {}).get("rows", []):
        lines.append(
            f"visual Fréchet gap {row['tag']}: {row['frechet']:.4f} "
            f"({row['real_frames']} / {row['sim_frames']} frames)"
        )
    return "\n".join(lines)


def write_report(result: Mapping[str, Any], out_dir: str | Path) -> Path:
    """Write the self-contained ``report.html`` (figures embedded) into ``out_dir``."""
    out_dir = Path(out_dir)
    fig_dir = out_dir / "figures"
    labels = [result["a"]["label"], result["b"]["label"]]
    doc = Doc()
    doc.heading(f"Data gap: {labels[0]} vs {labels[1]}", 1)
    doc.para(
        f"A = {labels[0]} ({result['a']['source']}, {result['a']['episodes']} episodes); "
        f"B = {labels[1]} ({result['b']['source']}, {result['b']['episodes']} episodes). "
        "TV = total variation distance (0 identical, 1 disjoint); weights of real sequences count "
        "as episodes."
    )
    doc.heading("Summary")
    doc.table(HEADERS, summary_rows(result))
    ref = result.get("key_shares_reference")
    if ref:
        doc.para(
            f"Overall key shares against {ref['label']}: TV A {ref['tv_a']:.3f}, TV B {ref['tv_b']:.3f}."
        )
        headers, rows = by_tag_table(ref, labels)
        if len(rows) > 1:
            doc.heading("Key shares by scenario tag")
            doc.para(f"Each tag value on each side against {ref['label']}: where a gap comes from.")
            doc.table(headers, rows)
    visual = result.get("visual")
    if visual:
        doc.heading("Visual Fréchet gap")
        doc.para(f"Encoder: {visual['encoder']}.")
        doc.table(
            ["scenario", "Fréchet", "frames A", "frames B"],
            [[r["tag"], fmt_num(r["frechet"], 4), r["real_frames"], r["sim_frames"]] for r in visual["rows"]],
        )
    else:
        doc.para("Visual Fréchet gap: not computed (one side has no images, or --no-images).")
    for name, group in result["groups"].items():
        doc.heading(name if name != OVERALL else "Overall (all episodes of each side)")
        top = [
            [group[s]["top_sequence"], fmt_pct(group[s]["top_sequence_share"]), lab]
            for s, lab in (("a", labels[0]), ("b", labels[1]))
        ]
        doc.table(["most common sequence", "share", "side"], top)
        for png, caption in group_figures(name, group, labels, fig_dir, ref if name == OVERALL else None):
            doc.figure(png, caption, f"figures/{png.name}")
    title = f"Data gap: {labels[0]} vs {labels[1]}"
    return write_doc(doc, out_dir, "report", title, markdown=False)["html"]
