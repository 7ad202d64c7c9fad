"""Named robot profiles from a calibration file (``python -m sim.calibrate``), by name or by date.

A profile holds ``robot`` (motion: ``speed_m_s``, ``strafe_share``, ``diagonal_angle_deg``,
``press_yaw_rad``) and ``layout`` (``LayoutConfig``) values and the period of the robot's history it
was fitted to. ``profile_overrides`` returns them as ``sim_config`` overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from common.cli import ConfigError
from common.paths import CONFIG_DIR
from sim.real_runs import parse_date

CALIBRATION_DIR = CONFIG_DIR / "calibration"
DEFAULT_CALIBRATION = CALIBRATION_DIR / "real_2025.yaml"
REAL_SEQUENCES = CALIBRATION_DIR / "real_operator_sequences.json"
"""The team's real operator sequences (a copy of the shared evidence file), the calibration's input."""


@dataclass(frozen=True)
class Period:
    """A period of the robot's history: ISO dates, inclusive; ``None`` leaves a side open."""

    name: str
    start: str | None
    end: str | None

    def contains(self, date: str) -> bool:
        return (self.start is None or date >= self.start) and (self.end is None or date <= self.end)

    def weight_of(self, dates: dict[str, float]) -> float:
        """Episodes of a run recorded within this period (``dates``: ISO date → episodes)."""
        return sum(w for d, w in dates.items() if self.contains(d))


DEFAULT_PERIODS = (
    Period("wheel_v1", None, "2025-11-26"),
    Period("wheel_v2", "2025-11-27", None),
)
"""The real robot's history (real_operator_sequences.json ``robot_history``): a wheel was replaced
before the 2025-11-27 recordings, and the operators' left sequence changed with it."""


def parse_period(text: str) -> Period:
    """``NAME:FROM:TO`` (dates ``YYYY-MM-DD``, either may be empty) as a ``Period``."""
    parts = text.split(":")
    if len(parts) != 3 or not parts[0]:
        raise ConfigError(f"period {text!r} is invalid: expected NAME:FROM:TO, e.g. wheel_v2:2025-11-27:")
    start, end = (parse_date(p).isoformat() if p else None for p in parts[1:])
    return Period(parts[0], start, end)


def load_calibration(path: str | Path = DEFAULT_CALIBRATION) -> dict[str, Any]:
    """The calibration document; ``ValueError`` naming the file when it is missing or malformed."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"calibration file {path}: cannot read ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("profiles"), dict) or "default" not in doc:
        raise ConfigError(f"calibration file {path}: expected 'default' and a 'profiles' mapping")
    return doc


def profile_names(doc: dict[str, Any]) -> list[str]:
    return list(doc["profiles"])


def resolve_profile(doc: dict[str, Any], name: str | None = None, date: str | None = None) -> str:
    """The profile called ``name`` (``None``/``default``: the file's default), or the one whose period
    holds ``date`` (ISO or ``YYYYMMDD``; the default when none does)."""
    profiles = doc["profiles"]
    if name not in (None, "default", "auto"):
        if name not in profiles:
            raise ConfigError(f"unknown robot profile {name!r}; known: default, auto, {', '.join(profiles)}")
        return str(name)
    if name == "auto" and date is not None:
        iso = parse_date(date).isoformat()
        for key, profile in profiles.items():
            period = profile.get("period")
            if period and Period(key, period.get("from"), period.get("to")).contains(iso):
                return str(key)
    return str(doc["default"])


def profile_overrides(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """``sim_config`` overrides (``robot`` and ``layout``) of profile ``name``."""
    profile = doc["profiles"][name]
    return {"robot": dict(profile["robot"]), "layout": dict(profile["layout"])}
