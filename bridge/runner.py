"""Threads around ``BridgeCore``: one runs inference on the newest frame, one is the watchdog.

Transport-agnostic: ``act(frame, timeout_s)`` returns an action (a ``RemotePolicy`` in the real bridge)
and ``publish(command, reason)`` sends it (a ``Twist`` publisher in the ROS node; ``reason`` is
``"action"`` or ``"watchdog"``). A failed or timed-out ``act`` publishes nothing; the watchdog then
zeroes the robot once the last action passes the age limit, and ``recover()`` (reconnect) is retried
once per control period until ``stop()``. Every wait is bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from bridge.core import ZERO, BridgeCore, Frame

ActFn = Callable[[Frame, float], np.ndarray]
PublishFn = Callable[[np.ndarray, str], None]


class BridgeRunner:
    """Runs the inference and watchdog threads until ``stop()``."""

    def __init__(
        self,
        core: BridgeCore,
        act: ActFn,
        publish: PublishFn,
        recover: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float | None = None,
    ) -> None:
        self.core = core
        self._act = act
        self._publish = publish
        self._recover = recover
        self._clock = clock
        period = core.config.control_period_s
        self.tick_s = tick_s if tick_s is not None else min(0.02, period / 8)
        self._stop = threading.Event()
        self._frame_ready = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: list[str] = []
        self.published: list[tuple[float, str, np.ndarray]] = []  # (time, reason, command)

    def on_frame(self, image: np.ndarray) -> None:
        """Camera callback: hand a (H, W, 3) uint8 RGB frame to the core."""
        self.core.on_frame(image, self._clock())
        self._frame_ready.set()

    def start(self) -> None:
        for target, name in (
            (self._inference_loop, "bridge-inference"),
            (self._watchdog_loop, "bridge-watchdog"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._frame_ready.set()
        for thread in self._threads:
            thread.join(timeout_s)

    def _send(self, command: np.ndarray, reason: str) -> None:
        self.published.append((self._clock(), reason, command))
        self._publish(command, reason)

    def _inference_loop(self) -> None:
        max_age = self.core.config.max_age_s
        broken = False
        while not self._stop.is_set():
            if broken and self._recover is not None:
                try:
                    self._recover()
                    broken = False
                except Exception as exc:  # noqa: BLE001 - keep trying, once per control period
                    self.errors.append(f"recover: {type(exc).__name__}: {exc}")
                    self._stop.wait(self.core.config.control_period_s)
                    continue
            self._frame_ready.wait(self.core.config.control_period_s)
            self._frame_ready.clear()
            frame = self.core.take_frame(self._clock())
            if frame is None:
                continue
            # never wait for a reply longer than the frame may live
            remaining = max(max_age - (self._clock() - frame.received_s), 1e-3)
            try:
                action = self._act(frame, remaining)
            except Exception as exc:  # noqa: BLE001 - server gone or stalled: publish nothing
                self.errors.append(f"act: {type(exc).__name__}: {exc}")
                self.core.abandon(frame)
                broken = True
                continue
            with self.core.lock:
                command = self.core.accept_action(frame, action, self._clock())
                if command is not None:
                    self._send(command, "action")

    def _watchdog_loop(self) -> None:
        while not self._stop.wait(self.tick_s):
            with self.core.lock:
                if self.core.watchdog(self._clock(), margin_s=self.tick_s):
                    self._send(ZERO.copy(), "watchdog")
