"""Configuration dataclasses of the simulated robot, camera, randomisation and world.

Units: metres, seconds, radians (degrees only where a field name says ``_deg``). Every dataclass
validates itself in ``__post_init__`` and names the bad field, its value and what was expected
(``ConfigError``, a ``ValueError``, in ``common.typed_config``'s one format).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from common.cli import ConfigError
from common.typed_config import from_dict, invalid

CONTROL_MODES = ("key_press", "continuous")


def _require(condition: bool, owner: str, name: str, value: Any, expected: str) -> None:
    if not condition:
        raise ConfigError(invalid(f"{owner}.{name}", value, expected))


def _numbers(owner: str, obj: Any, names: tuple[str, ...], minimum: float, strict: bool) -> None:
    """Each field of ``names`` a finite number ``> minimum`` (``strict``) or ``>= minimum``."""
    expected = f"a finite number {'>' if strict else '>='} {minimum:g}"
    for name in names:
        value = getattr(obj, name)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        _require(ok and (value > minimum if strict else value >= minimum), owner, name, value, expected)


def _positive(owner: str, obj: Any, names: str) -> None:
    """Each field named in ``names`` (space-separated) a finite number > 0."""
    _numbers(owner, obj, tuple(names.split()), 0.0, strict=True)


def _non_negative(owner: str, obj: Any, names: str) -> None:
    """Each field named in ``names`` (space-separated) a finite number >= 0."""
    _numbers(owner, obj, tuple(names.split()), 0.0, strict=False)


@dataclass(frozen=True)
class RobotConfig:
    """The omni-wheel base: footprint, speed scale, command semantics, actuation noise and limits.

    ``speed_m_s`` is the translation speed at the default throttle (50 %): in key-press mode a
    straight (W/S) key press moves ``speed_m_s * key_press_s`` metres, as the real driver's
    ``move(angle, throttle)`` does. The omni base does not follow the commanded direction exactly
    (fitted to real runs by ``python -m sim.calibrate``): a pure strafe (A/D) covers ``strafe_share`` of a
    straight press, a diagonal (Q/E/Z/C) moves the full step length at ``diagonal_angle_deg`` off the
    x axis instead of 45°, and every translation press turns the base by ``press_yaw_rad`` (CCW
    positive; a slightly uneven wheel pair). Directions in between are interpolated linearly in angle.
    Defaults: the ``current`` profile of ``configs/calibration/real_2025.yaml``; ``strafe_share=1``,
    ``diagonal_angle_deg=45``, ``press_yaw_rad=0`` is the ideal driver.
    ``spin_rad_s`` is the yaw rate of a spin key (|angular_z| = 1.15).
    """

    radius: float = 0.16
    height: float = 0.12
    speed_m_s: float = 0.315625
    spin_rad_s: float = 0.80
    key_press_s: float = 0.4
    strafe_share: float = 0.9875
    diagonal_angle_deg: float = 34.6875
    press_yaw_rad: float = -0.005
    control_mode: str = "key_press"
    control_period_s: float = 0.4
    max_linear: float = 1.15
    max_angular: float = 1.15
    speed_noise: float = 0.05
    heading_noise_rad: float = 0.03
    yaw_drift_rad: float = 0.01
    substep_m: float = 0.02

    def __post_init__(self) -> None:
        _positive(
            "robot",
            self,
            "radius height speed_m_s spin_rad_s key_press_s "
            "control_period_s max_linear max_angular substep_m strafe_share",
        )
        _require(
            0.0 < self.diagonal_angle_deg < 90.0,
            "robot",
            "diagonal_angle_deg",
            self.diagonal_angle_deg,
            "an angle in (0, 90) degrees",
        )
        _require(
            isinstance(self.press_yaw_rad, (int, float)) and abs(self.press_yaw_rad) < 0.2,
            "robot",
            "press_yaw_rad",
            self.press_yaw_rad,
            "a number in (-0.2, 0.2) rad",
        )
        _non_negative("robot", self, "speed_noise heading_noise_rad yaw_drift_rad")
        _require(
            self.control_mode in CONTROL_MODES,
            "robot",
            "control_mode",
            self.control_mode,
            f"one of {', '.join(CONTROL_MODES)}",
        )

    @property
    def step_length_m(self) -> float:
        """Distance one translation key press covers without noise (metres)."""
        return self.speed_m_s * self.key_press_s


@dataclass(frozen=True)
class CameraConfig:
    """Forward ego camera mounted on the robot: pose in the robot frame, optics, render size.

    The real camera is 1280×720 (16:9); the default render keeps that aspect at a CPU-friendly size.
    ``pitch_deg`` is negative when looking down.
    """

    width: int = 256
    height: int = 144
    mount_x: float = 0.14
    mount_z: float = 0.30
    pitch_deg: float = -12.0
    vertical_fov_deg: float = 55.0
    near: float = 0.03
    far: float = 8.0
    shadows: bool = False

    def __post_init__(self) -> None:
        for name in ("width", "height"):
            value = getattr(self, name)
            _require(
                isinstance(value, int) and 8 <= value <= 4096,
                "camera",
                name,
                value,
                "an integer in [8, 4096]",
            )
        _positive("camera", self, "mount_z vertical_fov_deg near far")
        _require(-89.0 < self.pitch_deg < 89.0, "camera", "pitch_deg", self.pitch_deg, "in (-89, 89)")
        _require(self.vertical_fov_deg < 170.0, "camera", "vertical_fov_deg", self.vertical_fov_deg, "< 170")
        _require(self.far > self.near, "camera", "far", self.far, f"> near ({self.near})")

    @property
    def aspect(self) -> float:
        return self.width / self.height


@dataclass(frozen=True)
class RandomizationConfig:
    """Domain randomisation, each part switchable; magnitudes are half-widths of uniform ranges."""

    enabled: bool = True
    start_pose: bool = True
    start_xy_m: float = 0.04
    start_yaw_deg: float = 4.0
    obstacle_jitter: bool = True
    obstacle_xy_m: float = 0.05
    obstacle_yaw_deg: float = 8.0
    target_jitter: bool = True
    target_xy_m: float = 0.05
    colors: bool = True
    color_jitter: float = 0.12
    textures: bool = True
    light: bool = True
    camera_jitter: bool = True
    camera_height_m: float = 0.02
    camera_pitch_deg: float = 3.0
    distractors: bool = True
    max_distractors: int = 2
    actuation_noise: bool = True

    def __post_init__(self) -> None:
        _non_negative(
            "randomization",
            self,
            "start_xy_m start_yaw_deg obstacle_xy_m obstacle_yaw_deg "
            "target_xy_m color_jitter camera_height_m camera_pitch_deg",
        )
        _require(
            isinstance(self.max_distractors, int) and 0 <= self.max_distractors <= 4,
            "randomization",
            "max_distractors",
            self.max_distractors,
            "an integer in [0, 4]",
        )

    def on(self, part: str) -> bool:
        """Whether randomisation ``part`` is active (master switch and the part's own switch)."""
        return self.enabled and bool(getattr(self, part))


@dataclass(frozen=True)
class LayoutConfig:
    """Where the 2025 bottle task's bodies stand in the ``medium`` ``core`` ``hori`` layout (metres,
    world frame: x forward from the start, y left); other layouts derive from it (``sim/layouts.py``).

    ``box_x``: centre of the (first) box; ``bottle_x``/``bottle_side_y``: the bottle, on the named side;
    the goal disc of ``goal_radius`` stands ``goal_standoff`` in front of (−x) the bottle. Fitted to real
    runs by ``python -m sim.calibrate``.
    """

    box_x: float = 1.195
    bottle_x: float = 2.1687
    bottle_side_y: float = 0.4325
    goal_standoff: float = 0.35
    goal_radius: float = 0.25

    def __post_init__(self) -> None:
        _positive("layout", self, "box_x bottle_x bottle_side_y goal_standoff goal_radius")
        _require(self.goal_radius <= 0.25, "layout", "goal_radius", self.goal_radius, "<= 0.25 m")
        _require(
            self.bottle_x - self.goal_standoff > self.box_x,
            "layout",
            "bottle_x",
            self.bottle_x,
            f"a goal (bottle_x - goal_standoff) beyond the box (box_x={self.box_x})",
        )


@dataclass(frozen=True)
class SimConfig:
    """Everything the world and the env need: robot, camera, randomisation, layout, episode budget."""

    robot: RobotConfig = field(default_factory=RobotConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    randomization: RandomizationConfig = field(default_factory=RandomizationConfig)
    layout: LayoutConfig = field(default_factory=LayoutConfig)
    max_steps: int = 17
    suite: str = "bottle_2025"
    render_backend: str = "tiny"
    """Camera backend: ``tiny`` (TinyRenderer), ``gl`` (OpenGL, EGL) or ``auto`` (``sim.render_backend``)."""

    def __post_init__(self) -> None:
        _require(
            self.render_backend in ("tiny", "gl", "auto"),
            "env",
            "render_backend",
            self.render_backend,
            "one of tiny, gl, auto",
        )
        _require(
            isinstance(self.max_steps, int) and self.max_steps >= 1,
            "env",
            "max_steps",
            self.max_steps,
            "an integer >= 1",
        )


def sim_config(values: dict[str, Any] | None = None) -> SimConfig:
    """A ``SimConfig`` from a nested dict such as ``{"robot": {"speed_m_s": 0.3}, "max_steps": 20}``."""
    return from_dict(SimConfig, values, "env")
