"""Sim2Real report from synthetic sim runs, a real-trials CSV and tiny HDF5 episodes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from datagen.schema import Episode, write_episode
from eval import metrics, sim2real
from tests.test_compare import write_run

CSV = """policy,scenario,trials,successes
A,left_core,10,9
B,hallway,10,3
C,hallway,6,3
C,hallway,4,2
D,hallway,5,5
"""


@pytest.fixture()
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    runs = tmp_path / "runs"
    write_run(runs / "a", "A", [True] * 20)  # left_core episodes (even seeds): 10/10
    write_run(runs / "b", "B", [True] * 10 + [False] * 10)  # 'hallway' not in sim: all episodes, 10/20
    write_run(runs / "c", "C", [True] * 4 + [False] * 16)  # 4/20
    write_run(runs / "e", "E", [True] * 2)  # sim only
    csv_path = tmp_path / "trials.csv"
    csv_path.write_text(CSV)
    return runs, csv_path


def write_frames_episode(folder: Path, side: str, minute: int, brightness: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    images = np.clip(rng.normal(brightness, 25, size=(6, 18, 32, 3)), 0, 255).astype(np.uint8)
    name = f"episode_20251106_10{minute:02d}00_1box_hori_{side}_core_medium.h5"
    actions = np.zeros((6, 3), dtype=np.float32)
    return write_episode(folder / name, Episode(images=images, actions=actions, instruction=f"go {side}"))


def test_success_rows_ranking_and_unmatched(inputs):
    runs, csv_path = inputs
    result = sim2real.sim2real([runs], csv_path)
    rows = {r["policy"]: r for r in result["policies"]}
    assert set(rows) == {"A", "B", "C"}
    assert (rows["A"]["sim_successes"], rows["A"]["sim_episodes"], rows["A"]["sim_basis"]) == (
        10,
        10,
        "same scenarios as real",
    )
    assert (rows["B"]["sim_rate"], rows["B"]["sim_basis"]) == (0.5, "all sim scenarios")
    assert (rows["C"]["real_trials"], rows["C"]["real_successes"]) == (10, 5)  # repeated rows summed
    assert rows["A"]["gap"] == pytest.approx(1.0 - 0.9)
    lo, hi = rows["A"]["gap_newcombe95"]
    assert lo < 0.1 < hi
    assert result["unmatched"] == {"sim_only": ["E"], "real_only": ["D"]}
    rk = result["ranking"]
    # sim [1.0, 0.5, 0.2] vs real [0.9, 0.3, 0.5]: B and C swap. MMRV = (0 + 0.2 + 0.2) / 3 with the
    # magnitude |R_B - R_C| = 0.2 from the real scores; Spearman ranks [3,2,1] vs [3,1,2] -> 0.5
    assert rk["mmrv"] == pytest.approx(0.4 / 3)
    assert rk["spearman_rho"] == pytest.approx(0.5)
    assert rk["pearson_r"] == pytest.approx(metrics.pearson_r([1.0, 0.5, 0.2], [0.9, 0.3, 0.5]))


def test_csv_errors_name_line_and_column(tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("policy,scenario,trials,successes\nA,s,10,3\nB,s,ten,3\n")
    with pytest.raises(sim2real.Sim2RealError, match=r"bad.csv: line 3, column 'trials': .*got 'ten'"):
        sim2real.read_trials_csv(bad)
    bad.write_text("policy,scenario,trials\nA,s,10\n")
    with pytest.raises(sim2real.Sim2RealError, match="line 1: missing column.*successes"):
        sim2real.read_trials_csv(bad)
    bad.write_text("policy,scenario,trials,successes\nA,s,3,4\n")
    with pytest.raises(sim2real.Sim2RealError, match="line 2, column 'successes': 4 successes exceed 3"):
        sim2real.read_trials_csv(bad)
    bad.write_text("policy,scenario,trials,successes\n,s,3,1\n")
    with pytest.raises(sim2real.Sim2RealError, match="line 2, column 'policy': empty"):
        sim2real.read_trials_csv(bad)


def test_colour_features_are_deterministic_histograms_and_pyramid():
    frames = np.random.default_rng(0).integers(0, 256, size=(3, 20, 30, 3), dtype=np.uint8)
    f = sim2real.colour_features(frames)
    assert f.shape == (3, 24 + 3 * (1 + 4 + 16))
    assert np.allclose(f[:, :24].reshape(3, 3, 8).sum(axis=2), 1.0)
    assert np.array_equal(f, sim2real.colour_features(frames))
    flat = sim2real.colour_features(np.full((1, 8, 8, 3), 255, dtype=np.uint8))
    assert np.allclose(flat[0, 24:], 1.0)


def test_visual_gap_zero_for_same_frames_positive_for_different_and_missing_tag(tmp_path: Path):
    real, sim_same, sim_bright = tmp_path / "real", tmp_path / "sim_same", tmp_path / "sim_bright"
    for i, side in enumerate(["left", "right", "left", "right"]):
        write_frames_episode(real, side, i, 100, seed=i)
        write_frames_episode(sim_same, side, i, 100, seed=i)
        write_frames_episode(sim_bright, side, i, 170, seed=10 + i)
    tags = sim2real.default_tags([real], "side")
    assert tags == [("side", "left"), ("side", "right")]
    same = sim2real.visual_gap([real], [sim_same], tags)
    assert [g["frechet"] for g in same["tags"]] == pytest.approx([0.0, 0.0], abs=1e-6)
    assert same["tags"][0]["real_frames"] == 12 and same["tags"][0]["sim_episodes"] == 2
    bright = sim2real.visual_gap([real], [sim_bright], tags)
    assert min(g["frechet"] for g in bright["tags"]) > 0.1
    with pytest.raises(
        sim2real.VisualGapError, match=r"real data .*no episodes with tag side=straight.*present: left, right"
    ):
        sim2real.visual_gap([real], [sim_same], [("side", "straight")])
    with pytest.raises(sim2real.VisualGapError, match="has no encode_images"):
        sim2real.make_encoder("policy:random")


def test_cli_writes_reports_with_open_loop_and_visual_gap(inputs, tmp_path: Path, capsys):
    runs, csv_path = inputs
    real, sim = tmp_path / "real", tmp_path / "sim"
    for i, side in enumerate(["left", "right"]):
        write_frames_episode(real, side, i, 90, seed=i)
        write_frames_episode(sim, side, i, 150, seed=5 + i)
    out = tmp_path / "s2r"
    rc = sim2real.main(
        [
            "--sim-runs",
            str(runs),
            "--real-trials",
            str(csv_path),
            "--real-data",
            str(real),
            "--sim-data",
            str(sim),
            "--policy-data",
            "random",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    assert "MMRV 0.133" in capsys.readouterr().out
    data = json.loads((out / "sim2real.json").read_text())
    assert [g["tag"] for g in data["visual_gap"]["tags"]] == ["side=left", "side=right"]
    assert {(r["policy"], r["tag"]) for r in data["open_loop"]} == {
        ("random", "side=left"),
        ("random", "side=right"),
    }
    md = (out / "sim2real.md").read_text()
    assert "| A | left_core | 10/10 |" in md and "MMRV" in md and "colorhist" in md
    html = (out / "sim2real.html").read_text()
    assert html.count('src="data:image/png;base64,') == 2 and not re.search(r'src="(?!data:)', html)


def test_cli_reports_bad_csv(inputs, tmp_path: Path, capsys):
    runs, _ = inputs
    bad = tmp_path / "bad.csv"
    bad.write_text("policy,scenario,trials,successes\nA,s,1,x\n")
    assert (
        sim2real.main(["--sim-runs", str(runs), "--real-trials", str(bad), "--out", str(tmp_path / "o")]) == 2
    )
    assert "line 2, column 'successes'" in capsys.readouterr().err


def test_cli_out_defaults_to_runs_sim2real_and_tag_spellings_agree(inputs, tmp_path, capsys, monkeypatch):
    import common.paths

    runs, csv_path = inputs
    monkeypatch.setattr(common.paths, "RUNS_DIR", tmp_path / "runs_root")
    base = ["--sim-runs", str(runs), "--real-trials", str(csv_path)]
    assert sim2real.main(base) == 0
    assert (tmp_path / "runs_root" / "sim2real" / csv_path.stem / "sim2real.json").is_file()
    for flag in ("--tag", "--tags"):
        assert sim2real.main([*base, flag, "side", "--out", str(tmp_path / "o")]) == 2
        assert "error: --tag item 'side': expected key=value (e.g. side=left)" in capsys.readouterr().err
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert sim2real.main([*base, "--out", str(taken)]) == 2
    assert f"error: --out {taken} is a file; expected a folder" in capsys.readouterr().err


def test_policy_encoder_uses_the_vision_tower_mean_over_queries():
    import torch

    class Pre:
        def frames(self, rgb):
            return torch.from_numpy(np.asarray(rgb, dtype=np.float32).transpose(0, 3, 1, 2) / 255.0)

    class Model:
        def encode_images(
            self, pixels
        ):  # (N, 3, H, W) -> (N, 2 queries, 3): per-channel mean, and its double
            m = pixels.mean(dim=(2, 3))
            return torch.stack([m, 2 * m], dim=1)

    class Vla:
        model, preprocessor = Model(), Pre()

    encode, description = sim2real.policy_encoder(Vla(), "fake", batch=2)
    frames = np.stack([np.full((4, 4, 3), v, dtype=np.uint8) for v in (0, 51, 102)])
    feats = encode(frames)
    assert feats.shape == (3, 3) and "vision tower" in description
    assert feats[:, 0] == pytest.approx([0.0, 0.3, 0.6])  # mean of (v/255, 2 v/255)

    class Direct:
        def encode_images(self, rgb):
            return np.ones((len(rgb), 2, 2))

    encode, description = sim2real.policy_encoder(Direct(), "direct")
    assert encode(frames).shape == (3, 4) and description == "policy direct: encode_images"
