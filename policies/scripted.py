"""The privileged scripted expert: reads the true scene, goes round the obstacle on the named side.

It plans on the obstacle footprints inflated by the robot radius plus a margin: the cost-to-go of a
position is the length of the shortest path to the goal that passes the obstacles on the side the
*instruction* names (so a mirrored instruction sends it the other way). Each step it picks the command
whose predicted end position lowers that cost most without touching anything, and stops once inside the
goal disc. ``style="keys"`` emits the real teleop vocabulary (8 translation keys, spin keys to correct a
large heading error, stop); ``style="smooth"`` emits continuous commands (32 directions, speed scaled
down near the goal); ``style="operator"`` drives with the real operators' rhythm (``policies.operator``)
and falls back to the ``keys`` behaviour only where that rhythm has no plan. ``variation`` > 0 gives
operator-like differences between episodes (margins, stopping distance, occasional equally-good
alternative keys; for ``operator`` the spread around the real sequences), drawn from the episode seed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from policies.base import OBS_STATE, BasePolicy, register_policy
from policies.operator import PLAN_CLEARANCE_M, PLAN_END_WITHIN_M, OperatorDriver
from sim.omni_base import press_displacement
from sim.protocol import KEY_ACTIONS, NOMINAL
from sim.scenario import Scenario
from sim.scene import Obstacle, segment_hits_box, wrap_angle
from sim.taxonomy import instruction_side

TRANSLATION_KEYS = ("w", "q", "e", "a", "d", "z", "c", "s")
STYLES = ("keys", "smooth", "operator")
HEADING_CORRECTION_RAD = 0.3
SAFETY_M = 0.02
ARENA_MARGIN_M = 0.05


@register_policy("scripted")
class ScriptedExpert(BasePolicy):
    """Privileged expert (needs ``obs["state"]`` = ``MobileNavEnv.privileged_state()``)."""

    name = "scripted"
    privileged = True

    def __init__(
        self,
        style: str = "keys",
        variation: float = 0.0,
        margin_m: float = 0.10,
        stop_fraction: float = 0.55,
        seed: int = 0,
        plan_clearance_m: float = PLAN_CLEARANCE_M,
        plan_end_within_m: float | None = PLAN_END_WITHIN_M,
        operator_sequences: str | None = None,
    ) -> None:
        super().__init__()
        if style not in STYLES:
            raise ValueError(f"scripted style={style!r} is invalid; valid styles: {', '.join(STYLES)}")
        if not 0.0 <= variation <= 1.0:
            raise ValueError(f"scripted variation={variation!r} is invalid; expected a number in [0, 1]")
        if not 0.0 < stop_fraction <= 1.0:
            raise ValueError(f"scripted stop_fraction={stop_fraction!r} is invalid; expected (0, 1]")
        self.style = style
        self.variation = float(variation)
        self.base_margin = float(margin_m)
        self.base_stop_fraction = float(stop_fraction)
        self.operator = None
        if style == "operator":
            self.operator = OperatorDriver(
                self.variation, plan_clearance_m, plan_end_within_m, operator_sequences
            )
        self.seed(seed)

    def seed(self, seed: int) -> None:
        """Re-seed the operator-variation stream (the runner calls this with each episode's seed)."""
        self._rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xE1])

    def reset(self, instruction: str) -> None:
        super().reset(instruction)
        self.side = instruction_side(instruction)
        v = self.variation
        self.margin = self.base_margin + (self._rng.uniform(-0.04, 0.06) * v if v else 0.0)
        self.stop_fraction = float(
            np.clip(self.base_stop_fraction + (self._rng.uniform(-0.2, 0.2) * v if v else 0.0), 0.25, 0.9)
        )
        self.explore = 0.25 * v
        self.slack = 0.04 * v
        if self.operator is not None:
            self.operator.reset(self.side)

    # ------------------------------------------------------------------ acting
    def _act(self, obs: dict[str, Any]) -> np.ndarray:
        state = obs.get(OBS_STATE)
        if state is None:
            raise ValueError(
                "the scripted expert is privileged: obs['state'] (MobileNavEnv.privileged_state()) is missing"
            )
        if self.operator is not None:
            command = self.operator.act(state, self._rng)
            if command is not None:
                return command
        scenario: Scenario = state["scenario"]
        x, y, yaw = state["pose"]
        robot = state["robot"]
        goal = scenario.goal
        here = (x, y)
        if math.hypot(x - goal.x, y - goal.y) <= goal.radius * self.stop_fraction:
            return np.zeros(3, np.float32)
        heading_error = wrap_angle(goal.heading - yaw)
        if self.style != "smooth" and abs(heading_error) > HEADING_CORRECTION_RAD:
            return np.asarray(KEY_ACTIONS["r" if heading_error > 0 else "t"], np.float32)
        step = robot.speed_m_s * (
            robot.key_press_s if robot.control_mode == "key_press" else robot.control_period_s
        )
        planner = _Planner(scenario, robot.radius, self.margin, self.side)
        current = planner.cost(here)
        options = []
        for command in self._candidates():
            if self.style != "smooth" and robot.control_mode == "key_press":
                # Where the calibrated base really goes (strafe share, diagonal angle), robot frame.
                fwd, left = press_displacement(robot, command)
                direction, length = math.atan2(left, fwd) + yaw, math.hypot(fwd, left)
            else:
                direction = math.atan2(command[1], command[0]) + yaw
                length = step * (
                    1.0 if self.style != "smooth" else min(1.0, float(np.hypot(*command[:2])) / NOMINAL)
                )
            end = (x + length * math.cos(direction), y + length * math.sin(direction))
            if planner.blocked(here, end, robot.radius + SAFETY_M):
                continue
            options.append((planner.cost(end), command))
        if not options:
            return np.zeros(3, np.float32)
        options.sort(key=lambda item: item[0])
        best_cost, best = options[0]
        in_goal = math.hypot(x - goal.x, y - goal.y) <= goal.radius * 0.9
        if in_goal and best_cost >= current - 0.25 * step:
            return np.zeros(3, np.float32)
        if (
            self.explore
            and len(options) > 1
            and options[1][0] <= best_cost + self.slack
            and self._rng.random() < self.explore
        ):
            best = options[1][1]
        return np.asarray(best, np.float32)

    def _candidates(self) -> list[np.ndarray]:
        if self.style != "smooth":
            return [np.asarray(KEY_ACTIONS[k], np.float32) for k in TRANSLATION_KEYS]
        commands = []
        for i in range(32):
            angle = 2 * math.pi * i / 32
            for scale in (1.0, 0.5):
                commands.append(
                    np.array(
                        [NOMINAL * scale * math.cos(angle), NOMINAL * scale * math.sin(angle), 0.0],
                        np.float32,
                    )
                )
        return commands


class _Planner:
    """Cost-to-go around the inflated union footprint of the obstacles, on a given side."""

    def __init__(self, scenario: Scenario, robot_radius: float, margin: float, side: str) -> None:
        self.scenario = scenario
        self.goal = (scenario.goal.x, scenario.goal.y)
        self.side = side
        pad = robot_radius + margin
        if scenario.obstacles and side in ("left", "right"):
            boxes = [o.aabb_xy() for o in scenario.obstacles]
            xmin = min(b[0] for b in boxes) - pad
            xmax = max(b[1] for b in boxes) + pad
            y_side = max(b[3] for b in boxes) + pad if side == "left" else min(b[2] for b in boxes) - pad
            self.corners = ((xmin, y_side), (xmax, y_side))
            self.region = (xmin, xmax, min(b[2] for b in boxes) - pad, max(b[3] for b in boxes) + pad)
        else:
            self.corners = None
            self.region = None
        self.bodies: list[Obstacle] = [*scenario.obstacles, scenario.target, *scenario.distractors]

    def cost(self, p: tuple[float, float]) -> float:
        """Length (m) of the shortest path from ``p`` to the goal passing the obstacles on ``side``."""
        if self.corners is None:
            return math.dist(p, self.goal)
        p1, p2 = self.corners
        ys = p1[1]
        on_side = p[1] >= ys if self.side == "left" else p[1] <= ys
        past = p[0] >= p2[0]
        if (on_side or past) and self._clear(p, self.goal):
            return math.dist(p, self.goal)
        tail = math.dist(p2, self.goal)
        if (on_side or p[0] >= p1[0]) and self._clear(p, p2):
            # Alongside the obstacle (a wrong-side robot pays a detour penalty through p1).
            return math.dist(p, p2) + tail + (0.0 if on_side else 1.0)
        return math.dist(p, p1) + math.dist(p1, p2) + tail

    def _clear(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        return self.region is None or not segment_hits_box(a, b, self.region)

    def blocked(self, a: tuple[float, float], b: tuple[float, float], clearance: float) -> bool:
        """Whether a robot disc of radius ``clearance`` moving a→b touches a body or the arena edge."""
        xmin, xmax, ymin, ymax = self.scenario.arena
        for t in (0.5, 1.0):
            px, py = a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
            if not (
                xmin + clearance + ARENA_MARGIN_M <= px <= xmax - clearance - ARENA_MARGIN_M
                and ymin + clearance + ARENA_MARGIN_M <= py <= ymax - clearance - ARENA_MARGIN_M
            ):
                return True
            if any(_distance_to_body(px, py, body) < clearance for body in self.bodies):
                return True
        return False


def _distance_to_body(px: float, py: float, body: Obstacle) -> float:
    """Distance (m) from a point to a body's footprint (rotated rectangle or disc); 0 inside."""
    if body.kind == "box":
        c, s = math.cos(body.yaw), math.sin(body.yaw)
        dx, dy = px - body.x, py - body.y
        lx, ly = c * dx + s * dy, -s * dx + c * dy
        ox = max(abs(lx) - body.half_extents[0], 0.0)
        oy = max(abs(ly) - body.half_extents[1], 0.0)
        return math.hypot(ox, oy)
    return max(math.hypot(px - body.x, py - body.y) - body.radius, 0.0)
