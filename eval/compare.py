"""Compare policies on the same seeds and scenarios: one table, paired McNemar tests, hypotheses H1–H5.

Two ways in:

- ``python -m eval.compare --runs DIR... [--labels A B ...]``: merge existing closed-loop run
  directories (each holds ``results.json``; a folder without one, e.g. a hydra multirun sweep, is
  searched for them). Runs with the same label (default: the policy name) are merged into one policy.
- ``python -m eval.compare --policies A B C [--episodes N --suite S --seed K]``: run each policy with
  ``eval.closed_loop.run`` on the same seeds and scenarios first, then compare those runs.

Success figures count the episodes run with their scenario's own instruction (mirrored-instruction
twins only feed instruction sensitivity, as in ``results.json``). Episodes are matched across policies
by ``(scenario, seed)`` for McNemar's exact test; the hypotheses H1–H5 and how each is judged are in
``eval.hypotheses``.

Roles come from ``--roles kosmos2=A,robovlms=B,lora=C,full=D,noaug=E,aug=F[,main=B]`` or a YAML file
of the same mapping; a hypothesis lacking its policies is "not tested". Writes ``compare.json``,
``compare.md`` and a self-contained ``compare.html`` into ``--out`` (a folder, default
``runs/compare/<policies joined by ->``; with ``--policies`` their runs go to ``OUT/runs/<policy>``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from common.cli import default_out_dir, run_main
from common.files import atomic_write_json
from common.timefmt import utc_now_iso
from eval import metrics
from eval.hypotheses import MULTIPLICITY, SIDEDNESS, check_roles, hypotheses, pair_row, parse_roles
from eval.real_trials import real_success_by_policy
from eval.report_kit import Doc, fmt_interval, fmt_num, fmt_pct, write_doc
from eval.runs import (
    CompareError,
    PolicyRuns,
    episode_key,
    find_run_dirs,
    load_policy_runs,
    policy_row,
)
from eval.targets import ALPHA, NONINFERIORITY_MARGIN, SUCCESS_TARGET

__all__ = ["CompareError", "PolicyRuns", "compare", "find_run_dirs", "load_policy_runs", "main"]


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
        "created": utc_now_iso(),
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
    caption = f"Success rate with Wilson 95 % intervals (dashed: {100 * SUCCESS_TARGET:.0f} %)"
    doc.figure(png, caption, png.name)
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
        **write_doc(doc, out_dir, "compare", "Policy comparison"),
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


def _open_loop_results(files: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``eval.open_loop`` results (files or their ``--out`` folders) by policy name."""
    from eval import open_loop

    return {(res := open_loop.load_result(file))["policy"]: res for file in files}


def _attach_open_loop(
    policies: Sequence[PolicyRuns], data: Sequence[str] | None, by_policy: Mapping[str, dict[str, Any]]
) -> None:
    from eval import open_loop

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
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="with --policies: closed-loop overrides for every policy, e.g. policy.checkpoint=CKPT videos=0",
    )
    parser.add_argument("--labels", nargs="+", help="one label per run directory (default: policy names)")
    parser.add_argument("--episodes", type=int, help="episodes per policy (with --policies)")
    parser.add_argument("--suite", help="scenario suite (with --policies)")
    parser.add_argument("--seed", type=int, help="base seed (with --policies)")
    parser.add_argument(
        "--set",
        dest="legacy_set",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="deprecated spelling of the positional KEY=VALUE overrides",
    )
    parser.add_argument(
        "--roles", help="kosmos2=A,robovlms=B,lora=C,full=D,noaug=E,aug=F[,main=X] or a YAML file"
    )
    parser.add_argument(
        "--margin", type=float, default=NONINFERIORITY_MARGIN, help="H2 non-inferiority margin"
    )
    parser.add_argument("--data", nargs="+", help="episodes for open-loop RMSE (files, folders, manifests)")
    parser.add_argument(
        "--open-loop", nargs="+", default=[], help="eval.open_loop results (open_loop.json or its folder)"
    )
    parser.add_argument(
        "--real-trials", help="real-robot trials CSV (policy,scenario,trials,successes) for H5 (real)"
    )
    parser.add_argument(
        "--out", type=Path, help="output folder (default runs/compare/<policies>, joined by '-')"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_intermixed_args(argv)  # KEY=VALUE may sit between flags
    return run_main(lambda: _main(args))


def split_overrides(args: argparse.Namespace) -> list[str]:
    """The closed-loop overrides of the command line (``--policies`` / ``--runs`` swallow the ``KEY=VALUE``
    items that follow them: they are moved back); ``--set`` items (deprecated) first."""
    if args.legacy_set:
        print("warning: --set KEY=VALUE is deprecated; write KEY=VALUE as arguments", file=sys.stderr)
    if args.policies:
        args.overrides = [*[p for p in args.policies if "=" in p], *args.overrides]
        args.policies = [p for p in args.policies if "=" not in p]
        if not args.policies:
            raise CompareError("--policies: no policy names given (only KEY=VALUE overrides)")
    else:  # a run folder may hold '=' (hydra sweeps): only what is not a path is an override
        args.overrides = [*[r for r in args.runs if "=" in r and not Path(r).exists()], *args.overrides]
        args.runs = [r for r in args.runs if r not in args.overrides]
    overrides = [*args.legacy_set, *args.overrides]
    if overrides and not args.policies:
        raise CompareError(f"override {overrides[0]!r}: closed-loop overrides need --policies")
    return overrides


def _checked_out(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise CompareError(f"--out {out} is a file; expected a folder")
    return out


def _main(args: argparse.Namespace) -> int:
    overrides = split_overrides(args)
    roles = parse_roles(args.roles)
    real = real_success_by_policy(args.real_trials) if args.real_trials else None
    open_loop_results = _open_loop_results(args.open_loop)
    if args.policies:
        labels = args.labels or args.policies
        if len(labels) != len(args.policies):
            raise CompareError(f"--labels has {len(labels)} names for {len(args.policies)} policies")
        check_roles(roles, labels)
        out = _checked_out(args.out or default_out_dir("compare", "-".join(args.policies)))
        run_dirs = run_policies(args.policies, out / "runs", args.episodes, args.suite, args.seed, overrides)
    else:
        run_dirs = find_run_dirs(args.runs)
    policies = load_policy_runs(run_dirs, args.labels)
    if not args.policies:
        check_roles(roles, [p.label for p in policies])
        out = _checked_out(args.out or default_out_dir("compare", "-".join(p.label for p in policies)))
    _attach_open_loop(policies, args.data, open_loop_results)
    paths = write_comparison(policies, out, roles, args.margin, real)
    for h in json.loads(paths["json"].read_text(encoding="utf-8"))["hypotheses"]:
        print(f"{h['id']:<3} {h['verdict']:<14} {h['claim']}: {h['evidence']}")
    for kind in ("json", "md", "html"):
        print(f"wrote {paths[kind]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
