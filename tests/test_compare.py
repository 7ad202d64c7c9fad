"""Policy comparison from synthetic run directories: pairing, McNemar, hypothesis verdicts, outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eval import compare
from eval.report import ResultsError

N_EP = 20


def write_run(
    run_dir: Path,
    policy: str,
    successes: list[bool],
    p50: float | None = 150.0,
    seeds: list[int] | None = None,
) -> Path:
    """A minimal results.json: episode i is scenario left/right (alternating) with seed 100 + i; every
    step of every episode took ``p50`` ms (no per-step samples at all when ``p50`` is None)."""
    seeds = seeds if seeds is not None else [100 + i for i in range(len(successes))]
    samples = {} if p50 is None else {"latency_samples_ms": {"total_ms": [p50] * 5}}
    episodes = [
        {
            "episode": i,
            "seed": seed,
            "scenario": "left_core" if seed % 2 == 0 else "right_core",
            "success": ok,
            "spl": 0.9 if ok else 0.0,
            "soft_spl": 0.95 if ok else 0.3,
            "instruction_flipped": False,
            **samples,
        }
        for i, (seed, ok) in enumerate(zip(seeds, successes, strict=True))
    ]
    lat = (
        {}
        if p50 is None
        else {"total_ms": {"p50": p50, "p95": p50 * 1.5, "max": p50 * 2, "mean": p50, "n": 50}}
    )
    summary = {
        "policy": policy,
        "episodes": len(episodes),
        "successes": sum(successes),
        "latency_ms": lat,
        "instruction_sensitivity": {"episodes": 4, "named_side_rate": 0.5, "wilson95": [0.15, 0.85]},
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.json").write_text(
        json.dumps({"summary": summary, "provenance": {}, "episodes": episodes})
    )
    return run_dir


@pytest.fixture()
def sweep(tmp_path: Path) -> Path:
    """A hydra-multirun-like folder: one numbered run dir per policy."""
    root = tmp_path / "sweep"
    write_run(root / "0", "robovlms", [True] * N_EP, p50=150.0)
    write_run(root / "1", "kosmos2", [True] * 10 + [False] * 10, p50=250.0)  # A-only 10, B-only 0
    write_run(root / "2", "lora", [True] * 18 + [False] * 2, p50=None)
    write_run(root / "3", "full", [True] * 18 + [False] * 2)
    return root


def by_id(hyps: list[dict], hid: str, policy: str | None = None) -> dict:
    return next(h for h in hyps if h["id"] == hid and (policy is None or h.get("policy") == policy))


def test_sweep_discovery_and_hypothesis_verdicts(sweep: Path):
    runs = compare.load_policy_runs(compare.find_run_dirs([sweep]))
    assert [p.label for p in runs] == ["robovlms", "kosmos2", "lora", "full"]
    roles = compare.parse_roles("kosmos2=kosmos2,robovlms=robovlms,lora=lora,full=full")
    result = compare.compare(runs, roles)
    h = result["hypotheses"]
    h1 = by_id(h, "H1")
    assert h1["verdict"] == "supported"
    assert h1["pair"]["a_only"] == 10 and h1["pair"]["b_only"] == 0
    assert h1["pair"]["p_value"] == pytest.approx(2 / 2**10)
    # identical 18/20 outcomes: difference 0 but the interval is far wider than 5 pp
    assert by_id(h, "H2")["verdict"] == "inconclusive"
    assert by_id(h, "H3")["verdict"] == "not tested"
    assert by_id(h, "H4", "robovlms")["verdict"] == "supported"
    assert by_id(h, "H4", "kosmos2")["verdict"] == "not supported"
    assert by_id(h, "H4", "lora")["verdict"] == "not tested"
    assert by_id(h, "H5", "robovlms")["verdict"] == "supported"  # 20/20: Wilson lo 0.839 > 0.8
    assert by_id(h, "H5", "kosmos2")["verdict"] == "not supported"  # 10/20: hi 0.70 < 0.8
    assert by_id(h, "H5", "lora")["verdict"] == "inconclusive"  # 18/20: [0.70, 0.97]
    pair = next(p for p in result["pairs"] if (p["a"], p["b"]) == ("robovlms", "kosmos2"))
    assert pair["matched"] == 20 and pair["difference"] == pytest.approx(0.5)


def test_h2_noninferiority_margin_and_clear_loss(tmp_path: Path):
    write_run(tmp_path / "a", "lora", [True] * 18 + [False] * 2)
    write_run(tmp_path / "b", "full", [True] * 18 + [False] * 2)
    runs = compare.load_policy_runs([tmp_path / "a", tmp_path / "b"])
    h2 = by_id(compare.hypotheses(runs, {"lora": "lora", "full": "full"}, margin=0.25), "H2")
    assert h2["verdict"] == "supported"  # Newcombe lower bound about -0.19 > -0.25
    assert -0.25 < h2["difference_interval"][1] < -0.05
    write_run(tmp_path / "c", "lora", [True] * 5 + [False] * 15)
    runs = compare.load_policy_runs([tmp_path / "c", tmp_path / "b"])
    assert (
        by_id(compare.hypotheses(runs, {"lora": "lora", "full": "full"}), "H2")["verdict"] == "not supported"
    )


def test_main_role_restricts_h4_h5_and_pairs_use_matched_episodes(tmp_path: Path):
    write_run(tmp_path / "a", "A", [True] * 10)
    write_run(tmp_path / "b", "B", [False] * 6, seeds=[100 + i for i in range(4, 10)])
    runs = compare.load_policy_runs([tmp_path / "a", tmp_path / "b"])
    result = compare.compare(runs, {"main": "A"})
    # H4, H5 (sim) and H5 (real), each for the main policy only
    assert [h.get("policy") for h in result["hypotheses"] if h["id"] in ("H4", "H5")] == ["A", "A", "A"]
    assert result["pairs"][0]["matched"] == 6 and result["pairs"][0]["a_only"] == 6


def test_runs_of_one_label_merge_and_duplicates_raise(tmp_path: Path):
    write_run(tmp_path / "r1", "A", [True] * 5, seeds=[0, 1, 2, 3, 4], p50=100.0)
    write_run(tmp_path / "r2", "A", [False] * 5, seeds=[5, 6, 7, 8, 9], p50=200.0)
    [merged] = compare.load_policy_runs([tmp_path / "r1", tmp_path / "r2"])
    assert (merged.n, merged.k) == (10, 5)
    row = compare.policy_row(merged)
    # pooled exactly from the stored per-step samples of both runs: 25 steps at 100 ms, 25 at 200 ms
    assert row["latency_total_ms"] == {"p50": 150.0, "p95": 200.0, "max": 200.0, "mean": 150.0, "n": 50}
    assert (
        row["instruction_sensitivity"]["episodes"] == 8 and row["instruction_sensitivity"]["named_side"] == 4
    )
    with pytest.raises(compare.CompareError, match="appears twice"):
        compare.load_policy_runs([tmp_path / "r1", tmp_path / "r1"])
    # explicit labels keep them apart
    assert [p.label for p in compare.load_policy_runs([tmp_path / "r1", tmp_path / "r1"], ["x", "y"])] == [
        "x",
        "y",
    ]


def test_role_errors_name_the_problem(sweep: Path):
    runs = compare.load_policy_runs(compare.find_run_dirs([sweep]))
    with pytest.raises(compare.CompareError, match="unknown role 'teacher'"):
        compare.hypotheses(runs, {"teacher": "lora"})
    with pytest.raises(compare.CompareError, match="no compared policy has that label"):
        compare.hypotheses(runs, {"lora": "nope"})
    with pytest.raises(compare.CompareError, match="expected role=label"):
        compare.parse_roles("kosmos2")


def test_roles_from_yaml(tmp_path: Path):
    (tmp_path / "roles.yaml").write_text("kosmos2: A\nrobovlms: B\n")
    assert compare.parse_roles(str(tmp_path / "roles.yaml")) == {"kosmos2": "A", "robovlms": "B"}


def test_cli_writes_json_md_and_self_contained_html(sweep: Path, tmp_path: Path, capsys):
    out = tmp_path / "cmp"
    rc = compare.main(
        ["--runs", str(sweep), "--roles", "kosmos2=kosmos2,robovlms=robovlms", "--out", str(out)]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "H1  supported" in printed
    data = json.loads((out / "compare.json").read_text())
    assert len(data["policies"]) == 4 and len(data["pairs"]) == 6
    md = (out / "compare.md").read_text()
    assert (
        "| robovlms | 20 | 100.0 % |" in md
        and "| H1 | robot-pretrained backbone beats Kosmos-2 | supported |" in md
    )
    html = (out / "compare.html").read_text()
    assert 'src="data:image/png;base64,' in html and not re.search(r'src="(?!data:)', html)


def test_cli_errors(tmp_path: Path, capsys):
    assert compare.main(["--runs", str(tmp_path)]) == 2
    assert "no results.json" in capsys.readouterr().err
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "results.json").write_text("{}")
    with pytest.raises(ResultsError, match="missing key 'summary'"):
        compare.load_policy_runs([tmp_path / "bad"])


def test_mirrored_instruction_twins_are_not_counted_or_paired(tmp_path: Path):
    write_run(tmp_path / "a", "A", [True] * 4)
    data = json.loads((tmp_path / "a" / "results.json").read_text())
    twins = [{**ep, "instruction_flipped": True, "success": False} for ep in data["episodes"]]
    data["episodes"] += twins
    (tmp_path / "a" / "results.json").write_text(json.dumps(data))
    write_run(tmp_path / "b", "B", [False] * 4)
    runs = compare.load_policy_runs([tmp_path / "a", tmp_path / "b"])
    assert (runs[0].n, runs[0].k) == (4, 4)
    assert compare.pair_row(runs[0], runs[1])["matched"] == 4


def test_policies_mode_runs_the_closed_loop_on_the_same_seeds(tmp_path: Path):
    out = tmp_path / "cmp"
    rc = compare.main(
        [
            "--policies",
            "replay_core",
            "random",
            "--episodes",
            "1",
            "--seed",
            "3",
            "videos=0",
            "--out",
            str(out),
            "report=false",
            "progress=false",
            "instruction_sensitivity=false",
        ]
    )
    assert rc == 0
    data = json.loads((out / "compare.json").read_text())
    assert [p["label"] for p in data["policies"]] == ["replay_core", "random"]
    assert data["pairs"][0]["matched"] == 1
    seeds = [
        json.loads((out / "runs" / name / "results.json").read_text())["episodes"][0]["seed"]
        for name in ("replay_core", "random")
    ]
    assert seeds == [3, 3]


def test_policies_mode_checks_roles_and_out_before_running_and_keeps_set_as_an_alias(
    tmp_path: Path, capsys, monkeypatch
):
    def never(*args, **kwargs):
        raise AssertionError("a policy ran before the arguments were checked")

    monkeypatch.setattr("eval.closed_loop.run", never)
    base = ["--policies", "replay_core", "random", "--episodes", "1"]
    assert compare.main([*base, "--roles", "main=scripted", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "error: role main='scripted': no compared policy has that label (labels: replay_core, random)" in (
        err
    )
    taken = tmp_path / "file"
    taken.write_text("x")
    assert compare.main([*base, "--out", str(taken)]) == 2
    assert f"error: --out {taken} is a file; expected a folder" in capsys.readouterr().err
    assert compare.main(["--runs", str(tmp_path), "videos=0"]) == 2
    assert "error: override 'videos=0': closed-loop overrides need --policies" in capsys.readouterr().err
    seen = {}

    def stop(names, root, *rest):
        seen.update(root=root, overrides=rest[-1])
        raise ValueError("stop here")

    monkeypatch.setattr(compare, "run_policies", stop)
    assert compare.main([*base, "--set", "videos=0", "policy.seed=1"]) == 2
    assert "warning: --set KEY=VALUE is deprecated" in capsys.readouterr().err
    assert seen["overrides"] == ["videos=0", "policy.seed=1"]
    assert seen["root"].parts[-3:] == ("compare", "replay_core-random", "runs")  # runs/compare/<policies>


def _runs_with(tmp_path: Path, a: tuple[str, list[bool]], b: tuple[str, list[bool]]):
    write_run(tmp_path / a[0], a[0], a[1])
    write_run(tmp_path / b[0], b[0], b[1])
    return compare.load_policy_runs([tmp_path / a[0], tmp_path / b[0]])


def test_h2_probe_lora_1900_vs_full_1940_of_2000_is_noninferior(tmp_path: Path):
    # 2,000 matched episodes: full succeeds on 1,940, LoRA on 1,900 of them (40 full-only, 0
    # LoRA-only). McNemar is highly significant, but −2.0 pp with Newcombe [−3.2, −0.8] pp lies inside
    # the 5 pp margin: non-inferiority is shown, so H2 is supported.
    full = [i < 1940 for i in range(2000)]
    lora = [i < 1900 for i in range(2000)]
    runs = _runs_with(tmp_path, ("lora", lora), ("full", full))
    h2 = by_id(compare.hypotheses(runs, {"lora": "lora", "full": "full"}), "H2")
    d, lo, hi = h2["difference_interval"]
    assert d == pytest.approx(-0.02)
    assert round(100 * lo, 1) == -3.2 and round(100 * hi, 1) == -0.8
    assert h2["pair"]["p_value"] < 1e-10
    assert h2["verdict"] == "supported"


def test_h2_interval_straddling_the_margin_is_inconclusive_and_below_it_not_supported(tmp_path: Path):
    runs = _runs_with(
        tmp_path, ("lora", [i < 170 for i in range(200)]), ("full", [i < 180 for i in range(200)])
    )
    h2 = by_id(compare.hypotheses(runs, {"lora": "lora", "full": "full"}), "H2")
    assert h2["difference_interval"][1] < -0.05 < h2["difference_interval"][2]
    assert h2["verdict"] == "inconclusive"
    runs = _runs_with(
        tmp_path, ("lora", [i < 100 for i in range(200)]), ("full", [i < 180 for i in range(200)])
    )
    h2 = by_id(compare.hypotheses(runs, {"lora": "lora", "full": "full"}), "H2")
    assert h2["difference_interval"][2] < -0.05 and h2["verdict"] == "not supported"


def test_h4_is_judged_on_the_per_step_p95(tmp_path: Path):
    # 100 episodes of 20 steps: 1,800 steps at 100 ms and 200 at 450 ms. p50 = 100 ms would pass the
    # 200 ms bar; the per-step p95 is 450 ms (linear interpolation between sorted steps 1,899 and
    # 1,900, both 450 ms), so H4 is not supported.
    run = write_run(tmp_path / "slow", "slow", [True] * 100)
    data = json.loads((run / "results.json").read_text())
    for i, ep in enumerate(data["episodes"]):
        ep["latency_samples_ms"] = {"total_ms": [450.0 if i < 10 else 100.0] * 20}
    (run / "results.json").write_text(json.dumps(data))
    [slow] = compare.load_policy_runs([run])
    h4 = by_id(compare.hypotheses([slow], {}), "H4")
    assert "p95 450.0 ms" in h4["evidence"] and "p50 100.0" in h4["evidence"]
    assert h4["verdict"] == "not supported"


def test_h5_sim_is_labelled_and_real_is_not_tested_without_real_trials(tmp_path: Path):
    csv = tmp_path / "trials.csv"
    csv.write_text("policy,scenario,trials,successes\nA,1box_hori_left_core_medium,30,26\nA,x,30,25\n")
    write_run(tmp_path / "a", "A", [True] * 20)
    runs = compare.load_policy_runs([tmp_path / "a"])
    hyps = compare.hypotheses(runs, {})
    sim, real = [h for h in hyps if h["id"] == "H5"]
    assert sim["setting"] == "sim" and "in sim" in sim["claim"] and sim["verdict"] == "supported"
    assert real["setting"] == "real" and real["verdict"] == "not tested"
    from eval.real_trials import real_success_by_policy

    real = [h for h in compare.hypotheses(runs, {}, real=real_success_by_policy(csv)) if h["id"] == "H5"][1]
    assert "51/60" in real["evidence"] and real["verdict"] == "inconclusive"  # Wilson [0.74, 0.92]


def test_report_states_sidedness_and_holm_adjusts_the_pairs(sweep: Path, tmp_path: Path):
    runs = compare.load_policy_runs(compare.find_run_dirs([sweep]))
    result = compare.compare(runs, {})
    raw = [p["p_value"] for p in result["pairs"]]
    assert [p["p_holm"] for p in result["pairs"]] == compare.metrics.holm_adjust(raw)
    assert "one-sided" in result["sidedness"] and "Holm" in result["multiple_comparisons"]
    md = "\n".join(compare.render(result, runs, tmp_path).md)
    assert "Holm p" in md and "Sidedness:" in md and "Multiple comparisons:" in md
