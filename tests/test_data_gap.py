"""``eval.data_gap``: key statistics of two data sources with total variation distances."""

from __future__ import annotations

import json

import numpy as np
import pytest

from eval.data_gap import (
    Episode,
    key_shares_by_tag,
    load_side,
    main,
    reference_key_shares,
    statistics,
    total_variation,
)
from sim.protocol import keys_to_actions
from tests.fixtures_episodes import episode_file_name, write_real_episode_file

LEFT = "W W A Q Q Q Q Q Q Q W W E E E W W"
LEFT_B = "W W W A Q Q Q Q Q Q Q Q W W W W W"


def _sequences_file(tmp_path, entries):
    path = tmp_path / "real_sequences.json"
    path.write_text(json.dumps({"sequences": entries}))
    return path


def _dataset(tmp_path, name, sequences, image_seed=0):
    """Episodes 1box_hori_left_core_medium with the given 17-key sequences (row 0 the start row)."""
    folder = tmp_path / name
    for i, keys in enumerate(sequences):
        actions = np.concatenate([np.zeros((1, 3), np.float32), keys_to_actions(keys)])
        write_real_episode_file(folder / episode_file_name("left", i), actions=actions, seed=image_seed + i)
    return folder


def test_total_variation_hand_computed():
    assert total_variation({"w": 0.5, "q": 0.5}, {"w": 1.0}) == pytest.approx(0.5)
    assert total_variation({"w": 3, "q": 1}, {"w": 1, "e": 1}) == pytest.approx(0.5)  # normalised
    assert total_variation({"a": 1.0}, {"a": 1.0}) == 0.0


def test_real_sequences_are_a_weighted_dataset(tmp_path):
    path = _sequences_file(
        tmp_path,
        [
            {"scenario": "1box_hori_left_core_medium", "keys": LEFT, "episodes_reported": 3},
            {"scenario": "1box_hori_left_core_medium", "keys": LEFT_B, "episodes_reported": 1},
        ],
    )
    side = load_side(path)
    assert [e.weight for e in side.episodes] == [3.0, 1.0] and not side.has_images
    stats = statistics(side.episodes)
    assert stats["top_sequence"] == LEFT.replace(" ", "").lower() and stats["top_sequence_share"] == 0.75
    assert stats["per_position"][2] == {"a": 0.75, "w": 0.25}  # third press: A (3) vs W (1)
    assert stats["key_shares"]["w"] == pytest.approx((3 * 6 + 1 * 8) / (4 * 17))
    assert stats["stop_rows_per_episode"]["mean"] == 0.0 and stats["presses_per_episode"]["mean"] == 17


def test_stop_rows_and_short_episodes_are_counted():
    stats = statistics([Episode("s", "wwq..", 1.0), Episode("s", "www", 1.0)])
    assert stats["stop_rows_per_episode"]["mean"] == 1.0 and stats["presses_per_episode"]["mean"] == 3.0
    assert stats["per_position"][4] == {".": 0.5, "-": 0.5}  # the short episode has no fifth row
    assert stats["last_press"] == {".": 0.5, "w": 0.5}


def test_key_shares_by_tag_show_where_a_gap_comes_from():
    episodes = [
        Episode("1box_hori_left_core_close", "waaq", 1.0),
        Episode("1box_hori_left_core_medium", "wwwq", 1.0),
        Episode("1box_hori_right_core_medium", "wwwe", 2.0),
        Episode("a_real_room", "aaaa", 1.0),  # not a taxonomy name: left out
    ]
    ref = {"w": 0.75, "q": 0.25}
    by_tag = key_shares_by_tag(episodes, ref)
    close = by_tag["distance"]["close"]
    assert close["episodes"] == 1 and close["key_shares"] == {"a": 0.5, "q": 0.25, "w": 0.25}
    assert close["tv"] == pytest.approx(0.5)
    medium = by_tag["distance"]["medium"]  # weights count: the right episode twice
    assert medium["episodes"] == 3 and medium["key_shares"]["w"] == pytest.approx(0.75)
    assert medium["tv"] == pytest.approx(total_variation(medium["key_shares"], ref))
    assert by_tag["side"]["right"]["key_shares"] == {"e": 0.25, "w": 0.75}
    assert set(by_tag["num_box"]) == {"1box"}


def test_cli_dataset_vs_real_sequences_writes_json_and_html(tmp_path, capsys):
    data = _dataset(tmp_path, "sim", [LEFT, LEFT, LEFT_B, LEFT])
    real = _sequences_file(
        tmp_path,
        [
            {"scenario": "1box_hori_left_core_medium", "keys": LEFT, "episodes_reported": 1},
            {"scenario": "1box_hori_right_core_medium", "keys": "W W W D E E E E E E W W W W Q Q Q"},
        ],
    )
    stats_file = tmp_path / "stats.json"
    stats_file.write_text(
        json.dumps({"action_distribution_468": {"as_keys": {"W": 1, "Q": 1, "stop(start rows)": 9}}})
    )
    assert reference_key_shares(stats_file) == {"w": 0.5, "q": 0.5}
    out = tmp_path / "gap"
    assert (
        main(
            [
                str(data),
                str(real),
                "--out",
                str(out),
                "--labels",
                "sim",
                "real",
                "--key-shares",
                str(stats_file),
            ]
        )
        == 0
    )
    result = json.loads((out / "report.json").read_text())
    assert result["scenarios_in_both"] == ["1box_hori_left_core_medium"]
    group = result["groups"]["1box_hori_left_core_medium"]
    # three of four sim episodes play the one real sequence; the fourth differs at 7 positions
    assert group["tv"]["sequences"] == pytest.approx(0.25)
    assert group["tv"]["per_position_mean"] == pytest.approx(0.25 * 7 / 17)
    assert result["visual"] is None  # the real side has no frames
    assert result["key_shares_reference"]["tv_b"] == pytest.approx(
        total_variation(result["groups"]["overall"]["b"]["key_shares"], {"w": 0.5, "q": 0.5})
    )
    by_tag = result["key_shares_reference"]["by_tag_b"]["side"]
    assert by_tag["right"]["key_shares"]["e"] == pytest.approx(6 / 17) and by_tag["right"]["episodes"] == 1
    html = (out / "report.html").read_text()
    assert html.count("<img") == 6 and "data:image/png;base64," in html and "http" not in html
    assert "Key shares by scenario tag" in html
    printed = capsys.readouterr().out
    assert "1box_hori_left_core_medium" in printed and "side: right" in printed


def test_visual_gap_when_both_sides_have_frames(tmp_path):
    a = _dataset(tmp_path, "a", [LEFT, LEFT])
    b = _dataset(tmp_path, "b", [LEFT_B], image_seed=5)
    assert main([str(a), str(b), "--out", str(tmp_path / "gap"), "--image-episodes", "1"]) == 0
    visual = json.loads((tmp_path / "gap" / "report.json").read_text())["visual"]
    assert [r["tag"] for r in visual["rows"]] == ["scenario=1box_hori_left_core_medium"]
    assert visual["rows"][0]["real_frames"] == 18 and visual["rows"][0]["frechet"] > 0


def test_bad_inputs_are_named(tmp_path, capsys):
    assert main([str(tmp_path / "missing"), str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "missing does not exist" in capsys.readouterr().err
    bad = _sequences_file(tmp_path, [{"scenario": "x", "keys": "W K"}])
    assert main([str(bad), str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "sequences[0]" in err and "'K'" in err and not (tmp_path / "o" / "report.json").exists()


def test_out_defaults_to_runs_data_gap_and_a_file_is_refused(tmp_path, capsys, monkeypatch):
    import common.paths

    monkeypatch.setattr(common.paths, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr("eval.data_gap.write_report", lambda result, out: None)  # figures: tested above
    seq = _sequences_file(tmp_path, [{"scenario": "1box_hori_left_core_medium", "keys": LEFT}])
    assert main([str(seq), str(seq), "--labels", "a", "b", "--no-images"]) == 0
    assert (tmp_path / "runs" / "data_gap" / "a-vs-b" / "report.json").is_file()
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert main([str(seq), str(seq), "--out", str(taken)]) == 2
    assert f"error: --out {taken} is a file; expected a folder" in capsys.readouterr().err


def test_the_two_real_recording_periods_disagree_on_the_key_mix():
    """The README's "Which real key mix?" table: the 468-episode counts are the November files' mix."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "real_key_mix.py")],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    ).stdout
    tvs = [float(line.split(" TV ")[1].split()[0]) for line in out.splitlines() if " TV " in line]
    assert tvs == [0.026, 0.035, 0.066, 0.017]  # both periods, equal sides, current collection, November
