"""Per-step policy latency in closed loop: raw samples per episode, warm-up, and their statistics.

Each results row keeps the raw per-step times of its episode (``latency_samples_ms``: component →
list of milliseconds rounded to 0.01 ms, one entry per control step that was not warm-up) and the
warm-up calls apart (``latency_warmup_ms``). Every statistic is computed from those stored samples,
so a summary's ``max`` is the slowest stored step and its ``p95`` the p95 of the stored steps. Rows
written before samples were stored carry only per-episode summaries; from them no per-step
percentile can be recovered, and ``pooled`` says so by returning None.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from eval.metrics import summarize_latency
from eval.targets import (
    LATENCY_STATISTIC,
    LATENCY_TARGET_MS,
    LATENCY_WARMUP_CALLS,
    latency_criterion,
    latency_passes,
)

SAMPLE_DECIMALS = 2
"""Stored samples are milliseconds rounded to 0.01 ms."""
SAMPLES_KEY, WARMUP_KEY, COUNTS_KEY = "latency_samples_ms", "latency_warmup_ms", "policy_counts"
BASIS = (
    f"per-step samples of every episode (own and mirrored instruction); the first {LATENCY_WARMUP_CALLS} "
    "act() calls of each policy instance (worker process) are warm-up and excluded"
)

_CALLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CALLS_BY_ID: dict[int, int] = {}


def next_call_is_warmup(policy: Any, warmup_calls: int = LATENCY_WARMUP_CALLS) -> bool:
    """Count one ``act`` call of ``policy``; True while it is among the instance's first ``warmup_calls``."""
    try:
        n = _CALLS.get(policy, 0)
        _CALLS[policy] = n + 1
    except TypeError:  # not weak-referenceable or not hashable: count by identity
        n = _CALLS_BY_ID.get(id(policy), 0)
        _CALLS_BY_ID[id(policy)] = n + 1
    return n < warmup_calls


def split_timing(parts: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """``(milliseconds, counts)``: timing entries named ``*_ms`` vs the rest (e.g. ``frames_encoded``)."""
    ms = {k: float(v) for k, v in parts.items() if k.endswith("_ms")}
    counts = {k: float(v) for k, v in parts.items() if not k.endswith("_ms")}
    return ms, counts


class EpisodeLatency:
    """Collects one episode's per-step timings: measured steps, warm-up calls and per-step counts."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}
        self.warmup: dict[str, list[float]] = {}
        self.counts: dict[str, float] = {}

    def add(self, parts: Mapping[str, float], warmup: bool) -> None:
        ms, counts = split_timing(parts)
        sink = self.warmup if warmup else self.samples
        for name, value in ms.items():
            sink.setdefault(name, []).append(round(value, SAMPLE_DECIMALS))
        for name, value in counts.items():
            self.counts[name] = self.counts.get(name, 0.0) + value

    def row_fields(self) -> dict[str, Any]:
        """The results-row fields: per-episode summaries, raw samples, warm-up samples, count totals."""
        return {
            "latency_ms": {name: summarize_latency(v) for name, v in self.samples.items()},
            SAMPLES_KEY: self.samples,
            WARMUP_KEY: self.warmup,
            COUNTS_KEY: self.counts,
        }


def has_samples(rows: Iterable[Mapping[str, Any]]) -> bool:
    """Whether every row stores raw per-step samples (rows of older results do not)."""
    rows = list(rows)
    return bool(rows) and all(SAMPLES_KEY in r for r in rows)


def pooled(rows: Iterable[Mapping[str, Any]], key: str = SAMPLES_KEY) -> dict[str, list[float]] | None:
    """Component → all rows' samples concatenated; None when a row lacks raw samples."""
    out: dict[str, list[float]] = {}
    for row in rows:
        if SAMPLES_KEY not in row:
            return None
        for name, values in (row.get(key) or {}).items():
            out.setdefault(name, []).extend(float(v) for v in values)
    return out


def summarize_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Per-step statistics of ``rows`` for the results summary (None without raw samples):
    ``{"components": {name: {p50, p95, max, mean, n}}, "warmup": {calls, max_ms}, "basis": ...}``."""
    rows = list(rows)
    samples = pooled(rows)
    if samples is None:
        return None
    warm = (pooled(rows, WARMUP_KEY) or {}).get("total_ms", [])
    return {
        "components": {name: summarize_latency(values) for name, values in samples.items()},
        "warmup": {"calls": len(warm), "max_ms": max(warm) if warm else None},
        "basis": BASIS,
    }


def latency_target(total: Mapping[str, Any] | None) -> dict[str, Any]:
    """The latency bar judged on the per-step statistic ``eval.targets`` names (``pass`` None: no data)."""
    return {
        "target_ms": LATENCY_TARGET_MS,
        "statistic": LATENCY_STATISTIC,
        "criterion": latency_criterion(),
        "value_ms": (total or {}).get(LATENCY_STATISTIC),
        "pass": latency_passes(total),
    }


def counts_per_step(rows: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Mean per control step of the policy's non-time counters (e.g. ``frames_encoded``)."""
    totals: dict[str, float] = {}
    steps = 0
    for r in rows:
        steps += int(r.get("steps", 0))
        for name, value in (r.get(COUNTS_KEY) or {}).items():
            totals[name] = totals.get(name, 0.0) + float(value)
    return {name: value / steps for name, value in totals.items()} if steps else {}


def summary_fields(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The latency part of a closed-loop summary. ``latency_basis`` is None (and ``latency_ms`` empty)
    when the rows hold no raw samples: per-step figures are then unavailable, never approximated."""
    rows = list(rows)
    stats = summarize_rows(rows)
    components = stats["components"] if stats else {}
    return {
        "latency_ms": components,
        "latency_basis": stats["basis"] if stats else None,
        "latency_warmup": stats["warmup"] if stats else None,
        "latency_target": latency_target(components.get("total_ms")),
        "policy_counts_per_step": counts_per_step(rows),
    }
