"""Shared helpers for sim/env tests: fixed action scripts and frame hashing."""

from __future__ import annotations

import hashlib

import numpy as np

from sim.protocol import keys_to_actions

SCRIPT = keys_to_actions("W W Q Q W E A D W")


def rollout_hashes(env, seed: int, scenario: str) -> tuple[list[str], list[tuple[float, float, float]]]:
    """sha256 of every frame and every pose of a fixed action script (stops at episode end)."""
    obs, _ = env.reset(seed=seed, options={"scenario": scenario})
    hashes = [hashlib.sha256(obs["rgb"].tobytes()).hexdigest()]
    poses = [tuple(env.pose)]
    for action in SCRIPT:
        obs, _, terminated, truncated, _ = env.step(action)
        hashes.append(hashlib.sha256(obs["rgb"].tobytes()).hexdigest())
        poses.append(tuple(env.pose))
        if terminated or truncated:
            break
    return hashes, poses


def digest(hashes: list[str], poses) -> str:
    """One hex digest of a rollout's frames and exact poses."""
    h = hashlib.sha256()
    for frame_hash in hashes:
        h.update(frame_hash.encode())
    h.update(np.asarray(poses, dtype=np.float64).tobytes())
    return h.hexdigest()[:16]
