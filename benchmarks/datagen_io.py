"""Throughput of the datagen pieces: episode write/read, training windows, augmentation, validation.

``python benchmarks/datagen_io.py [--episodes 4] [--real-size]``

Synthetic episodes of 18 frames (smooth gradients + texture, so gzip behaves roughly like on camera
frames) at the sim render size 144×256 and, with ``--real-size``, the real camera size 720×1280.
Prints milliseconds per episode / per window and file sizes. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from datagen.augment import AugmentConfig, augment_paths
from datagen.dataset import EpisodeDataset
from datagen.schema import Episode, default_event_types, inspect_episode, read_episode, write_episode
from datagen.validate import validate_file
from sim.protocol import CORE_SEQUENCES, keys_to_actions


def synthetic_episode(h: int, w: int, seed: int) -> Episode:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = []
    for t in range(18):
        base = np.stack([(xx / w) * 200 + t, (yy / h) * 180, ((xx + yy) / (h + w)) * 220], axis=-1)
        frames.append(np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8))
    actions = np.concatenate([np.zeros((1, 3), np.float32), keys_to_actions(CORE_SEQUENCES["left"])])
    return Episode(
        images=np.stack(frames),
        actions=actions,
        event_types=default_event_types(18),
        instruction="Navigate around obstacles and reach the front of the beverage bottle on the left",
    )


def _ms(seconds: float, n: int) -> str:
    return f"{seconds / n * 1e3:8.1f} ms"


def bench(h: int, w: int, episodes: int, root: Path) -> None:
    folder = root / f"{h}x{w}"
    eps = [synthetic_episode(h, w, i) for i in range(episodes)]
    names = [folder / f"episode_20251106_10{i:02d}00_1box_hori_left_core_medium.h5" for i in range(episodes)]
    t = time.perf_counter()
    for path, ep in zip(names, eps, strict=True):
        write_episode(path, ep)
    write_s = time.perf_counter() - t
    size_mb = np.mean([p.stat().st_size for p in names]) / 1e6
    t = time.perf_counter()
    for path in names:
        read_episode(path)
    read_s = time.perf_counter() - t
    t = time.perf_counter()
    for path in names:
        inspect_episode(path)
    inspect_s = time.perf_counter() - t
    t = time.perf_counter()
    for path in names:
        validate_file(path)
    validate_s = time.perf_counter() - t
    print(f"[{h}x{w}] {episodes} episodes × 18 frames, {size_mb:.2f} MB per file")
    print(f"  write_episode   {_ms(write_s, episodes)} / episode")
    print(f"  read_episode    {_ms(read_s, episodes)} / episode")
    print(f"  inspect_episode {_ms(inspect_s, episodes)} / episode")
    print(f"  validate_file   {_ms(validate_s, episodes)} / episode")
    for cache_mb in (0.0, 256.0):
        ds = EpisodeDataset(folder, resize=224, cache_mb=cache_mb)
        t = time.perf_counter()
        for i in range(len(ds)):
            ds[i]
        per_window = _ms(time.perf_counter() - t, len(ds))
        print(f"  dataset window (8 frames → 224², cache {cache_mb:g} MB) {per_window}")
    t = time.perf_counter()
    all_ops = AugmentConfig.only("crop", "hsv", "brightness_contrast", "blur", "noise", copies=1, seed=0)
    augment_paths([folder], root / f"aug_{h}x{w}", all_ops)
    print(f"  augment copy (all ops on, incl. write) {_ms(time.perf_counter() - t, episodes)} / copy")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--real-size", action="store_true", help="also benchmark 720×1280 frames")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        bench(144, 256, args.episodes, Path(tmp))
        if args.real_size:
            bench(720, 1280, args.episodes, Path(tmp))


if __name__ == "__main__":
    main()
