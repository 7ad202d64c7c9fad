"""The configuration and plan of a sim dataset generation (``datagen.generate``): Hydra config
(``configs/datagen.yaml``), the checked run settings, the content hash, the scenario suite with its tag
weights, and each episode's file name and timestamp (derived from (seed, index), never the clock).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from common.cli import BenchError, default_out_dir
from common.config import MAX_EPISODES as COMMON_MAX_EPISODES
from common.config import compose, get_int
from common.paths import CONFIG_DIR
from datagen.schema import EPISODE_SUFFIX, format_episode_name

COMMAND = "generate"
CONFIG_NAME = "datagen"
RUN_RECORD = "generation.json"
SUMMARY_NAME = "summary.json"
INDEX_DIGITS = 6
MAX_EPISODES = min(10**INDEX_DIGITS, COMMON_MAX_EPISODES)
SHARD_MANIFEST = "manifest.shard{shard:03d}-of-{num_shards:03d}.jsonl"
HASH_EXCLUDED = ("episodes", "out", "workers", "shard", "num_shards", "merge", "progress", "max_attempts")
"""Config keys that do not change any file's bytes (so a run may be extended, resumed or re-sharded)."""


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
        get_int(cfg, "seed", 0)
        settings = cls(episodes=_int(cfg, "episodes"), out=output_dir(cfg), workers=_int(cfg, "workers"),
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
    return hashlib.sha256(json.dumps(content_config(cfg), sort_keys=True).encode()).hexdigest()[:16]


def output_dir(cfg: DictConfig) -> Path:
    """``out``, or ``runs/generate/<suite>-seed<seed>-n<episodes>`` when it is null or empty."""
    if cfg.get("out") is not None and str(cfg.out) != "":
        return Path(str(cfg.out))
    suite = Path(str(cfg.suite or cfg.env.suite)).stem
    return default_out_dir(COMMAND, f"{suite}-seed{cfg.seed}-n{cfg.episodes}")


def content_config(cfg: DictConfig) -> dict[str, Any]:
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
    from sim.suites import Suite, load_suite
    from sim.taxonomy import BASKET_AXES, BOTTLE_AXES, parse_scenario_name

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

