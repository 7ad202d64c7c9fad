"""One error path for every command: library code raises, ``run_main`` prints ``error: …`` and returns 2.

Library errors derive from ``BenchError`` (a config error also from ``ValueError``, so callers that catch
``ValueError`` keep working). ``run_main`` also maps the standard errors bad input raises (``ValueError``,
``KeyError``, ``OSError``) to the same one-line message, so no command prints a traceback for bad input.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


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
