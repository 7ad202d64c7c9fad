"""The robot's forward ego camera: mount pose in the robot frame, optics, and PyBullet matrices."""

from __future__ import annotations

import math

from sim.config import CameraConfig


class Camera:
    """Computes view/projection matrices for a robot pose; rendering itself is ``World.render``."""

    def __init__(self, config: CameraConfig, client) -> None:
        self.config = config
        self._client = client
        self.projection = client.computeProjectionMatrixFOV(
            config.vertical_fov_deg, config.aspect, config.near, config.far
        )

    def view_matrix(
        self, pose: tuple[float, float, float], height_offset: float = 0.0, pitch_offset_deg: float = 0.0
    ) -> list[float]:
        """View matrix of the camera on a robot at ``pose`` = (x, y, yaw) in metres/radians."""
        cfg = self.config
        x, y, yaw = pose
        c, s = math.cos(yaw), math.sin(yaw)
        eye = (x + c * cfg.mount_x, y + s * cfg.mount_x, cfg.mount_z + height_offset)
        pitch = math.radians(cfg.pitch_deg + pitch_offset_deg)
        forward = (c * math.cos(pitch), s * math.cos(pitch), math.sin(pitch))
        target = (eye[0] + forward[0], eye[1] + forward[1], eye[2] + forward[2])
        return self._client.computeViewMatrix(eye, target, (0.0, 0.0, 1.0))
