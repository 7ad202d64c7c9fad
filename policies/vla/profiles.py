"""Named preprocessing profiles: what pixels a checkpoint was trained on, as one recorded name.

A profile fixes the channel order the model saw, the resize filter (and which library's
implementation: ``pil_*`` filters are PIL's, the others OpenCV's) and the normalisation. The
square side (``resize``) is not part of a profile: it is the backbone's input size.

- ``robovlms_2025``: the team's RoboVLMs loader before 2026-02-03 (``mobile_vla_h5_dataset``): the
  stored **BGR** frame as is, PIL bilinear to the side, divided by 255.
- ``robovlms_2026_02``: the same with CLIP mean/std afterwards (RoboVLMs 6423566, 2026-02-03).
- ``bench``: this bench's own checkpoints: RGB (the env's order), an OpenCV filter, either normalisation.

Any other combination is reported as ``custom``. The env's observation is always RGB; the one place
that converts it to a profile is ``policies.vla.preprocess.Preprocessor``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROFILES: dict[str, dict[str, str]] = {
    "robovlms_2025": {"channel_order": "bgr", "interpolation": "pil_bilinear", "normalize": "div255"},
    "robovlms_2026_02": {"channel_order": "bgr", "interpolation": "pil_bilinear", "normalize": "clip"},
    "bench": {"channel_order": "rgb"},
}
"""Settings each profile fixes (``bench`` leaves the OpenCV filter and the normalisation free)."""

CV2_FILTERS = ("bicubic", "bilinear", "area", "nearest")
PIL_FILTERS = ("pil_bilinear", "pil_bicubic")
CUSTOM = "custom"
CLIP_NORM_SINCE = 20260203
"""First date (YYYYMMDD) of the team's loader with CLIP mean/std (RoboVLMs commit 6423566)."""


def check_profile(name: str) -> dict[str, str]:
    """The settings profile ``name`` fixes; ``ValueError`` listing the known names otherwise."""
    if name not in PROFILES:
        raise ValueError(f"unknown preprocessing profile {name!r}; known profiles: {sorted(PROFILES)}")
    return PROFILES[name]


def matches(name: str, settings: Mapping[str, Any]) -> bool:
    """Whether ``settings`` (channel_order / interpolation / normalize) satisfy profile ``name``."""
    fixed = check_profile(name)
    if any(settings.get(k) != v for k, v in fixed.items()):
        return False
    return name != "bench" or settings.get("interpolation") in CV2_FILTERS


def derive(settings: Mapping[str, Any]) -> str:
    """The profile ``settings`` satisfy (robovlms profiles first), or ``custom``."""
    for name in PROFILES:
        if matches(name, settings):
            return name
    return CUSTOM


def settings_hash(settings: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical JSON (sorted keys, no spaces) of the preprocessing settings."""
    blob = json.dumps(dict(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def resolve_overrides(saved: Mapping[str, Any], requested: Mapping[str, Any] | None) -> dict[str, Any]:
    """Saved preprocessing settings with ``requested`` applied, as plain data.

    ``requested["profile"]`` expands to that profile's settings (unknown names raise); explicit
    settings win over it. Overriding settings without naming a profile drops the saved name, so the
    result's profile is derived again from what it now does.
    """
    data = dict(saved)
    req = dict(requested or {})
    name = req.pop("profile", None)
    if name is not None:
        data.update(check_profile(str(name)))
    data.update(req)
    data["profile"] = name if name is not None and matches(str(name), data) else None
    return data


_DATE = re.compile(r"(20\d{2})(\d{2})(\d{2})")


def profile_for_robovlms(cfg: Mapping[str, Any], *paths: str | Path) -> tuple[str, str]:
    """(profile, reason) for a team checkpoint: the config's ``preprocess_profile`` when it names one,
    else the loader version by date: the first ``YYYYMMDD`` in the config's ``exp_name``/``task_name``
    or in the file names; before 2026-02-03 ``robovlms_2025``, from then ``robovlms_2026_02``. Without
    any date, ``robovlms_2025`` (every checkpoint the team trained before the change)."""
    named = cfg.get("preprocess_profile")
    if named is not None:
        check_profile(str(named))
        return str(named), "named by the config's preprocess_profile"
    sources = [str(cfg.get(k)) for k in ("exp_name", "task_name") if cfg.get(k)]
    sources += [Path(p).name for p in paths]
    for text in sources:
        for m in _DATE.finditer(text):
            y, mo, d = (int(g) for g in m.groups())
            if 1 <= mo <= 12 and 1 <= d <= 31:
                date = y * 10000 + mo * 100 + d
                name = "robovlms_2026_02" if date >= CLIP_NORM_SINCE else "robovlms_2025"
                return name, f"date {date} in {text!r} (CLIP mean/std from {CLIP_NORM_SINCE})"
    return "robovlms_2025", "no date in the config or file names: the team's 2025 loader"
