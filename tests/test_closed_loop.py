"""The closed-loop runner: results, worker-count invariance, resume, policy errors, bad input."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from common.rundir import RunDirError
from eval.closed_loop import DETERMINISTIC_FIELDS, load_config, main, run
from policies import BasePolicy, register_policy
from sim.taxonomy import instruction_for, parse_scenario_name

SMALL = ["env.camera.width=64", "env.camera.height=36", "videos=0", "report=false", "progress=false"]


def deterministic(rows):
    return [{k: r[k] for k in DETERMINISTIC_FIELDS} for r in rows]


@register_policy("test_flaky")
class FlakyPolicy(BasePolicy):
    """Raises on episode seeds divisible by 3 and returns NaN on seeds ≡ 1 (mod 3) at step 2."""

    def __init__(self) -> None:
        super().__init__()
        self._seed = 0
        self._step = 0

    def seed(self, seed: int) -> None:
        self._seed = seed

    def reset(self, instruction: str) -> None:
        super().reset(instruction)
        self._step = 0

    def _act(self, obs):
        self._step += 1
        if self._seed % 3 == 0 and self._step == 2:
            raise RuntimeError("boom")
        if self._seed % 3 == 1 and self._step == 2:
            return np.array([np.nan, 0, 0])
        return np.array([1.15, 0.0, 0.0])


@pytest.mark.slow  # 6 s: two closed-loop runs (the full suite, CI included, runs it)
def test_workers_do_not_change_results(tmp_path):
    """Nor the videos, which the workers replay themselves."""
    small = [o for o in SMALL if not o.startswith("videos=")] + ["videos=1"]
    one = run(load_config(["policy=scripted", "episodes=4", "workers=1", *small]), tmp_path / "w1")
    two = run(load_config(["policy=scripted", "episodes=4", "workers=2", *small]), tmp_path / "w2")
    assert deterministic(one["episodes"]) == deterministic(two["episodes"])
    assert [r["video"] for r in one["episodes"]] == [r["video"] for r in two["episodes"]]
    gif = "videos/ep0000.gif"
    assert (tmp_path / "w1" / gif).read_bytes() == (tmp_path / "w2" / gif).read_bytes()
    assert len(one["episodes"]) == 8  # each episode plus its mirrored-instruction twin
    summary = one["summary"]
    assert summary["successes"] == 4 and summary["wilson95"][1] == 1.0
    assert summary["instruction_sensitivity"]["named_side_rate"] == 1.0


def test_results_json_rows_and_summary(tmp_path):
    run(load_config(["policy=scripted", "episodes=3", *SMALL, "instruction_sensitivity=false"]), tmp_path)
    results = json.loads((tmp_path / "results.json").read_text())
    rows = results["episodes"]
    row = rows[0]
    assert set(DETERMINISTIC_FIELDS) | {"latency_ms", "scene", "d_start_m"} <= set(row)
    for i, r in enumerate(rows):
        _, tags = parse_scenario_name(r["scenario"])
        assert (r["episode"], r["seed"], r["tags"]) == (i, i, tags)  # episode i: seed + i, its own tags
        assert r["instruction"] == instruction_for(r["scenario"]) and r["instruction_flipped"] is False
        assert isinstance(r["success"], bool) and (r["failure_reason"] is None) == r["success"]
        assert 1 <= r["steps"] <= 17 and len(r["trajectory"]) == r["steps"] + 1
        warmup = len(r["latency_warmup_ms"].get("total_ms", []))  # the worker's first act() calls
        assert r["collisions"] == 0 and r["latency_ms"]["total_ms"]["n"] == r["steps"] - warmup
    assert 0 < row["spl"] <= 1 and row["d_start_m"] <= row["path_length_m"] + 1e-9
    s = results["summary"]
    # latency per step: every statistic is that of the stored samples; warm-up calls are kept apart
    steps = [v for ep in results["episodes"] for v in ep["latency_samples_ms"]["total_ms"]]
    warm = [v for ep in results["episodes"] for v in ep["latency_warmup_ms"].get("total_ms", [])]
    total = s["latency_ms"]["total_ms"]
    assert total["max"] == max(steps) and total["n"] == len(steps)
    assert total["p95"] == pytest.approx(float(np.percentile(steps, 95)), abs=1e-12)
    assert len(warm) == s["latency_warmup"]["calls"] == 5  # one worker: its first 5 act() calls
    assert len(steps) + len(warm) == sum(ep["steps"] for ep in results["episodes"])
    assert s["latency_target"]["statistic"] == "p95" and s["latency_basis"]
    assert s["episodes"] == 3 and s["successes"] == sum(r["success"] for r in rows)
    sides = Counter(r["tags"]["side"] for r in rows)
    assert {k: v["episodes"] for k, v in s["per_tag"].items() if k.startswith("side=")} == {
        f"side={side}": n for side, n in sides.items()
    }
    prov = results["provenance"]
    assert prov["seeds"] == [0, 1, 2] and "pybullet" in prov["packages"] and prov["git_commit"]
    assert not list(tmp_path.glob(".*"))  # no temp files left behind


def test_language_blind_policy_scores_half_on_instruction_sensitivity(tmp_path):
    cfg = load_config(
        [
            "policy=replay_core",
            "policy.core=left",
            "suite=bottle_core_medium",
            "episodes=4",
            "env=no_randomization",
            *SMALL,
        ]
    )
    summary = run(cfg, tmp_path)["summary"]
    assert summary["instruction_sensitivity"]["named_side_rate"] == pytest.approx(0.5)


def test_policy_errors_are_recorded_and_the_run_goes_on(tmp_path):
    cfg = load_config(
        [
            "policy=random",
            "policy.type=test_flaky",
            "~policy.style",
            "episodes=4",
            "instruction_sensitivity=false",
            *SMALL,
        ]
    )
    results = run(cfg, tmp_path)
    reasons = [r["failure_reason"] for r in results["episodes"]]
    assert reasons[0] == "policy_error" and "boom" in results["episodes"][0]["error"]
    assert reasons[1] == "policy_error" and "NaN or inf" in results["episodes"][1]["error"]
    assert reasons[2] != "policy_error" and reasons[3] == "policy_error"


def test_resume_after_an_interrupted_run(tmp_path):
    args = ["policy=scripted", "episodes=3", *SMALL]
    first = run(load_config(args), tmp_path)
    log = tmp_path / "episodes.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:2]) + "\n" + lines[2][:40])  # a kill -9 mid-write
    second = run(load_config(args), tmp_path)
    assert deterministic(second["episodes"]) == deterministic(first["episodes"])
    assert len(log.read_text().splitlines()) == len(lines)


def test_rerun_with_another_config_into_the_same_dir_is_refused(tmp_path):
    run(load_config(["policy=scripted", "episodes=1", *SMALL]), tmp_path)
    with pytest.raises(RunDirError, match=r"different config \(differing keys: seed \(0 -> 5\)\)"):
        run(load_config(["policy=scripted", "episodes=1", "seed=5", *SMALL]), tmp_path)


def test_checkpoint_names_with_equals_signs_pass_as_overrides(capsys, tmp_path):
    ckpt = str(tmp_path / "run" / "checkpoints" / "epoch=09-val_loss=0.0657")  # training.train's names
    cfg = load_config(["policy=vla_tiny", f"policy.checkpoint={ckpt}", f"out={tmp_path / 'a=b'}"])
    assert cfg.policy.checkpoint == ckpt and cfg.out == str(tmp_path / "a=b")
    assert load_config(["policy=vla_tiny", f"policy.checkpoint='{ckpt}'"]).policy.checkpoint == ckpt
    assert main(["--policy", "scripted", "env.max_steps=(", "--out", str(tmp_path / "x")]) == 2
    assert "cannot parse the overrides" in capsys.readouterr().err
    assert main(["--policy", "vla_tiny", "policy.action_adapter.snap=true", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown config key 'policy.action_adapter.snap'" in err and "+policy.action_adapter.snap" in err
    assert load_config(["policy=vla_tiny", "+policy.action_adapter.snap=true"]).policy.action_adapter.snap


def test_cli_unknown_policy(capsys, tmp_path):
    assert main(["--policy", "no_such_policy", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "no_such_policy" in err and "scripted" in err


def test_cli_prints_summary(capsys, tmp_path):
    # key=value overrides may sit between the flags (argparse intermixed parsing)
    argv = ["--policy", "scripted", SMALL[0], "--episodes", "2", SMALL[1], "--out", str(tmp_path), *SMALL[2:]]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "success 2/2" in out and "Wilson 95 %" in out and "instruction sensitivity" in out


def test_latency_in_the_loop_changes_motion(tmp_path):
    base = [
        "policy=replay_core",
        "suite=bottle_core_medium",
        "episodes=1",
        "env=no_randomization",
        "instruction_sensitivity=false",
        *SMALL,
    ]
    plain = run(load_config(base), tmp_path / "plain")["episodes"][0]
    slow = run(
        load_config([*base, "latency_in_loop.mode=fixed", "latency_in_loop.delay_ms=300"]), tmp_path / "slow"
    )["episodes"][0]
    assert plain["success"] and not slow["success"]
    assert slow["path_length_m"] > plain["path_length_m"] or slow["failure_reason"] == "collision"
