"""One closed-loop episode: env + policy → a results row (and optionally the ego frames).

The row's fields are those of ``results.json`` (see ``eval/closed_loop.py``); distances in metres,
angles in radians, times in seconds or milliseconds as their names say.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.nav_env import MobileNavEnv
from eval.metrics import soft_spl, spl
from eval.step_latency import EpisodeLatency, next_call_is_warmup
from policies.base import OBS_STATE
from sim.taxonomy import instruction_for, instruction_side, mirror_instruction

LATENCY_MODES = ("none", "fixed", "measured")


class PolicyStepError(RuntimeError):
    """The policy raised, returned a bad action, or took longer than the step timeout."""


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


@dataclass(frozen=True)
class LoopSettings:
    """Latency in the loop and the per-step policy timeout."""

    latency_mode: str = "none"
    delay_ms: float = 0.0
    step_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.latency_mode not in LATENCY_MODES:
            raise ValueError(
                f"latency_in_loop.mode={self.latency_mode!r} is invalid; valid: {', '.join(LATENCY_MODES)}"
            )
        if not (math.isfinite(self.delay_ms) and self.delay_ms >= 0):
            raise ValueError(f"latency_in_loop.delay_ms={self.delay_ms!r} is invalid; expected a number >= 0")
        if not self.step_timeout_s > 0:
            raise ValueError(f"step_timeout_s={self.step_timeout_s!r} is invalid; expected > 0")


def _checked_action(action: Any) -> np.ndarray:
    arr = np.asarray(action, dtype=np.float32)
    if arr.shape != (3,):
        raise PolicyStepError(f"policy returned an action of shape {arr.shape}; expected (3,)")
    if not np.all(np.isfinite(arr)):
        raise PolicyStepError(f"policy returned a non-finite action {arr.tolist()}")
    return arr


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
    """Run one episode; returns its results row and (when ``record_frames``) the ego RGB frames."""
    options: dict[str, Any] = {"scenario": spec.scenario}
    if spec.flipped:
        options["instruction"] = mirror_instruction(instruction_for(spec.scenario))
    obs, info = env.reset(seed=spec.seed, options=options)
    scenario = env.scenario
    assert scenario is not None
    frames = [obs["rgb"]] if record_frames else []
    trajectory = [list(map(float, env.pose))]
    timings = EpisodeLatency()
    error = None
    privileged = bool(getattr(policy, "privileged", False))
    env.command_delay_s = settings.delay_ms / 1e3 if settings.latency_mode == "fixed" else 0.0
    terminated = truncated = False
    try:
        if hasattr(policy, "seed"):
            policy.seed(spec.seed)
        policy.reset(obs["instruction"])
        while not (terminated or truncated):
            policy_obs = {**obs, OBS_STATE: env.privileged_state()} if privileged else obs
            warmup = next_call_is_warmup(policy)
            start = time.perf_counter()
            action = _checked_action(policy.act(policy_obs))
            elapsed = time.perf_counter() - start
            if elapsed > settings.step_timeout_s:
                raise PolicyStepError(
                    f"policy step took {elapsed:.1f} s > step_timeout_s={settings.step_timeout_s}"
                )
            timing = getattr(policy, "last_timing", None)
            parts = timing.as_dict() if timing is not None else {}
            parts["total_ms"] = parts.get("total_ms") or elapsed * 1e3
            timings.add(parts, warmup)
            if settings.latency_mode == "measured":
                env.command_delay_s = elapsed
            obs, _, terminated, truncated, info = env.step(action)
            trajectory.append(list(map(float, env.pose)))
            if record_frames:
                frames.append(obs["rgb"])
    except Exception as exc:  # noqa: BLE001 - any policy failure is recorded, the run goes on
        error = f"{type(exc).__name__}: {exc}"
        error_trace = traceback.format_exc(limit=3)
    robot_radius = env.config.robot.radius
    success = bool(info["success"]) and error is None
    reason = "policy_error" if error is not None else (None if success else info["failure_reason"])
    if reason is None and not success:
        reason = "timeout"
    path_length = float(info["path_length"])
    final_xy = (float(env.pose[0]), float(env.pose[1]))
    path_metrics = path_efficiency(scenario, robot_radius, final_xy, success, path_length)
    row = {
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
    return row, frames
