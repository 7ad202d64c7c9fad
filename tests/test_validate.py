"""``datagen.validate``: per-file findings, statuses, report text and CLI exit codes."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from datagen.manifest import ManifestEntry, write_manifest
from datagen.validate import ValidateConfig, format_report, main, validate_file, validate_path
from tests.cli_checks import error_line
from tests.fixtures_episodes import episode_file_name, make_actions, make_images, write_real_episode_file


def test_good_file_is_ok(tmp_path):
    path = write_real_episode_file(tmp_path / episode_file_name())
    report = validate_file(path)
    assert report.status == "OK", report
    assert report.num_frames == 18 and report.source == "real"


def test_near_black_and_washed_out_frames_warn(tmp_path):
    images = make_images(18)
    images[4] = 3  # near-black
    images[9] = 250  # washed-out (bright)
    images[11] = 128  # flat grey: std 0
    report = validate_file(write_real_episode_file(tmp_path / episode_file_name(), images=images))
    assert report.status == "WARN"
    text = " | ".join(report.warnings)
    assert "near-black frames (mean < 10): 4" in text
    assert "washed-out frames (mean > 245 or std < 3): 9, 11" in text


def test_short_episodes(tmp_path):
    short = validate_file(write_real_episode_file(tmp_path / "a" / episode_file_name(), n=10))
    assert short.status == "WARN" and any("short episode: 10 frames" in w for w in short.warnings)
    single = validate_file(write_real_episode_file(tmp_path / "b" / episode_file_name(), n=1))
    assert single.status == "INVALID" and any("only 1 frame" in e for e in single.errors)
    relaxed = validate_file(tmp_path / "a" / episode_file_name(), ValidateConfig(min_frames=10))
    assert relaxed.status == "OK"


def test_action_findings(tmp_path):
    actions = make_actions("left")
    actions[0] = [1.15, 0, 0]
    actions[5] = [0.5, 0.2, 0.0]
    report = validate_file(write_real_episode_file(tmp_path / "v.h5", actions=actions))
    assert report.status == "WARN"
    assert any("outside the teleop key vocabulary in rows 5" in w for w in report.warnings)
    assert any("row 0 is [1.15" in w for w in report.warnings)
    actions[7] = np.nan
    report = validate_file(write_real_episode_file(tmp_path / "nan.h5", actions=actions))
    assert report.status == "INVALID" and any("non-finite actions in rows 7" in e for e in report.errors)


def test_event_instruction_and_num_frames_findings(tmp_path):
    events = ["episode_start"] + ["start_action"] * 16 + ["teleport"]
    bad_events = validate_file(write_real_episode_file(tmp_path / "e.h5", events=events))
    assert bad_events.status == "INVALID" and any("'teleport'" in e for e in bad_events.errors)

    no_instr = validate_file(write_real_episode_file(tmp_path / "i.h5", instruction=None))
    assert no_instr.status == "WARN" and "missing 'language_instruction'" in no_instr.warnings
    empty = validate_file(write_real_episode_file(tmp_path / "j.h5", instruction=""))
    assert "empty 'language_instruction'" in empty.warnings

    path = write_real_episode_file(tmp_path / "n.h5")
    with h5py.File(path, "a") as f:
        f.attrs["num_frames"] = 17
    report = validate_file(path)
    assert report.status == "WARN" and any("num_frames=17" in w for w in report.warnings)


def test_both_layouts_and_schema_errors(tmp_path):
    assert (
        validate_file(write_real_episode_file(tmp_path / "o.h5", layout="observations/images")).status == "OK"
    )
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=make_images(18).astype(np.float32))
        f.create_dataset("actions", data=make_actions("left", 17))
    report = validate_file(path)
    assert report.status == "INVALID"
    assert any("dtype is float32, expected uint8" in e for e in report.errors)
    assert any("missing attributes" in w for w in report.warnings)


def test_cli_exit_codes_and_report(tmp_path, capsys):
    good = write_real_episode_file(tmp_path / "data" / "sub" / episode_file_name("left", 0))
    images = make_images(18)
    images[2] = 0
    dark = write_real_episode_file(
        tmp_path / "data" / episode_file_name("right", 1), side="right", images=images
    )
    assert main([str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert f"OK      {good}" in out
    assert f"WARN    {dark}" in out and "near-black frames (mean < 10): 2" in out
    assert "summary: 2 files: 1 OK, 1 WARN, 0 INVALID" in out
    assert main([str(tmp_path / "data"), "--strict"]) == 1
    capsys.readouterr()

    corrupt = tmp_path / "data" / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 100)
    report_json = tmp_path / "report.json"
    assert main([str(tmp_path / "data"), "--quiet", "--json", str(report_json)]) == 1
    out = capsys.readouterr().out
    assert f"INVALID {corrupt}" in out and "unreadable HDF5 file" in out
    assert f"OK      {good}" not in out  # --quiet hides OK files
    assert "summary: 3 files: 1 OK, 1 WARN, 1 INVALID" in out
    statuses = {r["path"]: r["status"] for r in json.loads(report_json.read_text())}
    assert statuses[str(corrupt)] == "INVALID"

    assert main([str(tmp_path / "missing")]) == 2
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2


def test_truncated_file_is_invalid(tmp_path):
    path = write_real_episode_file(tmp_path / "t.h5")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    report = validate_path(path)[0]
    assert report.status == "INVALID"
    assert "INVALID" in format_report([report])


def test_config_validation_names_values():
    with pytest.raises(ValueError, match="min_frames_error=5"):
        ValidateConfig(min_frames=3, min_frames_error=5)


def test_manifest_input_lists_missing_files_as_invalid(tmp_path):
    good = write_real_episode_file(tmp_path / "d" / episode_file_name())
    entries = [ManifestEntry(path=good), ManifestEntry(path=tmp_path / "d" / "gone.h5")]
    manifest = write_manifest(tmp_path / "manifest.jsonl", entries)
    reports = validate_path(manifest)
    assert [r.status for r in reports] == ["OK", "INVALID"]


# ------------------------------------------------------------------------------ CLI bad input
@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--min-frames", "1"], "min_frames_error=2, min_frames=1"),
        (["--min-frames-error", "0"], "min_frames_error=0"),
        (["--dark-mean", "250"], "got 250.0, 245.0"),
    ],
)
def test_cli_bad_thresholds_name_the_value(tmp_path, capsys, args, named):
    write_real_episode_file(tmp_path / "d" / episode_file_name())
    assert main([str(tmp_path / "d"), "--out", str(tmp_path / "report"), *args]) == 2
    assert named in error_line(capsys)
    assert not (tmp_path / "report").exists()


def test_cli_missing_folder_and_bad_report_targets(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert f"{tmp_path / 'nope'} does not exist" in error_line(capsys)
    write_real_episode_file(tmp_path / "d" / episode_file_name())
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert main([str(tmp_path / "d"), "--out", str(taken)]) == 2
    assert f"--out {taken} is a file" in error_line(capsys)
    assert main([str(tmp_path / "d"), "--json", str(tmp_path)]) == 2
    assert f"--json {tmp_path} is a directory" in error_line(capsys)


def test_cli_out_folder_gets_the_json_report_with_corrupt_and_truncated_files_invalid(tmp_path, capsys):
    good = write_real_episode_file(tmp_path / "d" / episode_file_name())
    truncated = write_real_episode_file(tmp_path / "d" / episode_file_name("right", 1), side="right")
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    garbage = tmp_path / "d" / "garbage.h5"
    garbage.write_bytes(b"garbage")
    assert main([str(tmp_path / "d"), "--out", str(tmp_path / "report")]) == 1
    out = capsys.readouterr()
    assert (
        f"INVALID {truncated}" in out.out and f"INVALID {garbage}" in out.out and "Traceback" not in out.err
    )
    statuses = {
        r["path"]: r["status"] for r in json.loads((tmp_path / "report" / "validate.json").read_text())
    }
    assert statuses == {str(good): "OK", str(truncated): "INVALID", str(garbage): "INVALID"}
