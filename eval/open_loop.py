"""Open-loop velocity verification (test plan T3-3): a policy's action per recorded frame vs the recorded one.

For every episode (HDF5, real schema, via ``datagen``): ``policy.reset(instruction)``, then feed the
frames in order (stored BGR, flipped to RGB) and compare each predicted command with the recorded
row ``t`` (the command executed after frame ``t`` was observed). Errors are reported in two spaces,
never mixed:

- **model space**: the policy's normalised space, ``model_axes`` axes (default 2: linear_x, linear_y)
  in [-1, 1]. Targets are the recorded teleop values clamped to [-1, 1] (so 1.15 → 1.0, as the
  training loader does); predictions are mapped back through the policy's inverse action adapter
  (``to_model``) when it has one, else divided by 1.15 (``sim.protocol.NOMINAL``) and clamped.
- **command space**: the robot's ``[linear_x, linear_y, angular_z]`` teleop units, as executed.

A policy with ``repeats_first_frame`` (the VLA's ``action_adapter.repeat_first_frame``) stands for the
collector's start row itself: it is fed from row 1 and row 0 (no command) is left out of the metrics.

Per space: RMSE and MAE per axis and overall, and direction accuracy (9-class omni mapping, threshold
0.3). Grouped overall, per source (``real`` / ``sim`` / ``augmented``) and per name tag
(``side=left``, ``pattern=core``, ``distance=medium``, …). Pass/fail: overall model-space RMSE below
the target (default 0.12).

CLI: ``python -m eval.open_loop --policy NAME --data DIR_OR_MANIFEST [...] [--out FILE.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.cli import BenchError, run_main
from common.files import atomic_write_json
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


def _instruction(episode: Any, tags: Mapping[str, str], default: str | None) -> str:
    if episode.instruction:
        return str(episode.instruction)
    if default is not None:
        return default
    scenario = tags.get("scenario")
    if scenario:
        try:
            from sim.scenario import instruction_for

            return instruction_for(scenario)
        except ValueError:
            pass
    raise OpenLoopError(
        f"{episode.path}: no language_instruction and no scenario tag to derive one; pass --instruction"
    )


def run_episode(
    policy: Any,
    episode: Any,
    tags: Mapping[str, str],
    source: str,
    to_model: Callable[[np.ndarray], np.ndarray],
    model_axes: int = 2,
    default_instruction: str | None = None,
    skip_start: bool = False,
) -> EpisodeRecord:
    """Feed one ``datagen.schema.Episode`` (BGR frames) to ``policy`` frame by frame; collect actions."""
    from datagen.schema import EVENT_EPISODE_START, bgr_to_rgb

    instruction = _instruction(episode, tags, default_instruction)
    policy.reset(instruction)
    frames = bgr_to_rgb(episode.images)
    # A policy that feeds its first frame twice stands for the collector's start row itself: feed from
    # row 1 (same frame as row 0) and leave row 0, which is no command, out of the metrics.
    first = 1 if getattr(policy, "repeats_first_frame", False) and frames.shape[0] > 1 else 0
    preds = [np.zeros(3, np.float32)] * first
    for t in range(first, frames.shape[0]):
        action = np.asarray(policy.act({"rgb": frames[t], "instruction": instruction}), dtype=np.float32)
        if action.shape != (3,) or not np.isfinite(action).all():
            raise OpenLoopError(
                f"{episode.path}: policy {getattr(policy, 'name', '?')!r} returned {action!r} at frame {t}; "
                "expected a finite (3,) [linear_x, linear_y, angular_z] command"
            )
        preds.append(action)
    pred = np.stack(preds)
    target = np.asarray(episode.actions, dtype=np.float32)
    keep = np.ones(len(target), dtype=bool)
    if skip_start and episode.event_types is not None:
        keep = np.array([e != EVENT_EPISODE_START for e in episode.event_types], dtype=bool)
    keep[:first] = False
    return EpisodeRecord(
        name=episode.name,
        source=source,
        tags=dict(tags),
        instruction=instruction,
        pred_command=pred,
        target_command=target,
        pred_model=to_model(pred),
        target_model=target_to_model(target, model_axes),
        keep=keep,
    )


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


def evaluate(
    policy: Any,
    data: str | Path | Sequence[str | Path],
    *,
    model_axes: int | None = None,
    target_rmse: float = RMSE_TARGET,
    skip_start: bool = False,
    default_instruction: str | None = None,
    tag_filter: Mapping[str, str] | None = None,
    source_filter: str | None = None,
    max_episodes: int | None = None,
    split: str | None = None,
) -> dict[str, Any]:
    """Evaluate ``policy`` open loop on the episodes of ``data`` (files, folders, ``manifest.jsonl``).

    ``model_axes`` ``None`` takes the policy's own (``policy_model_axes``, default 2).
    ``tag_filter`` keeps episodes whose tags match every ``key: value``; ``source_filter`` one source;
    ``split`` the manifest entries of one split (e.g. the held-out ``val`` episodes of a ``datagen.mix``).
    Returns a JSON-ready dict: settings, ``groups`` (see ``grouped``) and per-episode figures. Raises
    ``OpenLoopError`` when nothing matches, naming the data and the filter.
    """
    from datagen.manifest import discover
    from datagen.schema import read_episode

    if getattr(policy, "privileged", False):
        raise OpenLoopError(
            f"policy {getattr(policy, 'name', policy)!r} cannot run open loop: it is privileged (it acts on "
            "the simulator's true scene state, obs['state'], which recorded episodes do not hold); evaluate "
            "a policy that acts on the image and instruction, e.g. best, vla_tiny, mean_action or replay_core"
        )
    if model_axes is None:
        model_axes = policy_model_axes(policy)
    if model_axes not in (1, 2, 3):
        raise OpenLoopError(f"model_axes must be 1, 2 or 3, got {model_axes}")
    entries = discover(data)
    to_model, mapping = model_space_mapper(policy, model_axes)
    records: list[EpisodeRecord] = []
    if split is not None:
        entries = [e for e in entries if e.split == split]
        if not entries:
            raise OpenLoopError(f"no episode of split {split!r} in {data} (only manifests carry splits)")
    for entry in entries:
        tags = episode_tags(entry.tags, entry.name)
        if tag_filter and any(tags.get(k) != v for k, v in tag_filter.items()):
            continue
        episode = read_episode(entry.path)
        source = entry.source or episode.source
        if source_filter and source != source_filter:
            continue
        records.append(
            run_episode(policy, episode, tags, source, to_model, model_axes, default_instruction, skip_start)
        )
        if max_episodes is not None and len(records) >= max_episodes:
            break
    if not records:
        raise OpenLoopError(
            f"no episodes in {data!r} match tags {dict(tag_filter or {})} and source {source_filter!r} "
            f"({len(entries)} episodes found in total)"
        )
    return {
        "policy": getattr(policy, "name", type(policy).__name__),
        "data": [str(d) for d in ([data] if isinstance(data, (str, Path)) else data)],
        "model_axes": [metrics.AXIS_NAMES[i] for i in range(model_axes)],
        "model_space": f"targets clamped to [-1, 1]; predictions via {mapping}",
        "command_space": "teleop units [linear_x, linear_y, angular_z], robot frame",
        "skip_start": skip_start,
        "target_rmse": target_rmse,
        "groups": grouped(records, target_rmse),
        "episodes": [
            {
                "name": r.name,
                "source": r.source,
                "tags": r.tags,
                "instruction": r.instruction,
                "frames": int(r.keep.sum()),
                "model_rmse": metrics.rmse(r.pred_model[r.keep], r.target_model[r.keep])["overall"],
                "command_rmse": metrics.rmse(r.pred_command[r.keep], r.target_command[r.keep])["overall"],
                "direction_accuracy": metrics.direction_accuracy(
                    r.pred_command[r.keep], r.target_command[r.keep]
                ),
            }
            for r in records
        ],
    }


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


def parse_assignments(items: Iterable[str], what: str, nested: bool = False) -> dict[str, Any]:
    """``["k=v", ...]`` → dict; values parsed as YAML scalars (``3`` → int, ``true`` → bool). With
    ``nested``, a dotted key sets a nested value: ``action_adapter.snap=false`` →
    ``{"action_adapter": {"snap": False}}``."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise OpenLoopError(f"{what} {item!r}: expected key=value")
        parts = key.strip().split(".") if nested else [key.strip()]
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise OpenLoopError(f"{what} {item!r}: {part!r} was already set to a value, not a section")
            node = child
        node[parts[-1]] = yaml.safe_load(value) if value else ""
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eval.open_loop", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--policy", required=True, help="policy name (configs/policy/<name>.yaml or registered)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="keyword overrides for make_policy; dotted keys nest (action_adapter.snap=false)",
    )
    parser.add_argument("--data", nargs="+", required=True, help="episode files, folders or manifest.jsonl")
    parser.add_argument(
        "--tag", nargs="*", default=[], metavar="KEY=VALUE", help="keep episodes with these tags"
    )
    parser.add_argument("--source", choices=("real", "sim", "augmented"), help="keep episodes of this source")
    parser.add_argument(
        "--model-axes", type=int, help="axes of the model space (default: the policy's own, else 2: x, y)"
    )
    parser.add_argument("--target", type=float, default=RMSE_TARGET, help="model-space RMSE target")
    parser.add_argument(
        "--skip-start", action="store_true", help="leave the episode_start row out of metrics"
    )
    parser.add_argument("--instruction", help="instruction for episodes that store none")
    parser.add_argument("--max-episodes", type=int)
    parser.add_argument("--split", help="keep the manifest entries of this split, e.g. val")
    parser.add_argument("--out", type=Path, help="JSON output (default open_loop_<policy>.json)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: _main(args))


def check_out_file(out: Path) -> Path:
    """``out`` if a JSON file can be written there; ``OpenLoopError`` naming it (a directory, or a parent
    that is a file) otherwise — checked before the run, not after it."""
    if out.is_dir():
        raise OpenLoopError(
            f"--out {out} is a directory; expected a JSON file path, e.g. {out / 'open_loop.json'}"
        )
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise OpenLoopError(f"--out {out}: {parent} is a file, not a folder")
    return out


def _main(args: argparse.Namespace) -> int:
    from policies import make_policy

    out = check_out_file(args.out or Path(f"open_loop_{args.policy}.json"))
    policy = make_policy(args.policy, **parse_assignments(args.overrides, "--set", nested=True))
    result = evaluate(
        policy,
        args.data,
        model_axes=args.model_axes,
        target_rmse=args.target,
        skip_start=args.skip_start,
        default_instruction=args.instruction,
        tag_filter=parse_assignments(args.tag, "--tag"),
        source_filter=args.source,
        max_episodes=args.max_episodes,
        split=args.split,
    )
    print(f"policy {result['policy']}: {result['model_space']}")
    print(format_table(result))
    atomic_write_json(out, result)
    print(f"wrote {out}")
    return 0


def load_result(path: str | Path) -> dict[str, Any]:
    """Read an ``open_loop`` JSON written by ``main`` (for ``eval.compare`` / ``eval.sim2real``)."""
    path = Path(path)
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise OpenLoopError(f"{path}: cannot read open-loop result ({err})") from None
    if not isinstance(result, dict) or "groups" not in result or "all" not in result.get("groups", {}):
        raise OpenLoopError(f"{path}: not an eval.open_loop result (missing groups.all)")
    return result


if __name__ == "__main__":
    sys.exit(main())
