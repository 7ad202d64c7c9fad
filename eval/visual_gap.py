"""The visual sim-to-real gap: Fréchet distance between Gaussian fits of image features of two sets of
frames (real vs sim) per scenario tag (definition: ``docs/metrics.md``).

The encoder is ``colorhist`` (default: a deterministic 87-d colour-histogram + spatial-pyramid feature,
see ``colour_features``) or ``policy:NAME`` (that policy's ``encode_images``, e.g. its vision tower).
Used by ``eval.sim2real`` and ``eval.data_gap``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from common.cli import BenchError
from eval import metrics

FEATURE_SIZE = 64
"""Frames are resized to FEATURE_SIZE × FEATURE_SIZE (INTER_AREA) before the colour features."""
HIST_BINS = 8
PYRAMID_LEVELS = (1, 2, 4)


class VisualGapError(BenchError, ValueError):
    """Frames, tags or the encoder of the visual gap are missing or malformed; the message names them."""


def colour_features(frames_rgb: np.ndarray) -> np.ndarray:
    """Deterministic ``(N, 87)`` features of ``(N, H, W, 3)`` uint8 RGB frames.

    Each frame is resized to 64 × 64 (``cv2.INTER_AREA``); features are the per-channel 8-bin colour
    histogram (fractions of pixels, 24 values) and a spatial pyramid of mean colour over 1×1, 2×2 and
    4×4 grids (63 values, scaled to [0, 1]).
    """
    frames = np.asarray(frames_rgb)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise VisualGapError(
            f"colour_features: expected (N, H, W, 3) uint8 RGB frames, got {frames.shape} {frames.dtype}"
        )
    feats = []
    for frame in frames:
        small = cv2.resize(frame, (FEATURE_SIZE, FEATURE_SIZE), interpolation=cv2.INTER_AREA)
        hist = [
            np.bincount(small[..., c].ravel() // (256 // HIST_BINS), minlength=HIST_BINS) for c in range(3)
        ]
        parts = [np.concatenate(hist).astype(np.float64) / (FEATURE_SIZE * FEATURE_SIZE)]
        for level in PYRAMID_LEVELS:
            cells = small.reshape(level, FEATURE_SIZE // level, level, FEATURE_SIZE // level, 3)
            parts.append(cells.mean(axis=(1, 3)).reshape(-1) / 255.0)
        feats.append(np.concatenate(parts))
    return np.stack(feats)


def make_encoder(spec: str) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """``(frames RGB (N, H, W, 3) → features (N, D), description)`` for ``colorhist`` or ``policy:NAME``."""
    if spec == "colorhist":
        return (
            colour_features,
            "colorhist: 8-bin RGB histograms + 1/2/4 spatial pyramid of mean colour (87-d)",
        )
    if spec.startswith("policy:"):
        from policies import make_policy

        name = spec.split(":", 1)[1]
        return policy_encoder(make_policy(name), name)
    raise VisualGapError(f"--encoder {spec!r}: expected 'colorhist' or 'policy:NAME'")


def policy_encoder(policy: Any, name: str, batch: int = 32) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """Frame features from a policy's own vision tower.

    Uses ``policy.encode_images(frames_rgb) -> (N, ...)`` when the policy has it; else, for the VLA
    policy, ``policy.model.encode_images(policy.preprocessor.frames(frames))`` (vision tower +
    image-to-text projection, ``(N, queries, D)``) mean-pooled over the latent queries to ``(N, D)``.
    """
    direct = getattr(policy, "encode_images", None)
    model = getattr(policy, "model", None)
    pre = getattr(policy, "preprocessor", None)
    if callable(direct):

        def encode(frames: np.ndarray) -> np.ndarray:
            out = direct(frames)
            out = out.detach().float().cpu().numpy() if hasattr(out, "detach") else np.asarray(out)
            return out.reshape(len(frames), -1).astype(np.float64)

        return encode, f"policy {name}: encode_images"
    if callable(getattr(model, "encode_images", None)) and callable(getattr(pre, "frames", None)):
        import torch

        def encode(frames: np.ndarray) -> np.ndarray:
            feats = []
            with torch.inference_mode():
                for i in range(0, len(frames), batch):
                    emb = model.encode_images(pre.frames(frames[i : i + batch]))
                    feats.append(emb.float().mean(dim=1).cpu().numpy())
            return np.concatenate(feats).astype(np.float64)

        return encode, f"policy {name}: vision tower + projection (model.encode_images), mean over queries"
    raise VisualGapError(
        f"--encoder policy:{name}: policy {name!r} has no encode_images (nor model.encode_images)"
    )


def tag_features(
    data: Sequence[str | Path], key: str, value: str, encode: Callable[[np.ndarray], np.ndarray], what: str
) -> tuple[np.ndarray, int]:
    """Features of every frame of the episodes in ``data`` whose tag ``key`` equals ``value``.

    Returns ``(features (N, D), episodes)``. Raises ``VisualGapError`` when no episode has the tag.
    """
    from datagen.manifest import discover
    from datagen.schema import bgr_to_rgb, read_frames
    from eval.open_loop_metrics import episode_tags

    entries = discover(list(data))
    chosen = [e for e in entries if episode_tags(e.tags, e.name).get(key) == value]
    if not chosen:
        found = sorted({episode_tags(e.tags, e.name).get(key, "?") for e in entries})
        raise VisualGapError(
            f"{what} data {', '.join(str(d) for d in data)}: no episodes with tag {key}={value} "
            f"({len(entries)} episodes; {key} values present: {', '.join(found) or 'none'})"
        )
    feats = [encode(bgr_to_rgb(read_frames(e.path))) for e in chosen]
    return np.concatenate(feats), len(chosen)


def visual_gap(
    real_data: Sequence[str | Path],
    sim_data: Sequence[str | Path],
    tags: Sequence[tuple[str, str]],
    encoder: str = "colorhist",
) -> dict[str, Any]:
    """Fréchet distance between real and sim frame features per tag ``(key, value)``."""
    encode, description = make_encoder(encoder)
    rows = []
    for key, value in tags:
        real_f, real_eps = tag_features(real_data, key, value, encode, "real")
        sim_f, sim_eps = tag_features(sim_data, key, value, encode, "sim")
        rows.append(
            {
                "tag": f"{key}={value}",
                "frechet": metrics.frechet_from_features(real_f, sim_f),
                "real_episodes": real_eps,
                "real_frames": len(real_f),
                "sim_episodes": sim_eps,
                "sim_frames": len(sim_f),
            }
        )
    return {"encoder": description, "tags": rows}


def default_tags(real_data: Sequence[str | Path], key: str) -> list[tuple[str, str]]:
    """Every value of tag ``key`` among the real episodes, sorted."""
    from datagen.manifest import discover
    from eval.open_loop_metrics import episode_tags

    values = sorted({v for e in discover(list(real_data)) if (v := episode_tags(e.tags, e.name).get(key))})
    if not values:
        where = ", ".join(str(d) for d in real_data)
        raise VisualGapError(f"real data {where}: no episode has a {key!r} tag")
    return [(key, v) for v in values]
