"""Regenerate the procedural floor textures in ``assets/textures/`` (deterministic, seed 0).

Run: ``python assets/make_textures.py``. Textures are 128×128 RGB PNGs, tiled by the floor's UVs.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

OUT = Path(__file__).resolve().parent / "textures"
SIZE = 128


def tiles(rng: np.random.Generator) -> np.ndarray:
    img = np.full((SIZE, SIZE, 3), 205, np.float32)
    img[::32, :] = 150
    img[:, ::32] = 150
    return img + rng.normal(0, 4, img.shape)


def wood(rng: np.random.Generator) -> np.ndarray:
    y = np.arange(SIZE)[:, None]
    x = np.arange(SIZE)[None, :]
    grain = np.sin((x + 6 * np.sin(y / 9.0)) / 3.5) * 12
    base = np.stack([150 + grain, 110 + grain * 0.8, 70 + grain * 0.5], axis=-1)
    base[:, ::43] -= 35
    return base + rng.normal(0, 5, base.shape)


def carpet(rng: np.random.Generator) -> np.ndarray:
    noise = cv2.GaussianBlur(rng.normal(0, 1, (SIZE, SIZE)).astype(np.float32), (0, 0), 1.2)
    return np.stack([95 + 25 * noise, 100 + 25 * noise, 120 + 25 * noise], axis=-1)


def cardboard(rng: np.random.Generator) -> np.ndarray:
    y = np.arange(SIZE)[:, None] * np.ones((1, SIZE))
    flutes = np.sin(y / 2.2) * 6
    base = np.stack([168 + flutes, 124 + flutes, 82 + flutes], axis=-1)
    base[60:68, :] = (200, 185, 150)  # packing tape
    return base + rng.normal(0, 4, base.shape)


def label(rng: np.random.Generator) -> np.ndarray:
    img = np.zeros((SIZE, SIZE, 3), np.float32)
    img[:] = (140, 200, 235)  # clear PET, bluish
    img[48:80, :] = (220, 60, 40)  # printed label band
    img[58:70, 20:108] = (250, 250, 250)
    return img + rng.normal(0, 3, img.shape)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in (
        ("tiles", tiles),
        ("wood", wood),
        ("carpet", carpet),
        ("cardboard", cardboard),
        ("label", label),
    ):
        rgb = np.clip(make(np.random.default_rng(0)), 0, 255).astype(np.uint8)
        cv2.imwrite(str(OUT / f"{name}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
