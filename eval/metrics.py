"""The bench's metrics, implemented exactly as ``docs/metrics.md`` defines them.

Pure numpy/scipy functions, no I/O. Distances are metres, angles radians; success rates are fractions
in [0, 1]; actions are ``[linear_x, linear_y(, angular_z)]`` rows in one stated space (the model's
normalised space or the robot's teleop command space, never mixed by these functions).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import linalg, stats

from sim.protocol import DIRECTION_THRESHOLD, direction_classes

AXIS_NAMES = ("linear_x", "linear_y", "angular_z")
"""Column names of an action array (the first ``D`` are used for a ``(N, D)`` array)."""

PEARSON_EPS = 1e-8
"""The denominator offset of ``pearson_r`` (SimplerEnv's definition)."""


# --------------------------------------------------------------------------- success rates


def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got successes={successes}, trials={trials}")


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval ``(lo, hi)`` of a binomial success rate (z = 1.96: 95 %).

    ``centre = (p + z²/2n) / (1 + z²/n)``, ``half = z / (1 + z²/n) · sqrt(p(1−p)/n + z²/4n²)``.
    At 0 successes ``lo`` is exactly 0 (``hi = z²/(n + z²)``); at ``n`` successes ``hi`` is exactly 1.
    With ``trials == 0`` nothing is known and the interval is ``(0.0, 1.0)``.
    """
    _check_counts(successes, trials)
    if trials == 0:
        return 0.0, 1.0
    n = float(trials)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))
    lo = 0.0 if successes == 0 else max(0.0, centre - half)
    hi = 1.0 if successes == trials else min(1.0, centre + half)
    return lo, hi


def wilson_half_width(p: float, trials: int, z: float = 1.96) -> float:
    """Half-width of the Wilson interval at observed rate ``p`` after ``trials`` episodes."""
    n = float(trials)
    z2 = z * z
    return z / (1.0 + z2 / n) * math.sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n))


def trials_needed(p: float, half_width: float = 0.05, z: float = 1.96) -> int:
    """Episodes needed for a Wilson interval of half-width ``<= half_width`` at observed rate ``p``.

    Wilson-based (not the normal approximation ``n = z²p(1−p)/h²``, which says 0 episodes at p = 0 or 1):
    the smallest ``n`` with ``z/(1 + z²/n) · sqrt(p(1−p)/n + z²/4n²) <= h``. The half-width falls
    monotonically with ``n`` and is largest at p = 0.5, where it equals ``z / (2 sqrt(n + z²))``, so
    ``ceil(z²/4h²)`` bounds the search. Examples (h = 0.05, z = 1.96): p = 0.5 → 381, p = 0.8 → 245,
    p = 0 or 1 → 35.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"trials_needed: success rate p must be in [0, 1], got {p}")
    if not 0.0 < half_width < 0.5:
        raise ValueError(f"trials_needed: half_width must be in (0, 0.5), got {half_width}")
    lo, hi = 1, max(1, math.ceil(z * z / (4.0 * half_width * half_width)))
    while lo < hi:
        mid = (lo + hi) // 2
        if wilson_half_width(p, mid, z) <= half_width:
            hi = mid
        else:
            lo = mid + 1
    return lo


def newcombe_diff_interval(k1: int, n1: int, k2: int, n2: int, z: float = 1.96) -> tuple[float, float, float]:
    """``(p1 − p2, lo, hi)``: difference of two independent success rates with Newcombe's hybrid score
    interval (Newcombe 1998, method 10, built from the two Wilson intervals).

    ``lo = d − sqrt((p1 − l1)² + (u2 − p2)²)``, ``hi = d + sqrt((u1 − p1)² + (p2 − l2)²)``. Used for a
    policy-vs-policy or sim-vs-real gap; for paired episodes it is conservative (McNemar tests those).
    """
    if n1 == 0 or n2 == 0:
        raise ValueError(f"newcombe_diff_interval: both groups need trials, got n1={n1}, n2={n2}")
    l1, u1 = wilson_interval(k1, n1, z)
    l2, u2 = wilson_interval(k2, n2, z)
    p1, p2 = k1 / n1, k2 / n2
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return d, max(-1.0, lo), min(1.0, hi)


# --------------------------------------------------------------------------- path efficiency


def _check_nonneg(**values: float) -> None:
    for name, value in values.items():
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite non-negative distance in metres, got {value}")


def spl(success: bool, d_start: float, path_length: float) -> float:
    """Success weighted by Path Length: ``success · d_start / max(d_start, path_length)``.

    ``d_start`` is the shortest collision-free path length (m) from start to the goal region,
    ``path_length`` the length (m) the robot drove. ``d_start == path_length == 0`` gives ``success``.
    """
    _check_nonneg(d_start=d_start, path_length=path_length)
    longest = max(d_start, path_length)
    if longest == 0.0:
        return float(bool(success))
    return float(bool(success)) * d_start / longest


def soft_spl(d_end: float, d_start: float, path_length: float) -> float:
    """SoftSPL: ``max(0, 1 − d_end/d_start) · d_start / max(d_start, path_length)``.

    ``d_end`` is the remaining shortest-path distance (m) to the goal region at the end. With
    ``d_start == 0`` the progress term is 1 if ``d_end == 0`` else 0, and the efficiency term is 1 if
    the robot did not move.
    """
    _check_nonneg(d_end=d_end, d_start=d_start, path_length=path_length)
    if d_start == 0.0:
        progress = 1.0 if d_end == 0.0 else 0.0
        return progress if path_length == 0.0 else 0.0
    progress = max(0.0, 1.0 - d_end / d_start)
    return progress * d_start / max(d_start, path_length)


# --------------------------------------------------------------------------- paired comparison


def discordant_pairs(a_success: Sequence[bool], b_success: Sequence[bool]) -> tuple[int, int]:
    """``(a_only, b_only)``: paired episodes where only policy A, resp. only policy B, succeeded."""
    a = np.asarray(a_success, dtype=bool)
    b = np.asarray(b_success, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired outcomes need equal 1-D shapes, got {a.shape} and {b.shape}")
    return int(np.sum(a & ~b)), int(np.sum(~a & b))


def mcnemar_exact(a_success: Sequence[bool], b_success: Sequence[bool]) -> float:
    """Two-sided exact McNemar p-value of paired outcomes (same seeds and scenarios, same order).

    With ``b`` = A-only and ``c`` = B-only successes, under H0 ``b ~ Binomial(b + c, 1/2)``;
    ``p = min(1, 2 · P[X <= min(b, c)])``. No discordant pairs → 1.0.
    """
    only_a, only_b = discordant_pairs(a_success, b_success)
    n = only_a + only_b
    if n == 0:
        return 1.0
    return float(min(1.0, 2.0 * stats.binom.cdf(min(only_a, only_b), n, 0.5)))


# --------------------------------------------------------------------------- sim2real ranking


def _paired_scores(sim: Sequence[float], real: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(sim, dtype=np.float64).ravel()
    r = np.asarray(real, dtype=np.float64).ravel()
    if s.shape != r.shape:
        raise ValueError(f"sim and real scores need one value per policy each, got {s.size} and {r.size}")
    if s.size == 0:
        raise ValueError("sim and real scores are empty; need at least one policy")
    return s, r


def pearson_r(sim: Sequence[float], real: Sequence[float]) -> float:
    """Pearson r as SimplerEnv defines it.

    Centre both vectors; ``r = Σ s·r / (sqrt(Σ s² · Σ r²) + 1e-8)``; if both centred vectors are all
    zero, ``r = 1``.
    """
    s, r = _paired_scores(sim, real)
    # A constant vector centres to exactly zero (``x - mean`` alone can leave round-off residue).
    s = np.zeros_like(s) if np.ptp(s) == 0 else s - s.mean()
    r = np.zeros_like(r) if np.ptp(r) == 0 else r - r.mean()
    if not s.any() and not r.any():
        return 1.0
    return float(np.sum(s * r) / (math.sqrt(float(np.sum(s * s) * np.sum(r * r))) + PEARSON_EPS))


def spearman_rho(sim: Sequence[float], real: Sequence[float]) -> float:
    """Spearman ρ: ``pearson_r`` of the average ranks (ties share their mean rank)."""
    s, r = _paired_scores(sim, real)
    return pearson_r(stats.rankdata(s), stats.rankdata(r))


def mmrv(sim: Sequence[float], real: Sequence[float]) -> float:
    """Mean Maximum Rank Violation (lower is better); argument order ``(sim, real)`` matters.

    ``MMRV = (1/N) Σ_i max_j |R_i − R_j| · 1[(S_i > S_j) ≠ (R_i > R_j)]`` with strict ``>`` (ties count
    as "not greater"), 0 for an ``i`` that no ``j`` violates; the magnitude comes from the real scores.
    """
    s, r = _paired_scores(sim, real)
    violated = (s[:, None] > s[None, :]) != (r[:, None] > r[None, :])
    magnitude = np.abs(r[:, None] - r[None, :])
    return float(np.mean(np.max(np.where(violated, magnitude, 0.0), axis=1)))


# --------------------------------------------------------------------------- visual gap


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """Fréchet distance ``|μ1 − μ2|² + tr(Σ1 + Σ2 − 2 sqrt(Σ1 Σ2))`` between two Gaussians.

    As pytorch-fid: ``scipy.linalg.sqrtm`` of ``Σ1 Σ2``; when that is not finite (singular
    covariances) both get ``eps · I`` added and it is retried; a numerically complex result keeps its
    real part if the imaginary diagonal is below 1e-3 (else ``ValueError``). Round-off negatives are
    clamped to 0.
    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    d = mu1.shape[0]
    if mu1.shape != mu2.shape or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"frechet_distance: shapes mu1 {mu1.shape}, mu2 {mu2.shape}, sigma1 {sigma1.shape}, "
            f"sigma2 {sigma2.shape} do not describe two {d}-d Gaussians"
        )
    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(d) * eps
            covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if not np.isfinite(covmean).all():
        raise ValueError("frechet_distance: sqrtm(sigma1 @ sigma2) is not finite even with the eps offset")
    if np.iscomplexobj(covmean):
        max_imag = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if max_imag > 1e-3:
            raise ValueError(f"frechet_distance: sqrtm has an imaginary component of {max_imag:.3g}")
        covmean = covmean.real
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))
    return max(0.0, value)


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and covariance ``(D, D)`` of ``(N, D)`` feature rows (N >= 2)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim == 1:
        f = f[:, None]
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need an (N, D) feature array with N >= 2 rows, got shape {f.shape}")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def frechet_from_features(feats_a: np.ndarray, feats_b: np.ndarray, eps: float = 1e-6) -> float:
    """``frechet_distance`` between Gaussian fits of two ``(N, D)`` feature sets (same ``D``)."""
    mu_a, sigma_a = gaussian_stats(feats_a)
    mu_b, sigma_b = gaussian_stats(feats_b)
    return frechet_distance(mu_a, sigma_a, mu_b, sigma_b, eps=eps)


# --------------------------------------------------------------------------- open loop


def _paired_actions(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if p.ndim == 1 and t.ndim == 1:
        p, t = p[None, :], t[None, :]
    if p.shape != t.shape or p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(
            f"predicted and target actions need equal non-empty (N, D) shapes, got {p.shape} and {t.shape}"
        )
    if p.shape[1] > len(AXIS_NAMES):
        raise ValueError(f"actions have {p.shape[1]} columns; at most {len(AXIS_NAMES)} ({AXIS_NAMES})")
    return p, t


def _per_axis(values: np.ndarray, reduce) -> dict[str, float]:
    out = {AXIS_NAMES[i]: float(reduce(values[:, i])) for i in range(values.shape[1])}
    out["overall"] = float(reduce(values.ravel()))
    return out


def rmse(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Root-mean-square error per axis (``linear_x``, ``linear_y``, …) and ``overall`` (all elements).

    Both arrays are ``(N, D)`` in ONE space; the caller states which.
    """
    p, t = _paired_actions(pred, target)
    return _per_axis((p - t) ** 2, lambda v: math.sqrt(float(np.mean(v))))


def mae(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Mean absolute error per axis and ``overall``; ``(N, D)`` arrays in one space."""
    p, t = _paired_actions(pred, target)
    return _per_axis(np.abs(p - t), lambda v: float(np.mean(v)))


def direction_accuracy(pred: np.ndarray, target: np.ndarray, threshold: float = DIRECTION_THRESHOLD) -> float:
    """Fraction of rows whose 9-class omni direction (``sim.protocol.direction_classes``) agrees."""
    p, t = _paired_actions(pred, target)
    return float(np.mean(direction_classes(p, threshold) == direction_classes(t, threshold)))


# --------------------------------------------------------------------------- latency


def summarize_latency(ms: Sequence[float]) -> dict[str, float | int | None]:
    """``{p50, p95, max, mean, n}`` of per-step milliseconds (linear-interpolated percentiles).

    An empty list gives ``n = 0`` and ``None`` for the statistics (JSON-safe, unlike NaN).
    """
    values = np.asarray(list(ms), dtype=np.float64).ravel()
    if values.size == 0:
        return {"p50": None, "p95": None, "max": None, "mean": None, "n": 0}
    if not np.isfinite(values).all():
        raise ValueError("summarize_latency: latencies must be finite milliseconds")
    return {
        "p50": float(np.percentile(values, 50)),
        "p95": float(np.percentile(values, 95)),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "n": int(values.size),
    }


# --------------------------------------------------------------------------- multiple comparisons


def holm_adjust(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm–Bonferroni adjusted p-values (family-wise error control), in the input order.

    Sort the m p-values ascending; the i-th (0-based) gets ``max_{j <= i} min(1, (m − j) · p_(j))``.
    Rejecting where the adjusted value is below α is Holm's step-down procedure. ``None`` entries (no
    test) stay None and do not count towards m.
    """
    present = [(p, i) for i, p in enumerate(p_values) if p is not None]
    for p, _ in present:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"holm_adjust: p-values must be in [0, 1], got {p}")
    m = len(present)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out
