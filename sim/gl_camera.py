"""The ``gl`` backend of ``World.render``: the world's scene description drawn by ``GLRenderer``.

Meshes and textures are uploaded once; every frame reads each body's pose from PyBullet and its colour and
texture from ``World.visuals`` (kept up to date by ``World.apply``), so what is drawn is exactly the
PyBullet scene of that moment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from sim.gl_renderer import GLRenderer
from sim.meshes import TEXTURE_DIR

PARKED_BELOW_M = -5.0
"""Bodies whose origin is this far below the floor are parked (``World`` parks at z = -20 m)."""


class Scene(Protocol):
    """What ``GLCamera`` reads of a ``sim.world.World`` (kept as a protocol: the camera sits below it)."""

    config: Any
    client: Any
    camera: Any
    meshes: dict[str, dict]
    visuals: dict[int, dict]

    @property
    def texture_names(self) -> list[str]: ...

    @property
    def light_direction(self) -> tuple[float, float, float]: ...


def load_texture_rgb(path) -> np.ndarray:
    """(H, W, 3) uint8 RGB pixels of an image file, rows from the top, as PyBullet's ``loadTexture`` reads."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"texture {path} cannot be read")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class GLCamera:
    """Renders ``world``'s ego camera through headless OpenGL; see ``sim.gl_renderer``."""

    def __init__(self, world: Scene, texture_dir: Path = TEXTURE_DIR) -> None:
        cam = world.config.camera
        self.world = world
        self.renderer = GLRenderer(cam.width, cam.height)
        for key, mesh in world.meshes.items():
            self.renderer.add_mesh(key, mesh)
        for name in world.texture_names:
            self.renderer.add_texture(name, load_texture_rgb(texture_dir / f"{name}.png"))

    @property
    def renderer_string(self) -> str:
        return self.renderer.renderer_string

    def render(self, view: list[float], body_ids: bool = False) -> np.ndarray:
        """RGB (H, W, 3) uint8 of the current scene seen through column-major ``view``; with ``body_ids``
        an (H, W) int array of PyBullet body uids instead (-1: nothing drawn)."""
        w = self.world
        get_pose = w.client.getBasePositionAndOrientation
        draws = []
        for uid, look in w.visuals.items():
            position, quaternion = get_pose(uid)
            if position[2] < PARKED_BELOW_M:
                continue  # parked out of sight below the floor
            texture = None if look["texture"] == "none" else look["texture"]
            rgb = ((uid + 1) / 255.0, 0.0, 0.0) if body_ids else look["rgba"]
            draws.append((look["mesh"], position, quaternion, rgb, texture))
        image = self.renderer.render(draws, view, w.camera.projection, w.light_direction, id_pass=body_ids)
        if not body_ids:
            return image
        ids = image[:, :, 0].astype(np.int32) - 1
        return np.where((image[:, :, 1] == 255) & (image[:, :, 2] == 255), -1, ids)

    def release(self) -> None:
        self.renderer.release()
