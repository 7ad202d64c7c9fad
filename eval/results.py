"""The one results schema: the episode row of ``results.json`` / ``episodes.jsonl`` and their reading.

``EpisodeRow`` is one closed-loop episode (``eval.rollout.run_episode`` builds it as a dict); distances
in metres, angles in radians, trajectories ``[x, y, yaw]`` in the world frame. Fields marked
``compared`` are fully determined by (seed, episode index, config): ``DETERMINISTIC_FIELDS`` derives from
them and reruns, resumed runs and any ``--workers`` count must reproduce them exactly (latency, error
traces and video paths are wall-clock or bookkeeping, so they are not compared).

Rows are written and read through the type (``EpisodeRow.from_dict(...).to_dict()``): keys the type
does not name (per-step latency samples, policy counters, keys of newer writers) pass through unchanged,
and rows of older results files load with the defaults below for fields they lack.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from common.cli import BenchError

RESULTS_FILE = "results.json"
EPISODES_LOG = "episodes.jsonl"


class ResultsError(BenchError, ValueError):
    """``results.json`` (or a row of it) is missing or malformed; the message names the file and key."""


def _compared(default: Any = MISSING, factory: Any = MISSING) -> Any:
    if factory is not MISSING:
        return field(default_factory=factory, metadata={"compared": True})
    return field(default=default, metadata={"compared": True})


@dataclass(kw_only=True)
class EpisodeRow:
    """One closed-loop episode as stored in ``results.json``."""

    episode: int = _compared()
    seed: int | None = _compared(None)
    scenario: str = _compared()
    success: bool = _compared()
    tags: dict[str, str] = _compared(factory=dict)
    instruction: str = _compared("")
    instruction_flipped: bool = _compared(False)
    named_side: str | None = _compared(None)
    failure_reason: str | None = _compared(None)
    spl: float = _compared(0.0)
    soft_spl: float = _compared(0.0)
    collisions: int = _compared(0)
    first_collision_step: int | None = _compared(None)
    collided_with: list[Any] = _compared(factory=list)
    path_length_m: float = _compared(0.0)
    steps: int = _compared(0)
    sim_time_s: float | None = _compared(None)
    final_distance_m: float | None = _compared(None)
    final_heading_error_rad: float | None = _compared(None)
    d_start_m: float | None = _compared(None)
    d_end_m: float | None = _compared(None)
    went_side: str | None = _compared(None)
    trajectory: list[list[float]] = _compared(factory=list)
    scene: dict[str, Any] = _compared(factory=dict)
    error: str | None = None
    error_trace: str | None = None
    video: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Every other key of the stored row (latency samples, policy counters, ...), kept as written."""

    @property
    def key(self) -> str:
        """The resume key of the row: ``"<episode>"`` or ``"<episode>-flipped"``."""
        return row_key(self.to_dict())

    @classmethod
    def from_dict(cls, row: Mapping[str, Any], where: str = "row") -> EpisodeRow:
        """Check and wrap a stored row; ``ResultsError`` naming ``where`` and the key when a required key
        is missing or a key has the wrong type."""
        if not isinstance(row, Mapping):
            raise ResultsError(f"{where}: expected an object, got {type(row).__name__}")
        known: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra" or f.name not in row:
                if f.name != "extra" and f.default is MISSING and f.default_factory is MISSING:
                    raise ResultsError(f"{where}: missing key {f.name!r}")
                continue
            known[f.name] = _checked(row[f.name], f.name, where)
        extra = {k: v for k, v in row.items() if k not in known and k not in _NAMES}
        return cls(**known, extra=extra)

    def to_dict(self) -> dict[str, Any]:
        """The stored form: the named fields in schema order, then the pass-through keys."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out.update(self.extra)
        return out

    def compared(self) -> dict[str, Any]:
        """The fields that must be identical across reruns and worker counts."""
        return {name: getattr(self, name) for name in DETERMINISTIC_FIELDS}


_NAMES = frozenset(f.name for f in fields(EpisodeRow))
DETERMINISTIC_FIELDS: tuple[str, ...] = tuple(
    f.name for f in fields(EpisodeRow) if f.metadata.get("compared")
)
"""Row fields that must be identical whatever the worker count (latency is wall-clock, so it is not)."""

_TYPES: dict[str, tuple[type, ...]] = {
    "episode": (int,),
    "scenario": (str,),
    "success": (bool,),
    "tags": (dict,),
    "instruction": (str,),
    "instruction_flipped": (bool,),
    "steps": (int,),
    "collisions": (int,),
    "trajectory": (list,),
    "scene": (dict,),
}


def _checked(value: Any, key: str, where: str) -> Any:
    kinds = _TYPES.get(key)
    if kinds and (not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool))):
        names = " or ".join(k.__name__ for k in kinds)
        raise ResultsError(f"{where}.{key}: expected {names}, got {type(value).__name__} {value!r:.80}")
    return value


def row_key(row: Mapping[str, Any]) -> str:
    """``"<episode>"`` or ``"<episode>-flipped"``: one row per episode and instruction."""
    return f"{row['episode']}{'-flipped' if row.get('instruction_flipped') else ''}"


def normalize_row(row: Mapping[str, Any], where: str = "row") -> dict[str, Any]:
    """``row`` checked and written through the schema (``EpisodeRow``)."""
    return EpisodeRow.from_dict(row, where).to_dict()


def main_episodes(episodes: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Episodes run with their scenario's own instruction (mirrored-instruction twins left out): the
    ones the success figures count."""
    return [ep for ep in episodes if not ep.get("instruction_flipped")]


# --------------------------------------------------------------------------- reading


def _require(mapping: Any, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(mapping, Mapping) or key not in mapping:
        raise ResultsError(f"{where}: missing key {key!r}")
    value = mapping[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ResultsError(f"{where}.{key}: expected {names}, got {type(value).__name__} {value!r:.80}")
    return value


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and check ``results.json`` (``path`` is the file or its run directory); every episode goes
    through ``EpisodeRow`` (older files load with its defaults).

    Raises ``ResultsError`` naming the file and the missing or malformed key.
    """
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise ResultsError(f"{path}: not found (a closed-loop run directory holds {RESULTS_FILE})")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ResultsError(
            f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})"
        ) from None
    if not isinstance(results, dict):
        raise ResultsError(f"{path}: top level must be an object with summary/provenance/episodes")
    summary = _require(results, "summary", str(path), dict)
    _require(summary, "policy", f"{path}: summary", str)
    _require(summary, "episodes", f"{path}: summary", int)
    _require(summary, "successes", f"{path}: summary", int)
    results.setdefault("provenance", {})
    _require(results, "provenance", str(path), dict)
    episodes = _require(results, "episodes", str(path), list)
    results["episodes"] = [normalize_row(ep, f"{path}: episodes[{i}]") for i, ep in enumerate(episodes)]
    return results


def read_log(path: Path) -> dict[str, dict[str, Any]]:
    """Rows of an ``episodes.jsonl`` resume log by ``row_key``; a torn last line (a killed run) is left
    out and the log rewritten without it, so appending continues cleanly."""
    from common.files import atomic_write_text

    rows: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return rows
    good_lines = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        rows[row_key(row)] = normalize_row(row, f"{path}: line {n}")
        good_lines.append(line)
    atomic_write_text(path, "".join(f"{line}\n" for line in good_lines))
    return rows
