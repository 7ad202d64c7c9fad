"""Provenance of a run: git commit, resolved config, package versions, renderer, seeds."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "numpy",
    "pybullet",
    "gymnasium",
    "torch",
    "transformers",
    "peft",
    "hydra-core",
    "h5py",
    "opencv-python-headless",
)


def git_commit(repo: Path | None = None) -> str:
    """``HEAD`` of the repository holding this code (with ``-dirty`` when it has changes)."""
    repo = repo or Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance(cfg: Any, seeds: list[int]) -> dict[str, Any]:
    from omegaconf import OmegaConf

    from sim.render_backend import describe

    config = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else cfg
    env = (config.get("env") or {}) if isinstance(config, dict) else {}
    backend = env.get("render_backend", "tiny")
    return {
        "git_commit": git_commit(),
        "config": config,
        "packages": package_versions(),
        "renderer": describe(backend),
        "seeds": seeds,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
    }
