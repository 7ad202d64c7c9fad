"""Sim dataset generation in the real HDF5 schema.

``python -m datagen.generate --episodes 5000 [--out DIR --workers W --seed S] [key=value ...]``
``python -m datagen.generate --multirun --out DIR shard=0,1,2,3 num_shards=4 hydra/launcher=joblib``
``python -m datagen.generate --merge DIR [--rebuild]``

The privileged scripted expert drives scenarios of a suite (``configs/datagen.yaml``, composing
``env: default``); every successful demonstration becomes one episode file written through
``datagen.schema.write_episode`` (BGR images, ``(N, 3)`` float32 teleop actions, event types,
instruction, every real attribute, and the ``sim/`` group: seed, scenario record, per-frame poses,
generator attributes). Row layout: see ``datagen.expert_rollout`` (N = 1 + ``env.max_steps`` = 18; after
the expert stops in the goal the remaining rows are stop actions on the final frame).

Guarantees:

- **Deterministic**: episode i depends only on (seed, i): env/expert seed ``seed + i`` (a failed attempt
  is retried with a seed derived from (seed + i, attempt); the attempt is recorded), scenario
  ``suite.scenario_for(i, seed)``, file-name timestamp from (seed, i). The worker count changes nothing.
- **Resumable**: file names are fixed by (config, i); a rerun keeps complete, valid files, regenerates the
  rest and removes the temporary files a killed run left. ``generation.json`` records the config hash; a
  rerun with a different config into the same folder is refused.
- **Sharded**: job ``shard`` of ``num_shards`` generates the indices ``i % num_shards == shard`` and writes
  ``manifest.shardKKK-of-NNN.jsonl``; the shard that finds all of them merges into ``manifest.jsonl``
  (or run ``--merge DIR``). Hydra launchers run the shards as jobs (``--multirun``).
- ``manifest.jsonl`` (file, sha256, tags, seed, frames, instruction, keys, ...; no split) and
  ``summary.json`` are written atomically at the end; ``--merge DIR --rebuild`` rebuilds them from files.

``--out`` defaults to ``runs/generate/<suite>-seed<seed>-n<episodes>``. The code: configuration and
plan in ``datagen.generation_config``, one episode (and the worker processes) in ``datagen.generation_job``,
the folder, run record and merging in ``datagen.generation_folder``; this module runs a shard and is the CLI.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from concurrent.futures import as_completed
from contextlib import ExitStack
from typing import Any

from omegaconf import DictConfig, OmegaConf

from common.cli import run_main
from common.paths import CONFIG_DIR
from common.rundir import RunDirError, locked
from common.workers import spawn_pool
from datagen.generation_config import (
    CONFIG_NAME,
    HASH_EXCLUDED,
    MAX_EPISODES,
    SHARD_MANIFEST,
    SUMMARY_NAME,
    GenerationError,
    RunSettings,
    build_suite,
    collection_time,
    config_hash,
    episode_file_name,
    load_config,
    make_expert,
    output_dir,
    shard_indices,
    sim_settings,
)
from datagen.generation_folder import (
    GenerationResult,
    all_shard_manifests,
    check_generation_record,
    clean_temp_files,
    manifest_entry,
    merge,
    prepare_out_dir,
)
from datagen.generation_job import init_worker, make_runtime, produce_episode, produce_in_worker
from datagen.generation_summary import format_summary, summarize
from datagen.manifest import MANIFEST_NAME, write_manifest, write_text_atomic
from datagen.schema import EpisodeFormatError, EpisodeWriteError

__all__ = [
    "HASH_EXCLUDED", "MAX_EPISODES", "GenerationError", "GenerationResult", "RunSettings", "build_suite",
    "collection_time", "config_hash", "episode_file_name", "generate", "load_config", "main", "merge",
    "output_dir",
]


def generate(cfg: DictConfig) -> GenerationResult:
    """Generate (or resume) the episodes of this shard; see the module docstring.

    The folder is locked for the run (shared between the shards of one generation, each shard exclusive):
    a second run into it is refused with ``GenerationError`` instead of deleting the first one's files."""
    settings = RunSettings.from_config(cfg)
    suite = build_suite(cfg)  # fail fast on a bad suite, env or expert before any process starts
    sim_settings(cfg)
    make_expert(cfg)
    prepare_out_dir(settings.out)
    sharded = settings.num_shards > 1
    try:
        with ExitStack() as stack:
            stack.enter_context(locked(settings.out, shared=sharded, what="datagen.generate run"))
            if sharded:
                stack.enter_context(locked(settings.out, name=f"shard{settings.shard:03d}-of-"
                                           f"{settings.num_shards:03d}", what="datagen.generate run of "
                                           f"shard {settings.shard}"))
            return _generate_locked(cfg, settings, suite)
    except RunDirError as exc:
        raise GenerationError(str(exc)) from exc


def _generate_locked(cfg: DictConfig, settings: RunSettings, suite) -> GenerationResult:
    from sim.quiet import suppress_c_stdout

    out = settings.out
    digest = config_hash(cfg)
    check_generation_record(out, cfg, digest)
    indices = shard_indices(settings.episodes, settings.shard, settings.num_shards)
    sharded = settings.num_shards > 1
    shard_manifest = SHARD_MANIFEST.format(shard=settings.shard, num_shards=settings.num_shards)
    if sharded:
        (out / shard_manifest).unlink(missing_ok=True)
    clean_temp_files(out, set(indices) if sharded else None, shard_manifest if sharded else None)

    start = time.perf_counter()
    results: dict[int, dict[str, Any]] = {}
    errors: dict[int, str] = {}
    bar = _progress(len(indices), settings, sharded)
    workers = min(settings.workers, max(1, len(indices)))
    try:
        if workers == 1:
            with suppress_c_stdout():
                rt = make_runtime(cfg)
            try:
                for i in indices:
                    _collect(i, lambda i=i: produce_episode(rt, i), results, errors, bar)
            finally:
                rt.env.close()
        else:
            with spawn_pool(workers, init_worker, (OmegaConf.to_yaml(cfg),)) as pool:
                futures = {pool.submit(produce_in_worker, i): i for i in indices}
                for future in as_completed(futures):
                    _collect(futures[future], future.result, results, errors, bar)
    finally:
        bar.close()
    wall = time.perf_counter() - start
    if errors:
        shown = "; ".join(f"episode {i}: {msg}" for i, msg in sorted(errors.items())[:5])
        raise GenerationError(f"{len(errors)} of {len(indices)} episodes failed in {out} ({shown}); "
                              "the others are kept: rerun to retry the failed ones")
    entries = [manifest_entry(out, results[i]["file"], results[i]["fields"]) for i in indices]
    run = {
        "wall_s": wall,
        "generated": sum(r["status"] == "generated" for r in results.values()),
        "kept": sum(r["status"] == "kept" for r in results.values()),
        "renders": sum(r["renders"] for r in results.values()),
        "workers": workers,
        "shard": settings.shard,
        "num_shards": settings.num_shards,
        "gzip_level": settings.gzip_level,
    }
    summary = summarize([e.extra for e in entries], suite, run)
    if not sharded:
        manifest = write_manifest(out / MANIFEST_NAME, entries)
        write_text_atomic(out / SUMMARY_NAME, json.dumps(summary, indent=2, sort_keys=True) + "\n")
        return GenerationResult(out, entries, summary, manifest)
    manifest = write_manifest(out / shard_manifest, entries)
    result = GenerationResult(out, entries, summary, manifest)
    if settings.merge and all_shard_manifests(out, settings.num_shards):
        try:
            merged = merge(out)
        except GenerationError:
            merged = None  # another shard's files are not all there yet; its own end will merge
        if merged is not None:
            result.merged, result.merge_summary = True, merged.summary
    return result


def _collect(index: int, produce, results: dict, errors: dict, bar) -> None:
    try:
        results[index] = produce()
    except (RuntimeError, EpisodeWriteError, EpisodeFormatError, ValueError) as exc:
        if isinstance(exc, EpisodeWriteError):
            raise GenerationError(str(exc)) from exc
        errors[index] = str(exc)
    bar.update(1)


def _progress(total: int, settings: RunSettings, sharded: bool):
    from tqdm import tqdm

    desc = f"shard {settings.shard}/{settings.num_shards}" if sharded else "episodes"
    return tqdm(total=total, desc=desc, unit="ep", disable=not settings.progress, file=sys.stderr,
                dynamic_ncols=True, smoothing=0.05)



# ----------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m datagen.generate", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, help="episodes in the dataset (default 5000)")
    parser.add_argument("--out", help="output folder (rerunning into it resumes; default "
                        "runs/generate/<suite>-seed<seed>-n<episodes>)")
    parser.add_argument("--workers", type=int, help="worker processes (the files do not depend on it)")
    parser.add_argument("--seed", type=int, help="base seed; episode i uses seed + i")
    parser.add_argument("--suite", help="scenario suite (configs/suites/*.yaml) or a suite YAML path")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--multirun", "-m", action="store_true",
                        help="Hydra multirun: sweep overrides as jobs, e.g. shard=0,1,2,3 num_shards=4 "
                             "hydra/launcher=joblib (or submitit_slurm)")
    parser.add_argument("--merge", metavar="DIR",
                        help="only merge the shard manifests of DIR into manifest.jsonl")
    parser.add_argument("--rebuild", action="store_true", help="with --merge: rebuild from the episode files")
    parser.add_argument("overrides", nargs="*",
                        help="Hydra overrides key=value, e.g. env.camera.width=128 env.camera.height=72 "
                             "expert.variation=0.8 tag_weights.side.left=3 env.randomization.enabled=false")
    return parser


def _overrides(args: argparse.Namespace) -> list[str]:
    overrides = list(args.overrides)
    for flag in ("episodes", "out", "workers", "seed", "suite"):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{flag}={value}")
    if args.no_progress:
        overrides.append("progress=false")
    return overrides


def _print_result(result: GenerationResult) -> None:
    print(format_summary(result.summary))
    if result.manifest is not None:
        print(f"manifest: {result.manifest}")
    if result.merged and result.merge_summary is not None and result.manifest is not None \
            and result.manifest.name != MANIFEST_NAME:
        print("all shards done; merged dataset:")
        print(format_summary(result.merge_summary))
        print(f"manifest: {result.out / MANIFEST_NAME}")


def _shard_job(cfg: DictConfig) -> dict[str, Any]:
    """The task function of a Hydra (multi)run job: one shard."""
    result = generate(cfg)
    _print_result(result)
    return result.summary


def _hydra_multirun(overrides: list[str]) -> int:
    import hydra

    entry = hydra.main(config_path=str(CONFIG_DIR), config_name=CONFIG_NAME, version_base="1.3")(_shard_job)
    saved = sys.argv
    sys.argv = [saved[0] if saved else "datagen.generate", "--multirun", *overrides]
    try:
        entry()
    finally:
        sys.argv = saved
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_intermixed_args(argv)  # key=value may sit between flags
    return run_main(lambda: _main(args))


def _main(args: argparse.Namespace) -> int:
    if args.merge:
        _print_result(merge(args.merge, rebuild=args.rebuild, episodes=args.episodes))
        return 0
    overrides = _overrides(args)
    if args.multirun:
        if args.out is None and not any(o.startswith("out=") for o in overrides):
            raise ValueError("--multirun needs --out DIR (every shard writes into the same folder, and a "
                             "sweep may change what a default folder name is built from)")
        return _hydra_multirun(overrides)
    _print_result(generate(load_config(overrides)))
    return 0


if __name__ == "__main__":
    # Re-import under the package name so worker processes and Hydra launchers pickle
    # ``datagen.generate.*`` functions by reference, not ``__main__``.
    from datagen.generate import main as _main

    sys.exit(_main())
