"""The commit of the code that produced an artefact (provenance of runs and checkpoints)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from common.paths import REPO_ROOT


def git_commit(repo: Path = REPO_ROOT) -> str | None:
    """``HEAD`` of ``repo`` (with ``-dirty`` when tracked files have changes), or ``None`` when there is
    no git or no commit."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10, check=False
        )
        if head.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")
