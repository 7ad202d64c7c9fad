"""The frozen parts of a scene: obstacles and targets, the goal disc, the look of an episode.

World frame: metres, x forward from the start, y left, z up; yaw in radians, counter-clockwise.
Colours are RGBA in 0..1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sim.geometry2d import clip_segment

DEFAULT_COLORS = {
    "floor": (0.78, 0.76, 0.72, 1.0),
    "wall": (0.90, 0.90, 0.87, 1.0),
    "box": (0.66, 0.49, 0.32, 1.0),
    "pot": (0.42, 0.26, 0.14, 1.0),
    "bottle": (0.55, 0.78, 0.92, 1.0),
    "basket": (0.55, 0.56, 0.58, 1.0),
}
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


def wrap_angle(angle: float) -> float:
    """Wrap an angle to (-pi, pi] radians."""
    return math.atan2(math.sin(angle), math.cos(angle))


def segment_hits_box(p, q, box) -> bool:
    """Whether segment p→q passes through the open rectangle ``box`` (Liang–Barsky clipping)."""
    return clip_segment(p, q, box, open_=True) is not None
