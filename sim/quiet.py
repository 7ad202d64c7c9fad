"""Silence C-level stdout noise (PyBullet prints ``argv[0]=`` and its build time on connect)."""

from __future__ import annotations

import contextlib
import os
import sys


def _flush_c_stdio() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def suppress_c_stdout():
    """Redirect file descriptor 1 to /dev/null for the duration (Python-level output is flushed first)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), fd)
        yield
    finally:
        _flush_c_stdio()
        os.dup2(saved, fd)
        os.close(saved)
