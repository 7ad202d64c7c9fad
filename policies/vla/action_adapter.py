"""Model space → robot command, and how a predicted chunk of actions is executed over time.

Model space: each axis in [-1, 1] (training targets are teleop values clamped to [-1, 1], so the
teleop 1.15 becomes 1.0). Command space: ``[linear_x, linear_y, angular_z]`` in teleop units
(robot frame: x forward, y left, z up).
"""

from __future__ import annotations

import numpy as np

from policies.vla.config import ActionAdapterConfig
from sim.protocol import snap_to_key
from sim.taxonomy import instruction_side, side_sign


class ActionAdapter:
    """Apply deadzone, ``abs_action`` lateral sign, gain, per-axis signs and optional key snapping."""

    def __init__(self, cfg: ActionAdapterConfig):
        self.cfg = cfg
        self._signs = np.asarray(cfg.signs, dtype=np.float32)

    def to_command(self, model_action: np.ndarray, instruction: str = "") -> np.ndarray:
        """One model-space action (2 or 3 axes) → (3,) float32 command in teleop units."""
        a = np.zeros(3, dtype=np.float32)
        m = np.asarray(model_action, dtype=np.float32).reshape(-1)
        if m.shape[0] not in (2, 3):
            raise ValueError(f"model action: expected 2 or 3 axes, got shape {np.shape(model_action)}")
        a[: m.shape[0]] = m
        a[np.abs(a) < self.cfg.deadzone] = 0.0
        if self.cfg.abs_action:
            side = side_sign(instruction_side(instruction))
            if side != 0:
                a[1] = abs(a[1]) * side
        cmd = (a * self.cfg.gain * self._signs).astype(np.float32)
        if self.cfg.snap:
            cmd = snap_to_key(cmd, threshold=self.cfg.snap_threshold)
        return cmd

    def to_model(self, command: np.ndarray, n_axes: int = 2) -> np.ndarray:
        """Inverse for targets: command (…, 3) → model space (…, n_axes) = clip(sign * command / gain)."""
        c = np.asarray(command, dtype=np.float32)
        return np.clip(c[..., :n_axes] * self._signs[:n_axes] / self.cfg.gain, -1.0, 1.0)


class ChunkExecutor:
    """Turns predicted chunks (chunk, n_axes) into one action per step.

    ``first_k``: plan, execute the chunk's first ``execute_k`` actions, then plan again.
    ``ensemble``: plan every step; the action for this step is the weighted mean of every live chunk's
    prediction for it, weight ``exp(-decay * i)`` with i = 0 for the oldest chunk (ACT's temporal ensemble).
    """

    def __init__(self, cfg: ActionAdapterConfig):
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self._queue: list[np.ndarray] = []
        self._live: list[tuple[np.ndarray, int]] = []

    def needs_plan(self) -> bool:
        return self.cfg.chunk_mode == "ensemble" or not self._queue

    def push(self, chunk: np.ndarray) -> None:
        chunk = np.asarray(chunk, dtype=np.float32)
        if self.cfg.chunk_mode == "first_k":
            self._queue = list(chunk[: self.cfg.execute_k])
        else:
            self._live.append((chunk, 0))

    def pop(self) -> np.ndarray:
        """The model-space action for the current step; raises ``RuntimeError`` if nothing was planned."""
        if self.cfg.chunk_mode == "first_k":
            if not self._queue:
                raise RuntimeError("ChunkExecutor.pop() with no planned actions; call push() first")
            return self._queue.pop(0)
        if not self._live:
            raise RuntimeError("ChunkExecutor.pop() with no planned chunk; call push() first")
        preds = np.stack([c[age] for c, age in self._live])
        weights = np.exp(-self.cfg.ensemble_decay * np.arange(len(preds), dtype=np.float32))
        action = (weights[:, None] * preds).sum(0) / weights.sum()
        self._live = [(c, age + 1) for c, age in self._live if age + 1 < len(c)]
        return action.astype(np.float32)
