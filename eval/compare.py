"""Compare policies on the same seeds and scenarios: one table, paired McNemar tests, hypotheses H1–H5.

Two ways in:

- ``python -m eval.compare --runs DIR... [--labels A B ...]``: merge existing closed-loop run
  directories (each holds ``results.json``; a folder without one, e.g. a hydra multirun sweep, is
  searched for them). Runs with the same label (default: the policy name) are merged into one policy.
- ``python -m eval.compare --policies A B C [--episodes N --suite S --seed K]``: run each policy with
  ``eval.closed_loop.run`` on the same seeds and scenarios first, then compare those runs.

Success figures count the episodes run with their scenario's own instruction (mirrored-instruction
twins only feed instruction sensitivity, as in ``results.json``). Episodes are matched across policies
by ``(scenario, seed)`` for McNemar's exact test. Hypotheses (verdicts computed from the numbers, α = 0.05):

- H1 robot-pretrained backbone (role ``robovlms``) beats Kosmos-2 (``kosmos2``): McNemar p < α and
  higher success on matched episodes → supported; p < α the other way → not supported; else
  inconclusive.
- H2 LoRA (``lora``) suffices: not worse than full fine-tuning (``full``) by more than ``margin``
  (default 5 pp). A non-inferiority claim, decided by the Newcombe 95 % interval of (LoRA − full)
  success alone: lower end above ``−margin`` → supported; upper end below ``−margin`` → not supported;
  else inconclusive. McNemar's p is reported as information (a significant loss inside the margin is
  still non-inferior).
- H3 augmentation (``aug``) helps over no augmentation (``noaug``): as H1.
- H4 total latency per step below 200 ms, judged on the per-step p95 (``eval.targets``) of the stored
  samples of all its episodes, warm-up excluded; per policy (or the ``main`` role). Runs without raw
  per-step samples: "not tested".
- H5 (sim) success in simulation > 80 %: Wilson lower bound > 0.8 → supported, upper bound < 0.8 → not
  supported, else inconclusive; per policy (or ``main``). H5 (real), the plan's claim about the real
  robot, is judged the same way on real trials (``--real-trials CSV``) and is "not tested" without them.

Sidedness and multiplicity: H1/H3 are one-sided claims tested with the two-sided exact McNemar test at
α = 0.05 plus the direction, i.e. a one-sided test at 0.025; H2's bound is the lower end of a two-sided
95 % interval, a one-sided non-inferiority test at 0.025. H1–H5 are separate pre-stated claims, each
at its own level without correction; the all-pairs table is exploratory and also lists Holm-adjusted
p-values across its pairs.

Roles come from ``--roles kosmos2=A,robovlms=B,lora=C,full=D,noaug=E,aug=F[,main=B]`` or a YAML file
of the same mapping; a hypothesis lacking its policies is "not tested". Writes ``compare.json``,
``compare.md`` and a self-contained ``compare.html`` into ``--out``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.cli import BenchError, run_main
from eval import metrics, step_latency
from common.files import atomic_write_json, atomic_write_text
from eval.real_trials import real_success_by_policy
from eval.report import (
    RESULTS_FILE,
    Doc,
    fmt_interval,
    fmt_num,
    fmt_pct,
    fmt_rate,
    html_page,
    load_results,
)
from eval.targets import (  # the bars live in one module; re-exported for callers
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


class CompareError(BenchError, ValueError):
    """Inputs of a comparison are inconsistent; the message names the run, label or role."""


@dataclass
class PolicyRuns:
    """One compared policy: its label, the run directories merged into it, and their episodes."""

    label: str
    policy: str
    run_dirs: list[Path] = field(default_factory=list)
    summaries: list[dict[str, Any]] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    open_loop: dict[str, Any] | None = None

    @property
    def main(self) -> list[dict[str, Any]]:
        """Episodes with their scenario's own instruction (mirrored-instruction twins only feed the
        instruction-sensitivity figure, as in ``results.json``'s summary)."""
        return [ep for ep in self.episodes if not ep.get("instruction_flipped")]

    @property
    def n(self) -> int:
        return len(self.main)

    @property
    def k(self) -> int:
        return sum(1 for ep in self.main if ep["success"])


# --------------------------------------------------------------------------- loading runs


def find_run_dirs(paths: Sequence[str | Path]) -> list[Path]:
    """Run directories under ``paths``: each path itself if it holds ``results.json``, else every
    folder below it that does (sorted). Raises ``CompareError`` for a path with none."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if (path / RESULTS_FILE).is_file():
            found.append(path)
            continue
        below = sorted(p.parent for p in path.rglob(RESULTS_FILE)) if path.is_dir() else []
        if not below:
            raise CompareError(
                f"{path}: no {RESULTS_FILE} in it or below it (expected a closed-loop run dir)"
            )
        found.extend(below)
    return found


def episode_key(ep: Mapping[str, Any]) -> tuple[str, int, bool]:
    """The pairing key of an episode across policies: ``(scenario, seed, instruction_flipped)``."""
    return str(ep["scenario"]), int(ep.get("seed", ep["episode"])), bool(ep.get("instruction_flipped", False))


def load_policy_runs(run_dirs: Sequence[Path], labels: Sequence[str] | None = None) -> list[PolicyRuns]:
    """Load and merge run directories; ``labels`` (one per directory) default to each run's policy name.

    Raises ``CompareError`` when the same episode key appears twice under one label.
    """
    if labels is not None and len(labels) != len(run_dirs):
        raise CompareError(
            f"--labels has {len(labels)} names for {len(run_dirs)} run directories "
            f"({', '.join(str(d) for d in run_dirs)})"
        )
    by_label: dict[str, PolicyRuns] = {}
    seen_by_label: dict[str, dict[tuple[str, int, bool], Path]] = {}
    for i, run_dir in enumerate(run_dirs):
        results = load_results(run_dir)
        policy = results["summary"]["policy"]
        label = labels[i] if labels is not None else policy
        entry = by_label.setdefault(label, PolicyRuns(label=label, policy=policy))
        seen = seen_by_label.setdefault(label, {})
        for ep in results["episodes"]:
            key = episode_key(ep)
            if key in seen:
                raise CompareError(
                    f"{label}: episode {key} appears twice ({seen[key]} and {run_dir}); "
                    "give the runs different --labels or remove the duplicate run"
                )
            seen[key] = run_dir
            entry.episodes.append(ep)
        entry.run_dirs.append(run_dir)
        entry.summaries.append(results["summary"])
    return list(by_label.values())


# --------------------------------------------------------------------------- per-policy figures


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def merged_latency(episodes: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Per-step total-latency statistics ``{p50, p95, max, mean, n}`` pooled from the stored samples of
    ``episodes`` (all runs merged exactly). None when any episode lacks raw samples (results written
    before they were stored: per-step percentiles cannot be recovered from episode summaries)."""
    samples = step_latency.pooled(episodes)
    if not samples or not samples.get("total_ms"):
        return None
    return metrics.summarize_latency(samples["total_ms"])


def merged_instruction_sensitivity(summaries: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Instruction-sensitivity counts summed over runs, with a Wilson interval."""
    parts = [s.get("instruction_sensitivity") for s in summaries]
    parts = [p for p in parts if p and p.get("episodes")]
    if not parts:
        return None
    n = sum(int(p["episodes"]) for p in parts)
    k = sum(round(float(p["named_side_rate"]) * int(p["episodes"])) for p in parts)
    return {
        "episodes": n,
        "named_side": k,
        "named_side_rate": k / n,
        "wilson95": list(metrics.wilson_interval(k, n)),
    }


def policy_row(p: PolicyRuns) -> dict[str, Any]:
    """The comparison-table figures of one policy (JSON-ready)."""
    lo, hi = metrics.wilson_interval(p.k, p.n) if p.n else (0.0, 1.0)
    spl = [float(ep["spl"]) for ep in p.main if ep.get("spl") is not None]
    soft = [float(ep["soft_spl"]) for ep in p.main if ep.get("soft_spl") is not None]
    row: dict[str, Any] = {
        "label": p.label,
        "policy": p.policy,
        "runs": [str(d) for d in p.run_dirs],
        "episodes": p.n,
        "successes": p.k,
        "success_rate": p.k / p.n if p.n else None,
        "wilson95": [lo, hi],
        "spl_mean": _mean(spl),
        "soft_spl_mean": _mean(soft),
        "instruction_sensitivity": merged_instruction_sensitivity(p.summaries),
        "latency_total_ms": merged_latency(p.episodes),
        "open_loop": None,
    }
    if p.open_loop is not None:
        g = p.open_loop["groups"]["all"]
        row["open_loop"] = {
            "model_rmse": g["model"]["rmse"]["overall"],
            "command_rmse": g["command"]["rmse"]["overall"],
            "direction_accuracy": g["model"]["direction_accuracy"],
            "pass": g["pass"],
            "target_rmse": g.get("target_rmse"),
        }
    return row


# --------------------------------------------------------------------------- pairs and hypotheses


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


def hypotheses(
    policies: Sequence[PolicyRuns],
    roles: Mapping[str, str],
    margin: float = NONINFERIORITY_MARGIN,
    real: Mapping[str, tuple[int, int]] | None = None,
) -> list[dict[str, Any]]:
    """Verdicts of H1–H5 from the compared policies and the role → label mapping."""
    by_label = {p.label: p for p in policies}
    for role, label in roles.items():
        if role not in ROLES:
            raise CompareError(f"unknown role {role!r}; valid roles: {', '.join(ROLES)}")
        if label not in by_label:
            raise CompareError(
                f"role {role}={label!r}: no compared policy has that label (labels: {', '.join(by_label)})"
            )

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


# --------------------------------------------------------------------------- report


SIDEDNESS = (
    "H1/H3 (one-sided claims): two-sided exact McNemar p < α with the claimed direction, i.e. one-sided "
    "at α/2; H2: non-inferiority by the lower end of the two-sided 95 % Newcombe interval (one-sided "
    "2.5 %), McNemar for information; H4: per-step p95 against the target; H5: Wilson 95 % interval."
)
MULTIPLICITY = (
    "H1–H5 are separate pre-stated claims, each tested at its own level without correction. The "
    "pairs table is exploratory: it lists Holm-adjusted p-values across all its pairs."
)


def compare(
    policies: Sequence[PolicyRuns],
    roles: Mapping[str, str] | None = None,
    margin: float = NONINFERIORITY_MARGIN,
    real: Mapping[str, tuple[int, int]] | None = None,
) -> dict[str, Any]:
    """The whole comparison as a JSON-ready dict: rows, pairwise tests, hypotheses."""
    if not policies:
        raise CompareError("nothing to compare: no policies")
    pairs = [pair_row(a, b) for a, b in itertools.combinations(policies, 2)]
    for pair, adjusted in zip(pairs, metrics.holm_adjust([p["p_value"] for p in pairs]), strict=True):
        pair["p_holm"] = adjusted
    return {
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "policies": [policy_row(p) for p in policies],
        "pairs": pairs,
        "roles": dict(roles or {}),
        "hypotheses": hypotheses(policies, roles or {}, margin, real),
        "alpha": ALPHA,
        "noninferiority_margin": margin,
        "sidedness": SIDEDNESS,
        "multiple_comparisons": MULTIPLICITY,
        "pairing": "non-mirrored episodes matched by (scenario, seed)",
    }


def _seed_note(policies: Sequence[PolicyRuns]) -> str:
    keysets = [{episode_key(ep) for ep in p.main} for p in policies]
    common = set.intersection(*keysets) if keysets else set()
    if all(ks == common for ks in keysets):
        return f"All policies ran the same {len(common)} (scenario, seed) episodes."
    return (
        f"Policies ran different episode sets: {len(common)} are common to all "
        f"({', '.join(f'{p.label}: {len(ks)}' for p, ks in zip(policies, keysets, strict=True))}); "
        "pairwise tests use each pair's matched episodes."
    )


def render(result: Mapping[str, Any], policies: Sequence[PolicyRuns], out_dir: Path) -> Doc:
    """Build the Markdown/HTML document of a comparison (writes the interval plot PNG into ``out_dir``)."""
    from eval.plots import outcome_colour, plot_success_intervals

    doc = Doc()
    doc.heading("Policy comparison", 1)
    doc.para(f"Created {result['created']}. {_seed_note(policies)}")
    rows = []
    for r in result["policies"]:
        sens = r["instruction_sensitivity"]
        lat = r["latency_total_ms"]
        ol = r["open_loop"]
        rows.append(
            [
                r["label"],
                r["episodes"],
                fmt_pct(r["success_rate"]),
                fmt_interval(r["wilson95"]),
                fmt_num(r["spl_mean"]),
                fmt_num(r["soft_spl_mean"]),
                f"{fmt_pct(sens['named_side_rate'])} {fmt_interval(sens['wilson95'])}" if sens else "—",
                f"{fmt_num(ol['model_rmse'])} ({'pass' if ol['pass'] else 'fail'})" if ol else "—",
                fmt_num(lat["p50"], 1) if lat else "—",
                fmt_num(lat["p95"], 1) if lat else "—",
            ]
        )
    doc.table(
        [
            "policy",
            "episodes",
            "success",
            "Wilson 95 %",
            "SPL",
            "SoftSPL",
            "instruction sensitivity",
            "open-loop RMSE (model space)",
            "latency p50 ms",
            "latency p95 ms",
        ],
        rows,
    )
    png = plot_success_intervals(
        [
            {
                "label": r["label"],
                "rate": r["success_rate"] or 0.0,
                "lo": r["wilson95"][0],
                "hi": r["wilson95"][1],
                "colour": outcome_colour("success"),
            }
            for r in result["policies"]
        ],
        out_dir / "compare_success.png",
        reference=SUCCESS_TARGET,
    )
    doc.figure(png, "Success rate with Wilson 95 % intervals (dashed: 80 %)", png.name)
    doc.heading("Paired comparisons (McNemar exact, matched episodes)")
    if result["pairs"]:
        doc.table(
            ["A", "B", "matched", "A successes", "B successes", "A only", "B only", "A − B", "p", "Holm p"],
            [
                [
                    p["a"],
                    p["b"],
                    p["matched"],
                    p["a_successes"],
                    p["b_successes"],
                    p["a_only"],
                    p["b_only"],
                    "—" if p["difference"] is None else f"{100 * p['difference']:+.1f} pp",
                    fmt_num(p["p_value"], 4),
                    fmt_num(p.get("p_holm"), 4),
                ]
                for p in result["pairs"]
            ],
        )
    else:
        doc.para("Only one policy: no pairs.")
    doc.heading("Hypotheses")
    doc.para(
        f"α = {result['alpha']}; H2 non-inferiority margin {100 * result['noninferiority_margin']:.0f} pp; "
        f"roles: {', '.join(f'{k}={v}' for k, v in result['roles'].items()) or 'none given'}."
    )
    doc.para(f"Sidedness: {result['sidedness']}")
    doc.para(f"Multiple comparisons: {result['multiple_comparisons']}")
    doc.table(
        ["id", "claim", "verdict", "evidence"],
        [[h["id"], h["claim"], h["verdict"], h["evidence"]] for h in result["hypotheses"]],
    )
    doc.heading("Runs")
    doc.table(
        ["policy", "policy name", "run directories"],
        [[r["label"], r["policy"], ", ".join(r["runs"])] for r in result["policies"]],
    )
    return doc


def write_comparison(
    policies: Sequence[PolicyRuns],
    out_dir: str | Path,
    roles: Mapping[str, str] | None = None,
    margin: float = NONINFERIORITY_MARGIN,
    real: Mapping[str, tuple[int, int]] | None = None,
) -> dict[str, Path]:
    """Compute the comparison; write ``compare.json``, ``.md`` and ``.html`` into ``out_dir``."""
    out_dir = Path(out_dir)
    result = compare(policies, roles, margin, real)
    doc = render(result, policies, out_dir)
    return {
        "json": atomic_write_json(out_dir / "compare.json", result),
        "md": atomic_write_text(out_dir / "compare.md", "\n".join(doc.md)),
        "html": atomic_write_text(
            out_dir / "compare.html", html_page("Policy comparison", "\n".join(doc.html))
        ),
    }


# --------------------------------------------------------------------------- running policies


def run_policies(
    names: Sequence[str],
    out_root: Path,
    episodes: int | None = None,
    suite: str | None = None,
    seed: int | None = None,
    overrides: Sequence[str] = (),
) -> list[Path]:
    """Run each policy with ``eval.closed_loop`` on the same episodes, suite and seed (plus the same
    Hydra ``overrides``) into ``out_root/<policy>``; returns the run directories (a rerun resumes)."""
    from eval import closed_loop

    configs = []
    for name in names:  # every policy's config is composed and checked before any episode runs
        args = [f"policy={name}", *overrides]
        for key, value in (("episodes", episodes), ("suite", suite), ("seed", seed)):
            if value is not None:
                args.append(f"{key}={value}")
        cfg = closed_loop.load_config(args)
        closed_loop.plan_episodes(cfg)
        configs.append(cfg)
    dirs = []
    for name, cfg in zip(names, configs, strict=True):
        run_dir = out_root / name
        closed_loop.run(cfg, run_dir)
        dirs.append(run_dir)
    return dirs


def _attach_open_loop(
    policies: Sequence[PolicyRuns], data: Sequence[str] | None, files: Sequence[str]
) -> None:
    from eval import open_loop

    by_policy = {}
    for file in files:
        res = open_loop.load_result(file)
        by_policy[res["policy"]] = res
    for p in policies:
        p.open_loop = by_policy.get(p.label) or by_policy.get(p.policy)
        if p.open_loop is None and data:
            from policies import make_policy

            p.open_loop = open_loop.evaluate(make_policy(p.policy), list(data))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eval.compare", description=__doc__.splitlines()[0])
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--runs", nargs="+", help="closed-loop run directories (or folders holding several)")
    src.add_argument("--policies", nargs="+", help="policy names to run with eval.closed_loop first")
    parser.add_argument("--labels", nargs="+", help="one label per run directory (default: policy names)")
    parser.add_argument("--episodes", type=int, help="episodes per policy (with --policies)")
    parser.add_argument("--suite", help="scenario suite (with --policies)")
    parser.add_argument("--seed", type=int, help="base seed (with --policies)")
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="closed-loop Hydra overrides for every policy",
    )
    parser.add_argument(
        "--roles", help="kosmos2=A,robovlms=B,lora=C,full=D,noaug=E,aug=F[,main=X] or a YAML file"
    )
    parser.add_argument(
        "--margin", type=float, default=NONINFERIORITY_MARGIN, help="H2 non-inferiority margin"
    )
    parser.add_argument("--data", nargs="+", help="episodes for open-loop RMSE (files, folders, manifests)")
    parser.add_argument("--open-loop", nargs="+", default=[], help="eval.open_loop JSON results to include")
    parser.add_argument(
        "--real-trials", help="real-robot trials CSV (policy,scenario,trials,successes) for H5 (real)"
    )
    parser.add_argument("--out", type=Path, default=Path("compare"), help="output folder (default ./compare)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: _main(args))


def _main(args: argparse.Namespace) -> int:
    roles = parse_roles(args.roles)
    real = real_success_by_policy(args.real_trials) if args.real_trials else None
    if args.policies:
        run_dirs = run_policies(
            args.policies, args.out / "runs", args.episodes, args.suite, args.seed, args.set
        )
    else:
        run_dirs = find_run_dirs(args.runs)
    policies = load_policy_runs(run_dirs, args.labels)
    _attach_open_loop(policies, args.data, args.open_loop)
    paths = write_comparison(policies, args.out, roles, args.margin, real)
    for h in json.loads(paths["json"].read_text(encoding="utf-8"))["hypotheses"]:
        print(f"{h['id']:<3} {h['verdict']:<14} {h['claim']}: {h['evidence']}")
    for kind in ("json", "md", "html"):
        print(f"wrote {paths[kind]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
