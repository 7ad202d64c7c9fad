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


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, make in (("tiles", tiles), ("wood", wood), ("carpet", carpet)):
        rgb = np.clip(make(np.random.default_rng(0)), 0, 255).astype(np.uint8)
        cv2.imwrite(str(OUT / f"{name}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
