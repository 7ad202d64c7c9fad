"""``replay``: plays a fixed key sequence (e.g. the real core sequences), then stops."""

from __future__ import annotations

from typing import Any

import numpy as np

from policies.base import BasePolicy, register_policy
from sim.protocol import CORE_SEQUENCES, keys_to_actions
from sim.taxonomy import SIDES, instruction_side


@register_policy("replay")
class ReplayPolicy(BasePolicy):
    """Replays ``keys`` (e.g. ``"W W A Q"``) or the real core sequence of ``core`` (``left``/``right``).

    With ``core="auto"`` the core sequence of the side the instruction names is replayed. After the last
    key it sends stop.
    """

    name = "replay"

    def __init__(self, keys: str | None = None, core: str | None = None) -> None:
        super().__init__()
        if (keys is None) == (core is None):
            raise ValueError("replay needs exactly one of keys='W W A ...' or core='left'|'right'|'auto'")
        if core is not None and core not in (*SIDES, "auto"):
            raise ValueError(f"replay core={core!r} is invalid; valid: left, right, auto")
        self.core = core
        self.fixed = keys_to_actions(keys) if keys is not None else None
        self._queue: list[np.ndarray] = []

    def reset(self, instruction: str) -> None:
        super().reset(instruction)
        if self.fixed is not None:
            actions = self.fixed
        else:
            side = self.core if self.core != "auto" else instruction_side(instruction)
            if side not in CORE_SEQUENCES:
                raise ValueError(f"instruction {instruction!r} names no left/right side for core='auto'")
            actions = keys_to_actions(CORE_SEQUENCES[side])
        self._queue = list(actions)

    def _act(self, obs: dict[str, Any]) -> np.ndarray:
        return self._queue.pop(0) if self._queue else np.zeros(3, np.float32)
