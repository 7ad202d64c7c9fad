"""The ``mean_action`` baseline: always the training set's mean command, whatever it sees.

What a model collapsed to the mean would output, so a trained policy has to beat it. numpy only: making
and running it loads neither torch nor transformers (``policies.factory`` imports this module lazily).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from common.files import read_json
from policies.base import BasePolicy, register_policy
from policies.vla.config import resolve_path

MEAN_ACTION_FILE = "mean_action.json"
"""Written by ``training.train`` into the run directory."""


def mean_action_stats(samples: Iterable[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Training-set mean action over every valid (masked-in) chunk entry of every sample: the constant
    that minimises the training objective, i.e. what a model collapsed to the mean would output.

    ``samples``: mappings with ``actions`` (model space), ``raw_actions`` (teleop units) and
    ``action_mask``. Returns ``{"mean_model": [n_axes] (model space), "mean_command": [3] (teleop units:
    linear_x, linear_y, angular_z), "count": [n]}``.
    """
    sum_m = sum_c = None
    count = 0
    for s in samples:
        mask = np.asarray(s["action_mask"], dtype=bool)
        m = np.asarray(s["actions"], dtype=np.float64)[mask]
        c = np.asarray(s["raw_actions"], dtype=np.float64)[mask]
        sum_m = m.sum(0) if sum_m is None else sum_m + m.sum(0)
        sum_c = c.sum(0) if sum_c is None else sum_c + c.sum(0)
        count += int(mask.sum())
    if not count or sum_m is None or sum_c is None:
        raise ValueError("mean_action_stats: no valid actions in the samples")
    return {
        "mean_model": (sum_m / count).tolist(),
        "mean_command": (sum_c / count).tolist(),
        "count": [count],
    }


def read_mean_command(stats: str) -> list[float]:
    """``mean_command`` of a ``mean_action.json`` (or of the run directory holding one); errors name the
    file and what was expected."""
    path = resolve_path(str(stats))
    if path.is_dir():
        path = path / MEAN_ACTION_FILE
    if not path.is_file():
        raise FileNotFoundError(f"mean_action stats file {path} not found")
    data = read_json(path)
    if not isinstance(data, dict) or "mean_command" not in data:
        raise KeyError(f"{path}: missing key 'mean_command'")
    return data["mean_command"]


@register_policy("mean_action")
class MeanActionPolicy(BasePolicy):
    """Always outputs the training-set mean action (teleop units, robot frame: x forward, y left).
    ``mean=[x, y, z]`` or ``stats=PATH`` (a ``mean_action.json`` written by ``training.train``, or the
    run directory holding it)."""

    name = "mean_action"

    def __init__(self, mean: list[float] | None = None, stats: str | None = None) -> None:
        super().__init__()
        if mean is None and stats is None:
            raise ValueError(
                "mean_action needs mean=[linear_x, linear_y, angular_z] or stats=PATH "
                f"(the {MEAN_ACTION_FILE} that training.train writes)"
            )
        if mean is None:
            mean = read_mean_command(str(stats))
        try:
            arr = np.asarray(mean, dtype=np.float32).reshape(-1)
        except (TypeError, ValueError):
            arr = np.zeros(0, np.float32)
        if arr.shape != (3,) or not np.all(np.isfinite(arr)):
            raise ValueError(
                f"mean_action: mean must be 3 finite numbers [linear_x, linear_y, angular_z], got {mean!r}"
            )
        self.mean = arr

    def _act(self, obs: dict[str, Any]) -> np.ndarray:
        return self.mean.copy()
