"""Worker processes that never outlive the main process: a spawn-context ``ProcessPoolExecutor`` whose
workers exit when their parent dies, even by ``kill -9`` (which runs no clean-up in the parent).

On Linux a worker asks the kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``); on every
platform a daemon thread also polls the parent id and exits the worker once the parent is gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

PR_SET_PDEATHSIG = 1
POLL_S = 0.5
"""Seconds between the watchdog's checks of the parent id (the backstop where prctl is unavailable)."""


def die_with_parent(parent_pid: int) -> None:
    """Make the calling process exit when process ``parent_pid`` (its parent) dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watchdog", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(POLL_S)
    os._exit(1)


def _init(parent_pid: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    die_with_parent(parent_pid)
    if initializer is not None:
        initializer(*initargs)


def spawn_pool(workers: int, initializer: Callable[..., None] | None = None,
               initargs: tuple[Any, ...] = ()) -> ProcessPoolExecutor:
    """A spawn-context pool of ``workers`` processes running ``initializer(*initargs)`` first, each of
    which dies with this process."""
    return ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init,
                               initargs=(os.getpid(), initializer, initargs))
