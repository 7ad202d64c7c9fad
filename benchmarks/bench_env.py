"""Env speed: steps/s with one render per step vs the bare render of the same scene, and reset time.

Run: ``python benchmarks/bench_env.py [--steps 600] [--width 256 --height 144]``. Pins itself to one
core (``os.sched_setaffinity``) so the figure is "per core". Targets: env step <= 1.15x a bare render,
>= 100 steps/s, reset (re-posing the scene) <= 5 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from envs import MobileNavEnv
from sim.protocol import keys_to_actions

ACTIONS = keys_to_actions("W W W W A Q Q Q Q Q Q Q W W W W E")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=144)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    env = MobileNavEnv(config={"camera": {"width": args.width, "height": args.height}})
    world = env.world

    # Bare render: the same scenes and poses, nothing but getCameraImage.
    step_times, render_times, reset_times, repose_times = [], [], [], []
    episode = 0
    done = True
    while len(step_times) < args.steps:
        if done:
            start = time.perf_counter()
            env.reset(seed=episode, options={"scenario": env.suite.scenario_for(episode, 0)})
            reset_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            world.apply(env.scenario)
            repose_times.append(time.perf_counter() - start)
            k = 0
            episode += 1
        start = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(ACTIONS[k % len(ACTIONS)])
        step_times.append(time.perf_counter() - start)
        k += 1
        done = terminated or truncated
        start = time.perf_counter()
        world.render(env.pose)
        render_times.append(time.perf_counter() - start)

    step_ms = statistics.median(step_times) * 1e3
    render_ms = statistics.median(render_times) * 1e3
    mean_step_ms = float(np.mean(step_times)) * 1e3
    print(f"render size {args.width}x{args.height}, {len(step_times)} steps over {episode} episodes, 1 core")
    print(f"bare render      : median {render_ms:6.2f} ms")
    print(f"env.step         : median {step_ms:6.2f} ms  (mean {mean_step_ms:.2f} ms) -> "
          f"{1e3 / mean_step_ms:6.1f} steps/s")
    print(f"step / render    : {step_ms / render_ms:5.3f}x  (target <= 1.15x)")
    print(f"reset (re-pose + first render): median {statistics.median(reset_times) * 1e3:6.2f} ms")
    print(f"re-pose only (World.apply)    : median {statistics.median(repose_times) * 1e3:6.2f} ms "
          "(target <= 5 ms)")
    env.close()


if __name__ == "__main__":
    main()
