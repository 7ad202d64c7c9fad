"""The one typed loader of config dataclasses: a mapping (YAML, Hydra, JSON) → a frozen dataclass.

Keys are checked against the dataclass's fields, values against its type hints (nested dataclasses,
``Literal``, optional values, tuples, mappings, bool/int/float/str; an int is accepted for a float and
converted), then the dataclass validates ranges in ``__post_init__``. Every error is a ``ConfigError``
in one format, naming the dotted key, the value and what was expected::

    x.yaml:model.window='8' is invalid: expected an int
    env.robot: unknown key(s) ['sped']; valid keys: height, radius, ...

The unknown-key error is also a ``KeyError`` and the wrong-type error also a ``TypeError``, so callers
catching the standard types keep working.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from common.cli import ConfigError

T = TypeVar("T")


class UnknownKeyError(ConfigError, KeyError):
    """A config mapping has a key its dataclass does not know; the message lists the valid keys."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConfigTypeError(ConfigError, TypeError):
    """A config value has the wrong type; the message names the key, the value and the type expected."""


def invalid(where: str, value: Any, expected: str) -> str:
    """The one message format: ``{where}={value!r} is invalid: expected {expected}``."""
    return f"{where}={value!r} is invalid: expected {expected}"


def from_dict(cls: type[T], data: Mapping[str, Any] | T | None, where: str = "") -> T:
    """Build config dataclass ``cls`` from a mapping, checking keys and value types (see module doc).

    ``where`` names the mapping in errors (e.g. ``x.yaml:model``; default: the class name). ``None``
    gives the defaults; an instance of ``cls`` is returned as is.
    """
    where = where or cls.__name__
    if data is None:
        return cls()
    if isinstance(data, cls):
        return data
    if not isinstance(data, Mapping):
        raise ConfigTypeError(invalid(where, data, f"a mapping of {cls.__name__} settings"))
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise UnknownKeyError(f"{where}: unknown key(s) {unknown}; valid keys: {', '.join(sorted(known))}")
    kwargs = {key: coerce(value, hints[key], f"{where}.{key}") for key, value in data.items()}
    return cls(**kwargs)


def coerce(value: Any, hint: Any, where: str) -> Any:
    """``value`` checked against type ``hint`` (an int becomes a float for ``float``); ``ConfigError``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)  # type: ignore[arg-type]
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_null = [a for a in args if a is not type(None)]
        if len(non_null) == 1 and typing.get_origin(non_null[0]) in (dict, tuple):
            return coerce(value, non_null[0], where)  # keeps the inner error (which key, which item)
        for arg in non_null:
            try:
                return coerce(value, arg, where)
            except (TypeError, ValueError):  # ConfigError is a ValueError
                pass
        raise ConfigTypeError(invalid(where, value, describe(hint)))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigTypeError(invalid(where, value, "a mapping"))
        key_hint, value_hint = args
        return {
            coerce(k, key_hint, f"{where} key"): coerce(v, value_hint, f"{where}.{k}")
            for k, v in value.items()
        }
    if origin is Literal:
        if value not in args:
            raise ConfigError(invalid(where, value, f"one of {', '.join(map(str, args))}"))
        return value
    if origin is tuple:
        return _tuple(value, args, hint, where)
    return _scalar(value, hint, where)


def _tuple(value: Any, args: tuple[Any, ...], hint: Any, where: str) -> tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        raise ConfigTypeError(invalid(where, value, describe(hint)))
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
    if len(value) != len(args):
        raise ConfigError(invalid(where, value, f"{len(args)} values"))
    return tuple(coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))


_SCALARS: dict[Any, tuple[str, Any]] = {
    bool: ("true or false", lambda v: isinstance(v, bool)),
    int: ("an int", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    float: ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    str: ("a string", lambda v: isinstance(v, str)),
}


def _scalar(value: Any, hint: Any, where: str) -> Any:
    if hint is Any:
        return value
    if hint not in _SCALARS:
        raise ConfigTypeError(f"{where}: unsupported setting type {hint!r}")
    expected, ok = _SCALARS[hint]
    if not ok(value):
        raise ConfigTypeError(invalid(where, value, expected))
    return float(value) if hint is float else value


def checkable(hint: Any) -> bool:
    """Whether ``coerce`` can check ``hint`` (built from scalars, ``Literal``, unions, tuples, dicts,
    dataclasses); other hints (arrays, callables, ``Mapping``) are left to the code that takes them."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType, tuple, dict):
        return all(a is Ellipsis or checkable(a) for a in typing.get_args(hint))
    simple = hint in _SCALARS or hint in (Any, type(None))
    return origin is Literal or simple or dataclasses.is_dataclass(hint)


def describe(hint: Any) -> str:
    """A type hint in words (``an int or null``, ``one of fp32, bf16``)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in typing.get_args(hint))
    if origin is tuple:
        args = typing.get_args(hint)
        return f"a list of {describe(args[0])}" if args else "a list"
    if origin is dict:
        return "a mapping"
    if origin is Literal:
        return f"one of {', '.join(map(str, typing.get_args(hint)))}"
    if hint is type(None):
        return "null"
    if hint in _SCALARS:
        return _SCALARS[hint][0]
    return getattr(hint, "__name__", str(hint))
