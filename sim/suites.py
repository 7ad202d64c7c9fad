"""Scenario suites: named, weighted lists of scenarios loaded from ``configs/suites/<name>.yaml``.

A suite file::

    name: bottle_2025
    description: free text
    scenarios:                      # scenario names or fnmatch patterns -> weight of EACH match
      "1box_hori_*_core_medium": 1

Episode ``index`` of a run with base ``seed`` gets its scenario from a seeded permutation of a cycle in
which every scenario appears in proportion to its weight, so any run of whole cycles matches the
requested proportions exactly.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.paths import CONFIG_DIR
from sim.taxonomy import all_scenario_names, parse_scenario_name

SUITE_DIR = CONFIG_DIR / "suites"
MAX_CYCLE = 1000


@dataclass(frozen=True)
class Suite:
    """A named list of scenarios with their relative weights (proportions)."""

    name: str
    weights: dict[str, float]
    description: str = ""

    def __post_init__(self) -> None:
        if not self.weights:
            raise ValueError(f"suite {self.name!r} selects no scenario")
        for scenario, weight in self.weights.items():
            parse_scenario_name(scenario)
            if not (isinstance(weight, (int, float)) and math.isfinite(weight) and weight > 0):
                raise ValueError(
                    f"suite {self.name!r}: weight of {scenario!r} is {weight!r}, expected a number > 0"
                )

    @property
    def scenarios(self) -> list[str]:
        return list(self.weights)

    def proportions(self) -> dict[str, float]:
        total = sum(self.weights.values())
        return {name: w / total for name, w in self.weights.items()}

    def cycle(self) -> list[str]:
        """Scenario names repeated in proportion to their weights (largest-remainder apportionment)."""
        weights = self.weights
        if all(float(w).is_integer() for w in weights.values()) and sum(weights.values()) <= MAX_CYCLE:
            return [name for name, w in weights.items() for _ in range(int(w))]
        length = max(len(weights), min(MAX_CYCLE, 100 * len(weights)))
        quotas = {n: p * length for n, p in self.proportions().items()}
        counts = {n: max(1, int(q)) for n, q in quotas.items()}
        order = sorted(quotas, key=lambda n: quotas[n] - int(quotas[n]), reverse=True)
        for name in order[: max(0, length - sum(counts.values()))]:
            counts[name] += 1
        return [name for name in weights for _ in range(counts[name])]

    def scenario_for(self, index: int, seed: int) -> str:
        """Scenario name of episode ``index`` in a run with base ``seed`` (deterministic)."""
        if index < 0:
            raise ValueError(f"episode index must be >= 0, got {index}")
        cycle = self.cycle()
        block, offset = divmod(index, len(cycle))
        order = np.random.default_rng([seed & 0xFFFFFFFF, block, 0x5C1E]).permutation(len(cycle))
        return cycle[int(order[offset])]


def available_suites() -> list[str]:
    return sorted(p.stem for p in SUITE_DIR.glob("*.yaml"))


def suite_from_mapping(name: str, data: object, source: str = "") -> Suite:
    """Validate a parsed suite mapping; errors name the file and the bad entry."""
    where = source or f"suite {name!r}"
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), dict):
        raise ValueError(f"{where}: expected a mapping with a 'scenarios' mapping of name/pattern -> weight")
    known = all_scenario_names()
    weights: dict[str, float] = {}
    for pattern, weight in data["scenarios"].items():
        matches = [n for n in known if fnmatch.fnmatchcase(n, str(pattern))]
        if not matches:
            raise ValueError(
                f"{where}: scenario {pattern!r} matches no scenario; valid names look like "
                "1box_hori_left_core_medium or target_left_straight_path (patterns may use * and ?)"
            )
        if not (isinstance(weight, (int, float)) and not isinstance(weight, bool) and weight > 0):
            raise ValueError(f"{where}: weight of {pattern!r} is {weight!r}, expected a number > 0")
        for match in matches:
            weights[match] = float(weight)
    return Suite(
        name=str(data.get("name", name)), weights=weights, description=str(data.get("description", ""))
    )


def load_suite(name_or_path: str) -> Suite:
    """A suite by name (``configs/suites/<name>.yaml``) or by path to a YAML file."""
    import yaml

    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = SUITE_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            raise ValueError(
                f"unknown suite {name_or_path!r}; available suites: {', '.join(available_suites())}"
            )
    elif not path.is_file():
        raise ValueError(f"suite file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"suite file {path} is not valid YAML: {exc}") from exc
    return suite_from_mapping(path.stem, data, source=f"suite file {path.name}")
