"""The one results schema: ``EpisodeRow`` reads and writes rows, old files load, compared fields derive."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from eval import closed_loop
from eval.results import (
    DETERMINISTIC_FIELDS,
    EpisodeRow,
    ResultsError,
    load_results,
    normalize_row,
    read_log,
    row_key,
)

ROW = {
    "episode": 3,
    "seed": 10,
    "scenario": "1box_hori_left_core_medium",
    "success": False,
    "instruction_flipped": True,
    "failure_reason": "collision",
    "latency_samples_ms": {"total_ms": [1.25, 2.5]},  # not named by the type: passes through
}


def test_compared_fields_derive_from_the_type_and_leave_wall_clock_fields_out():
    bookkeeping = ("error", "error_trace", "video", "extra")
    assert tuple(f.name for f in fields(EpisodeRow) if f.name not in bookkeeping) == DETERMINISTIC_FIELDS
    assert closed_loop.DETERMINISTIC_FIELDS is DETERMINISTIC_FIELDS
    assert {"episode", "seed", "scenario", "success", "trajectory", "scene"} <= set(DETERMINISTIC_FIELDS)
    assert not {"latency_ms", "latency_samples_ms", "error_trace", "video"} & set(DETERMINISTIC_FIELDS)


def test_a_row_round_trips_and_keeps_unknown_keys_as_written():
    row = EpisodeRow.from_dict(ROW)
    assert row.key == "3-flipped" == row_key(ROW)
    out = row.to_dict()
    assert out["latency_samples_ms"] == {"total_ms": [1.25, 2.5]} and out["failure_reason"] == "collision"
    assert out["tags"] == {} and out["trajectory"] == [] and out["named_side"] is None  # defaults
    assert EpisodeRow.from_dict(out).to_dict() == out
    assert row.compared()["seed"] == 10 and "latency_samples_ms" not in row.compared()


def test_bad_rows_name_the_key():
    with pytest.raises(ResultsError, match=r"^row: missing key 'scenario'$"):
        EpisodeRow.from_dict({"episode": 1, "success": True})
    with pytest.raises(ResultsError, match=r"^ep\.success: expected bool, got str 'yes'$"):
        normalize_row({**ROW, "success": "yes"}, "ep")
    with pytest.raises(ResultsError, match=r"episode: expected int, got bool True"):
        normalize_row({**ROW, "episode": True})


def test_an_old_results_file_without_seed_or_new_fields_still_loads(tmp_path):
    old = {
        "summary": {"policy": "p", "episodes": 1, "successes": 1},
        "episodes": [{"episode": 0, "scenario": "s", "success": True, "spl": 0.5}],
    }
    (tmp_path / "results.json").write_text(json.dumps(old))
    results = load_results(tmp_path)
    ep = results["episodes"][0]
    assert ep["seed"] is None and ep["spl"] == 0.5 and ep["instruction_flipped"] is False
    assert "latency_samples_ms" not in ep  # absent samples stay absent: per-step figures stay unavailable
    assert results["provenance"] == {}


def test_the_resume_log_drops_a_torn_line_and_reads_rows_through_the_schema(tmp_path):
    log = tmp_path / "episodes.jsonl"
    log.write_text(json.dumps(ROW) + "\n" + json.dumps({**ROW, "instruction_flipped": False})[:30])
    rows = read_log(log)
    assert list(rows) == ["3-flipped"] and rows["3-flipped"]["latency_samples_ms"]["total_ms"] == [1.25, 2.5]
    assert log.read_text() == json.dumps(ROW) + "\n"
    log.write_text(json.dumps({"episode": 4, "success": True}) + "\n")
    with pytest.raises(ResultsError, match=r"episodes.jsonl: line 1: missing key 'scenario'"):
        read_log(log)
