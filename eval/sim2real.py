"""Sim2Real consistency: do sim success rates rank policies the way the real robot does, and how far apart
do sim and real camera frames look?

Inputs: closed-loop sim run directories (``--sim-runs``, merged per policy as in ``eval.compare``) and
a CSV of real-robot trials with columns ``policy,scenario,trials,successes`` (``--real-trials``).
Reported (definitions in ``docs/metrics.md``):

- per policy: sim and real success with Wilson 95 % intervals and the sim − real gap with a Newcombe
  95 % interval. Sim success counts the sim episodes of the scenarios the policy was tried on in the
  real CSV when the sim runs have any, else all its sim episodes (the table says which);
- across policies (N >= 2): Pearson r, Spearman ρ and MMRV(sim, real) (real scores give the magnitude);
- optional, with ``--real-data`` and ``--sim-data`` (HDF5 episodes): the visual gap per scenario tag,
  the Fréchet distance between Gaussian fits of image features of real and sim frames of that tag; the
  encoder is ``colorhist`` (default: a deterministic 87-d colour-histogram + spatial-pyramid feature,
  see ``colour_features``) or ``policy:NAME`` (that policy's ``encode_images``, e.g. its vision tower);
- optional, with ``--policy-data NAME...``: open-loop model-space RMSE of those policies on real vs sim
  episodes of each tag (``eval.open_loop``).

Writes ``sim2real.json``, ``sim2real.md`` and a self-contained ``sim2real.html`` into ``--out`` (a folder,
default ``runs/sim2real/<trials CSV name>``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from common.cli import BenchError, default_out_dir, run_main
from common.files import atomic_write_json
from common.timefmt import utc_now_iso
from eval import metrics, real_trials
from eval.report_kit import fmt_interval, fmt_num, fmt_pct, write_doc
from eval.runs import PolicyRuns, find_run_dirs, load_policy_runs
from eval.sim2real_report import render
from eval.visual_gap import (  # noqa: F401 - re-exported: the feature functions live there
    VisualGapError,
    colour_features,
    default_tags,
    make_encoder,
    policy_encoder,
    visual_gap,
)


class Sim2RealError(BenchError, ValueError):
    """Inputs of the sim2real report are missing or malformed; the message names the file, line or tag."""


# --------------------------------------------------------------------------- real trials


def read_trials_csv(path: str | Path) -> dict[tuple[str, str], tuple[int, int]]:
    """``{(policy, scenario): (trials, successes)}`` (``eval.real_trials.read_trials_csv``); raises
    ``Sim2RealError`` naming the file, line and column of a malformed value, or the missing columns."""
    try:
        return real_trials.read_trials_csv(path)
    except real_trials.TrialsError as exc:
        raise Sim2RealError(str(exc)) from None


# --------------------------------------------------------------------------- success and ranking


def success_rows(
    sim: Sequence[PolicyRuns], real: Mapping[tuple[str, str], tuple[int, int]]
) -> list[dict[str, Any]]:
    """Per policy present on both sides: sim and real success, intervals and the sim − real gap."""
    rows = []
    for p in sim:
        scenarios = sorted(s for (pol, s) in real if pol == p.label)
        if not scenarios:
            continue
        n_real = sum(real[(p.label, s)][0] for s in scenarios)
        k_real = sum(real[(p.label, s)][1] for s in scenarios)
        matching = [ep for ep in p.main if ep["scenario"] in scenarios]
        episodes, basis = (matching, "same scenarios as real") if matching else (p.main, "all sim scenarios")
        n_sim, k_sim = len(episodes), sum(1 for ep in episodes if ep["success"])
        if n_sim == 0 or n_real == 0:
            raise Sim2RealError(
                f"policy {p.label}: {n_sim} sim episodes and {n_real} real trials; need both > 0"
            )
        gap, lo, hi = metrics.newcombe_diff_interval(k_sim, n_sim, k_real, n_real)
        per_scenario = []
        for s in scenarios:
            eps = [ep for ep in p.main if ep["scenario"] == s]
            n_r, k_r = real[(p.label, s)]
            per_scenario.append(
                {
                    "scenario": s,
                    "real_trials": n_r,
                    "real_successes": k_r,
                    "real_wilson95": list(metrics.wilson_interval(k_r, n_r)),
                    "sim_episodes": len(eps),
                    "sim_successes": sum(1 for ep in eps if ep["success"]),
                    "sim_wilson95": list(
                        metrics.wilson_interval(sum(1 for ep in eps if ep["success"]), len(eps))
                    ),
                }
            )
        rows.append(
            {
                "policy": p.label,
                "sim_basis": basis,
                "sim_episodes": n_sim,
                "sim_successes": k_sim,
                "sim_rate": k_sim / n_sim,
                "sim_wilson95": list(metrics.wilson_interval(k_sim, n_sim)),
                "real_trials": n_real,
                "real_successes": k_real,
                "real_rate": k_real / n_real,
                "real_wilson95": list(metrics.wilson_interval(k_real, n_real)),
                "gap": gap,
                "gap_newcombe95": [lo, hi],
                "per_scenario": per_scenario,
            }
        )
    return rows


def match_warnings(
    sim: Sequence[PolicyRuns],
    real: Mapping[tuple[str, str], tuple[int, int]],
    rows: Sequence[Mapping[str, Any]],
) -> list[str]:
    """What the matching of real trials to sim runs left out or widened, one sentence each: real-trials
    policies without a sim run (a misspelling, with the closest sim label), and real scenarios no sim
    episode of that policy ran (with whether the name is a sim scenario at all)."""
    import difflib

    from sim.taxonomy import parse_scenario_name

    labels = sorted(p.label for p in sim)
    out = []
    for name in sorted({p for p, _ in real} - set(labels)):
        close = difflib.get_close_matches(name, labels, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        out.append(
            f"real-trials policy {name!r} has no sim run and is left out (sim runs: "
            f"{', '.join(labels)}){hint}"
        )
    by_label = {p.label: p for p in sim}
    for row in rows:
        ran = {ep["scenario"] for ep in by_label[row["policy"]].main}
        for s in (r["scenario"] for r in row["per_scenario"] if r["scenario"] not in ran):
            try:
                parse_scenario_name(s)
                kind = "no sim episode ran it"
            except ValueError:
                kind = "it is not a scenario name of the sim taxonomy"
            basis = (
                "all its sim episodes"
                if row["sim_basis"] == "all sim scenarios"
                else "only the scenarios both sides ran"
            )
            out.append(
                f"policy {row['policy']!r}: real scenario {s!r} has no sim counterpart ({kind}); "
                f"its sim success counts {basis}"
            )
    return out


def ranking(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Pearson r, Spearman ρ and MMRV(sim, real) of per-policy success rates (``None`` below 2 policies)."""
    sim = [r["sim_rate"] for r in rows]
    real = [r["real_rate"] for r in rows]
    if len(rows) < 2:
        return {
            "policies": len(rows),
            "pearson_r": None,
            "spearman_rho": None,
            "mmrv": None,
            "note": "ranking consistency needs at least 2 policies with both sim and real results",
        }
    return {
        "policies": len(rows),
        "pearson_r": metrics.pearson_r(sim, real),
        "spearman_rho": metrics.spearman_rho(sim, real),
        "mmrv": metrics.mmrv(sim, real),
        "note": "",
    }


def open_loop_gap(
    policy_names: Sequence[str],
    real_data: Sequence[str | Path],
    sim_data: Sequence[str | Path],
    tags: Sequence[tuple[str, str]],
) -> list[dict[str, Any]]:
    """Model-space open-loop RMSE of each policy on real vs sim episodes of each tag."""
    from eval import open_loop
    from policies import make_policy

    rows = []
    for name in policy_names:
        policy = make_policy(name)
        for key, value in tags:
            res = {}
            for side, data in (("real", real_data), ("sim", sim_data)):
                try:
                    g = open_loop.evaluate(policy, list(data), tag_filter={key: value})["groups"]["all"]
                except open_loop.OpenLoopError as err:
                    raise Sim2RealError(f"open loop, policy {name}, {side} data: {err}") from None
                res[side] = {
                    "rmse": g["model"]["rmse"]["overall"],
                    "direction_accuracy": g["model"]["direction_accuracy"],
                    "frames": g["frames"],
                }
            rows.append(
                {
                    "policy": name,
                    "tag": f"{key}={value}",
                    **res,
                    "rmse_gap": res["sim"]["rmse"] - res["real"]["rmse"],
                }
            )
    return rows


def sim2real(
    sim_runs: Sequence[str | Path],
    real_trials: str | Path,
    *,
    labels: Sequence[str] | None = None,
    real_data: Sequence[str | Path] | None = None,
    sim_data: Sequence[str | Path] | None = None,
    tags: Sequence[tuple[str, str]] | None = None,
    tag_key: str = "side",
    encoder: str = "colorhist",
    policy_data: Sequence[str] = (),
) -> dict[str, Any]:
    """The whole sim2real comparison as a JSON-ready dict (see the module docstring)."""
    run_dirs = find_run_dirs(sim_runs)
    sim = load_policy_runs(run_dirs, labels)
    real = read_trials_csv(real_trials)
    rows = success_rows(sim, real)
    real_policies = sorted({p for p, _ in real})
    result: dict[str, Any] = {
        "created": utc_now_iso(),
        "sim_runs": [str(d) for d in run_dirs],
        "real_trials_csv": str(real_trials),
        "policies": rows,
        "unmatched": {
            "sim_only": sorted(p.label for p in sim if p.label not in real_policies),
            "real_only": [p for p in real_policies if p not in {s.label for s in sim}],
        },
        "ranking": ranking(rows),
        "warnings": match_warnings(sim, real, rows),
        "visual_gap": None,
        "open_loop": None,
    }
    if (real_data is None) != (sim_data is None):
        raise Sim2RealError("the visual gap needs both --real-data and --sim-data")
    if policy_data and not (real_data and sim_data):
        raise Sim2RealError("--policy-data needs --real-data and --sim-data")
    if real_data and sim_data:
        tag_list = list(tags) if tags else default_tags(real_data, tag_key)
        result["visual_gap"] = visual_gap(real_data, sim_data, tag_list, encoder)
        if policy_data:
            result["open_loop"] = open_loop_gap(policy_data, real_data, sim_data, tag_list)
    return result


def write_sim2real(result: Mapping[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``sim2real.json``, ``sim2real.md`` and ``sim2real.html`` (+ PNGs) into ``out_dir``."""
    out_dir = Path(out_dir)
    doc = render(result, out_dir)
    return {
        "json": atomic_write_json(out_dir / "sim2real.json", result),
        **write_doc(doc, out_dir, "sim2real", "Sim2Real consistency"),
    }


def parse_tags(items: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise Sim2RealError(f"--tag item {item!r}: expected key=value (e.g. side=left)")
        out.append((key, value))
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m eval.sim2real", description=__doc__.splitlines()[0])
    parser.add_argument("--sim-runs", nargs="+", required=True, help="closed-loop sim run directories")
    parser.add_argument("--real-trials", required=True, help="CSV: policy,scenario,trials,successes")
    parser.add_argument(
        "--labels", nargs="+", help="one policy label per sim run dir (default: policy names)"
    )
    parser.add_argument("--real-data", nargs="+", help="real HDF5 episodes (files, folders, manifests)")
    parser.add_argument("--sim-data", nargs="+", help="sim HDF5 episodes (files, folders, manifests)")
    parser.add_argument(
        "--tag",
        "--tags",
        dest="tags",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="tags to compare (default: every value of --tag-key)",
    )
    parser.add_argument("--tag-key", default="side", help="compare every value of this tag in the real data")
    parser.add_argument("--encoder", default="colorhist", help="'colorhist' (default) or 'policy:NAME'")
    parser.add_argument("--policy-data", nargs="+", default=[], help="policies for open-loop real vs sim")
    parser.add_argument("--out", type=Path, help="output folder (default runs/sim2real/<trials CSV name>)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 2) instead of warning when trials and runs do not match",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: _main(args))


def _main(args: argparse.Namespace) -> int:
    out = args.out or default_out_dir("sim2real", Path(args.real_trials).stem)
    if out.exists() and not out.is_dir():
        raise Sim2RealError(f"--out {out} is a file; expected a folder")
    result = sim2real(
        args.sim_runs,
        args.real_trials,
        labels=args.labels,
        real_data=args.real_data,
        sim_data=args.sim_data,
        tags=parse_tags(args.tags),
        tag_key=args.tag_key,
        encoder=args.encoder,
        policy_data=args.policy_data,
    )
    if args.strict and result["warnings"]:
        raise Sim2RealError(
            f"--strict: {result['warnings'][0]}"
            + (f" (and {len(result['warnings']) - 1} more warnings)" if len(result["warnings"]) > 1 else "")
        )
    for warning in result["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    paths = write_sim2real(result, out)
    rk = result["ranking"]
    for r in result["policies"]:
        print(
            f"{r['policy']}: sim {fmt_pct(r['sim_rate'])} {fmt_interval(r['sim_wilson95'])}, real "
            f"{fmt_pct(r['real_rate'])} {fmt_interval(r['real_wilson95'])}, gap {100 * r['gap']:+.1f} pp"
        )
    print(
        f"Pearson r {fmt_num(rk['pearson_r'])}, Spearman rho {fmt_num(rk['spearman_rho'])}, "
        f"MMRV {fmt_num(rk['mmrv'])} {rk['note']}"
    )
    for kind in ("json", "md", "html"):
        print(f"wrote {paths[kind]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
