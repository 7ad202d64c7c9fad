"""Metrics against hand-computed cases (definitions in docs/metrics.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eval import metrics as m

Z = 1.96


# --------------------------------------------------------------------------- Wilson, trials needed


def test_wilson_at_zero_successes_is_exactly_zero_to_z2_over_n_plus_z2():
    lo, hi = m.wilson_interval(0, 10)
    assert lo == 0.0
    assert hi == pytest.approx(Z * Z / (10 + Z * Z))  # 3.8416 / 13.8416 = 0.27754


def test_wilson_at_all_successes_reaches_exactly_one():
    lo, hi = m.wilson_interval(10, 10)
    assert hi == 1.0
    assert lo == pytest.approx(10 / (10 + Z * Z))  # 0.72246


def test_wilson_matches_published_value_for_8_of_10():
    lo, hi = m.wilson_interval(8, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)


def test_wilson_zero_trials_is_uninformative_and_bad_counts_raise():
    assert m.wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="successes=5, trials=3"):
        m.wilson_interval(5, 3)


def test_trials_needed_is_smallest_n_reaching_the_half_width():
    # At p = 0: half-width = z² / (2 (n + z²)) <= 0.05  <=>  n >= z²/0.1 - z² = 34.57  ->  35.
    assert m.trials_needed(0.0) == 35
    assert m.trials_needed(1.0) == 35
    n = m.trials_needed(0.8)
    assert m.wilson_half_width(0.8, n) <= 0.05 < m.wilson_half_width(0.8, n - 1)
    # Close to the normal approximation z² p (1-p) / h² = 245.9 away from the edges.
    assert abs(n - Z * Z * 0.16 / 0.0025) < 3
    assert m.trials_needed(0.5) > n  # widest at p = 0.5
    with pytest.raises(ValueError, match="p must be in"):
        m.trials_needed(1.2)


def test_newcombe_difference_interval_matches_published_example():
    # Newcombe (1998), Stat Med 17:873, example (e): 56/70 vs 48/80 -> 0.2000, CI 0.0524 to 0.3339
    d, lo, hi = m.newcombe_diff_interval(56, 70, 48, 80)
    assert d == pytest.approx(0.2)
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)


# --------------------------------------------------------------------------- SPL, SoftSPL


def test_spl_straight_path_is_one_and_detour_is_ratio():
    assert m.spl(True, 2.0, 2.0) == 1.0
    assert m.spl(True, 2.0, 2.5) == pytest.approx(0.8)
    assert m.spl(False, 2.0, 2.0) == 0.0
    # Shorter than the shortest path (e.g. goal-region radius) is capped at 1.
    assert m.spl(True, 2.0, 1.9) == 1.0
    with pytest.raises(ValueError, match="path_length"):
        m.spl(True, 2.0, -1.0)


def test_soft_spl_progress_times_efficiency():
    # progress 1 - 0.5/2 = 0.75, efficiency 2/2.5 = 0.8
    assert m.soft_spl(0.5, 2.0, 2.5) == pytest.approx(0.6)
    assert m.soft_spl(0.0, 2.0, 2.0) == 1.0
    assert m.soft_spl(3.0, 2.0, 1.0) == 0.0  # ended farther than it started: clipped at 0
    assert m.soft_spl(0.0, 0.0, 0.0) == 1.0


# --------------------------------------------------------------------------- McNemar


def test_mcnemar_exact_on_known_table():
    # 8 pairs only A succeeded, 2 only B, 5 both, 5 neither: p = 2 (C(10,0)+C(10,1)+C(10,2)) / 2^10
    a = [True] * 8 + [False] * 2 + [True] * 5 + [False] * 5
    b = [False] * 8 + [True] * 2 + [True] * 5 + [False] * 5
    assert m.discordant_pairs(a, b) == (8, 2)
    assert m.mcnemar_exact(a, b) == pytest.approx(112 / 1024)
    assert m.mcnemar_exact(b, a) == pytest.approx(112 / 1024)  # two-sided


def test_mcnemar_one_sided_table_and_no_discordance():
    a = [False] * 6 + [True] * 4
    b = [True] * 6 + [True] * 4
    assert m.mcnemar_exact(a, b) == pytest.approx(2 / 64)
    assert m.mcnemar_exact([True, False], [True, False]) == 1.0
    with pytest.raises(ValueError, match="equal 1-D shapes"):
        m.mcnemar_exact([True], [True, False])


# --------------------------------------------------------------------------- ranking


def test_pearson_both_constant_is_one_and_one_constant_is_zero():
    assert m.pearson_r([0.5, 0.5, 0.5], [0.2, 0.2, 0.2]) == 1.0
    assert m.pearson_r([0.5, 0.5, 0.5], [0.1, 0.2, 0.3]) == 0.0
    assert m.pearson_r([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # the 1e-8 offset: centred s = r = [-1, 0, 1], Σsr = 2, denominator 2 + 1e-8
    assert m.pearson_r([1, 2, 3], [1, 2, 3]) == 2.0 / (2.0 + 1e-8)


def test_spearman_is_rank_based():
    assert m.spearman_rho([0.1, 0.2, 0.9], [0.0, 0.5, 0.51]) == pytest.approx(1.0)
    # ranks [1,2,3] vs [2,1,3]: centred [-1,0,1]·[0,-1,1] = 1, norms 2 and 2
    assert m.spearman_rho([1, 2, 3], [5, 4, 9]) == pytest.approx(0.5)


def test_mmrv_magnitude_comes_from_real_scores_so_argument_order_matters():
    sim, real = [0.0, 1.0], [0.6, 0.5]
    # both policies are violated by the other; |R0 - R1| = 0.1 for each: (0.1 + 0.1) / 2
    assert m.mmrv(sim, real) == pytest.approx(0.1)
    # swapped, the magnitude would be |S0 - S1| = 1.0
    assert m.mmrv(real, sim) == pytest.approx(1.0)


def test_mmrv_ties_count_as_not_greater():
    sim, real = [0.5, 0.5], [0.2, 0.8]
    # i=0, j=1: (0.5>0.5)=F, (0.2>0.8)=F -> no violation; i=1, j=0: F vs (0.8>0.2)=T -> |0.6|
    assert m.mmrv(sim, real) == pytest.approx(0.6 / 2)
    assert m.mmrv([0.1, 0.4, 0.7], [0.2, 0.3, 0.9]) == 0.0  # same order
    # three policies, one swap between policies 1 and 2 (real 0.3 vs 0.9)
    assert m.mmrv([0.1, 0.7, 0.4], [0.2, 0.3, 0.9]) == pytest.approx((0 + 0.6 + 0.6) / 3)


# --------------------------------------------------------------------------- Fréchet


def test_frechet_identical_gaussians_is_zero_and_shift_is_squared_norm():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 4))
    sigma = np.cov(a, rowvar=False)
    mu = a.mean(axis=0)
    assert m.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)
    shift = np.array([3.0, 4.0, 0.0, 0.0])
    assert m.frechet_distance(mu, sigma, mu + shift, sigma) == pytest.approx(25.0, abs=1e-8)


def test_frechet_one_dimensional_variances_and_singular_covariance():
    # N(0, 1) vs N(0, 4): 1 + 4 - 2 sqrt(4) = 1
    assert m.frechet_distance([0.0], [[1.0]], [0.0], [[4.0]]) == pytest.approx(1.0)
    singular = np.array([[1.0, 1.0], [1.0, 1.0]])
    assert m.frechet_distance([0, 0], singular, [0, 0], singular) == pytest.approx(0.0, abs=1e-5)
    zero = np.zeros((3, 3))
    assert m.frechet_distance(np.zeros(3), zero, np.ones(3), zero) == pytest.approx(3.0, abs=1e-5)


def test_frechet_from_features():
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(40, 3))
    assert m.frechet_from_features(feats, feats) == pytest.approx(0.0, abs=1e-8)
    assert m.frechet_from_features(feats, feats + np.array([1.0, 2.0, 2.0])) == pytest.approx(9.0)
    with pytest.raises(ValueError, match="N >= 2"):
        m.frechet_from_features(feats[:1], feats)


# --------------------------------------------------------------------------- open loop, latency


def test_rmse_and_mae_per_axis_and_overall():
    pred = np.array([[1.0, 0.0], [3.0, 0.0]])
    target = np.zeros((2, 2))
    r = m.rmse(pred, target)
    assert r == pytest.approx({"linear_x": math.sqrt(5.0), "linear_y": 0.0, "overall": math.sqrt(10 / 4)})
    assert m.mae(pred, target) == pytest.approx({"linear_x": 2.0, "linear_y": 0.0, "overall": 1.0})
    # The famous 0.15 offset: a perfect [-1,1] model compared with raw +-1.15 targets.
    assert m.rmse(np.ones((3, 2)), np.full((3, 2), 1.15))["overall"] == pytest.approx(0.15)
    with pytest.raises(ValueError, match="equal non-empty"):
        m.rmse(np.zeros((2, 2)), np.zeros((3, 2)))


def test_direction_accuracy_uses_nine_classes_with_threshold():
    pred = np.array([[1.0, 0.0], [0.2, 0.0], [1.0, 1.0]])
    target = np.array([[1.15, 0.0], [0.0, 0.0], [1.15, -1.15]])
    # F=F, stop=stop (0.2 < 0.3), FL != FR
    assert m.direction_accuracy(pred, target) == pytest.approx(2 / 3)


def test_summarize_latency():
    s = m.summarize_latency(range(1, 101))
    assert s == pytest.approx({"p50": 50.5, "p95": 95.05, "max": 100.0, "mean": 50.5, "n": 100})
    assert m.summarize_latency([]) == {"p50": None, "p95": None, "max": None, "mean": None, "n": 0}


def test_holm_adjust_by_hand():
    # sorted 0.01, 0.03, 0.04 (m = 3): 3·0.01 = 0.03; max(0.03, 2·0.03) = 0.06; max(0.06, 1·0.04) = 0.06
    assert m.holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert m.holm_adjust([0.5, None, 0.6])[1] is None and m.holm_adjust([0.5, None, 0.6])[0] == 1.0
    assert m.holm_adjust([]) == []
    with pytest.raises(ValueError, match="p-values"):
        m.holm_adjust([1.5])
