"""One error path for every command: library code raises, ``run_main`` prints ``error: …`` and returns 2.

Library errors derive from ``BenchError`` (a config error also from ``ValueError``, so callers that catch
``ValueError`` keep working). ``run_main`` also maps the standard errors bad input raises (``ValueError``,
``KeyError``, ``OSError``) to the same one-line message, so no command prints a traceback for bad input.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


class BenchError(Exception):
    """Base of the bench's own errors; the message names the file, key or value and what was expected."""


class ConfigError(BenchError, ValueError):
    """A config key or value is wrong (unknown key, wrong type, out of range); the message names it."""


HANDLED = (BenchError, ValueError, KeyError, OSError)
"""Errors ``run_main`` turns into ``error: …`` (exit 2); anything else is a bug and keeps its traceback."""


def error_message(exc: BaseException) -> str:
    """The one-line message of ``exc`` (``KeyError``'s argument without repr quotes; lines joined)."""
    message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return "; ".join(lines) or type(exc).__name__


def run_main(fn: Callable[[], int | None], also: tuple[type[BaseException], ...] = ()) -> int:
    """Run a command body; bad input (``HANDLED``, plus ``also`` for commands whose libraries still signal
    bad input with other types) prints ``error: …`` on stderr and returns 2."""
    try:
        code = fn()
    except (*HANDLED, *also) as exc:
        print(f"error: {error_message(exc)}", file=sys.stderr)
        return 2
    return 0 if code is None else int(code)


def parse_assignments(items: Iterable[str], what: str, nested: bool = False) -> dict[str, Any]:
    """``["k=v", ...]`` → dict, values parsed as YAML scalars (``3`` → int, ``true`` → bool). With ``nested``
    a dotted key sets a nested value, deep-merged: ``model.window=4`` and ``model.dtype=fp32`` give
    ``{"model": {"window": 4, "dtype": "fp32"}}``. ``what`` names the flag in the error."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{what} {item!r}: expected key=value")
        parts = key.split(".") if nested else [key]
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{what} {item!r}: {part!r} was already set to a value, not a section")
            node = child
        try:
            node[parts[-1]] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"{what} {item!r}: the value is not a YAML scalar ({exc.problem})") from None
    return out


def policy_overrides(items: Iterable[str]) -> dict[str, Any]:
    """The policy arguments of a command line: ``policy.key=value`` items (dotted keys nest and deep-merge,
    as in ``eval.closed_loop``) → ``make_policy`` keyword arguments. A bare ``key=value`` is refused with
    the spelling to use, so every command speaks the same dialect."""
    items = list(items)
    bad = [i for i in items if not i.startswith("policy.")]
    if bad:
        raise ConfigError(
            f"override {bad[0]!r}: policy arguments are written policy.KEY=VALUE (e.g. policy.{bad[0]})"
        )
    return parse_assignments([i[len("policy."):] for i in items], "policy override", nested=True)


def default_out_dir(command: str, name: str) -> Path:
    """``runs/<command>/<name>``: where a command writes when ``--out`` is not given (a folder)."""
    from common.paths import RUNS_DIR

    return RUNS_DIR / command / name
