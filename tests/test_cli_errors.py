"""Bad input gets one line, ``error: …`` naming the key or value, exit 2, and nothing half-written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from datagen import generate
from eval import closed_loop, compare, open_loop
from tests.fixtures_episodes import episode_file_name, write_real_episode_file

REPO = Path(__file__).resolve().parents[1]
SMALL = ["env.camera.width=64", "env.camera.height=36", "videos=0", "report=false", "progress=false"]
IN_RANGE = "expected an integer in 1..1000000"
DATAGEN_SMALL = ["env.camera.width=64", "env.camera.height=36", "progress=false"]


def error_line(capsys) -> str:
    """The one ``error: …`` line on stderr (no traceback)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


# ------------------------------------------------------------------------------- closed loop
def test_closed_loop_typo_is_refused_before_run_json_and_the_corrected_rerun_runs(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--policy", "scripted", "--episodes", "1", "--out", str(out), *SMALL]
    assert closed_loop.main([*args, "latency_in_loop.mode=fixd"]) == 2
    line = error_line(capsys)
    assert "latency_in_loop.mode='fixd'" in line and "none, fixed, measured" in line
    assert not (out / "run.json").exists()
    assert closed_loop.main([*args, "latency_in_loop.mode=fixed"]) == 0


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("seed=abc", "error: seed='abc' is invalid: expected an integer >= 0"),
        ("workers=0", "error: workers=0 is invalid: expected an integer >= 1"),
        ("episodes=100000000000", f"error: episodes=100000000000 is invalid: {IN_RANGE}"),
        ("episodes=1e11", f"error: episodes=100000000000 is invalid: {IN_RANGE}"),
        ("step_timeout_s=0", "error: step_timeout_s=0 is invalid: expected a finite number > 0"),
        ("+policy.bogus=1", "error: policy 'scripted' has no argument policy.bogus; its arguments: "),
        ("env.max_stpes=3", "error: unknown config key 'env.max_stpes' (override 'env.max_stpes=3'); keys "
                            "of env:"),
    ],
)
def test_closed_loop_bad_values_name_the_key(override, expected, tmp_path, capsys):
    out = tmp_path / "run"
    assert closed_loop.main(["--policy", "scripted", "--out", str(out), override, *SMALL]) == 2
    assert error_line(capsys).startswith(expected)
    assert not out.exists() or not (out / "run.json").exists()


def test_closed_loop_policy_setting_of_the_wrong_type_names_it(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--policy", "vla_tiny", "policy.model.window=abc", "--out", str(out), *SMALL]
    assert closed_loop.main(args) == 2
    assert error_line(capsys) == (
        "error: policy 'vla_tiny': vla policy 'model' settings.window='abc' is invalid: expected an int"
    )
    assert not out.exists()


def test_closed_loop_flag_values_are_checked_up_front(tmp_path, capsys):
    out = tmp_path / "run"
    assert closed_loop.main(["--policy", "scripted", "--workers", "0", "--out", str(out), *SMALL]) == 2
    assert error_line(capsys) == "error: workers=0 is invalid: expected an integer >= 1"
    assert closed_loop.main(["--policy", "scripted", "--episodes", "100000000000", "--out", str(out)]) == 2
    assert "episodes=100000000000 is invalid" in error_line(capsys)
    with pytest.raises(SystemExit) as exit_info:  # argparse: --episodes takes an integer
        closed_loop.main(["--policy", "scripted", "--episodes", "1e11"])
    assert exit_info.value.code == 2 and "invalid int value: '1e11'" in capsys.readouterr().err
    assert not out.exists()


@pytest.fixture(scope="module")
def damaged_checkpoints(tmp_path_factory) -> dict[str, Path]:
    """Copies of the shipped ``best`` checkpoint: head truncated, backbone weights garbage, no tokenizer."""
    root = tmp_path_factory.mktemp("ckpts")
    out = {}
    for case in ("truncated", "corrupt", "no_tokenizer"):
        out[case] = shutil.copytree(REPO / "assets" / "policies" / "best", root / case)
    head = out["truncated"] / "head.safetensors"
    head.write_bytes(head.read_bytes()[: head.stat().st_size // 2])
    (out["corrupt"] / "backbone" / "weights.safetensors").write_bytes(b"\xff" * 64)
    (out["no_tokenizer"] / "backbone" / "tokenizer.json").unlink()
    return out


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("truncated", "head.safetensors: not a readable safetensors file (Error while deserializing header"),
        ("corrupt", "weights.safetensors: not a readable safetensors file (Error while deserializing header"),
        ("no_tokenizer", "backbone: no tokenizer file (tokenizer.json or sentencepiece.bpe.model"),
    ],
)
def test_damaged_checkpoint_names_the_file(case, expected, damaged_checkpoints, tmp_path, capsys):
    ckpt = damaged_checkpoints[case]
    out = tmp_path / "run"
    assert closed_loop.main(["--policy", "best", f"policy.checkpoint={ckpt}", "--out", str(out), *SMALL]) == 2
    line = error_line(capsys)
    assert str(ckpt) in line and expected in line and "sentencepiece or tiktoken" not in line
    assert not out.exists()


# ------------------------------------------------------------------------------- compare
def test_compare_unknown_policy_fails_before_running_any(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert compare.main(["--policies", "scripted", "nope", "--episodes", "1", "--out", str(out)]) == 2
    line = error_line(capsys)
    assert line.startswith("error: unknown policy policy=nope; known policy configs: best, ")
    assert not out.exists()  # scripted did not run first


# ------------------------------------------------------------------------------- datagen
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["expert.variaton=0.3"], "error: unknown config key 'expert.variaton' (override "
                                  "'expert.variaton=0.3'); keys of expert: margin_m, operator_sequences, "
                                  "plan_clearance_m, "
                                  "plan_end_within_m, stop_fraction, style, variation; to add a key that "
                                  "the config does not have, write +expert.variaton=0.3"),
        (["expert.operator_sequences=nov"], "error: operator sequences='nov': no file "),
        (["seed=abc"], "error: seed='abc' is invalid: expected an integer >= 0"),
        (["--workers", "0"], "error: workers=0 is invalid: expected an integer >= 1"),
        (["--episodes", "100000000000"], "error: episodes=100000000000 is invalid: expected an integer in "
                                         "1..1000000 (file names hold a 6-digit index)"),
        (["episodes=1e11"], "error: episodes=100000000000 is invalid"),
    ],
)
def test_datagen_bad_values_name_the_key(args, expected, tmp_path, capsys):
    out = tmp_path / "gen"
    assert generate.main(["--out", str(out), *DATAGEN_SMALL, *args]) == 2  # every case fails up front
    assert error_line(capsys).startswith(expected)
    assert not out.exists()


# ------------------------------------------------------------------------------- open loop
@pytest.fixture()
def one_episode(tmp_path) -> Path:
    folder = tmp_path / "data"
    write_real_episode_file(folder / episode_file_name("left"), side="left")
    return folder


def test_open_loop_refuses_a_privileged_policy_and_says_why(one_episode, tmp_path, capsys):
    out = tmp_path / "ol"
    assert open_loop.main(["--policy", "scripted", "--data", str(one_episode), "--out", str(out)]) == 2
    line = error_line(capsys)
    assert line.startswith("error: policy 'scripted' cannot run open loop: it is privileged")
    assert "obs['state']" in line and not out.exists()


def test_open_loop_out_is_checked_before_the_run(one_episode, tmp_path, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("evaluate ran before --out was checked")

    monkeypatch.setattr(open_loop, "evaluate", never)
    existing = tmp_path / "taken.json"
    existing.write_text("{}")
    assert open_loop.main(["--policy", "random", "--data", str(one_episode), "--out", str(existing)]) == 2
    assert error_line(capsys) == (
        f"error: --out {existing} is a file; expected a folder (the result goes to "
        f"{existing / 'open_loop.json'})"
    )
    assert existing.read_text() == "{}"
    old_form = tmp_path / "new.json"
    assert open_loop.main(["--policy", "random", "--data", str(one_episode), "--out", str(old_form)]) == 2
    assert error_line(capsys).startswith(f"error: --out {old_form}: --out is a folder now")
    assert not old_form.exists()


def test_open_loop_set_keeps_the_other_nested_settings(one_episode, tmp_path, monkeypatch):
    seen = {}

    def fake_make_policy(name, **overrides):
        from policies.factory import merge_settings, policy_config

        seen.update(merge_settings(policy_config(name), overrides))
        raise ValueError("stop here")

    monkeypatch.setattr("policies.make_policy", fake_make_policy)
    assert open_loop.main(["--policy", "vla_tiny", "policy.model.window=4", "--data", str(one_episode),
                           "--out", str(tmp_path / "o")]) == 2
    assert seen["model"]["window"] == 4 and seen["model"]["head"]["type"] == "lstm"
    assert seen["model"]["backbone"]["init"] == "tiny" and seen["preprocess"]["resize"] == 56


# ------------------------------------------------------------------------------- sim2real
def test_sim2real_says_what_the_trials_csv_does_not_match(tmp_path, capsys):
    from eval import sim2real
    from tests.test_compare import write_run

    write_run(tmp_path / "runs" / "s", "scripted", [True] * 10)
    write_run(tmp_path / "runs" / "r", "random", [False] * 10)
    csv_path = tmp_path / "trials.csv"
    csv_path.write_text("policy,scenario,trials,successes\nscripted,left_core,10,9\nrandom,hallway,10,2\n"
                        "scriptd,left_core,5,5\n")
    args = ["--sim-runs", str(tmp_path / "runs"), "--real-trials", str(csv_path), "--out", str(tmp_path)]
    assert sim2real.main(args) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        "warning: real-trials policy 'scriptd' has no sim run and is left out (sim runs: random, scripted); "
        "did you mean 'scripted'?",
        "warning: policy 'random': real scenario 'hallway' has no sim counterpart (it is not a scenario name "
        "of the sim taxonomy); its sim success counts all its sim episodes",
    ]
    assert sim2real.main([*args, "--strict"]) == 2
    assert error_line(capsys).startswith("error: --strict: real-trials policy 'scriptd' has no sim run")


# ------------------------------------------------------------------------------- latency
def test_latency_writes_into_a_folder_and_checks_its_arguments_first(tmp_path, capsys, monkeypatch):
    import common.paths
    from eval import latency

    monkeypatch.setattr(common.paths, "RUNS_DIR", tmp_path / "runs")
    args = ["--policy", "random", "--steps", "3", "--warmup", "0", "--height", "8", "--width", "8"]
    assert latency.main([*args, "policy.seed=3"]) == 0
    assert (tmp_path / "runs" / "latency" / "random" / "latency.json").is_file()
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert latency.main([*args, "--out", str(taken)]) == 2
    expected = f"error: --out {taken} is a file; expected a folder (for {taken / 'latency.json'})"
    assert error_line(capsys) == expected
    assert latency.main([*args, "--steps", "0", "--out", str(tmp_path / "o")]) == 2
    assert error_line(capsys) == "error: --steps=0 is invalid: expected an integer >= 1"
    assert latency.main([*args, "seed=3", "--out", str(tmp_path / "o")]) == 2
    expected = "error: override 'seed=3': policy arguments are written policy.KEY=VALUE"
    assert error_line(capsys).startswith(expected)
    assert not (tmp_path / "o").exists() and taken.read_text() == "x"
