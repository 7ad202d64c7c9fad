"""The ``eval.sim2real`` report: success per policy (sim vs real, Wilson and Newcombe intervals), ranking
consistency, the visual gap and the open-loop real-vs-sim table, with the matching warnings, built with
``eval.report_kit``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eval.report_kit import Doc, fmt_interval, fmt_num, fmt_pct


def render(result: Mapping[str, Any], out_dir: Path) -> Doc:
    """The Markdown/HTML document of a sim2real result (writes its PNGs into ``out_dir``)."""
    from eval.plots import plot_bars, plot_sim_vs_real

    doc = Doc()
    doc.heading("Sim2Real consistency", 1)
    doc.para(
        f"Created {result['created']}. Sim runs: {', '.join(result['sim_runs'])}. "
        f"Real trials: {result['real_trials_csv']}."
    )
    for warning in result.get("warnings") or []:
        doc.note(f"warning: {warning}", "warn")
    doc.heading("Success per policy")
    rows = result["policies"]
    doc.table(
        [
            "policy",
            "sim",
            "sim Wilson 95 %",
            "sim basis",
            "real",
            "real Wilson 95 %",
            "sim − real",
            "Newcombe 95 %",
        ],
        [
            [
                r["policy"],
                f"{r['sim_successes']}/{r['sim_episodes']} = {fmt_pct(r['sim_rate'])}",
                fmt_interval(r["sim_wilson95"]),
                r["sim_basis"],
                f"{r['real_successes']}/{r['real_trials']} = {fmt_pct(r['real_rate'])}",
                fmt_interval(r["real_wilson95"]),
                f"{100 * r['gap']:+.1f} pp",
                f"[{100 * r['gap_newcombe95'][0]:+.1f}, {100 * r['gap_newcombe95'][1]:+.1f}] pp",
            ]
            for r in rows
        ],
    )
    if result["unmatched"]["sim_only"] or result["unmatched"]["real_only"]:
        doc.para(
            f"Not compared (one side only): sim only: {', '.join(result['unmatched']['sim_only']) or '—'}; "
            f"real only: {', '.join(result['unmatched']['real_only']) or '—'}."
        )
    doc.table(
        ["policy", "scenario", "sim", "sim Wilson 95 %", "real", "real Wilson 95 %"],
        [
            [
                r["policy"],
                s["scenario"],
                f"{s['sim_successes']}/{s['sim_episodes']}",
                fmt_interval(s["sim_wilson95"]),
                f"{s['real_successes']}/{s['real_trials']}",
                fmt_interval(s["real_wilson95"]),
            ]
            for r in rows
            for s in r["per_scenario"]
        ],
    )
    if rows:
        png = plot_sim_vs_real(
            [
                {
                    "label": r["policy"],
                    "sim": r["sim_rate"],
                    "sim_lo": r["sim_wilson95"][0],
                    "sim_hi": r["sim_wilson95"][1],
                    "real": r["real_rate"],
                    "real_lo": r["real_wilson95"][0],
                    "real_hi": r["real_wilson95"][1],
                }
                for r in rows
            ],
            out_dir / "sim2real_success.png",
        )
        doc.figure(png, "Sim vs real success per policy (Wilson 95 %)", png.name)
    doc.heading("Ranking consistency")
    rk = result["ranking"]
    doc.table(
        ["policies", "Pearson r", "Spearman ρ", "MMRV (lower is better)"],
        [[rk["policies"], fmt_num(rk["pearson_r"]), fmt_num(rk["spearman_rho"]), fmt_num(rk["mmrv"])]],
    )
    if rk["note"]:
        doc.para(rk["note"])
    gap = result.get("visual_gap")
    doc.heading("Visual gap")
    if gap:
        doc.para(
            f"Fréchet distance between Gaussian fits of frame features, real vs sim, per tag. "
            f"Encoder: {gap['encoder']}."
        )
        doc.table(
            ["tag", "Fréchet distance", "real episodes", "real frames", "sim episodes", "sim frames"],
            [
                [
                    g["tag"],
                    fmt_num(g["frechet"], 4),
                    g["real_episodes"],
                    g["real_frames"],
                    g["sim_episodes"],
                    g["sim_frames"],
                ]
                for g in gap["tags"]
            ],
        )
        png = plot_bars(
            [g["tag"] for g in gap["tags"]],
            [g["frechet"] for g in gap["tags"]],
            out_dir / "sim2real_visual_gap.png",
            "Visual gap per tag",
            "Fréchet distance",
        )
        doc.figure(png, "Visual gap (Fréchet distance) per tag", png.name)
    else:
        doc.para("Not measured (give --real-data and --sim-data).")
    doc.heading("Open loop, real vs sim episodes")
    ol = result.get("open_loop") or []
    if ol:
        doc.table(
            [
                "policy",
                "tag",
                "real RMSE (model space)",
                "sim RMSE (model space)",
                "sim − real",
                "real dir. acc.",
                "sim dir. acc.",
            ],
            [
                [
                    r["policy"],
                    r["tag"],
                    fmt_num(r["real"]["rmse"]),
                    fmt_num(r["sim"]["rmse"]),
                    f"{r['rmse_gap']:+.3f}",
                    fmt_pct(r["real"]["direction_accuracy"]),
                    fmt_pct(r["sim"]["direction_accuracy"]),
                ]
                for r in ol
            ],
        )
    else:
        doc.para("Not measured (give --policy-data with --real-data and --sim-data).")
    return doc
