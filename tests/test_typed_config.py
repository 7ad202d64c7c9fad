"""``common.typed_config``: the one typed loader and its one error format (sim, policy and VLA configs)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import pytest

from common.cli import ConfigError
from common.typed_config import from_dict
from policies import make_policy
from sim.config import sim_config


@dataclass(frozen=True)
class Inner:
    n: int = 1
    kind: Literal["a", "b"] = "a"


@dataclass(frozen=True)
class Outer:
    x: float = 0.5
    name: str | None = None
    sizes: tuple[int, ...] = ()
    inner: Inner = field(default_factory=Inner)


def test_values_are_checked_converted_and_nested():
    cfg = from_dict(Outer, {"x": 2, "sizes": [1, 2], "inner": {"kind": "b"}}, "f.yaml")
    assert cfg == Outer(x=2.0, sizes=(1, 2), inner=Inner(kind="b")) and isinstance(cfg.x, float)
    assert from_dict(Outer, None) == Outer()


@pytest.mark.parametrize(
    ("data", "exc", "message"),
    [
        ({"x": "big"}, TypeError, "f.yaml.x='big' is invalid: expected a number"),
        ({"x": True}, TypeError, "f.yaml.x=True is invalid: expected a number"),
        ({"inner": {"n": 2.5}}, TypeError, "f.yaml.inner.n=2.5 is invalid: expected an int"),
        ({"inner": {"kind": "c"}}, ValueError, "f.yaml.inner.kind='c' is invalid: expected one of a, b"),
        ({"sizes": [1, "2"]}, TypeError, "f.yaml.sizes[1]='2' is invalid: expected an int"),
        ({"inner": {"m": 1}}, KeyError, "f.yaml.inner: unknown key(s) ['m']; valid keys: kind, n"),
        ({"name": 3}, TypeError, "f.yaml.name=3 is invalid: expected a string or null"),
    ],
)
def test_one_error_format_naming_key_value_and_expectation(data, exc, message):
    with pytest.raises(ConfigError) as info:
        from_dict(Outer, data, "f.yaml")
    assert isinstance(info.value, exc)  # callers catching the standard types keep working
    assert str(info.value) == message


def test_sim_config_uses_it():
    with pytest.raises(ConfigError, match=re.escape("env.camera.width=3.5 is invalid: expected an int")):
        sim_config({"camera": {"width": 3.5}})
    with pytest.raises(ConfigError, match=re.escape("env.robot: unknown key(s) ['sped']; valid keys: ")):
        sim_config({"robot": {"sped": 1}})
    assert sim_config({"robot": {"radius": 1}}).robot.radius == 1.0
    # range checks of the dataclass: the same format and type
    expected = "robot.radius=-1.0 is invalid: expected a finite number > 0"
    with pytest.raises(ConfigError, match=re.escape(expected)):
        sim_config({"robot": {"radius": -1}})


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        ("scripted", {"variation": "abc"}, "policy.variation='abc' is invalid: expected a number"),
        ("scripted", {"style": 3}, "policy 'scripted': policy.style=3 is invalid: expected a string"),
        ("random", {"seed": "x"}, "policy 'random': policy.seed='x' is invalid: expected an int"),
    ],
)
def test_policy_arguments_are_checked_in_the_same_format(name, overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        make_policy(name, **overrides)
