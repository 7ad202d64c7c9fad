"""Scenarios: frozen data describing one episode's layout, target, start pose, instruction and looks.

Names, tags and instruction wording: ``sim.taxonomy``; body positions and random draws: ``sim.layouts``;
the frozen parts (``Obstacle``, ``Goal``, ``Appearance``): ``sim.scene``.

Description
    2025 bottle task (``{1box|2box}_{hori|vert}_{left|right}_{core|variant}_{close|medium|far}``): the
    robot starts at the origin facing +x; a cardboard box stands in its way; a beverage PET bottle stands
    behind the box, offset to the side the instruction names. 2026 basket task
    (``target_{center|left|right}_{straight|left|right}_path``): a gray basket at the left, centre or right,
    a brown pot on the way unless the path is ``straight``; the path names the side to pass the pot on.
Randomisations (each switchable in ``RandomizationConfig``)
    start pose, obstacle and target position jitter, colours and floor texture, light direction, camera
    height and pitch, distractor objects (placed outside the driving corridor).
Success conditions
    the robot stops (or the step budget ends) inside ``goal`` — a disc of ``goal.radius`` metres in
    front of the target with ``|heading error| <= goal.heading_tol`` — without a collision before it.

World frame: metres, x forward from the start, y left, z up; yaw in radians, counter-clockwise.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim import layouts
from sim.config import LayoutConfig, RandomizationConfig
from sim.scene import Appearance, Goal, Obstacle
from sim.taxonomy import (
    BOTTLE_TASK,
    instruction_for,
    named_side,
    parse_scenario_name,
)


@dataclass(frozen=True)
class Scenario:
    """One episode's frozen world description; see the module docstring for the conventions."""

    name: str
    task: str
    tags: dict[str, str]
    instruction: str
    side: str
    start: tuple[float, float, float]
    obstacles: tuple[Obstacle, ...]
    target: Obstacle
    goal: Goal
    arena: tuple[float, float, float, float]
    distractors: tuple[Obstacle, ...] = ()
    appearance: Appearance = field(default_factory=Appearance)
    seed: int = 0
    index: int = 0
    suite: str = ""

    @property
    def primary_obstacle(self) -> Obstacle | None:
        """The obstacle whose side the instruction names (the first one), if any stands in the way."""
        return self.obstacles[0] if self.obstacles else None

    def shortest_path_length(self, robot_radius: float) -> float:
        """Length (m) of the shortest collision-free path from the start into the goal disc (d_start).

        Exact (``sim.planner``): the robot is a disc of ``robot_radius``; boxes inflate to rounded,
        rotated rectangles, cylinders to discs, the arena walls bound the free space; the path ends where
        it first enters the goal disc.
        """
        return self.path_length_from(self.start[0], self.start[1], robot_radius)

    def path_length_from(self, x: float, y: float, robot_radius: float) -> float:
        """Shortest collision-free path length (m) from the position ``(x, y)`` (world frame) into the
        goal disc; 0 inside it, ``math.inf`` when no path exists (see ``sim.planner``)."""
        from sim.planner import path_length_to_goal

        return path_length_to_goal(self, robot_radius, (x, y))

    def as_record(self) -> dict[str, Any]:
        """JSON-ready description (the ``scene`` of results rows and the ``sim/scenario`` of episodes)."""
        return {
            "name": self.name,
            "task": self.task,
            "tags": dict(self.tags),
            "instruction": self.instruction,
            "side": self.side,
            "start": list(self.start),
            "arena": list(self.arena),
            "obstacles": [o.as_record() for o in self.obstacles],
            "target": {
                "kind": self.target.kind,
                "x": self.target.x,
                "y": self.target.y,
                "radius": self.target.radius,
                "height": self.target.height,
            },
            "goal": dataclasses.asdict(self.goal),
            "distractors": [d.as_record() for d in self.distractors],
            "appearance": dataclasses.asdict(self.appearance),
            "seed": self.seed,
            "index": self.index,
            "suite": self.suite,
        }


def build_scenario(
    name: str,
    rng: np.random.Generator | None = None,
    randomization: RandomizationConfig | None = None,
    *,
    seed: int = 0,
    index: int = 0,
    suite: str = "",
    layout: LayoutConfig | None = None,
) -> Scenario:
    """The frozen ``Scenario`` called ``name``, randomised from ``rng`` (no randomisation when None).

    ``layout`` places the 2025 bottle task's bodies (default: ``LayoutConfig()``).
    Every random draw happens here, in a fixed order, so ``(name, rng state)`` fixes the episode.
    """
    task, tags = parse_scenario_name(name)
    rand = randomization or RandomizationConfig(enabled=False)
    r = rng if rand.enabled else None

    def part(flag: str) -> np.random.Generator | None:
        return r if r is not None and rand.on(flag) else None

    if task == BOTTLE_TASK:
        obstacles, target, goal = layouts.bottle_layout(
            tags,
            part("obstacle_jitter"),
            part("target_jitter"),
            rand,
            part("colors"),
            layout or LayoutConfig(),
        )
    else:
        obstacles, target, goal = layouts.basket_layout(
            tags, part("obstacle_jitter"), part("target_jitter"), rand, part("colors")
        )
    arena = (layouts.ARENA_BACK, target.x + layouts.ARENA_BEYOND_TARGET, -layouts.ARENA_Y, layouts.ARENA_Y)
    sp = part("start_pose")
    start = (
        layouts.uniform(sp, rand.start_xy_m),
        layouts.uniform(sp, rand.start_xy_m),
        math.radians(layouts.uniform(sp, rand.start_yaw_deg)),
    )
    appearance = layouts.appearance(rand, part)
    distractors = layouts.distractors(part("distractors"), rand, arena)
    return Scenario(
        name=name,
        task=task,
        tags=tags,
        instruction=instruction_for(name),
        side=named_side(name),
        start=start,
        obstacles=obstacles,
        target=target,
        goal=goal,
        arena=arena,
        distractors=distractors,
        appearance=appearance,
        seed=seed,
        index=index,
        suite=suite,
    )


def shortest_path_length(scenario: Scenario, robot_radius: float) -> float:
    """``scenario.shortest_path_length(robot_radius)``: exact d_start (m), see ``sim.planner``."""
    return scenario.shortest_path_length(robot_radius)
