"""One contract over every policy ``make_policy`` knows (each ``configs/policy/*.yaml`` entry, which together
use every registered type, ``remote`` and ``mean_action`` included): made by name, ``reset`` / ``act`` on
real env observations, one finite float32 command of shape (3,) within the command limits,
``last_timing`` filled, a description naming the policy and the action keys, units and limits, and the
same actions again after a reseeded reset and from a second instance (no hidden global state)."""

from __future__ import annotations

import contextlib
import math
import os

import numpy as np
import pytest

from policies import Policy, StepTiming, make_policy, registered_policies
from policies.base import ACTION_KEYS, ACTION_LIMITS, ACTION_UNITS, describe_policy
from policies.factory import _BUILTIN_MODULES, _LAZY_TYPES, _config_names, policy_config

ENV_CONFIG = {"camera": {"width": 64, "height": 36}}
STEPS = 4
SCENARIO = "1box_hori_left_core_medium"
FULLSIZE = "vla_fullsize_random"
REMOTE = "remote"
SERVED = "random"
ARGUMENTS = {"mean_action": {"mean": [0.5, -0.2, 0.0]}}
"""Arguments a config leaves to the user (``mean_action`` needs a mean or a stats file)."""


def _arguments(name: str, tiny_dir, stack: contextlib.ExitStack) -> dict:
    args = dict(ARGUMENTS.get(name, {}))
    if name == REMOTE:  # a seeded, image-blind policy served on loopback for the test's lifetime
        from tests.server_helpers import served

        _, handle = stack.enter_context(served(lambda: make_policy(SERVED)))
        args["url"] = handle.url
    backbone = policy_config(name).get("model", {}).get("backbone", {})
    if backbone.get("init") == "tiny":  # build on the session's tiny backbone, not into the repository
        args["model"] = {"backbone": {"path": str(tiny_dir)}}
    return args


def _drive(env, policy, seed: int) -> list[np.ndarray]:
    obs, _ = env.reset(seed=seed, options={"scenario": SCENARIO})
    if hasattr(policy, "seed"):
        policy.seed(seed)
    policy.reset(obs["instruction"])
    actions = []
    for _ in range(STEPS):
        if getattr(policy, "privileged", False):
            obs = {**obs, "state": env.privileged_state()}
        action = policy.act(obs)
        actions.append(action)
        timing = policy.last_timing
        assert isinstance(timing, StepTiming) and math.isfinite(timing.total_ms) and timing.total_ms > 0
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            break
    return actions


def _make(name: str, tiny_dir, stack: contextlib.ExitStack) -> Policy:
    try:
        policy = make_policy(name, **_arguments(name, tiny_dir, stack))
    except FileNotFoundError as exc:  # checkpoints or base models that are not shipped with the bench
        pytest.skip(f"{name} needs files that are absent here: {exc}")
    assert isinstance(policy, Policy) and policy.name == name
    return policy


def test_the_configs_cover_every_registered_type():
    import importlib

    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    types = {t for t in registered_policies() if not t.startswith("test_")} | set(_LAZY_TYPES)
    used = {policy_config(name)["type"] for name in _config_names()}
    assert types <= used, f"registered types without a config entry: {sorted(types - used)}"
    assert {"scripted", "replay", "random", "vla", "mean_action", "remote"} <= types


@pytest.mark.parametrize("name", _config_names())
def test_policy_contract(name, env, tiny_dir):
    if name == FULLSIZE and not os.environ.get("MVLA_TEST_FULLSIZE"):
        pytest.skip("full-size Kosmos-2 with random weights (1.6 B parameters, several GB): set "
                    "MVLA_TEST_FULLSIZE=1 to include it")
    with contextlib.ExitStack() as stack:
        policy = _make(name, tiny_dir, stack)
        first = _drive(env, policy, seed=3)
        again = _drive(env, policy, seed=3)
        fresh = _drive(env, _make(name, tiny_dir, stack), seed=3)
        description = describe_policy(policy)
    assert first, "no action"
    lo, hi = np.array(ACTION_LIMITS, np.float32).T
    for action in first:
        assert isinstance(action, np.ndarray) and action.shape == (3,) and action.dtype == np.float32
        assert np.all(np.isfinite(action)) and np.all((lo <= action) & (action <= hi)), action
    for other in (again, fresh):
        assert len(other) == len(first)
        assert all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    # a remote policy describes what is served (here ``random``): results record the policy that drove
    assert description["name"] == (SERVED if name == REMOTE else name)
    assert description["action"] == {
        "keys": list(ACTION_KEYS),
        "units": ACTION_UNITS,
        "limits": [list(pair) for pair in ACTION_LIMITS],
    }
