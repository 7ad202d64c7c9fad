"""Real runs to replay or fit: ``RealRun`` and the real-sequences JSON file.

(Real HDF5 episodes become ``RealRun``s in ``datagen.real_runs``: the episode schema lives above ``sim``.)
A ``RealRun`` is one open-loop command sequence with the scenario its name gives: actions
``(N, 3)`` ``[linear_x, linear_y, angular_z]`` in teleop units (robot frame: x forward, y left), an
episode weight (how many real episodes recorded it), the dates it was recorded on and its provenance.
Loading never stops at one bad run: each bad item becomes a ``RunProblem`` naming it, the rest load.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.cli import BenchError, ConfigError
from sim.protocol import keys_to_actions, parse_keys
from sim.taxonomy import parse_scenario_name

KINDS = ("recorded", "guide")
_DATE = re.compile(r"(20\d{2})-?(\d{2})-?(\d{2})")
_TABLE = re.compile(r"pattern table \((\d{4}-\d{2}-\d{2})\): (\d+) episodes")


@dataclass(frozen=True)
class RealRun:
    """One real command sequence. ``dates`` maps ISO dates to the episodes recorded that day."""

    label: str
    scenario: str
    actions: np.ndarray
    keys: str | None = None
    weight: float = 1.0
    kind: str = "recorded"
    dates: dict[str, float] = field(default_factory=dict)
    source: str = ""

    @property
    def side(self) -> str:
        return parse_scenario_name(self.scenario)[1].get("side", "")

    def latest_date(self) -> str | None:
        return max(self.dates) if self.dates else None


@dataclass(frozen=True)
class RunProblem:
    """A run that could not be loaded: which item, from which file, and why."""

    item: str
    source: str
    error: str


class RunsFileError(BenchError, ValueError):
    """A sources file that cannot be read at all (not JSON, wrong top-level shape)."""


def _dates_of(sources: Iterable[dict[str, Any]], weight: float) -> dict[str, float]:
    """Episodes per recording date: pattern-table counts where given, else one per dated episode; the
    total is scaled to ``weight`` (the file's ``episodes_reported``)."""
    tables: dict[str, float] = {}
    episodes: dict[str, float] = {}
    for src in sources:
        what = str(src.get("what", ""))
        table = _TABLE.search(what)
        if table:
            tables[table.group(1)] = tables.get(table.group(1), 0.0) + float(table.group(2))
            continue
        date = _DATE.search(what) or _DATE.search(str(src.get("path", "")))
        if date:
            iso = "-".join(date.groups())
            episodes[iso] = episodes.get(iso, 0.0) + 1.0
    counts = tables or episodes
    total = sum(counts.values())
    return {d: weight * c / total for d, c in sorted(counts.items())} if total else {}


def _source_text(src: Any) -> str:
    if isinstance(src, dict):
        return f"{src.get('repo', '')}:{src.get('path', '')}@{str(src.get('commit', ''))[:8]}"
    return ""


def _sequence_run(item: Any, where: str, kind: str, index: int) -> RealRun:
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected an object with 'scenario' and 'keys', got {type(item).__name__}")
    scenario = item.get("scenario_assumed" if kind == "guide" else "scenario")
    label = str(item.get("label") or item.get("name") or f"{kind}[{index}]")
    if scenario is None:
        raise ValueError(f"{where} ({label}): no scenario (key 'scenario' / 'scenario_assumed') for this run")
    parse_scenario_name(str(scenario))
    keys = item.get("keys")
    if not isinstance(keys, str) or not keys.strip():
        raise ValueError(f"{where} ({label}): 'keys' must be a non-empty key string like 'W W A Q'")
    parse_keys(keys)
    weight = float(item.get("episodes_reported", 1)) if kind == "recorded" else 1.0
    if not weight > 0:
        raise ValueError(f"{where} ({label}): episodes_reported={weight!r}, expected > 0")
    sources = item.get("sources") or ([item["source"]] if isinstance(item.get("source"), dict) else [])
    if kind == "recorded":
        label = f"{scenario}#{index}"
    return RealRun(
        label=label,
        scenario=str(scenario),
        actions=keys_to_actions(keys),
        keys=" ".join(k.upper() if k != " " else "SPACE" for k in parse_keys(keys)),
        weight=weight,
        kind=kind,
        dates=_dates_of(sources, weight) if kind == "recorded" else {},
        source="; ".join(_source_text(s) for s in sources),
    )


def load_sequences_file(
    path: str | Path, kinds: Iterable[str] = KINDS
) -> tuple[list[RealRun], list[RunProblem]]:
    """Runs of a real-sequences JSON file (``sequences`` = recorded, ``guides`` = typed plans).

    Guide entries without ``keys`` (the file's list of rejected items) are skipped, not errors.
    Raises ``RunsFileError`` when the file itself is unusable.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise RunsFileError(f"{path}: cannot read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise RunsFileError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("sequences", []), list):
        raise RunsFileError(f"{path}: expected an object with a 'sequences' list (and optional 'guides')")
    if "sequences" not in doc and "guides" not in doc:
        raise RunsFileError(f"{path}: no 'sequences' or 'guides' list in the file")
    runs: list[RealRun] = []
    problems: list[RunProblem] = []
    for kind, key in (("recorded", "sequences"), ("guide", "guides")):
        if kind not in kinds:
            continue
        items = doc.get(key, [])
        if not isinstance(items, list):
            problems.append(RunProblem(key, str(path), f"'{key}' must be a list"))
            continue
        for i, item in enumerate(items):
            if kind == "guide" and isinstance(item, dict) and "keys" not in item:
                continue  # the file's list of rejected runs (reason given there)
            try:
                runs.append(_sequence_run(item, f"{path} {key}[{i}]", kind, i))
            except ValueError as exc:
                problems.append(RunProblem(f"{key}[{i}]", str(path), str(exc)))
    return runs, problems


def parse_date(text: str) -> _dt.date:
    """An ISO date (``2025-11-27``) or an episode-name date (``20251127``); ``ValueError`` otherwise."""
    match = _DATE.fullmatch(text.strip())
    if not match:
        raise ConfigError(f"date {text!r} is invalid: expected YYYY-MM-DD or YYYYMMDD")
    try:
        return _dt.date(*(int(g) for g in match.groups()))
    except ValueError as exc:
        raise ConfigError(f"date {text!r} is invalid: {exc}") from exc
