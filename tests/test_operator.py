"""The ``operator`` expert style: the real operators' rhythm, derived from the geometry, closed loop."""

from __future__ import annotations

import numpy as np
import pytest

from datagen.expert_rollout import FramelessNavEnv, key_string
from policies.operator_plans import (
    TEMPLATES_PATH,
    block_counts,
    compositions,
    load_templates,
    plan_distance,
    segment_body_distance,
    templates_path,
)
from policies.scripted import ScriptedExpert
from sim.scene import Obstacle

DOMINANT = {"left": "wwaqqqqqqqwweeeww", "right": "wwwdeeeeeewwwwqqq"}
"""The team's most common real sequence per side (configs/operator/real_sequences.yaml)."""


def drive(env, expert, scenario: str, seed: int) -> tuple[str, dict]:
    env.reset(seed=seed, options={"scenario": scenario})
    expert.seed(seed)
    expert.reset(env.scenario.instruction)
    keys, info = [], {}
    for _ in range(env.config.max_steps):
        obs = {"rgb": None, "instruction": env.scenario.instruction, "state": env.privileged_state()}
        action = expert.act(obs)
        keys.append(key_string(action[None])[0])
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    return "".join(keys), info


def test_every_real_sequence_follows_the_block_grammar():
    templates = load_templates()
    assert block_counts("W W A Q Q Q Q Q Q Q W W E E E W W", "left") == (2, 1, 7, 2, 3, 2)
    assert block_counts("W W W D E E E E E E W W W W Q Q Q", "right") == (3, 1, 6, 4, 3, 0)
    for side, (counts, weights) in templates.items():
        assert (counts.sum(axis=1) == 17).all() and (counts[:, 0] >= 1).all(), side
        assert weights[0] == weights.max()  # the dominant sequence comes first in the file
    with pytest.raises(ValueError, match="does not follow the left rhythm"):
        block_counts("W Q A", "left")


def test_compositions_and_distance():
    rows = compositions(3, 3)
    assert len(rows) == 10 and (rows.sum(axis=1) == 3).all() and len({tuple(r) for r in rows}) == 10
    ref = np.array([[2, 1, 7, 2, 3, 2]])
    plans = np.array([[2, 1, 7, 2, 3, 2], [1, 1, 7, 3, 3, 2], [2, 1, 8, 1, 3, 2]])
    # same plan 0; re-timing one W press 1; turning a W into a Q 2
    assert plan_distance(plans, ref)[:, 0].tolist() == [0.0, 1.0, 2.0]


def test_segment_distance_to_boxes_and_discs():
    box = Obstacle("box", 1.0, 0.5, 0.0, half_extents=(0.15, 0.25, 0.2))
    ax, ay, bx, by = (np.array([v]) for v in (0.0, 0.0, 2.0, 0.0))
    assert segment_body_distance(ax, ay, bx, by, box)[0] == pytest.approx(0.25)
    assert segment_body_distance(ax, ay + 0.5, bx, by + 0.5, box)[0] == 0.0  # straight through
    turned = Obstacle("box", 1.0, 0.5, np.pi / 2, half_extents=(0.15, 0.25, 0.2))
    assert segment_body_distance(ax, ay, bx, by, turned)[0] == pytest.approx(0.35)
    disc = Obstacle("bottle", 1.0, 0.3, radius=0.05)
    assert segment_body_distance(ax, ay, bx, by, disc)[0] == pytest.approx(0.25)


@pytest.mark.parametrize("side", ["left", "right"])
def test_plays_the_dominant_real_sequence_in_the_real_layout(side, calm_env):
    keys, info = drive(
        calm_env, ScriptedExpert(style="operator", variation=0.0), f"1box_hori_{side}_core_medium", 0
    )
    assert keys == DOMINANT[side] and info["success"]


def test_november_sequences_leave_out_the_december_left_set(calm_env):
    expert = ScriptedExpert(style="operator", variation=0.0, operator_sequences="real_sequences_2025_11")
    keys, info = drive(calm_env, expert, "1box_hori_left_core_medium", 0)
    assert keys == "wwwaqqqqqqqqwwwww" and info["success"]  # the November files' most common left run
    keys, info = drive(calm_env, expert, "1box_hori_right_core_medium", 0)
    assert keys == DOMINANT["right"] and info["success"]  # the right side was not re-recorded
    assert templates_path(None) == TEMPLATES_PATH
    with pytest.raises(ValueError, match="operator sequences='nov'.*real_sequences_2025_11"):
        ScriptedExpert(style="operator", operator_sequences="nov")


def test_variation_draws_around_the_real_spread(calm_env):
    env = calm_env
    expert = ScriptedExpert(style="operator", variation=0.6)
    seqs = [drive(env, expert, "1box_hori_left_core_medium", seed)[0] for seed in range(24)]
    assert seqs == [drive(env, expert, "1box_hori_left_core_medium", seed)[0] for seed in range(24)]
    top = max(set(seqs), key=seqs.count)
    assert top == DOMINANT["left"] and 0.4 <= seqs.count(top) / len(seqs) <= 0.9
    assert len(set(seqs)) >= 3


@pytest.mark.parametrize(
    "scenario",
    [
        "1box_hori_left_core_close",
        "1box_vert_right_variant_far",
        "2box_hori_right_core_medium",
        "2box_vert_left_variant_close",
        "target_center_straight_path",
        "target_right_right_path",
    ],
)
def test_closed_loop_rhythm_with_full_randomisation(scenario, random_env):
    env = random_env
    expert = ScriptedExpert(style="operator", variation=0.6)
    for seed in range(4):
        keys, info = drive(env, expert, scenario, seed)
        assert info["success"], (scenario, seed, keys, info["failure_reason"])
        assert keys[0] == "w" and len(keys) == 17 and "." not in keys, keys
        assert not expert.operator.handed_over


def test_preferred_end_radius_brings_plans_nearer_the_goal_centre(random_env):
    """``plan_end_within_m`` moves the chosen plans' ends towards the goal centre in far layouts (where
    17 presses leave little slack) without costing success or the rhythm."""
    env = random_env
    ends = {}
    for within in (None, 0.12):
        expert = ScriptedExpert(style="operator", variation=0.3, plan_end_within_m=within)
        ends[within] = []
        for seed in range(6):
            keys, info = drive(env, expert, "2box_hori_right_core_far", seed)
            assert info["success"] and keys[0] == "w" and len(keys) == 17 and "." not in keys, keys
            ends[within].append(info["distance_to_goal"])
    assert np.mean(ends[0.12]) < np.mean(ends[None]) - 0.03, ends
    with pytest.raises(ValueError, match="plan_end_within_m=0"):
        ScriptedExpert(style="operator", plan_end_within_m=0.0)


def test_plans_follow_the_robots_motion_model():
    """A shorter press (a recalibrated robot) changes the plan, not the success."""
    slow = FramelessNavEnv(
        config={"robot": {"speed_m_s": 0.27}, "randomization": {"enabled": False}}, render_mode=None
    )
    expert = ScriptedExpert(style="operator", variation=0.0)
    keys, info = drive(slow, expert, "1box_hori_right_core_medium", 0)
    assert info["success"] and keys != DOMINANT["right"] and keys[0] == "w" and "." not in keys
    slow.close()


def test_hands_over_when_the_rhythm_has_no_plan():
    """With 8 presses no block plan reaches the goal: the cost-to-go expert's key is returned instead."""
    env = FramelessNavEnv(config={"randomization": {"enabled": False}, "max_steps": 8}, render_mode=None)
    operator = ScriptedExpert(style="operator", variation=0.0)
    keys = ScriptedExpert(style="keys", variation=0.0)
    env.reset(seed=0, options={"scenario": "1box_hori_left_core_medium"})
    obs = {"rgb": None, "instruction": env.scenario.instruction, "state": env.privileged_state()}
    for expert in (operator, keys):
        expert.reset(env.scenario.instruction)
    assert np.array_equal(operator.act(obs), keys.act(obs))
    assert operator.operator.handed_over
    env.close()
