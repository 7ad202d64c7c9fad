"""Hypotheses H1–H5 of the test plan, judged from compared policies (verdicts from the numbers, α = 0.05;
bars and the statistic each is judged on: ``eval.targets``, definitions: ``docs/metrics.md``).

Episodes are matched across policies by ``(scenario, seed)`` for McNemar's exact test.

- H1 robot-pretrained backbone (role ``robovlms``) beats Kosmos-2 (``kosmos2``): McNemar p < α and
  higher success on matched episodes → supported; p < α the other way → not supported; else
  inconclusive.
- H2 LoRA (``lora``) suffices: not worse than full fine-tuning (``full``) by more than ``margin``
  (default 5 pp). A non-inferiority claim, decided by the Newcombe 95 % interval of (LoRA − full)
  success alone: lower end above ``−margin`` → supported; upper end below ``−margin`` → not supported;
  else inconclusive. McNemar's p is reported as information (a significant loss inside the margin is
  still non-inferior).
- H3 augmentation (``aug``) helps over no augmentation (``noaug``): as H1.
- H4 total latency per step below 200 ms (``eval.targets.LATENCY_TARGET_MS``), judged on the per-step
  p95 of the stored samples of all its episodes, warm-up excluded; per policy (or the ``main`` role).
  Runs without raw per-step samples: "not tested".
- H5 (sim) success in simulation > 80 % (``eval.targets.SUCCESS_TARGET``): Wilson lower bound > 0.8 →
  supported, upper bound < 0.8 → not supported, else inconclusive; per policy (or ``main``). H5 (real),
  the plan's claim about the real robot, is judged the same way on real trials (``--real-trials CSV``)
  and is "not tested" without them.

Sidedness and multiplicity: H1/H3 are one-sided claims tested with the two-sided exact McNemar test at
α = 0.05 plus the direction, i.e. a one-sided test at 0.025; H2's bound is the lower end of a two-sided
95 % interval, a one-sided non-inferiority test at 0.025. H1–H5 are separate pre-stated claims, each
at its own level without correction; the all-pairs table is exploratory and also lists Holm-adjusted
p-values across its pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval import metrics
from eval.report_kit import fmt_rate
from eval.runs import CompareError, PolicyRuns, episode_key, merged_latency
from eval.targets import (
    ALPHA,
    LATENCY_STATISTIC,
    LATENCY_TARGET_MS,
    NONINFERIORITY_MARGIN,
    SUCCESS_TARGET,
    latency_criterion,
)

ROLES = ("kosmos2", "robovlms", "lora", "full", "noaug", "aug", "main")
SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_TESTED = (
    "supported",
    "not supported",
    "inconclusive",
    "not tested",
)


def paired(a: PolicyRuns, b: PolicyRuns) -> tuple[list[bool], list[bool]]:
    """Outcomes of ``a`` and ``b`` on the (non-mirrored) episodes both ran, matched by ``episode_key``."""
    sa = {episode_key(ep): bool(ep["success"]) for ep in a.main}
    sb = {episode_key(ep): bool(ep["success"]) for ep in b.main}
    keys = sorted(set(sa) & set(sb))
    return [sa[k] for k in keys], [sb[k] for k in keys]


def pair_row(a: PolicyRuns, b: PolicyRuns) -> dict[str, Any]:
    """McNemar exact test of ``a`` vs ``b`` on matched episodes."""
    oa, ob = paired(a, b)
    only_a, only_b = metrics.discordant_pairs(oa, ob) if oa else (0, 0)
    n = len(oa)
    return {
        "a": a.label,
        "b": b.label,
        "matched": n,
        "a_successes": sum(oa),
        "b_successes": sum(ob),
        "a_only": only_a,
        "b_only": only_b,
        "difference": (sum(oa) - sum(ob)) / n if n else None,
        "p_value": metrics.mcnemar_exact(oa, ob) if n else None,
    }


def _verdict(hypothesis: str, claim: str, verdict: str, evidence: str, **extra: Any) -> dict[str, Any]:
    return {"id": hypothesis, "claim": claim, "verdict": verdict, "evidence": evidence, **extra}


def better_than(
    hid: str, claim: str, better: PolicyRuns | None, worse: PolicyRuns | None, alpha: float = ALPHA
) -> dict[str, Any]:
    """Supported if ``better`` beats ``worse`` on matched episodes with McNemar p < alpha."""
    if better is None or worse is None:
        return _verdict(hid, claim, NOT_TESTED, "the policies for this hypothesis were not given (--roles)")
    pr = pair_row(better, worse)
    if not pr["matched"]:
        return _verdict(hid, claim, NOT_TESTED, f"{better.label} and {worse.label} share no episodes")
    evidence = (
        f"{better.label} {pr['a_successes']}/{pr['matched']} vs {worse.label} {pr['b_successes']}/"
        f"{pr['matched']} on matched episodes; discordant {pr['a_only']} vs {pr['b_only']}; "
        f"McNemar exact p = {pr['p_value']:.3g}"
    )
    if pr["p_value"] < alpha:
        verdict = SUPPORTED if pr["a_only"] > pr["b_only"] else NOT_SUPPORTED
    else:
        verdict = INCONCLUSIVE
    return _verdict(hid, claim, verdict, evidence, pair=pr)


def not_worse_than(
    hid: str,
    claim: str,
    candidate: PolicyRuns | None,
    reference: PolicyRuns | None,
    margin: float = NONINFERIORITY_MARGIN,
    alpha: float = ALPHA,
) -> dict[str, Any]:
    """Non-inferiority of ``candidate`` to ``reference`` within ``margin`` (see module docstring)."""
    if candidate is None or reference is None:
        return _verdict(hid, claim, NOT_TESTED, "the policies for this hypothesis were not given (--roles)")
    pr = pair_row(candidate, reference)
    n = pr["matched"]
    if not n:
        return _verdict(hid, claim, NOT_TESTED, f"{candidate.label} and {reference.label} share no episodes")
    d, lo, hi = metrics.newcombe_diff_interval(pr["a_successes"], n, pr["b_successes"], n)
    evidence = (
        f"{candidate.label} − {reference.label} = {100 * d:+.1f} pp, Newcombe 95 % "
        f"[{100 * lo:+.1f}, {100 * hi:+.1f}] pp on {n} matched episodes (margin −{100 * margin:.0f} pp; "
        f"decided by the interval); McNemar exact p = {pr['p_value']:.3g} (information)"
    )
    if lo > -margin:
        verdict = SUPPORTED
    elif hi < -margin:
        verdict = NOT_SUPPORTED
    else:
        verdict = INCONCLUSIVE
    return _verdict(hid, claim, verdict, evidence, pair=pr, difference_interval=[d, lo, hi])


def latency_verdict(p: PolicyRuns, target_ms: float = LATENCY_TARGET_MS) -> dict[str, Any]:
    """H4 on the per-step statistic ``eval.targets`` names (p95), from the stored per-step samples."""
    claim = f"{p.label}: {latency_criterion(target_ms)}"
    lat = merged_latency(p.episodes)
    if lat is None:
        return _verdict(
            "H4",
            claim,
            NOT_TESTED,
            "no per-step latency samples in its runs (none measured, or results written before "
            "per-step samples were stored)",
            policy=p.label,
        )
    value = float(lat[LATENCY_STATISTIC])
    evidence = (
        f"per-step {LATENCY_STATISTIC} {value:.1f} ms (p50 {float(lat['p50']):.1f}, max "
        f"{float(lat['max']):.1f}) over {lat['n']} steps, warm-up excluded"
    )
    verdict = SUPPORTED if value < target_ms else NOT_SUPPORTED
    return _verdict("H4", claim, verdict, evidence, policy=p.label)


def _rate_verdict(k: int, n: int, target: float) -> tuple[str, str]:
    lo, hi = metrics.wilson_interval(k, n)
    verdict = SUPPORTED if lo > target else NOT_SUPPORTED if hi < target else INCONCLUSIVE
    return verdict, f"{fmt_rate(k, n, (lo, hi))} (Wilson 95 %)"


def success_verdict(p: PolicyRuns, target: float = SUCCESS_TARGET) -> dict[str, Any]:
    """H5 (sim): success in simulation above ``target``, from the Wilson interval."""
    claim = f"{p.label}: success in sim > {100 * target:.0f} %"
    if not p.n:
        return _verdict("H5", claim, NOT_TESTED, "no episodes", policy=p.label, setting="sim")
    verdict, evidence = _rate_verdict(p.k, p.n, target)
    return _verdict("H5", claim, verdict, f"sim episodes: {evidence}", policy=p.label, setting="sim")


def real_success_verdict(
    p: PolicyRuns, real: Mapping[str, tuple[int, int]] | None, target: float = SUCCESS_TARGET
) -> dict[str, Any]:
    """H5 (real): the plan's real-robot success above ``target``; "not tested" without real trials
    (``real``: label or policy name → (trials, successes))."""
    claim = f"{p.label}: success on the real robot > {100 * target:.0f} %"
    counts = (real or {}).get(p.label) or (real or {}).get(p.policy)
    if not counts or not counts[0]:
        why = "no real trials given (--real-trials CSV); sim success does not stand in for it"
        return _verdict("H5", claim, NOT_TESTED, why, policy=p.label, setting="real")
    verdict, evidence = _rate_verdict(counts[1], counts[0], target)
    return _verdict("H5", claim, verdict, f"real trials: {evidence}", policy=p.label, setting="real")


def check_roles(roles: Mapping[str, str], labels: Sequence[str]) -> None:
    """``CompareError`` naming a role that is not one of ``ROLES`` or a label no compared policy has."""
    for role, label in roles.items():
        if role not in ROLES:
            raise CompareError(f"unknown role {role!r}; valid roles: {', '.join(ROLES)}")
        if label not in labels:
            raise CompareError(
                f"role {role}={label!r}: no compared policy has that label (labels: {', '.join(labels)})"
            )


def hypotheses(
    policies: Sequence[PolicyRuns],
    roles: Mapping[str, str],
    margin: float = NONINFERIORITY_MARGIN,
    real: Mapping[str, tuple[int, int]] | None = None,
) -> list[dict[str, Any]]:
    """Verdicts of H1–H5 from the compared policies and the role → label mapping."""
    by_label = {p.label: p for p in policies}
    check_roles(roles, list(by_label))

    def get(role: str) -> PolicyRuns | None:
        return by_label.get(roles.get(role, ""))

    out = [
        better_than("H1", "robot-pretrained backbone beats Kosmos-2", get("robovlms"), get("kosmos2")),
        not_worse_than(
            "H2", "LoRA suffices: not worse than full fine-tuning", get("lora"), get("full"), margin
        ),
        better_than("H3", "augmentation helps", get("aug"), get("noaug")),
    ]
    subjects = [get("main")] if get("main") else list(policies)
    out += [latency_verdict(p) for p in subjects]
    out += [success_verdict(p) for p in subjects]
    out += [real_success_verdict(p, real) for p in subjects]
    return out


def parse_roles(spec: str | None) -> dict[str, str]:
    """``"kosmos2=A,robovlms=B"`` or a YAML file with that mapping → ``{role: label}``."""
    if not spec:
        return {}
    path = Path(spec)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        import yaml

        if not path.is_file():
            raise CompareError(f"roles file {path} does not exist")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise CompareError(f"{path}: expected a mapping role: label, got {type(data).__name__}")
        return {str(k): str(v) for k, v in data.items()}
    roles = {}
    for item in spec.split(","):
        role, sep, label = item.partition("=")
        if not sep or not role.strip() or not label.strip():
            raise CompareError(f"--roles item {item!r}: expected role=label (e.g. kosmos2=A)")
        roles[role.strip()] = label.strip()
    return roles


SIDEDNESS = (
    "H1/H3 (one-sided claims): two-sided exact McNemar p < α with the claimed direction, i.e. one-sided "
    "at α/2; H2: non-inferiority by the lower end of the two-sided 95 % Newcombe interval (one-sided "
    "2.5 %), McNemar for information; H4: per-step p95 against the target; H5: Wilson 95 % interval."
)
MULTIPLICITY = (
    "H1–H5 are separate pre-stated claims, each tested at its own level without correction. The "
    "pairs table is exploratory: it lists Holm-adjusted p-values across all its pairs."
)
