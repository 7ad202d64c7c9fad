"""``python -m eval.replay_real SOURCE... [--out DIR]``: replay real runs open loop in their sim scenarios.

SOURCE: a real-sequences JSON file (``real_operator_sequences.json`` format: recorded ``sequences`` and
typed ``guides``), real HDF5 episodes (their ``actions`` after the start row; the scenario and date from
``episode_name``) or directories of them. Each run is replayed in the scenario its name gives, with
randomisation ``off`` (one replay) or ``on`` (``--seeds`` replays, seeds 0..N-1), under a robot profile
of ``configs/calibration/real_2025.yaml`` (``--profile NAME``; ``auto`` picks by each run's recording
date; default: the file's default, the current robot). Writes ``report.json`` (per run and summary:
distinct and episode-weighted success per side) and ``report.html`` (top-down plots of every path over
the layout and goal region); prints a table and the summary line. A bad run is reported, the rest replay.
The camera renders at 32×18: open-loop replay never looks at pixels. ``--out`` is a folder (default
``runs/replay_real/<first source>-<randomization>``); bad arguments, a bad calibration file or profile
and sources without one replayable run give ``error: …`` (exit 2) before anything is written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from common.cli import ConfigError, default_out_dir, run_main
from common.files import atomic_write_json, atomic_write_text
from datagen.real_runs import load_sources
from eval.report_kit import Doc, html_page
from eval.trajectory_plots import plot_trajectories
from sim.profiles import DEFAULT_CALIBRATION, load_calibration, profile_overrides, resolve_profile
from sim.real_runs import RealRun, RunProblem

REPLAY_CAMERA = {"width": 32, "height": 18}


def replay_run(env, run: RealRun, seed: int, mirror: bool = False) -> dict[str, Any]:
    """Replay ``run`` once (``mirror``: left↔right swapped commands, the instruction stays)."""
    obs, info = env.reset(seed=seed, options={"scenario": run.scenario})
    trajectory = [list(env.pose)]
    for action in run.actions:
        command = np.array(action, np.float32)
        if mirror:
            command[1:] = -command[1:]
        obs, _, terminated, truncated, info = env.step(command)
        trajectory.append([round(float(v), 4) for v in env.pose])
        if terminated or truncated:
            break
    scene = env.scenario.as_record()
    scene["robot_radius"] = env.config.robot.radius
    return {
        "seed": seed,
        "success": bool(info["success"]),
        "collision": bool(info["collision"]),
        "failure_reason": info["failure_reason"],
        "final_pose": [round(float(v), 4) for v in info["pose"]],
        "distance_to_goal": round(float(info["distance_to_goal"]), 4),
        "went_side": info["went_side"],
        "trajectory": trajectory,
        "scene": scene,
        "scenario": run.scenario,
    }


def _env(overrides: dict[str, Any], randomization: bool):
    from envs import MobileNavEnv

    config = {**overrides, "camera": REPLAY_CAMERA, "randomization": {"enabled": randomization}}
    return MobileNavEnv(config=config)


def replay(
    runs: Sequence[RealRun],
    randomization: bool = False,
    seeds: int = 20,
    profile: str | None = None,
    calibration: str | Path = DEFAULT_CALIBRATION,
    mirror: bool = True,
) -> list[dict[str, Any]]:
    """Replay every run; returns one row per run (episodes inside, summary figures per run)."""
    doc = load_calibration(calibration)
    envs: dict[str, Any] = {}
    rows = []
    try:
        for run in runs:
            name = resolve_profile(doc, profile, run.latest_date())
            if name not in envs:
                envs[name] = _env(profile_overrides(doc, name), randomization)
            env = envs[name]
            episodes = [replay_run(env, run, s) for s in (range(seeds) if randomization else [0])]
            mirrored = (
                replay_run(env, run, 0, mirror=True) if mirror and run.side in ("left", "right") else None
            )
            first = episodes[0]
            rows.append(
                {
                    "label": run.label,
                    "kind": run.kind,
                    "scenario": run.scenario,
                    "side": run.side,
                    "keys": run.keys,
                    "weight": run.weight,
                    "profile": name,
                    "source": run.source,
                    "success": first["success"],
                    "collision": first["collision"],
                    "failure_reason": first["failure_reason"],
                    "final_pose": first["final_pose"],
                    "distance_to_goal": first["distance_to_goal"],
                    "success_rate": sum(e["success"] for e in episodes) / len(episodes),
                    "collision_rate": sum(e["collision"] for e in episodes) / len(episodes),
                    "mirrored_failure_reason": None if mirrored is None else mirrored["failure_reason"],
                    "mirrored_success": None if mirrored is None else mirrored["success"],
                    "episodes": episodes,
                }
            )
    finally:
        for env in envs.values():
            env.close()
    return rows


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Distinct and episode-weighted success per side of the recorded runs; guides: collision-free."""
    summary: dict[str, Any] = {}
    recorded = [r for r in rows if r["kind"] == "recorded"]
    for side in ("left", "right", "all"):
        sel = [r for r in recorded if side == "all" or r["side"] == side]
        if not sel:
            continue
        weight = sum(r["weight"] for r in sel)
        summary[side] = {
            "distinct": len(sel),
            "distinct_success": round(sum(r["success_rate"] for r in sel), 4),
            "episodes": weight,
            "episode_weighted_success": round(sum(r["weight"] * r["success_rate"] for r in sel) / weight, 4),
        }
    guides = [r for r in rows if r["kind"] == "guide"]
    if guides:
        summary["guides"] = {
            "runs": len(guides),
            "collision_free": sum(1 for r in guides if r["collision_rate"] == 0),
            "success": sum(1 for r in guides if r["success"]),
        }
    mirrored = [r for r in recorded if r["mirrored_failure_reason"] is not None]
    if mirrored:
        summary["mirrored_wrong_side"] = (
            f"{sum(r['mirrored_failure_reason'] == 'wrong_side' for r in mirrored)}"
        )
        summary["mirrored_wrong_side"] += f"/{len(mirrored)}"
    return summary


def write_report(out: Path, rows: list[dict], problems: list[RunProblem], settings: dict) -> dict[str, Any]:
    """``report.json`` and ``report.html`` (plots per scenario) under ``out``; returns the JSON object."""
    out.mkdir(parents=True, exist_ok=True)
    report = {
        "settings": settings,
        "summary": summarise(rows),
        "runs": [{k: v for k, v in r.items() if k != "episodes"} for r in rows],
        "problems": [vars(p) for p in problems],
        "episodes": {
            r["label"]: [{k: v for k, v in e.items() if k != "scene"} for e in r["episodes"]] for r in rows
        },
    }
    atomic_write_json(out / "report.json", report)
    doc = Doc()
    doc.heading("Real runs replayed in the sim", 1)
    doc.para(f"settings: {settings}")
    doc.para(f"summary: {report['summary']}")
    doc.table(
        ["run", "kind", "scenario", "weight", "success", "success rate", "failure", "mirrored", "keys"],
        [
            [
                r["label"],
                r["kind"],
                r["scenario"],
                r["weight"],
                r["success"],
                f"{r['success_rate']:.2f}",
                r["failure_reason"] or "",
                r["mirrored_failure_reason"] or "",
                r["keys"] or "(HDF5 actions)",
            ]
            for r in rows
        ],
    )
    if problems:
        doc.heading("Runs that could not be replayed")
        doc.table(["item", "source", "error"], [[p.item, p.source, p.error] for p in problems])
    plots = out / "plots"
    for scenario in sorted({r["scenario"] for r in rows}):
        episodes = []
        for r in rows:
            if r["scenario"] == scenario:
                episodes += [{**e, "success": e["success"]} for e in r["episodes"]]
        png = plot_trajectories(
            episodes, plots / f"{scenario}.png", title=f"{scenario}: {len(episodes)} replays"
        )
        doc.figure(png, scenario, f"plots/{scenario}.png")
    atomic_write_text(out / "report.html", html_page("Real runs replayed", "\n".join(doc.html)))
    return report


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eval.replay_real", description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", help="real-sequences JSON, .h5 episodes or directories")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default runs/replay_real/<source>-<randomization>)",
    )
    parser.add_argument("--randomization", choices=("off", "on"), default="off")
    parser.add_argument("--seeds", type=int, default=20, help="replays per run with randomisation on")
    parser.add_argument("--profile", default=None, help="robot profile name, 'auto' (by date) or default")
    parser.add_argument("--calibration", type=Path, default=DEFAULT_CALIBRATION, help="calibration YAML")
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.seeds < 1:
        raise ConfigError(f"--seeds {args.seeds} is invalid: expected an integer >= 1")
    out = args.out or default_out_dir("replay_real", f"{Path(args.sources[0]).stem}-{args.randomization}")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; expected a directory")
    resolve_profile(load_calibration(args.calibration), args.profile)  # names a bad file or profile now
    runs, problems = load_sources(args.sources)
    for p in problems:
        print(f"warning: skipped {p.item} ({p.source}): {p.error}", file=sys.stderr)
    if not runs:
        raise ValueError(f"no replayable run in the sources {' '.join(args.sources)}")
    rows = replay(runs, args.randomization == "on", args.seeds, args.profile, args.calibration)
    settings = {
        "randomization": args.randomization,
        "seeds": args.seeds if args.randomization == "on" else 1,
        "profile": args.profile or "default",
        "calibration": args.calibration.name,
    }
    report = write_report(out, rows, problems, settings)
    print(f"{'run':42s} {'kind':8s} {'weight':>6s} {'success':>7s} {'rate':>5s} {'failure':13s} mirrored")
    for r in rows:
        print(
            f"{r['label'][:42]:42s} {r['kind']:8s} {r['weight']:6.0f} {r['success']!s:>7s} "
            f"{r['success_rate']:5.2f} {r['failure_reason'] or '-':13s} {r['mirrored_failure_reason'] or '-'}"
        )
    s = report["summary"]
    parts = [
        f"{side}: {s[side]['distinct_success']:g}/{s[side]['distinct']} distinct, "
        f"{100 * s[side]['episode_weighted_success']:.1f} % of {s[side]['episodes']:g} episodes"
        for side in ("left", "right", "all")
        if side in s
    ]
    if "guides" in s:
        parts.append(f"guides collision-free {s['guides']['collision_free']}/{s['guides']['runs']}")
    if problems:
        parts.append(f"{len(problems)} run(s) not replayable")
    print("summary: " + "; ".join(parts) + f" -> {out / 'report.html'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_main(lambda: _run(args))


if __name__ == "__main__":
    raise SystemExit(main())
