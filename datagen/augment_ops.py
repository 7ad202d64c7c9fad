"""Augmentation operations on one episode in memory: mirror, crop-and-resize, HSV, brightness/contrast,
blur, noise, and ``augment_episode`` applying them (files and the CLI: ``datagen.augment``).

Every copy draws its parameters from ``np.random.default_rng([seed, hash(source file name), copy, op])``:
results are deterministic and independent of processing order and of which other ops are enabled.
Operations act on whole episodes (the same parameters for every frame, noise drawn per frame) in this
order: mirror, crop, hsv, brightness_contrast, blur, noise. The mirror flips images left-right, negates
``linear_y`` and ``angular_z``, swaps "left"/"right" in the instruction and the side tag(s) in the name.
Images are BGR uint8 ``(N, H, W, 3)``, as stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from common.cli import ConfigError
from datagen.manifest import stable_hash
from datagen.schema import (
    ATTR_EPISODE_NAME,
    SOURCE_AUGMENTED,
    AugmentRecord,
    Episode,
    mirror_episode_name,
    try_parse_episode_name,
)
from sim.taxonomy import mirror_instruction

OPS = ("mirror", "crop", "hsv", "brightness_contrast", "blur", "noise")
"""Operations in the order they are applied; the index is part of each op's RNG seed."""


@dataclass
class AugmentConfig:
    """Probabilities (0–1) and parameter ranges of each op; a range is ``(low, high)``, uniform.

    Pixel-valued parameters are in 0–255 levels; hue shift in degrees (OpenCV stores hue / 2);
    crop ``scale`` is the kept fraction of each side, ``max_shift`` the extra offset as a fraction
    of the side (the crop window is clipped to the image).
    """

    copies: int = 5
    seed: int = 0
    p_mirror: float = 0.5
    p_crop: float = 0.5
    crop_scale: tuple[float, float] = (0.85, 1.0)
    max_shift: float = 0.05
    p_hsv: float = 0.8
    hue_shift_deg: float = 10.0
    saturation: tuple[float, float] = (0.7, 1.3)
    value: tuple[float, float] = (0.8, 1.2)
    p_brightness_contrast: float = 0.8
    brightness: float = 25.0
    contrast: tuple[float, float] = (0.75, 1.25)
    p_blur: float = 0.3
    blur_sigma: tuple[float, float] = (0.5, 1.5)
    p_noise: float = 0.3
    noise_std: tuple[float, float] = (2.0, 8.0)
    compression_level: int = 4

    def __post_init__(self) -> None:
        if isinstance(self.copies, bool) or not isinstance(self.copies, int) or self.copies < 1:
            raise ConfigError(f"AugmentConfig.copies must be an integer >= 1, got {self.copies!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"AugmentConfig.seed must be an integer >= 0, got {self.seed!r}")
        for op in OPS:
            p = getattr(self, f"p_{op}")
            if not 0.0 <= float(p) <= 1.0:
                raise ConfigError(f"AugmentConfig.p_{op} must be a probability in [0, 1], got {p!r}")
        for name, low_bound in (
            ("crop_scale", 0.1),
            ("saturation", 0.0),
            ("value", 0.0),
            ("contrast", 0.0),
            ("blur_sigma", 0.0),
            ("noise_std", 0.0),
        ):
            rng = tuple(float(v) for v in getattr(self, name))
            if len(rng) != 2 or not low_bound <= rng[0] <= rng[1]:
                raise ConfigError(
                    f"AugmentConfig.{name} must be (low, high) with {low_bound} <= low <= high, "
                    f"got {getattr(self, name)!r}"
                )
            setattr(self, name, rng)
        if self.crop_scale[1] > 1.0:
            raise ConfigError(f"AugmentConfig.crop_scale must not exceed 1.0, got {self.crop_scale!r}")
        for name in ("max_shift", "hue_shift_deg", "brightness"):
            if float(getattr(self, name)) < 0:
                raise ConfigError(f"AugmentConfig.{name} must be >= 0, got {getattr(self, name)!r}")

    @classmethod
    def only(cls, *ops: str, **kwargs: Any) -> AugmentConfig:
        """A config applying exactly ``ops`` (probability 1) and nothing else."""
        unknown = sorted(set(ops) - set(OPS))
        if unknown:
            raise ConfigError(f"unknown ops {unknown}; known: {list(OPS)}")
        probs = {f"p_{op}": (1.0 if op in ops else 0.0) for op in OPS}
        return cls(**{**probs, **kwargs})


# ----------------------------------------------------------------------------------------- ops
swap_left_right = mirror_instruction
"""Swap the words "left" and "right" (case kept): ``sim.taxonomy.mirror_instruction``."""


def mirror_actions(actions: np.ndarray) -> np.ndarray:
    """Left-right mirror of ``[linear_x, linear_y, angular_z]`` rows: negate y and z (no ``-0.0``)."""
    out = np.array(actions, dtype=np.float32, copy=True)
    out[:, 1:] = -out[:, 1:] + 0.0
    return out


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1])) if bounds[1] > bounds[0] else float(bounds[0])


def _crop(images: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> tuple[np.ndarray, dict]:
    n, h, w, _ = images.shape
    scale = _uniform(rng, cfg.crop_scale)
    ch, cw = max(1, round(h * scale)), max(1, round(w * scale))
    cy = (h - ch) / 2 + rng.uniform(-cfg.max_shift, cfg.max_shift) * h
    cx = (w - cw) / 2 + rng.uniform(-cfg.max_shift, cfg.max_shift) * w
    y0 = int(np.clip(round(cy), 0, h - ch))
    x0 = int(np.clip(round(cx), 0, w - cw))
    out = np.stack(
        [cv2.resize(f[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_LINEAR) for f in images]
    )
    return out, {"op": "crop", "scale": scale, "y0": y0, "x0": x0, "height": ch, "width": cw}


def _hsv(images: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> tuple[np.ndarray, dict]:
    hue_deg = _uniform(rng, (-cfg.hue_shift_deg, cfg.hue_shift_deg))
    sat, val = _uniform(rng, cfg.saturation), _uniform(rng, cfg.value)
    n, h, w, _ = images.shape
    hsv = cv2.cvtColor(images.reshape(n * h, w, 3), cv2.COLOR_BGR2HSV)  # input is BGR, as stored
    levels = np.arange(256, dtype=np.float32)
    hue_lut = ((np.arange(256) + round(hue_deg / 2)) % 180).astype(np.uint8)
    sat_lut = np.clip(np.rint(levels * sat), 0, 255).astype(np.uint8)
    val_lut = np.clip(np.rint(levels * val), 0, 255).astype(np.uint8)
    hsv = cv2.LUT(hsv, np.stack([hue_lut, sat_lut, val_lut], axis=-1).reshape(1, 256, 3))
    out = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR).reshape(n, h, w, 3)
    return out, {"op": "hsv", "hue_shift_deg": hue_deg, "saturation": sat, "value": val}


def _brightness_contrast(
    images: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig
) -> tuple[np.ndarray, dict]:
    brightness = _uniform(rng, (-cfg.brightness, cfg.brightness))
    contrast = _uniform(rng, cfg.contrast)
    levels = np.arange(256, dtype=np.float32)
    lut = np.clip(np.rint((levels - 127.5) * contrast + 127.5 + brightness), 0, 255).astype(np.uint8)
    out = np.stack([cv2.LUT(f, lut) for f in images])
    return out, {"op": "brightness_contrast", "brightness": brightness, "contrast": contrast}


def _blur(images: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> tuple[np.ndarray, dict]:
    sigma = _uniform(rng, cfg.blur_sigma)
    if sigma <= 0:
        return images, {"op": "blur", "sigma": sigma}
    out = np.stack([cv2.GaussianBlur(f, (0, 0), sigmaX=sigma, sigmaY=sigma) for f in images])
    return out, {"op": "blur", "sigma": sigma}


def _noise(images: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig) -> tuple[np.ndarray, dict]:
    std = _uniform(rng, cfg.noise_std)
    out = np.empty_like(images)
    for i, frame in enumerate(images):
        noisy = rng.standard_normal(frame.shape, dtype=np.float32)
        noisy *= std
        noisy += frame
        np.rint(noisy, out=noisy)
        np.clip(noisy, 0, 255, out=noisy)
        out[i] = noisy
    return out, {"op": "noise", "std": std}


_IMAGE_OPS = {
    "crop": _crop,
    "hsv": _hsv,
    "brightness_contrast": _brightness_contrast,
    "blur": _blur,
    "noise": _noise,
}


def op_rng(seed: int, source_name: str, copy_index: int, op: str) -> np.random.Generator:
    """The RNG of one op of one copy: independent of processing order and of the other ops."""
    return np.random.default_rng([int(seed), stable_hash(source_name), int(copy_index), OPS.index(op)])


def copy_name(source_stem: str, copy_index: int, mirrored: bool) -> str:
    """The copy's file stem: the (side-swapped when mirrored) source stem + ``__aug{k:02d}[m]``."""
    base = source_stem
    if mirrored:
        base = mirror_episode_name(source_stem) if try_parse_episode_name(source_stem) else source_stem
    return f"{base}__aug{copy_index:02d}{'m' if mirrored else ''}"


def augment_episode(episode: Episode, config: AugmentConfig, copy_index: int, source_name: str) -> Episode:
    """One augmented copy of ``episode`` (BGR images, as stored). ``source_name`` (the source file's
    name) seeds the RNG. The result records its source episode and ops under ``augment``."""
    images = episode.images
    actions = episode.actions
    instruction = episode.instruction
    ops: list[dict[str, Any]] = []
    mirrored = False
    for op in OPS:
        rng = op_rng(config.seed, source_name, copy_index, op)
        if rng.random() >= getattr(config, f"p_{op}"):
            continue
        if op == "mirror":
            images = np.ascontiguousarray(images[:, :, ::-1, :])
            actions = mirror_actions(actions)
            instruction = swap_left_right(instruction) if instruction is not None else None
            mirrored = True
            ops.append({"op": "mirror"})
        else:
            images, params = _IMAGE_OPS[op](images, rng, config)
            ops.append(params)
    stem = copy_name(episode.name, copy_index, mirrored)
    attrs = dict(episode.attrs)
    attrs[ATTR_EPISODE_NAME] = stem
    origin = episode.augment.origin if episode.augment is not None else episode.source
    return Episode(
        images=images,
        actions=actions,
        event_types=episode.event_types,
        instruction=instruction,
        attrs=attrs,
        source=SOURCE_AUGMENTED,
        augment=AugmentRecord(
            source_episode=episode.source_episode,
            copy_index=copy_index,
            seed=config.seed,
            ops=ops,
            source_file=source_name,
            origin=origin,
        ),
        image_key=episode.image_key,
    )
