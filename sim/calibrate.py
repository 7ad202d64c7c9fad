"""``python -m sim.calibrate``: fit the robot's key-press motion and the 2025 layout to real runs.

Reads a real-sequences file (``real_operator_sequences.json`` format; its recorded ``sequences`` of
``1box_hori_{left,right}_core_medium``), fits one joint model (``sim.fit``: objective, parameters and
units there), then one robot profile per period of the robot's history with the layout held at the joint
fit (the room did not change, the robot did), and writes a calibration YAML with the inputs'
provenance (path, sha256, every run's sources) and the fit report. ``configs/env/*.yaml`` hold the
default profile's values (``tests/test_calibration.py`` checks they match the calibration file).

``python -m sim.calibrate [SEQUENCES] [--out DIR]`` writes ``DIR/real_2025.yaml`` (default
``configs/calibration``; a ``.yaml`` path names the file itself). Bad input gives ``error: …`` (exit 2)
before anything is written.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from common.cli import ConfigError, run_main
from common.files import atomic_write_text
from sim.fit import FitResult, FitRun, evaluate, fit
from sim.profiles import DEFAULT_CALIBRATION, DEFAULT_PERIODS, REAL_SEQUENCES, Period, parse_period
from sim.real_runs import RealRun, load_sequences_file

FAMILY = "1box_hori_{side}_core_medium"
OBJECTIVE = (
    "lexicographic: (1) episode weight of runs ending in the goal disc that clear every body by margin_m, "
    "(2) number of such distinct runs, (3) least episode-weighted RMS distance of end points to the goal "
    "centre; goal centre = weighted mean end point (mirrored to the left) of the runs within the radius of "
    "the all-run mean; box x = the one letting most weight pass, then with the largest clearance"
)


def fit_runs(runs: Sequence[RealRun], period: Period | None = None) -> list[FitRun]:
    """The runs of the fitted family as ``FitRun``s, weighted by their episodes within ``period``."""
    out = []
    for run in runs:
        if run.kind != "recorded" or run.scenario != FAMILY.format(side=run.side):
            continue
        weight = run.weight if period is None else period.weight_of(run.dates)
        if weight > 0:
            out.append(FitRun(run.label, run.actions, weight, run.side))
    return out


def _report(result: FitResult) -> dict[str, Any]:
    return {
        "episode_weighted_success": round(result.weight_success / result.weight_total, 4),
        "distinct_success": f"{result.distinct_success}/{len(result.runs)}",
        "rms_end_to_goal_m": round(result.rms_m, 4),
        "runs": result.runs,
    }


def _profile(result: FitResult, period: Period | None, runs_used: int) -> dict[str, Any]:
    m = result.motion
    return {
        "period": None if period is None else {"from": period.start, "to": period.end},
        "robot": {
            "speed_m_s": round(m["step_m"] / 0.4, 6),
            "strafe_share": round(m["strafe_share"], 6),
            "diagonal_angle_deg": round(m["diagonal_angle_deg"], 6),
            "press_yaw_rad": round(m["press_yaw_rad"], 6),
        },
        "layout": dataclasses.asdict(result.layout),
        "meaning": {
            "step_per_key_press_m": round(m["step_m"], 4),
            "strafe_press_lateral_m": round(m["step_m"] * m["strafe_share"], 4),
            "diagonal_press_lateral_share": round(math.sin(math.radians(m["diagonal_angle_deg"])), 4),
            "heading_drift_per_press_deg": round(math.degrees(m["press_yaw_rad"]), 3),
        },
        "fit": {"runs": runs_used, **_report(result)},
    }


def calibrate(
    sequences: Path,
    periods: Sequence[Period] = DEFAULT_PERIODS,
    goal_radius: float = 0.25,
    margin_m: float = 0.02,
    goal_standoff: float = 0.35,
) -> dict[str, Any]:
    """The calibration document (see module docstring); raises ``ValueError`` for unusable input."""
    runs, problems = load_sequences_file(sequences, kinds=("recorded",))
    if problems:
        raise ValueError("; ".join(f"{p.item}: {p.error}" for p in problems))
    joint_runs = fit_runs(runs)
    joint = fit(joint_runs, goal_radius=goal_radius, margin_m=margin_m, goal_standoff=goal_standoff)
    profiles: dict[str, Any] = {}
    for period in periods:
        used = fit_runs(runs, period)
        if not used:
            continue
        result = fit(used, layout=joint.layout, margin_m=margin_m)
        profile = _profile(result, period, len(used))
        everything = evaluate(joint_runs, result.motion, goal_radius, margin_m, goal_standoff, joint.layout)
        profile["fit"]["all_periods"] = {k: v for k, v in _report(everything).items() if k != "runs"}
        profiles[period.name] = profile
    joint_profile = _profile(joint, None, len(joint_runs))
    joint_profile["about"] = "the current robot (default): one model fitted to every period jointly"
    profiles["current"] = joint_profile
    digest = hashlib.sha256(sequences.read_bytes()).hexdigest()
    return {
        "about": "Robot motion and 2025 layout fitted to real runs by python -m sim.calibrate",
        "inputs": {
            "sequences": sequences.name,
            "sha256": digest,
            "runs": [
                {"label": r.label, "keys": r.keys, "weight": r.weight, "dates": r.dates, "sources": r.source}
                for r in runs
            ],
        },
        "objective": OBJECTIVE,
        "settings": {"goal_radius_m": goal_radius, "margin_m": margin_m, "goal_standoff_m": goal_standoff},
        "default": "current",
        "profiles": profiles,
    }


def calibration_file(out: Path) -> Path:
    """The YAML ``--out`` names: ``out/real_2025.yaml`` for a folder, ``out`` itself for a ``.yaml`` path
    (the older form). ``ConfigError`` when the folder is a file."""
    if out.suffix in (".yaml", ".yml"):
        if out.is_dir():
            raise ConfigError(f"--out {out} is a directory; expected a .yaml file name (or the folder form)")
        return out
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; expected a directory")
    return out / DEFAULT_CALIBRATION.name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sim.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument(
        "sequences",
        type=Path,
        nargs="?",
        default=REAL_SEQUENCES,
        help="real-sequences JSON (default: configs/calibration/real_operator_sequences.json)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_CALIBRATION.parent,
        help=f"folder to write {DEFAULT_CALIBRATION.name} into (default configs/calibration; "
        "a .yaml path names the file itself)",
    )
    parser.add_argument(
        "--period",
        action="append",
        metavar="NAME:FROM:TO",
        help="a period of the robot's history (dates YYYY-MM-DD, either may be empty); repeatable; "
        "default: " + ", ".join(f"{p.name}:{p.start or ''}:{p.end or ''}" for p in DEFAULT_PERIODS),
    )
    parser.add_argument("--goal-radius", type=float, default=0.25, help="goal disc radius (m, <= 0.25)")
    parser.add_argument("--margin", type=float, default=0.02, help="clearance a run must keep (m)")
    return parser


def _run(args: argparse.Namespace) -> int:
    if not 0 < args.goal_radius <= 0.25:
        raise ConfigError(f"--goal-radius {args.goal_radius} is invalid: expected (0, 0.25] m")
    if not args.margin >= 0:
        raise ConfigError(f"--margin {args.margin} is invalid: expected >= 0 m")
    target = calibration_file(args.out)
    periods = [parse_period(p) for p in args.period] if args.period else list(DEFAULT_PERIODS)
    doc = calibrate(args.sequences, periods, goal_radius=args.goal_radius, margin_m=args.margin)
    atomic_write_text(target, yaml.safe_dump(doc, sort_keys=False, width=110))
    for name, profile in doc["profiles"].items():
        fit_ = profile["fit"]
        print(
            f"{name:18s} {profile['meaning']} layout={profile['layout']} "
            f"success={fit_['episode_weighted_success']:.3f} distinct={fit_['distinct_success']} "
            f"rms={fit_['rms_end_to_goal_m']:.3f} m"
        )
    print(f"wrote {target} (default profile: {doc['default']})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_main(lambda: _run(args))


if __name__ == "__main__":
    raise SystemExit(main())
