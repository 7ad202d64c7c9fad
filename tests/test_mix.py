"""``datagen.mix``: selection, balance, split by source episode, bad files, links, summary."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from datagen.augment import AugmentConfig, augment_paths
from datagen.dataset import manifest_episodes
from datagen.manifest import list_episodes, read_manifest
from datagen.mix import MixError, MixSpec, build_mix, main
from datagen.schema import Episode, SimExtras, write_episode
from tests.cli_checks import error_line
from tests.fixtures_episodes import (
    INSTRUCTIONS,
    episode_file_name,
    make_actions,
    make_events,
    make_images,
    write_real_episode_file,
)

N_FRAMES = 4  # tiny episodes: the mix never reads images


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixdata")
    real = root / "real"
    for i in range(10):
        side = "left" if i % 2 == 0 else "right"
        write_real_episode_file(real / episode_file_name(side, i), side=side, n=N_FRAMES, seed=i)
    sim = root / "sim"
    for i in range(12):
        side = "left" if i < 8 else "right"  # imbalanced on purpose
        ep = Episode(
            images=make_images(N_FRAMES, seed=100 + i),
            actions=make_actions(side, N_FRAMES),
            event_types=make_events(N_FRAMES),
            instruction=INSTRUCTIONS[side],
            source="sim",
            sim=SimExtras(seed=i),
        )
        write_episode(sim / episode_file_name(side, 100 + i).replace(".h5", f"__sim{i:05d}.h5"), ep)
    aug = root / "aug"
    augment_paths([real], aug, AugmentConfig(copies=3, seed=1, p_blur=0, p_noise=0, p_crop=0))
    return {"real": real, "sim": sim, "aug": aug, "root": root}


def _by_split(entries):
    out = {"train": set(), "val": set()}
    for e in entries:
        out[e.split].add(e.source_episode)
    return out


def test_split_by_source_episode_keeps_copies_with_their_original(data):
    spec = MixSpec(
        inputs={"real": [data["real"]], "augmented": [data["aug"] / "manifest.jsonl"]},
        val_fraction=0.3,
        seed=5,
    )
    result = build_mix(spec)
    entries = result.entries
    assert len(entries) == 10 + 30
    groups = _by_split(entries)
    assert groups["train"] and groups["val"] and not groups["train"] & groups["val"]
    assert len(groups["val"]) == 3  # round(0.3 * 10) source episodes
    real_names = {e.path.stem for e in entries if e.source == "real"}
    for e in entries:
        if e.source == "augmented":
            assert e.source_episode in real_names
            twin = next(r for r in entries if r.source == "real" and r.path.stem == e.source_episode)
            assert e.split == twin.split
    assert result.summary["leaked_source_episodes"] == 0
    # a different seed picks different validation episodes, the same seed the same ones
    again = build_mix(spec).entries
    assert [(e.path, e.split) for e in again] == [(e.path, e.split) for e in entries]
    other = build_mix(MixSpec(inputs=spec.inputs, val_fraction=0.3, seed=6)).entries
    assert _by_split(other)["val"] != groups["val"]


def test_counts_ratio_and_balance(data):
    counted = build_mix(
        MixSpec(inputs={"real": [data["real"]], "sim": [data["sim"]]}, counts={"real": 4, "sim": 6}, seed=1)
    ).entries
    assert sum(e.source == "real" for e in counted) == 4 and sum(e.source == "sim" for e in counted) == 6

    ratio = build_mix(
        MixSpec(
            inputs={"real": [data["real"]], "sim": [data["sim"]]},
            ratios={"sim": 0.5, "real": 0.5},
            total=15,
            seed=1,
        )
    ).entries
    assert Counter(e.source for e in ratio) == {"real": 8, "sim": 7}  # tie on the remainder: label order

    balanced = build_mix(MixSpec(inputs={"sim": [data["sim"]]}, balance="side", seed=2)).entries
    sides = Counter(e.tags["side"] for e in balanced)
    assert sides == {"left": 4, "right": 4}  # largest balanced subset of 8 left / 4 right
    with pytest.raises(MixError, match="needs 5 with side=right, only 4"):
        build_mix(MixSpec(inputs={"sim": [data["sim"]]}, counts={"sim": 10}, balance="side"))
    with pytest.raises(MixError, match="'real': 11 episodes requested but only 10"):
        build_mix(MixSpec(inputs={"real": [data["real"]]}, counts={"real": 11}))
    with pytest.raises(MixError, match="neither a ratio nor a count"):
        MixSpec(inputs={"real": [data["real"]], "sim": [data["sim"]]}, ratios={"sim": 1.0}, total=3)


def test_cli_writes_manifest_summary_and_links(data, tmp_path, capsys):
    out = tmp_path / "mix"
    links = tmp_path / "links"
    code = main(
        [
            "--real",
            str(data["real"]),
            "--sim",
            str(data["sim"]),
            "--augmented",
            str(data["aug"]),
            "--real-count",
            "10",
            "--sim-count",
            "8",
            "--augmented-count",
            "12",
            "--val-fraction",
            "0.2",
            "--seed",
            "3",
            "--out",
            str(out),
            "--link-dir",
            str(links),
        ]
    )
    assert code == 0, capsys.readouterr()
    entries = read_manifest(out / "manifest.jsonl")
    assert len(entries) == 30 and all(e.path.is_file() for e in entries)
    lines = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert all(not line["file"].startswith("/") for line in lines)
    assert {line["split"] for line in lines} == {"train", "val"}
    summary = json.loads((out / "mix.json").read_text())
    assert summary["total"] == 30
    assert summary["by_source"]["real"]["train"] + summary["by_source"]["real"]["val"] == 10
    assert summary["leaked_source_episodes"] == 0
    assert set(summary["by_tag"]["side"]) == {"left", "right"}
    n_val = summary["by_split"]["val"]
    assert len(list_episodes(out / "manifest.jsonl", split="val")) == n_val
    assert len(manifest_episodes(out / "manifest.jsonl", split="train")) == 30 - n_val
    linked = sorted(p for p in links.rglob("*.h5"))
    assert len(linked) == 30 and all(p.is_symlink() and p.resolve().is_file() for p in linked)
    assert len(list((links / "val").rglob("*.h5"))) == n_val
    # rerunning replaces the links
    assert main(["--real", str(data["real"]), "--out", str(out), "--link-dir", str(links)]) == 0
    assert len(list(links.rglob("*.h5"))) == 10


def test_bad_file_is_skipped_and_reported(data, tmp_path, capsys):
    real = tmp_path / "real"
    for i in range(3):
        write_real_episode_file(real / episode_file_name("left", i), n=N_FRAMES, seed=i)
    (real / episode_file_name("left", 9)).write_bytes(b"broken")
    out = tmp_path / "mix"
    assert main(["--real", str(real), "--out", str(out), "--val-fraction", "0"]) == 0
    captured = capsys.readouterr()
    assert "skipped" in captured.err and episode_file_name("left", 9) in captured.err
    assert len(read_manifest(out / "manifest.jsonl")) == 3
    summary = json.loads((out / "mix.json").read_text())
    assert len(summary["skipped"]) == 1 and summary["by_split"] == {"train": 3, "val": 0}


def test_cli_errors(data, tmp_path, capsys):
    assert main(["--real", str(data["real"]), "--real-count", "99", "--out", str(tmp_path / "m")]) == 2
    assert "99 episodes requested" in capsys.readouterr().err
    assert main(["--out", str(tmp_path / "m")]) == 2
    assert main(["--input", "nolabel", "--out", str(tmp_path / "m")]) == 2
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.h5").write_bytes(b"x")
    assert main(["--real", str(broken), "--out", str(tmp_path / "m")]) == 1


# ------------------------------------------------------------------------------ CLI bad input
@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--val-fraction", "2"], "val_fraction must be in [0, 1), got 2.0"),
        (["--val-fraction", "-0.1"], "got -0.1"),
        (["--count", "real=abc"], "--count real=abc is invalid: expected an integer"),
        (["--ratio", "real=x", "--total", "4"], "--ratio real=x is invalid: expected a number"),
        (["--real-count", "-1"], "count for 'real' must be >= 0, got -1"),
        (["--real-count", "99"], "'real': 99 episodes requested but only 10 readable"),
        (["--seed", "-1"], "seed must be an integer >= 0, got -1"),
        (["--balance", "sides"], "balance tag 'sides' is not a name tag; expected one of ["),
        (["--stratify", "date"], "stratify tag 'date' is not a name tag"),
    ],
)
def test_cli_bad_values_name_the_value_and_write_nothing(data, tmp_path, capsys, args, named):
    out = tmp_path / "m"
    assert main(["--real", str(data["real"]), "--out", str(out), *args]) == 2
    assert named in error_line(capsys)
    assert not out.exists()


def test_cli_missing_input_folder_and_out_at_a_file(data, tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["--real", str(tmp_path / "nope"), "--out", str(out)]) == 2
    assert f"{tmp_path / 'nope'} does not exist" in error_line(capsys)
    assert not out.exists()
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert main(["--real", str(data["real"]), "--out", str(taken)]) == 2
    assert f"--out {taken}" in error_line(capsys)


def test_cli_corrupt_and_truncated_files_are_named_and_nothing_written(data, tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "garbage.h5").write_bytes(b"garbage")
    good = sorted(data["real"].glob("*.h5"))[0]
    truncated = bad / good.name
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    out = tmp_path / "m"
    assert main(["--real", str(bad), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"skipped {bad / 'garbage.h5'}: " in err and f"skipped {truncated}: " in err
    assert [line for line in err.splitlines() if line.startswith("error: ")] == [
        "error: nothing selected (2 file(s) skipped); nothing written"
    ]
    assert not out.exists()


def test_cli_link_dir_with_a_regular_file_is_refused_before_writing(data, tmp_path, capsys):
    links = tmp_path / "links"
    (links / "train").mkdir(parents=True)
    (links / "train" / "notes.txt").write_text("mine")
    out = tmp_path / "m"
    assert main(["--real", str(data["real"]), "--out", str(out), "--link-dir", str(links)]) == 2
    line = error_line(capsys)
    assert "holds a regular file" in line and str(links / "train" / "notes.txt") in line
    assert not out.exists()


def test_cli_out_defaults_to_a_runs_folder(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--real", str(data["real"]), "--seed", "4"]) == 0
    assert len(read_manifest(tmp_path / "runs" / "mix" / "seed4" / "manifest.jsonl")) == 10
    assert (tmp_path / "runs" / "mix" / "seed4" / "mix.json").is_file()
