"""Open-loop evaluation on tiny synthetic episodes with hand-computed errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from datagen.schema import Episode, write_episode
from eval import open_loop
from policies.base import BasePolicy
from sim.protocol import NOMINAL

N = NOMINAL
ACTIONS = np.array([[0, 0, 0], [N, 0, 0], [0, N, 0], [N, N, 0]], dtype=np.float32)
"""Recorded rows: stop (episode start), W, A, Q."""


def _frames_encoding_rows(n: int) -> np.ndarray:
    """BGR frames whose RED channel (stored last) holds the row index; blue and green hold 200."""
    images = np.full((n, 8, 12, 3), 200, dtype=np.uint8)
    images[..., 2] = np.arange(n, dtype=np.uint8)[:, None, None]
    return images


def write_ep(
    folder: Path, side: str, minute: int, source: str = "real", instruction: str | None = "default"
) -> Path:
    name = f"episode_20251106_10{minute:02d}00_1box_hori_{side}_core_medium.h5"
    text = f"Navigate around obstacles and reach the front of the beverage bottle on the {side}"
    ep = Episode(
        images=_frames_encoding_rows(len(ACTIONS)),
        actions=ACTIONS,
        event_types=["episode_start"] + ["start_action"] * (len(ACTIONS) - 1),
        instruction=text if instruction == "default" else instruction,
        source=source,
    )
    return write_episode(folder / name, ep)


class OraclePolicy(BasePolicy):
    """Reads the row index from the RGB red channel and returns the recorded action of that row."""

    name = "oracle"

    def __init__(self) -> None:
        super().__init__()
        self.instructions: list[str] = []

    def reset(self, instruction: str) -> None:
        super().reset(instruction)
        self.instructions.append(instruction)

    def _act(self, obs):
        return ACTIONS[int(obs["rgb"][0, 0, 0])]  # index 200 (blue) would raise: catches a missing BGR flip


class ForwardPolicy(BasePolicy):
    name = "forward"

    def _act(self, obs):
        return np.array([N, 0.0, 0.0], dtype=np.float32)


class Adapter:
    def __init__(self) -> None:
        self.calls = 0

    def to_model(self, command: np.ndarray, n_axes: int = 2) -> np.ndarray:
        self.calls += 1
        return np.clip(command[..., :n_axes] / 2.0, -1, 1)


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    write_ep(folder, "left", 0)
    write_ep(folder, "right", 1)
    write_ep(folder, "left", 2, source="sim", instruction=None)
    return folder


def test_perfect_policy_scores_zero_in_both_spaces_and_sees_rgb_in_order(data: Path):
    policy = OraclePolicy()
    result = open_loop.evaluate(policy, data)
    g = result["groups"]["all"]
    assert (g["episodes"], g["frames"]) == (3, 12)
    assert g["model"]["rmse"]["overall"] == pytest.approx(0.0, abs=1e-6)  # float32 1.15 / 1.15
    assert g["command"]["rmse"]["overall"] == 0.0
    assert g["model"]["direction_accuracy"] == 1.0 and g["pass"]
    # the sim episode stores no instruction: derived from its scenario tag
    assert policy.instructions[2].endswith("bottle on the left")
    assert list(result["groups"])[:3] == ["all", "source=real", "source=sim"]
    assert result["groups"]["side=right"]["episodes"] == 1
    assert "scenario=1box_hori_left_core_medium" in result["groups"]


def test_constant_forward_policy_hand_computed_errors(data: Path):
    g = open_loop.evaluate(ForwardPolicy(), data, source_filter="real")["groups"]["all"]
    # model space: pred [1, 0] vs targets [0,0],[1,0],[0,1],[1,1]: x wrong in rows 0 and 2, y in rows 2 and 3
    assert g["model"]["rmse"] == pytest.approx(
        {"linear_x": math.sqrt(0.5), "linear_y": math.sqrt(0.5), "overall": math.sqrt(4 / 8)}, abs=1e-6
    )
    # command space: the same four errors of 1.15, among 12 elements per episode (z never wrong)
    assert g["command"]["rmse"] == pytest.approx(
        {
            "linear_x": N * math.sqrt(0.5),
            "linear_y": N * math.sqrt(0.5),
            "angular_z": 0.0,
            "overall": N * math.sqrt(4 / 12),
        }
    )
    assert g["command"]["mae"]["overall"] == pytest.approx(4 * N / 12)
    assert g["model"]["direction_accuracy"] == pytest.approx(0.25)  # F vs stop, F, L, FL
    assert not g["pass"]


def test_inverse_adapter_is_used_when_the_policy_has_one(data: Path):
    policy = ForwardPolicy()
    policy.action_adapter = Adapter()
    result = open_loop.evaluate(policy, data, source_filter="real")
    assert policy.action_adapter.calls == 2  # once per episode
    assert "Adapter.to_model" in result["model_space"]
    # pred 1.15 / 2 = 0.575 in x; targets unchanged
    assert result["groups"]["all"]["model"]["rmse"]["linear_x"] == pytest.approx(
        math.sqrt((0.575**2 + 0.425**2 + 0.575**2 + 0.425**2) / 4)
    )


def test_skip_start_and_filters(data: Path):
    g = open_loop.evaluate(ForwardPolicy(), data, skip_start=True, source_filter="real")["groups"]["all"]
    assert g["frames"] == 6
    # only the W, A, Q rows remain: x is wrong once (A) in three rows
    assert g["model"]["rmse"]["linear_x"] == pytest.approx(math.sqrt(1 / 3), abs=1e-6)
    with pytest.raises(open_loop.OpenLoopError, match="match tags {'side': 'straight'}"):
        open_loop.evaluate(ForwardPolicy(), data, tag_filter={"side": "straight"})


def test_cli_prints_table_and_writes_json(data: Path, tmp_path: Path, capsys):
    out = tmp_path / "ol"
    rc = open_loop.main(["--policy", "replay", "policy.core=auto", "--data", str(data), "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "model:" in printed and "command:" in printed and ("PASS" in printed or "FAIL" in printed)
    result = json.loads((out / open_loop.RESULT_FILE).read_text())
    assert result["policy"] == "replay" and result["groups"]["all"]["frames"] == 12
    assert open_loop.load_result(out)["groups"]["all"]["episodes"] == 3
    assert open_loop.load_result(out / "open_loop.json") == result
    assert open_loop.main(["--policy", "replay", "policy.core", "--data", str(data)]) == 2
    assert "error: policy override 'core': expected key=value" in capsys.readouterr().err


def test_deprecated_set_still_works_and_says_so(data: Path, tmp_path: Path, capsys, monkeypatch):
    out = tmp_path / "ol"
    rc = open_loop.main(["--policy", "replay", "--set", "core=auto", "--data", str(data), "--out", str(out)])
    assert rc == 0
    assert "warning: --set KEY=VALUE is deprecated; write policy.KEY=VALUE" in capsys.readouterr().err
    assert json.loads((out / "open_loop.json").read_text())["groups"]["all"]["frames"] == 12
    # policy.KEY=VALUE after a list flag (--data, --tag) is still a policy argument, not a path or a tag
    seen = {}

    def stop(policy, data, **kwargs):
        seen.update(data=data, **kwargs)
        raise ValueError("stop here")

    monkeypatch.setattr(open_loop, "evaluate", stop)
    monkeypatch.setattr("policies.make_policy", lambda name, **kw: seen.update(kwargs=kw))
    args = ["--data", str(data), "policy.core=auto", "--tag", "side=left", "policy.x.y=1"]
    assert open_loop.main(["--policy", "replay", *args, "--out", str(tmp_path / "o2")]) == 2
    assert seen["data"] == [str(data)] and seen["tag_filter"] == {"side": "left"}
    assert seen["kwargs"] == {"core": "auto", "x": {"y": 1}}


def test_split_keeps_only_the_held_out_manifest_entries(data: Path, tmp_path: Path):
    from datagen.manifest import entry_for_file, write_manifest

    files = sorted(data.glob("*.h5"))
    manifest = write_manifest(
        tmp_path / "mix" / "manifest.jsonl",
        [entry_for_file(f, split="val" if i == 0 else "train") for i, f in enumerate(files)],
    )
    g = open_loop.evaluate(ForwardPolicy(), manifest, split="val")["groups"]["all"]
    assert g["episodes"] == 1
    with pytest.raises(open_loop.OpenLoopError, match="split 'test'"):
        open_loop.evaluate(ForwardPolicy(), manifest, split="test")
    assert open_loop.main(["--policy", "random", "--data", str(manifest), "--split", "val",
                           "--out", str(tmp_path / "o")]) == 0


def test_policy_overrides_nest_dotted_keys_merge_the_deprecated_set_and_reject_conflicts(capsys):
    from common.cli import ConfigError

    items = ["policy.checkpoint=runs/x", "policy.action_adapter.snap=false"]
    got = open_loop.policy_kwargs(items, ["action_adapter.snap_threshold=0.5", "checkpoint=old"])
    assert got == {"checkpoint": "runs/x", "action_adapter": {"snap": False, "snap_threshold": 0.5}}
    assert "deprecated" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="'checkpoint' was already set to a value"):
        open_loop.policy_kwargs(["policy.checkpoint=a", "policy.checkpoint.x=1"], [])
