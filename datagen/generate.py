"""Sim dataset generation in the real HDF5 schema.

``python -m datagen.generate --episodes 5000 --out DIR [--workers W --seed S] [key=value ...]``
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
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import as_completed
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from common.cli import BenchError, run_main
from common.config import MAX_EPISODES as COMMON_MAX_EPISODES
from common.config import compose, get_int
from common.rundir import RunDirError, check_run_record, locked
from common.workers import spawn_pool
from datagen.generation_summary import format_summary, summarize
from datagen.manifest import (
    MANIFEST_NAME,
    ManifestEntry,
    file_sha256,
    read_manifest,
    write_manifest,
    write_text_atomic,
)
from datagen.schema import (
    EPISODE_SUFFIX,
    SOURCE_SIM,
    Episode,
    EpisodeFormatError,
    EpisodeWriteError,
    SimExtras,
    format_episode_name,
    read_episode,
    rgb_to_bgr,
    write_episode,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO_ROOT / "configs"
CONFIG_NAME = "datagen"
RUN_RECORD = "generation.json"
SUMMARY_NAME = "summary.json"
INDEX_DIGITS = 6
MAX_EPISODES = min(10**INDEX_DIGITS, COMMON_MAX_EPISODES)
SHARD_MANIFEST = "manifest.shard{shard:03d}-of-{num_shards:03d}.jsonl"
HASH_EXCLUDED = ("episodes", "out", "workers", "shard", "num_shards", "merge", "progress", "max_attempts")
"""Config keys that do not change any file's bytes (so a run may be extended, resumed or re-sharded)."""
_INDEX_RE = re.compile(r"__sim(\d+)\.")
_SHARD_MANIFEST_RE = re.compile(r"^manifest\.shard(\d{3})-of-(\d{3})\.jsonl$")


class GenerationError(BenchError, RuntimeError):
    """The generation cannot go on; the message names the folder, file, episode or key involved."""


# ---------------------------------------------------------------------------------- configuration
def load_config(overrides: Sequence[str] = ()) -> DictConfig:
    """``configs/datagen.yaml`` composed with Hydra ``key=value`` overrides (Hydra's own node dropped);
    ``ConfigError`` naming a bad override or an unknown key."""
    return compose(CONFIG_NAME, overrides, CONFIG_DIR)


@dataclass(frozen=True)
class RunSettings:
    """The run-control part of the config, checked; errors name the key, its value and what was expected."""

    episodes: int
    out: Path
    workers: int
    shard: int
    num_shards: int
    max_attempts: int
    gzip_level: int
    merge: bool
    progress: bool

    @classmethod
    def from_config(cls, cfg: DictConfig) -> RunSettings:
        if cfg.out is None or str(cfg.out) == "":
            raise ValueError("out=null: give the output folder with --out DIR (or out=DIR)")
        get_int(cfg, "seed", 0)
        settings = cls(episodes=_int(cfg, "episodes"), out=Path(str(cfg.out)), workers=_int(cfg, "workers"),
                       shard=_int(cfg, "shard"), num_shards=_int(cfg, "num_shards"),
                       max_attempts=_int(cfg, "max_attempts"), gzip_level=_int(cfg, "gzip_level"),
                       merge=bool(cfg.merge), progress=bool(cfg.progress))
        checks = [
            (1 <= settings.episodes <= MAX_EPISODES, "episodes", settings.episodes,
             f"an integer in 1..{MAX_EPISODES} (file names hold a {INDEX_DIGITS}-digit index)"),
            (settings.workers >= 1, "workers", settings.workers, "an integer >= 1"),
            (settings.num_shards >= 1, "num_shards", settings.num_shards, "an integer >= 1"),
            (0 <= settings.shard < settings.num_shards, "shard", settings.shard,
             f"an integer in 0..{settings.num_shards - 1} (num_shards={settings.num_shards})"),
            (settings.max_attempts >= 1, "max_attempts", settings.max_attempts, "an integer >= 1"),
            (0 <= settings.gzip_level <= 9, "gzip_level", settings.gzip_level, "an integer in 0..9"),
        ]
        for ok, key, value, expected in checks:
            if not ok:
                raise ValueError(f"{key}={value!r} is invalid: expected {expected}")
        return settings


def _int(cfg: DictConfig, key: str) -> int:
    return get_int(cfg, key)


def config_hash(cfg: DictConfig) -> str:
    """Hash of every config value that changes the files (``HASH_EXCLUDED`` keys left out)."""
    return hashlib.sha256(json.dumps(_content_config(cfg), sort_keys=True).encode()).hexdigest()[:16]


def _content_config(cfg: DictConfig) -> dict[str, Any]:
    data = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(data, dict)
    for key in (*HASH_EXCLUDED, "hydra"):
        data.pop(key, None)
    return data


def build_suite(cfg: DictConfig):
    """The scenario suite (``suite`` or ``env.suite``) with ``tag_weights`` multiplied into its weights.

    ``tag_weights`` maps an axis of either taxonomy (``side``, ``pattern``, ``target``, ...) to per-tag
    factors (missing tags: 1; 0 drops the tag); a scenario's weight is multiplied by the factor of each of
    its tags. Errors name the bad axis, tag or factor.
    """
    from sim.scenario import BASKET_AXES, BOTTLE_AXES, parse_scenario_name
    from sim.suites import Suite, load_suite

    base = load_suite(str(cfg.suite or cfg.env.suite))
    raw = OmegaConf.to_container(cfg.tag_weights, resolve=True) if cfg.get("tag_weights") else {}
    if not isinstance(raw, dict):
        raise ValueError(f"tag_weights={raw!r} is invalid: expected {{axis: {{tag: factor}}}}")
    known = {**BOTTLE_AXES, **{axis: tuple(set(BOTTLE_AXES.get(axis, ())) | set(tags))
                               for axis, tags in BASKET_AXES.items()}}
    factors: dict[str, dict[str, float]] = {}
    for axis, per_tag in raw.items():
        if axis not in known:
            raise ValueError(f"tag_weights.{axis}: unknown axis; valid axes: {', '.join(sorted(known))}")
        if not isinstance(per_tag, dict):
            raise ValueError(f"tag_weights.{axis}={per_tag!r} is invalid: expected {{tag: factor}}")
        for tag, w in per_tag.items():
            if str(tag) not in known[axis]:
                valid = ", ".join(sorted(known[axis]))
                raise ValueError(f"tag_weights.{axis}.{tag}: unknown tag; valid: {valid}")
            if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
                raise ValueError(f"tag_weights.{axis}.{tag}={w!r} is invalid: expected a number >= 0")
        factors[axis] = {str(t): float(w) for t, w in per_tag.items()}
    if all(w == 1.0 for per_tag in factors.values() for w in per_tag.values()):
        return base
    weights = {}
    for name, w in base.weights.items():
        for axis, tag in parse_scenario_name(name)[1].items():
            w *= factors.get(axis, {}).get(tag, 1.0)
        if w > 0:
            weights[name] = int(w) if float(w).is_integer() else w
    if not weights:
        raise ValueError(f"tag_weights drop every scenario of suite {base.name!r}")
    return Suite(name=base.name, weights=weights, description=base.description)


def collection_time(cfg: DictConfig, seed: int, index: int) -> dt.datetime:
    """The file-name timestamp of episode ``index``: sessions of ``hours_per_day`` hours, one episode every
    ``seconds_per_episode`` seconds, starting ``seed mod 365`` days after ``timestamps.start``."""
    ts = cfg.timestamps
    start = dt.datetime.fromisoformat(str(ts.start))
    period = int(ts.seconds_per_episode)
    per_day = max(1, int(float(ts.hours_per_day) * 3600) // max(1, period))
    day, slot = divmod(int(index), per_day)
    return start + dt.timedelta(days=int(seed) % 365 + day, seconds=slot * period)


def episode_file_name(cfg: DictConfig, suite, index: int) -> str:
    """``episode_{YYYYMMDD}_{HHMMSS}_{scenario}__sim{index:06d}.h5`` for episode ``index``."""
    seed = int(cfg.seed)
    scenario = suite.scenario_for(index, seed)
    when = collection_time(cfg, seed, index)
    return format_episode_name(when, scenario, suffix=f"sim{index:0{INDEX_DIGITS}d}") + EPISODE_SUFFIX


def shard_indices(episodes: int, shard: int, num_shards: int) -> list[int]:
    return list(range(shard, episodes, num_shards))


# ----------------------------------------------------------------------------------- one episode
@dataclass
class _Runtime:
    cfg: DictConfig
    env: Any
    expert: Any
    suite: Any
    digest: str
    out: Path
    gzip_level: int
    max_attempts: int


def make_expert(cfg: DictConfig):
    """The scripted expert of ``cfg.expert``; ``ValueError`` naming a bad key or value."""
    from policies.scripted import ScriptedExpert

    expert_cfg = OmegaConf.to_container(cfg.expert, resolve=True)
    if not isinstance(expert_cfg, dict):
        raise ValueError(f"expert={expert_cfg!r} is invalid: expected a mapping of ScriptedExpert arguments")
    try:
        return ScriptedExpert(**expert_cfg)
    except TypeError as exc:
        raise ValueError(f"expert={expert_cfg!r} is invalid ({exc}); valid keys: style, variation, margin_m, "
                         "stop_fraction") from exc


def sim_settings(cfg: DictConfig):
    """The checked ``SimConfig`` of ``cfg.env`` (``ValueError`` naming the bad field)."""
    from sim.config import sim_config

    env_cfg = OmegaConf.to_container(cfg.env, resolve=True)
    assert isinstance(env_cfg, dict)
    return sim_config(env_cfg)


def _make_runtime(cfg: DictConfig) -> _Runtime:
    from datagen.expert_rollout import FramelessNavEnv

    suite = build_suite(cfg)
    env = FramelessNavEnv(config=sim_settings(cfg), suite=suite)
    settings = RunSettings.from_config(cfg)
    return _Runtime(cfg, env, make_expert(cfg), suite, config_hash(cfg), settings.out, settings.gzip_level,
                    settings.max_attempts)


def _actions_digest(actions) -> str:
    return hashlib.sha1(actions[1:].astype("float32").tobytes()).hexdigest()


def _entry_fields(episode: Episode, path: Path) -> dict[str, Any]:
    """Manifest fields of an episode held in memory and its written file."""
    from datagen.expert_rollout import key_string

    sim = episode.sim
    assert sim is not None
    return {
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
        "episode": int(sim.attrs["episode_index"]),
        "seed": int(sim.seed),
        "base_seed": int(sim.attrs["base_seed"]),
        "attempt": int(sim.attrs["attempt"]),
        "scenario": str(sim.scenario.get("name", "")),
        "frames": episode.num_frames,
        "instruction": episode.instruction,
        "keys": key_string(episode.actions[1:]),
        "actions_sha1": _actions_digest(episode.actions),
    }


def existing_episode_fields(path: Path, index: int, digest: str, frames: int, size: tuple[int, int]
                            ) -> dict[str, Any] | None:
    """Manifest fields of an existing episode file when it is complete and belongs to this generation
    (readable, sim source, same config hash and index, ``frames`` frames of ``size`` = (H, W)); else None."""
    try:
        episode = read_episode(path)
    except (EpisodeFormatError, OSError):
        return None
    sim = episode.sim
    if (episode.source != SOURCE_SIM or sim is None or sim.attrs.get("config_hash") != digest
            or sim.attrs.get("episode_index") != index or episode.num_frames != frames
            or episode.image_size != tuple(size) or sim.poses is None):
        return None
    return _entry_fields(episode, path)


def produce_episode(rt: _Runtime, index: int) -> dict[str, Any]:
    """Make sure episode ``index`` exists as a valid file; returns ``{index, file, status, fields}``.

    ``status`` is ``kept`` (a valid file was there) or ``generated``.
    """
    from datagen.expert_rollout import record_successful_episode

    cfg = rt.cfg
    name = episode_file_name(cfg, rt.suite, index)
    path = rt.out / name
    frames = rt.env.config.max_steps + 1
    size = (rt.env.config.camera.height, rt.env.config.camera.width)
    if path.exists():
        fields = existing_episode_fields(path, index, rt.digest, frames, size)
        if fields is not None:
            return {"index": index, "file": name, "status": "kept", "fields": fields, "renders": 0}
    base_seed = int(cfg.seed)
    scenario = rt.suite.scenario_for(index, base_seed)
    rec, attempt, reasons = record_successful_episode(rt.env, rt.expert, scenario, base_seed + index,
                                                      rt.max_attempts)
    episode = Episode(
        images=rgb_to_bgr(rec.frames),
        actions=rec.actions,
        event_types=rec.event_types,
        instruction=rec.scenario.instruction,
        source=SOURCE_SIM,
        sim=SimExtras(
            seed=rec.seed,
            scenario=rec.scenario.as_record(),
            poses=rec.poses,
            attrs={
                "episode_index": index,
                "base_seed": base_seed,
                "episode_seed": base_seed + index,
                "attempt": attempt,
                "failed_attempts": ",".join(reasons),
                "success": True,
                "env_steps": rec.env_steps,
                "path_length_m": rec.path_length_m,
                "final_distance_m": rec.final_distance_m,
                "expert_style": str(cfg.expert.style),
                "expert_variation": float(cfg.expert.variation),
                "control_mode": str(rt.env.config.robot.control_mode),
                "config_hash": rt.digest,
                "render_backend": rt.env.world.render_backend,
                "generator": "datagen.generate",
            },
        ),
    )
    write_episode(path, episode, level=rt.gzip_level)
    return {"index": index, "file": name, "status": "generated", "fields": _entry_fields(episode, path),
            "renders": rec.renders}


_WORKER: dict[str, Any] = {}


def _init_worker(cfg_yaml: str) -> None:
    from sim.quiet import suppress_c_stdout

    with suppress_c_stdout():
        _WORKER["rt"] = _make_runtime(OmegaConf.create(cfg_yaml))


def _produce_in_worker(index: int) -> dict[str, Any]:
    return produce_episode(_WORKER["rt"], index)


# ----------------------------------------------------------------------------------- folders
def prepare_out_dir(out: Path) -> None:
    """Create ``out`` and check a file can be created in it; ``GenerationError`` naming the folder."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise GenerationError(f"output directory {out} is not writable: {exc}") from exc


def clean_temp_files(out: Path, indices: set[int] | None, shard_manifest: str | None) -> int:
    """Remove the temporary files a killed run left: episode temps of ``indices`` (all when None) and the
    temps of ``shard_manifest`` (or of ``manifest.jsonl`` / ``summary.json`` when None). Returns the count."""
    removed = 0
    own_prefixes = [f".{shard_manifest}."] if shard_manifest else [f".{MANIFEST_NAME}.", f".{SUMMARY_NAME}.",
                                                                   f".{RUN_RECORD}."]
    for p in out.iterdir():
        if not (p.name.startswith(".") and p.name.endswith(".tmp")):
            continue
        match = _INDEX_RE.search(p.name)
        if match and p.name.endswith(f"{EPISODE_SUFFIX}.tmp"):
            mine = indices is None or int(match.group(1)) in indices
        else:
            mine = any(p.name.startswith(prefix) for prefix in own_prefixes)
        if mine:
            p.unlink(missing_ok=True)
            removed += 1
    return removed


def _check_run_record(out: Path, cfg: DictConfig, digest: str) -> None:
    """Write ``generation.json`` (config and hash) or check that the folder's matches this config (a larger
    ``episodes`` extends the record); ``GenerationError`` naming the differing keys."""
    content = _content_config(cfg)
    from sim.render_backend import describe

    try:
        write = check_run_record(out / RUN_RECORD, content, counts={"episodes": int(cfg.episodes)},
                                 what="generation")
    except RunDirError as exc:
        raise GenerationError(str(exc)) from exc
    if write:
        record = {"config_hash": digest, "episodes": int(cfg.episodes), "config": content,
                  "renderer": describe(str(cfg.env.get("render_backend", "tiny")))}
        write_text_atomic(out / RUN_RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")


def _manifest_entry(out: Path, file: str, fields: dict[str, Any]) -> ManifestEntry:
    from datagen.manifest import entry_for_file

    return entry_for_file(out / file, source=SOURCE_SIM, extra=dict(fields))


# ----------------------------------------------------------------------------------- the run
@dataclass
class GenerationResult:
    """What a run (or a merge) produced: the manifest entries written and the summary."""

    out: Path
    entries: list[ManifestEntry]
    summary: dict[str, Any]
    manifest: Path | None
    merged: bool = False
    merge_summary: dict[str, Any] | None = None


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
    _check_run_record(out, cfg, digest)
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
                rt = _make_runtime(cfg)
            try:
                for i in indices:
                    _collect(i, lambda i=i: produce_episode(rt, i), results, errors, bar)
            finally:
                rt.env.close()
        else:
            with spawn_pool(workers, _init_worker, (OmegaConf.to_yaml(cfg),)) as pool:
                futures = {pool.submit(_produce_in_worker, i): i for i in indices}
                for future in as_completed(futures):
                    _collect(futures[future], future.result, results, errors, bar)
    finally:
        bar.close()
    wall = time.perf_counter() - start
    if errors:
        shown = "; ".join(f"episode {i}: {msg}" for i, msg in sorted(errors.items())[:5])
        raise GenerationError(f"{len(errors)} of {len(indices)} episodes failed in {out} ({shown}); "
                              "the others are kept: rerun to retry the failed ones")
    entries = [_manifest_entry(out, results[i]["file"], results[i]["fields"]) for i in indices]
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
    if settings.merge and _all_shard_manifests(out, settings.num_shards):
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


def _all_shard_manifests(out: Path, num_shards: int) -> bool:
    names = (SHARD_MANIFEST.format(shard=k, num_shards=num_shards) for k in range(num_shards))
    return all((out / name).is_file() for name in names)


# ----------------------------------------------------------------------------------- merging
def merge(out: str | os.PathLike[str], rebuild: bool = False,
          episodes: int | None = None) -> GenerationResult:
    """Write ``manifest.jsonl`` and ``summary.json`` of a generation folder from its shard manifests
    (``rebuild``: from the episode files themselves). Raises ``GenerationError`` naming the folder when it
    is not a generation folder or episodes are missing (nothing is written then)."""
    out = Path(out)
    record_path = out / RUN_RECORD
    if not record_path.is_file():
        raise GenerationError(f"{out} is not a generation folder: {RUN_RECORD} is missing")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    cfg = OmegaConf.create(record["config"])
    total = int(episodes if episodes is not None else record["episodes"])
    suite = build_suite(cfg)
    digest = record["config_hash"]
    names = {i: episode_file_name(cfg, suite, i) for i in range(total)}
    found: dict[int, dict[str, Any]] = {}
    if not rebuild:
        for p in sorted(out.iterdir()):
            if not _SHARD_MANIFEST_RE.match(p.name):
                continue
            for entry in read_manifest(p):
                i = int(entry.extra.get("episode", -1))
                if i in names and entry.path.name == names[i] and entry.path.is_file() \
                        and entry.path.stat().st_size == entry.extra.get("bytes"):
                    found[i] = dict(entry.extra)
    missing = [i for i in range(total) if i not in found]
    if missing:
        frames = int(cfg.env.max_steps) + 1
        size = (int(cfg.env.camera.height), int(cfg.env.camera.width))
        for i in missing:
            path = out / names[i]
            if path.is_file():
                fields = existing_episode_fields(path, i, digest, frames, size)
                if fields is not None:
                    found[i] = fields
        missing = [i for i in range(total) if i not in found]
    if missing:
        raise GenerationError(
            f"{out}: {len(missing)} of {total} episodes are missing or invalid (indices "
            f"{', '.join(map(str, missing[:10]))}{', …' if len(missing) > 10 else ''}); rerun the generation "
            "into this folder (it resumes), then merge"
        )
    entries = [_manifest_entry(out, names[i], found[i]) for i in range(total)]
    summary = summarize([e.extra for e in entries], suite)
    manifest = write_manifest(out / MANIFEST_NAME, entries)
    write_text_atomic(out / SUMMARY_NAME, json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return GenerationResult(out, entries, summary, manifest, merged=True, merge_summary=summary)


# ----------------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m datagen.generate", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, help="episodes in the dataset (default 5000)")
    parser.add_argument("--out", help="output folder (rerunning into it resumes)")
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
            raise ValueError("--multirun needs --out DIR (every shard writes into the same folder)")
        return _hydra_multirun(overrides)
    _print_result(generate(load_config(overrides)))
    return 0


if __name__ == "__main__":
    # Re-import under the package name so worker processes and Hydra launchers pickle
    # ``datagen.generate.*`` functions by reference, not ``__main__``.
    from datagen.generate import main as _main

    sys.exit(_main())
