"""Training the tiny VLA on small synthetic episodes (real HDF5 schema), resuming, and the latency CLI.

The synthetic task: each frame shows a red or blue marker (random position); ``linear_x`` is 1.15 for a
red marker, else 0; ``linear_y`` is +1.15 for a "left" instruction, -1.15 for "right". The mean-action
baseline cannot do better than the spread of both axes; a model that reads the instruction can.
"""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

from datagen.manifest import entry_for_file, write_manifest
from datagen.schema import Episode, bgr_to_rgb, read_episode, write_episode
from policies import make_policy
from policies.train import load_run_config, main, open_datasets, split_by_episode
from policies.vla.tiny import build_tiny_backbone

INSTRUCTIONS = {
    "left": "Navigate to the left toward the gray basket",
    "right": "Navigate to the right toward the gray basket",
}
FAST = [
    "model.window=4",
    "model.head.chunk=3",
    "train.batch_size=8",
    "train.lr=1e-3",
    "train.progress=false",
    "train.num_threads=1",
]


def synthetic_episode(rng: np.random.Generator, side: str, n: int = 12, h: int = 48, w: int = 64) -> Episode:
    images = (110 + rng.integers(0, 20, size=(n, h, w, 3))).astype(np.uint8)
    actions = np.zeros((n, 3), np.float32)
    for t in range(n):
        red = bool(rng.random() < 0.5)
        r0, c0 = rng.integers(2, h - 22), rng.integers(2, w - 22)
        images[t, r0 : r0 + 20, c0 : c0 + 20] = (0, 0, 255) if red else (255, 0, 0)  # stored BGR
        actions[t] = (1.15 if red else 0.0, 1.15 if side == "left" else -1.15, 0.0)
    return Episode(images=images, actions=actions, instruction=INSTRUCTIONS[side])


def write_synthetic(root, n_episodes: int = 16, n_val: int = 4, seed: int = 0, with_split: bool = True):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(n_episodes):
        side = "left" if i % 2 == 0 else "right"
        name = f"episode_20251106_10{i:02d}00_1box_hori_{side}_core_medium.h5"
        path = write_episode(root / name, synthetic_episode(rng, side))
        split = ("val" if i >= n_episodes - n_val else "train") if with_split else None
        entries.append(entry_for_file(path, split=split))
    return write_manifest(root / "manifest.jsonl", entries), entries


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory):
    return build_tiny_backbone(tmp_path_factory.mktemp("vla") / "tiny-kosmos-2")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory):
    return write_synthetic(tmp_path_factory.mktemp("episodes"))


@pytest.fixture(scope="module")
def run(tiny_dir, data, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("run")
    rc = main(
        [
            "--data",
            str(data[0]),
            "--model",
            "vla_tiny",
            "--out",
            str(out),
            f"model.backbone.path={tiny_dir}",
            "train.epochs=10",
            "train.keep_best=2",
            *FAST,
        ]
    )
    assert rc == 0
    return out


def open_loop_rmse(policy, paths) -> float:
    """Command-space RMSE over the held-out episodes, feeding every frame in order (real open loop)."""
    errors = []
    for path in paths:
        ep = read_episode(path)
        policy.reset(ep.instruction)
        for frame, target in zip(bgr_to_rgb(ep.images), ep.actions, strict=True):
            errors.append(policy.act({"rgb": frame, "instruction": ep.instruction}) - target)
    return float(np.sqrt(np.mean(np.square(errors))))


def test_tiny_model_beats_mean_action_baseline_on_held_out_episodes(run, data, tiny_dir):
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert "last" in ckpts
    best = [c for c in ckpts if c != "last"]
    assert len(best) == 2 and all(re.fullmatch(r"epoch=\d\d-val_loss=\d\.\d{4}", c) for c in best)
    with open(run / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == list(range(10))
    assert float(rows[-1]["val_loss"]) < float(rows[0]["val_loss"])
    provenance = json.loads((run / "checkpoints" / "last" / "config.json").read_text())["provenance"]
    assert provenance["epochs"] == 10 and provenance["epoch"] == 9
    assert provenance["data_manifest"]["split"] == "manifest split field"
    assert len(provenance["data_manifest"]["val_episodes"]) == 4

    val_paths = [e.path for e in data[1] if e.split == "val"]
    best_dir = run / "checkpoints" / min(best, key=lambda c: float(c.split("val_loss=")[1]))
    vla = make_policy("vla", checkpoint=str(best_dir))
    baseline = make_policy("mean_action", stats=str(run))
    mean = json.loads((run / "mean_action.json").read_text())["mean_command"]
    assert mean[0] == pytest.approx(0.5 * 1.15, abs=0.15) and abs(mean[1]) < 0.1
    vla_rmse, base_rmse = open_loop_rmse(vla, val_paths), open_loop_rmse(baseline, val_paths)
    assert vla_rmse < 0.75 * base_rmse, (vla_rmse, base_rmse)

    # the trained policy follows the instruction: same frames, opposite lateral command
    frame = bgr_to_rgb(read_episode(val_paths[0]).images)[0]
    lateral = {}
    for side, text in INSTRUCTIONS.items():
        vla.reset(text)
        lateral[side] = vla.act({"rgb": frame, "instruction": text})[1]
    assert lateral["left"] > 0.5 and lateral["right"] < -0.5, lateral


def test_resume_continues_exactly_where_the_run_stopped(tiny_dir, data, tmp_path):
    def args(out):
        return [
            "--data",
            str(data[0]),
            "--model",
            "vla_tiny",
            "--out",
            str(out),
            f"model.backbone.path={tiny_dir}",
            *FAST,
            "train.max_steps_per_epoch=2",
        ]

    def metrics(out):
        with open(out / "metrics.csv") as fh:
            return [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in csv.DictReader(fh)]

    assert main([*args(tmp_path / "straight"), "train.epochs=2"]) == 0
    assert main([*args(tmp_path / "resumed"), "train.epochs=1"]) == 0
    assert main([*args(tmp_path / "resumed"), "train.epochs=2", "--resume", str(tmp_path / "resumed")]) == 0
    rows = metrics(tmp_path / "resumed")
    assert [int(r["epoch"]) for r in rows] == [0, 1] and int(rows[1]["global_step"]) == 4
    assert rows == metrics(tmp_path / "straight")  # same losses to the last digit: optimizer + RNG restored


def test_split_by_episode_without_manifest_split_is_disjoint_and_deterministic(tmp_path):
    manifest, _ = write_synthetic(tmp_path / "eps", n_episodes=10, with_split=False)
    cfg = load_run_config("vla_tiny", ["model.window=4", "model.head.chunk=3", "data.val_fraction=0.3"])
    train_a, val_a, info = open_datasets([str(manifest)], cfg)
    _, val_b, _ = open_datasets([str(manifest)], cfg)
    assert val_a.indices == val_b.indices
    assert len(info["val_episodes"]) == 3 and not set(info["val_episodes"]) & set(info["train_episodes"])
    base = train_a.dataset
    train_eps = {base.windows[i][0] for i in train_a.indices}
    assert not train_eps & {base.windows[i][0] for i in val_a.indices}
    with pytest.raises(ValueError, match="at least 2 episodes"):
        from datagen.dataset import EpisodeDataset

        split_by_episode(
            EpisodeDataset(
                str(tmp_path / "eps" / sorted(p.name for p in (tmp_path / "eps").glob("*.h5"))[0]),
                window=4,
                chunk=3,
            ),
            0.2,
            0,
        )


def test_train_cli_reports_bad_overrides(tiny_dir, data, capsys):
    rc = main(["--data", str(data[0]), "--model", "vla_tiny", "model.head.hidden_size=abc"])
    assert rc == 2
    assert "model.head.hidden_size: expected an int, got 'abc'" in capsys.readouterr().err


def test_latency_cli_writes_json(tiny_dir, tmp_path, capsys):
    from eval.latency import main as latency_main

    out = tmp_path / "lat.json"
    assert (
        latency_main(
            [
                "--policy",
                "vla_tiny",
                "--steps",
                "5",
                "--warmup",
                "1",
                "--json",
                str(out),
                "--set",
                f"backbone_path={tiny_dir}",
            ]
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert result["device"] == "cpu" and result["dtype"] == "fp32" and result["steps"] == 5
    for key in ("preprocess_ms", "vlm_ms", "head_ms", "total_ms", "vision_ms", "lm_ms"):
        assert set(result["components"][key]) == {"p50", "p95", "max", "mean"}
    assert result["criterion"] == "total_ms p95 < 200 ms" and isinstance(result["pass"], bool)
    printed = capsys.readouterr().out
    assert "vlm_ms" in printed and ("PASS" in printed or "FAIL" in printed)
