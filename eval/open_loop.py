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
the target (``eval.targets.RMSE_TARGET``, 0.12).

CLI: ``python -m eval.open_loop --policy NAME [policy.KEY=VALUE ...] --data DATA [...] [--out DIR]``
(writes ``DIR/open_loop.json``, default ``runs/open_loop/<policy>``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from common.cli import default_out_dir, parse_assignments, run_main
from common.files import atomic_write_json
from eval import metrics
from eval.open_loop_metrics import (  # noqa: F401 - re-exported for callers of eval.open_loop
    COMMAND_SPACE,
    MODEL_SPACE,
    RMSE_TARGET,
    EpisodeRecord,
    OpenLoopError,
    episode_tags,
    format_table,
    group_metrics,
    grouped,
    model_space_mapper,
    policy_model_axes,
    space_metrics,
    target_to_model,
)
from eval.policy_args import policy_kwargs, take_policy_items
from policies.rollout import PolicyStepError, checked_action

RESULT_FILE = "open_loop.json"
"""The file ``--out DIR`` receives."""


def _instruction(episode: Any, tags: Mapping[str, str], default: str | None) -> str:
    if episode.instruction:
        return str(episode.instruction)
    if default is not None:
        return default
    scenario = tags.get("scenario")
    if scenario:
        try:
            from sim.taxonomy import instruction_for

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
        try:
            action = checked_action(policy.act({"rgb": frames[t], "instruction": instruction}))
        except PolicyStepError as exc:
            raise OpenLoopError(
                f"{episode.path}: policy {getattr(policy, 'name', '?')!r} at frame {t}: {exc}"
            ) from exc
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eval.open_loop", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--policy", required=True, help="policy name (configs/policy/<name>.yaml or registered)"
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="policy.KEY=VALUE",
        help="make_policy arguments, dotted keys deep-merged (policy.action_adapter.snap=false)",
    )
    parser.add_argument(
        "--set",
        dest="legacy_set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="deprecated spelling of policy.KEY=VALUE (KEY=VALUE without the policy. prefix)",
    )
    parser.add_argument("--data", nargs="+", required=True, help="episode files, folders or manifest.jsonl")
    parser.add_argument(
        "--tag",
        "--tags",
        dest="tag",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="keep episodes with these tags",
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
    parser.add_argument(
        "--out", type=Path, help=f"output folder for {RESULT_FILE} (default runs/open_loop/<policy>)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_intermixed_args(argv)  # policy.key=value may sit between flags
    return run_main(lambda: _main(args))


def check_out_dir(out: Path) -> Path:
    """The result file ``out/open_loop.json`` if ``out`` can be a folder; ``OpenLoopError`` naming it (an
    existing file, a parent that is a file, or the old ``--out FILE.json`` form) otherwise — checked
    before the run, not after it."""
    if out.exists() and not out.is_dir():
        raise OpenLoopError(
            f"--out {out} is a file; expected a folder (the result goes to {out / RESULT_FILE})"
        )
    if out.suffix == ".json" and not out.exists():
        raise OpenLoopError(
            f"--out {out}: --out is a folder now (the result goes to FOLDER/{RESULT_FILE}); "
            f"write e.g. --out {out.with_suffix('')}"
        )
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise OpenLoopError(f"--out {out}: {parent} is a file, not a folder")
    return out / RESULT_FILE


def _main(args: argparse.Namespace) -> int:
    from policies import make_policy

    out = check_out_dir(args.out or default_out_dir("open_loop", args.policy))
    swallowed = take_policy_items(args.data) + take_policy_items(args.tag)  # list flags take what follows
    kwargs = policy_kwargs([*args.overrides, *swallowed], args.legacy_set)
    tag_filter = parse_assignments(args.tag, "--tag")
    policy = make_policy(args.policy, **kwargs)
    result = evaluate(
        policy,
        args.data,
        model_axes=args.model_axes,
        target_rmse=args.target,
        skip_start=args.skip_start,
        default_instruction=args.instruction,
        tag_filter={k: str(v) for k, v in tag_filter.items()},
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
    """Read an ``open_loop`` JSON written by ``main`` (for ``eval.compare`` / ``eval.sim2real``); ``path``
    is the file or the ``--out`` folder holding it."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULT_FILE
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise OpenLoopError(f"{path}: cannot read open-loop result ({err})") from None
    if not isinstance(result, dict) or "groups" not in result or "all" not in result.get("groups", {}):
        raise OpenLoopError(f"{path}: not an eval.open_loop result (missing groups.all)")
    return result


if __name__ == "__main__":
    sys.exit(main())
