"""Bridge safety and ROS figures at the real 0.4 s control period.

    python benchmarks/bench_bridge.py                      # all three (about 3 min, mostly waiting)
    python benchmarks/bench_bridge.py --only safety|slow|ros [--slow-frames 300]

- safety: frames every 0.4 s into the bridge core + runner, a ``python -m policies.serve --policy
  random`` child process stalled (SIGSTOP, 3 s, then SIGCONT) and later killed (SIGKILL): seconds from
  each event to the first zero-velocity command (target <= 0.8 s), the oldest action ever published
  (target <= 0.8 s), and whether the bridge recovered after the stall.
- slow: a served policy that takes 1.0 s per ``act`` against frames every 0.4 s (``--slow-frames``,
  300 = 2 min): frames queued at most, inferences started on a frame that was not the newest, stale
  results dropped, oldest action published.
- ros: the rclpy node with a fake camera publishing 50 frames every 0.4 s, the ``random`` policy
  served in process: Twists received, and whether all are within the limits.
The ROS part runs in ``ROS_DOMAIN_ID`` 1 + pid % 100 with discovery limited to this machine.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

INSTRUCTION = "Navigate around obstacles and reach the front of the beverage bottle on the left"
PERIOD = 0.4


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def frame_stream(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(144, 256, 3), dtype=np.uint8) for _ in range(n)]


def feed(runner, frames, period_s: float, events: dict[int, callable]) -> dict[int, float]:
    """Frames every ``period_s`` into ``runner``; ``events[i]()`` runs before frame i (time recorded)."""
    at = {}
    start = time.monotonic()
    for i, rgb in enumerate(frames):
        if i in events:
            at[i] = time.monotonic()
            events[i]()
        runner.on_frame(rgb)
        time.sleep(max(0.0, start + (i + 1) * period_s - time.monotonic()))
    return at


def first_zero_after(published, t: float) -> float | None:
    return next((p - t for p, kind, _ in published if kind == "watchdog" and p >= t), None)


def bench_safety() -> None:
    from bridge.core import BridgeConfig, BridgeCore
    from bridge.runner import BridgeRunner
    from policies.remote import RemotePolicy

    cmd = [sys.executable, "-m", "policies.serve", "--policy", "random", "--port", "0"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().split(" on ")[1].split()[0]
        policy = RemotePolicy(url, timeout_s=2.0)
        policy.reset(INSTRUCTION)
        core = BridgeCore(BridgeConfig(PERIOD))
        runner = BridgeRunner(
            core,
            lambda frame, timeout: policy.act({"rgb": frame.image}, timeout_s=timeout),
            lambda command, reason: None,
            recover=lambda: (policy.connect(), policy.reset(INSTRUCTION)),
        )
        runner.start()
        events = {
            10: lambda: os.kill(proc.pid, signal.SIGSTOP),
            18: lambda: os.kill(proc.pid, signal.SIGCONT),
            30: lambda: os.kill(proc.pid, signal.SIGKILL),
        }
        at = feed(runner, frame_stream(40), PERIOD, events)
        time.sleep(1.0)
        runner.stop()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.wait(10)
    pub = runner.published
    recovered = [p for p, kind, _ in pub if kind == "action" and at[18] < p < at[30]]
    s = core.stats
    print(f"safety at control period {PERIOD} s ({load()})")
    print(f"  server stalled (SIGSTOP): zero velocity after {first_zero_after(pub, at[10]):.3f} s (<= 0.8?)")
    print(f"  server resumed (SIGCONT): {len(recovered)} actions published again before the kill")
    print(f"  server killed (SIGKILL): zero velocity after {first_zero_after(pub, at[30]):.3f} s (<= 0.8?)")
    print(
        f"  oldest action published: {s.max_published_age_s:.3f} s (<= 0.8?); actions {s.actions_accepted}, "
        f"stale dropped {s.actions_stale}, failed calls {len(runner.errors)}"
    )


def bench_slow(n_frames: int) -> None:
    from bridge.core import BridgeConfig, BridgeCore
    from bridge.runner import BridgeRunner
    from policies.base import BasePolicy
    from policies.remote import RemotePolicy
    from policies.serve import PolicyServer

    class OneSecondPolicy(BasePolicy):
        name = "one_second"

        def _act(self, obs):
            time.sleep(1.0)
            return np.full(3, 0.5, np.float32)

    handle = PolicyServer(OneSecondPolicy).start_in_thread()
    policy = RemotePolicy(handle.url)
    policy.reset(INSTRUCTION)
    core = BridgeCore(BridgeConfig(PERIOD))
    runner = BridgeRunner(
        core,
        lambda frame, timeout: policy.act({"rgb": frame.image}, timeout_s=5.0),
        lambda command, reason: None,
        recover=lambda: (policy.connect(), policy.reset(INSTRUCTION)),
    )
    runner.start()
    feed(runner, frame_stream(n_frames), PERIOD, {})
    time.sleep(1.5)
    runner.stop()
    handle.stop()
    s = core.stats
    print(f"slow inference: 1.0 s per act vs frames every {PERIOD} s, {n_frames} frames ({load()})")
    print(
        f"  frames queued at most: {s.max_queued}; replaced unseen: {s.frames_replaced}; inferences "
        f"{s.frames_taken}, started on a frame that was not the newest: {s.taken_not_newest}"
    )
    print(
        f"  results too old (> 0.8 s) and dropped: {s.actions_stale}; published: {s.actions_accepted}; "
        f"oldest published {s.max_published_age_s:.3f} s; watchdog zeros "
        f"{sum(k == 'watchdog' for _, k, _ in runner.published)}"
    )


def bench_ros() -> None:
    import rclpy

    from bridge.loopback import drive
    from bridge.ros2 import remote_bridge
    from policies import make_policy
    from policies.base import ACTION_LIMITS
    from policies.serve import PolicyServer

    handle = PolicyServer(lambda: make_policy("random", style="continuous")).start_in_thread()
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        bridge, policy = remote_bridge(handle.url, INSTRUCTION, context=context, control_period_s=PERIOD)
        got = drive(bridge, frame_stream(50), PERIOD, context)
        policy.close()
    finally:
        rclpy.try_shutdown(context=context)
        handle.stop()
    lo, hi = np.array(ACTION_LIMITS).T
    actions = [c for _, reason, c in bridge.runner.published if reason == "action"]
    inside = all(np.all(t >= lo) and np.all(t <= hi) for _, t in got)
    print(f"ros: 50 frames every {PERIOD} s ({load()}), ROS_DOMAIN_ID {os.environ['ROS_DOMAIN_ID']}")
    print(
        f"  Twists received {len(got)} (actions published {len(actions)}, watchdog zeros "
        f"{len(bridge.runner.published) - len(actions)}); all within limits: {inside}; oldest action "
        f"{bridge.core.stats.max_published_age_s * 1e3:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("safety", "slow", "ros"), default=None)
    parser.add_argument("--slow-frames", type=int, default=300)
    args = parser.parse_args()
    if args.only in (None, "safety"):
        bench_safety()
    if args.only in (None, "ros"):
        bench_ros()
    if args.only in (None, "slow"):
        bench_slow(args.slow_frames)


if __name__ == "__main__":
    main()
