"""Where a scenario's bodies stand and how it looks: the per-task layouts and the randomised draws.

The 2025 bottle task's medium/core/hori positions come from ``LayoutConfig`` (fitted to the real runs);
the constants below derive the other layouts. Every draw takes the generator it is given (``None``: no
randomisation) so ``sim.scenario.build_scenario`` fixes one draw order. World frame: metres, radians.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np

from sim.config import LayoutConfig, RandomizationConfig
from sim.scene import DEFAULT_COLORS, DEFAULT_LIGHT, Appearance, Goal, Obstacle
from sim.taxonomy import side_sign

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

FLOOR_TEXTURES = ("none", "tiles", "wood", "carpet")
OBSTACLE_TEXTURES = ("none", "cardboard")
TARGET_TEXTURES = ("none", "label")


def uniform(rng: np.random.Generator | None, half_width: float) -> float:
    return 0.0 if rng is None or half_width == 0 else float(rng.uniform(-half_width, half_width))


def jitter_rgba(rgba: tuple[float, ...], rng: np.random.Generator | None, amount: float) -> tuple[float, ...]:
    if rng is None or amount == 0:
        return tuple(rgba)
    h, s, v = colorsys.rgb_to_hsv(*rgba[:3])
    h = (h + rng.uniform(-amount, amount) * 0.5) % 1.0
    s = float(np.clip(s * (1 + rng.uniform(-amount, amount) * 2), 0, 1))
    v = float(np.clip(v * (1 + rng.uniform(-amount, amount) * 2), 0.05, 1))
    return (*colorsys.hsv_to_rgb(h, s, v), rgba[3])


def bottle_layout(tags, ob_rng, tg_rng, rand, color_rng, layout: LayoutConfig):
    """The 2025 bottle task's boxes, bottle and goal for ``tags`` (see ``sim.taxonomy``)."""
    sign = float(side_sign(tags["side"]))
    dx = DISTANCE_OFFSET[tags["distance"]]
    yaw0 = 0.0 if tags["orientation"] == "hori" else math.pi / 2
    box_y = sign * VARIANT_BOX_SHIFT if tags["pattern"] == "variant" else 0.0
    box_rgba = jitter_rgba(DEFAULT_COLORS["box"], color_rng, rand.color_jitter)
    boxes = [(layout.box_x + dx, box_y)]
    if tags["num_box"] == "2box":
        # The second box stands beside the first on the side the instruction does NOT name.
        width = 2 * (BOX_HALF_EXTENTS[1] if yaw0 == 0.0 else BOX_HALF_EXTENTS[0])
        boxes.append((layout.box_x + dx, box_y - sign * (width + SECOND_BOX_GAP)))
    obstacles = tuple(
        Obstacle(
            "box",
            x + uniform(ob_rng, rand.obstacle_xy_m),
            y + uniform(ob_rng, rand.obstacle_xy_m),
            yaw0 + math.radians(uniform(ob_rng, rand.obstacle_yaw_deg)),
            half_extents=BOX_HALF_EXTENTS,
            rgba=box_rgba,
        )
        for x, y in boxes
    )
    side_y = layout.bottle_side_y + (VARIANT_TARGET_SHIFT if tags["pattern"] == "variant" else 0.0)
    target_y = sign * side_y
    tx = layout.bottle_x + dx + uniform(tg_rng, rand.target_xy_m)
    ty = target_y + uniform(tg_rng, rand.target_xy_m)
    target = Obstacle(
        "bottle",
        tx,
        ty,
        radius=BOTTLE_RADIUS,
        height=BOTTLE_HEIGHT,
        rgba=jitter_rgba(DEFAULT_COLORS["bottle"], color_rng, rand.color_jitter),
    )
    goal = Goal(tx - layout.goal_standoff, ty, layout.goal_radius, 0.0, GOAL_HEADING_TOL)
    return obstacles, target, goal


def basket_layout(tags, ob_rng, tg_rng, rand, color_rng):
    """The 2026 basket task's pot, basket and goal for ``tags``."""
    target_y = {"center": 0.0, "left": BASKET_SIDE_Y, "right": -BASKET_SIDE_Y}[tags["target"]]
    tx = BASKET_X + uniform(tg_rng, rand.target_xy_m)
    ty = target_y + uniform(tg_rng, rand.target_xy_m)
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
        pot_xy[0] + uniform(ob_rng, rand.obstacle_xy_m),
        pot_xy[1] + uniform(ob_rng, rand.obstacle_xy_m),
        radius=POT_RADIUS,
        height=POT_HEIGHT,
        rgba=jitter_rgba(DEFAULT_COLORS["pot"], color_rng, rand.color_jitter),
    )
    target = Obstacle(
        "basket",
        tx,
        ty,
        radius=BASKET_RADIUS,
        height=BASKET_HEIGHT,
        rgba=jitter_rgba(DEFAULT_COLORS["basket"], color_rng, rand.color_jitter),
    )
    goal = Goal(goal_x, ty, GOAL_RADIUS, 0.0, GOAL_HEADING_TOL)
    return (pot,), target, goal


def appearance(rand: RandomizationConfig, part) -> Appearance:
    """Colours, textures, light and camera jitter; ``part(flag)`` gives the generator of a switch."""
    colors = part("colors")
    floor = jitter_rgba(DEFAULT_COLORS["floor"], colors, rand.color_jitter)
    wall = jitter_rgba(DEFAULT_COLORS["wall"], colors, rand.color_jitter)
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
        camera_height_offset=uniform(cam, rand.camera_height_m),
        camera_pitch_offset_deg=uniform(cam, rand.camera_pitch_deg),
    )


def distractors(rng: np.random.Generator | None, rand: RandomizationConfig, arena) -> tuple[Obstacle, ...]:
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
