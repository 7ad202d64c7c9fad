"""Per-step latency: raw samples per episode, warm-up kept apart, statistics from the stored samples."""

from __future__ import annotations

import pytest

from eval import step_latency
from eval.targets import LATENCY_WARMUP_CALLS


def _row(samples, warmup=(), steps=None, counts=None):
    ep = step_latency.EpisodeLatency()
    for v in warmup:
        ep.add({"total_ms": v, "vlm_ms": v / 2, "frames_encoded": 1.0}, warmup=True)
    for v in samples:
        ep.add({"total_ms": v, "vlm_ms": v / 2, "frames_encoded": 1.0}, warmup=False)
    return {"steps": steps or len(samples) + len(warmup), **ep.row_fields()}


def test_summary_statistics_are_those_of_the_stored_per_step_samples():
    # Three episodes: 1..40, 41..70 and 71..100 ms (100 steps), plus 2 slow warm-up calls in the first.
    rows = [
        _row(range(1, 41), warmup=(900.0, 450.0)),
        _row(range(41, 71)),
        _row(range(71, 101)),
    ]
    fields = step_latency.summary_fields(rows)
    total = fields["latency_ms"]["total_ms"]
    # by hand: linear-interpolated percentiles of 1..100: p50 = 50.5, p95 = 95.05; max = the slowest
    # stored (non-warm-up) step, not an episode mean (episode means are 20.5, 55.5 and 85.5)
    assert total == {"p50": 50.5, "p95": pytest.approx(95.05), "max": 100.0, "mean": 50.5, "n": 100}
    assert fields["latency_warmup"] == {"calls": 2, "max_ms": 900.0}
    assert fields["latency_target"]["pass"] is True and fields["latency_target"]["statistic"] == "p95"
    assert fields["latency_basis"] and "warm-up" in fields["latency_basis"]
    # a count is not a latency: frames_encoded leaves latency_ms and becomes a per-step mean
    assert "frames_encoded" not in fields["latency_ms"]
    assert fields["policy_counts_per_step"] == {"frames_encoded": 1.0}


def test_samples_are_stored_rounded_and_the_episode_summary_matches_them():
    row = _row([1.23456, 2.0, 180.009])
    assert row["latency_samples_ms"]["total_ms"] == [1.23, 2.0, 180.01]
    assert row["latency_ms"]["total_ms"]["max"] == 180.01


def test_old_rows_without_samples_give_no_per_step_figures():
    old = {
        "steps": 17,
        "latency_ms": {"total_ms": {"p50": 5.0, "p95": 5.1, "max": 5.1, "mean": 5.0, "n": 17}},
    }
    fields = step_latency.summary_fields([old, _row([1.0, 2.0])])
    assert fields["latency_basis"] is None and fields["latency_ms"] == {}
    assert fields["latency_target"]["pass"] is None


def test_warmup_counts_the_first_calls_of_each_policy_instance():
    class Policy:
        pass

    a, b = Policy(), Policy()
    flags_a = [step_latency.next_call_is_warmup(a) for _ in range(LATENCY_WARMUP_CALLS + 2)]
    assert flags_a == [True] * LATENCY_WARMUP_CALLS + [False, False]
    assert step_latency.next_call_is_warmup(b)  # a new instance (another worker) warms up again


def test_p95_of_450_ms_fails_the_target():
    # 90 steps at 100 ms, 10 at 450 ms: p50 100 ms would pass; p95 (between sorted steps 94 and 95,
    # both 450 ms) is 450 ms and fails the 200 ms bar
    rows = [_row([100.0] * 45 + [450.0] * 5), _row([450.0] * 5 + [100.0] * 45)]
    fields = step_latency.summary_fields(rows)
    assert fields["latency_ms"]["total_ms"]["p50"] == 100.0
    assert fields["latency_target"]["value_ms"] == 450.0 and fields["latency_target"]["pass"] is False
