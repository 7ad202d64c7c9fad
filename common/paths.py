"""The repository's fixed folders, found from this file (never from the working directory)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The repository root (the folder holding ``pyproject.toml``)."""
CONFIG_DIR = REPO_ROOT / "configs"
"""Hydra configs and the other YAML inputs (``configs/<command>.yaml``, ``configs/policy/`` …)."""
ASSETS_DIR = REPO_ROOT / "assets"
"""Shipped binary inputs: textures, the ``best`` policy."""
RUNS_DIR = Path("runs")
"""Where commands write by default, relative to the working directory: ``runs/<command>/<name>``."""
