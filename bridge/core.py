"""The bridge's plain-Python core: newest-frame slot, sequence matching, age limits, clamping, watchdog.

No ROS and no network here, and no clock of its own: every method takes ``now`` (seconds on the
bridge machine's monotonic clock), so tests drive it with a fake clock. Ages are measured from when
*this* machine received the frame, never from a camera timestamp (two machines' clocks are never
subtracted).

- ``on_frame`` puts a frame into a one-frame slot; an unconsumed older frame is replaced (dropped), so
  at most one frame ever waits.
- ``take_frame`` hands the newest frame to inference (a frame already older than ``max_action_age_s``
  is dropped instead) and remembers its sequence number as the one in flight.
- ``accept_action`` takes an action only for the frame in flight and only while that frame is at most
  ``max_action_age_s`` old; the action is clamped to the per-axis limits (non-finite → refused).
- ``watchdog`` says when to publish zero velocity: no accepted action is younger than the age limit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from policies.base import ACTION_LIMITS
from sim.protocol import KEY_PRESS_S

ZERO = np.zeros(3, dtype=np.float32)


@dataclass(frozen=True)
class BridgeConfig:
    """Timing and limits. ``max_action_age_s`` defaults to two control periods."""

    control_period_s: float = KEY_PRESS_S
    max_action_age_s: float | None = None
    limits: tuple[tuple[float, float], ...] = ACTION_LIMITS

    def __post_init__(self) -> None:
        if not self.control_period_s > 0:
            raise ValueError(f"control_period_s={self.control_period_s!r} is invalid; expected > 0")
        if self.max_action_age_s is not None and not self.max_action_age_s > 0:
            raise ValueError(f"max_action_age_s={self.max_action_age_s!r} is invalid; expected > 0")
        if len(self.limits) != 3 or any(not lo < hi for lo, hi in self.limits):
            raise ValueError(f"limits={self.limits!r} is invalid; expected 3 pairs [lo, hi] with lo < hi")

    @property
    def max_age_s(self) -> float:
        return self.max_action_age_s if self.max_action_age_s is not None else 2 * self.control_period_s


@dataclass(frozen=True)
class Frame:
    """A camera frame: bridge sequence number, (H, W, 3) uint8 RGB, receive time (seconds)."""

    seq: int
    image: np.ndarray
    received_s: float


@dataclass
class BridgeStats:
    """Counters of what the core did (the safety figures are computed from these)."""

    frames_in: int = 0
    frames_replaced: int = 0  # overwritten in the slot by a newer frame before inference took them
    frames_stale: int = 0  # older than the age limit when inference was free
    frames_taken: int = 0
    taken_not_newest: int = 0  # must stay 0: inference always starts on the newest frame
    max_queued: int = 0  # frames waiting in the slot at once (never above 1)
    actions_accepted: int = 0
    actions_stale: int = 0  # arrived after their frame passed the age limit: never published
    actions_out_of_sequence: int = 0
    actions_invalid: int = 0
    actions_clamped: int = 0
    max_published_age_s: float = 0.0
    ages_s: list[float] = field(default_factory=list)


class BridgeCore:
    """Thread-safe bridge state; see the module docstring."""

    def __init__(self, config: BridgeConfig | None = None) -> None:
        self.config = config or BridgeConfig()
        self.stats = BridgeStats()
        self._lock = threading.Lock()
        self._slot: Frame | None = None
        self._next_seq = 0
        self._in_flight: int | None = None
        self._fresh_until = float("-inf")  # time the last accepted action stops being fresh
        self._zero_sent_at: float | None = None
        self._lo = np.array([lo for lo, _ in self.config.limits], dtype=np.float32)
        self._hi = np.array([hi for _, hi in self.config.limits], dtype=np.float32)

    @property
    def lock(self) -> threading.Lock:
        """Held by the runner around a decision and its publication, so they cannot interleave."""
        return self._lock

    def on_frame(self, image: np.ndarray, now: float) -> int:
        """Store ``image`` (received at ``now``) as the newest frame; returns its sequence number."""
        with self._lock:
            seq = self._next_seq
            self._next_seq += 1
            self.stats.frames_in += 1
            if self._slot is not None:
                self.stats.frames_replaced += 1
            self._slot = Frame(seq, image, now)
            self.stats.max_queued = max(self.stats.max_queued, 1)
            return seq

    def take_frame(self, now: float) -> Frame | None:
        """The newest waiting frame for inference (None if none, or if it is already too old)."""
        with self._lock:
            frame, self._slot = self._slot, None
            if frame is None:
                return None
            if now - frame.received_s > self.config.max_age_s:
                self.stats.frames_stale += 1
                return None
            if frame.seq != self._next_seq - 1:
                self.stats.taken_not_newest += 1
            self.stats.frames_taken += 1
            self._in_flight = frame.seq
            return frame

    def accept_action(self, frame: Frame, action: np.ndarray, now: float) -> np.ndarray | None:
        """The clamped command to publish for ``frame``'s action, or None when it must not be published.

        Call with ``lock`` held and publish before releasing it.
        """
        if frame.seq != self._in_flight:
            self.stats.actions_out_of_sequence += 1
            return None
        self._in_flight = None
        age = now - frame.received_s
        if age > self.config.max_age_s:
            self.stats.actions_stale += 1
            return None
        arr = np.asarray(action, dtype=np.float32).reshape(-1)
        if arr.shape != (3,) or not np.all(np.isfinite(arr)):
            self.stats.actions_invalid += 1
            return None
        clamped = np.clip(arr, self._lo, self._hi)
        if not np.array_equal(clamped, arr):
            self.stats.actions_clamped += 1
        self.stats.actions_accepted += 1
        self.stats.max_published_age_s = max(self.stats.max_published_age_s, age)
        self.stats.ages_s.append(age)
        self._fresh_until = frame.received_s + self.config.max_age_s
        self._zero_sent_at = None
        return clamped

    def abandon(self, frame: Frame) -> None:
        """Inference on ``frame`` failed (server gone, timeout): nothing is in flight any more."""
        with self._lock:
            if self._in_flight == frame.seq:
                self._in_flight = None

    def watchdog(self, now: float, margin_s: float = 0.0) -> bool:
        """True when zero velocity must be published now: no fresh action (age limit − ``margin_s``).

        While stale, zero is repeated once per control period. Call with ``lock`` held.
        """
        if now < self._fresh_until - margin_s:
            return False
        if self._zero_sent_at is not None and now - self._zero_sent_at < self.config.control_period_s:
            return False
        self._zero_sent_at = now
        self._fresh_until = min(self._fresh_until, now)
        return True
