"""rosbag2 replay: sim camera frames recorded with ``rosbags``, replayed through the bridge and the
policy server, give the Twists that in-process ``act`` gives on the same frames."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("rosbags", reason="rosbags absent: pip install -e '.[ros]' to run the replay tests")

import envs  # noqa: E402, F401 - registers the env
from bridge.replay import main, read_image_bag, write_image_bag  # noqa: E402
from policies.base import ACTION_LIMITS  # noqa: E402
from sim.protocol import keys_to_actions  # noqa: E402
from sim.taxonomy import instruction_for  # noqa: E402
from tests.server_helpers import ImageMeanPolicy, served  # noqa: E402

INSTRUCTION = instruction_for("1box_hori_left_core_medium")


def sim_frames(n: int) -> list[np.ndarray]:
    """Ego frames of a short drive in the sim (what a real camera bag would hold)."""
    env = gym.make("MobileVLA/Nav-v0")
    obs, _ = env.reset(seed=3, options={"scenario": "1box_hori_left_core_medium"})
    out = [obs["rgb"]]
    for action in keys_to_actions("W W A Q Q Q Q Q Q Q W"):  # the real left run: no collision
        if len(out) == n:
            break
        obs, *_ = env.step(action)
        out.append(obs["rgb"])
    env.close()
    return out


def test_replayed_bag_gives_the_same_twists_as_in_process_act(tmp_path, capsys):
    rgb = sim_frames(12)
    shape = rgb[0].shape
    bag = tmp_path / "camera_bag"
    assert write_image_bag(bag, rgb, "/camera/image_raw", period_s=0.4) == 12
    assert all(
        np.array_equal(a, b) for (_, a), b in zip(read_image_bag(bag, "/camera/image_raw"), rgb, strict=True)
    )

    local = ImageMeanPolicy(image_shape=shape)
    local.reset(INSTRUCTION)
    lo, hi = np.array(ACTION_LIMITS, np.float32).T
    want = [np.clip(local.act({"rgb": f}), lo, hi) for f in rgb]

    with served(lambda: ImageMeanPolicy(image_shape=shape)) as (server, handle):
        out = tmp_path / "out"
        out_json, out_bag = out / "twists.json", out / "cmd_vel_bag"
        argv = [str(bag), "--server", handle.url, "--instruction", INSTRUCTION]
        assert main([*argv, "--out", str(out)]) == 0
        assert "12 Twists" in capsys.readouterr().out
        assert main([*argv, "--topic", "/nope", "--out", str(tmp_path / "other")]) == 2
        assert "no topic '/nope'" in capsys.readouterr().err
        assert main([*argv, "--out", str(out)]) == 2  # never overwrites a bag
        err = capsys.readouterr().err
        assert err == f"error: {out_bag} exists; give a new directory for the output bag\n"
        # the older spellings name each file
        old_json, old_bag = tmp_path / "old.json", tmp_path / "old_bag"
        assert main([*argv, "--json", str(old_json), "--out-bag", str(old_bag)]) == 0
        assert old_json.read_text() == out_json.read_text()
    rows = json.loads(out_json.read_text())
    got = np.array([[r["linear_x"], r["linear_y"], r["angular_z"]] for r in rows], np.float32)
    assert np.array_equal(got, np.array(want))
    assert [r["t_ns"] for r in rows] == [int(round(i * 0.4e9)) for i in range(12)]
    # and the Twist bag holds the same sequence
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    with Reader(out_bag) as reader:
        twists = [store.deserialize_cdr(raw, c.msgtype) for c, _, raw in reader.messages()]
    assert np.array_equal(np.array([[t.linear.x, t.linear.y, t.angular.z] for t in twists], np.float32), got)


def test_bad_outputs_and_bags_are_refused_before_connecting(tmp_path, capsys):
    """Checked up front: the server here does not exist, so reaching it would be a different error."""
    argv = ["--server", "ws://127.0.0.1:9", "--instruction", INSTRUCTION]
    assert main([str(tmp_path / "missing_bag"), *argv, "--out", str(tmp_path / "o")]) == 2
    assert "missing_bag is not a directory; expected a rosbag2 recording" in capsys.readouterr().err
    bag = tmp_path / "bag"
    bag.mkdir()
    (tmp_path / "afile").write_text("x")
    assert main([str(bag), *argv, "--out", str(tmp_path / "afile")]) == 2
    assert "is a file; expected a directory" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
