"""Make a policy from a name: a ``configs/policy/*.yaml`` entry or a registered type."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from policies.base import Policy, registered_policies

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "policy"

_BUILTIN_MODULES = ("policies.scripted", "policies.replay", "policies.random_policy")
_LAZY_TYPES = {"vla": "policies.vla", "mean_action": "policies.vla", "remote": "policies.remote"}
"""Policy types whose module is imported only when such a policy is made (torch and friends)."""


def _import_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def _config_names() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")) if CONFIG_DIR.is_dir() else []


def available_policies() -> list[str]:
    """Every name ``make_policy`` accepts: config entries and registered types."""
    _import_builtins()
    return sorted(set(_config_names()) | set(registered_policies()) | set(_LAZY_TYPES))


def policy_config(name: str) -> dict[str, Any]:
    """The ``configs/policy/<name>.yaml`` entry as a dict (``{"type": name}`` for a bare type)."""
    path = CONFIG_DIR / f"{name}.yaml"
    if not path.is_file():
        return {"type": name}
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise ValueError(f"{path}: a policy config needs a 'type' key naming a policy type")
    return cfg


def make_policy(name: str, **overrides: Any) -> Policy:
    """Build the policy ``name`` (a config entry or a registered type) with keyword ``overrides``.

    Raises ``KeyError`` listing the known names when ``name`` is unknown.
    """
    _import_builtins()
    known = available_policies()
    if name not in known:
        raise KeyError(f"unknown policy {name!r}; known policies: {', '.join(known)}")
    return build_policy({**policy_config(name), **overrides}, name)


def build_policy(config: dict[str, Any], name: str | None = None) -> Policy:
    """Build a policy from a config mapping ``{"type": registered type, **keyword arguments}``."""
    _import_builtins()
    cfg = dict(config)
    if "type" not in cfg:
        raise ValueError(
            f"policy config {cfg!r} has no 'type' key; known types: "
            f"{', '.join(sorted(set(registered_policies()) | set(_LAZY_TYPES)))}"
        )
    policy_type = cfg.pop("type")
    name = name or str(policy_type)
    if policy_type in _LAZY_TYPES:
        importlib.import_module(_LAZY_TYPES[policy_type])
    registry = registered_policies()
    if policy_type not in registry:
        raise KeyError(
            f"policy {name!r} has type {policy_type!r}, which is not registered; "
            f"registered types: {', '.join(sorted(registry))}"
        )
    policy = registry[policy_type](**cfg)
    policy.name = name
    return policy
