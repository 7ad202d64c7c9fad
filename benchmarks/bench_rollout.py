"""Cost of the one episode loop (``policies.rollout.rollout``) against a bare ``reset``/``act``/``step`` loop.

``python benchmarks/bench_rollout.py [--episodes 40] [--repeats 3]``

Both loops drive the privileged scripted expert through the same seeded episodes of ``bottle_2025`` in a
``MobileNavEnv(observe_rgb=False)`` (no rendering, so the loop's own cost is not hidden behind the
renderer); the rollout also runs a ``TrajectoryObserver`` and a ``CommandLatency(mode="none")`` wrapper,
as closed loop does. The two are interleaved episode by episode so machine load hits both alike. Prints
microseconds per step of each and their difference. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

from envs import CommandLatency, MobileNavEnv
from policies.rollout import TrajectoryObserver, rollout
from policies.scripted import ScriptedExpert


def _bare(env: MobileNavEnv, expert: ScriptedExpert, seed: int, scenario: str) -> int:
    obs, _ = env.reset(seed=seed, options={"scenario": scenario})
    expert.seed(seed)
    expert.reset(obs["instruction"])
    steps, done = 0, False
    while not done:
        obs, _, terminated, truncated, _ = env.step(expert.act({**obs, "state": env.privileged_state()}))
        steps, done = steps + 1, terminated or truncated
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = MobileNavEnv(observe_rgb=False)
    wrapped = CommandLatency(env, "none")
    expert = ScriptedExpert()
    scenarios = [env.suite.scenario_for(i, 0) for i in range(args.episodes)]
    totals = {"bare": [0.0, 0], "rollout": [0.0, 0]}
    for _ in range(args.repeats):
        for i, scenario in enumerate(scenarios):
            start = time.perf_counter()
            steps = _bare(env, expert, i, scenario)
            totals["bare"][0] += time.perf_counter() - start
            totals["bare"][1] += steps
            start = time.perf_counter()
            result = rollout(wrapped, expert, i, {"scenario": scenario}, [TrajectoryObserver()])
            totals["rollout"][0] += time.perf_counter() - start
            totals["rollout"][1] += result.steps
    env.close()
    per_step = {k: 1e6 * t / max(1, n) for k, (t, n) in totals.items()}
    for name, us in per_step.items():
        print(f"{name:8s} {us:9.1f} us/step over {totals[name][1]} steps")
    print(f"loop + observer + wrapper overhead: {per_step['rollout'] - per_step['bare']:+.1f} us/step "
          f"({100 * (per_step['rollout'] / per_step['bare'] - 1):+.1f} %)")


if __name__ == "__main__":
    main()
