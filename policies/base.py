"""The policy interface every policy of the bench implements, and the registry that makes them by name.

A policy sees what the real robot's node sees: an observation ``{"rgb": (H, W, 3) uint8 RGB,
"instruction": str}`` (privileged policies may also read ``obs["state"]``, which real robots lack) and
returns one command ``[linear_x, linear_y, angular_z]`` (float32, robot frame, teleop units).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from sim.protocol import NOMINAL

OBS_RGB = "rgb"
OBS_INSTRUCTION = "instruction"
OBS_STATE = "state"
"""Privileged simulator state (scene geometry and robot pose); only scripted experts read it."""

ACTION_KEYS = ("linear_x", "linear_y", "angular_z")
"""Names of the three action components, robot frame (x forward, y left, z up)."""
ACTION_UNITS = "teleop"
"""Action units: the real teleop node's numbers (±1.15 per axis), not metres per second."""
ACTION_LIMITS = ((-NOMINAL, NOMINAL),) * 3
"""Per-axis ``[lo, hi]`` command limits, in teleop units (the env's action space)."""


def default_description(name: str) -> dict[str, Any]:
    """The ``describe()`` of a policy that has no checkpoint, no preprocessing and no fixed image size."""
    return {
        "name": name,
        "checkpoint_hash": None,
        "preprocessing": None,
        "action": {
            "keys": list(ACTION_KEYS),
            "units": ACTION_UNITS,
            "limits": [list(pair) for pair in ACTION_LIMITS],
        },
        "image": None,
    }


def describe_policy(policy: Any) -> dict[str, Any]:
    """``policy.describe()`` when it has one, else the default description under its ``name``."""
    describe = getattr(policy, "describe", None)
    if callable(describe):
        return describe()
    return default_description(str(getattr(policy, "name", type(policy).__name__)))


@dataclass
class StepTiming:
    """Per-step wall-clock time of one ``act`` call, by component, in milliseconds."""

    preprocess_ms: float = 0.0
    vlm_ms: float = 0.0
    head_ms: float = 0.0
    postprocess_ms: float = 0.0
    total_ms: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float]:
        return {
            "preprocess_ms": self.preprocess_ms,
            "vlm_ms": self.vlm_ms,
            "head_ms": self.head_ms,
            "postprocess_ms": self.postprocess_ms,
            "total_ms": self.total_ms,
            **self.extra,
        }


@runtime_checkable
class Policy(Protocol):
    """``reset(instruction)`` at each episode start, then ``act(obs)`` once per control step."""

    name: str

    def reset(self, instruction: str) -> None: ...

    def act(self, obs: dict[str, Any]) -> np.ndarray: ...


class BasePolicy:
    """Convenience base: stores the instruction and times ``act`` into ``last_timing``."""

    name = "base"
    privileged = False
    """True when the policy reads ``obs["state"]`` (simulator ground truth)."""

    def __init__(self) -> None:
        self.instruction = ""
        self.last_timing = StepTiming()

    def seed(self, seed: int) -> None:
        """Re-seed any internal randomness; the runner calls this with each episode's seed."""

    def reset(self, instruction: str) -> None:
        self.instruction = instruction

    def describe(self) -> dict[str, Any]:
        """What a remote peer must agree on before using this policy (the policy server's ``hello``).

        Keys: ``name``; ``checkpoint_hash`` (None without a checkpoint); ``preprocessing`` (None, or
        ``{"profile": name, "hash": sha256 of its canonical settings JSON, **settings}``); ``action``
        (``keys``, ``units``, per-axis ``limits`` in teleop units); ``image`` (None when any size is
        accepted, else ``{"shape": [H, W, 3], "dtype": "uint8", "channel_order": "RGB"}``).
        Checkpoint policies override it.
        """
        return default_description(self.name)

    def act(self, obs: dict[str, Any]) -> np.ndarray:
        start = time.perf_counter()
        action = np.asarray(self._act(obs), dtype=np.float32)
        self.last_timing = StepTiming(total_ms=(time.perf_counter() - start) * 1e3)
        return action

    def _act(self, obs: dict[str, Any]) -> np.ndarray:
        raise NotImplementedError


_REGISTRY: dict[str, Callable[..., Policy]] = {}


def register_policy(name: str) -> Callable[[Callable[..., Policy]], Callable[..., Policy]]:
    """Class or factory decorator: ``@register_policy("scripted")`` makes it available to ``make_policy``."""

    def decorate(factory: Callable[..., Policy]) -> Callable[..., Policy]:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"policy name {name!r} is already registered by {_REGISTRY[name]!r}")
        _REGISTRY[name] = factory
        return factory

    return decorate


def registered_policies() -> dict[str, Callable[..., Policy]]:
    return dict(_REGISTRY)
