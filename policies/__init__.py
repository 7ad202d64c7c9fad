"""Policies behind one interface: ``make_policy(name, **overrides)`` → object with ``reset`` / ``act``.

Names resolve first through ``configs/policy/<name>.yaml`` (a ``type`` key naming a registered policy,
plus its keyword arguments), then through the registry itself. Heavy imports (torch, transformers,
peft) happen only when a VLA policy is made.
"""

from __future__ import annotations

from policies.base import (
    ACTION_KEYS,
    ACTION_LIMITS,
    ACTION_UNITS,
    OBS_INSTRUCTION,
    OBS_RGB,
    OBS_STATE,
    BasePolicy,
    Policy,
    StepTiming,
    default_description,
    describe_policy,
    register_policy,
    registered_policies,
)
from policies.factory import available_policies, build_policy, make_policy, policy_config

__all__ = [
    "ACTION_KEYS",
    "ACTION_LIMITS",
    "ACTION_UNITS",
    "OBS_INSTRUCTION",
    "OBS_RGB",
    "OBS_STATE",
    "BasePolicy",
    "Policy",
    "StepTiming",
    "available_policies",
    "build_policy",
    "default_description",
    "describe_policy",
    "make_policy",
    "policy_config",
    "register_policy",
    "registered_policies",
]
