"""One timestamp format for everything the bench writes: ISO 8601, UTC, whole seconds."""

from __future__ import annotations

import datetime as dt


def utc_now_iso() -> str:
    """The current time as ``2026-12-01T05:06:41+00:00`` (UTC, seconds)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
