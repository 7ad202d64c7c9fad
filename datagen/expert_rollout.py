"""One expert demonstration recorded exactly as the real collector lays an episode out (no file I/O).

Row layout (N = 1 + ``max_steps`` rows, 18 with the default 17 actions):

- row 0: the reset frame, the stop action ``[0, 0, 0]``, event ``episode_start``;
- row k >= 1: the frame observed BEFORE executing action k (the real collector grabs the image at the
  key press, so row 1's frame equals row 0's), and action k; event ``start_action`` for a movement key,
  ``stop_action`` for the stop key;
- once the expert has stopped inside the goal (the env ends the episode there), the remaining rows are
  stop actions with the same final frame, recorded without stepping the env, so every episode has the
  real data's N = 1 + 17.

Episodes run through the one episode loop (``policies.rollout.rollout``); ``ExpertRecorder`` is the
observer that lays out the rows. Frames are rendered lazily: a new frame only when the robot pose changed
since the last render, and never after the last action, so an episode costs at most ``max_steps``
renders. The env runs with ``observe_rgb=False`` (``FramelessNavEnv``: no per-step render; the expert is
privileged and never looks at pixels); the frames are ``env.render()`` at the same pose, so they are the
observations a plain ``MobileNavEnv`` returns (a test checks that).

Poses are ``(x, y, yaw)`` of the robot base in the world frame (metres, radians).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from datagen.schema import EVENT_EPISODE_START, EVENT_START_ACTION, EVENT_STOP_ACTION
from envs.nav_env import MobileNavEnv
from policies.rollout import Observer, RolloutResult, rollout
from sim.protocol import KEY_ACTIONS, STOP_ACTION
from sim.scenario import Scenario

STOP_TOLERANCE = 1e-6
"""An action whose every axis is at most this (teleop units) counts as the stop key."""
_KEY_OF = {v: ("." if k == " " else k) for k, v in KEY_ACTIONS.items()}


class FramelessNavEnv(MobileNavEnv):
    """``MobileNavEnv(observe_rgb=False)``: ``reset``/``step`` observations carry ``rgb=None`` (no render).

    The recorder renders with ``render()`` only the frames it stores; physics, randomisation and
    ``info`` are the parent's, untouched.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["observe_rgb"] = False
        super().__init__(*args, **kwargs)


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


class ExpertRecorder(Observer):
    """Rollout observer laying out the real collector's rows (module docstring): a lazily rendered frame,
    the action, its event type and the frame's pose per action; stop rows pad a stop in the goal."""

    def __init__(self, max_steps: int) -> None:
        self.max_steps = int(max_steps)
        self.renders = 0
        self.frames: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []
        self.events: list[str] = []
        self.poses: list[tuple[float, float, float]] = []

    def on_reset(self, env, obs, info) -> None:
        self._frame, self._frame_pose = env.unwrapped.render(), env.unwrapped.pose
        self.renders = 1
        self._row(STOP_ACTION.copy(), EVENT_EPISODE_START)

    def before_act(self, env, obs) -> None:
        if env.unwrapped.pose != self._frame_pose:
            self._frame, self._frame_pose = env.unwrapped.render(), env.unwrapped.pose
            self.renders += 1

    def on_act(self, env, action, elapsed_s) -> None:
        self._row(action, EVENT_STOP_ACTION if is_stop(action) else EVENT_START_ACTION)

    def on_end(self, env, result: RolloutResult) -> None:
        if result.error is None and result.info["success"]:
            # Stopped inside the goal: the operator keeps pressing stop; the robot (and frame) stay put.
            for _ in range(self.max_steps - result.steps):
                self._row(STOP_ACTION.copy(), EVENT_STOP_ACTION)

    def _row(self, action: np.ndarray, event: str) -> None:
        self.frames.append(self._frame)
        self.actions.append(action)
        self.events.append(event)
        self.poses.append(self._frame_pose)


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
    failed attempt (collision, timeout, ...) is returned with ``success=False`` and its rows so far; an
    exception of the expert or the env is raised.
    """
    recorder = ExpertRecorder(env.config.max_steps)
    result = rollout(env, expert, seed, {"scenario": scenario}, [recorder], privileged=True)
    if result.error is not None:
        raise result.error
    info = result.info
    assert env.scenario is not None
    return ExpertEpisode(
        frames=np.stack(recorder.frames),
        actions=np.stack(recorder.actions).astype(np.float32),
        event_types=recorder.events,
        poses=np.asarray(recorder.poses, dtype=np.float64),
        scenario=env.scenario,
        seed=int(seed),
        success=bool(info["success"]),
        failure_reason=None if info["success"] else (info.get("failure_reason") or "timeout"),
        env_steps=result.steps,
        path_length_m=float(info.get("path_length", 0.0)),
        final_distance_m=float(info.get("distance_to_goal", float("nan"))),
        renders=recorder.renders,
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
