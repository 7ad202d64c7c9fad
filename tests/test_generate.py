"""Sim dataset generation: real schema, row layout, determinism, resume after kill -9, shards, balance."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from datagen.expert_rollout import attempt_seed, record_successful_episode
from datagen.generate import GenerationError, build_suite, generate, load_config, main, merge, output_dir
from datagen.manifest import file_sha256, read_manifest
from datagen.schema import bgr_to_rgb, parse_episode_name, read_episode
from datagen.validate import STATUS_INVALID, validate_path
from envs.nav_env import MobileNavEnv
from policies.scripted import ScriptedExpert
from tests.fixtures_episodes import episode_file_name, h5_layout, write_real_episode_file

REPO = Path(__file__).resolve().parents[1]
SMALL = ["env.camera.width=64", "env.camera.height=36", "progress=false"]


def _cfg(out: Path, episodes: int, *extra: str):
    return load_config([f"out={out}", f"episodes={episodes}", *SMALL, *extra])


def _episodes(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.h5"))


# ------------------------------------------------------------------------------------ schema and rows
def test_generated_file_matches_real_schema_and_collector_layout(tmp_path):
    result = generate(_cfg(tmp_path / "gen", 3))
    files = _episodes(tmp_path / "gen")
    assert len(files) == 3 and len(result.entries) == 3
    real = write_real_episode_file(tmp_path / "real" / episode_file_name())
    real_layout, ours = h5_layout(real), h5_layout(files[0])
    assert ours["datasets"] == real_layout["datasets"]
    assert {k: v for k, v in ours["attrs"].items() if k != "source"} == real_layout["attrs"]
    for path in files:
        tags = parse_episode_name(path)
        ep = read_episode(path)
        assert ep.source == "sim" and ep.num_frames == 18 and ep.image_size == (36, 64)
        assert ep.attrs["num_frames"] == 18 and ep.attrs["obstacle_layout_type"] == tags["orientation"]
        assert ep.event_types[0] == "episode_start" and not ep.actions[0].any()
        assert np.array_equal(ep.images[0], ep.images[1])  # row 1 = the frame seen at the first key press
        assert ep.instruction.endswith(tags["side"])
        assert ep.sim.scenario["name"] == tags["scenario"] and ep.sim.poses.shape == (18, 3)
        assert ep.sim.seed == ep.sim.attrs["episode_seed"] == int(tags["suffix"][3:])  # attempt 0: seed + i


def test_frames_are_the_plain_env_observations_in_bgr(tmp_path):
    """The lazy renderer stores exactly what ``MobileNavEnv`` observes before each action."""
    generate(_cfg(tmp_path, 2))
    cfg = _cfg(tmp_path, 2)
    from omegaconf import OmegaConf

    env = MobileNavEnv(config=OmegaConf.to_container(cfg.env, resolve=True))
    for path in _episodes(tmp_path):
        ep = read_episode(path)
        obs, _ = env.reset(seed=ep.sim.seed, options={"scenario": ep.sim.scenario["name"]})
        rgb = bgr_to_rgb(ep.images)
        assert np.array_equal(rgb[0], obs["rgb"])
        done = False
        for k in range(1, ep.num_frames):
            if done:  # padding after the stop in the goal: the final frame, stop actions
                assert np.array_equal(rgb[k], rgb[k - 1]) and not ep.actions[k].any()
                assert ep.event_types[k] == "stop_action"
                continue
            assert np.array_equal(rgb[k], obs["rgb"]), f"{path.name} row {k}"
            obs, _, terminated, truncated, info = env.step(ep.actions[k])
            done = terminated or truncated
        assert info["success"]
    env.close()


def test_retry_uses_a_derived_seed_and_records_the_attempt():
    env = MobileNavEnv(config={"camera": {"width": 32, "height": 18}}, observe_rgb=False)
    expert = ScriptedExpert(variation=0.6)

    class FailsFirst:
        """Drives straight into the box on attempt 0's seed, else the real expert."""

        def seed(self, seed):
            self.crash = seed == 7
            expert.seed(seed)

        def reset(self, instruction):
            expert.reset(instruction)

        def act(self, obs):
            return np.array([1.15, 0, 0], np.float32) if self.crash else expert.act(obs)

    rec, attempt, reasons = record_successful_episode(env, FailsFirst(), "1box_hori_left_core_medium", 7, 3)
    assert attempt == 1 and reasons == ["collision"] and rec.seed == attempt_seed(7, 1) != 7
    assert attempt_seed(7, 1) == attempt_seed(7, 1) != attempt_seed(7, 2)

    class AlwaysCrashes(FailsFirst):
        def seed(self, seed):
            self.crash = True

    with pytest.raises(RuntimeError, match="1box_hori_left_core_medium.*3 attempts"):
        record_successful_episode(env, AlwaysCrashes(), "1box_hori_left_core_medium", 7, 3)
    env.close()


# ------------------------------------------------------------------------------------ determinism
@pytest.mark.slow  # two spawned worker processes (11.5 s at load average 10 on 2 cores)
def test_worker_count_does_not_change_the_files(tmp_path):
    one = generate(_cfg(tmp_path / "w1", 4, "workers=1"))
    two = generate(_cfg(tmp_path / "w2", 4, "workers=2"))
    names1 = [p.name for p in _episodes(tmp_path / "w1")]
    names2 = [p.name for p in _episodes(tmp_path / "w2")]
    assert names1 == names2 and len(names1) == 4
    for name in names1:
        a, b = read_episode(tmp_path / "w1" / name), read_episode(tmp_path / "w2" / name)
        assert a.images.tobytes() == b.images.tobytes() and a.actions.tobytes() == b.actions.tobytes()
        assert a.attrs["collection_datetime"] == b.attrs["collection_datetime"]
    assert [e.extra["sha256"] for e in one.entries] == [e.extra["sha256"] for e in two.entries]


def test_names_and_timestamps_derive_from_seed_and_index(tmp_path):
    generate(_cfg(tmp_path / "a", 3, "seed=5"))
    generate(_cfg(tmp_path / "b", 3, "seed=5"))
    generate(_cfg(tmp_path / "c", 3, "seed=6"))
    a, b, c = ([p.name for p in _episodes(tmp_path / d)] for d in "abc")
    assert a == b and a != c
    assert all(name.endswith(f"__sim{i:06d}.h5") for i, name in enumerate(a))


# ------------------------------------------------------------------------------------ resume
@pytest.mark.slow  # a real subprocess killed mid-run, then a rerun
def test_kill_9_then_rerun_gives_exactly_n_valid_episodes(tmp_path):
    out, n = tmp_path / "gen", 60
    args = [sys.executable, "-m", "datagen.generate", "--episodes", str(n), "--out", str(out),
            "--workers", "1", *SMALL]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list(out.glob("*.h5"))) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the generation finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(_episodes(out))
    assert 3 <= done_before < n and not (out / "manifest.jsonl").exists()
    # what a kill can leave behind, plus a damaged final file
    (out / ".episode_x__sim000059.abcd.h5.tmp").write_bytes(b"partial")
    victim = _episodes(out)[0]
    victim.write_bytes(victim.read_bytes()[:500])

    assert main(["--episodes", str(n), SMALL[0], "--out", str(out), *SMALL[1:], "--workers", "1"]) == 0
    files = _episodes(out)
    assert len(files) == n
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    reports = validate_path(out)
    assert len(reports) == n and not [r for r in reports if r.status == STATUS_INVALID]
    entries = read_manifest(out / "manifest.jsonl")
    assert sorted(e.path.name for e in entries) == [p.name for p in files]
    assert all(e.extra["sha256"] == file_sha256(e.path) and "split" not in e.to_json() for e in entries)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run"]["kept"] == done_before - 1 and summary["run"]["generated"] == n - done_before + 1


def test_rerun_with_another_config_is_refused(tmp_path):
    generate(_cfg(tmp_path, 2))
    with pytest.raises(GenerationError, match="expert.variation"):
        generate(_cfg(tmp_path, 2, "expert.variation=0.2"))


def test_manifest_is_rebuildable_from_files(tmp_path):
    first = generate(_cfg(tmp_path, 3))
    (tmp_path / "manifest.jsonl").unlink()
    rebuilt = merge(tmp_path, rebuild=True)
    assert [e.to_json(tmp_path) for e in rebuilt.entries] == [e.to_json(tmp_path) for e in first.entries]


# ------------------------------------------------------------------------------------ shards
def test_shards_then_merge_equal_a_single_run(tmp_path):
    single = generate(_cfg(tmp_path / "single", 5))
    shard0 = generate(_cfg(tmp_path / "sharded", 5, "shard=0", "num_shards=2"))
    assert not shard0.merged and not (tmp_path / "sharded" / "manifest.jsonl").exists()
    shard1 = generate(_cfg(tmp_path / "sharded", 5, "shard=1", "num_shards=2"))
    assert shard1.merged  # the last shard merges
    merged = read_manifest(tmp_path / "sharded" / "manifest.jsonl")
    assert [e.extra["sha256"] for e in merged] == [e.extra["sha256"] for e in single.entries]
    assert [e.extra["episode"] for e in shard0.entries] == [0, 2, 4]


def test_merge_of_an_incomplete_folder_names_the_missing_episodes(tmp_path):
    generate(_cfg(tmp_path, 4, "shard=0", "num_shards=2"))
    with pytest.raises(GenerationError, match="2 of 4 episodes are missing"):
        merge(tmp_path)
    assert not (tmp_path / "manifest.jsonl").exists()


@pytest.mark.slow  # starts Hydra joblib (loky) worker processes
def test_hydra_joblib_multirun_shards_and_merges(tmp_path):
    out = tmp_path / "mr"
    code = main(["--multirun", "--episodes", "4", "--out", str(out), "shard=0,1", "num_shards=2",
                 "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *SMALL])
    assert code == 0
    entries = read_manifest(out / "manifest.jsonl")
    assert [e.extra["episode"] for e in entries] == [0, 1, 2, 3] and len(_episodes(out)) == 4


# ------------------------------------------------------------------------------------ balance and variety
def test_tag_balance_matches_requested_proportions(tmp_path):
    cfg = _cfg(tmp_path, 8, "suite=bottle_core_medium", "tag_weights.side.left=3", "env=no_randomization")
    assert build_suite(cfg).proportions() == {"1box_hori_left_core_medium": 0.75,
                                              "1box_hori_right_core_medium": 0.25}
    balance = generate(cfg).summary["tag_balance"]["side"]
    assert balance["left"]["episodes"] == 6 and balance["right"]["episodes"] == 2
    assert balance["left"]["observed"] == balance["left"]["requested"] == 0.75
    # the default suite: a whole cycle holds left/right 1:1 and core/variant 3:2 exactly
    suite = build_suite(load_config(["out=x"]))
    names = [suite.scenario_for(i, 0) for i in range(len(suite.cycle()))]
    assert sum("_left_" in n for n in names) == sum("_right_" in n for n in names)
    assert 2 * sum("_core_" in n for n in names) == 3 * sum("_variant_" in n for n in names)


def test_variation_gives_distinct_key_sequences_per_scenario(tmp_path):
    # The keys style spreads evenly; the default operator style keeps the real dominant sequence
    # (tests/test_operator.py checks its spread).
    common = ("suite=bottle_core_medium", "env=no_randomization", "expert.style=keys")
    fixed = generate(_cfg(tmp_path / "v0", 8, "expert.variation=0.0", *common)).summary["distinct_sequences"]
    varied = generate(_cfg(tmp_path / "v6", 8, "expert.variation=0.6", *common)).summary["distinct_sequences"]
    assert fixed["per_scenario_max"] == 1  # the real data's trap: one sequence per scenario
    assert varied["per_scenario_min"] >= 3 and varied["largest_top_share"] <= 0.5


# ------------------------------------------------------------------------------------ errors
def test_unwritable_output_dir_is_named(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(GenerationError, match="a_file"):
        generate(_cfg(blocker / "out", 1))
    assert main(["--episodes", "1", "--out", str(blocker / "out"), *SMALL]) == 2
    assert "a_file" in capsys.readouterr().err


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_output_dir_is_named(tmp_path):
    ro = tmp_path / "read_only"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(GenerationError, match="read_only.*not writable"):
            generate(_cfg(ro, 1))
    finally:
        ro.chmod(0o755)


def test_bad_settings_name_the_key(tmp_path):
    with pytest.raises(ValueError, match="shard=2"):
        generate(_cfg(tmp_path, 2, "shard=2", "num_shards=2"))
    with pytest.raises(ValueError, match="tag_weights.side.middle"):
        build_suite(_cfg(tmp_path, 2, "+tag_weights.side.middle=1"))
    # without --out the folder is runs/generate/<suite>-seed<seed>-n<episodes>
    default = output_dir(load_config(["episodes=7", "seed=3"]))
    assert default == Path("runs/generate/bottle_2025-seed3-n7")
    assert output_dir(load_config(["suite=bottle_core_medium"])).name == "bottle_core_medium-seed0-n5000"
    (tmp_path / "file").write_text("x")
    assert main(["--episodes", "1", "--out", str(tmp_path / "file"), *SMALL]) == 2  # --out is a file


def test_files_hold_bgr_and_sim_group(tmp_path):
    generate(_cfg(tmp_path, 1))
    path = _episodes(tmp_path)[0]
    with h5py.File(path, "r") as f:
        assert f["images"].dtype == np.uint8 and f["images"].compression == "gzip"
        assert f["actions"].dtype == np.float32 and f["actions"].shape == (18, 3)
        assert f.attrs["source"] == "sim" and "scenario_json" in f["sim"].attrs
