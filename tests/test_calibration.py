"""The real core key sequences reach the goal in their calibrated sim scenarios (randomisation off)."""

from __future__ import annotations

import pytest

from envs import MobileNavEnv
from sim.protocol import CORE_SEQUENCES, keys_to_actions


@pytest.fixture(scope="module")
def calibrated_env():
    env = MobileNavEnv(config={"randomization": {"enabled": False}})
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
