"""``sim.taxonomy``: the one scenario grammar, wording, mirroring and named-side rule."""

from __future__ import annotations

import re

import pytest

from datagen.schema import mirror_episode_name, parse_episode_name
from sim.taxonomy import (
    BASKET_TASK,
    BOTTLE_TASK,
    all_scenario_names,
    format_scenario_name,
    instruction_for,
    instruction_side,
    mirror_instruction,
    mirror_scenario_name,
    mirror_side,
    named_side,
    parse_scenario_name,
    scenario_regex,
    side_sign,
)

NAMES = all_scenario_names()


def test_every_name_of_both_families_once_and_round_trips():
    assert len(NAMES) == 2 * 2 * 2 * 2 * 3 + 3 * 3 == len(set(NAMES))
    assert NAMES[0] == "1box_hori_left_core_close" and NAMES[-1] == "target_right_right_path"
    for name in NAMES:
        task, tags = parse_scenario_name(name)
        assert format_scenario_name(task, tags) == name
        match = re.fullmatch(scenario_regex(task), name)
        assert match is not None and match.groupdict() == tags


def test_real_wording():
    # the sentences exactly as the real HDF5 files carry them (written out, not built from the module)
    assert instruction_for("2box_vert_right_variant_far") == (
        "Navigate around obstacles and reach the front of the beverage bottle on the right"
    )
    assert instruction_for("target_center_left_path") == "Navigate to the left toward the gray basket"
    assert instruction_for("target_left_straight_path") == "Navigate straight toward the gray basket"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("1box_hori_up_core_medium", "side 'up' is not one of left, right"),
        ("target_middle_left_path", "target 'middle' is not one of center, left, right"),
        ("left_core", "expected '{1box|2box}_{hori|vert}_{left|right}_{core|variant}_{close|medium|far}'"),
    ],
)
def test_bad_names_name_the_part_and_the_valid_values(name, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_scenario_name(name)


def test_mirroring_names_instructions_and_tags_agree():
    for name in NAMES:
        mirrored = mirror_scenario_name(name)
        assert mirror_scenario_name(mirrored) == name
        assert mirror_instruction(instruction_for(name)) == instruction_for(mirrored)
        assert named_side(mirrored) == mirror_side(named_side(name))
    assert mirror_scenario_name("1box_hori_left_core_medium") == "1box_hori_right_core_medium"
    assert mirror_scenario_name("target_center_right_path") == "target_center_left_path"
    assert mirror_scenario_name("target_left_straight_path") == "target_right_straight_path"


def test_mirror_instruction_keeps_case_and_whole_words():
    text = "Left, then right; LEFT/Right. leftover"
    assert mirror_instruction(text) == "Right, then left; RIGHT/Left. leftover"


def test_one_named_side_rule():
    for name in NAMES:
        assert instruction_side(instruction_for(name)) == named_side(name)
        assert instruction_side(mirror_instruction(instruction_for(name))) == mirror_side(named_side(name))
    assert instruction_side("Go LEFT.") == "left"
    assert instruction_side("left or right?") == "straight"  # both named: no side
    assert instruction_side("go round the leftover box") == "straight"
    assert [side_sign(s) for s in ("left", "right", "straight")] == [1, -1, 0]


def test_episode_file_names_agree_with_the_taxonomy():
    """``datagen.schema``'s file-name grammar parses every scenario to the same tags and mirrors alike."""
    for name in NAMES:
        task, tags = parse_scenario_name(name)
        stem = f"episode_20250101_120000_{name}"
        parsed = parse_episode_name(stem)
        assert parsed["scenario"] == name
        assert parsed["family"] == {BOTTLE_TASK: "2025", BASKET_TASK: "2026"}[task]
        assert {k: parsed[k] for k in tags} == tags
        assert mirror_episode_name(stem) == f"episode_20250101_120000_{mirror_scenario_name(name)}"
