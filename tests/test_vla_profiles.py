"""Preprocessing profiles: names derived from and checked against settings, overrides, the PIL filter,
``describe()`` of the shipped ``best`` (loaded as shipped) and the policy info in closed-loop provenance."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from policies import make_policy
from policies.vla.config import PreprocessConfig, merge
from policies.vla.preprocess import Preprocessor

ROOT = Path(__file__).resolve().parents[1]


def test_profiles_are_derived_checked_and_overridden():
    assert PreprocessConfig().profile == "bench"
    team = PreprocessConfig(channel_order="bgr", interpolation="pil_bilinear")
    assert team.profile == "robovlms_2025"
    assert PreprocessConfig(channel_order="bgr", interpolation="pil_bilinear", normalize="clip").profile == (
        "robovlms_2026_02"
    )
    assert PreprocessConfig(channel_order="bgr").profile == "custom"  # BGR through an OpenCV filter
    with pytest.raises(ValueError, match=r"profile 'robovlms_2025' means .*'bgr'.* but the settings are"):
        PreprocessConfig(profile="robovlms_2025")
    with pytest.raises(ValueError, match=r"unknown preprocessing profile 'bgr_2025'; known profiles: \["):
        PreprocessConfig(profile="bgr_2025")
    later = merge(team, {"profile": "robovlms_2026_02"})
    assert (later.profile, later.normalize, later.channel_order) == ("robovlms_2026_02", "clip", "bgr")
    rgb = merge(team, {"channel_order": "rgb"})  # a setting against the profile: the name goes
    assert (rgb.profile, rgb.interpolation) == ("custom", "pil_bilinear")
    with pytest.raises(ValueError, match="unknown preprocessing profile"):
        merge(team, {"profile": "robovlms_2027"})


def test_pil_bilinear_is_pils_and_not_opencvs():
    rgb = np.random.default_rng(0).integers(0, 256, (144, 256, 3), dtype=np.uint8)
    pre = Preprocessor(PreprocessConfig(resize=56, channel_order="bgr", interpolation="pil_bilinear"))
    want = np.asarray(Image.fromarray(np.ascontiguousarray(rgb[..., ::-1])).resize((56, 56), Image.BILINEAR))
    np.testing.assert_array_equal(pre.resized(rgb), want)
    np.testing.assert_allclose(pre.frame(rgb), want.transpose(2, 0, 1) / 255.0, atol=1e-7)
    cv = cv2.resize(np.ascontiguousarray(rgb[..., ::-1]), (56, 56), interpolation=cv2.INTER_LINEAR)
    assert np.abs(cv.astype(int) - want.astype(int)).mean() > 5  # the filters differ on a downscale


def test_best_loads_as_shipped_and_describes_itself():
    saved = json.loads((ROOT / "assets/policies/best/config.json").read_text())
    assert saved["preprocess"]["profile"] == "bench"  # written by training since profiles exist
    policy = make_policy("best")
    info = policy.describe()
    settings = {k: v for k, v in saved["preprocess"].items() if k != "profile"}
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":")).encode()
    assert info["preprocessing"] == {
        "profile": "bench",
        "hash": hashlib.sha256(canonical).hexdigest(),
        **settings,
    }
    assert info["token_layout"] == "bench"
    assert info["action"] == {
        "keys": ["linear_x", "linear_y", "angular_z"],
        "units": "teleop",
        "limits": [[-1.15, 1.15]] * 3,
    }
    assert info["image"] == {"shape": [144, 256, 3], "dtype": "uint8", "channel_order": "RGB"}
    digest = hashlib.sha256()
    root = ROOT / "assets/policies/best"
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.name.encode() + b"\0")
        digest.update(path.read_bytes())
    assert info["checkpoint_hash"] == digest.hexdigest() == make_policy("best").describe()["checkpoint_hash"]


def test_closed_loop_provenance_records_profile_and_token_layout(tmp_path):
    from eval.closed_loop import load_config, run

    small = ["env.camera.width=64", "env.camera.height=36", "videos=0", "report=false", "progress=false"]
    cfg = load_config(["policy=best", "episodes=1", "instruction_sensitivity=false", *small])
    info = run(cfg, tmp_path)["provenance"]["policy"]
    assert (info["preprocessing"]["profile"], info["token_layout"]) == ("bench", "bench")
    assert json.loads((tmp_path / "results.json").read_text())["provenance"]["policy"] == info
