"""Sim episode files are picked up by the team's training configs, which select files by glob
(``episode_20251*.h5``, ``episode_*.h5``), and parse with the same scenario-tag rules as real names."""

from __future__ import annotations

import fnmatch

from datagen.generate import build_suite, episode_file_name, load_config
from datagen.schema import parse_episode_name


def names(*overrides: str, n: int = 2200) -> list[str]:
    cfg = load_config(list(overrides))
    suite = build_suite(cfg)
    return [episode_file_name(cfg, suite, i) for i in range(n)]


def test_generated_names_match_the_team_globs_and_parse_like_real_names():
    dated = names("timestamps.start=2025-12-01T09:00:00", "seed=0")
    assert all(fnmatch.fnmatch(n, "episode_20251*.h5") and fnmatch.fnmatch(n, "episode_*.h5") for n in dated)
    assert not any(fnmatch.fnmatch(n, "episode_20251*.h5") for n in names("seed=0", n=50))  # default: 2025-09
    for name in dated[:200]:
        sim = parse_episode_name(name)
        real = parse_episode_name(name.split("__", 1)[0] + ".h5")
        assert sim.pop("suffix").startswith("sim") and sim == real
        # The team's loader falls back to 'left'/'right' in the lower-cased name for the direction.
        stem = name.lower()
        assert ("left" if "left" in stem else "right" if "right" in stem else None) == sim["side"]
