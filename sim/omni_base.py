"""The omni-wheel base: how a ``[linear_x, linear_y, angular_z]`` command becomes motion.

Key-press mode reproduces the real driver: a translation moves in direction
``atan2(linear_y, linear_x)`` (robot frame) at the throttle speed for ``key_press_s`` seconds, whatever
the command's magnitude, so a diagonal key is as fast as a straight one; ``|angular_z| > 0.1`` spins
instead at ``spin_rad_s * angular_z / 1.15``. The calibrated base does not follow the commanded direction
exactly (``drive_direction``: strafe share, diagonal angle) and turns by ``press_yaw_rad`` per translation
press (``RobotConfig``). Continuous mode treats the command as a body-frame
velocity (1.15 teleop units = ``speed_m_s`` / ``spin_rad_s``) held for ``control_period_s``.
Poses are ``(x, y, yaw)`` in the world frame: metres, radians.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.config import RobotConfig
from sim.protocol import NOMINAL, SPIN_THRESHOLD

LINEAR_DEADZONE = 1e-3
"""Linear command norm (teleop units) below which the driver does not translate."""


def drive_direction(config: RobotConfig, lin_x: float, lin_y: float) -> tuple[float, float]:
    """Actual direction (rad, robot frame) and speed factor of a key-press translation command.

    The commanded direction ``atan2(lin_y, lin_x)`` is folded to [0°, 90°] (mirror symmetric left/right
    and front/back); 0° stays 0° at full speed, 45° becomes ``diagonal_angle_deg`` at full speed, 90°
    stays 90° at ``strafe_share`` speed, linear in between. The uncalibrated base (45°, 1.0) is the
    identity.
    """
    commanded = math.atan2(lin_y, lin_x)
    folded = abs(commanded)
    backwards = folded > math.pi / 2
    if backwards:
        folded = math.pi - folded
    diag = math.radians(config.diagonal_angle_deg)
    quarter = math.pi / 4
    if folded <= quarter:
        actual, speed = folded * diag / quarter, 1.0
    else:
        t = (folded - quarter) / quarter
        actual, speed = diag + t * (math.pi / 2 - diag), 1.0 + t * (config.strafe_share - 1.0)
    if backwards:
        actual = math.pi - actual
    return math.copysign(actual, commanded), speed


def press_displacement(config: RobotConfig, action) -> tuple[float, float]:
    """Noise-free (forward, left) displacement (m, robot frame) of one key-press translation."""
    lin_x, lin_y = float(action[0]), float(action[1])
    if abs(float(action[2])) > SPIN_THRESHOLD or math.hypot(lin_x, lin_y) <= LINEAR_DEADZONE:
        return 0.0, 0.0
    direction, speed = drive_direction(config, lin_x, lin_y)
    step = config.step_length_m * speed
    return step * math.cos(direction), step * math.sin(direction)


@dataclass(frozen=True)
class Motion:
    """Planned motion of one command: substep poses (excluding the start) and its duration (s)."""

    poses: np.ndarray
    duration_s: float
    moved: bool


class OmniBase:
    """Command semantics and kinematics of the holonomic base (no physics engine state)."""

    def __init__(self, config: RobotConfig) -> None:
        self.config = config

    def clip(self, action: np.ndarray) -> tuple[np.ndarray, bool]:
        """Clip to the robot's limits; returns the clipped command and whether anything changed."""
        limits = np.array(
            [self.config.max_linear, self.config.max_linear, self.config.max_angular], np.float32
        )
        clipped = np.clip(action, -limits, limits).astype(np.float32)
        return clipped, bool(np.any(clipped != action))

    def plan(
        self,
        pose: tuple[float, float, float],
        action: np.ndarray,
        noise: np.random.Generator | None = None,
        duration_s: float | None = None,
    ) -> Motion:
        """Substep poses of executing ``action`` from ``pose``; ``noise`` draws actuation noise.

        ``duration_s`` overrides how long the command is held (the key press or control period).
        """
        cfg = self.config
        x, y, yaw = pose
        lin_x, lin_y, ang_z = (float(v) for v in action)
        speed_gain = 1.0 + (
            noise.normal(0.0, cfg.speed_noise) if noise is not None and cfg.speed_noise else 0.0
        )
        heading_err = (
            noise.normal(0.0, cfg.heading_noise_rad) if noise is not None and cfg.heading_noise_rad else 0.0
        )
        drift = noise.normal(0.0, cfg.yaw_drift_rad) if noise is not None and cfg.yaw_drift_rad else 0.0
        if cfg.control_mode == "key_press":
            duration = cfg.key_press_s if duration_s is None else duration_s
            if abs(ang_z) > SPIN_THRESHOLD:
                v_body = (0.0, 0.0)
                omega = cfg.spin_rad_s * ang_z / NOMINAL * speed_gain
            elif math.hypot(lin_x, lin_y) > LINEAR_DEADZONE:
                direction, share = drive_direction(cfg, lin_x, lin_y)
                direction += heading_err
                speed = cfg.speed_m_s * share * speed_gain
                v_body = (speed * math.cos(direction), speed * math.sin(direction))
                omega = cfg.press_yaw_rad / cfg.key_press_s + drift / duration
            else:
                return Motion(np.empty((0, 3)), duration, False)
        else:
            duration = cfg.control_period_s if duration_s is None else duration_s
            scale = cfg.speed_m_s / NOMINAL * speed_gain
            c, s = math.cos(heading_err), math.sin(heading_err)
            v_body = (scale * (c * lin_x - s * lin_y), scale * (s * lin_x + c * lin_y))
            omega = cfg.spin_rad_s * ang_z / NOMINAL
            if math.hypot(*v_body) < LINEAR_DEADZONE * scale and abs(omega) < 1e-9:
                return Motion(np.empty((0, 3)), duration, False)
            omega += drift / duration
        travel = math.hypot(*v_body) * duration + abs(omega) * duration * cfg.radius
        n = max(1, math.ceil(travel / cfg.substep_m))
        dt = duration / n
        poses = np.empty((n, 3))
        for i in range(n):
            # Midpoint heading integrates a constant body velocity with rotation accurately.
            mid = yaw + 0.5 * omega * dt
            c, s = math.cos(mid), math.sin(mid)
            x += (c * v_body[0] - s * v_body[1]) * dt
            y += (s * v_body[0] + c * v_body[1]) * dt
            yaw += omega * dt
            poses[i] = (x, y, yaw)
        return Motion(poses, duration, True)
