"""Gymnasium environments of the bench; importing this package registers ``MobileVLA/Nav-v0``."""

from gymnasium.envs.registration import register, registry

from envs.nav_env import MobileNavEnv, validate_action
from envs.task import FAILURE_REASONS, NavTask
from envs.wrappers import LATENCY_MODES, CommandLatency

ENV_ID = "MobileVLA/Nav-v0"

if ENV_ID not in registry:
    register(id=ENV_ID, entry_point="envs.nav_env:MobileNavEnv", max_episode_steps=None)

__all__ = [
    "ENV_ID", "FAILURE_REASONS", "LATENCY_MODES", "CommandLatency", "MobileNavEnv", "NavTask",
    "validate_action",
]
