"""Run control shared by the commands: worker processes die with the main process (kill -9), one run per
folder (lock), run records that may be extended and name the keys that differ, deep-merged policy settings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from common.rundir import RunDirError, check_run_record, locked
from datagen.generate import GenerationError, generate
from datagen.generate import load_config as datagen_config
from eval.closed_loop import DETERMINISTIC_FIELDS, run
from eval.closed_loop import load_config as closed_loop_config
from policies import BasePolicy, factory, make_policy, register_policy

REPO = Path(__file__).resolve().parents[1]
linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


# ------------------------------------------------------------------------------- workers die with the parent
def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie nobody reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _spawned_workers(parent: int) -> list[int]:
    """Live children of ``parent`` that are multiprocessing spawn workers."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"spawn_main" in cmdline and _alive(int(proc.name)):
            pids.append(int(proc.name))
    return pids


def _kill_main_and_check_workers(cmd: list[str], cwd: Path, started, workers: int = 2) -> None:
    """Start ``cmd``, wait until ``started()`` and ``workers`` spawn workers run, kill -9 the main process,
    and check that every worker is gone within 10 s."""
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    found: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            found = _spawned_workers(proc.pid)
            if len(found) >= workers and started():
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()!r}"
        assert len(found) >= workers, f"only {len(found)} workers started"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in found) and time.monotonic() < deadline:
        time.sleep(0.05)
    survivors = [pid for pid in found if _alive(pid)]
    for pid in survivors:  # do not leave them running if the check fails
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"workers {survivors} outlived the killed main process"


@linux_only
def test_pool_workers_die_when_the_main_process_is_killed(tmp_path):
    script = tmp_path / "pool.py"
    script.write_text(textwrap.dedent("""
        import time
        from common.workers import spawn_pool

        if __name__ == "__main__":
            with spawn_pool(2) as pool:
                futures = [pool.submit(time.sleep, 600) for _ in range(2)]
                open("started", "w").close()
                time.sleep(600)
    """))
    _kill_main_and_check_workers([sys.executable, str(script)], tmp_path, (tmp_path / "started").exists)


@linux_only
@pytest.mark.slow
def test_datagen_workers_die_when_the_main_process_is_killed(tmp_path):
    out = tmp_path / "gen"
    cmd = [sys.executable, "-m", "datagen.generate", "--episodes", "400", "--out", str(out), "--workers", "2",
           "env.camera.width=64", "env.camera.height=36", "progress=false"]
    _kill_main_and_check_workers(cmd, REPO, lambda: bool(list(out.glob("*.h5"))))


@linux_only
@pytest.mark.slow
def test_closed_loop_workers_die_when_the_main_process_is_killed(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "eval.closed_loop", "--policy", "scripted", "--episodes", "400", "--out",
           str(out), "--workers", "2", "env.camera.width=64", "env.camera.height=36", "videos=0",
           "report=false", "progress=false"]
    log = out / "episodes.jsonl"
    _kill_main_and_check_workers(cmd, REPO, lambda: log.exists() and log.stat().st_size > 0)


# ------------------------------------------------------------------------------- one run per folder
def test_a_second_generation_into_a_busy_folder_is_refused_and_touches_nothing(tmp_path):
    out = tmp_path / "gen"
    out.mkdir()
    temp = out / ".episode_20250901_090000_1box_hori_left_core_medium__sim000000.h5.abc.h5.tmp"
    temp.write_bytes(b"the first run is writing this")
    cfg = datagen_config([f"out={out}", "episodes=1", "env.camera.width=64", "env.camera.height=36",
                          "progress=false"])
    busy = pytest.raises(GenerationError, match=f"{out} is in use by another datagen.generate run")
    with locked(out, what="datagen.generate run"), busy:  # the first run's lock (flock: any process)
        generate(cfg)
    assert temp.read_bytes() == b"the first run is writing this" and not (out / "generation.json").exists()
    assert len(generate(cfg).entries) == 1  # free again: the run goes ahead (and removes the stale temp)
    assert not temp.exists()


def test_shards_share_a_folder_but_one_shard_runs_once(tmp_path):
    out = tmp_path / "gen"
    out.mkdir()
    base = [f"out={out}", "episodes=2", "num_shards=2", "merge=false", "env.camera.width=64",
            "env.camera.height=36", "progress=false"]
    with locked(out, shared=True), locked(out, name="shard000-of-002"):  # shard 0 is running
        with pytest.raises(GenerationError, match="in use by another datagen.generate run of shard 0"):
            generate(datagen_config([*base, "shard=0"]))
        assert len(generate(datagen_config([*base, "shard=1"])).entries) == 1  # another shard may run
        with pytest.raises(GenerationError, match="in use"):  # a whole-folder run may not
            generate(datagen_config([f"out={out}", "episodes=2", "progress=false", "env.camera.width=64",
                                     "env.camera.height=36"]))


def test_lock_is_released_when_the_holder_dies(tmp_path):
    code = f"import os; from common.rundir import locked\nwith locked({str(tmp_path)!r}):\n    os._exit(0)"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
    with locked(tmp_path):  # no stale lock
        pass
    with locked(tmp_path), pytest.raises(RunDirError, match="in use"), locked(tmp_path):
        pass


# ------------------------------------------------------------------------------- run records
def test_run_record_names_every_changed_key_and_allows_growing_counts(tmp_path):
    path = tmp_path / "run.json"
    config = {"seed": 0, "env": {"max_steps": 17, "camera": {"width": 64}}, "workers": 1}
    assert check_run_record(path, config, counts={"episodes": 30})
    path.write_text(json.dumps({"episodes": 30, "config": config}))
    assert not check_run_record(path, {**config, "workers": 4}, counts={"episodes": 30}, ignore=("workers",))
    assert check_run_record(path, config, counts={"episodes": 31})  # extend: rewrite the record
    assert not check_run_record(path, config, counts={"episodes": 10})  # fewer: keep the larger record
    changed = {"seed": 1, "env": {"max_steps": 20, "camera": {"width": 64}, "new": True}, "workers": 1}
    with pytest.raises(RunDirError, match=r"differing keys: env\.max_steps \(17 -> 20\), env\.new \(null -> "
                                          r"true\), seed \(0 -> 1\)\)"):
        check_run_record(path, changed)


def test_closed_loop_run_can_be_extended(tmp_path):
    small = ["policy=scripted", "env.camera.width=64", "env.camera.height=36", "videos=0", "report=false",
             "progress=false", "instruction_sensitivity=false"]
    first = run(closed_loop_config([*small, "episodes=2"]), tmp_path)
    longer = run(closed_loop_config([*small, "episodes=3"]), tmp_path)
    assert [r["episode"] for r in longer["episodes"]] == [0, 1, 2]
    keep = lambda rows: [{k: r[k] for k in DETERMINISTIC_FIELDS} for r in rows]  # noqa: E731
    assert keep(longer["episodes"][:2]) == keep(first["episodes"])  # the first two were not rerun
    assert len((tmp_path / "episodes.jsonl").read_text().splitlines()) == 3
    assert json.loads((tmp_path / "run.json").read_text())["episodes"] == 3


# ------------------------------------------------------------------------------- policy settings
@register_policy("test_nested_settings")
class NestedSettingsPolicy(BasePolicy):
    def __init__(self, model: dict | None = None, gain: float = 1.0) -> None:
        super().__init__()
        self.model, self.gain = model, gain

    def _act(self, obs):
        return [0.0, 0.0, 0.0]


def test_make_policy_merges_overrides_in_depth(tmp_path, monkeypatch):
    (tmp_path / "nested.yaml").write_text(
        "type: test_nested_settings\nmodel: {window: 8, head: {type: lstm, hidden: 32}, backbone: tiny}\n"
    )
    monkeypatch.setattr(factory, "CONFIG_DIR", tmp_path)
    policy = make_policy("nested", model={"window": 4, "head": {"hidden": 64}}, gain=2.0)
    assert policy.model == {"window": 4, "head": {"type": "lstm", "hidden": 64}, "backbone": "tiny"}
    assert policy.gain == 2.0 and policy.name == "nested"
    with pytest.raises(ValueError, match=r"policy 'nested' has no argument policy.windw; its arguments: "
                                         r"model, gain"):
        make_policy("nested", windw=4)


def test_a_second_closed_loop_run_into_a_busy_folder_is_refused(tmp_path):
    cfg = closed_loop_config(["policy=scripted", "episodes=1", "env.camera.width=64", "env.camera.height=36",
                              "videos=0", "report=false", "progress=false"])
    busy = pytest.raises(RunDirError, match=f"{tmp_path} is in use by another eval.closed_loop")
    with locked(tmp_path), busy:
        run(cfg, tmp_path)
    assert not (tmp_path / "run.json").exists()
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is a file; expected a directory"):
        run(cfg, tmp_path / "file")
