"""Real runs from any source: real-sequences JSON files, real HDF5 episodes and folders of them.

``sim.real_runs`` knows ``RealRun`` and the JSON file; this module adds the HDF5 episodes (through the
episode schema) and ``load_sources``, which never stops at one bad run: each bad item becomes a
``RunProblem`` naming it, the rest load. Actions are ``(N, 3)`` ``[linear_x, linear_y, angular_z]`` in
teleop units (robot frame: x forward, y left).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from datagen.schema import ATTR_EPISODE_NAME, EpisodeFormatError, inspect_episode, parse_episode_name
from sim.real_runs import RealRun, RunProblem, RunsFileError, load_sequences_file


def load_episode_run(path: str | Path) -> RealRun:
    """A real HDF5 episode as a run: its ``actions`` after the start row, scenario and date from its name.

    Raises ``ValueError`` (``EpisodeFormatError``) naming the file for unreadable files, missing
    ``actions`` or a name without a scenario.
    """
    path = Path(path)
    try:
        info = inspect_episode(path)
    except EpisodeFormatError:
        raise
    except KeyError as exc:
        raise EpisodeFormatError(f"{path}: missing {exc}") from exc
    name = str(info.attrs.get(ATTR_EPISODE_NAME) or path.stem)
    try:
        tags = parse_episode_name(name)
    except ValueError:
        tags = parse_episode_name(path.stem)
    actions = np.asarray(info.actions, dtype=np.float32)
    if actions.ndim != 2 or actions.shape[1] != 3 or len(actions) < 2:
        raise EpisodeFormatError(f"{path}: 'actions' has shape {actions.shape}, expected (N>=2, 3)")
    date = f"{tags['date'][:4]}-{tags['date'][4:6]}-{tags['date'][6:]}"
    return RealRun(
        label=name,
        scenario=tags["scenario"],
        actions=actions[1:],
        weight=1.0,
        kind="recorded",
        dates={date: 1.0},
        source=str(path),
    )


def load_sources(sources: Iterable[str | Path]) -> tuple[list[RealRun], list[RunProblem]]:
    """Runs of every source: ``.json`` real-sequences files, ``.h5`` episodes, directories of ``.h5``.

    A missing path or an unreadable file is a ``RunProblem``; one bad run never stops the others.
    """
    runs: list[RealRun] = []
    problems: list[RunProblem] = []
    for source in sources:
        path = Path(source)
        if not path.exists():
            problems.append(RunProblem(str(path), str(path), "no such file or directory"))
        elif path.is_dir():
            files = sorted(path.rglob("*.h5"))
            if not files:
                problems.append(RunProblem(str(path), str(path), "directory holds no .h5 episodes"))
            for file in files:
                _add_episode(file, runs, problems)
        elif path.suffix == ".h5":
            _add_episode(path, runs, problems)
        else:
            try:
                more, bad = load_sequences_file(path)
            except RunsFileError as exc:
                problems.append(RunProblem(str(path), str(path), str(exc)))
                continue
            runs += more
            problems += bad
    return runs, problems


def _add_episode(path: Path, runs: list[RealRun], problems: list[RunProblem]) -> None:
    try:
        runs.append(load_episode_run(path))
    except (ValueError, OSError) as exc:
        problems.append(RunProblem(path.name, str(path), str(exc)))
