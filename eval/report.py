"""Closed-loop run report: ``results.json`` → self-contained ``report.html`` + ``report.md`` (+ PNGs).

``write_report(run_dir)`` reads the run directory the closed-loop runner wrote (``results.json`` and
the ``videos/*.gif`` its episodes reference) and writes, atomically, into the same directory:
``report.html`` (every figure and video embedded as a base64 data URI, so it opens offline and can
be mailed), ``report.md`` (the same tables, with ``latency.png`` and the trajectory figures of
``eval.report_trajectories`` beside it) and those PNGs. The page is built with ``eval.report_kit``
(shared by every report); the rows are read through ``eval.results``.

CLI: ``python -m eval.report RUN_DIR [--max-videos N]``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from common.cli import run_main
from eval import metrics
from eval.provenance import provenance_section
from eval.report_kit import (
    Doc,
    data_uri,
    esc,
    fmt_interval,
    fmt_num,
    fmt_pct,
    fmt_rate,
    write_doc,
)
from eval.report_trajectories import trajectories_section
from eval.results import RESULTS_FILE, ResultsError, load_results, main_episodes

__all__ = ["RESULTS_FILE", "ResultsError", "load_results", "write_report"]
REPORT_STEM = "report"
LATENCY_PNG = "latency.png"
MAX_VIDEOS = 6
MAX_EMBED_BYTES = 8 * 1024 * 1024
"""Videos larger than this are linked, not embedded, to keep ``report.html`` openable."""

VIDEO_MIME = {".gif": "image/gif", ".mp4": "video/mp4", ".webm": "video/webm"}


# --------------------------------------------------------------------------- sections


def _headline(doc: Doc, summary: Mapping[str, Any]) -> None:
    n, k = summary["episodes"], summary["successes"]
    rate = summary.get("success_rate", k / n if n else None)
    interval = summary.get("wilson95") or metrics.wilson_interval(k, n)
    needed = summary.get("trials_needed_5pp")
    if needed is None and rate is not None:
        needed = metrics.trials_needed(float(rate))
    text = f"Success: {fmt_rate(k, n, interval)} (Wilson 95 %)"
    doc.raw(f'<p class="headline"><b>{esc(text)}</b></p>', f"**{text}**\n")
    enough = "" if needed is None else (" — enough" if n >= needed else f" — {needed - n} more needed")
    doc.table(
        ["metric", "value"],
        [
            ["episodes", n],
            ["successes", k],
            ["success rate", fmt_pct(rate)],
            ["Wilson 95 % interval", fmt_interval(interval)],
            ["episodes needed for ±5 pp at this rate", f"{needed}{enough}" if needed is not None else "—"],
            ["SPL (mean)", fmt_num(summary.get("spl_mean"))],
            ["SoftSPL (mean)", fmt_num(summary.get("soft_spl_mean"))],
            ["collision rate", fmt_pct(summary.get("collision_rate"))],
        ],
    )


def _failures(doc: Doc, summary: Mapping[str, Any], episodes: Sequence[Mapping[str, Any]]) -> None:
    doc.heading("Failure reasons")
    reasons = summary.get("failure_reasons")
    if reasons is None:
        reasons = {}
        for ep in main_episodes(episodes):
            if not ep["success"]:
                key = str(ep.get("failure_reason") or "unknown")
                reasons[key] = reasons.get(key, 0) + 1
    n = summary["episodes"]
    if not reasons:
        doc.para("No failures.")
        return
    rows = [[r, c, fmt_pct(c / n) if n else "—"] for r, c in sorted(reasons.items(), key=lambda kv: -kv[1])]
    doc.table(["reason", "episodes", "share of all episodes"], rows)


def _rate_row(label: str, stats: Mapping[str, Any]) -> list[Any]:
    n, k = int(stats.get("episodes", 0)), int(stats.get("successes", 0))
    interval = stats.get("wilson95") or metrics.wilson_interval(k, n)
    rate = stats.get("success_rate", k / n if n else None)
    return [label, n, k, fmt_pct(rate), fmt_interval(interval)]


def _per_tag(doc: Doc, summary: Mapping[str, Any], episodes: Sequence[Mapping[str, Any]]) -> None:
    headers = ["", "episodes", "successes", "success rate", "Wilson 95 %"]
    per_tag = summary.get("per_tag") or {}
    if not any(tag.startswith("scenario=") for tag in per_tag):
        doc.heading("Per scenario")
        by_scenario: dict[str, list[bool]] = {}
        for ep in main_episodes(episodes):
            by_scenario.setdefault(ep["scenario"], []).append(ep["success"])
        doc.table(
            ["scenario", *headers[1:]],
            [
                _rate_row(name, {"episodes": len(v), "successes": sum(v)})
                for name, v in sorted(by_scenario.items())
            ],
        )
    doc.heading("Per tag")
    if not per_tag:
        doc.para("No per-tag breakdown in results.json.")
    else:
        doc.table(["tag", *headers[1:]], [_rate_row(tag, s) for tag, s in sorted(per_tag.items())])


def _instruction(doc: Doc, summary: Mapping[str, Any]) -> None:
    doc.heading("Instruction sensitivity")
    sens = summary.get("instruction_sensitivity")
    if not sens:
        doc.para("Not measured in this run (no flipped-instruction episodes).")
        return
    doc.para(
        "Every episode is also run with the mirrored instruction (left ↔ right): how often the robot went "
        "round the side the instruction named. A policy that follows the instruction scores near 100 %; "
        "one that ignores it and always takes the same path scores about 50 %."
    )
    doc.table(
        ["episodes", "went the named side", "Wilson 95 %", "original instruction", "mirrored instruction"],
        [
            [
                sens.get("episodes", "—"),
                fmt_pct(sens.get("named_side_rate")),
                fmt_interval(sens.get("wilson95")),
                fmt_pct(sens.get("original_named_side_rate")),
                fmt_pct(sens.get("flipped_named_side_rate")),
            ]
        ],
    )


LATENCY_UNAVAILABLE = (
    "Per-step latency unavailable: this results.json predates per-step samples (its latency figures "
    "pooled episode means, which hide the slow steps); rerun the evaluation to measure it."
)


def _latency(doc: Doc, summary: Mapping[str, Any], run_dir: Path) -> Path | None:
    from eval.plots import plot_latency
    from eval.targets import LATENCY_STATISTIC, LATENCY_TARGET_MS, latency_passes

    doc.heading("Latency")
    latency = summary.get("latency_ms") or {}
    in_loop = summary.get("latency_in_loop") or {}
    mode = in_loop.get("mode", "none")
    setting = {
        "none": "none (the sim waits for the policy)",
        "fixed": f"fixed {fmt_num(in_loop.get('delay_ms'), 0)} ms between observation and action",
        "measured": "measured (each step's policy time delays its action)",
    }.get(mode, str(mode))
    doc.para(f"In-loop latency: {setting}.")
    if not summary.get("latency_basis"):
        doc.para(LATENCY_UNAVAILABLE)
        return None
    total = latency.get("total_ms") or {}
    if not total.get("n"):
        doc.para("No latency measurements in results.json.")
    else:
        warm = summary.get("latency_warmup") or {}
        doc.para(
            f"Statistics over {total['n']} control steps: {summary['latency_basis']} "
            f"({warm.get('calls', 0)} warm-up calls, slowest {fmt_num(warm.get('max_ms'), 1)} ms)."
        )
        order = ["total_ms", *[k for k in latency if k != "total_ms"]]
        doc.table(
            ["component", "p50 ms", "p95 ms", "max ms", "mean ms", "n"],
            [
                [
                    k.removesuffix("_ms"),
                    *(fmt_num((latency[k] or {}).get(s), 1) for s in ("p50", "p95", "max", "mean")),
                    (latency[k] or {}).get("n", "—"),
                ]
                for k in order
                if isinstance(latency.get(k), Mapping)
            ],
        )
        ok = bool(latency_passes(total))
        text = (
            f"total per-step {LATENCY_STATISTIC} {float(total[LATENCY_STATISTIC]):.1f} ms "
            f"{'<' if ok else '≥'} {LATENCY_TARGET_MS:.0f} ms target: {'pass' if ok else 'FAIL'}"
        )
        doc.note(text, "ok" if ok else "bad")
    png = plot_latency(summary, run_dir / LATENCY_PNG)
    doc.figure(png, "Per-step latency breakdown", LATENCY_PNG)
    return png


def _outcome(ep: Mapping[str, Any]) -> str:
    return "success" if ep["success"] else str(ep.get("failure_reason") or "failure")


def video_order(episodes: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Episodes that have a video, failures first (each group by episode index)."""
    with_video = [ep for ep in episodes if ep.get("video")]
    return sorted(with_video, key=lambda ep: (bool(ep["success"]), ep["episode"]))


def _videos(doc: Doc, episodes: Sequence[Mapping[str, Any]], run_dir: Path, max_videos: int) -> None:
    doc.heading("Episode videos")
    chosen = video_order(episodes)[:max_videos]
    if not chosen:
        doc.para("No episode videos were recorded in this run.")
        return
    doc.para(
        f"{len(chosen)} of {sum(1 for e in episodes if e.get('video'))} recorded episodes, failures first."
    )
    for ep in chosen:
        rel = str(ep["video"])
        path = (run_dir / rel) if not Path(rel).is_absolute() else Path(rel)
        caption = (
            f"episode {ep['episode']} · {ep['scenario']} · seed {fmt_num(ep.get('seed'))} · {_outcome(ep)}"
            f" · “{ep.get('instruction', '')}”"
        )
        mime = VIDEO_MIME.get(path.suffix.lower())
        if not path.is_file():
            doc.note(f"{caption}: video file missing ({rel})", "warn")
            continue
        size = path.stat().st_size
        if mime is None or size > MAX_EMBED_BYTES:
            why = "not embeddable type" if mime is None else f"{size / 2**20:.1f} MiB, too large to embed"
            doc.raw(
                f'<p>{esc(caption)}: <a href="{esc(rel)}">{esc(rel)}</a> ({esc(why)})</p>',
                f"- [{caption}]({rel})\n",
            )
            continue
        uri = data_uri(path.read_bytes(), mime)
        media = (
            f'<img id="video-ep{ep["episode"]}" alt="{esc(caption)}" src="{uri}">'
            if mime.startswith("image/")
            else f'<video id="video-ep{ep["episode"]}" controls loop src="{uri}"></video>'
        )
        doc.raw(f"<figure>{media}<figcaption>{esc(caption)}</figcaption></figure>", f"- [{caption}]({rel})\n")


def _episode_table(doc: Doc, episodes: Sequence[Mapping[str, Any]]) -> None:
    doc.heading("Episodes")
    rows = []
    for ep in sorted(episodes, key=lambda e: e["episode"]):
        instruction = str(ep.get("instruction", ""))
        if ep.get("instruction_flipped"):
            instruction += " (flipped)"
        rows.append(
            [
                ep["episode"],
                fmt_num(ep.get("seed")),
                ep["scenario"],
                _outcome(ep),
                instruction,
                fmt_num(ep.get("spl")),
                fmt_num(ep.get("soft_spl")),
                ep.get("collisions", "—"),
                fmt_num(ep.get("path_length_m"), 2),
                fmt_num(ep.get("final_distance_m"), 2),
                fmt_num(ep.get("final_heading_error_rad"), 2),
                ep.get("steps", "—"),
                ep.get("went_side") or "—",
                ep.get("error") or "",
            ]
        )
    doc.table(
        [
            "ep",
            "seed",
            "scenario",
            "outcome",
            "instruction",
            "SPL",
            "SoftSPL",
            "collisions",
            "path m",
            "final dist m",
            "heading err rad",
            "steps",
            "went",
            "error",
        ],
        rows,
    )


# --------------------------------------------------------------------------- entry points


def write_report(run_dir: str | Path, max_videos: int = MAX_VIDEOS) -> dict[str, Path]:
    """Write ``report.html``, ``report.md`` and their PNGs into ``run_dir`` from its ``results.json``.

    Returns ``{"html": path, "md": path, "figures": [pngs...]}``. Raises ``ResultsError`` when
    ``results.json`` is missing or malformed.
    """
    run_dir = Path(run_dir)
    results = load_results(run_dir)
    summary, episodes, provenance = results["summary"], results["episodes"], results["provenance"]
    title = f"Closed-loop report: {summary['policy']}"
    doc = Doc()
    doc.heading(title, 1)
    doc.para(
        f"Run directory `{run_dir.name}`, {summary['episodes']} episodes, created "
        f"{provenance.get('created', '—')}, commit {provenance.get('git_commit', '—')}."
    )
    _headline(doc, summary)
    _failures(doc, summary, episodes)
    _per_tag(doc, summary, episodes)
    _instruction(doc, summary)
    figures = []
    latency_png = _latency(doc, summary, run_dir)
    if latency_png:
        figures.append(latency_png)
    figures += trajectories_section(doc, episodes, run_dir)
    _videos(doc, episodes, run_dir, max_videos)
    _episode_table(doc, episodes)
    provenance_section(doc, provenance)
    return {**write_doc(doc, run_dir, REPORT_STEM, title), "figures": figures}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.report", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="closed-loop run directory holding results.json")
    parser.add_argument("--max-videos", type=int, default=MAX_VIDEOS, help="episode videos to embed")
    args = parser.parse_args(argv)

    def body() -> int:
        paths = write_report(args.run_dir, max_videos=args.max_videos)
        print(f"wrote {paths['html']}\nwrote {paths['md']}")
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
