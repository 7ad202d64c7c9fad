"""The exact planner (``sim.planner``) on hand-solvable layouts, lengths worked out by hand here.

Every layout is built by hand (not from the scenario taxonomy, whose numbers calibration may change):
the robot is a disc of radius 0.16 m, the goal disc has radius 0.2 m, the arena is large unless a test
says otherwise. Each expected length is tangent lengths ``sqrt(D² − R²)`` plus arcs ``R · angle``.
"""

from __future__ import annotations

import math

import pytest

from sim.planner import FreeSpace, shortest_path_to_disc
from sim.scenario import Scenario
from sim.scene import Goal, Obstacle

RHO = 0.16
GOAL_R = 0.2
ARENA = (-5.0, 8.0, -5.0, 5.0)


def length(obstacles, start=(0.0, 0.0), goal=(3.0, 0.0), arena=ARENA) -> float:
    return shortest_path_to_disc(FreeSpace(obstacles, arena, RHO), start, goal, GOAL_R)


def test_free_straight_line_is_distance_minus_goal_radius():
    assert length([]) == pytest.approx(3.0 - GOAL_R, abs=1e-12)
    assert length([], start=(2.95, 0.1)) == 0.0  # already inside the goal disc


def test_cylinder_between_start_and_goal():
    # Pot of radius 0.34 at (2, 0): inflated radius R = 0.5; start and goal centre both 2 m from it on
    # opposite sides. Path: tangent sqrt(4 − R²), arc R (π − 2 acos(R/2)), tangent sqrt(4 − R²), and it
    # stops 0.2 m before the goal centre (the last leg is straight at the centre).
    pot = Obstacle("pot", 2.0, 0.0, radius=0.34, height=0.3)
    R = 0.5
    expected = 2 * math.sqrt(4 - R * R) + R * (math.pi - 2 * math.acos(R / 2)) - GOAL_R
    assert length([pot], goal=(4.0, 0.0)) == pytest.approx(expected, abs=1e-9)


def test_single_rotated_box_corner():
    # A square box (half 0.2 m) turned 45°, its top corner exactly on the straight line at (1.5, 0).
    # The path wraps only that corner's circle (radius ρ): two tangents sqrt(1.5² − ρ²) and the arc
    # ρ (π − 2 acos(ρ/1.5)); the tangent points lie at 96° and 84°, inside the corner's exposed
    # quarter [45°, 135°], so the box's sides are not touched.
    half = 0.2
    box = Obstacle("box", 1.5, -half * math.sqrt(2), math.pi / 4, half_extents=(half, half, 0.2))
    expected = 2 * math.sqrt(1.5**2 - RHO**2) + RHO * (math.pi - 2 * math.acos(RHO / 1.5)) - GOAL_R
    assert length([box]) == pytest.approx(expected, abs=1e-9)
    # The former axis-aligned, square-cornered inflation (half width a = 0.2√2 + ρ, top at y = ρ) was
    # longer: over the square's two top corners.
    a = half * math.sqrt(2) + RHO
    assert expected < 2 * math.hypot(1.5 - a, RHO) + 2 * a - GOAL_R


def test_two_boxes_without_a_gap_for_the_robot():
    # Two upright boxes 0.02 m apart (the robot needs 0.32 m): it goes over the top one, wrapping its
    # top-left corner circle C1 = (1.4, 0.5), running along the top side (0.2 m) and wrapping C2 =
    # (1.6, 0.5). Start (0, 0.05), goal (3, 0.05): symmetric about x = 1.5. Angle of the arc on each
    # corner: from the tangent point to straight up = π/2 + atan(0.45/1.4) − acos(ρ/|S C1|).
    top = Obstacle("box", 1.5, 0.25, 0.0, half_extents=(0.1, 0.25, 0.2))
    bottom = Obstacle("box", 1.5, -0.27, 0.0, half_extents=(0.1, 0.25, 0.2))
    d = math.hypot(1.4, 0.45)
    arc = math.pi / 2 + math.atan(0.45 / 1.4) - math.acos(RHO / d)
    expected = 2 * math.sqrt(d * d - RHO * RHO) + 2 * RHO * arc + 0.2 - GOAL_R
    got = length([top, bottom], start=(0.0, 0.05), goal=(3.0, 0.05))
    assert got == pytest.approx(expected, abs=1e-9)
    # With the gap widened to 0.5 m the robot drives straight through between them.
    low = Obstacle("box", 1.5, -0.75, 0.0, half_extents=(0.1, 0.25, 0.2))
    assert length([top, low], start=(0.0, -0.25), goal=(3.0, -0.25)) == pytest.approx(3.0 - GOAL_R)


def test_arena_wall_closes_the_short_side():
    # The pot of test_cylinder with a wall 0.6 m above its centre: the robot centre may go up to
    # 0.6 − ρ = 0.44 < R, so the gap is closed and the path goes below, the same length by symmetry;
    # with a wall 0.6 m below the centre line too, no path exists.
    pot = Obstacle("pot", 2.0, 0.0, radius=0.34, height=0.3)
    R = 0.5
    expected = 2 * math.sqrt(4 - R * R) + R * (math.pi - 2 * math.acos(R / 2)) - GOAL_R
    assert length([pot], goal=(4.0, 0.0), arena=(-1.0, 6.0, -3.0, 0.6)) == pytest.approx(expected)
    assert length([pot], goal=(4.0, 0.0), arena=(-1.0, 6.0, -0.6, 0.6)) == math.inf


def test_goal_disc_partly_inside_an_obstacle_ends_on_its_free_edge():
    # A bottle (inflated radius 0.195) 0.15 m beyond the goal centre: the disc's near edge is free, so
    # the path still ends 0.2 m before the centre; from behind the bottle it must go round it.
    bottle = Obstacle("bottle", 3.15, 0.0, radius=0.035, height=0.24)
    assert length([bottle]) == pytest.approx(3.0 - GOAL_R)
    from_behind = length([bottle], start=(4.0, 0.0))
    assert from_behind > 1.0 - GOAL_R  # the straight line is blocked
    assert from_behind < 1.0 + math.pi * 0.195  # going round the bottle's half circle is enough


def test_contact_pose_is_pushed_out_not_rejected():
    pot = Obstacle("pot", 2.0, 0.0, radius=0.34, height=0.3)
    # 1 mm inside the inflated pot (a pose a collision froze): measured from the boundary point.
    inside = length([pot], start=(1.501, 0.0), goal=(4.0, 0.0))
    on_edge = length([pot], start=(1.5 - 1e-7, 0.0), goal=(4.0, 0.0))
    assert inside == pytest.approx(on_edge, abs=1e-6)
    # From the pot's edge facing the start: the arc from 180° to the tangent point at acos(R/2).
    R = 0.5
    expected = R * (math.pi - math.acos(R / 2)) + math.sqrt(4 - R * R) - GOAL_R
    assert on_edge == pytest.approx(expected, abs=1e-6)


def test_scenario_method_uses_the_planner():
    pot = Obstacle("pot", 2.0, 0.0, radius=0.34, height=0.3)
    target = Obstacle("basket", 4.6, 0.0, radius=0.17, height=0.2)
    scenario = Scenario(
        name="hand",
        task="basket2026",
        tags={},
        instruction="",
        side="left",
        start=(0.0, 0.0, 0.0),
        obstacles=(pot,),
        target=target,
        goal=Goal(4.0, 0.0, GOAL_R, 0.0, 0.5),
        arena=ARENA,
    )
    R = 0.5
    expected = 2 * math.sqrt(4 - R * R) + R * (math.pi - 2 * math.acos(R / 2)) - GOAL_R
    assert scenario.shortest_path_length(RHO) == pytest.approx(expected, abs=1e-9)
    assert scenario.path_length_from(4.0, 0.1, RHO) == 0.0


def test_soft_spl_remaining_distance_is_by_path_robot_stopped_in_front_of_the_pot():
    # The robot of test_cylinder stopped 0.7 m in front of the pot's centre, at (1.3, 0), after driving
    # 1.3 m. Straight to the goal disc it is 2.5 m; by path it goes round the pot: tangent
    # sqrt(0.7² − R²), arc R (π − acos(R/0.7) − acos(R/2)), tangent sqrt(4 − R²), minus the goal radius.
    from eval.rollout import path_efficiency

    pot = Obstacle("pot", 2.0, 0.0, radius=0.34, height=0.3)
    target = Obstacle("basket", 4.6, 0.0, radius=0.17, height=0.2)
    scenario = Scenario(
        "hand",
        "basket2026",
        {},
        "",
        "left",
        (0.0, 0.0, 0.0),
        (pot,),
        target,
        Goal(4.0, 0.0, GOAL_R, 0.0, 0.5),
        ARENA,
    )
    R = 0.5
    d_start = 2 * math.sqrt(4 - R * R) + R * (math.pi - 2 * math.acos(R / 2)) - GOAL_R
    d_end = (
        math.sqrt(0.49 - R * R)
        + R * (math.pi - math.acos(R / 0.7) - math.acos(R / 2))
        + math.sqrt(4 - R * R)
        - GOAL_R
    )
    got = path_efficiency(scenario, RHO, (1.3, 0.0), False, 1.3)
    assert got["d_start_m"] == pytest.approx(d_start, abs=1e-9)
    assert got["d_end_m"] == pytest.approx(d_end, abs=1e-9)
    assert got["spl"] == 0.0
    assert got["soft_spl"] == pytest.approx(1 - d_end / d_start, abs=1e-9)  # d_start > 1.3 m driven
    # by straight line (2.5 m) it would have claimed more progress than the robot made
    assert got["soft_spl"] == pytest.approx(0.299, abs=1e-3)
    assert 1 - 2.5 / d_start == pytest.approx(0.363, abs=1e-3)
