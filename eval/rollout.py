"""One closed-loop episode: env + policy → a results row (and optionally the ego frames).

The episode runs through the bench's one loop (``policies.rollout.rollout``) with the latency setting as
an ``envs.wrappers.CommandLatency`` wrapper and three observers: the trajectory, the per-step policy
latency (``LatencyObserver``) and, for videos, the frames. The row's fields are those of
``results.json`` (see ``eval/closed_loop.py``); distances in metres, angles in radians, times in seconds
or milliseconds as their names say.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.nav_env import MobileNavEnv
from envs.wrappers import LATENCY_MODES, CommandLatency, check_latency_settings
from eval.metrics import soft_spl, spl
from eval.step_latency import EpisodeLatency, next_call_is_warmup
from policies.rollout import FrameObserver, Observer, PolicyStepError, TrajectoryObserver, rollout
from sim.taxonomy import instruction_for, instruction_side, mirror_instruction

__all__ = [
    "LATENCY_MODES",
    "EpisodeSpec",
    "LoopSettings",
    "PolicyStepError",
    "path_efficiency",
    "run_episode",
]


@dataclass(frozen=True)
class EpisodeSpec:
    """What to run: episode index, its seed, scenario, and whether the instruction is mirrored."""

    episode: int
    seed: int
    scenario: str
    flipped: bool = False

    @property
    def key(self) -> str:
        return f"{self.episode}{'-flipped' if self.flipped else ''}"

    def reset_options(self) -> dict[str, Any]:
        """The ``env.reset`` options: the scenario, and the mirrored instruction of a flipped twin."""
        options: dict[str, Any] = {"scenario": self.scenario}
        if self.flipped:
            options["instruction"] = mirror_instruction(instruction_for(self.scenario))
        return options


@dataclass(frozen=True)
class LoopSettings:
    """Latency in the loop (``envs.wrappers.CommandLatency``) and the per-step policy timeout."""

    latency_mode: str = "none"
    delay_ms: float = 0.0
    step_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        check_latency_settings(self.latency_mode, self.delay_ms)
        if not self.step_timeout_s > 0:
            raise ValueError(f"step_timeout_s={self.step_timeout_s!r} is invalid; expected > 0")


class LatencyObserver(Observer):
    """Per-step policy latency: the policy's own component timing (``last_timing``) or the wall-clock
    time of ``act``, the instance's first calls kept apart as warm-up (``eval.step_latency``)."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.timings = EpisodeLatency()
        self._warmup = False

    def before_act(self, env, obs) -> None:
        self._warmup = next_call_is_warmup(self.policy)

    def on_act(self, env, action, elapsed_s: float) -> None:
        timing = getattr(self.policy, "last_timing", None)
        parts = timing.as_dict() if timing is not None else {}
        parts["total_ms"] = parts.get("total_ms") or elapsed_s * 1e3
        self.timings.add(parts, self._warmup)


def path_efficiency(
    scenario: Any, robot_radius: float, final_xy: tuple[float, float], success: bool, path_length: float
) -> dict[str, Any]:
    """SPL and SoftSPL of an episode with their shortest-path distances (metres, ``docs/metrics.md``).

    ``d_start_m``: shortest collision-free path from the start into the goal disc; ``d_end_m``: the same
    from the final position (SoftSPL's remaining distance, by path, not by straight line). A scenario
    whose goal no path reaches gives SPL = SoftSPL = 0 and ``d_start_m = None``.
    """
    d_start = scenario.shortest_path_length(robot_radius)
    if not math.isfinite(d_start):
        return {"spl": 0.0, "soft_spl": 0.0, "d_start_m": None, "d_end_m": None}
    d_end = scenario.path_length_from(final_xy[0], final_xy[1], robot_radius)
    d_end_m = float(d_end) if math.isfinite(d_end) else None
    return {
        "spl": spl(success, d_start, path_length),
        "soft_spl": soft_spl(d_end, d_start, path_length) if d_end_m is not None else 0.0,
        "d_start_m": float(d_start),
        "d_end_m": d_end_m,
    }


def run_episode(
    env: MobileNavEnv, policy: Any, spec: EpisodeSpec, settings: LoopSettings, record_frames: bool = False
) -> tuple[dict[str, Any], list[np.ndarray]]:
    """Run one episode (``policies.rollout.rollout``); returns its results row and (when
    ``record_frames``) the ego RGB frames."""
    trajectory, latency = TrajectoryObserver(), LatencyObserver(policy)
    frames = FrameObserver()
    observers: list[Observer] = [trajectory, latency, *([frames] if record_frames else [])]
    wrapped = CommandLatency(env, settings.latency_mode, settings.delay_ms)
    result = rollout(wrapped, policy, spec.seed, spec.reset_options(), observers, settings.step_timeout_s)
    return episode_row(
        env, spec, result.info, result.error_text, result.error_trace, trajectory.poses, latency.timings
    ), frames.frames


def episode_row(
    env: MobileNavEnv,
    spec: EpisodeSpec,
    info: dict[str, Any],
    error: str | None,
    error_trace: str | None,
    trajectory: list[list[float]],
    timings: EpisodeLatency,
) -> dict[str, Any]:
    """The results row of a finished episode (``info``: the env's last info; ``error``: the policy's
    error text, None when the episode ran to its end)."""
    scenario = env.scenario
    assert scenario is not None
    robot_radius = env.config.robot.radius
    success = bool(info["success"]) and error is None
    reason = "policy_error" if error is not None else (None if success else info["failure_reason"])
    if reason is None and not success:
        reason = "timeout"
    path_length = float(info["path_length"])
    final_xy = (float(env.pose[0]), float(env.pose[1]))
    path_metrics = path_efficiency(scenario, robot_radius, final_xy, success, path_length)
    return {
        "episode": spec.episode,
        "seed": spec.seed,
        "scenario": scenario.name,
        "tags": dict(scenario.tags),
        "instruction": scenario.instruction,
        "instruction_flipped": spec.flipped,
        "named_side": instruction_side(scenario.instruction),
        "success": success,
        "failure_reason": reason,
        "spl": path_metrics["spl"],
        "soft_spl": path_metrics["soft_spl"],
        "collisions": int(bool(info["collision"])),
        "first_collision_step": int(info["steps"]) if info["collision"] else None,
        "collided_with": list(info["collided_with"]),
        "path_length_m": path_length,
        "steps": int(info["steps"]),
        "sim_time_s": float(info["sim_time"]),
        "final_distance_m": float(info["distance_to_goal"]),
        "final_heading_error_rad": float(info["heading_error"]),
        "d_start_m": path_metrics["d_start_m"],
        "d_end_m": path_metrics["d_end_m"],
        "went_side": info["went_side"],
        **timings.row_fields(),
        "error": error,
        "error_trace": error_trace if error is not None else None,
        "trajectory": trajectory,
        "scene": {**scenario.as_record(), "robot_radius": robot_radius},
        "video": None,
    }
