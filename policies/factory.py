"""Make a policy from a name: a ``configs/policy/*.yaml`` entry or a registered type."""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Mapping
from typing import Any

from common import paths
from common.cli import ConfigError
from common.typed_config import checkable, coerce
from policies.base import Policy, registered_policies

CONFIG_DIR = paths.CONFIG_DIR / "policy"
"""``configs/policy/<name>.yaml``: the named policy configs."""

_BUILTIN_MODULES = ("policies.scripted", "policies.replay", "policies.random_policy")
_LAZY_TYPES = {
    "vla": "policies.vla.policy",
    "mean_action": "policies.mean_action",
    "remote": "policies.remote",
}
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
    return build_policy(merge_settings(policy_config(name), overrides), name)


def merge_settings(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in depth: a nested mapping updates the keys it names and keeps
    the others (``model={"window": 4}`` changes only ``model.window``); any other value replaces."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_settings(merged[key], value)
        else:
            merged[key] = value
    return merged


def check_arguments(factory: Any, arguments: Mapping[str, Any], name: str) -> dict[str, Any]:
    """``arguments`` checked against ``factory``'s signature: ``ConfigError`` naming ``policy.KEY`` when it
    takes no argument ``KEY`` (listing those it takes) or when a value does not fit the argument's type
    hint (``common.typed_config``'s one format; an int given for a float becomes a float). Factories
    with ``**kwargs`` or no inspectable signature are not checked."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return dict(arguments)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return dict(arguments)
    valid = [k for k, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(arguments) - set(valid))
    if unknown:
        raise ConfigError(
            f"policy {name!r} has no argument {', '.join(f'policy.{k}' for k in unknown)}; "
            f"its arguments: {', '.join(valid) or '(none)'}"
        )
    return {key: _typed(factory, key, value, name) for key, value in arguments.items()}


def _typed(factory: Any, key: str, value: Any, name: str) -> Any:
    try:
        hint = typing.get_type_hints(factory.__init__ if inspect.isclass(factory) else factory).get(key)
    except (NameError, TypeError):  # a hint naming a type the module imports only for type checking
        return value
    if hint is None or not checkable(hint):
        return value
    try:
        return coerce(value, hint, f"policy.{key}")
    except ConfigError as exc:
        raise ConfigError(f"policy {name!r}: {exc}") from None


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
    cfg = check_arguments(registry[policy_type], cfg, name)
    try:
        policy = registry[policy_type](**cfg)
    except TypeError as exc:  # a setting of the wrong type (the names were checked above)
        raise ConfigError(f"policy {name!r}: {exc}") from exc
    policy.name = name
    return policy
