"""Open-loop metrics: the two action spaces (model space: the policy's normalised axes; command space: the
robot's teleop units ``[linear_x, linear_y, angular_z]``, robot frame), per-episode records, RMSE / MAE /
direction accuracy per group (overall, per source, per name tag), pass/fail against the RMSE bar
(``eval.targets.RMSE_TARGET``, definitions: ``docs/metrics.md``) and the printed table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from common.cli import BenchError
from eval import metrics, targets
from sim.protocol import NOMINAL

RMSE_TARGET = targets.RMSE_TARGET
"""The test plan's open-loop target: overall model-space RMSE below this."""

MODEL_SPACE = "model"
COMMAND_SPACE = "command"
TAG_EXCLUDE = ("date", "time", "suffix", "family")
"""Name tags that are not scenario properties (left out of the per-tag groups)."""


class OpenLoopError(BenchError, ValueError):
    """The data or policy cannot be evaluated open loop; the message names the file or setting."""


@dataclass
class EpisodeRecord:
    """Predictions and targets of one episode, both ``(N, 3)`` float32 command space (teleop units)."""

    name: str
    source: str
    tags: dict[str, str]
    instruction: str
    pred_command: np.ndarray
    target_command: np.ndarray
    pred_model: np.ndarray
    target_model: np.ndarray
    keep: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    """Rows counted in the metrics (all, or all but the ``episode_start`` row with ``skip_start``)."""


def model_space_mapper(policy: Any, model_axes: int = 2) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """``(command (N, 3) → model (N, model_axes), description)`` for ``policy``.

    Uses ``policy.to_model`` or ``policy.action_adapter.to_model`` / ``policy.adapter.to_model``
    (signature ``to_model(command, n_axes)``) when present; otherwise ``clip(command / 1.15, -1, 1)``.
    """
    candidates = [policy, getattr(policy, "action_adapter", None), getattr(policy, "adapter", None)]
    for owner in candidates:
        fn = getattr(owner, "to_model", None) if owner is not None else None
        if callable(fn):
            where = type(owner).__name__

            def through_adapter(command: np.ndarray, fn: Callable = fn) -> np.ndarray:
                return np.asarray(fn(np.asarray(command, dtype=np.float32), model_axes), dtype=np.float64)

            return through_adapter, f"inverse action adapter ({where}.to_model)"

    def divide(command: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(command, dtype=np.float64)[..., :model_axes] / NOMINAL, -1.0, 1.0)

    return divide, f"command / {NOMINAL} clamped to [-1, 1] (policy has no inverse action adapter)"


def policy_model_axes(policy: Any, default: int = 2) -> int:
    """The policy's model-space axes: ``policy.model.config.head.n_axes`` if it has one, else ``default``."""
    head = getattr(getattr(getattr(policy, "model", None), "config", None), "head", None)
    n = getattr(head, "n_axes", None)
    return int(n) if isinstance(n, int) and n in (1, 2, 3) else default


def target_to_model(command: np.ndarray, model_axes: int = 2) -> np.ndarray:
    """Recorded teleop commands ``(N, 3)`` → model-space targets: first ``model_axes`` axes clamped to ±1."""
    return np.clip(np.asarray(command, dtype=np.float64)[..., :model_axes], -1.0, 1.0)


def episode_tags(entry_tags: Mapping[str, str], name: str) -> dict[str, str]:
    """Scenario tags of an episode: the manifest's, else parsed from its file name (minus bookkeeping)."""
    tags = dict(entry_tags)
    if not tags:
        from datagen.schema import try_parse_episode_name

        tags = try_parse_episode_name(name) or {}
    return {k: str(v) for k, v in tags.items() if k not in TAG_EXCLUDE}


def space_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    """RMSE and MAE per axis/overall and direction accuracy of ``(N, D)`` arrays in one space."""
    return {
        "rmse": metrics.rmse(pred, target),
        "mae": metrics.mae(pred, target),
        "direction_accuracy": metrics.direction_accuracy(pred, target),
    }


def group_metrics(records: Sequence[EpisodeRecord], target_rmse: float = RMSE_TARGET) -> dict[str, Any]:
    """Metrics of the kept rows of ``records`` in both spaces, with the pass/fail against ``target_rmse``."""
    rows = [r.keep for r in records]
    n = int(sum(k.sum() for k in rows))
    if n == 0:
        raise OpenLoopError("no frames to evaluate in this group (all rows skipped)")

    def cat(attr: str) -> np.ndarray:
        return np.concatenate([getattr(r, attr)[r.keep] for r in records])

    model = space_metrics(cat("pred_model"), cat("target_model"))
    command = space_metrics(cat("pred_command"), cat("target_command"))
    overall = model["rmse"]["overall"]
    return {
        "episodes": len(records),
        "frames": n,
        MODEL_SPACE: model,
        COMMAND_SPACE: command,
        "target_rmse": target_rmse,
        "pass": bool(overall < target_rmse),
    }


def grouped(records: Sequence[EpisodeRecord], target_rmse: float = RMSE_TARGET) -> dict[str, dict[str, Any]]:
    """``{"all": ..., "source=real": ..., "side=left": ...}`` group metrics (sorted group names)."""
    groups: dict[str, list[EpisodeRecord]] = {"all": list(records)}
    for r in records:
        groups.setdefault(f"source={r.source}", []).append(r)
        for k, v in r.tags.items():
            groups.setdefault(f"{k}={v}", []).append(r)
    order = (
        ["all"]
        + sorted(g for g in groups if g.startswith("source="))
        + sorted(g for g in groups if g != "all" and not g.startswith("source="))
    )
    return {g: group_metrics(groups[g], target_rmse) for g in order}


def format_table(result: Mapping[str, Any]) -> str:
    """A fixed-width text table of the groups (model-space and command-space columns kept apart)."""
    axes = result["model_axes"]
    width = max(len(g) for g in result["groups"]) + 2
    head = (
        f"{'group':<{width}}{'eps':>5}{'frames':>7} | model: "
        + "".join(f"{'rmse_' + a.split('_')[-1]:>8}" for a in axes)
        + f"{'rmse':>8}{'mae':>8}{'dir':>7} | command:{'rmse_x':>8}{'rmse_y':>8}{'rmse_z':>8}{'rmse':>8}"
        f"{'mae':>8}{'dir':>7} | <{result['target_rmse']}"
    )
    lines = [head, "-" * len(head)]
    for name, g in result["groups"].items():
        m, c = g[MODEL_SPACE], g[COMMAND_SPACE]
        model_axes = "".join(f"{m['rmse'][a]:8.3f}" for a in axes)
        cmd_axes = "".join(f"{c['rmse'].get(a, float('nan')):8.3f}" for a in metrics.AXIS_NAMES)
        lines.append(
            f"{name:<{width}}{g['episodes']:>5}{g['frames']:>7} | model: {model_axes}"
            f"{m['rmse']['overall']:8.3f}"
            f"{m['mae']['overall']:8.3f}{m['direction_accuracy']:7.2f} | command:{cmd_axes}"
            f"{c['rmse']['overall']:8.3f}{c['mae']['overall']:8.3f}{c['direction_accuracy']:7.2f} | "
            f"{'PASS' if g['pass'] else 'FAIL'}"
        )
    return "\n".join(lines)
