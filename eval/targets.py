"""The test plan's pass/fail bars and decision rules, defined once (``docs/metrics.md``).

Every module that judges a figure against a bar imports it from here: the closed-loop summary and
report, ``eval.latency``, ``eval.open_loop`` and ``eval.compare``'s hypotheses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LATENCY_TARGET_MS = 200.0
"""T3-1: total policy time per control step must stay below this (milliseconds)..."""
LATENCY_STATISTIC = "p95"
"""...judged on this statistic of the per-step samples (warm-up excluded), everywhere."""
LATENCY_WARMUP_CALLS = 5
"""The first ``act`` calls of each policy instance (each worker process) are warm-up: lazy
initialisation, allocator and kernel start-up. They are kept apart and excluded from every statistic."""

RMSE_TARGET = 0.12
"""T3-3: open-loop RMSE in the model's normalised space must stay below this."""
SUCCESS_TARGET = 0.8
"""The plan's success bar (H5): the Wilson 95 % lower bound must exceed it."""
ALPHA = 0.05
"""Significance level of the two-sided tests (McNemar, the 95 % intervals)."""
NONINFERIORITY_MARGIN = 0.05
"""H2: LoRA may be at most this much (a fraction, 5 pp) worse than full fine-tuning."""


def latency_criterion(target_ms: float = LATENCY_TARGET_MS) -> str:
    """The latency bar in words, e.g. ``total per-step p95 < 200 ms``."""
    return f"total per-step {LATENCY_STATISTIC} < {target_ms:g} ms"


def latency_passes(total: Mapping[str, Any] | None, target_ms: float = LATENCY_TARGET_MS) -> bool | None:
    """Whether latency statistics ``{p50, p95, max, ...}`` of the total meet the bar (None: no data)."""
    value = (total or {}).get(LATENCY_STATISTIC)
    return None if value is None else float(value) < target_ms
