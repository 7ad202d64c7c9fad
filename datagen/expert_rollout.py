"""One expert demonstration recorded exactly as the real collector lays an episode out (no file I/O).

Row layout (N = 1 + ``max_steps`` rows, 18 with the default 17 actions):

- row 0: the reset frame, the stop action ``[0, 0, 0]``, event ``episode_start``;
- row k >= 1: the frame observed BEFORE executing action k (the real collector grabs the image at the
  key press, so row 1's frame equals row 0's), and action k; event ``start_action`` for a movement key,
  ``stop_action`` for the stop key;
- once the expert has stopped inside the goal (the env ends the episode there), the remaining rows are
  stop actions with the same final frame, recorded without stepping the env, so every episode has the
  real data's N = 1 + 17.

Frames are rendered lazily: a new frame only when the robot pose changed since the last render, and
never after the last action, so an episode costs at most ``max_steps`` renders. ``FramelessNavEnv``
skips the env's own per-step render; the frames are ``env.render()`` at the same pose, so they are the
observations a plain ``MobileNavEnv`` returns (a test checks that).

Poses are ``(x, y, yaw)`` of the robot base in the world frame (metres, radians).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from datagen.schema import EVENT_EPISODE_START, EVENT_START_ACTION, EVENT_STOP_ACTION
from envs.nav_env import MobileNavEnv
from policies.base import OBS_INSTRUCTION, OBS_RGB, OBS_STATE
from sim.protocol import KEY_ACTIONS, STOP_ACTION
from sim.scenario import Scenario

STOP_TOLERANCE = 1e-6
"""An action whose every axis is at most this (teleop units) counts as the stop key."""
_KEY_OF = {v: ("." if k == " " else k) for k, v in KEY_ACTIONS.items()}


class FramelessNavEnv(MobileNavEnv):
    """``MobileNavEnv`` whose ``reset``/``step`` observations carry ``rgb=None`` (no render).

    The recorder renders with ``render()`` only the frames it stores; physics, randomisation and
    ``info`` are the parent's, untouched.
    """

    def _observation(self) -> dict[str, Any]:
        assert self.scenario is not None
        return {OBS_RGB: None, OBS_INSTRUCTION: self.scenario.instruction}


@dataclass
class ExpertEpisode:
    """One recorded attempt: per-row RGB frames, actions, events and poses, plus the outcome."""

    frames: np.ndarray
    """(N, H, W, 3) uint8 RGB, row k = the frame observed before action k."""
    actions: np.ndarray
    """(N, 3) float32 teleop units; row 0 is the start frame's stop action."""
    event_types: list[str]
    poses: np.ndarray
    """(N, 3) float64 robot pose of each row's frame (world frame, metres / radians)."""
    scenario: Scenario
    seed: int
    """The env reset seed (and expert variation seed) of this attempt."""
    success: bool
    failure_reason: str | None
    env_steps: int
    """Actions actually executed in the env (the padding rows after a stop in the goal are not)."""
    path_length_m: float
    final_distance_m: float
    renders: int

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])


def is_stop(action: np.ndarray) -> bool:
    return bool(np.abs(np.asarray(action, np.float32)).max() <= STOP_TOLERANCE)


def key_string(actions: np.ndarray) -> str:
    """Teleop keys of action rows (``.`` = stop, ``?`` = a command outside the key vocabulary)."""
    keys = []
    for row in np.asarray(actions, np.float32):
        key = "?"
        for value, name in _KEY_OF.items():
            if np.abs(row - np.asarray(value, np.float32)).max() <= 1e-4:
                key = name
                break
        keys.append(key)
    return "".join(keys)


def record_expert_episode(env: MobileNavEnv, expert: Any, scenario: str, seed: int) -> ExpertEpisode:
    """Run the privileged ``expert`` through ``scenario`` reset with ``seed`` and record every row.

    ``env.config.max_steps`` actions are recorded (see the module docstring for the row layout). A
    failed attempt (collision, timeout, ...) is returned with ``success=False`` and its rows so far.
    """
    env.reset(seed=seed, options={"scenario": scenario})
    assert env.scenario is not None
    instruction = env.scenario.instruction
    if hasattr(expert, "seed"):
        expert.seed(seed)
    expert.reset(instruction)
    max_steps = env.config.max_steps

    frame = env.render()
    frame_pose = env.pose
    renders = 1
    frames, actions, events, poses = [frame], [STOP_ACTION.copy()], [EVENT_EPISODE_START], [frame_pose]
    info: dict[str, Any] = {"success": False, "failure_reason": None}
    done = False
    steps = 0
    for _ in range(max_steps):
        if done:
            # Stopped inside the goal: the operator keeps pressing stop; the robot (and frame) stay put.
            frames.append(frame)
            actions.append(STOP_ACTION.copy())
            events.append(EVENT_STOP_ACTION)
            poses.append(frame_pose)
            continue
        if env.pose != frame_pose:
            frame, frame_pose = env.render(), env.pose
            renders += 1
        obs = {OBS_RGB: frame, OBS_INSTRUCTION: instruction, OBS_STATE: env.privileged_state()}
        action = np.asarray(expert.act(obs), dtype=np.float32).reshape(3)
        frames.append(frame)
        actions.append(action)
        events.append(EVENT_STOP_ACTION if is_stop(action) else EVENT_START_ACTION)
        poses.append(frame_pose)
        _, _, terminated, truncated, info = env.step(action)
        steps += 1
        done = terminated or truncated
        if done and not info["success"]:
            break
    return ExpertEpisode(
        frames=np.stack(frames),
        actions=np.stack(actions).astype(np.float32),
        event_types=events,
        poses=np.asarray(poses, dtype=np.float64),
        scenario=env.scenario,
        seed=int(seed),
        success=bool(info["success"]),
        failure_reason=None if info["success"] else (info.get("failure_reason") or "timeout"),
        env_steps=steps,
        path_length_m=float(info.get("path_length", 0.0)),
        final_distance_m=float(info.get("distance_to_goal", float("nan"))),
        renders=renders,
    )


def attempt_seed(episode_seed: int, attempt: int) -> int:
    """The env/expert seed of retry ``attempt`` of an episode: attempt 0 is ``episode_seed`` itself,
    later attempts a value derived deterministically from (episode_seed, attempt)."""
    if attempt == 0:
        return int(episode_seed)
    state = np.random.SeedSequence([int(episode_seed) & 0xFFFFFFFF, int(attempt), 0xD47A]).generate_state(1)
    return int(state[0])


def record_successful_episode(env: MobileNavEnv, expert: Any, scenario: str, episode_seed: int,
                              max_attempts: int) -> tuple[ExpertEpisode, int, list[str]]:
    """Record attempts 0, 1, ... until the expert succeeds; returns (episode, attempt, failure reasons).

    Raises ``RuntimeError`` naming the scenario, seed and failure reasons after ``max_attempts`` failures.
    """
    reasons: list[str] = []
    for attempt in range(max_attempts):
        episode = record_expert_episode(env, expert, scenario, attempt_seed(episode_seed, attempt))
        if episode.success:
            return episode, attempt, reasons
        reasons.append(str(episode.failure_reason))
    raise RuntimeError(
        f"the scripted expert failed scenario {scenario!r} (episode seed {episode_seed}) in all "
        f"{max_attempts} attempts: {', '.join(reasons)}; raise max_attempts or check the expert settings"
    )
