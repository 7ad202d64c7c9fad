"""The real HDF5 schema: names, layout equality with a documented-schema fixture, round trip, errors."""

from __future__ import annotations

import datetime as dt

import h5py
import numpy as np
import pytest

from datagen.schema import (
    AugmentRecord,
    Episode,
    EpisodeFormatError,
    EpisodeNameError,
    EpisodeWriteError,
    SimExtras,
    bgr_to_rgb,
    format_episode_name,
    inspect_episode,
    mirror_episode_name,
    parse_episode_name,
    read_episode,
    read_frames,
    rgb_to_bgr,
    time_period,
    write_episode,
)
from tests.fixtures_episodes import (
    INSTRUCTIONS,
    episode_file_name,
    h5_layout,
    make_actions,
    make_events,
    make_images,
    write_real_episode_file,
)


def _episode(side: str = "left", n: int = 18, **kwargs) -> Episode:
    return Episode(
        images=make_images(n),
        actions=make_actions(side, n),
        event_types=make_events(n),
        instruction=INSTRUCTIONS[side],
        **kwargs,
    )


# ------------------------------------------------------------------------------------------ names
def test_parse_2025_name():
    tags = parse_episode_name("data/episode_20251106_101500_1box_hori_left_core_medium.h5")
    assert tags == {
        "date": "20251106",
        "time": "101500",
        "family": "2025",
        "scenario": "1box_hori_left_core_medium",
        "num_box": "1box",
        "orientation": "hori",
        "side": "left",
        "pattern": "core",
        "distance": "medium",
    }


def test_parse_2026_name_and_suffix():
    tags = parse_episode_name("episode_20260301_090000_target_left_straight_path__aug03m")
    assert tags["family"] == "2026"
    assert (tags["target"], tags["path"], tags["scenario"]) == (
        "left",
        "straight",
        "target_left_straight_path",
    )
    assert tags["suffix"] == "aug03m"


@pytest.mark.parametrize(
    "name",
    [
        "episode_20251106_101500_1box_diag_left_core_medium.h5",
        "episode_2025116_101500_1box_hori_left_core_medium.h5",
        "episode_20251106_101500_target_up_left_path.h5",
        "random.h5",
    ],
)
def test_bad_names_raise_naming_the_name(name):
    with pytest.raises(EpisodeNameError, match=name.removesuffix(".h5")):
        parse_episode_name(name)


def test_format_and_mirror_names():
    name = format_episode_name(dt.datetime(2025, 11, 6, 10, 15, 0), "2box_vert_right_variant_far", "sim00042")
    assert name == "episode_20251106_101500_2box_vert_right_variant_far__sim00042"
    mirrored = mirror_episode_name(name)
    assert parse_episode_name(mirrored)["side"] == "left"
    assert parse_episode_name(mirrored)["suffix"] == "sim00042"
    m26 = mirror_episode_name("episode_20260301_090000_target_center_right_path.h5")
    assert m26 == "episode_20260301_090000_target_center_left_path"
    with pytest.raises(EpisodeNameError):
        format_episode_name(dt.datetime(2025, 1, 1), "1box_hori_up_core_medium")


def test_time_period_matches_collector():
    assert [time_period(h) for h in (0, 5, 6, 11, 12, 17, 18, 23)] == [
        "dawn",
        "dawn",
        "morning",
        "morning",
        "evening",
        "evening",
        "night",
        "night",
    ]


def test_bgr_rgb_helpers():
    img = make_images(2)
    assert np.array_equal(bgr_to_rgb(img)[..., 0], img[..., 2])
    assert np.array_equal(rgb_to_bgr(bgr_to_rgb(img)), img)
    # The OpenCV path (uint8/uint16/float32 frames) and the numpy fallback give the same reversed copy.
    rng = np.random.default_rng(0)
    for frames in (img[:, ::-1], rng.random((3, 4, 5, 3)).astype(np.float32), rng.random((4, 5, 3)),
                   rng.integers(0, 9, (2, 3, 3), dtype=np.int64), np.zeros((0, 4, 3), np.uint8)):
        swapped = rgb_to_bgr(frames)
        assert swapped.dtype == frames.dtype and swapped.flags["C_CONTIGUOUS"]
        assert np.array_equal(swapped, frames[..., ::-1]) and not np.shares_memory(swapped, frames)


# ------------------------------------------------------------------------------- schema equality
@pytest.mark.parametrize("layout", ["images", "observations/images"])
def test_written_file_matches_real_schema(tmp_path, layout):
    real = write_real_episode_file(tmp_path / "real" / episode_file_name(), layout=layout)
    ours = write_episode(tmp_path / "ours" / episode_file_name(), _episode(image_key=layout))
    real_layout, our_layout = h5_layout(real), h5_layout(ours)
    assert our_layout["datasets"] == real_layout["datasets"]
    assert our_layout["datasets"]["language_instruction"] == ((1,), "str:ascii:256", None)
    # every real attribute, with the same kind; ours adds only the bench's `source`
    assert {k: v for k, v in our_layout["attrs"].items() if k != "source"} == real_layout["attrs"]
    with h5py.File(ours, "r") as f:
        assert f.attrs["source"] == "real"
        assert f[layout].chunks == (1, 36, 64, 3)
        assert f[layout].compression == "gzip"
        assert f.attrs["episode_name"] == ours.stem
        assert f.attrs["num_frames"] == 18 and f.attrs["action_chunk_size"] == 8
        assert f.attrs["collection_datetime"] == "2025-11-06T10:00:00"
        assert f.attrs["time_period"] == "morning"


@pytest.mark.parametrize("layout", ["images", "observations/images"])
def test_reads_real_fixture(tmp_path, layout):
    path = write_real_episode_file(tmp_path / episode_file_name("right"), side="right", layout=layout)
    ep = read_episode(path)
    assert ep.image_key == layout
    assert ep.source == "real" and ep.sim is None and ep.augment is None
    assert np.array_equal(ep.images, make_images(18))
    assert ep.actions.dtype == np.float32 and np.array_equal(ep.actions, make_actions("right"))
    assert ep.event_types == make_events(18)
    assert ep.instruction == INSTRUCTIONS["right"]
    assert ep.tags["side"] == "right"
    assert ep.attrs["num_frames"] == 18
    info = inspect_episode(path)
    assert (info.num_frames, info.height, info.width, info.image_key) == (18, 36, 64, layout)
    assert info.warnings == []
    assert np.array_equal(read_frames(path, 3, 5), make_images(18)[3:5])


def test_round_trip_with_sim_and_augment_extras(tmp_path):
    poses = np.cumsum(np.full((18, 3), 0.1), axis=0)
    ep = _episode(
        source="sim",
        attrs={"total_duration": 7.2},
        sim=SimExtras(
            seed=1234,
            scenario={"name": "1box_hori_left_core_medium", "box": [1.0, 0.2]},
            poses=poses,
            arrays={"collisions": np.zeros(18, dtype=np.int8)},
            attrs={"success": True},
        ),
    )
    path = write_episode(tmp_path / episode_file_name(), ep)
    back = read_episode(path)
    assert np.array_equal(back.images, ep.images) and np.array_equal(back.actions, ep.actions)
    assert back.event_types == ep.event_types and back.instruction == ep.instruction
    assert back.source == "sim"
    assert back.attrs["total_duration"] == 7.2
    assert back.sim.seed == 1234 and back.sim.scenario == ep.sim.scenario
    assert np.allclose(back.sim.poses, poses)
    assert back.sim.attrs == {"success": True}
    assert np.array_equal(back.sim.arrays["collisions"], np.zeros(18, dtype=np.int8))

    aug = _episode(
        source="augmented",
        augment=AugmentRecord(
            source_episode="episode_x",
            copy_index=2,
            seed=7,
            ops=[{"op": "mirror"}],
            source_file="episode_x.h5",
            origin="sim",
        ),
    )
    path2 = write_episode(tmp_path / "aug.h5", aug)
    back2 = read_episode(path2)
    assert back2.augment == aug.augment
    assert back2.source_episode == "episode_x"
    assert inspect_episode(path2).source_episode == "episode_x"


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / episode_file_name()
    write_episode(path, _episode())
    write_episode(path, _episode("right"))  # replaces the existing file
    assert read_episode(path).instruction == INSTRUCTIONS["right"]
    too_long = _episode()
    too_long.instruction = "x" * 300
    with pytest.raises(EpisodeFormatError, match="300 bytes"):
        write_episode(tmp_path / "long.h5", too_long)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_unwritable_output_directory_is_named(tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    with pytest.raises(EpisodeWriteError, match="not_a_dir"):
        write_episode(blocker / "sub" / "e.h5", _episode())


def test_event_types_none_are_written_as_collector_convention(tmp_path):
    ep = _episode()
    ep.event_types = None
    back = read_episode(write_episode(tmp_path / "e.h5", ep))
    assert back.event_types == make_events(18)


# -------------------------------------------------------------------------------------- errors
def test_truncated_file_raises_naming_file(tmp_path):
    path = write_episode(tmp_path / "trunc.h5", _episode())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(EpisodeFormatError, match="trunc.h5"):
        read_episode(path)


def test_garbage_bytes_raise_naming_file(tmp_path):
    path = tmp_path / "garbage.h5"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(EpisodeFormatError, match="garbage.h5.*not a readable HDF5"):
        read_episode(path)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        read_episode(tmp_path / "nope.h5")


def test_missing_actions_raises(tmp_path):
    path = tmp_path / "noact.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=make_images(4))
    with pytest.raises(EpisodeFormatError, match=r"noact.h5.*missing 'actions'"):
        read_episode(path)


def test_missing_images_raises(tmp_path):
    path = tmp_path / "noimg.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("actions", data=make_actions("left", 4))
    with pytest.raises(EpisodeFormatError, match=r"noimg.h5.*missing image dataset"):
        inspect_episode(path)


@pytest.mark.parametrize(
    ("images", "actions", "message"),
    [
        (make_images(4).astype(np.float32), make_actions("left", 4), "dtype is float32, expected uint8"),
        (make_images(4), make_actions("left", 4).astype(np.int32), "dtype is int32, expected float32"),
        (make_images(4), make_actions("left", 4)[:, :2], r"shape is \(4, 2\), expected \(N, 3\)"),
        (make_images(4)[..., :1], make_actions("left", 4), r"expected \(N, H, W, 3\)"),
        (make_images(4), make_actions("left", 5), "5 action rows for 4 frames"),
    ],
)
def test_wrong_dtype_or_shape_raises(tmp_path, images, actions, message):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images)
        f.create_dataset("actions", data=actions)
    with pytest.raises(EpisodeFormatError, match=f"bad.h5.*{message}"):
        read_episode(path)


def test_bad_event_types_raise(tmp_path):
    events = make_events(18)
    events[3] = "jump"
    path = write_real_episode_file(tmp_path / "ev.h5", events=events)
    with pytest.raises(EpisodeFormatError, match=r"ev.h5.*unknown event types \['jump'\]"):
        read_episode(path)
    short = write_real_episode_file(tmp_path / "ev2.h5", events=make_events(17))
    with pytest.raises(EpisodeFormatError, match="17 event types for 18 frames"):
        read_episode(short)


def test_episode_object_validation_names_problem():
    with pytest.raises(EpisodeFormatError, match="3 event types for 18 frames"):
        Episode(images=make_images(18), actions=make_actions("left"), event_types=make_events(3))
    with pytest.raises(EpisodeFormatError, match="source is 'web'"):
        Episode(images=make_images(2), actions=make_actions("left", 2), source="web")
    ep = Episode(images=make_images(2), actions=make_actions("left", 2).astype(np.float64))
    assert ep.actions.dtype == np.float32
