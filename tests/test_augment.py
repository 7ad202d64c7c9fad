"""``datagen.augment``: mirror semantics, determinism, records, manifest, bad-file handling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from datagen.augment import AugmentConfig, augment_episode, augment_paths, main, swap_left_right
from datagen.manifest import file_sha256, read_manifest
from datagen.schema import parse_episode_name, read_episode
from tests.cli_checks import error_line
from tests.fixtures_episodes import INSTRUCTIONS, episode_file_name, write_real_episode_file


@pytest.fixture
def real_dir(tmp_path):
    folder = tmp_path / "real"
    write_real_episode_file(folder / episode_file_name("left", 0), side="left", seed=1)
    write_real_episode_file(folder / episode_file_name("right", 1), side="right", seed=2)
    return folder


def test_swap_left_right_keeps_case():
    assert (
        swap_left_right("Left, then right; LEFT/Right. leftover") == "Right, then left; RIGHT/Left. leftover"
    )


def test_mirror_maps_left_episode_to_right(real_dir, tmp_path):
    src = real_dir / episode_file_name("left", 0)
    original = read_episode(src)
    out = tmp_path / "out"
    results = augment_paths([src], out, AugmentConfig.only("mirror", copies=2, seed=3))
    assert [r.error for r in results] == [None]
    files = sorted(out.glob("*.h5"))
    assert [f.name for f in files] == [
        "episode_20251106_100000_1box_hori_right_core_medium__aug00m.h5",
        "episode_20251106_100000_1box_hori_right_core_medium__aug01m.h5",
    ]
    copy = read_episode(files[0])
    tags = parse_episode_name(files[0])
    assert tags["side"] == "right" and tags["suffix"] == "aug00m"
    assert np.array_equal(copy.images, np.flip(original.images, axis=2))
    assert np.array_equal(copy.actions[:, 0], original.actions[:, 0])
    assert np.array_equal(copy.actions[:, 1:], -original.actions[:, 1:])
    assert not np.signbit(copy.actions[copy.actions == 0]).any()  # no -0.0
    assert copy.instruction == INSTRUCTIONS["right"]
    assert copy.source == "augmented" and copy.event_types == original.event_types
    assert copy.augment.source_episode == src.stem and copy.augment.ops == [{"op": "mirror"}]
    assert copy.augment.origin == "real" and copy.augment.copy_index == 0
    assert copy.attrs["episode_name"] == files[0].stem


def test_same_seed_gives_identical_copies_in_any_order(real_dir, tmp_path):
    config = AugmentConfig(copies=3, seed=11, p_blur=1.0, p_noise=1.0)
    augment_paths([real_dir], tmp_path / "a", config)
    # the other order: one file at a time, right first
    for f in sorted(real_dir.glob("*.h5"), reverse=True):
        augment_paths([f], tmp_path / "b", config)
    names_a = sorted(p.name for p in (tmp_path / "a").glob("*.h5"))
    assert names_a == sorted(p.name for p in (tmp_path / "b").glob("*.h5")) and len(names_a) == 6
    for name in names_a:
        a, b = read_episode(tmp_path / "a" / name), read_episode(tmp_path / "b" / name)
        assert np.array_equal(a.images, b.images) and np.array_equal(a.actions, b.actions)
        assert a.augment.ops == b.augment.ops
    ep = read_episode(real_dir / episode_file_name("left", 0))
    a = augment_episode(ep, AugmentConfig.only("blur", "noise", seed=11), 0, "x.h5")
    b = augment_episode(ep, AugmentConfig.only("blur", "noise", seed=12), 0, "x.h5")
    assert a.augment.ops != b.augment.ops and not np.array_equal(a.images, b.images)


def test_each_op_changes_images_and_is_recorded(real_dir):
    ep = read_episode(real_dir / episode_file_name("left", 0))
    for op in ("crop", "hsv", "brightness_contrast", "blur", "noise"):
        copy = augment_episode(ep, AugmentConfig.only(op, seed=5), 0, "x.h5")
        assert [o["op"] for o in copy.augment.ops] == [op]
        assert copy.images.shape == ep.images.shape and copy.images.dtype == np.uint8
        assert not np.array_equal(copy.images, ep.images), op
        assert np.array_equal(copy.actions, ep.actions)
        assert copy.name.endswith("__aug00")
    nothing = augment_episode(ep, AugmentConfig.only(seed=5), 1, "x.h5")
    assert nothing.augment.ops == [] and np.array_equal(nothing.images, ep.images)


def test_toggling_one_op_keeps_the_others_parameters(real_dir):
    ep = read_episode(real_dir / episode_file_name("left", 0))
    both = augment_episode(ep, AugmentConfig.only("hsv", "blur", seed=9), 0, "x.h5").augment.ops
    alone = augment_episode(ep, AugmentConfig.only("blur", seed=9), 0, "x.h5").augment.ops
    assert both[1] == alone[0]


def test_manifest_and_include_originals(real_dir, tmp_path):
    out = tmp_path / "out"
    assert (
        main(
            ["--in", str(real_dir), "--out", str(out), "--copies", "2", "--seed", "4", "--include-originals"]
        )
        == 0
    )
    entries = read_manifest(out / "manifest.jsonl")
    assert len(entries) == 6 and len(list(out.glob("*.h5"))) == 6
    originals = [e for e in entries if e.source == "real"]
    copies = [e for e in entries if e.source == "augmented"]
    assert len(originals) == 2 and len(copies) == 4
    for e in entries:
        assert e.extra["sha256"] == file_sha256(e.path)
        assert e.extra["frames"] == 18
        assert e.tags["side"] in ("left", "right")
        assert parse_episode_name(e.path)["side"] == e.tags["side"]
    for e in copies:
        assert e.source_episode in {o.name for o in originals}
        assert isinstance(e.extra["ops"], list)
        mirrored = {"op": "mirror"} in e.extra["ops"]
        assert e.path.stem.endswith("m") == mirrored
        assert ("right" in e.extra["instruction"]) == (e.tags["side"] == "right")
    line = json.loads((out / "manifest.jsonl").read_text().splitlines()[0])
    assert not line["file"].startswith("/")


def test_bad_file_is_skipped_and_the_rest_complete(real_dir, tmp_path, capsys):
    (real_dir / "episode_20251106_120000_1box_hori_left_core_medium.h5").write_bytes(b"not hdf5 at all")
    out = tmp_path / "out"
    assert main(["--in", str(real_dir), "--out", str(out), "--copies", "2"]) == 0
    err = capsys.readouterr().err
    assert "skipped" in err and "120000" in err
    assert len(read_manifest(out / "manifest.jsonl")) == 4
    assert main(["--in", str(real_dir), "--out", str(out), "--copies", "2", "--strict"]) == 1


def test_nothing_processed_exits_nonzero(tmp_path):
    bad = tmp_path / "in"
    bad.mkdir()
    (bad / "a.h5").write_bytes(b"garbage")
    assert main(["--in", str(bad), "--out", str(tmp_path / "out")]) == 1
    assert main(["--in", str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2
    assert main(["--in", str(bad), "--out", str(tmp_path / "out"), "--copies", "0"]) == 2


def test_config_validation_names_values():
    with pytest.raises(ValueError, match="p_blur .* got 1.5"):
        AugmentConfig(p_blur=1.5)
    with pytest.raises(ValueError, match="crop_scale"):
        AugmentConfig(crop_scale=(0.9, 0.8))
    with pytest.raises(ValueError, match="unknown ops"):
        AugmentConfig.only("rotate")


# ------------------------------------------------------------------------------ CLI bad input
def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--copies", "0"], "copies must be an integer >= 1, got 0"),
        (["--copies", "-3"], "got -3"),
        (["--p-mirror", "2"], "p_mirror must be a probability in [0, 1], got 2.0"),
        (["--p-noise", "-0.5"], "p_noise must be a probability in [0, 1], got -0.5"),
        (["--workers", "0"], "--workers 0 is invalid"),
        (["--seed", "-1"], "seed must be an integer >= 0, got -1"),
    ],
)
def test_cli_bad_values_name_the_value_and_write_nothing(real_dir, tmp_path, capsys, args, named):
    out = tmp_path / "out"
    assert main(["--in", str(real_dir), "--out", str(out), *args]) == 2
    assert named in error_line(capsys)
    assert not out.exists()


def test_cli_missing_input_folder_names_it(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--in", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert f"{tmp_path / 'nope'} does not exist" in error_line(capsys)
    assert not out.exists()
    (tmp_path / "empty").mkdir()
    assert main(["--in", str(tmp_path / "empty"), "--out", str(out)]) == 2
    assert "no *.h5 episode files" in error_line(capsys)
    assert not out.exists()


def test_cli_out_at_a_file_is_refused(real_dir, tmp_path, capsys):
    out = tmp_path / "taken"
    out.write_text("x")
    assert main(["--in", str(real_dir), "--out", str(out)]) == 2
    assert f"--out {out} is a file" in error_line(capsys)


def test_cli_corrupt_and_truncated_files_are_named_and_nothing_written(real_dir, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "garbage.h5").write_bytes(b"garbage")
    moved = sorted(real_dir.glob("*.h5"))[0]  # one of the two good episodes, cut in half
    truncated = _truncate(moved.replace(bad / moved.name))
    out = tmp_path / "out"
    assert main(["--in", str(bad), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"skipped {bad / 'garbage.h5'}: " in err and f"skipped {truncated}: " in err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("error: ")] == [
        "error: none of the 2 input episodes is readable; nothing written"
    ]
    assert not out.exists()
    # beside the remaining readable episode the truncated one is skipped and named, the rest is written
    assert main(["--in", str(real_dir), str(truncated), "--out", str(out), "--copies", "1"]) == 0
    assert f"skipped {truncated}: {truncated}: " in capsys.readouterr().err
    assert len(read_manifest(out / "manifest.jsonl")) == 1


def test_cli_out_defaults_to_a_runs_folder(real_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--in", str(real_dir), "--copies", "1", "--seed", "3"]) == 0
    assert len(read_manifest(tmp_path / "runs" / "augment" / "real-seed3" / "manifest.jsonl")) == 2


def test_originals_across_file_systems_are_copied_whole(real_dir, tmp_path, monkeypatch):
    def no_link(src, dst):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr("datagen.augment.os.link", no_link)
    out = tmp_path / "out"
    augment_paths([real_dir], out, AugmentConfig(copies=1), include_originals=True)
    for original in real_dir.glob("*.h5"):
        copy = out / original.name
        assert not copy.is_symlink() and copy.read_bytes() == original.read_bytes()
    assert not list(out.glob(".*"))  # no temporary file left behind


def test_a_copy_that_fails_half_way_leaves_nothing(real_dir, tmp_path, monkeypatch):
    def no_link(src, dst):
        raise OSError(18, "Invalid cross-device link")

    def half_copy(src, dst):
        Path(dst).write_bytes(Path(src).read_bytes()[:100])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("datagen.augment.os.link", no_link)
    monkeypatch.setattr("datagen.augment.shutil.copy2", half_copy)
    out = tmp_path / "out"
    results = augment_paths([real_dir], out, AugmentConfig(copies=1), include_originals=True)
    assert all("No space left on device" in r.error for r in results)
    assert not [p for p in out.iterdir() if p.name.startswith("episode_") and "__aug" not in p.name]
    assert not list(out.glob(".*"))
