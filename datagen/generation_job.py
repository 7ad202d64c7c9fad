"""One episode of a sim dataset generation: record the expert's demonstration and write its HDF5 file
(or keep a valid one already there), in this process or in a worker process of the pool."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from datagen.generation_config import (
    RunSettings,
    build_suite,
    config_hash,
    episode_file_name,
    make_expert,
    sim_settings,
)
from datagen.manifest import file_sha256
from datagen.schema import (
    SOURCE_SIM,
    Episode,
    EpisodeFormatError,
    SimExtras,
    read_episode,
    rgb_to_bgr,
    write_episode,
)


@dataclass
class Runtime:
    """What a process needs to produce episodes: config, env, expert, suite, config hash, folder."""

    cfg: DictConfig
    env: Any
    expert: Any
    suite: Any
    digest: str
    out: Path
    gzip_level: int
    max_attempts: int


def make_runtime(cfg: DictConfig) -> Runtime:
    """The env (no per-step frames: ``ExpertRecorder`` renders the ones it keeps), expert and suite."""
    from envs.nav_env import MobileNavEnv

    suite = build_suite(cfg)
    env = MobileNavEnv(config=sim_settings(cfg), suite=suite, observe_rgb=False)
    settings = RunSettings.from_config(cfg)
    return Runtime(cfg, env, make_expert(cfg), suite, config_hash(cfg), settings.out, settings.gzip_level,
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


def produce_episode(rt: Runtime, index: int) -> dict[str, Any]:
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


def init_worker(cfg_yaml: str) -> None:
    from sim.quiet import suppress_c_stdout

    with suppress_c_stdout():
        _WORKER["rt"] = make_runtime(OmegaConf.create(cfg_yaml))


def produce_in_worker(index: int) -> dict[str, Any]:
    return produce_episode(_WORKER["rt"], index)
