"""The ``operator`` style of the scripted expert: drives with the rhythm of the team's real operators.

At the first press it picks a 17-press plan in the operators' block grammar (``policies.operator_plans``:
straight presses, a strafe towards the instructed side, a block of diagonals, straight presses, the
correction diagonals, straight presses), from the plans that reach the goal without touching anything
in *this* episode's geometry, with the robot's own per-press motion. The choice is drawn around the real
sequences (``configs/operator/real_sequences.yaml``, weighted by the team's episode counts): each real
sequence keeps its weight and hands it to the nearest plans that work here, a plan ``m`` presses moved
away getting ``epsilon ** m`` of it (``epsilon = 0.05 * variation``); ``variation = 0`` takes the
single nearest plan to the most common real sequence that works. In the real layouts the real sequences
themselves come out; elsewhere (close/far, variant, 2box, vert, the 2026 paths) the same rhythm bent
to the geometry.

Closed loop (the expert is privileged): before every press it re-checks the rest of its plan from the
true pose and, when the plan would now end outside the goal or pass too close to a body, switches to
the completion that changes the fewest presses. It uses all presses and presses stop only when no
completion keeps it in the goal; when none exists at all it hands over to the cost-to-go expert.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from policies.operator_plans import (
    BLOCK_KEYS,
    MAX_STRAFES,
    compositions,
    key_displacements,
    load_templates,
    plan_distance,
    plan_ends,
    plan_geometry,
    plan_vertices,
    templates_path,
    to_world,
)
from sim.config import RobotConfig
from sim.protocol import KEY_ACTIONS
from sim.scenario import Scenario

EPSILON_PER_VARIATION = 0.05
"""Weight factor per moved press at variation 1 (see the module docstring)."""
PLAN_CLEARANCE_M = 0.04
"""Gap (m) a plan must keep from every body when it is chosen (the default of ``plan_clearance_m``; a
larger ``plan_clearance_m`` is preferred where some plan reaches it, else this one applies)."""
PLAN_END_WITHIN_M: float | None = None
"""Distance (m) from the goal centre within which a chosen plan should end where some plan can (the
default of ``plan_end_within_m``; ``None``: anywhere inside the goal disc less ``end_margin``)."""
KEEP_CLEARANCE_M = 0.02
"""Gap (m) below which the rest of a plan is replaced."""
PLAN_BAND = 3.0
"""Plans more than this many presses beyond a real sequence's nearest working plan are not drawn for it."""
_STRAFE = 1


def end_margin(presses_left: int) -> float:
    """How far (m) inside the goal disc a plan must end when chosen, given the presses still to make
    (actuation noise accumulates with them)."""
    return 0.02 + 0.004 * math.sqrt(max(presses_left, 0))


@lru_cache(maxsize=8)
def first_plans(total: int, blocks: int) -> np.ndarray:
    """Every plan of ``total`` presses that starts with a straight press and strafes at most
    ``MAX_STRAFES`` times, ``(M, blocks)``."""
    plans = compositions(total - 1, blocks).copy()
    plans[:, 0] += 1  # every real run starts with W
    plans = plans[plans[:, _STRAFE] <= MAX_STRAFES]
    plans.setflags(write=False)
    return plans


@lru_cache(maxsize=16)
def first_plan_corners(robot: RobotConfig, side: str, total: int) -> np.ndarray:
    """Corner points ``(M, blocks + 1, 2)`` of every ``first_plans`` plan from the origin (robot frame,
    metres); ``operator_plans.to_world`` places them at an episode's start pose."""
    plans = first_plans(total, len(BLOCK_KEYS[side]))
    corners = plan_vertices((0.0, 0.0, 0.0), plans, key_displacements(robot, side))
    corners.setflags(write=False)
    return corners


def keep_margin(presses_left: int) -> float:
    """How far (m) inside the goal disc the rest of a plan must still end, else it is replaced."""
    return 0.015 + 0.003 * math.sqrt(max(presses_left, 0))


class _Placed:
    """Plans' corners from the origin (``first_plan_corners`` rows) and the pose they start from."""

    def __init__(self, pose: tuple[float, float, float], corners: np.ndarray) -> None:
        self.pose, self.corners = pose, corners

    def world(self, mask: np.ndarray) -> np.ndarray:
        """World corners ``(K, blocks + 1, 2)`` of the plans selected by ``mask``."""
        return to_world(self.pose, self.corners[mask])


class OperatorDriver:
    """Per-episode plan of the ``operator`` style; ``act`` gives a key command or ``None`` (hand over)."""

    def __init__(
        self,
        variation: float,
        plan_clearance_m: float = PLAN_CLEARANCE_M,
        plan_end_within_m: float | None = PLAN_END_WITHIN_M,
        sequences: str | None = None,
    ) -> None:
        """``sequences``: the real sequences that prime the plans (``operator_plans.templates_path``)."""
        if plan_clearance_m < KEEP_CLEARANCE_M:
            raise ValueError(
                f"operator plan_clearance_m={plan_clearance_m!r} is invalid; expected >= {KEEP_CLEARANCE_M} m"
            )
        if plan_end_within_m is not None and not plan_end_within_m > 0:
            raise ValueError(
                f"operator plan_end_within_m={plan_end_within_m!r} is invalid; expected > 0 m or null"
            )
        self.variation = float(variation)
        self.plan_clearance_m = float(plan_clearance_m)
        self.plan_end_within_m = None if plan_end_within_m is None else float(plan_end_within_m)
        # Clearances tried in turn when choosing a plan: the preferred one, then the default where it is
        # laxer (a stricter tier after a failed laxer one could never pass).
        self.choice_clearances = (self.plan_clearance_m,) + (
            (PLAN_CLEARANCE_M,) if self.plan_clearance_m > PLAN_CLEARANCE_M else ()
        )
        self.templates = load_templates(str(templates_path(sequences)))
        self.reset("left")

    def reset(self, side: str) -> None:
        """Start an episode; ``side`` is the instruction's (``left``/``right``/``straight``)."""
        self.instructed = side
        self.side: str | None = None
        self.plan: np.ndarray | None = None
        self.done: np.ndarray | None = None
        self.block = 0
        self.replans = 0
        self.handed_over = False

    # ------------------------------------------------------------------ planning
    def _side(self, scenario: Scenario) -> str:
        if self.instructed in BLOCK_KEYS:
            return self.instructed
        return "left" if scenario.goal.y >= scenario.start[1] else "right"

    def _evaluate(self, scenario, robot, pose, candidates, within: float):
        """``(candidates ending within ``within`` m of the goal centre, their end distance, clearance)``."""
        disp = key_displacements(robot, self.side)
        # Cheap endpoint test first, clearance only for the survivors.
        if np.any(disp[:, 2] != 0):  # a turning key: the ends are the corners' last row
            corners = plan_vertices(pose, candidates, disp)
            ends = corners[:, -1, :]
        else:
            corners, ends = None, plan_ends(pose, candidates, disp)
        goal = scenario.goal
        keep = np.hypot(ends[:, 0] - goal.x, ends[:, 1] - goal.y) <= within
        candidates = candidates[keep]
        corners = plan_vertices(pose, candidates, disp) if corners is None else corners[keep]
        end_dist, clearance = plan_geometry(scenario, robot, corners)
        return candidates, end_dist, clearance

    def _first_plan(self, scenario: Scenario, robot: RobotConfig, pose, total: int, rng) -> np.ndarray | None:
        self.side = self._side(scenario)
        counts, weights = self.templates[self.side]
        first = first_plans(total, len(BLOCK_KEYS[self.side]))
        corners = first_plan_corners(robot, self.side, total)
        ends = to_world(pose, corners[:, -1, :])
        end_dist = np.hypot(ends[:, 0] - scenario.goal.x, ends[:, 1] - scenario.goal.y)
        for within_m, clear_m in self._first_tiers(scenario.goal.radius, total):
            near = end_dist <= within_m
            cands = first[near]
            placed = _Placed(pose, corners[near])
            ok = self._clear_band(scenario, robot, placed, plan_distance(cands, counts), clear_m)
            if ok.any():
                break
        else:
            return None
        cands, end_dist = cands[ok], end_dist[near][ok]
        moves = plan_distance(cands, counts)  # (F, T)
        if self.variation <= 0:
            nearest = moves.min(axis=0)
            t = int(np.lexsort((-weights, nearest))[0])
            order = np.lexsort((end_dist, moves[:, t]))
            return cands[order[0]]
        log_eps = math.log(EPSILON_PER_VARIATION * self.variation)
        kernel = np.exp(log_eps * (moves - moves.min(axis=0, keepdims=True)))
        probs = (kernel / kernel.sum(axis=0, keepdims=True)) @ (weights / weights.sum())
        return cands[int(rng.choice(len(cands), p=probs / probs.sum()))]

    def _first_tiers(self, radius: float, total: int) -> list[tuple[float, float]]:
        """``(end within m of the goal centre, clearance m)`` tried in turn for the first plan: for each
        choice clearance the preferred end radius (``plan_end_within_m``, where tighter than the disc's),
        then the disc less ``end_margin``; last the laxest end and ``KEEP_CLEARANCE_M``."""
        disc = radius - end_margin(total)
        ends = [disc]
        if self.plan_end_within_m is not None and self.plan_end_within_m < disc:
            ends.insert(0, self.plan_end_within_m)
        tiers = [(end, clear) for clear in self.choice_clearances for end in ends]
        return tiers + [(radius - end_margin(0), KEEP_CLEARANCE_M)]

    def _clear_band(self, scenario, robot, placed: _Placed, moves, clear_m: float) -> np.ndarray:
        """Which plans clear every body by ``clear_m``, checked only where it matters: for each real
        sequence, the plans within ``PLAN_BAND`` presses of its nearest clear plan (farther ones would
        get under ``epsilon ** PLAN_BAND`` of its weight); others come back False."""
        clearance = np.full(len(moves), np.nan)
        nearest = moves.min(axis=0) if len(moves) else np.zeros(moves.shape[1])
        todo = (moves <= nearest + PLAN_BAND).any(axis=1)
        while todo.any():
            clearance[todo] = plan_geometry(scenario, robot, placed.world(todo))[1]
            ok = np.nan_to_num(clearance, nan=-np.inf) >= clear_m
            nearest = np.where(ok[:, None], moves, np.inf).min(axis=0)
            todo = (moves <= nearest + PLAN_BAND).any(axis=1) & np.isnan(clearance)
        return np.nan_to_num(clearance, nan=-np.inf) >= clear_m

    def _replan(self, scenario, robot, pose, left: int) -> np.ndarray | None:
        """The completion of blocks ``self.block``… with ``left`` presses that moves fewest presses.

        ``None`` when none keeps a margin and the robot is in the goal now (then stopping is safer)."""
        parts = len(BLOCK_KEYS[self.side]) - self.block
        rest = compositions(left, parts)
        strafes_done = self.done[_STRAFE]
        if self.block <= _STRAFE:
            rest = rest[rest[:, _STRAFE - self.block] + strafes_done <= MAX_STRAFES]
        cands = np.zeros((len(rest), len(BLOCK_KEYS[self.side])), np.int64)
        cands[:, self.block :] = rest
        cands, end_dist, clearance = self._evaluate(scenario, robot, pose, cands, scenario.goal.radius)
        current = self.plan - self.done
        moves = plan_distance(cands, current[None, :])[:, 0]
        tiers = [(end_margin(left), c) for c in self.choice_clearances] + [(end_margin(0), KEEP_CLEARANCE_M)]
        if not scenario.goal.contains(*pose):
            tiers.append((0.0, 0.0))
        for end_m, clear_m in tiers:
            ok = (end_dist <= scenario.goal.radius - end_m) & (clearance >= clear_m)
            if ok.any():
                idx = np.flatnonzero(ok)
                best = idx[np.lexsort((-clearance[idx], end_dist[idx], moves[idx]))[0]]
                return self.done + cands[best]
        return None

    # ------------------------------------------------------------------ acting
    def act(self, state: dict[str, Any], rng: np.random.Generator) -> np.ndarray | None:
        """The next key command, a stop, or ``None`` when no plan in the rhythm works (hand over)."""
        if self.handed_over:
            return None
        scenario: Scenario = state["scenario"]
        robot: RobotConfig = state["robot"]
        pose = tuple(float(v) for v in state["pose"])
        left = int(state["max_steps"]) - int(state["steps"])
        if self.plan is None:
            self.plan = self._first_plan(scenario, robot, pose, left, rng)
            self.done = np.zeros(len(BLOCK_KEYS[self.side or "left"]), np.int64)
            if self.plan is None:
                self.handed_over = True
                return None
        else:
            rest = (self.plan - self.done)[None, :]
            rest_ok = False
            if int(rest.sum()) == left:
                _, _, clearance = self._evaluate(
                    scenario, robot, pose, rest, scenario.goal.radius - keep_margin(left)
                )
                rest_ok = bool(len(clearance) and clearance[0] >= KEEP_CLEARANCE_M)
            if not rest_ok:
                plan = self._replan(scenario, robot, pose, left)
                if plan is None:
                    if scenario.goal.contains(*pose):
                        return np.zeros(3, np.float32)  # nothing keeps it in the goal: stop here
                    self.handed_over = True
                    return None
                self.plan = plan
                self.replans += 1
        remaining = self.plan - self.done
        self.block = int(np.flatnonzero(remaining > 0)[0])
        self.done[self.block] += 1
        return np.asarray(KEY_ACTIONS[BLOCK_KEYS[self.side][self.block]], np.float32)
