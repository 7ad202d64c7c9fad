"""The closed-loop report from a synthetic results.json: figures, embedded media, ordering, errors."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest

from eval import report
from eval.metrics import wilson_interval
from eval.summary import summarize
from eval.video import write_episode_video

SCENE = {
    "name": "1box_hori_left_core_medium",
    "task": "bottle2025",
    "side": "left",
    "arena": [-0.5, 4.0, -1.5, 1.5],
    "robot_radius": 0.2,
    "obstacles": [
        {"kind": "box", "x": 1.6, "y": 0.0, "yaw": 0.2, "half_extents": [0.2, 0.35, 0.25]},
        {"kind": "pot", "x": 2.4, "y": -0.9, "radius": 0.18, "height": 0.3},
    ],
    "target": {"kind": "bottle", "x": 3.3, "y": 0.0, "radius": 0.04, "height": 0.25},
    "goal": {"x": 2.9, "y": 0.0, "radius": 0.3, "heading": 0.0, "heading_tol": 0.5},
    "distractors": [],
}

# (episode, scenario, success, failure_reason, video)
EPISODES = [
    (0, "left_core", True, None, "videos/ep0000.gif"),
    (1, "left_core", False, "collision", "videos/ep0001.gif"),
    (2, "left_core", True, None, None),
    (3, "right_core", False, "wrong_side", "videos/ep0003.gif"),
    (4, "right_core", True, None, "videos/ep0004.gif"),
]


def _episode(i: int, scenario: str, success: bool, reason: str | None, video: str | None) -> dict:
    side = 1.0 if scenario.startswith("left") else -1.0
    traj = [[0.15 * t, side * 0.6 * np.sin(np.pi * t / 17), 0.0] for t in range(18)]
    return {
        "episode": i,
        "seed": 100 + i,
        "scenario": scenario,
        "tags": {"side": scenario.split("_")[0]},
        "instruction": f"Navigate around obstacles and reach the front of the beverage bottle on the "
        f"{scenario.split('_')[0]}",
        "instruction_flipped": False,
        "named_side": scenario.split("_")[0],
        "success": success,
        "failure_reason": reason,
        "spl": 0.9 if success else 0.0,
        "soft_spl": 0.9 if success else 0.4,
        "collisions": int(reason == "collision"),
        "first_collision_step": 5 if reason == "collision" else None,
        "path_length_m": 3.1,
        "steps": 18,
        "sim_time_s": 7.2,
        "final_distance_m": 0.1 if success else 1.2,
        "final_heading_error_rad": 0.05,
        "d_start_m": 2.9,
        "went_side": "left" if side > 0 else "right",
        "latency_ms": {},
        "error": None,
        "trajectory": traj,
        "scene": {**SCENE, "name": scenario},
        "video": video,
    }


def make_results(run_dir: Path) -> dict:
    """A small results.json with two scenarios, mixed outcomes, a mirrored-instruction twin and tiny GIFs."""
    episodes = [_episode(*e) for e in EPISODES]
    twin = {
        **_episode(0, "left_core", False, "wrong_side", None),
        "instruction_flipped": True,
        "named_side": "right",
    }
    episodes.append(twin)
    for ep in episodes:
        if ep["video"]:
            frames = [np.full((36, 64, 3), 40 * k, dtype=np.uint8) for k in range(3)]
            write_episode_video(run_dir / ep["video"], frames, ep["trajectory"][:3], ep["scene"], fps=4)
    lat = {"p50": 120.0, "p95": 180.0, "max": 230.0, "mean": 125.0, "n": 90}
    summary = summarize(episodes, "scripted")  # the summary real runs write, per-tag scenario keys included
    # the rows carry no latency samples and no run config: those two parts are set by hand
    summary["latency_ms"] = {
        "total_ms": lat,
        "vlm_ms": {**lat, "p50": 90.0, "p95": 130.0, "max": 160.0},
        "head_ms": {**lat, "p50": 20.0, "p95": 30.0, "max": 40.0},
        "preprocess_ms": {**lat, "p50": 5.0, "p95": 8.0, "max": 12.0},
    }
    summary["latency_in_loop"] = {"mode": "fixed", "delay_ms": 300.0}
    summary["latency_basis"] = "per-step samples"
    summary["latency_warmup"] = {"calls": 5, "max_ms": 410.0}
    results = {
        "summary": summary,
        "provenance": {
            "git_commit": "abc1234",
            "config": {"policy": {"name": "scripted"}, "episodes": 5},
            "packages": {"numpy": "2.4.6", "pybullet": "3.2.7"},
            "renderer": "tiny",
            "seeds": [100, 101, 102, 103, 104],
            "created": "2026-01-02T03:04:05",
        },
        "episodes": episodes,
    }
    (run_dir / report.RESULTS_FILE).write_text(json.dumps(results))
    return results


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    make_results(tmp_path)
    return tmp_path


def test_report_html_is_self_contained_with_overview_and_failure_details(run_dir: Path):
    paths = report.write_report(run_dir)
    text = paths["html"].read_text()
    assert "60.0 %" in text and "Wilson" in text
    # every scenario in one small-multiples overview per instruction kind, embedded
    for png in ("trajectories_overview.png", "trajectories_overview_mirrored.png"):
        assert (run_dir / png).is_file()
    assert 'alt="Every scenario (success per panel), 5 episodes" src="data:image/png;base64,' in text
    # scenarios with failures also get their own figure, each an embedded PNG
    for scenario in ("left_core", "right_core"):
        assert (run_dir / f"trajectories_{scenario}.png").is_file()
        m = re.search(
            rf'<img alt="{scenario}: \d/\d success" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text
        )
        assert m, f"no embedded trajectory plot for {scenario}"
        assert base64.b64decode(m.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'alt="Per-step latency breakdown" src="data:image/png;base64,' in text
    # the mirrored-instruction twin gets its own plot and is not counted in the scenario's own figures
    assert (run_dir / "trajectories_left_core_mirrored.png").is_file()
    assert 'alt="left_core (mirrored instruction): went the named side 0/1"' in text
    assert 'alt="left_core: 2/3 success"' in text
    # nothing is loaded from outside the file
    assert not re.search(r'src="(?!data:)', text)


def test_report_details_only_failing_scenarios_most_failures_first(tmp_path: Path):
    from eval.report_kit import Doc
    from eval.report_trajectories import trajectories_section

    rows = [
        _episode(i, s, ok, None if ok else "collision", None)
        for i, (s, ok) in enumerate(
            [("left_a", True), ("left_a", True), ("left_b", False), ("left_c", False), ("left_c", False)]
        )
    ]
    pngs = trajectories_section(Doc(), rows, tmp_path, max_details=1)
    names = [p.name for p in pngs]
    # the overview shows all three; only the worst failing scenario gets a figure of its own
    assert names == ["trajectories_overview.png", "trajectories_left_c.png"]
    assert not (tmp_path / "trajectories_left_a.png").exists()


def test_report_embeds_gifs_failures_first(run_dir: Path):
    text = report.write_report(run_dir)["html"].read_text()
    gif = base64.b64encode((run_dir / "videos/ep0001.gif").read_bytes()).decode()
    assert f"data:image/gif;base64,{gif}" in text
    order = [int(m) for m in re.findall(r'id="video-ep(\d+)"', text)]
    assert order == [1, 3, 0, 4]  # the two failures, then the successes
    # the embedded GIF really is the episode video (3 frames, ego | top-down)
    assert imageio.mimread(run_dir / "videos/ep0001.gif")[0].shape == (256, 512, 3)


def test_report_markdown_lists_per_tag_intervals_and_latency(run_dir: Path):
    md = report.write_report(run_dir)["md"].read_text()
    lo, hi = wilson_interval(2, 3)
    assert f"| side=left | 3 | 2 | 66.7 % | [{100 * lo:.1f}, {100 * hi:.1f}] % |" in md
    lo, hi = wilson_interval(1, 2)
    assert f"| side=right | 2 | 1 | 50.0 % | [{100 * lo:.1f}, {100 * hi:.1f}] % |" in md
    assert "![left_core: 2/3 success](trajectories_left_core.png)" in md
    # the 200 ms bar is judged once, on the per-step p95 (not on p50 as well)
    assert "total per-step p95 180.0 ms < 200 ms target: pass" in md
    assert "p50 120.0 ms < 200" not in md
    assert "5 warm-up calls, slowest 410.0 ms" in md
    assert "fixed 300 ms" in md
    assert "| collision | 1 | 20.0 % |" in md
    assert "| git commit | abc1234 |" in md and "| numpy | 2.4.6 |" in md
    assert "100–104" in md  # compressed seed list
    assert "| scenario=left_core | 3 | 2 | 66.7 % |" in md  # counts only non-mirrored episodes
    assert "| scenario=right_core | 2 | 1 | 50.0 % |" in md and "Per scenario" not in md
    assert (run_dir / "latency.png").is_file()


def test_results_without_scenario_tags_get_a_per_scenario_table(run_dir: Path):
    """Older results.json files lack the ``scenario=`` per-tag keys: the report counts scenarios itself."""
    results = json.loads((run_dir / report.RESULTS_FILE).read_text())
    per_tag = results["summary"]["per_tag"]
    results["summary"]["per_tag"] = {k: v for k, v in per_tag.items() if not k.startswith("scenario=")}
    (run_dir / report.RESULTS_FILE).write_text(json.dumps(results))
    md = report.write_report(run_dir)["md"].read_text()
    assert "Per scenario" in md and "| left_core | 3 | 2 | 66.7 % |" in md and "scenario=left_core" not in md


def test_missing_video_is_reported_not_fatal(run_dir: Path):
    (run_dir / "videos/ep0003.gif").unlink()
    text = report.write_report(run_dir)["html"].read_text()
    assert "video file missing (videos/ep0003.gif)" in text


def test_missing_and_malformed_results_raise_clear_errors(tmp_path: Path):
    with pytest.raises(report.ResultsError, match="results.json: not found"):
        report.write_report(tmp_path)
    (tmp_path / "results.json").write_text('{"summary": {"policy": "x", "episodes": 1,')
    with pytest.raises(report.ResultsError, match=r"not valid JSON \(line 1"):
        report.write_report(tmp_path)
    (tmp_path / "results.json").write_text(
        json.dumps({"summary": {"policy": "x", "episodes": 1}, "episodes": []})
    )
    with pytest.raises(report.ResultsError, match="summary: missing key 'successes'"):
        report.write_report(tmp_path)
    bad_ep = {"summary": {"policy": "x", "episodes": 1, "successes": 0}, "episodes": [{"episode": 0}]}
    (tmp_path / "results.json").write_text(json.dumps(bad_ep))
    with pytest.raises(report.ResultsError, match=r"episodes\[0\]: missing key 'scenario'"):
        report.write_report(tmp_path)
    assert report.main([str(tmp_path)]) == 2


def test_cli_writes_both_files(run_dir: Path, capsys):
    assert report.main([str(run_dir), "--max-videos", "1"]) == 0
    assert (run_dir / "report.html").is_file() and (run_dir / "report.md").is_file()
    assert re.findall(r'id="video-ep(\d+)"', (run_dir / "report.html").read_text()) == ["1"]
    assert "report.html" in capsys.readouterr().out


def test_report_of_a_run_without_per_step_samples_says_latency_is_unavailable(run_dir: Path):
    # results.json written before raw per-step samples were stored: its latency figures pooled
    # episode means, so the report must not print them as per-step figures.
    results = json.loads((run_dir / report.RESULTS_FILE).read_text())
    del results["summary"]["latency_basis"]
    (run_dir / report.RESULTS_FILE).write_text(json.dumps(results))
    md = report.write_report(run_dir)["md"].read_text()
    assert report.LATENCY_UNAVAILABLE in md
    assert "180.0" not in md and "target: pass" not in md
