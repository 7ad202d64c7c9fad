"""The one episode loop: ``rollout(env, policy, seed, options, observers)``.

Closed-loop evaluation (``eval.rollout``), dataset generation (``datagen.expert_rollout``) and the tests
all run episodes through it; what each needs on top (latency samples, frames, HDF5 rows, the results
row) is an ``Observer`` whose hooks the loop calls:

- ``on_reset(env, obs, info)`` after ``env.reset``;
- ``before_act(env, obs)`` before each ``policy.act`` (``obs`` as the policy will see it);
- ``on_act(env, action, elapsed_s)`` after it returned a valid action (``elapsed_s``: wall-clock s);
- ``on_step(env, action, obs, reward, terminated, truncated, info)`` after each ``env.step``;
- ``on_end(env, result)`` once, also after an error.

``env`` may be wrapped (e.g. ``envs.wrappers.CommandLatency``); observers read the robot through
``env.unwrapped`` (``pose``, ``scenario``, ``render()``). A privileged policy (``policy.privileged``)
also gets ``obs["state"] = env.unwrapped.privileged_state()``. Any exception of the policy or the env
ends the episode and is kept in ``RolloutResult.error`` (callers re-raise it where a failure must stop
the run).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.nav_env import validate_action
from policies.base import OBS_STATE


class PolicyStepError(RuntimeError):
    """The policy raised, returned a bad action, or took longer than the step timeout."""


class Observer:
    """Base class of rollout observers: every hook does nothing; override the ones you need."""

    def on_reset(self, env: Any, obs: dict[str, Any], info: dict[str, Any]) -> None:
        pass

    def before_act(self, env: Any, obs: dict[str, Any]) -> None:
        pass

    def on_act(self, env: Any, action: np.ndarray, elapsed_s: float) -> None:
        pass

    def on_step(
        self,
        env: Any,
        action: np.ndarray,
        obs: dict[str, Any],
        reward: float,
        terminated: bool,
        truncated: bool,
        info: dict[str, Any],
    ) -> None:
        pass

    def on_end(self, env: Any, result: RolloutResult) -> None:
        pass


@dataclass
class RolloutResult:
    """How an episode ended: the last ``info`` (the reset's when no step ran), steps taken, the error."""

    info: dict[str, Any]
    steps: int = 0
    terminated: bool = False
    truncated: bool = False
    error: BaseException | None = None
    error_trace: str | None = None

    @property
    def error_text(self) -> str | None:
        return None if self.error is None else f"{type(self.error).__name__}: {self.error}"


def checked_action(action: Any) -> np.ndarray:
    """The policy's action as float32 (3,); ``PolicyStepError`` (blaming the policy) for another shape or
    a non-finite value. The check itself is the env's one, ``envs.validate_action``."""
    try:
        return validate_action(action)
    except ValueError as exc:
        raise PolicyStepError(f"policy returned an invalid action: {exc}") from exc


def rollout(
    env: Any,
    policy: Any,
    seed: int,
    options: dict[str, Any] | None = None,
    observers: Sequence[Observer] = (),
    step_timeout_s: float | None = None,
    privileged: bool | None = None,
    max_steps: int | None = None,
) -> RolloutResult:
    """Run one episode of ``policy`` in ``env`` reset with ``seed`` and ``options``; see the module docstring.

    The policy is seeded with ``seed`` (when it has ``seed``) and reset with the episode's instruction.
    ``step_timeout_s``: an ``act`` call slower than this ends the episode with ``PolicyStepError``.
    ``privileged``: pass ``obs["state"]`` (None: when ``policy.privileged`` says so). ``max_steps``: stop
    after this many actions even when the episode has not ended (None: run to the env's end).
    """
    obs, info = env.reset(seed=seed, options=options)
    for o in observers:
        o.on_reset(env, obs, info)
    result = RolloutResult(info=info)
    if privileged is None:
        privileged = bool(getattr(policy, "privileged", False))
    try:
        if hasattr(policy, "seed"):
            policy.seed(seed)
        policy.reset(obs["instruction"])
        while not (result.terminated or result.truncated) and (max_steps is None or result.steps < max_steps):
            policy_obs = {**obs, OBS_STATE: env.unwrapped.privileged_state()} if privileged else obs
            for o in observers:
                o.before_act(env, policy_obs)
            start = time.perf_counter()
            action = checked_action(policy.act(policy_obs))
            elapsed = time.perf_counter() - start
            if step_timeout_s is not None and elapsed > step_timeout_s:
                raise PolicyStepError(f"policy step took {elapsed:.1f} s > step_timeout_s={step_timeout_s}")
            for o in observers:
                o.on_act(env, action, elapsed)
            obs, reward, terminated, truncated, info = env.step(action)
            result.info, result.steps = info, result.steps + 1
            result.terminated, result.truncated = bool(terminated), bool(truncated)
            for o in observers:
                o.on_step(env, action, obs, reward, terminated, truncated, info)
    except Exception as exc:  # noqa: BLE001 - any failure ends the episode; the caller decides
        result.error, result.error_trace = exc, traceback.format_exc(limit=3)
    for o in observers:
        o.on_end(env, result)
    return result


class TrajectoryObserver(Observer):
    """The robot pose (x, y, yaw; world frame, metres, radians) after the reset and after every step."""

    def __init__(self) -> None:
        self.poses: list[list[float]] = []

    def on_reset(self, env, obs, info) -> None:
        self.poses = [list(map(float, env.unwrapped.pose))]

    def on_step(self, env, action, obs, reward, terminated, truncated, info) -> None:
        self.poses.append(list(map(float, env.unwrapped.pose)))


class ActionObserver(Observer):
    """The actions the policy returned, in order (float32 (3,), teleop units)."""

    def __init__(self) -> None:
        self.actions: list[np.ndarray] = []

    def on_reset(self, env, obs, info) -> None:
        self.actions = []

    def on_act(self, env, action, elapsed_s) -> None:
        self.actions.append(action)


class FrameObserver(Observer):
    """The observed RGB frames: the reset's and every step's (``(H, W, 3)`` uint8)."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []

    def on_reset(self, env, obs, info) -> None:
        self.frames = [obs["rgb"]]

    def on_step(self, env, action, obs, reward, terminated, truncated, info) -> None:
        self.frames.append(obs["rgb"])
