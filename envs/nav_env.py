"""``MobileNavEnv``: the Mobile-VLA navigation task as a Gymnasium environment.

Observation ``{"rgb": (H, W, 3) uint8 RGB, "instruction": str}``; action ``Box(3)`` float32
``[linear_x, linear_y, angular_z]`` in teleop units (robot frame: x forward, y left, z up). One step is
one key press (or one control period in continuous mode). The episode ends on stop-in-goal (success),
collision or leaving the arena (failure), or after ``max_steps`` actions (truncation; success then means
ending inside the goal region).
"""

from __future__ import annotations

import dataclasses
import math
import string
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.task import NavTask
from sim.config import SimConfig, sim_config
from sim.scenario import Scenario, build_scenario
from sim.scene import wrap_angle
from sim.suites import Suite, load_suite, suite_from_mapping
from sim.world import World

INSTRUCTION_CHARSET = string.ascii_letters + string.digits + " .,;:'-_<>/()!?"


class MobileNavEnv(gym.Env):
    """The omni-wheel robot drives around an obstacle and stops in front of a target.

    ``reset(seed=s, options={"scenario": name})`` builds the scenario from ``self.np_random`` (seeded by
    ``s``); without a scenario option one is drawn from the configured suite. ``info`` carries
    ``success``, ``collision``, ``failure_reason``, ``pose`` (x, y, yaw), ``distance_to_goal`` (m),
    ``heading_error`` (rad), ``went_side``, ``path_length`` (m), ``action_clipped`` and the scenario.

    The env composes the world (``sim.World``: bodies, camera, sweeps), the robot (``OmniBase``: a command
    → a motion) and the task (``envs.task.NavTask``: success, failure reason, reward, termination).
    ``observe_rgb=False`` leaves the frame out of the observations (``rgb`` is None, outside the
    observation space) for recorders that ``render()`` only the frames they keep.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(
        self,
        config: SimConfig | dict | None = None,
        suite: Suite | str | dict | None = None,
        render_mode: str | None = "rgb_array",
        observe_rgb: bool = True,
    ) -> None:
        super().__init__()
        self.config = config if isinstance(config, SimConfig) else sim_config(config)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode={render_mode!r} is not supported; valid: rgb_array or None")
        self.render_mode = render_mode
        if isinstance(suite, Suite):
            self.suite = suite
        elif isinstance(suite, dict):
            self.suite = suite_from_mapping("custom", suite)
        else:
            self.suite = load_suite(suite or self.config.suite)
        cam, rc = self.config.camera, self.config.robot
        self.observation_space = spaces.Dict(
            {
                "rgb": spaces.Box(0, 255, (cam.height, cam.width, 3), np.uint8),
                "instruction": spaces.Text(max_length=256, charset=INSTRUCTION_CHARSET),
            }
        )
        high = np.array([rc.max_linear, rc.max_linear, rc.max_angular], np.float32)
        self.action_space = spaces.Box(-high, high, dtype=np.float32)
        self.world = World(self.config)
        self.scenario: Scenario | None = None
        self._noise = self.config.randomization.on("actuation_noise")
        self.task = NavTask(self.config.max_steps)
        self.observe_rgb = bool(observe_rgb)
        self._delay_s = 0.0

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = sorted(set(options) - {"scenario", "instruction"})
        if unknown:
            raise ValueError(f"unknown reset option(s) {', '.join(unknown)}; valid: scenario, instruction")
        name = options.get("scenario")
        if name is None:
            names = self.suite.scenarios
            probs = np.array([self.suite.weights[n] for n in names], float)
            name = names[int(self.np_random.choice(len(names), p=probs / probs.sum()))]
        scenario = build_scenario(
            str(name),
            self.np_random,
            self.config.randomization,
            seed=seed if seed is not None else -1,
            suite=self.suite.name,
            layout=self.config.layout,
        )
        if options.get("instruction") is not None:
            scenario = dataclasses.replace(scenario, instruction=str(options["instruction"]))
        self.scenario = scenario
        self.task.reset(scenario)
        self.world.apply(scenario)
        self._pose = tuple(float(v) for v in scenario.start)
        self._steps = 0
        self._path_length = 0.0
        self._sim_time = 0.0
        self._done = False
        self._last_command: np.ndarray | None = None
        self._delay_s = 0.0
        self._last_info = self._info(collision=False, contacts=[], clipped=False, success=False, reason=None)
        return self._observation(), dict(self._last_info)

    def step(self, action):
        if self.scenario is None:
            raise RuntimeError("call reset() before step()")
        if self._done:
            raise RuntimeError("the episode has ended; call reset() before step()")
        command, clipped = self.world.base.clip(validate_action(action))
        self._steps += 1
        prev_distance = self.task.distance_to_goal(self._pose)
        contacts = self._carry_previous_command()
        motion = self.world.base.plan(self._pose, command, self.np_random if self._noise else None)
        self._last_command = command
        if not contacts:  # a collision while the previous command ran on: the new one never starts
            contacts = self._execute(motion)
        outcome = self.task.judge(self._pose, contacts, motion.moved, self._steps, prev_distance)
        self._done = outcome.terminated or outcome.truncated
        self._last_info = self._info(collision=outcome.collision, contacts=contacts, clipped=clipped,
                                     success=outcome.success, reason=outcome.failure_reason)
        obs = self._observation()
        return obs, outcome.reward, outcome.terminated, outcome.truncated, dict(self._last_info)

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array" or self.scenario is None:
            return None
        return self.world.render(self._pose)

    def close(self) -> None:
        self.world.close()
        super().close()

    # ------------------------------------------------------------------ latency in the loop
    def delay_next_command(self, seconds: float) -> None:
        """Latency in the loop: the previous command keeps running for ``seconds`` before the next
        ``step``'s command starts (used once, by that step; ``envs.wrappers.CommandLatency`` calls it)."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"command delay {seconds!r} s is invalid; expected a finite number >= 0")
        self._delay_s = float(seconds)

    def _carry_previous_command(self) -> list:
        """Run the previous command for the pending delay (none before the first command); contacts."""
        delay, self._delay_s = self._delay_s, 0.0
        if delay <= 0 or self._last_command is None:
            return []
        carry = self.world.base.plan(self._pose, self._last_command, None, duration_s=delay)
        return self._execute(carry)

    # ------------------------------------------------------------------ helpers
    def _execute(self, motion) -> list:
        """Sweep the robot along ``motion`` (its duration counts as sim time); it stays at the last
        collision-free pose. Returns the contacts."""
        self._sim_time += motion.duration_s
        if not motion.moved:
            return []
        last_free, contacts = self.world.sweep(motion.poses)
        new_pose = self._pose if last_free < 0 else tuple(float(v) for v in motion.poses[last_free])
        self.task.track_motion(self._pose, new_pose)
        self._path_length += math.hypot(new_pose[0] - self._pose[0], new_pose[1] - self._pose[1])
        self._pose = new_pose
        self.world.set_robot_pose(self._pose)
        return contacts

    @property
    def pose(self) -> tuple[float, float, float]:
        """Robot pose (x, y, yaw) in the world frame: metres, radians."""
        return self._pose

    def privileged_state(self) -> dict[str, Any]:
        """Ground truth for privileged (scripted) policies: pose, scenario and robot config."""
        return {
            "pose": self._pose,
            "scenario": self.scenario,
            "robot": self.config.robot,
            "steps": self._steps,
            "max_steps": self.config.max_steps,
        }

    def _observation(self) -> dict[str, Any]:
        assert self.scenario is not None
        rgb = self.world.render(self._pose) if self.observe_rgb else None
        return {"rgb": rgb, "instruction": self.scenario.instruction}

    def _info(self, *, collision: bool, contacts, clipped: bool, success: bool, reason: str | None) -> dict:
        scenario = self.scenario
        assert scenario is not None
        return {
            "success": bool(success),
            "collision": bool(collision),
            "collided_with": [c.body for c in contacts],
            "failure_reason": reason,
            "pose": np.array(self._pose, dtype=np.float64),
            "distance_to_goal": self.task.distance_to_goal(self._pose),
            "heading_error": abs(wrap_angle(self._pose[2] - scenario.goal.heading)),
            "in_goal": self.task.in_goal(self._pose),
            "went_side": self.task.went_side,
            "path_length": self._path_length,
            "sim_time": self._sim_time,
            "steps": self._steps,
            "action_clipped": bool(clipped),
            "scenario": scenario.name,
            "instruction": scenario.instruction,
        }


def validate_action(action: Any) -> np.ndarray:
    """The action as a float32 (3,) array; ``ValueError`` for wrong shapes or non-finite values."""
    try:
        arr = np.asarray(action, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"action {action!r} is not numeric: expected [linear_x, linear_y, angular_z]"
        ) from exc
    if arr.shape != (3,):
        raise ValueError(f"action has shape {arr.shape}; expected (3,) = [linear_x, linear_y, angular_z]")
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"action {arr.tolist()} contains NaN or inf; expected finite [linear_x, linear_y, angular_z]"
        )
    return arr

