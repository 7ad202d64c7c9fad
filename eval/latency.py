"""Per-step policy latency (test plan T3-1): ``python -m eval.latency --policy NAME --steps N``.

Feeds synthetic observations (random RGB at 144x256 by default, a fixed instruction) through
``policy.act`` and reports each component of ``policy.last_timing`` (preprocess, VLM = vision +
projection + language model, action head, postprocess, total; plus the policy's extra timings) as
p50 / p95 / max / mean in milliseconds over ``steps`` steps after ``warmup`` steps, with device, dtype
and batch size stated. The plan's target (``eval.targets``: total below 200 ms, judged on the per-step
p95, as everywhere in the bench) is marked PASS or FAIL. Non-time counters of the policy (e.g.
``frames_encoded``) are reported apart as per-step means. Results print as a table and go, with the raw
per-step totals, to ``--out DIR``/latency.json (default ``runs/latency/<policy>``). Policy arguments are
``policy.KEY=VALUE`` (deep-merged; ``--set KEY=VALUE`` is the deprecated spelling).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from common.cli import ConfigError, default_out_dir, run_main
from common.files import atomic_write_json
from eval.metrics import summarize_latency
from eval.policy_args import policy_kwargs
from eval.step_latency import split_timing
from eval.targets import LATENCY_TARGET_MS, LATENCY_WARMUP_CALLS, latency_criterion, latency_passes

TARGET_MS = LATENCY_TARGET_MS
DEFAULT_INSTRUCTION = "Navigate around obstacles and reach the front of the beverage bottle on the left"
COMPONENTS = ("preprocess_ms", "vlm_ms", "head_ms", "postprocess_ms", "total_ms")


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """p50 / p95 / max / mean / n of a list of milliseconds (``eval.metrics.summarize_latency``)."""
    return summarize_latency(values)


def measure(
    policy: Any,
    steps: int,
    warmup: int = LATENCY_WARMUP_CALLS,
    height: int = 144,
    width: int = 256,
    instruction: str = DEFAULT_INSTRUCTION,
    seed: int = 0,
    target_ms: float = TARGET_MS,
) -> dict[str, Any]:
    """Run ``warmup + steps`` synthetic steps through ``policy`` and summarise its ``last_timing``."""
    if steps < 1 or warmup < 0:
        raise ValueError(f"steps must be >= 1 and warmup >= 0, got steps={steps} warmup={warmup}")
    rng = np.random.default_rng(seed)
    policy.reset(instruction)
    samples: dict[str, list[float]] = {}
    counts: dict[str, list[float]] = {}
    wall: list[float] = []
    for i in range(warmup + steps):
        obs = {
            "rgb": rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8),
            "instruction": instruction,
        }
        start = time.perf_counter()
        policy.act(obs)
        elapsed = (time.perf_counter() - start) * 1e3
        if i < warmup:
            continue
        wall.append(elapsed)
        timing = getattr(policy, "last_timing", None)
        ms, other = split_timing(timing.as_dict() if timing is not None else {"total_ms": elapsed})
        for key, value in ms.items():
            samples.setdefault(key, []).append(value)
        for key, value in other.items():
            counts.setdefault(key, []).append(value)
    components = {k: summarize(v) for k, v in samples.items()}
    components["wall_ms"] = summarize(wall)
    total = components.get("total_ms", components["wall_ms"])
    return {
        "policy": getattr(policy, "name", type(policy).__name__),
        "device": str(getattr(policy, "device", "cpu")),
        "dtype": str(getattr(policy, "dtype", "n/a")),
        "batch": 1,
        "steps": steps,
        "warmup": warmup,
        "image_hw": [height, width],
        "instruction": instruction,
        "host": {
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "components": components,
        "counts_per_step": {k: float(np.mean(v)) for k, v in counts.items()},
        "total_samples_ms": [round(v, 4) for v in samples.get("total_ms", wall)],
        "target_ms": target_ms,
        "criterion": latency_criterion(target_ms),
        "pass": bool(latency_passes(total, target_ms)),
    }


def format_table(result: dict[str, Any]) -> str:
    """The result as a fixed-width text table with the PASS/FAIL line."""
    lines = [
        f"policy {result['policy']}  device {result['device']}  dtype {result['dtype']}  "
        f"batch {result['batch']}  "
        f"steps {result['steps']} (warm-up {result['warmup']} excluded)  image {result['image_hw'][0]}x"
        f"{result['image_hw'][1]}",
        f"{'component':<16}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'mean ms':>10}",
    ]
    order = [c for c in COMPONENTS if c in result["components"]]
    order += sorted(k for k in result["components"] if k not in order)
    for key in order:
        s = result["components"][key]
        lines.append(f"{key:<16}{s['p50']:>10.2f}{s['p95']:>10.2f}{s['max']:>10.2f}{s['mean']:>10.2f}")
    for key, mean in result.get("counts_per_step", {}).items():
        lines.append(f"{key:<16}{mean:>10.2f} per step (a count, not a time)")
    verdict = "PASS" if result["pass"] else "FAIL"
    lines.append(f"target: {result['criterion']} -> {verdict}")
    return "\n".join(lines)


RESULT_FILE = "latency.json"
"""The file ``--out DIR`` receives."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m eval.latency", description="Per-step latency of a policy on synthetic observations."
    )
    parser.add_argument("--policy", required=True, help="policy name (configs/policy/<name>.yaml or a type)")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="policy.KEY=VALUE",
        help="make_policy arguments, dotted keys deep-merged, e.g. policy.device=cuda policy.dtype=bf16",
    )
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument(
        "--warmup", type=int, default=LATENCY_WARMUP_CALLS, help="first calls excluded as warm-up"
    )
    parser.add_argument(
        "--out", type=Path, help=f"output folder for {RESULT_FILE} (default runs/latency/<policy>)"
    )
    parser.add_argument("--json", type=Path, default=None, help="deprecated: write the result to this file")
    parser.add_argument("--height", type=int, default=144)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--instruction", default=DEFAULT_INSTRUCTION)
    parser.add_argument("--target-ms", type=float, default=TARGET_MS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--set",
        dest="legacy_set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="deprecated spelling of policy.KEY=VALUE",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_intermixed_args(argv)  # policy.key=value may sit between flags
    return run_main(lambda: _run(args), also=(TypeError, RuntimeError))


def _checked(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """The result file and the policy arguments; bad values named before anything runs or is written."""
    overrides = policy_kwargs(args.overrides, args.legacy_set)
    for flag, value, least in (("--steps", args.steps, 1), ("--warmup", args.warmup, 0)):
        if value < least:
            raise ConfigError(f"{flag}={value} is invalid: expected an integer >= {least}")
    if args.json is not None:
        print("warning: --json FILE is deprecated; write --out FOLDER", file=sys.stderr)
        target = args.json
    else:
        out = args.out or default_out_dir("latency", args.policy)
        if out.exists() and not out.is_dir():
            raise ConfigError(f"--out {out} is a file; expected a folder (for {out / RESULT_FILE})")
        target = out / RESULT_FILE
    if target.is_dir():
        raise ConfigError(f"{target} is a folder; expected a file path")
    return target, overrides


def _run(args: argparse.Namespace) -> int:
    from policies import make_policy

    target, overrides = _checked(args)
    build_start = time.perf_counter()
    policy = make_policy(args.policy, **overrides)
    build_s = time.perf_counter() - build_start
    result = measure(
        policy,
        args.steps,
        args.warmup,
        args.height,
        args.width,
        args.instruction,
        args.seed,
        args.target_ms,
    )
    result["build_s"] = build_s
    print(format_table(result))
    atomic_write_json(target, result)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
