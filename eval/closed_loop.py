"""Closed-loop evaluation: ``python -m eval.closed_loop --policy NAME [--episodes N ...] [key=value ...]``.

Runs seeded episodes of a scenario suite (episode i: seed + i, scenario ``suite.scenario_for(i, seed)``)
and writes a run directory:

- ``run.json``: the resolved config and its hash (a rerun into the same directory resumes only when the
  config matches);
- ``episodes.jsonl``: one row per finished episode, appended as episodes finish (the resume log);
- ``results.json``: per-episode rows (the ``eval.results.EpisodeRow`` schema, written and read through
  it) and the summary (``eval.summary``: success with Wilson 95 % intervals overall and per tag, trials
  needed for ±5 pp, SPL, failure reasons, instruction sensitivity, latency), provenance;
- ``report.html`` / ``report.md`` with trajectory plots, latency and videos (``videos/*.gif``).

Without ``--out`` the run goes to ``runs/closed_loop/<policy>-<suite>-seed<seed>-n<episodes>``. Results
do not depend on ``--workers``: every episode depends only on (seed, index).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from common.cli import ConfigError, default_out_dir, run_main
from common.config import MAX_EPISODES, compose, get_bool, get_float, get_int
from common.files import atomic_write_json
from common.paths import CONFIG_DIR
from common.rundir import check_run_record, locked
from common.workers import spawn_pool
from eval.provenance import provenance
from eval.results import DETERMINISTIC_FIELDS, EPISODES_LOG, RESULTS_FILE, normalize_row, read_log, row_key
from eval.rollout import EpisodeSpec, LoopSettings, run_episode
from eval.summary import format_summary, summarize

__all__ = ["DETERMINISTIC_FIELDS", "load_config", "main", "plan_episodes", "run", "summarize"]


# ---------------------------------------------------------------------------- configuration
def load_config(overrides: Sequence[str] = ()) -> DictConfig:
    """The ``configs/closed_loop.yaml`` config composed with Hydra ``key=value`` overrides (values holding
    an ``=`` are quoted first); ``ConfigError`` naming a bad override, key or config name."""
    cfg = compose("closed_loop", overrides, CONFIG_DIR, return_hydra_config=True)
    return finalize_config(cfg, str(cfg.hydra.runtime.choices.policy))


def check_config(cfg: DictConfig) -> None:
    """Check the run-control values before anything runs or is written; ``ConfigError`` naming the key.

    The env, suite, policy (with its checkpoint) and latency settings are checked by building them
    (``run`` does that before it writes ``run.json``)."""
    get_int(cfg, "episodes", 1, MAX_EPISODES)
    get_int(cfg, "seed", 0)
    get_int(cfg, "workers", 1)
    get_int(cfg, "videos", 0)
    for key in ("instruction_sensitivity", "report", "progress"):
        get_bool(cfg, key)
    get_float(cfg, "latency_in_loop.delay_ms", minimum=0.0)
    get_float(cfg, "step_timeout_s", positive=True)


def finalize_config(cfg: DictConfig, policy_name: str) -> DictConfig:
    """Drop Hydra's own node and record the chosen policy's name."""
    cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
    cfg.policy_name = cfg.policy_name or policy_name
    return cfg


def _env_kwargs(cfg: DictConfig) -> dict[str, Any]:
    env_cfg = OmegaConf.to_container(cfg.env, resolve=True)
    assert isinstance(env_cfg, dict)
    suite = cfg.suite or env_cfg.get("suite")
    env_cfg["suite"] = suite
    return {"config": env_cfg, "suite": suite}


def plan_episodes(cfg: DictConfig) -> list[EpisodeSpec]:
    """Every episode of the run: the suite's scenario for each index, plus mirrored-instruction twins."""
    from sim.suites import load_suite

    check_config(cfg)
    suite = load_suite(cfg.suite or cfg.env.suite)
    specs = []
    for i in range(int(cfg.episodes)):
        name = suite.scenario_for(i, int(cfg.seed))
        specs.append(EpisodeSpec(i, int(cfg.seed) + i, name))
        if cfg.instruction_sensitivity:
            specs.append(EpisodeSpec(i, int(cfg.seed) + i, name, flipped=True))
    return specs


def default_out(cfg: DictConfig) -> Path:
    """``runs/closed_loop/<policy>-<suite>-seed<seed>-n<episodes>`` (``common.cli.default_out_dir``)."""
    suite = cfg.suite or cfg.env.suite
    return default_out_dir("closed_loop", f"{cfg.policy_name}-{suite}-seed{cfg.seed}-n{cfg.episodes}")


RECORD_IGNORED = ("workers", "out", "videos", "report", "progress", "episodes")
"""Keys that change no episode's result: a rerun may change them (``episodes``: extend or shrink the run,
episode i depends only on (seed, i))."""


def config_hash(cfg: DictConfig) -> str:
    """Hash of everything that changes results (``RECORD_IGNORED`` keys left out)."""
    data = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(data, dict)
    for key in RECORD_IGNORED:
        data.pop(key, None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------- workers
_WORKER: dict[str, Any] = {}


def _init_worker(cfg_yaml: str) -> None:
    cfg = OmegaConf.create(cfg_yaml)
    _WORKER["cfg"] = cfg
    _WORKER["env"], _WORKER["policy"], _WORKER["settings"] = _make_runtime(cfg)


def _make_runtime(cfg: DictConfig):
    from envs.nav_env import MobileNavEnv
    from policies import build_policy

    env = MobileNavEnv(**_env_kwargs(cfg))
    policy_cfg = OmegaConf.to_container(cfg.policy, resolve=True)
    assert isinstance(policy_cfg, dict)
    policy = build_policy(policy_cfg, str(cfg.policy_name))
    settings = LoopSettings(
        str(cfg.latency_in_loop.mode), float(cfg.latency_in_loop.delay_ms), float(cfg.step_timeout_s)
    )
    return env, policy, settings


def _describe(policy: Any) -> dict[str, Any]:
    """``policies.base.describe_policy`` (checkpoint hash, preprocessing profile, token layout, ...)."""
    from policies.base import describe_policy

    return describe_policy(policy)


def _describe_in_worker() -> dict[str, Any]:
    return _describe(_WORKER["policy"])


def _run_in_worker(spec: EpisodeSpec) -> dict[str, Any]:
    row, _ = run_episode(_WORKER["env"], _WORKER["policy"], spec, _WORKER["settings"])
    return row


def _video_in_worker(spec: EpisodeSpec, path: str) -> None:
    _write_video(_WORKER["env"], _WORKER["policy"], _WORKER["settings"], spec, Path(path))


# ---------------------------------------------------------------------------- the run
def run(cfg: DictConfig, out: str | Path | None = None) -> dict[str, Any]:
    """Run (or resume) the closed-loop evaluation described by ``cfg``; returns the results dict."""
    from sim.quiet import suppress_c_stdout  # noqa: F401 - imported for its side effect on pybullet

    out_dir = Path(out or cfg.out or default_out(cfg))
    specs = plan_episodes(cfg)  # checks the run-control values and the suite
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} is a file; expected a directory")
    runtime = _make_runtime(cfg)  # checks env, policy, checkpoint and latency settings before any write
    workers = int(cfg.workers)
    if workers > 1:  # workers build their own; free this one
        runtime[0].close()
        runtime = None
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with locked(out_dir, what="eval.closed_loop run"):
            return _run_locked(cfg, out_dir, specs, runtime)
    finally:
        if runtime is not None:
            runtime[0].close()


def _run_locked(cfg: DictConfig, out_dir: Path, specs: list[EpisodeSpec], runtime) -> dict[str, Any]:
    config = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(config, dict)
    run_file = out_dir / "run.json"
    if check_run_record(
        run_file,
        config,
        counts={"episodes": int(cfg.episodes)},
        ignore=RECORD_IGNORED,
        what="closed-loop run",
    ):
        atomic_write_json(
            run_file, {"config_hash": config_hash(cfg), "episodes": int(cfg.episodes), "config": config}
        )
    log = out_dir / EPISODES_LOG
    done = read_log(log)
    todo = [s for s in specs if s.key not in done]
    workers = int(cfg.workers)
    bar = _progress(len(specs), initial=len(specs) - len(todo), enabled=bool(cfg.progress))
    with log.open("a") as sink:

        def record(row: dict[str, Any]) -> None:
            line = json.dumps(normalize_row(row, f"episode {row.get('episode')}"))  # through the schema
            done[row_key(row)] = json.loads(line)  # the stored form (lists, not tuples), as a resume reads it
            sink.write(line + "\n")
            sink.flush()
            os.fsync(sink.fileno())
            bar.update(1)

        policy_info: dict[str, Any] | None = None
        if todo and workers == 1:
            env, policy, settings = runtime
            for spec in todo:
                record(run_episode(env, policy, spec, settings)[0])
            policy_info = _describe(policy)
        elif todo:
            with spawn_pool(workers, _init_worker, (OmegaConf.to_yaml(cfg),)) as pool:
                futures = [pool.submit(_run_in_worker, spec) for spec in todo]
                for future in as_completed(futures):
                    record(future.result())
                policy_info = pool.submit(_describe_in_worker).result()
                # The videos' replays too, while the workers (env and policy loaded) are still up.
                jobs = _video_jobs([done[s.key] for s in specs], out_dir, int(cfg.videos))
                for future in [pool.submit(_video_in_worker, spec, str(path)) for spec, path in jobs]:
                    future.result()
    bar.close()
    rows = [done[s.key] for s in specs]
    if int(cfg.videos) > 0:
        _record_videos(cfg, rows, out_dir, int(cfg.videos), runtime)
    results = {
        "summary": summarize(rows, str(cfg.policy_name), cfg),
        "provenance": provenance(cfg, [s.seed for s in specs if not s.flipped]),
        "episodes": rows,
    }
    if policy_info is None and (out_dir / RESULTS_FILE).exists():  # a resumed, finished run
        policy_info = json.loads((out_dir / RESULTS_FILE).read_text()).get("provenance", {}).get("policy")
    results["provenance"]["policy"] = policy_info
    atomic_write_json(out_dir / RESULTS_FILE, results)
    if cfg.report:
        from eval.report import write_report

        write_report(out_dir)
    return results


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc="episodes",
        unit="ep",
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
    )


VIDEO_DIR = "videos"


def _video_jobs(rows: list[dict[str, Any]], out_dir: Path, count: int) -> list[tuple[EpisodeSpec, Path]]:
    """The episodes to film (``count``, failures first, original instructions only) whose video file
    does not exist yet, with the file each goes to."""
    main_rows = [r for r in rows if not r["instruction_flipped"]]
    chosen = sorted(main_rows, key=lambda r: (r["success"], r["episode"]))[: max(count, 0)]
    jobs = []
    for row in chosen:
        path = out_dir / _video_rel(row)
        if not path.exists():
            jobs.append((EpisodeSpec(row["episode"], row["seed"], row["scenario"]), path))
    return jobs


def _video_rel(row: dict[str, Any]) -> str:
    return f"{VIDEO_DIR}/ep{row['episode']:04d}.gif"


def _write_video(env: Any, policy: Any, settings: LoopSettings, spec: EpisodeSpec, path: Path) -> None:
    """Replay one episode recording frames (episodes are deterministic: the replay is the same
    episode) and write its GIF."""
    from eval.video import write_episode_video

    replay, frames = run_episode(env, policy, spec, settings, record_frames=True)
    write_episode_video(path, frames, replay["trajectory"], replay["scene"])


def _record_videos(
    cfg: DictConfig, rows: list[dict[str, Any]], out_dir: Path, count: int, runtime=None
) -> None:
    """Film the ``count`` chosen episodes not filmed yet (``_video_jobs``) and point their rows at the
    videos. ``runtime``: the (env, policy, settings) to use (made and closed here when None and some
    video is missing)."""
    jobs = _video_jobs(rows, out_dir, count)
    if jobs:
        own = runtime is None
        env, policy, settings = _make_runtime(cfg) if own else runtime
        try:
            for spec, path in jobs:
                _write_video(env, policy, settings, spec, path)
        finally:
            if own:
                env.close()
    main_rows = [r for r in rows if not r["instruction_flipped"]]
    for row in sorted(main_rows, key=lambda r: (r["success"], r["episode"]))[:count]:
        row["video"] = _video_rel(row)


# ---------------------------------------------------------------------------- CLI
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m eval.closed_loop",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--policy", help="policy name (configs/policy/*.yaml or a registered type)")
    parser.add_argument(
        "--episodes", type=int, help="episodes to run (each also mirrored when instruction_sensitivity=true)"
    )
    parser.add_argument("--suite", help="scenario suite (configs/suites/*.yaml) or a suite YAML path")
    parser.add_argument("--seed", type=int, help="base seed; episode i uses seed + i")
    parser.add_argument("--workers", type=int, help="worker processes (results do not depend on it)")
    parser.add_argument("--out", help="run directory (rerunning into it resumes)")
    parser.add_argument(
        "overrides",
        nargs="*",
        help="Hydra overrides key=value, e.g. env.max_steps=20 "
        "latency_in_loop.mode=fixed latency_in_loop.delay_ms=500",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_intermixed_args(argv)  # key=value may sit between flags
    overrides = list(args.overrides)
    for flag in ("policy", "episodes", "suite", "seed", "workers", "out"):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{flag}={value}")
    return run_main(lambda: _run_and_print(overrides))


def _run_and_print(overrides: list[str]) -> int:
    cfg = load_config(overrides)
    results = run(cfg)
    print(format_summary(results))
    out = Path(cfg.out or default_out(cfg))
    print(f"run directory: {out}")
    if cfg.report:
        print(f"report: {out / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
