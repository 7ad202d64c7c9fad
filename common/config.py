"""Config composition for every command: Hydra ``configs/<name>.yaml`` + ``key=value`` overrides, with Hydra's
and OmegaConf's errors turned into ``ConfigError`` messages that name the key, and checked value getters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from common.cli import ConfigError
from common.paths import CONFIG_DIR

MAX_EPISODES = 1_000_000
"""Upper bound of an episode count (datagen's file names hold a 6-digit index); larger counts are refused
up front instead of exhausting memory while planning the run."""
_FULL_KEY = re.compile(r"full_key: (\S+)")
_MISSING_GROUP = re.compile(r"Could not find '([\w.-]+)/([^']*)'")


def quote_override_values(overrides: Sequence[str]) -> list[str]:
    """Quote override values that hold an ``=`` (Hydra's grammar rejects them unquoted), such as the
    checkpoint names ``training.train`` writes: ``policy.checkpoint=ckpts/epoch=03-val_loss=0.0123`` becomes
    ``policy.checkpoint='ckpts/epoch=03-val_loss=0.0123'``. Values already quoted, and values holding both
    quote characters, are left unchanged."""
    out = []
    for item in overrides:
        key, sep, value = item.partition("=")
        quoted = len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0]
        if sep and "=" in value and not quoted:
            quote = "'" if "'" not in value else '"'
            if quote not in value:
                item = f"{key}={quote}{value}{quote}"
        out.append(item)
    return out


def compose(config_name: str, overrides: Sequence[str] = (), config_dir: Path = CONFIG_DIR,
            return_hydra_config: bool = False):
    """``configs/<config_name>.yaml`` composed with Hydra ``key=value`` overrides.

    Raises ``ConfigError`` naming the override, the unknown key (with the keys its section has) or the
    unknown config group option (with the known ones).
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException

    overrides = quote_override_values(overrides)
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base=None):
            return hydra_compose(config_name=config_name, overrides=overrides,
                                 return_hydra_config=return_hydra_config)
    except OverrideParseException as exc:
        bad = next((o for o in overrides if "=" not in o), None)
        what = f"the override {bad!r} has no '='" if bad else f"cannot parse the overrides {overrides}"
        raise ConfigError(
            f"{what}: {str(exc).splitlines()[-2] if len(str(exc).splitlines()) > 1 else exc} (Hydra override "
            "grammar: key=value; quote values with special characters, e.g. 'policy.checkpoint=\"a b\"')"
        ) from None
    except MissingConfigException as exc:  # a subclass of ConfigCompositionException: handled first
        match = _MISSING_GROUP.search(str(exc))
        group = match.group(1) if match else None
        choices = sorted(p.stem for p in (config_dir / group).glob("*.yaml")) if group else []
        value = match.group(2) if match else "?"
        raise ConfigError(
            f"unknown {group or 'config'} {group}={value}; known {group} configs: {', '.join(choices)} "
            f"(configs/{group}/*.yaml)" if group else f"{config_name}: {exc}"
        ) from None
    except ConfigCompositionException as exc:
        cause = str(exc.__cause__ or "")
        key_match = _FULL_KEY.search(cause)
        if key_match and "not in struct" in cause:
            key = key_match.group(1)
            override = next((o for o in overrides if _override_key(o) == key), None) or next(
                (o for o in overrides if _override_key(o).startswith(f"{key}.")), None)
            if override is not None:
                key = _override_key(override)
                known = _known_keys(config_name, [o for o in overrides if o != override], config_dir, key)
                raise ConfigError(
                    f"unknown config key {key!r} (override {override!r}){known}; "
                    f"to add a key that the config does not have, write +{override.lstrip('+')}"
                ) from None
        detail = f" ({exc.__cause__})" if exc.__cause__ else ""
        raise ConfigError(" ".join(f"{exc}{detail}".split())) from None


def _override_key(override: str) -> str:
    return override.lstrip("+~").partition("=")[0]


def _known_keys(config_name: str, overrides: Sequence[str], config_dir: Path, key: str) -> str:
    """``; keys of SECTION: a, b, c`` for the section holding ``key`` (empty when it cannot be found)."""
    from omegaconf import DictConfig, OmegaConf

    section, _, _ = key.rpartition(".")
    try:
        cfg = compose(config_name, overrides, config_dir)
    except ConfigError:
        return ""
    node = OmegaConf.select(cfg, section) if section else cfg
    while section and not isinstance(node, DictConfig):  # list the deepest section that exists
        section = section.rpartition(".")[0]
        node = OmegaConf.select(cfg, section) if section else cfg
    if not isinstance(node, DictConfig):
        return ""
    return f"; keys of {section or 'the config'}: {', '.join(sorted(str(k) for k in node))}"


# ------------------------------------------------------------------------------------ checked values
def _lookup(cfg: Any, key: str) -> Any:
    node = cfg
    for part in key.split("."):
        node = node.get(part) if isinstance(node, Mapping) or hasattr(node, "get") else None
    return node


def get_int(cfg: Any, key: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``cfg[key]`` (dotted) as an int in [minimum, maximum]; ``ConfigError`` naming the key otherwise."""
    value = _lookup(cfg, key)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key}={value!r} is invalid: expected an integer{_range(minimum, maximum)}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigError(f"{key}={value!r} is invalid: expected an integer{_range(minimum, maximum)}")
    return int(value)


def get_float(cfg: Any, key: str, minimum: float | None = None, maximum: float | None = None,
              positive: bool = False) -> float:
    """``cfg[key]`` as a finite float in [minimum, maximum] (``positive``: > 0); ``ConfigError`` naming it."""
    value = _lookup(cfg, key)
    bounds = " > 0" if positive else _range(minimum, maximum)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or (positive and value <= 0) or (minimum is not None and value < minimum) \
            or (maximum is not None and value > maximum):
        raise ConfigError(f"{key}={value!r} is invalid: expected a finite number{bounds}")
    return float(value)


def get_bool(cfg: Any, key: str) -> bool:
    """``cfg[key]`` as a bool (true/false); ``ConfigError`` naming the key otherwise."""
    value = _lookup(cfg, key)
    if not isinstance(value, bool):
        raise ConfigError(f"{key}={value!r} is invalid: expected true or false")
    return value


def get_choice(cfg: Any, key: str, choices: Sequence[str]) -> str:
    """``cfg[key]`` as one of ``choices``; ``ConfigError`` listing them otherwise."""
    value = _lookup(cfg, key)
    if value not in choices:
        raise ConfigError(f"{key}={value!r} is invalid: expected one of {', '.join(choices)}")
    return str(value)


def _range(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in {minimum}..{maximum}"
    if minimum is not None:
        return f" >= {minimum}"
    return f" <= {maximum}" if maximum is not None else ""
