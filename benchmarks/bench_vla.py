"""VLA speed figures: ``python benchmarks/bench_vla.py [--fullsize] [--steps N]``.

Prints, on this machine:

1. tiny policy ``act()`` per step (target <= 10 ms), synthetic 144x256 RGB frames;
2. one training step of the tiny model, batch 8 x window 8 x chunk 10 (target <= 100 ms): preprocessing,
   forward, masked Huber loss, backward, AdamW step;
3. with ``--fullsize``: a full-size Kosmos-2 with RANDOM weights (default ``Kosmos2Config()``, bf16) +
   LoRA r=32 + 4x512 LSTM head, per-step latency by component (``configs/policy/vla_fullsize_random``;
   ~3.1 GiB, about a second per step on one core of a 2-core CPU; do not run it while others' tests
   run). Threads default to 1: on a busy 2-core host, 2 OpenMP threads made it ~11x slower (12.8 s/step).

The tiny backbone is built into a temporary directory, so nothing is written to the project.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.latency import format_table, measure  # noqa: E402
from policies import make_policy  # noqa: E402


def bench_tiny_act(tiny_dir: Path, steps: int) -> dict:
    policy = make_policy("vla_tiny", backbone_path=str(tiny_dir))
    result = measure(policy, steps=steps, warmup=10)
    print(format_table(result))
    p50 = result["components"]["total_ms"]["p50"]
    print(
        f"tiny act(): p50 {p50:.2f} ms (target <= 10 ms: {'PASS' if p50 <= 10 else 'FAIL'}), "
        f"torch threads {torch.get_num_threads()}\n"
    )
    return result


def bench_train_step(tiny_dir: Path, steps: int, threads: int) -> float:
    from policies.vla.model import build_model
    from policies.vla.preprocess import Preprocessor
    from training.config import load_run_config
    from training.objective import masked_huber

    cfg = load_run_config("vla_tiny", [f"model.backbone.path={tiny_dir}"])
    torch.set_num_threads(threads)
    model = build_model(cfg.model).train()
    pre = Preprocessor(cfg.preprocess)
    opt = torch.optim.AdamW(
        model.trainable_parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
    )
    rng = np.random.default_rng(0)
    b, w, c, a = 8, cfg.model.window, cfg.model.head.chunk, cfg.model.head.n_axes
    rgb = rng.integers(0, 256, size=(b, w, 144, 256, 3), dtype=np.uint8)
    target = torch.from_numpy(rng.uniform(-1, 1, size=(b, w, c, a)).astype(np.float32))
    mask = torch.ones(b, w, c, dtype=torch.bool)
    instructions = ["Navigate to the left toward the gray basket"] * b
    times, pre_times = [], []
    for i in range(steps + 3):
        t0 = time.perf_counter()
        px = pre.frames(rgb)
        t1 = time.perf_counter()
        loss = masked_huber(model(px, instructions), target, mask)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.trainable_parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        t2 = time.perf_counter()
        if i >= 3:
            times.append((t2 - t0) * 1e3)
            pre_times.append((t1 - t0) * 1e3)
    med = statistics.median(times)
    print(
        f"tiny training step, batch {b} x window {w} x chunk {c} (64 frames of 144x256), train_mode "
        f"{cfg.model.train_mode}, torch threads {threads}: median {med:.1f} ms "
        f"(preprocessing {statistics.median(pre_times):.1f} ms), min {min(times):.1f} ms, "
        f"max {max(times):.1f} ms over {steps} steps (target <= 100 ms: {'PASS' if med <= 100 else 'FAIL'})\n"
    )
    return med


def bench_fullsize(steps: int, threads: int) -> dict:
    torch.set_num_threads(threads)
    start = time.perf_counter()
    policy = make_policy("vla_fullsize_random", num_threads=threads)
    build_s = time.perf_counter() - start
    n_params = sum(p.numel() for p in policy.model.parameters())
    print(
        f"full-size random Kosmos-2 + LoRA + LSTM head built in {build_s:.1f} s: {n_params / 1e9:.3f} B "
        f"parameters, backbone {policy.dtype}, torch threads {threads}"
    )
    result = measure(policy, steps=steps, warmup=2)
    print(format_table(result))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="tiny act() steps")
    parser.add_argument("--train-steps", type=int, default=20)
    parser.add_argument("--train-threads", type=int, default=1)
    parser.add_argument("--fullsize", action="store_true", help="also time the full-size random model")
    parser.add_argument("--fullsize-steps", type=int, default=5)
    parser.add_argument("--fullsize-threads", type=int, default=1)
    args = parser.parse_args(argv)
    from policies.vla.tiny import build_tiny_backbone

    with tempfile.TemporaryDirectory() as tmp:
        tiny = build_tiny_backbone(Path(tmp) / "tiny-kosmos-2")
        bench_tiny_act(tiny, args.steps)
        bench_train_step(tiny, args.train_steps, args.train_threads)
    if args.fullsize:
        bench_fullsize(args.fullsize_steps, args.fullsize_threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
