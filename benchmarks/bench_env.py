"""Env speed per core: MobileVLA/Nav-v0 on each camera backend next to MiniWorld-OneRoom, same frame size.

Run: ``python benchmarks/bench_env.py [--steps 400] [--rounds 3] [--sizes 256x144 448x252]``. Every
measurement runs in its own process pinned to one core (``os.sched_setaffinity``) with Mesa's llvmpipe
rasterising in that thread (``LP_NUM_THREADS=0`` unless set), random actions, resets included in the
wall time; the envs alternate round by round and the median of the rounds is printed. Also printed per
backend: the bare render (``World.render`` at the same poses), the step/render ratio and the reset time.

``gl`` is skipped with a message where no EGL context can be created (then ``auto`` means ``tiny``);
MiniWorld (``pip install -e '.[bench]'``, rendered headless through pyglet's EGL) is skipped with a
message when it is not installed. Nothing is asserted: the machine's load shows in the figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def measure_mobilevla(backend: str, width: int, height: int, steps: int) -> dict:
    import numpy as np

    from envs import MobileNavEnv
    from sim.protocol import KEY_ACTIONS

    env = MobileNavEnv(config={"render_backend": backend, "camera": {"width": width, "height": height}})
    actions = [np.asarray(a, np.float32) for a in KEY_ACTIONS.values()]
    rng = np.random.default_rng(0)
    step_t, render_t, reset_t = [], [], []
    episode, done = 0, True
    start = time.perf_counter()
    for _ in range(steps):
        if done:
            t = time.perf_counter()
            env.reset(seed=episode)
            reset_t.append(time.perf_counter() - t)
            episode += 1
        t = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(actions[int(rng.integers(len(actions)))])
        step_t.append(time.perf_counter() - t)
        done = terminated or truncated
    wall = time.perf_counter() - start
    for _ in range(min(steps, 200)):  # bare render at the last pose: the camera's own cost
        t = time.perf_counter()
        env.world.render(env.pose)
        render_t.append(time.perf_counter() - t)
    renderer = env.world.render_backend
    env.close()
    return {
        "steps_per_s": steps / wall,
        "step_ms": statistics.median(step_t) * 1e3,
        "render_ms": statistics.median(render_t) * 1e3,
        "reset_ms": statistics.median(reset_t) * 1e3,
        "backend": renderer,
    }


def measure_miniworld(width: int, height: int, steps: int) -> dict:
    os.environ.setdefault("PYGLET_HEADLESS", "1")
    import gymnasium as gym
    import miniworld  # noqa: F401  (registers the envs)

    env = gym.make("MiniWorld-OneRoom-v0", obs_width=width, obs_height=height)
    env.reset(seed=0)
    env.action_space.seed(0)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    wall = time.perf_counter() - start
    env.close()
    return {"steps_per_s": steps / wall}


def child(args) -> None:
    _pin_one_core()
    os.environ.setdefault("LP_NUM_THREADS", "0")
    sys.path.insert(0, str(ROOT))
    if args.child == "miniworld":
        result = measure_miniworld(args.width, args.height, args.steps)
    else:
        result = measure_mobilevla(args.child, args.width, args.height, args.steps)
    print("RESULT " + json.dumps(result))


def run_child(name: str, width: int, height: int, steps: int) -> dict | str:
    cmd = [sys.executable, __file__, "--child", name, "--width", str(width), "--height", str(height),
           "--steps", str(steps)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return (out.stderr.strip().splitlines() or ["no output"])[-1]


def available(name: str) -> str | None:
    """None when ``name`` can run here, else why not."""
    if name == "miniworld":
        if importlib.util.find_spec("miniworld") is None:  # not imported here: pyglet needs headless first
            return "miniworld is not installed (pip install -e '.[bench]')"
        return None
    if name == "gl":
        sys.path.insert(0, str(ROOT))
        from sim.render_backend import egl_probe

        ok, detail = egl_probe()
        return None if ok else f"no EGL here ({detail}); auto falls back to tiny"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", nargs="+", default=["256x144", "448x252"])
    parser.add_argument("--envs", nargs="+", default=["tiny", "gl", "miniworld"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, default=256, help=argparse.SUPPRESS)
    parser.add_argument("--height", type=int, default=144, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    envs = []
    for name in args.envs:
        reason = available(name)
        if reason:
            print(f"skipping {name}: {reason}")
        else:
            envs.append(name)
    print(f"load average {os.getloadavg()[0]:.2f}; {args.steps} random-action steps per run, one core, "
          f"median of {args.rounds} alternating rounds")
    for size in args.sizes:
        width, height = (int(v) for v in size.split("x"))
        runs: dict[str, list[dict]] = {name: [] for name in envs}
        for _ in range(args.rounds):
            for name in envs:
                result = run_child(name, width, height, args.steps)
                if isinstance(result, str):
                    print(f"  {name} {size} failed: {result}")
                else:
                    runs[name].append(result)
        print(f"\n{size}:")
        print(f"  {'env':34s} {'steps/s':>8s} {'step ms':>8s} {'render ms':>9s} {'step/render':>11s} "
              f"{'reset ms':>8s}")
        for name, results in runs.items():
            if not results:
                continue
            med = {k: statistics.median(r[k] for r in results) for k in results[0] if k != "backend"}
            label = "MiniWorld-OneRoom-v0" if name == "miniworld" else f"MobileVLA/Nav-v0 ({name})"
            if name == "miniworld":
                print(f"  {label:34s} {med['steps_per_s']:8.1f}")
            else:
                ratio = med["step_ms"] / med["render_ms"]
                print(f"  {label:34s} {med['steps_per_s']:8.1f} {med['step_ms']:8.2f} "
                      f"{med['render_ms']:9.2f} "
                      f"{ratio:11.2f} {med['reset_ms']:8.2f}")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
