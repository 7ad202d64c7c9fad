"""Fit the robot's key-press motion and the 2025 layout to real runs that reached the target.

Model (``RobotConfig``): a straight press moves ``step_m``; a strafe ``strafe_share * step_m`` sideways; a
diagonal ``step_m`` at ``diagonal_angle_deg`` off the x axis; every press turns the base ``press_yaw_rad``.
Layout (``LayoutConfig``, ``1box_hori_*_core_medium``, mirror-symmetric): box centre x, goal centre
(x, ±y), bottle ``goal_standoff`` beyond the goal; box/bottle sizes and the robot radius are known.

Objective, lexicographic (larger is better): (1) episode weight of the runs that end in the goal disc
and clear every body by ``margin_m`` (and whose left-right mirror image clears the box by half of it);
(2) how many distinct runs do; (3) minus the episode-weighted RMS distance of the end points to the
goal centre. For given motion parameters the best layout is direct: the goal centre is the weighted
mean end point (mirrored to the left) of the runs within the radius of the all-run mean, the box x the
one that lets the most weight pass (then with the largest clearance).
Paths come from ``OmniBase.plan`` (the sim's own motion, no noise), so a fit is exact for the bench.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from common.cli import ConfigError
from sim.config import LayoutConfig, RobotConfig
from sim.layouts import BOTTLE_RADIUS, BOX_HALF_EXTENTS
from sim.omni_base import OmniBase

MOTION_KEYS = ("step_m", "strafe_share", "diagonal_angle_deg", "press_yaw_rad")
STEP_PRIOR_M = 0.12
"""The driver's default-throttle step (0.30 m/s for 0.4 s) the sim used before calibration. The real runs
alone do not fix the absolute scale (a longer step with flatter diagonals and a farther layout fits them
as well), so the step is searched within ±10 % of it."""
BOUNDS = {
    "step_m": (0.108, 0.132),
    "strafe_share": (0.4, 1.2),
    "diagonal_angle_deg": (15.0, 60.0),
    "press_yaw_rad": (-0.02, 0.02),
}
"""Search range of each motion parameter (physically plausible for the real base)."""
COARSE = {
    "step_m": np.array([0.11, 0.12, 0.13]),
    "strafe_share": np.array([0.6, 0.8, 1.0]),
    "diagonal_angle_deg": np.arange(25.0, 50.01, 5.0),
    "press_yaw_rad": np.array([-0.006, -0.003, 0.0, 0.003, 0.006]),
}
REFINE_STEPS = {"step_m": 0.005, "strafe_share": 0.1, "diagonal_angle_deg": 2.5, "press_yaw_rad": 0.002}
MIN_STEPS = {"step_m": 0.0005, "strafe_share": 0.0125, "diagonal_angle_deg": 0.25, "press_yaw_rad": 0.00025}


@dataclass(frozen=True)
class FitRun:
    """What the fit needs of a run: actions (N, 3), weight, side (``left``/``right``)."""

    label: str
    actions: np.ndarray
    weight: float
    side: str


@dataclass
class FitResult:
    """Fitted motion and layout, the objective's terms and each run's outcome under them."""

    motion: dict[str, float]
    layout: LayoutConfig
    weight_success: float
    weight_total: float
    distinct_success: int
    rms_m: float
    runs: list[dict]

    def score(self) -> tuple[float, int, float]:
        return (round(self.weight_success, 9), self.distinct_success, -self.rms_m)


def robot_config(motion: dict[str, float], base: RobotConfig | None = None) -> RobotConfig:
    """``base`` (default ``RobotConfig()``) with the motion parameters set (speed from the step)."""
    base = base or RobotConfig()
    return dataclasses.replace(
        base,
        speed_m_s=motion["step_m"] / base.key_press_s,
        strafe_share=motion["strafe_share"],
        diagonal_angle_deg=motion["diagonal_angle_deg"],
        press_yaw_rad=motion["press_yaw_rad"],
        control_mode="key_press",
    )


def motion_of(robot: RobotConfig) -> dict[str, float]:
    return {
        "step_m": robot.step_length_m,
        "strafe_share": robot.strafe_share,
        "diagonal_angle_deg": robot.diagonal_angle_deg,
        "press_yaw_rad": robot.press_yaw_rad,
    }


def trace(actions: np.ndarray, robot: RobotConfig) -> np.ndarray:
    """Substep positions (M, 2) of open-loop ``actions`` from the origin facing +x (noise-free)."""
    base = OmniBase(robot)
    pose = (0.0, 0.0, 0.0)
    points = [(0.0, 0.0)]
    for action in actions:
        motion = base.plan(pose, np.asarray(action, np.float32))
        if motion.moved:
            points.extend(map(tuple, motion.poses[:, :2]))
            pose = tuple(float(v) for v in motion.poses[-1])
    return np.asarray(points)


def _box_clearance(points: np.ndarray, box_xs: np.ndarray, radius: float) -> np.ndarray:
    """Clearance (m) of a robot disc along ``points`` from a hori box at (bx, 0), for every bx."""
    hx, hy = BOX_HALF_EXTENTS[0], BOX_HALF_EXTENTS[1]
    dx = np.maximum(np.abs(points[None, :, 0] - box_xs[:, None]) - hx, 0.0)
    dy = np.maximum(np.abs(points[None, :, 1]) - hy, 0.0)
    return np.hypot(dx, dy).min(axis=1) - radius


def evaluate(
    runs: Sequence[FitRun],
    motion: dict[str, float],
    goal_radius: float,
    margin_m: float,
    goal_standoff: float,
    layout: LayoutConfig | None = None,
    base: RobotConfig | None = None,
) -> FitResult:
    """Outcome of ``runs`` under ``motion``; the layout is fitted unless ``layout`` is given."""
    robot = robot_config(motion, base)
    paths, mirrored = [], []
    for run in runs:
        flip = 1.0 if run.side == "left" else np.array([1.0, -1.0])
        paths.append(trace(run.actions, robot) * flip)
        mirrored.append(trace(run.actions * np.array([1.0, -1.0, -1.0], np.float32), robot) * flip)
    ends = np.array([p[-1] for p in paths])
    w = np.array([r.weight for r in runs], float)
    if layout is None:
        goal = (ends * w[:, None]).sum(0) / w.sum()
        near = np.hypot(*(ends - goal).T) <= goal_radius
        if near.any():
            goal = (ends[near] * w[near, None]).sum(0) / w[near].sum()
        box_xs = np.arange(0.6, max(goal[0] - 0.2, 0.65), 0.005)
    else:
        goal = np.array([layout.bottle_x - layout.goal_standoff, layout.bottle_side_y])
        goal_radius, goal_standoff = layout.goal_radius, layout.goal_standoff
        box_xs = np.array([layout.box_x])
    bottle = goal + np.array([goal_standoff, 0.0])
    clear = np.stack([_box_clearance(p, box_xs, robot.radius) for p in paths], axis=1)  # (B, R)
    bottle_clear = np.array([np.hypot(*(p - bottle).T).min() for p in paths]) - robot.radius - BOTTLE_RADIUS
    # The mirrored run (the instruction-sensitivity probe) must pass the box too, on the wrong side.
    mirror_clear = np.stack([_box_clearance(p, box_xs, robot.radius) for p in mirrored], axis=1)
    ok = (clear >= margin_m) & (mirror_clear >= margin_m / 2) & (bottle_clear >= margin_m)[None, :]
    passing = (ok * w[None, :]).sum(1)
    worst = np.where(ok, clear, np.inf).min(1)
    order = np.lexsort((-np.where(np.isfinite(worst), worst, -1.0), -ok.sum(1), -passing))
    b = int(order[0])
    dist = np.hypot(*(ends - goal).T)
    success = ok[b] & (dist <= goal_radius)
    rms = float(np.sqrt((w * dist**2).sum() / w.sum()))
    fitted = LayoutConfig(
        box_x=round(float(box_xs[b]), 4),
        bottle_x=round(float(bottle[0]), 4),
        bottle_side_y=round(float(goal[1]), 4),
        goal_standoff=goal_standoff,
        goal_radius=goal_radius,
    )
    rows = [
        {
            "label": r.label,
            "weight": r.weight,
            "end_m": [round(float(v), 4) for v in ends[i] * (1 if r.side == "left" else np.array([1, -1]))],
            "distance_to_goal_m": round(float(dist[i]), 4),
            "box_clearance_m": round(float(clear[b, i]), 4),
            "success": bool(success[i]),
        }
        for i, r in enumerate(runs)
    ]
    return FitResult(
        motion={k: float(v) for k, v in motion.items()},
        layout=fitted,
        weight_success=float(w[success].sum()),
        weight_total=float(w.sum()),
        distinct_success=int(success.sum()),
        rms_m=rms,
        runs=rows,
    )


def fit(
    runs: Sequence[FitRun],
    goal_radius: float = 0.25,
    margin_m: float = 0.02,
    goal_standoff: float = 0.35,
    layout: LayoutConfig | None = None,
    fixed: dict[str, float] | None = None,
    base: RobotConfig | None = None,
) -> FitResult:
    """Best motion (and layout unless given) by the module's objective: a coarse grid, then a pattern
    search halving its steps down to ``MIN_STEPS``. ``fixed`` holds parameters at given values."""
    if not runs:
        raise ConfigError(
            "no runs to fit: expected at least one real run of 1box_hori_{left,right}_core_medium"
        )
    fixed = dict(fixed or {})
    unknown = sorted(set(fixed) - set(MOTION_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown motion parameter(s) {', '.join(unknown)}; valid: {', '.join(MOTION_KEYS)}"
        )
    free = [k for k in MOTION_KEYS if k not in fixed]

    def run_eval(motion: dict[str, float]) -> FitResult:
        return evaluate(runs, motion, goal_radius, margin_m, goal_standoff, layout, base)

    best: FitResult | None = None
    grids = [COARSE[k] for k in free]
    for values in itertools.product(*grids):
        result = run_eval({**fixed, **dict(zip(free, (float(v) for v in values), strict=True))})
        if best is None or result.score() > best.score():
            best = result
    assert best is not None
    steps = {k: REFINE_STEPS[k] for k in free}
    while free and any(steps[k] >= MIN_STEPS[k] for k in free):
        improved = False
        for key in free:
            for sign in (1.0, -1.0):
                lo, hi = BOUNDS[key]
                value = min(max(best.motion[key] + sign * steps[key], lo), hi)
                result = run_eval({**best.motion, key: value})
                if result.score() > best.score():
                    best, improved = result, True
        if not improved:
            steps = {k: v / 2 for k, v in steps.items()}
    best.motion = {k: round(v, 6) for k, v in best.motion.items()}
    return best
