"""The ``operator`` expert: planning time per episode (vs the ``keys`` style) and the open-loop floor.

Run: ``python benchmarks/bench_operator.py [--episodes 96] [--variation 0.6] [--suite bottle_2025]``.
Episodes are driven without rendering (``FramelessNavEnv(render_mode=None)``), full randomisation.
Pins itself to one core (``os.sched_setaffinity``) so the times are "per core".

- **planning ms/episode**: wall time of the expert's ``act`` calls per episode, operator vs keys
  (what the operator style adds to ``datagen.generate``, whose episodes cost about 17 renders each);
- **expert-vs-expert floor**: a second operator (another seed, so another draw around the real
  sequences) is asked for its key at every state of the first one's episodes; the model-space RMSE of
  its keys against the recorded ones (first two axes clamped to [-1, 1], as ``eval.open_loop``) is the
  error any model trained on these labels cannot go below, on average, open loop.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from datagen.expert_rollout import FramelessNavEnv
from eval.open_loop import space_metrics, target_to_model
from policies.operator import PLAN_CLEARANCE_M
from policies.scripted import ScriptedExpert
from sim.suites import load_suite

OTHER_SEED = 1_000_003


def _obs(env) -> dict:
    return {"rgb": None, "instruction": env.scenario.instruction, "state": env.privileged_state()}


def drive(env, expert, scenario: str, seed: int) -> tuple[list[np.ndarray], float, bool]:
    """One episode: (actions, seconds spent in ``act``, success)."""
    env.reset(seed=seed, options={"scenario": scenario})
    expert.seed(seed)
    expert.reset(env.scenario.instruction)
    actions, spent, info = [], 0.0, {"success": False}
    for _ in range(env.config.max_steps):
        start = time.perf_counter()
        action = expert.act(_obs(env))
        spent += time.perf_counter() - start
        actions.append(action)
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    return actions, spent, bool(info["success"])


def relabel(env, other, scenario: str, seed: int, actions: list[np.ndarray]) -> list[np.ndarray]:
    """The second expert's key at every state of a recorded episode (the env replays the recording)."""
    env.reset(seed=seed, options={"scenario": scenario})
    other.seed(seed + OTHER_SEED)
    other.reset(env.scenario.instruction)
    labels = []
    for action in actions:
        labels.append(other.act(_obs(env)))
        env.step(action)
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=96)
    parser.add_argument("--variation", type=float, default=0.6)
    parser.add_argument("--suite", default="bottle_2025")
    parser.add_argument("--plan-clearance", type=float, default=PLAN_CLEARANCE_M,
                        help="operator plan_clearance_m (m)")
    parser.add_argument("--plan-end-within", type=float, default=None,
                        help="operator plan_end_within_m (m; default: anywhere in the goal disc)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    suite = load_suite(args.suite)
    env = FramelessNavEnv(render_mode=None)
    scenarios = [suite.scenario_for(i, 0) for i in range(args.episodes)]
    times = {}
    recorded = []
    operator_args = {"plan_clearance_m": args.plan_clearance, "plan_end_within_m": args.plan_end_within}
    for style in ("keys", "operator"):
        extra = operator_args if style == "operator" else {}
        expert = ScriptedExpert(style=style, variation=args.variation, **extra)
        spent, wins = [], 0
        for i, scenario in enumerate(scenarios):
            actions, seconds, success = drive(env, expert, scenario, i)
            spent.append(seconds)
            wins += success
            if style == "operator":
                recorded.append((scenario, i, actions))
        times[style] = (1e3 * float(np.mean(spent)), wins)
    for style, (ms, wins) in times.items():
        print(f"{style:9s} planning {ms:7.2f} ms/episode  success {wins}/{args.episodes}")
    other = ScriptedExpert(style="operator", variation=args.variation, **operator_args)
    preds, targets = [], []
    for scenario, seed, actions in recorded:
        preds.extend(relabel(env, other, scenario, seed, actions))
        targets.extend(actions)
    m = space_metrics(target_to_model(np.stack(preds)), target_to_model(np.stack(targets)))
    rmse = m["rmse"]["overall"]
    print(
        f"expert-vs-expert floor (operator, variation {args.variation}, clearance {args.plan_clearance} m): "
        f"model-space RMSE "
        f"{rmse:.3f}, direction accuracy {m['direction_accuracy']:.3f} over {len(preds)} presses"
    )
    env.close()


if __name__ == "__main__":
    main()
