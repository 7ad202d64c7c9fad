"""``NavTask``: the rules of the navigation task, apart from the world that simulates it.

The env moves the robot (``sim.World`` + ``OmniBase``); the task judges each step from the robot pose
(x, y, yaw: world frame, metres, radians), the contacts of the motion and the step count: success,
collision, failure reason, reward and termination. It also tracks on which side the robot passed the
primary obstacle (``went_side``), the fact the ``wrong_side`` failure rests on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sim.scenario import Scenario

FAILURE_REASONS = ("collision", "timeout", "stopped_short", "wrong_side", "left_arena", "policy_error")
"""Every ``failure_reason`` an episode can end with (``policy_error`` is set by the episode loop)."""


@dataclass(frozen=True)
class StepOutcome:
    """The task's verdict on one step."""

    success: bool
    collision: bool
    """A contact with an obstacle, the target or an arena wall (the info's ``collision``)."""
    terminated: bool
    truncated: bool
    """``max_steps`` reached without a terminal event (never together with ``terminated``)."""
    reward: float
    failure_reason: str | None


class NavTask:
    """Drive around the obstacle and stop inside the goal disc in front of the target.

    - **success**: inside the goal, no contact, and either stopped there (an action that did not move the
      robot) or at the last step (``max_steps``);
    - **terminated** on stop-in-goal, a collision or touching an arena wall; **truncated** at ``max_steps``;
    - **reward**: progress towards the goal centre (metres) + 1 on success − 1 on a contact;
    - **failure reason**: ``collision``, ``left_arena``, or at the step limit ``wrong_side`` (passed the
      obstacle on the side the instruction does not name), ``stopped_short`` (before the goal disc) or
      ``timeout``.
    """

    def __init__(self, max_steps: int) -> None:
        self.max_steps = int(max_steps)
        self.scenario: Scenario | None = None
        self.went_side: str | None = None

    def reset(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.went_side = None

    def distance_to_goal(self, pose: tuple[float, float, float]) -> float:
        """Straight-line distance (m) from the robot to the goal centre."""
        goal = self._scenario.goal
        return math.hypot(pose[0] - goal.x, pose[1] - goal.y)

    def in_goal(self, pose: tuple[float, float, float]) -> bool:
        return self._scenario.goal.contains(*pose)

    def track_motion(self, old: tuple[float, float, float], new: tuple[float, float, float]) -> None:
        """Note on which side (``left``: y above the obstacle centre) the robot first crosses the primary
        obstacle's x while moving from ``old`` to ``new``."""
        ob = self._scenario.primary_obstacle
        if ob is None or self.went_side is not None:
            return
        if old[0] < ob.x <= new[0]:
            t = (ob.x - old[0]) / (new[0] - old[0])
            y = old[1] + t * (new[1] - old[1])
            self.went_side = "left" if y > ob.y else "right"

    def judge(self, pose: tuple[float, float, float], contacts: list[Any], moved: bool, steps: int,
              prev_distance: float) -> StepOutcome:
        """The outcome of a step that left the robot at ``pose`` with ``contacts`` (``category`` ``wall``
        for the arena walls); ``moved``: the commanded motion moved the robot; ``steps``: actions so far;
        ``prev_distance``: distance to the goal before the step (m)."""
        in_goal = self.in_goal(pose)
        left_arena = any(c.category == "wall" for c in contacts)
        collision = bool(contacts) and not left_arena
        stopped_in_goal = not moved and in_goal
        truncated = steps >= self.max_steps
        terminated = collision or left_arena or stopped_in_goal
        success = in_goal and not (collision or left_arena) and (stopped_in_goal or truncated)
        reason = None
        if collision:
            reason = "collision"
        elif left_arena:
            reason = "left_arena"
        elif truncated and not success:
            reason = self._timeout_reason(pose)
        reward = (
            (prev_distance - self.distance_to_goal(pose))
            + (1.0 if success else 0.0)
            - (1.0 if collision or left_arena else 0.0)
        )
        return StepOutcome(
            success=bool(success),
            collision=bool(collision or left_arena),
            terminated=bool(terminated),
            truncated=bool(truncated and not terminated),
            reward=float(reward),
            failure_reason=reason,
        )

    def _timeout_reason(self, pose: tuple[float, float, float]) -> str:
        scenario = self._scenario
        if scenario.side in ("left", "right") and self.went_side not in (None, scenario.side):
            return "wrong_side"
        if pose[0] < scenario.goal.x - scenario.goal.radius:
            return "stopped_short"
        return "timeout"

    @property
    def _scenario(self) -> Scenario:
        if self.scenario is None:
            raise RuntimeError("NavTask.reset(scenario) must be called first")
        return self.scenario
