"""Scenarios: frozen data describing one episode's layout, target, start pose, instruction and looks.

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

import colorsys
import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.config import LayoutConfig, RandomizationConfig

BOTTLE_TASK = "bottle2025"
BASKET_TASK = "basket2026"

BOTTLE_AXES: dict[str, tuple[str, ...]] = {
    "num_box": ("1box", "2box"),
    "orientation": ("hori", "vert"),
    "side": ("left", "right"),
    "pattern": ("core", "variant"),
    "distance": ("close", "medium", "far"),
}
BASKET_AXES: dict[str, tuple[str, ...]] = {
    "target": ("center", "left", "right"),
    "path": ("straight", "left", "right"),
}

BOTTLE_INSTRUCTION = "Navigate around obstacles and reach the front of the beverage bottle on the {side}"
BASKET_INSTRUCTIONS = {
    "left": "Navigate to the left toward the gray basket",
    "right": "Navigate to the right toward the gray basket",
    "straight": "Navigate straight toward the gray basket",
}

# The 2025 geometry's medium/core/hori positions live in ``LayoutConfig`` (fitted to the real runs by
# ``python -m sim.calibrate``, see README "Calibration"); the constants below derive the other layouts.
BOX_HALF_EXTENTS = (0.15, 0.25, 0.175)
"""The 2025 cardboard box lying 'hori' (long side across the path), half extents in metres."""
BOTTLE_RADIUS, BOTTLE_HEIGHT = 0.035, 0.24
GOAL_RADIUS = 0.20
"""Goal disc radius of the 2026 basket task (m); the 2025 task's is ``LayoutConfig.goal_radius``."""
GOAL_HEADING_TOL = 0.5
DISTANCE_OFFSET = {"close": -0.25, "medium": 0.0, "far": 0.12}
VARIANT_BOX_SHIFT = 0.10
VARIANT_TARGET_SHIFT = 0.12
"""``variant`` moves the bottle this much further out to its side (m)."""
SECOND_BOX_GAP = 0.05

POT_RADIUS, POT_HEIGHT = 0.16, 0.26
BASKET_RADIUS, BASKET_HEIGHT = 0.17, 0.20
BASKET_X = 1.9
BASKET_SIDE_Y = 0.45
POT_X = 0.85
BASKET_GOAL_STANDOFF = 0.45

ARENA_Y = 1.6
ARENA_BACK = -0.6
ARENA_BEYOND_TARGET = 0.9

DEFAULT_COLORS = {
    "floor": (0.78, 0.76, 0.72, 1.0),
    "wall": (0.90, 0.90, 0.87, 1.0),
    "box": (0.66, 0.49, 0.32, 1.0),
    "pot": (0.42, 0.26, 0.14, 1.0),
    "bottle": (0.55, 0.78, 0.92, 1.0),
    "basket": (0.55, 0.56, 0.58, 1.0),
}
FLOOR_TEXTURES = ("none", "tiles", "wood", "carpet")
OBSTACLE_TEXTURES = ("none", "cardboard")
TARGET_TEXTURES = ("none", "label")
DEFAULT_LIGHT = (0.4, 0.3, 1.0)


@dataclass(frozen=True)
class Obstacle:
    """A static body: ``kind`` is ``box`` (half extents) or ``pot``/``cylinder`` (radius, height)."""

    kind: str
    x: float
    y: float
    yaw: float = 0.0
    half_extents: tuple[float, float, float] = (0.0, 0.0, 0.0)
    radius: float = 0.0
    height: float = 0.0
    rgba: tuple[float, float, float, float] = (0.5, 0.5, 0.5, 1.0)

    def aabb_xy(self) -> tuple[float, float, float, float]:
        """Axis-aligned footprint ``(xmin, xmax, ymin, ymax)`` in the world frame (metres)."""
        if self.kind == "box":
            hx, hy = self.half_extents[0], self.half_extents[1]
            c, s = abs(math.cos(self.yaw)), abs(math.sin(self.yaw))
            ex, ey = c * hx + s * hy, s * hx + c * hy
        else:
            ex = ey = self.radius
        return (self.x - ex, self.x + ex, self.y - ey, self.y + ey)

    def as_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"kind": self.kind, "x": self.x, "y": self.y, "yaw": self.yaw}
        if self.kind == "box":
            record["half_extents"] = list(self.half_extents)
        else:
            record.update(radius=self.radius, height=self.height)
        return record


@dataclass(frozen=True)
class Goal:
    """Disc in front of the target: centre (x, y), radius (m), required heading and tolerance (rad)."""

    x: float
    y: float
    radius: float
    heading: float
    heading_tol: float

    def contains(self, x: float, y: float, yaw: float) -> bool:
        return (
            math.hypot(x - self.x, y - self.y) <= self.radius
            and abs(wrap_angle(yaw - self.heading)) <= self.heading_tol
        )


@dataclass(frozen=True)
class Appearance:
    """Colours (RGBA 0..1), floor texture name, light direction and camera jitter of one episode."""

    floor_rgba: tuple[float, float, float, float] = DEFAULT_COLORS["floor"]
    wall_rgba: tuple[float, float, float, float] = DEFAULT_COLORS["wall"]
    floor_texture: str = "none"
    obstacle_texture: str = "none"
    target_texture: str = "none"
    light_direction: tuple[float, float, float] = DEFAULT_LIGHT
    camera_height_offset: float = 0.0
    camera_pitch_offset_deg: float = 0.0


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


def wrap_angle(angle: float) -> float:
    """Wrap an angle to (-pi, pi] radians."""
    return math.atan2(math.sin(angle), math.cos(angle))


def all_scenario_names() -> list[str]:
    """Every scenario name of both taxonomies, in a stable order."""
    bottle = ["_".join(parts) for parts in itertools.product(*BOTTLE_AXES.values())]
    basket = [f"target_{t}_{p}_path" for t, p in itertools.product(*BASKET_AXES.values())]
    return bottle + basket


def parse_scenario_name(name: str) -> tuple[str, dict[str, str]]:
    """``(task, tags)`` of a scenario name; ``ValueError`` naming the bad part and the valid values."""
    parts = name.split("_")
    if len(parts) == 4 and parts[0] == "target" and parts[3] == "path":
        tags = {"target": parts[1], "path": parts[2]}
        axes, task = BASKET_AXES, BASKET_TASK
    elif len(parts) == 5:
        tags = dict(zip(BOTTLE_AXES, parts, strict=True))
        axes, task = BOTTLE_AXES, BOTTLE_TASK
    else:
        raise ValueError(
            f"unknown scenario {name!r}: expected "
            "'{1box|2box}_{hori|vert}_{left|right}_{core|variant}_{close|medium|far}' or "
            "'target_{center|left|right}_{straight|left|right}_path', e.g. 1box_hori_left_core_medium"
        )
    for axis, value in tags.items():
        if value not in axes[axis]:
            raise ValueError(
                f"unknown scenario {name!r}: {axis} {value!r} is not one of {', '.join(axes[axis])}"
            )
    return task, tags


def instruction_for(name: str) -> str:
    """The instruction text exactly as the real data words it."""
    task, tags = parse_scenario_name(name)
    if task == BOTTLE_TASK:
        return BOTTLE_INSTRUCTION.format(side=tags["side"])
    return BASKET_INSTRUCTIONS[tags["path"]]


def mirror_instruction(instruction: str) -> str:
    """Swap the words ``left`` and ``right`` (the instruction-sensitivity probe)."""
    swapped = []
    for word in instruction.split(" "):
        core = word.rstrip(".,")
        tail = word[len(core) :]
        swapped.append(
            {"left": "right", "right": "left", "Left": "Right", "Right": "Left"}.get(core, core) + tail
        )
    return " ".join(swapped)


def _uniform(rng: np.random.Generator | None, half_width: float) -> float:
    return 0.0 if rng is None or half_width == 0 else float(rng.uniform(-half_width, half_width))


def _jitter_rgba(
    rgba: tuple[float, ...], rng: np.random.Generator | None, amount: float
) -> tuple[float, ...]:
    if rng is None or amount == 0:
        return tuple(rgba)
    h, s, v = colorsys.rgb_to_hsv(*rgba[:3])
    h = (h + rng.uniform(-amount, amount) * 0.5) % 1.0
    s = float(np.clip(s * (1 + rng.uniform(-amount, amount) * 2), 0, 1))
    v = float(np.clip(v * (1 + rng.uniform(-amount, amount) * 2), 0.05, 1))
    return (*colorsys.hsv_to_rgb(h, s, v), rgba[3])


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
        obstacles, target, goal, side = _bottle_layout(
            tags,
            part("obstacle_jitter"),
            part("target_jitter"),
            rand,
            part("colors"),
            layout or LayoutConfig(),
        )
    else:
        obstacles, target, goal, side = _basket_layout(
            tags, part("obstacle_jitter"), part("target_jitter"), rand, part("colors")
        )
    arena = (ARENA_BACK, target.x + ARENA_BEYOND_TARGET, -ARENA_Y, ARENA_Y)
    sp = part("start_pose")
    start = (
        _uniform(sp, rand.start_xy_m),
        _uniform(sp, rand.start_xy_m),
        math.radians(_uniform(sp, rand.start_yaw_deg)),
    )
    appearance = _appearance(rand, part)
    distractors = _distractors(part("distractors"), rand, arena)
    return Scenario(
        name=name,
        task=task,
        tags=tags,
        instruction=instruction_for(name),
        side=side,
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


def _bottle_layout(tags, ob_rng, tg_rng, rand, color_rng, layout: LayoutConfig):
    sign = 1.0 if tags["side"] == "left" else -1.0
    dx = DISTANCE_OFFSET[tags["distance"]]
    yaw0 = 0.0 if tags["orientation"] == "hori" else math.pi / 2
    box_y = sign * VARIANT_BOX_SHIFT if tags["pattern"] == "variant" else 0.0
    box_rgba = _jitter_rgba(DEFAULT_COLORS["box"], color_rng, rand.color_jitter)
    boxes = [(layout.box_x + dx, box_y)]
    if tags["num_box"] == "2box":
        # The second box stands beside the first on the side the instruction does NOT name.
        width = 2 * (BOX_HALF_EXTENTS[1] if yaw0 == 0.0 else BOX_HALF_EXTENTS[0])
        boxes.append((layout.box_x + dx, box_y - sign * (width + SECOND_BOX_GAP)))
    obstacles = tuple(
        Obstacle(
            "box",
            x + _uniform(ob_rng, rand.obstacle_xy_m),
            y + _uniform(ob_rng, rand.obstacle_xy_m),
            yaw0 + math.radians(_uniform(ob_rng, rand.obstacle_yaw_deg)),
            half_extents=BOX_HALF_EXTENTS,
            rgba=box_rgba,
        )
        for x, y in boxes
    )
    side_y = layout.bottle_side_y + (VARIANT_TARGET_SHIFT if tags["pattern"] == "variant" else 0.0)
    target_y = sign * side_y
    tx = layout.bottle_x + dx + _uniform(tg_rng, rand.target_xy_m)
    ty = target_y + _uniform(tg_rng, rand.target_xy_m)
    target = Obstacle(
        "bottle",
        tx,
        ty,
        radius=BOTTLE_RADIUS,
        height=BOTTLE_HEIGHT,
        rgba=_jitter_rgba(DEFAULT_COLORS["bottle"], color_rng, rand.color_jitter),
    )
    goal = Goal(tx - layout.goal_standoff, ty, layout.goal_radius, 0.0, GOAL_HEADING_TOL)
    return obstacles, target, goal, tags["side"]


def _basket_layout(tags, ob_rng, tg_rng, rand, color_rng):
    target_y = {"center": 0.0, "left": BASKET_SIDE_Y, "right": -BASKET_SIDE_Y}[tags["target"]]
    tx = BASKET_X + _uniform(tg_rng, rand.target_xy_m)
    ty = target_y + _uniform(tg_rng, rand.target_xy_m)
    goal_x = tx - BASKET_GOAL_STANDOFF
    if tags["path"] == "straight":
        # The pot stands clear of the straight line to the goal, on the side away from the target.
        off = -0.6 if target_y >= 0 else 0.6
        pot_xy = (POT_X, ty * POT_X / goal_x + off)
    else:
        # The pot stands on the straight line from the start to the goal.
        pot_xy = (POT_X, ty * POT_X / goal_x)
    pot = Obstacle(
        "pot",
        pot_xy[0] + _uniform(ob_rng, rand.obstacle_xy_m),
        pot_xy[1] + _uniform(ob_rng, rand.obstacle_xy_m),
        radius=POT_RADIUS,
        height=POT_HEIGHT,
        rgba=_jitter_rgba(DEFAULT_COLORS["pot"], color_rng, rand.color_jitter),
    )
    target = Obstacle(
        "basket",
        tx,
        ty,
        radius=BASKET_RADIUS,
        height=BASKET_HEIGHT,
        rgba=_jitter_rgba(DEFAULT_COLORS["basket"], color_rng, rand.color_jitter),
    )
    goal = Goal(goal_x, ty, GOAL_RADIUS, 0.0, GOAL_HEADING_TOL)
    return (pot,), target, goal, tags["path"]


def _appearance(rand: RandomizationConfig, part) -> Appearance:
    colors = part("colors")
    floor = _jitter_rgba(DEFAULT_COLORS["floor"], colors, rand.color_jitter)
    wall = _jitter_rgba(DEFAULT_COLORS["wall"], colors, rand.color_jitter)
    tex_rng = part("textures")
    texture = FLOOR_TEXTURES[int(tex_rng.integers(len(FLOOR_TEXTURES)))] if tex_rng is not None else "none"
    obstacle_texture = OBSTACLE_TEXTURES[int(tex_rng.integers(2))] if tex_rng is not None else "none"
    target_texture = TARGET_TEXTURES[int(tex_rng.integers(2))] if tex_rng is not None else "none"
    light_rng = part("light")
    if light_rng is not None:
        azimuth = light_rng.uniform(-math.pi, math.pi)
        elevation = light_rng.uniform(math.radians(35), math.radians(80))
        light = (
            math.cos(elevation) * math.cos(azimuth),
            math.cos(elevation) * math.sin(azimuth),
            math.sin(elevation),
        )
    else:
        light = DEFAULT_LIGHT
    cam = part("camera_jitter")
    return Appearance(
        floor_rgba=floor,
        wall_rgba=wall,
        floor_texture=texture,
        obstacle_texture=obstacle_texture,
        target_texture=target_texture,
        light_direction=light,
        camera_height_offset=_uniform(cam, rand.camera_height_m),
        camera_pitch_offset_deg=_uniform(cam, rand.camera_pitch_deg),
    )


def _distractors(rng: np.random.Generator | None, rand: RandomizationConfig, arena) -> tuple[Obstacle, ...]:
    """0..max_distractors small objects near the side walls, outside the driving corridor |y| < 1.0."""
    if rng is None or rand.max_distractors == 0:
        return ()
    count = int(rng.integers(0, rand.max_distractors + 1))
    items = []
    for i in range(count):
        x = float(rng.uniform(0.3, arena[1] - 0.3))
        y = float(rng.uniform(1.05, arena[3] - 0.2)) * (1 if rng.random() < 0.5 else -1)
        rgba = (*(float(c) for c in rng.uniform(0.1, 0.95, size=3)), 1.0)
        if i % 2 == 0:
            items.append(
                Obstacle(
                    "box",
                    x,
                    y,
                    float(rng.uniform(-math.pi, math.pi)),
                    half_extents=(0.08, 0.08, 0.08),
                    rgba=rgba,
                )
            )
        else:
            items.append(Obstacle("cylinder", x, y, radius=0.06, height=0.22, rgba=rgba))
    return tuple(items)


def shortest_path_length(scenario: Scenario, robot_radius: float) -> float:
    """``scenario.shortest_path_length(robot_radius)``: exact d_start (m), see ``sim.planner``."""
    return scenario.shortest_path_length(robot_radius)


def segment_hits_box(p, q, box) -> bool:
    """Whether segment p→q passes through the open rectangle ``box`` (Liang–Barsky clipping)."""
    from sim.geometry2d import clip_segment

    return clip_segment(p, q, box, open_=True) is not None
