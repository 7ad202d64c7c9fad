"""Provenance of a run: git commit, resolved config, package versions, renderer, seeds; and its report
section (``provenance_section``)."""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from common.git import git_commit as commit_of
from common.paths import REPO_ROOT
from common.timefmt import utc_now_iso
from eval.report_kit import Doc, compress_ints, esc

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
    """``HEAD`` of the repository holding this code (``-dirty`` with changes), ``"unknown"`` without git."""
    return commit_of(repo or REPO_ROOT) or "unknown"


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
        "created": utc_now_iso(),
        "platform": platform.platform(),
    }


# --------------------------------------------------------------------------- report section
def _policy_rows(info: Any) -> list[list[str]]:
    """Checkpoint hash, preprocessing profile and token layout of the policy, when it describes them."""
    if not isinstance(info, Mapping):
        return []
    pre = info.get("preprocessing") or {}
    rows = [["policy checkpoint sha256", str(info.get("checkpoint_hash", "—"))]]
    if pre:
        profile = f"{pre.get('profile', '—')} (settings sha256 {pre.get('hash', '—')})"
        rows.append(["preprocessing profile", profile])
    if info.get("token_layout"):
        rows.append(["token layout", str(info["token_layout"])])
    return rows


def _renderer_text(renderer: Any) -> str:
    """``sim.render_backend.describe`` record as one line (older runs hold a plain string)."""
    if not isinstance(renderer, Mapping):
        return str(renderer)
    versions = ", ".join(f"{k} {v}" for k, v in sorted((renderer.get("versions") or {}).items()))
    return f"{renderer.get('backend')}: {renderer.get('renderer')} ({versions}; {renderer.get('reason')})"


def provenance_section(doc: Doc, provenance: Mapping[str, Any]) -> None:
    """Commit, creation time, renderer, seeds, package versions and the resolved config."""
    doc.heading("Provenance")
    seeds = provenance.get("seeds") or []
    doc.table(
        ["item", "value"],
        [
            ["git commit", provenance.get("git_commit", "—")],
            ["created", provenance.get("created", "—")],
            ["renderer", _renderer_text(provenance.get("renderer", "—"))],
            ["platform", provenance.get("platform", "—")],
            ["seeds", compress_ints(seeds) if seeds else "—"],
            *_policy_rows(provenance.get("policy")),
        ],
    )
    packages = provenance.get("packages") or {}
    if packages:
        doc.table(["package", "version"], sorted(packages.items()))
    config = provenance.get("config")
    if config is not None:
        text = json.dumps(config, indent=2, sort_keys=True, default=str)
        doc.raw(
            f"<details><summary>Resolved config</summary><pre>{esc(text)}</pre></details>",
            f"<details><summary>Resolved config</summary>\n\n```json\n{text}\n```\n</details>\n",
        )
