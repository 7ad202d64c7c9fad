"""Episode file names: the two real naming patterns, parsing, formatting, mirroring, collection time."""

from __future__ import annotations

import datetime as _dt
import os
import re

from datagen.schema.keys import EPISODE_SUFFIX, TIME_PERIODS, EpisodeNameError
from sim.taxonomy import BASKET_TASK, BOTTLE_TASK, mirror_scenario_name, scenario_regex

_TIMESTAMP = r"(?P<date>\d{8})_(?P<time>\d{6})"
_SUFFIX = r"(?:__(?P<suffix>[A-Za-z0-9][A-Za-z0-9_-]*))?"
_NAME_2025 = re.compile(rf"^episode_{_TIMESTAMP}_(?P<scenario>{scenario_regex(BOTTLE_TASK)}){_SUFFIX}$")
_NAME_2026 = re.compile(rf"^episode_{_TIMESTAMP}_(?P<scenario>{scenario_regex(BASKET_TASK)}){_SUFFIX}$")
NAME_PATTERNS = (
    "episode_{YYYYMMDD}_{HHMMSS}_{1box|2box}_{hori|vert}_{left|right}_{core|variant}_{close|medium|far}",
    "episode_{YYYYMMDD}_{HHMMSS}_target_{center|left|right}_{straight|left|right}_path",
)
"""The two real naming patterns; either may end with a bench suffix ``__{tag}`` (e.g. ``__aug03m``)."""
NAME_TAGS = tuple(sorted({"family", *_NAME_2025.groupindex, *_NAME_2026.groupindex} - {"date", "time"}))
"""The tags ``parse_episode_name`` gives besides the timestamp (what mixes balance and stratify by)."""


def episode_stem(name: str | os.PathLike[str]) -> str:
    """The file name of ``name`` (a path or a name) without ``.h5``: the episode id."""
    base = os.path.basename(os.fspath(name))
    return base[: -len(EPISODE_SUFFIX)] if base.endswith(EPISODE_SUFFIX) else base


def parse_episode_name(name: str | os.PathLike[str]) -> dict[str, str]:
    """Tags of an episode file name (a path, a name, with or without ``.h5``).

    Returns ``date``, ``time``, ``scenario`` (the part after the timestamp), ``family`` (``2025`` or
    ``2026``), then ``num_box``, ``orientation``, ``side``, ``pattern``, ``distance`` (2025) or
    ``target``, ``path`` (2026), and ``suffix`` when the name carries a bench suffix.
    Raises ``EpisodeNameError`` naming the name and the expected patterns.
    """
    stem = episode_stem(name)
    for family, pattern in (("2025", _NAME_2025), ("2026", _NAME_2026)):
        match = pattern.match(stem)
        if match:
            tags = {k: v for k, v in match.groupdict().items() if v is not None}
            tags["family"] = family
            return tags
    raise EpisodeNameError(
        f"episode name {stem!r} does not parse; expected {NAME_PATTERNS[0]} or {NAME_PATTERNS[1]}"
        " (optionally followed by __{suffix})"
    )


def try_parse_episode_name(name: str | os.PathLike[str]) -> dict[str, str] | None:
    """``parse_episode_name`` that returns ``None`` for names that do not parse."""
    try:
        return parse_episode_name(name)
    except EpisodeNameError:
        return None


def format_episode_name(when: _dt.datetime, scenario: str, suffix: str | None = None) -> str:
    """``episode_{YYYYMMDD}_{HHMMSS}_{scenario}[__{suffix}]`` (no ``.h5``), checked to parse."""
    name = f"episode_{when:%Y%m%d_%H%M%S}_{scenario}" + (f"__{suffix}" if suffix else "")
    parse_episode_name(name)
    return name


def episode_datetime(name: str | os.PathLike[str]) -> _dt.datetime:
    """The collection time encoded in an episode name."""
    tags = parse_episode_name(name)
    return _dt.datetime.strptime(tags["date"] + tags["time"], "%Y%m%d%H%M%S")


def mirror_episode_name(name: str | os.PathLike[str]) -> str:
    """The name of the left-right mirror image of an episode: swaps ``side`` (2025) or ``target`` and
    ``path`` (2026) left↔right; ``center`` / ``straight`` stay. Returns a stem (no ``.h5``)."""
    tags = parse_episode_name(name)
    scenario = mirror_scenario_name(tags["scenario"])
    stem = f"episode_{tags['date']}_{tags['time']}_{scenario}"
    return stem + (f"__{tags['suffix']}" if "suffix" in tags else "")


def time_period(hour: int) -> str:
    """The real collector's ``time_period`` of a collection hour (0–23)."""
    for name, first, end in TIME_PERIODS:
        if first <= hour < end:
            return name
    raise ValueError(f"hour {hour!r} is outside 0..23")
