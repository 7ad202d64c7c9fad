"""Shared helpers for sim/env tests: fixed action scripts and frame hashing."""

from __future__ import annotations

import hashlib

import numpy as np

from policies.rollout import FrameObserver, TrajectoryObserver, rollout
from sim.protocol import keys_to_actions

SCRIPT = keys_to_actions("W W Q Q W E A D W")


class ScriptPolicy:
    """Plays ``SCRIPT`` (one action per call, in order)."""

    def reset(self, instruction: str) -> None:
        self._next = iter(SCRIPT)

    def act(self, obs) -> np.ndarray:
        return next(self._next)


def rollout_hashes(env, seed: int, scenario: str) -> tuple[list[str], list[tuple[float, float, float]]]:
    """sha256 of every frame and every pose of a fixed action script (stops at episode end)."""
    frames, poses = FrameObserver(), TrajectoryObserver()
    options = {"scenario": scenario}
    result = rollout(env, ScriptPolicy(), seed, options, [frames, poses], max_steps=len(SCRIPT))
    if result.error is not None:
        raise result.error
    hashes = [hashlib.sha256(frame.tobytes()).hexdigest() for frame in frames.frames]
    return hashes, [tuple(pose) for pose in poses.poses]


def digest(hashes: list[str], poses) -> str:
    """One hex digest of a rollout's frames and exact poses."""
    h = hashlib.sha256()
    for frame_hash in hashes:
        h.update(frame_hash.encode())
    h.update(np.asarray(poses, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]
