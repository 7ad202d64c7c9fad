"""Speed and size of sim dataset generation (``datagen.generate``).

``python benchmarks/bench_datagen.py [--episodes 60] [--workers 2] [--width 256 --height 144]
[--levels 0,1,2,3,4,6,9] [--sample 8]``

1. gzip level sweep: ``--sample`` expert episodes are recorded once, then written at each level; prints
   bytes/episode, write ms/episode and the projected size of 5,000 episodes.
2. end to end: ``generate`` of ``--episodes`` episodes with ``--workers`` processes into a temporary
   folder (the config's gzip level unless ``--level``); prints episodes/s, frames/s, bytes/episode,
   renders/episode and the projected time of 5,000 episodes.
Also prints the bare render time per frame. Nothing is asserted; the machine's load shows in the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from datagen.expert_rollout import FramelessNavEnv, record_successful_episode
from datagen.generate import build_suite, generate, load_config
from datagen.schema import Episode, rgb_to_bgr, write_episode
from policies.scripted import ScriptedExpert

TARGET_EPISODES = 5000


def _overrides(args: argparse.Namespace, out: Path, episodes: int) -> list[str]:
    overrides = [f"out={out}", f"episodes={episodes}", f"workers={args.workers}", "progress=false",
                 f"env.camera.width={args.width}", f"env.camera.height={args.height}", f"seed={args.seed}"]
    if args.level is not None:
        overrides.append(f"gzip_level={args.level}")
    return overrides


def bench_render(cfg, frames: int = 40) -> float:
    env = FramelessNavEnv(config=OmegaConf.to_container(cfg.env, resolve=True))
    env.reset(seed=0, options={"scenario": "1box_hori_left_core_medium"})
    env.render()
    start = time.perf_counter()
    for _ in range(frames):
        env.render()
    env.close()
    return (time.perf_counter() - start) / frames


def bench_levels(cfg, levels: list[int], sample: int, root: Path) -> None:
    env = FramelessNavEnv(config=OmegaConf.to_container(cfg.env, resolve=True))
    expert = ScriptedExpert(**OmegaConf.to_container(cfg.expert, resolve=True))
    suite = build_suite(cfg)
    episodes = []
    start = time.perf_counter()
    for i in range(sample):
        rec, _, _ = record_successful_episode(env, expert, suite.scenario_for(i, 0), i, 10)
        episodes.append(Episode(images=rgb_to_bgr(rec.frames), actions=rec.actions,
                                event_types=rec.event_types, instruction=rec.scenario.instruction,
                                source="sim"))
    record_s = (time.perf_counter() - start) / sample
    env.close()
    raw = episodes[0].images.nbytes
    print(f"expert rollout + renders: {record_s * 1e3:.0f} ms/episode; raw images {raw / 1e6:.2f} MB/episode")
    print(f"{'level':>5} {'kB/episode':>11} {'ratio':>6} {'write ms/ep':>12} {'5000 eps GB':>12}")
    for level in levels:
        folder = root / f"level{level}"
        start = time.perf_counter()
        sizes = []
        for i, ep in enumerate(episodes):
            path = folder / f"episode_20250901_0900{i:02d}_1box_hori_left_core_medium.h5"
            write_episode(path, ep, compression="gzip" if level > 0 else None, level=level)
            sizes.append(path.stat().st_size)
        write_ms = (time.perf_counter() - start) / sample * 1e3
        mean = float(np.mean(sizes))
        print(f"{level:>5} {mean / 1e3:>11.1f} {raw / mean:>6.2f} {write_ms:>12.1f} "
              f"{mean * TARGET_EPISODES / 1e9:>12.2f}")


def bench_generate(args: argparse.Namespace, root: Path) -> None:
    out = root / "generate"
    cfg = load_config(_overrides(args, out, args.episodes))
    start = time.perf_counter()
    result = generate(cfg)
    wall = time.perf_counter() - start
    s = result.summary
    n = s["episodes"]
    print(f"generate: {n} episodes × {s['frames'] // n} frames at {args.width}x{args.height}, "
          f"workers {args.workers}, gzip level {cfg.gzip_level}")
    print(f"  {n / wall:.2f} episodes/s, {s['frames'] / wall:.1f} frames/s "
          f"(wall {wall:.1f} s incl. worker start)")
    print(f"  {s['bytes'] / n / 1e3:.1f} kB/episode; renders/episode {s['run']['renders'] / n:.2f}; "
          f"retries {s['retries']['extra_attempts']}")
    print(f"  projected {TARGET_EPISODES} episodes: {TARGET_EPISODES / (n / wall) / 60:.1f} min, "
          f"{s['bytes'] / n * TARGET_EPISODES / 1e9:.2f} GB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--height", type=int, default=144)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--level", type=int, default=None, help="gzip level of the end-to-end run")
    parser.add_argument("--levels", default="0,1,2,3,4,6,9", help="gzip levels of the sweep ('' skips it)")
    parser.add_argument("--sample", type=int, default=8, help="episodes of the gzip sweep")
    args = parser.parse_args(argv)
    print(f"cpu cores: {os.cpu_count()}, load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    root = Path(tempfile.mkdtemp(prefix="bench_datagen."))
    try:
        cfg = load_config(_overrides(args, root / "unused", 1))
        print(f"bare render: {bench_render(cfg) * 1e3:.1f} ms/frame at {args.width}x{args.height}")
        levels = [int(v) for v in args.levels.split(",") if v.strip()]
        if levels:
            bench_levels(cfg, levels, args.sample, root)
        if args.episodes > 0:
            bench_generate(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
