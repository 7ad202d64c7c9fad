"""The Gymnasium environment: API, determinism, golden frames, bad input."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections import Counter

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs import ENV_ID, MobileNavEnv
from sim.config import sim_config
from sim.scenario import build_scenario
from sim.suites import load_suite, suite_from_mapping
from sim.taxonomy import all_scenario_names
from tests.env_helpers import digest, rollout_hashes

GOLDEN = {
    ("1box_hori_left_core_medium", 0): "621751454c993a2d",
    ("2box_vert_right_variant_far", 11): "25d4c3c51fb84999",
    ("target_left_right_path", 5): "6a69e078dfbea9aa",
}
"""Digest of frames + poses of ``tests.env_helpers.SCRIPT`` with the default config (full randomisation).
A change here means every recorded sim dataset and golden result changes: update deliberately."""


def test_registered_and_made_through_gymnasium():
    assert ENV_ID in gym.registry
    made = gym.make(ENV_ID, config={"camera": {"width": 64, "height": 36}})
    obs, info = made.reset(seed=1)
    assert obs["rgb"].shape == (36, 64, 3) and obs["rgb"].dtype == np.uint8
    assert isinstance(obs["instruction"], str) and obs["instruction"]
    for key in ("success", "collision", "failure_reason", "pose", "distance_to_goal"):
        assert key in info
    made.close()


def test_check_env_passes():
    made = gym.make(ENV_ID)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(made.unwrapped, skip_render_check=False)
    made.close()
    messages = [str(w.message) for w in caught]
    # The only remark allowed is gymnasium's generic advice to use a [-1, 1] box: the bench keeps the
    # real robot's command space (teleop units, +-1.15) so that real data replays unchanged.
    assert all("recommend using a symmetric and normalized space" in m for m in messages), messages


def test_observation_matches_space(env):
    obs, _ = env.reset(seed=3, options={"scenario": "2box_hori_right_variant_close"})
    assert env.observation_space.contains(obs)
    assert obs["instruction"] == (
        "Navigate around obstacles and reach the front of the beverage bottle on the right"
    )


@pytest.mark.parametrize(("scenario", "seed"), sorted(GOLDEN))
def test_golden_rollouts(env, scenario, seed):
    assert digest(*rollout_hashes(env, seed, scenario)) == GOLDEN[(scenario, seed)]


def test_two_envs_identical_frames_and_poses(env):
    other = MobileNavEnv()
    try:
        other.reset(seed=99, options={"scenario": "target_center_left_path"})  # a different history first
        for scenario in ("1box_vert_left_variant_far", "target_right_straight_path"):
            a = rollout_hashes(env, 42, scenario)
            b = rollout_hashes(other, 42, scenario)
            assert a == b
    finally:
        other.close()


def test_identical_across_processes(env):
    code = (
        "from envs import MobileNavEnv; from tests.env_helpers import rollout_hashes, digest; "
        "print(digest(*rollout_hashes(MobileNavEnv(), 7, '2box_hori_left_core_far')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == digest(*rollout_hashes(env, 7, "2box_hori_left_core_far"))


def test_different_seeds_differ(env):
    assert rollout_hashes(env, 1, "1box_hori_left_core_medium") != rollout_hashes(
        env, 2, "1box_hori_left_core_medium"
    )


def test_scenario_is_frozen_and_seeded():
    from sim.config import RandomizationConfig

    rand = RandomizationConfig()
    a = build_scenario("1box_hori_left_core_far", np.random.default_rng(5), rand)
    b = build_scenario("1box_hori_left_core_far", np.random.default_rng(5), rand)
    assert a == b
    with pytest.raises(AttributeError):
        a.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("bad", [[np.nan, 0, 0], [0, np.inf, 0], [1.0, 0.0], [[1, 0, 0]], "w"])
def test_bad_actions_raise(env, bad):
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(bad)


def test_out_of_range_action_is_clipped_and_flagged(env):
    env.reset(seed=0, options={"scenario": "1box_hori_left_core_medium"})
    _, _, _, _, info = env.step(np.array([5.0, 0.0, 0.0], np.float32))
    assert info["action_clipped"]
    _, _, _, _, info = env.step(np.array([1.15, 0.0, 0.0], np.float32))
    assert not info["action_clipped"]


IDEAL_DRIVER = {"speed_m_s": 0.30, "strafe_share": 1.0, "diagonal_angle_deg": 45.0, "press_yaw_rad": 0.0}
"""The driver's nominal semantics, before calibration: 0.12 m per press in exactly the commanded direction."""


def test_key_press_semantics_diagonal_as_fast_as_straight():
    e = MobileNavEnv(config={"randomization": {"enabled": False}, "robot": IDEAL_DRIVER})
    try:
        e.reset(seed=0, options={"scenario": "1box_hori_left_core_medium"})
        e.step(np.array([1.15, 0, 0], np.float32))
        straight = np.hypot(*e.pose[:2])
        e.reset(seed=0, options={"scenario": "1box_hori_left_core_medium"})
        e.step(np.array([1.15, 1.15, 0], np.float32))
        x, y, _ = e.pose
        assert np.hypot(x, y) == pytest.approx(straight, abs=1e-9) == pytest.approx(0.12)
        assert x == pytest.approx(y)
        # Magnitude is ignored in key-press mode (the driver takes only the direction).
        e.reset(seed=0, options={"scenario": "1box_hori_left_core_medium"})
        e.step(np.array([0.3, 0, 0], np.float32))
        assert np.hypot(*e.pose[:2]) == pytest.approx(0.12)
        # |angular_z| > 0.1 spins in place instead of translating.
        e.reset(seed=0, options={"scenario": "1box_hori_left_core_medium"})
        e.step(np.array([1.15, 0, 1.15], np.float32))
        assert e.pose[:2] == pytest.approx((0.0, 0.0)) and e.pose[2] == pytest.approx(0.8 * 0.4)
    finally:
        e.close()


def test_calibrated_key_press_motion():
    """Calibrated base: a diagonal moves a full step at diagonal_angle_deg, a strafe strafe_share of a
    step, and every translation press turns the base by press_yaw_rad."""
    robot = {"speed_m_s": 0.25, "strafe_share": 0.8, "diagonal_angle_deg": 30.0, "press_yaw_rad": 0.01}
    e = MobileNavEnv(config={"randomization": {"enabled": False}, "robot": robot})
    try:
        e.reset(seed=0, options={"scenario": "1box_hori_left_core_medium"})
        e.step(np.array([1.15, 1.15, 0], np.float32))
        x, y, yaw = e.pose
        assert np.hypot(x, y) == pytest.approx(0.1, abs=1e-4)
        assert np.degrees(np.arctan2(y, x)) == pytest.approx(30.0 + np.degrees(0.005), abs=0.05)
        assert yaw == pytest.approx(0.01)
        e.reset(seed=0, options={"scenario": "1box_hori_left_core_medium"})
        e.step(np.array([0, -1.15, 0], np.float32))
        assert np.hypot(*e.pose[:2]) == pytest.approx(0.08, abs=1e-4) and e.pose[1] < 0
    finally:
        e.close()


def test_continuous_mode_scales_with_magnitude():
    robot = {**IDEAL_DRIVER, "control_mode": "continuous"}
    e = MobileNavEnv(config={"randomization": {"enabled": False}, "robot": robot})
    try:
        e.reset(seed=0, options={"scenario": "1box_hori_left_core_medium"})
        e.step(np.array([0.575, 0, 0], np.float32))
        assert e.pose[0] == pytest.approx(0.06)
    finally:
        e.close()


def test_collision_ends_episode_without_sliding():
    e = MobileNavEnv(config={"randomization": {"enabled": False}, "robot": {"press_yaw_rad": 0.0}})
    try:
        e.reset(seed=0, options={"scenario": "1box_hori_left_core_close"})
        for _ in range(17):
            _, _, terminated, truncated, info = e.step(np.array([1.15, 0, 0], np.float32))
            if terminated or truncated:
                break
        assert terminated and info["collision"] and info["failure_reason"] == "collision"
        assert info["collided_with"] == ["box_0"]
        box = e.scenario.obstacles[0]
        # Stopped in front of the box face, not pushed into or past it.
        assert e.pose[0] + e.config.robot.radius <= box.x - box.half_extents[0] + 1e-6
        assert e.pose[1] == pytest.approx(0.0)
        with pytest.raises(RuntimeError, match="reset"):
            e.step(np.zeros(3, np.float32))
    finally:
        e.close()


def test_stop_in_goal_terminates_with_success():
    e = MobileNavEnv(config={"randomization": {"enabled": False}, "max_steps": 20})
    try:
        from sim.protocol import CORE_SEQUENCES, keys_to_actions

        e.reset(seed=0, options={"scenario": "1box_hori_left_core_medium"})
        for action in keys_to_actions(CORE_SEQUENCES["left"]):
            e.step(action)
        _, _, terminated, truncated, info = e.step(np.zeros(3, np.float32))
        assert info["in_goal"] and terminated and not truncated and info["success"]
    finally:
        e.close()


def test_unknown_scenario_lists_valid_names(env):
    with pytest.raises(ValueError, match="1box_hori_left_core_medium"):
        env.reset(seed=0, options={"scenario": "box_hori_left"})
    with pytest.raises(ValueError, match="'diag' is not one of hori, vert"):
        env.reset(seed=0, options={"scenario": "1box_diag_left_core_medium"})


def test_unknown_suite_lists_available():
    with pytest.raises(ValueError, match="bottle_2025"):
        load_suite("no_such_suite")


def test_unknown_reset_option(env):
    with pytest.raises(ValueError, match="scenario, instruction"):
        env.reset(seed=0, options={"scenaro": "x"})


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("scenarios: [a, b]\n", "scenarios"),
        ("scenarios:\n  1box_hori_left_core_nearby: 1\n", "matches no scenario"),
        ("scenarios:\n  1box_hori_left_core_medium: -2\n", "weight"),
        ("scenarios: {\n", "not valid YAML"),
    ],
)
def test_malformed_suite_files(tmp_path, content, match):
    path = tmp_path / "mine.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as err:
        load_suite(str(path))
    assert "mine.yaml" in str(err.value)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"robot": {"speed_m_s": -1}}, r"robot.speed_m_s=-1"),
        ({"robot": {"control_mode": "joystick"}}, "key_press, continuous"),
        ({"camera": {"width": 3}}, "camera.width=3"),
        ({"camera": {"pitch_deg": 120}}, "pitch_deg"),
        ({"max_steps": 0}, "max_steps=0"),
        ({"robot": {"sped": 1}}, "valid keys: .*speed_m_s"),
        ({"randomization": {"max_distractors": 9}}, "max_distractors=9"),
    ],
)
def test_invalid_config_values_name_the_value(values, match):
    with pytest.raises(ValueError, match=match):
        sim_config(values)


def test_suite_proportions_are_exact_per_cycle():
    suite = load_suite("bottle_2025")
    cycle = suite.cycle()
    names = [suite.scenario_for(i, 3) for i in range(len(cycle) * 2)]
    left = sum("_left_" in n for n in names)
    assert left == len(names) // 2
    core = sum("_core_" in n for n in names)
    assert core / len(names) == pytest.approx(0.6)
    assert names == [suite.scenario_for(i, 3) for i in range(len(names))]


def test_the_plan_suite_has_the_teams_planned_distance_mix():
    """core 150 = close 50 / medium 75 / far 25, variant 100 = 25 / 25 / 50 per scenario family."""
    share = {}
    for name, p in load_suite("bottle_2025_plan").proportions().items():
        key = tuple(name.split("_")[3:5])
        share[key] = share.get(key, 0.0) + p
    planned = {("core", "close"): 50, ("core", "medium"): 75, ("core", "far"): 25}
    planned |= {("variant", "close"): 25, ("variant", "medium"): 25, ("variant", "far"): 50}
    assert share == pytest.approx({k: v / 250 for k, v in planned.items()})


def test_every_scenario_builds_and_resets(env):
    for name in all_scenario_names():
        obs, info = env.reset(seed=0, options={"scenario": name})
        assert info["scenario"] == name and not info["in_goal"]


def test_custom_suite_mapping():
    suite = suite_from_mapping(
        "mine", {"scenarios": {"target_*_left_path": 2, "target_center_straight_path": 1}}
    )
    assert len(suite.scenarios) == 4 and suite.proportions()["target_center_straight_path"] == pytest.approx(
        1 / 7
    )
    # every block of 7 consecutive episodes draws each scenario exactly its weight times
    for seed in (0, 5):
        counts = Counter(suite.scenario_for(i, seed) for i in range(7, 14))
        left_path = {n: 2 for n in suite.scenarios if n.endswith("_left_path")}
        assert counts == {"target_center_straight_path": 1, **left_path}
