"""The sim is calibrated to the real runs: every real sequence replays into the goal, the mirrored one
fails on the wrong side, the fit recovers known parameters, and bad input is named."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from datagen.real_runs import load_sources
from envs import MobileNavEnv
from eval.replay_real import replay, summarise
from sim.config import LayoutConfig, RobotConfig
from sim.fit import FitRun, fit, robot_config
from sim.profiles import DEFAULT_CALIBRATION, load_calibration, resolve_profile
from sim.protocol import CORE_SEQUENCES, keys_to_actions
from sim.real_runs import load_sequences_file
from tests.cli_checks import error_line

ROOT = Path(__file__).resolve().parents[1]
SEQUENCES = ROOT / "configs" / "calibration" / "real_operator_sequences.json"


@pytest.fixture(scope="module")
def calibrated_env():
    env = MobileNavEnv(config={"randomization": {"enabled": False}, "camera": {"width": 32, "height": 18}})
    yield env
    env.close()


@pytest.mark.parametrize("side", ["left", "right"])
def test_real_core_sequence_reaches_goal(calibrated_env, side):
    env = calibrated_env
    obs, info = env.reset(seed=0, options={"scenario": f"1box_hori_{side}_core_medium"})
    assert side in obs["instruction"]
    actions = keys_to_actions(CORE_SEQUENCES[side])
    assert len(actions) == 17 == env.config.max_steps
    for action in actions:
        obs, _, terminated, truncated, info = env.step(action)
        assert not info["collision"], f"{side} core sequence collided with {info['collided_with']}"
        if terminated or truncated:
            break
    assert truncated and not terminated
    assert info["success"] and info["in_goal"] and info["failure_reason"] is None
    assert info["went_side"] == side


@pytest.mark.parametrize("side", ["left", "right"])
def test_core_sequence_of_the_other_side_fails(calibrated_env, side):
    """The calibration is not trivially permissive: the mirrored sequence misses the goal."""
    other = "right" if side == "left" else "left"
    env = calibrated_env
    env.reset(seed=0, options={"scenario": f"1box_hori_{side}_core_medium"})
    for action in keys_to_actions(CORE_SEQUENCES[other]):
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    assert not info["success"]
    assert info["failure_reason"] == "wrong_side"


def test_every_real_sequence_replays_into_the_goal():
    """Issue targets, randomisation off: >= 10 of 11 distinct and >= 95 % of the episode weight succeed;
    the mirrored version of every real run fails with wrong_side."""
    runs, problems = load_sequences_file(SEQUENCES, kinds=("recorded",))
    assert not problems and len(runs) == 11
    rows = replay(runs, randomization=False)
    summary = summarise(rows)["all"]
    assert summary["distinct_success"] >= 10
    assert summary["episode_weighted_success"] >= 0.95
    assert all(r["mirrored_failure_reason"] == "wrong_side" for r in rows), [
        (r["label"], r["mirrored_failure_reason"]) for r in rows
    ]


@pytest.mark.slow  # 4 s: 11 runs x 20 seeds; the exact replay of every run stays in the default run
def test_real_sequences_with_full_randomisation():
    """Default randomisation, 20 seeds per run: >= 85 % episode-weighted success."""
    runs, _ = load_sequences_file(SEQUENCES, kinds=("recorded",))
    rows = replay(runs, randomization=True, seeds=20, mirror=False)
    assert summarise(rows)["all"]["episode_weighted_success"] >= 0.85


def test_defaults_are_the_calibrated_profile():
    """configs/env/*.yaml and the dataclass defaults hold the calibration file's default profile."""
    doc = load_calibration()
    profile = doc["profiles"][doc["default"]]
    robot, layout = dataclasses.asdict(RobotConfig()), dataclasses.asdict(LayoutConfig())
    for name in ("default.yaml", "no_randomization.yaml"):
        env_yaml = yaml.safe_load((ROOT / "configs" / "env" / name).read_text())
        for key, value in profile["robot"].items():
            assert env_yaml["robot"][key] == pytest.approx(value) == robot[key], (name, key)
        for key, value in profile["layout"].items():
            assert env_yaml["layout"][key] == pytest.approx(value) == layout[key], (name, key)
    assert LayoutConfig().goal_radius <= 0.25


def test_profiles_by_name_and_date():
    doc = load_calibration()
    assert resolve_profile(doc) == doc["default"] == "current"
    assert resolve_profile(doc, "wheel_v1") == "wheel_v1"
    assert resolve_profile(doc, "auto", "2025-11-19") == "wheel_v1"
    assert resolve_profile(doc, "auto", "20251203") == "wheel_v2"
    with pytest.raises(ValueError, match="unknown robot profile 'nope'"):
        resolve_profile(doc, "nope")


def _expert_runs(truth: dict[str, float], layout: LayoutConfig) -> list[FitRun]:
    """Successful scripted-expert demonstrations on a robot with known motion (randomisation off)."""
    from policies import make_policy

    robot = robot_config(truth)
    keys = ("speed_m_s", "strafe_share", "diagonal_angle_deg", "press_yaw_rad")
    config = {
        "robot": {k: getattr(robot, k) for k in keys},
        "layout": dataclasses.asdict(layout),
        "camera": {"width": 16, "height": 9},
        "randomization": {"enabled": False},
        "max_steps": 30,
    }
    env = MobileNavEnv(config=config)
    runs = []
    try:
        for i, side in enumerate(("left", "right") * 3):
            policy = make_policy("scripted", variation=0.3, stop_fraction=0.25)
            policy.seed(i)
            obs, info = env.reset(seed=i, options={"scenario": f"1box_hori_{side}_core_medium"})
            policy.reset(obs["instruction"])
            actions = []
            for _ in range(30):
                obs["state"] = env.privileged_state()
                actions.append(policy.act(obs))
                obs, _, terminated, truncated, info = env.step(actions[-1])
                if terminated or truncated:
                    break
            assert info["success"]
            runs.append(FitRun(f"expert{i}", np.asarray(actions), 1.0, side))
    finally:
        env.close()
    return runs


def test_fit_recovers_known_motion():
    """Runs generated by a robot stepping 0.11 m with 40° diagonals: the fit finds the step within
    ±0.005 m and the diagonal angle within ±2.5°."""
    truth = {"step_m": 0.11, "strafe_share": 0.9, "diagonal_angle_deg": 40.0, "press_yaw_rad": 0.0}
    layout = LayoutConfig()
    runs = _expert_runs(truth, layout)
    result = fit(runs, layout=layout, fixed={"strafe_share": 0.9, "press_yaw_rad": 0.0})
    assert result.distinct_success == len(runs)
    assert result.motion["step_m"] == pytest.approx(0.11, abs=0.005)
    assert result.motion["diagonal_angle_deg"] == pytest.approx(40.0, abs=2.5)


def test_fit_rejects_bad_arguments():
    with pytest.raises(ValueError, match="no runs to fit"):
        fit([])
    run = FitRun("x", keys_to_actions("W W"), 1.0, "left")
    with pytest.raises(ValueError, match="unknown motion parameter"):
        fit([run], fixed={"wheel_size": 1.0})


# ------------------------------------------------------------------------------- bad input


def test_bad_runs_are_named_and_the_rest_load(tmp_path):
    good = {"scenario": "1box_hori_left_core_medium", "keys": "W W Q", "episodes_reported": 3}
    doc = {
        "sequences": [
            good,
            {"scenario": "1box_hori_left_core_medium", "keys": "W X Q"},
            {"keys": "W W"},
            {"scenario": "3box_hori_left_core_medium", "keys": "W"},
        ]
    }
    path = tmp_path / "runs.json"
    path.write_text(json.dumps(doc))
    runs, problems = load_sequences_file(path)
    assert [r.weight for r in runs] == [3.0]
    errors = {p.item: p.error for p in problems}
    assert "unknown teleop key 'X'" in errors["sequences[1]"]
    assert "no scenario" in errors["sequences[2]"]
    assert "unknown scenario '3box_hori_left_core_medium'" in errors["sequences[3]"]


def test_malformed_file_and_hdf5_without_actions(tmp_path):
    bad_json = tmp_path / "broken.json"
    bad_json.write_text("{not json")
    no_actions = tmp_path / "episode_20251203_122510_1box_hori_left_core_medium.h5"
    with h5py.File(no_actions, "w") as f:
        f.create_dataset("images", data=np.zeros((2, 4, 4, 3), np.uint8))
    no_scenario = tmp_path / "episode_20250808_040913.h5"
    with h5py.File(no_scenario, "w") as f:
        f.create_dataset("images", data=np.zeros((2, 4, 4, 3), np.uint8))
        f.create_dataset("actions", data=np.zeros((2, 3), np.float32))
    runs, problems = load_sources([bad_json, no_actions, no_scenario, tmp_path / "missing.json"])
    assert runs == []
    text = "\n".join(f"{p.item}: {p.error}" for p in problems)
    assert "broken.json: not valid JSON" in text
    assert f"{no_actions.name}" in text and "actions" in text
    assert "episode_20250808_040913" in text and "does not parse" in text
    assert "missing.json: no such file" in text


def test_replay_real_cli_reports_and_skips_bad_runs(tmp_path, capsys):
    from eval.replay_real import main

    doc = {
        "sequences": [
            {
                "scenario": "1box_hori_left_core_medium",
                "keys": CORE_SEQUENCES["left"],
                "episodes_reported": 2,
            },
            {"scenario": "1box_hori_left_core_medium", "keys": "W ?"},
        ]
    }
    path = tmp_path / "runs.json"
    path.write_text(json.dumps(doc))
    assert main([str(path), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr()
    assert "sequences[1]" in out.err and "unknown teleop key '?'" in out.err
    assert "summary: left: 1/1 distinct, 100.0 % of 2 episodes" in out.out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["runs"][0]["success"] and report["runs"][0]["mirrored_failure_reason"] == "wrong_side"
    assert len(report["problems"]) == 1
    assert (tmp_path / "out" / "report.html").read_text().count("<img") == 1
    assert main([str(tmp_path / "nothing.json"), "--out", str(tmp_path / "o2")]) == 2
    assert DEFAULT_CALIBRATION.exists()


def test_calibrate_cli_bad_input(tmp_path, capsys):
    from sim.calibrate import main

    assert main([str(tmp_path / "missing.json"), "--out", str(tmp_path / "c.yaml")]) == 2
    assert "missing.json" in capsys.readouterr().err
    assert main(["--goal-radius", "0.3", "--out", str(tmp_path / "c.yaml")]) == 2
    assert "--goal-radius 0.3 is invalid" in capsys.readouterr().err
    assert main(["--period", "wheel:2025-13-01:", "--out", str(tmp_path / "c.yaml")]) == 2
    assert "date '2025-13-01' is invalid" in capsys.readouterr().err
    assert not (tmp_path / "c.yaml").exists()


# ------------------------------------------------------------------------------ CLI bad input
@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--seeds", "0", "--randomization", "on"], "--seeds 0 is invalid"),
        (["--profile", "wheel_v9"], "unknown robot profile 'wheel_v9'"),
        (["--calibration", "missing.yaml"], "missing.yaml: cannot read"),
    ],
)
def test_replay_real_bad_values_name_the_value_and_write_nothing(tmp_path, capsys, args, named):
    from eval.replay_real import main

    out = tmp_path / "out"
    args = [str(tmp_path / a) if a.endswith(".yaml") else a for a in args]
    assert main([str(SEQUENCES), "--out", str(out), *args]) == 2
    assert named in error_line(capsys)
    assert not out.exists()


def test_replay_real_missing_corrupt_and_truncated_sources_are_named(tmp_path, capsys):
    from eval.replay_real import main

    garbage = tmp_path / "episode_20251106_100000_1box_hori_left_core_medium.h5"
    garbage.write_bytes(b"garbage")
    good = tmp_path / "good" / "episode_20251106_100100_1box_hori_left_core_medium.h5"
    good.parent.mkdir()
    with h5py.File(good, "w") as f:
        f.create_dataset("images", data=np.zeros((3, 4, 4, 3), np.uint8))
        f.create_dataset("actions", data=np.zeros((3, 3), np.float32))
    truncated = tmp_path / good.name.replace("100100", "100200")
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    out = tmp_path / "out"
    assert main([str(tmp_path / "nope"), str(garbage), str(truncated), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"skipped {tmp_path / 'nope'}" in err and "no such file or directory" in err
    assert f"skipped {garbage.name}" in err and f"skipped {truncated.name}" in err
    assert "error: no replayable run in the sources" in err and "Traceback" not in err
    assert not out.exists()
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert main([str(SEQUENCES), "--out", str(taken)]) == 2
    assert f"--out {taken} is a file" in error_line(capsys)


def test_calibrate_out_folder_checks_before_fitting(tmp_path, capsys):
    from sim.calibrate import calibration_file, main

    assert calibration_file(tmp_path) == tmp_path / "real_2025.yaml"
    assert calibration_file(tmp_path / "c.yaml") == tmp_path / "c.yaml"
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert main(["--out", str(taken)]) == 2
    assert f"--out {taken} is a file" in error_line(capsys)
    assert main(["--out", str(tmp_path / "x"), "--margin", "-1"]) == 2
    assert "--margin -1.0 is invalid" in error_line(capsys)
    assert main([str(tmp_path / "missing.json"), "--out", str(tmp_path / "x")]) == 2
    assert "missing.json" in error_line(capsys)
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_calibrate_into_a_folder_reproduces_the_shipped_calibration(tmp_path):
    from sim.calibrate import main

    assert main(["--out", str(tmp_path)]) == 0
    assert (tmp_path / "real_2025.yaml").read_text() == DEFAULT_CALIBRATION.read_text()


def test_replay_real_out_defaults_to_a_runs_folder(tmp_path, monkeypatch):
    from eval.replay_real import main

    path = tmp_path / "one.json"
    run = {"scenario": "1box_hori_right_core_medium", "keys": CORE_SEQUENCES["right"], "episodes_reported": 1}
    path.write_text(json.dumps({"sequences": [run]}))
    monkeypatch.chdir(tmp_path)
    assert main([str(path)]) == 0
    report = json.loads((tmp_path / "runs" / "replay_real" / "one-off" / "report.json").read_text())
    assert report["summary"]["right"]["distinct_success"] == 1
