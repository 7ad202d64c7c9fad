"""``random``: uniformly random teleop keys or continuous commands (a floor for every metric)."""

from __future__ import annotations

from typing import Any

import numpy as np

from policies.base import BasePolicy, register_policy
from sim.protocol import KEY_ACTIONS, NOMINAL


@register_policy("random")
class RandomPolicy(BasePolicy):
    """Random actions from its own seeded stream (``seed`` re-seeds per episode)."""

    name = "random"

    def __init__(self, style: str = "keys", seed: int = 0) -> None:
        super().__init__()
        if style not in ("keys", "continuous"):
            raise ValueError(f"random style={style!r} is invalid; valid: keys, continuous")
        self.style = style
        self.seed(seed)

    def seed(self, seed: int) -> None:
        self._rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xA7])

    def _act(self, obs: dict[str, Any]) -> np.ndarray:
        if self.style == "keys":
            keys = sorted(KEY_ACTIONS)
            return np.asarray(KEY_ACTIONS[keys[int(self._rng.integers(len(keys)))]], np.float32)
        return self._rng.uniform(-NOMINAL, NOMINAL, size=3).astype(np.float32)
