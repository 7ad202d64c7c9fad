"""The bridge core on a fake clock (slot, sequence matching, age limit, clamp, watchdog) and its runner
threads against a real policy server that stalls or goes away."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bridge.core import BridgeConfig, BridgeCore
from bridge.runner import BridgeRunner
from policies.remote import RemotePolicy
from tests.server_helpers import IMAGE_SHAPE, ImageMeanPolicy, frames, served

IMG = np.zeros(IMAGE_SHAPE, np.uint8)


def simulate(n_frames: int, frame_period: float, inference_s: float, config: BridgeConfig):
    """Discrete-event run: frames every ``frame_period``; one inference at a time taking ``inference_s``;
    the watchdog checked every 10 ms. Returns the core and the published (time, kind, command, age)."""
    core = BridgeCore(config)
    published = []
    busy_until, in_flight = 0.0, None
    newest_at_take = []
    t_end = n_frames * frame_period + 3.0
    ticks = [round(k * 0.01, 6) for k in range(int(t_end / 0.01) + 1)]
    arrivals = {round(i * frame_period, 6): i for i in range(n_frames)}
    for now in sorted(set(ticks) | set(arrivals)):
        if in_flight is not None and now >= busy_until:
            with core.lock:
                command = core.accept_action(in_flight, np.array([2.0, -0.5, 0.3]), now)
                if command is not None:
                    published.append((now, "action", command, now - in_flight.received_s))
            in_flight = None
        if now in arrivals:
            core.on_frame(IMG, now)
        if in_flight is None:
            frame = core.take_frame(now)
            if frame is not None:
                newest_at_take.append(frame.seq == core._next_seq - 1)
                in_flight, busy_until = frame, now + inference_s
        with core.lock:
            if core.watchdog(now, margin_s=0.01):
                published.append((now, "watchdog", np.zeros(3, np.float32), 0.0))
    return core, published, newest_at_take


def test_slow_inference_never_queues_more_than_one_frame_and_never_publishes_stale_actions():
    """1.0 s inference against frames every 0.4 s, 300 frames (the issue's figure, on a fake clock)."""
    core, published, newest = simulate(300, 0.4, 1.0, BridgeConfig(0.4))
    s = core.stats
    assert s.frames_in == 300 and s.max_queued <= 1
    assert newest and all(newest) and s.taken_not_newest == 0  # every inference starts on the newest frame
    assert s.frames_replaced > 0  # the frames inference could not keep up with were dropped, not queued
    assert all(age <= 0.8 for _, kind, _, age in published if kind == "action")
    assert s.actions_stale == s.frames_taken  # 1.0 s > 0.8 s: every result is too old, none published
    assert all(kind == "watchdog" for _, kind, _, _ in published)


def test_fast_inference_publishes_one_clamped_action_per_frame_and_watchdog_zeroes_after_the_last():
    core, published, _ = simulate(50, 0.4, 0.15, BridgeConfig(0.4))
    actions = [(t, c, age) for t, kind, c, age in published if kind == "action"]
    assert len(actions) == 50 and core.stats.actions_clamped == 50
    assert all(np.array_equal(c, np.array([1.15, -0.5, 0.3], np.float32)) for _, c, _ in actions)
    last_frame = 49 * 0.4
    zeros_after = [t for t, kind, _, _ in published if kind == "watchdog" and t > last_frame]
    assert zeros_after and zeros_after[0] - last_frame <= 0.8  # zero within two periods of the last frame
    # between actions no zero interrupts a healthy stream
    assert not [t for t, kind, _, _ in published if kind == "watchdog" and 0.2 < t < last_frame]


def test_sequence_matching_age_limit_and_invalid_actions():
    core = BridgeCore(BridgeConfig(0.4))
    core.on_frame(IMG, 0.0)
    old = core.take_frame(0.0)
    assert old is not None
    core.on_frame(IMG, 0.5)
    core.on_frame(IMG, 0.6)  # replaces the 0.5 frame
    assert core.stats.frames_replaced == 1
    with core.lock:
        assert core.accept_action(old, np.ones(3), 0.9) is None  # 0.9 s old: stale
    new = core.take_frame(0.6)
    with core.lock:
        assert core.accept_action(old, np.ones(3), 0.7) is None  # not the frame in flight
        assert core.accept_action(new, np.array([np.nan, 0, 0]), 0.7) is None
    core.on_frame(IMG, 2.0)
    assert core.take_frame(2.9) is None and core.stats.frames_stale == 1  # too old to start on
    s = core.stats
    assert (s.actions_stale, s.actions_out_of_sequence, s.actions_invalid) == (1, 1, 1)
    with pytest.raises(ValueError, match="limits"):
        BridgeConfig(limits=((1.0, -1.0),) * 3)


def test_runner_zeroes_when_the_server_stalls_or_dies_and_never_publishes_stale_actions():
    """Real threads and a real server, control period 0.1 s (age limit 0.2 s); 0.4 s: the benchmark."""
    period = 0.1
    slow = {"delay": 0.0}

    class Stallable(ImageMeanPolicy):
        def _act(self, obs):
            time.sleep(slow["delay"])
            return super()._act(obs)

    with served(Stallable) as (_, handle):
        policy = RemotePolicy(handle.url, timeout_s=5.0)
        policy.reset("x")
        core = BridgeCore(BridgeConfig(period))
        runner = BridgeRunner(
            core,
            lambda frame, timeout: policy.act({"rgb": frame.image}, timeout_s=timeout),
            lambda command, reason: None,
            recover=lambda: (policy.connect(), policy.reset("x")),
        )
        runner.start()
        stream = frames(60)
        try:
            for i in range(60):
                if i == 20:
                    slow["delay"] = 1.0  # stall: replies take 1 s from now on
                    stall_at = time.monotonic()
                if i == 40:
                    slow["delay"] = 0.0
                    handle.stop()  # the server goes away
                    kill_at = time.monotonic()
                runner.on_frame(stream[i])
                time.sleep(period / 2)
        finally:
            runner.stop()
    log = runner.published
    # behaviour, not speed (the 0.4 s-period figures: benchmarks/bench_bridge.py): a zero follows each
    # event, and once the dead server's last in-flight action expired only zeros are published
    for event, until in ((stall_at, kill_at), (kill_at, float("inf"))):
        assert any(kind == "watchdog" for t, kind, _ in log if event <= t < until), (event, log)
    first_zero = next(t for t, kind, _ in log if kind == "watchdog" and t >= kill_at)
    assert all(kind == "watchdog" for t, kind, _ in log if t > first_zero)
    assert core.stats.max_published_age_s <= 2 * period
    actions_before_stall = [t for t, kind, _ in log if kind == "action" and t < stall_at]
    assert len(actions_before_stall) >= 10
    assert any("act:" in e for e in runner.errors)
