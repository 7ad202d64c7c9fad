"""Gymnasium wrappers of ``MobileNavEnv``: command latency in the loop."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym

LATENCY_MODES = ("none", "fixed", "measured")
"""``none``: a command starts when the step is called; ``fixed``: the previous command runs on for
``delay_ms`` first; ``measured``: it runs on for the wall-clock time since the last observation."""


def check_latency_settings(mode: str, delay_ms: float) -> None:
    """``ValueError`` naming ``latency_in_loop.mode`` or ``latency_in_loop.delay_ms`` when invalid."""
    if mode not in LATENCY_MODES:
        raise ValueError(f"latency_in_loop.mode={mode!r} is invalid; valid: {', '.join(LATENCY_MODES)}")
    if isinstance(delay_ms, bool) or not isinstance(delay_ms, (int, float)) \
            or not (math.isfinite(delay_ms) and delay_ms >= 0):
        raise ValueError(f"latency_in_loop.delay_ms={delay_ms!r} is invalid; expected a number >= 0")


class CommandLatency(gym.Wrapper):
    """Latency in the loop: while the policy thinks, the robot keeps executing its previous command.

    Before each command (from the second step of an episode on) the previous command runs on for
    ``delay_ms`` milliseconds (``mode="fixed"``) or for the wall-clock time between the observation
    handed out by the last ``reset``/``step`` and this ``step`` call (``mode="measured"``: the policy's
    own latency as the real robot would feel it). ``mode="none"`` passes every call through. A
    collision while the previous command runs on ends the step there (the new command never starts).
    """

    def __init__(self, env: gym.Env, mode: str = "none", delay_ms: float = 0.0,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        super().__init__(env)
        check_latency_settings(mode, delay_ms)
        self.mode = mode
        self.delay_ms = float(delay_ms)
        self._clock = clock
        self._observed_at: float | None = None
        self.last_delay_s = 0.0
        """The delay (s) applied before the last step's command."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        result = self.env.reset(seed=seed, options=options)
        self._observed_at = self._clock()
        return result

    def step(self, action):
        delay_s = self._delay_s()
        if self.mode != "none":
            self.env.unwrapped.delay_next_command(delay_s)  # type: ignore[attr-defined]
        self.last_delay_s = delay_s
        result = self.env.step(action)
        self._observed_at = self._clock()
        return result

    def _delay_s(self) -> float:
        if self.mode == "fixed":
            return self.delay_ms / 1e3
        if self.mode == "measured" and self._observed_at is not None:
            return max(0.0, self._clock() - self._observed_at)
        return 0.0
