"""Comparing the camera backends on the same scene: per-pixel difference and object-mask IoU.

``body_ids`` gives the PyBullet body seen at every pixel on either backend (TinyRenderer's segmentation
mask, or the ``gl`` backend's id pass), so masks of the same object can be compared between backends.
"""

from __future__ import annotations

import numpy as np
import pybullet

from sim.world import World


def body_ids(world: World, pose: tuple[float, float, float]) -> np.ndarray:
    """(H, W) int array of the body uid seen at each pixel (-1: background) from the camera at ``pose``."""
    cam = world.config.camera
    view = world.camera.view_matrix(pose, *world._cam_offsets)
    if world._gl is not None:
        return world._gl.render(view, body_ids=True)
    _, _, _, _, seg = world.client.getCameraImage(
        cam.width, cam.height, view, world.camera.projection, renderer=pybullet.ER_TINY_RENDERER
    )
    return np.reshape(np.asarray(seg), (cam.height, cam.width)).astype(np.int32)


def category_masks(world: World, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks per body category (``floor``, ``obstacle``, ``target``, ``wall``, ...)."""
    masks: dict[str, np.ndarray] = {}
    for uid, category in world._category.items():
        masks[category] = masks.get(category, np.zeros(ids.shape, bool)) | (ids == uid)
    return masks


def iou(a: np.ndarray, b: np.ndarray) -> float | None:
    """Intersection over union of two boolean masks; None when both are empty."""
    union = int(np.count_nonzero(a | b))
    return None if union == 0 else int(np.count_nonzero(a & b)) / union


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference per pixel and channel of two uint8 images (0..255)."""
    return float(np.mean(np.abs(a.astype(np.int16) - b.astype(np.int16))))
