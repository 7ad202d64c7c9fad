"""Run folders shared by ``eval.closed_loop`` and ``datagen.generate``: the run record that guards a folder
against a rerun with another config (naming the keys that differ), and a lock so two runs cannot write into
one folder at once."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common.cli import BenchError

try:
    import fcntl
except ImportError:  # not POSIX: no locking (documented)
    fcntl = None  # type: ignore[assignment]


class RunDirError(BenchError):
    """A run folder belongs to another config, has an unreadable record or is in use by another run."""


def changed_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested mappings (a key missing on one side differs)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        keys = sorted(set(a) | set(b), key=str)
        return [k for key in keys for k in changed_keys(a.get(key), b.get(key), f"{prefix}{key}.")]
    return [] if a == b else [prefix.rstrip(".")]


def _value_at(data: Any, key: str) -> Any:
    for part in key.split("."):
        data = data.get(part) if isinstance(data, Mapping) else None
    return data


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def check_run_record(path: Path, config: Mapping[str, Any], *, counts: Mapping[str, int] = (),
                     ignore: Iterable[str] = (), what: str = "run") -> bool:
    """Check the record ``path`` (JSON with a ``config`` mapping) against ``config``.

    Keys in ``ignore`` never count as a difference. ``counts`` (e.g. ``{"episodes": 31}``) are top-level
    record fields a rerun may grow: the record is extended, never shrunk. Returns True when the caller must
    (re)write the record (absent, or a count grew). Raises ``RunDirError`` naming every differing key with
    its recorded and requested value, or an unreadable record.
    """
    if not path.exists():
        return True
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
        old_config = previous["config"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise RunDirError(f"{path} is unreadable ({exc}); delete it to start afresh") from exc
    skip = set(ignore)
    old = {k: v for k, v in old_config.items() if k not in skip}
    new = {k: v for k, v in config.items() if k not in skip}
    changed = changed_keys(old, new)
    if changed:
        shown = ", ".join(f"{k} ({_short(_value_at(old, k))} -> {_short(_value_at(new, k))})"
                          for k in changed[:8])
        more = f" and {len(changed) - 8} more" if len(changed) > 8 else ""
        raise RunDirError(
            f"{path.parent} holds a {what} with a different config (differing keys: {shown}{more}); "
            "rerun with the recorded values to resume or extend it, or choose another --out"
        )
    return any(int(previous.get(key, 0) or 0) < int(value) for key, value in dict(counts).items())


@contextmanager
def locked(out: Path, name: str | None = None, shared: bool = False, what: str = "run") -> Iterator[None]:
    """Hold a lock on the folder ``out`` for the block (``shared``: others may hold it shared too; ``name``:
    a separate lock ``out/.{name}.lock``, removed again on release, e.g. one per shard).

    Raises ``RunDirError`` at once when another process holds it. The operating system drops a lock when
    its holder dies (kill -9 included), so a crashed run never blocks a rerun. No-op off POSIX.
    """
    if fcntl is None:
        yield
        return
    path = Path(out) / f".{name}.lock" if name else Path(out)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666) if name else os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirError(
                f"{out} is in use by another {what} (it holds the lock on {path}); wait for it to finish "
                "or choose another --out"
            ) from None
        try:
            yield
        finally:
            if name and not shared:
                path.unlink(missing_ok=True)
    finally:
        os.close(fd)  # closing releases the lock
