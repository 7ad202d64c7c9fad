"""``datagen.dataset.EpisodeDataset``: windows match the files exactly (frames, RGB, chunks, mask, clamp)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from datagen.dataset import DatasetConfig, EpisodeDataset
from datagen.manifest import ManifestEntry, write_manifest
from tests.fixtures_episodes import (
    INSTRUCTIONS,
    episode_file_name,
    make_actions,
    make_images,
    write_real_episode_file,
)

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "data"


@pytest.fixture
def files(tmp_path):
    left = write_real_episode_file(tmp_path / "eps" / episode_file_name("left", 0), side="left", seed=1)
    right = write_real_episode_file(
        tmp_path / "eps" / "sub" / episode_file_name("right", 1),
        side="right",
        seed=2,
        layout="observations/images",
    )
    return left, right


def test_windows_match_file_exactly(files):
    left, _ = files
    ds = EpisodeDataset(left, cache_mb=0)
    assert len(ds) == 18 - 8 + 1
    images, actions = make_images(18, seed=1), make_actions("left", 18)
    for index in (0, 4, len(ds) - 1):
        t0 = index
        item = ds[index]
        assert item["rgb"].dtype == torch.uint8 and item["rgb"].shape == (8, 36, 64, 3)
        # RGB order: the stored BGR frames with channels reversed
        assert np.array_equal(item["rgb"].numpy(), images[t0 : t0 + 8][..., ::-1])
        assert item["frame_index"].tolist() == list(range(t0, t0 + 8))
        assert item["instruction"] == INSTRUCTIONS["left"] and item["episode"] == left.stem
        assert item["source"] == "real"
        raw, mask = item["raw_actions"].numpy(), item["action_mask"].numpy()
        assert raw.shape == (8, 10, 3) and mask.shape == (8, 10) and mask.dtype == bool
        for w in range(8):
            t = t0 + w
            valid = min(10, 18 - t)
            assert np.array_equal(raw[w, :valid], actions[t : t + valid])
            assert mask[w].tolist() == [True] * valid + [False] * (10 - valid)
            assert not raw[w, valid:].any()  # zero padding past the end


def test_clamping_and_axes(files):
    left, _ = files
    item = EpisodeDataset(left)[0]
    acts, raw = item["actions"].numpy(), item["raw_actions"].numpy()
    assert acts.shape == (8, 10, 2) and acts.dtype == np.float32
    assert np.isclose(raw.max(), 1.15) and acts.max() == 1.0  # 1.15 -> 1.0
    assert np.array_equal(acts, np.clip(raw[..., :2], -1, 1))
    unclamped = EpisodeDataset(left, clamp=None, axes=(0, 1, 2))[0]["actions"].numpy()
    assert np.array_equal(unclamped, raw)
    only_y = EpisodeDataset(left, axes=[1])[3]["actions"].numpy()
    assert only_y.shape == (8, 10, 1)


def test_folder_both_layouts_stride_and_cache(files, tmp_path):
    left, right = files
    ds = EpisodeDataset(tmp_path / "eps", stride=3)
    assert sorted(ds.episode_ids) == sorted([left.stem, right.stem])
    assert len(ds) == 2 * len(range(0, 11, 3))
    by_episode = {ds[i]["episode"]: ds[i] for i in range(len(ds)) if ds[i]["frame_index"][0] == 3}
    expected = make_images(18, seed=2)[3:11][..., ::-1]
    assert np.array_equal(by_episode[right.stem]["rgb"].numpy(), expected)
    # cached and uncached reads agree
    cold = EpisodeDataset(tmp_path / "eps", stride=3, cache_mb=0)
    for i in range(len(ds)):
        assert torch.equal(ds[i]["rgb"], cold[i]["rgb"])


def test_resize_uses_inter_area_on_rgb(files):
    left, _ = files
    item = EpisodeDataset(left, resize=24)[2]
    assert item["rgb"].shape == (8, 24, 24, 3)
    rgb = np.ascontiguousarray(make_images(18, seed=1)[2][..., ::-1])
    assert np.array_equal(item["rgb"][0].numpy(), cv2.resize(rgb, (24, 24), interpolation=cv2.INTER_AREA))


def test_manifest_split_filter_and_dataloader(files, tmp_path):
    left, right = files
    manifest = tmp_path / "mix" / "manifest.jsonl"
    write_manifest(
        manifest,
        [
            ManifestEntry(path=left, split="train", source="real"),
            ManifestEntry(path=right, split="val", source="sim"),
        ],
    )
    train = EpisodeDataset(manifest, split="train")
    assert train.episode_ids == [left.stem]
    val = EpisodeDataset(manifest, split="val")
    assert val.episode_ids == [right.stem] and val[0]["source"] == "sim"
    assert len(EpisodeDataset(manifest)) == 22
    with pytest.raises(ValueError, match="split='test'"):
        EpisodeDataset(manifest, split="test")
    batch = next(iter(DataLoader(train, batch_size=4, shuffle=False, num_workers=0)))
    assert batch["rgb"].shape == (4, 8, 36, 64, 3) and batch["actions"].shape == (4, 8, 10, 2)
    assert batch["action_mask"].dtype == torch.bool and batch["instruction"] == [INSTRUCTIONS["left"]] * 4


def test_short_and_bad_episodes(tmp_path):
    short = write_real_episode_file(tmp_path / "d" / episode_file_name("left", 0), n=5)
    good = write_real_episode_file(tmp_path / "d" / episode_file_name("left", 1))
    bad = tmp_path / "d" / episode_file_name("left", 2)
    bad.write_bytes(b"not an episode")
    with pytest.raises(Exception, match=bad.name):
        EpisodeDataset(tmp_path / "d")
    ds = EpisodeDataset(tmp_path / "d", on_error="skip")
    assert ds.episode_ids == [good.stem]
    assert {p for p, _ in ds.skipped} == {short, bad}
    no_instruction = write_real_episode_file(tmp_path / "e" / "x.h5", instruction=None)
    assert EpisodeDataset(no_instruction, default_instruction="go")[0]["instruction"] == "go"


def test_config_validation_and_yaml():
    for bad, message in [
        ({"window": 0}, "window must be an integer >= 1, got 0"),
        ({"chunk": 2.5}, "chunk must be an integer >= 1, got 2.5"),
        ({"axes": (0, 3)}, r"axes must be distinct .* got \(0, 3\)"),
        ({"clamp": -1}, "clamp must be > 0 or None, got -1"),
        ({"resize": 0}, "resize must be a positive size in pixels or None, got 0"),
    ]:
        with pytest.raises(ValueError, match=message):
            DatasetConfig(**bad)
    cfg = DatasetConfig.from_dict(OmegaConf.to_container(OmegaConf.load(CONFIGS / "default.yaml")))
    assert (cfg.window, cfg.chunk, cfg.axes, cfg.clamp, cfg.resize) == (8, 10, (0, 1), 1.0, 224)
    with pytest.raises(ValueError, match=r"unknown DatasetConfig keys \['windw'\]"):
        DatasetConfig.from_dict({"windw": 8})
