"""Camera frames (H, W, 3) uint8 RGB → model pixel tensors (3, S, S) float, per ``PreprocessConfig``.

The one place where the env's RGB observation becomes what a checkpoint was trained on (its
preprocessing profile, ``policies.vla.profiles``): channel order, resize filter, normalisation.
``pil_*`` filters call PIL exactly as the team's loader does (``Image.fromarray(frame).resize((S, S),
Image.BILINEAR)`` on the uint8 frame); OpenCV's bilinear differs from PIL's when downscaling (PIL
widens the kernel to antialias), so the two are not interchangeable.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch
from PIL import Image

from policies.vla.config import PreprocessConfig

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_INTERPOLATION = {
    "bicubic": cv2.INTER_CUBIC,
    "bilinear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "nearest": cv2.INTER_NEAREST,
}
_PIL = {"pil_bilinear": Image.Resampling.BILINEAR, "pil_bicubic": Image.Resampling.BICUBIC}


def check_rgb(rgb: Any, name: str = "obs['rgb']") -> np.ndarray:
    """``rgb`` as an (H, W, 3) uint8 array; ``ValueError`` naming the expected and the actual shape/dtype."""
    if not isinstance(rgb, np.ndarray):
        raise ValueError(
            f"{name}: expected a numpy array of shape (H, W, 3) dtype uint8 (RGB), got {type(rgb).__name__}"
        )
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 1:
        raise ValueError(
            f"{name}: expected shape (H, W, 3) dtype uint8 (RGB), "
            f"got shape {tuple(rgb.shape)} dtype {rgb.dtype}"
        )
    return rgb


class Preprocessor:
    """Resize to a square of ``resize`` pixels, reorder channels to ``channel_order``, normalise."""

    def __init__(self, cfg: PreprocessConfig):
        self.cfg = cfg
        self._pil = _PIL.get(cfg.interpolation)
        self._interp = _INTERPOLATION.get(cfg.interpolation, cv2.INTER_LINEAR)
        if cfg.normalize == "clip":
            self._mean = np.asarray(CLIP_MEAN, dtype=np.float32)
            self._std = np.asarray(CLIP_STD, dtype=np.float32)

    def resized(self, rgb: np.ndarray) -> np.ndarray:
        """One RGB frame → (S, S, 3) uint8 in the model's channel order (before normalisation)."""
        img = check_rgb(rgb)
        if self.cfg.channel_order == "bgr":
            img = np.ascontiguousarray(img[..., ::-1])
        s = self.cfg.resize
        if img.shape[:2] == (s, s):
            return img
        if self._pil is not None:
            return np.asarray(Image.fromarray(img).resize((s, s), self._pil))
        return cv2.resize(img, (s, s), interpolation=self._interp)

    def frame(self, rgb: np.ndarray) -> np.ndarray:
        """One RGB frame → (3, S, S) float32 in the model's channel order and normalisation."""
        img = self.resized(rgb)
        x = img.astype(np.float32) * (1.0 / 255.0)
        if self.cfg.normalize == "clip":
            x = (x - self._mean) / self._std
        return np.ascontiguousarray(x.transpose(2, 0, 1))

    def frames(self, rgb: np.ndarray) -> torch.Tensor:
        """(..., H, W, 3) uint8 RGB → (..., 3, S, S) float32 tensor (any number of leading dims)."""
        arr = np.asarray(rgb)
        if arr.ndim < 3:
            raise ValueError(f"rgb frames: expected shape (..., H, W, 3) uint8, got shape {arr.shape}")
        lead = arr.shape[:-3]
        flat = arr.reshape(-1, *arr.shape[-3:])
        out = (
            np.stack([self.frame(f) for f in flat])
            if len(flat)
            else np.zeros((0, 3, self.cfg.resize, self.cfg.resize), np.float32)
        )
        return torch.from_numpy(out.reshape(*lead, *out.shape[1:]))

    def __call__(self, rgb: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.frame(rgb))
