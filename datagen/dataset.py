"""A torch ``Dataset`` of training windows read from episode files, folders or ``manifest.jsonl`` files.

Each item is a window of ``window`` consecutive frames starting at ``t0``; for every frame ``t`` of the
window it carries the chunk of the next ``chunk`` actions ``actions[t : t + chunk]`` (row t is the
command executed after frame t was observed), zero-padded past the episode end with ``action_mask``.

Sample dict:

- ``rgb``: uint8 ``(window, H, W, 3)`` **RGB** (this is the one place stored BGR becomes RGB), resized to
  ``resize × resize`` (cv2 ``INTER_AREA``) when configured;
- ``actions``: float32 ``(window, chunk, len(axes))`` in model space (chosen axes, clamped to
  ``[-clamp, clamp]`` unless ``clamp`` is ``None``); ``raw_actions``: float32 ``(window, chunk, 3)``
  in teleop units, unclamped; ``action_mask``: bool ``(window, chunk)``;
- ``instruction`` str, ``episode`` id str, ``source`` str, ``frame_index`` int64 ``(window,)``.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from common.cli import ConfigError
from datagen.manifest import ManifestEntry, discover, read_manifest
from datagen.schema import EpisodeFormatError, EpisodeInfo, bgr_to_rgb, inspect_episode, read_frames


@dataclass
class DatasetConfig:
    """Window sampling and action-space settings (defaults match MobileVLA: window 8, chunk 10, x/y axes
    clamped to [-1, 1]).

    ``axes`` index ``[linear_x, linear_y, angular_z]``; ``clamp`` is the model-space bound (``None``
    disables clamping); ``resize`` a square side in pixels (``None`` keeps the stored size); ``stride``
    the step between window starts; ``split`` keeps only manifest entries of that split; ``cache_mb``
    bounds the per-process cache of decoded episodes (0 reads every window from disk).
    """

    window: int = 8
    chunk: int = 10
    axes: tuple[int, ...] = (0, 1)
    clamp: float | None = 1.0
    resize: int | None = None
    stride: int = 1
    split: str | None = None
    cache_mb: float = 256.0
    default_instruction: str = ""

    def __post_init__(self) -> None:
        self.axes = tuple(int(a) for a in self.axes)
        for name in ("window", "chunk", "stride"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"DatasetConfig.{name} must be an integer >= 1, got {value!r}")
        if (
            not self.axes
            or len(set(self.axes)) != len(self.axes)
            or any(a not in (0, 1, 2) for a in self.axes)
        ):
            raise ConfigError(
                f"DatasetConfig.axes must be distinct indices from (0, 1, 2), got {self.axes!r}"
            )
        if self.clamp is not None and not float(self.clamp) > 0:
            raise ConfigError(f"DatasetConfig.clamp must be > 0 or None, got {self.clamp!r}")
        if self.resize is not None and (isinstance(self.resize, bool) or int(self.resize) < 1):
            raise ConfigError(
                f"DatasetConfig.resize must be a positive size in pixels or None, got {self.resize!r}"
            )
        if self.resize is not None:
            self.resize = int(self.resize)
        if self.clamp is not None:
            self.clamp = float(self.clamp)
        if self.cache_mb < 0:
            raise ConfigError(f"DatasetConfig.cache_mb must be >= 0, got {self.cache_mb!r}")
        if self.split is not None and not isinstance(self.split, str):
            raise ConfigError(f"DatasetConfig.split must be a string or None, got {self.split!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> DatasetConfig:
        """Build from a mapping (e.g. a hydra node); unknown keys raise, listing the known ones.
        A ``sources`` key is ignored (it belongs to ``EpisodeDataset``)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in dict(values).items() if k != "sources"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown DatasetConfig keys {unknown}; known: {sorted(known)}")
        return cls(**values)


@dataclass(frozen=True)
class _EpisodeIndex:
    info: EpisodeInfo
    padded_actions: np.ndarray  # (N + chunk, 3) float32, zero rows past the end
    instruction: str
    source: str


class EpisodeDataset(Dataset):
    """Windows over episodes from files, folders (recursive ``*.h5``) or ``manifest.jsonl`` files.

    With ``config.split`` set, only manifest entries of that split are kept (plain files and folders
    carry no split and are then left out). Episodes shorter than ``window`` frames are listed in
    ``skipped``; unreadable files raise ``EpisodeFormatError`` (``on_error="skip"`` lists them instead).
    Works with ``DataLoader`` at any ``num_workers`` (files are opened per read; the cache is per process).
    """

    def __init__(
        self,
        sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        config: DatasetConfig | None = None,
        *,
        on_error: str = "raise",
        **overrides: Any,
    ) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        base = config or DatasetConfig()
        self.config = DatasetConfig(**{**{f.name: getattr(base, f.name) for f in fields(base)}, **overrides})
        entries = discover(sources)
        if self.config.split is not None:
            entries = [e for e in entries if e.split == self.config.split]
            if not entries:
                raise ValueError(f"no episodes with split={self.config.split!r} in {sources!r}")
        self.entries: list[ManifestEntry] = entries
        self.skipped: list[tuple[Path, str]] = []
        self.episodes: list[_EpisodeIndex] = []
        windows: list[tuple[int, int]] = []
        cfg = self.config
        for entry in entries:
            try:
                info = inspect_episode(entry.path)
            except (EpisodeFormatError, FileNotFoundError) as exc:
                if on_error == "raise":
                    raise
                self.skipped.append((entry.path, str(exc)))
                continue
            if info.num_frames < cfg.window:
                self.skipped.append((entry.path, f"{info.num_frames} frames < window {cfg.window}"))
                continue
            padded = np.zeros((info.num_frames + cfg.chunk, 3), dtype=np.float32)
            padded[: info.num_frames] = info.actions
            ep_index = len(self.episodes)
            self.episodes.append(
                _EpisodeIndex(
                    info=info,
                    padded_actions=padded,
                    instruction=info.instruction or cfg.default_instruction,
                    source=entry.source or info.source,
                )
            )
            windows.extend((ep_index, t0) for t0 in range(0, info.num_frames - cfg.window + 1, cfg.stride))
        self.windows = windows
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_bytes = 0

    def __len__(self) -> int:
        return len(self.windows)

    @property
    def episode_ids(self) -> list[str]:
        return [e.info.name for e in self.episodes]

    def _prepare(self, frames_bgr: np.ndarray) -> np.ndarray:
        rgb = bgr_to_rgb(frames_bgr)
        size = self.config.resize
        if size is None or rgb.shape[1:3] == (size, size):
            return rgb
        return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in rgb])

    def _frames(self, ep_index: int, start: int, stop: int) -> np.ndarray:
        """RGB (resized) frames ``start:stop`` of an episode, through the per-process LRU cache."""
        budget = self.config.cache_mb * 1e6
        cached = self._cache.get(ep_index)
        if cached is not None:
            self._cache.move_to_end(ep_index)
            return cached[start:stop]
        info = self.episodes[ep_index].info
        if budget <= 0:
            return self._prepare(read_frames(info.path, start, stop, info.image_key))
        frames = self._prepare(read_frames(info.path, 0, None, info.image_key))
        if frames.nbytes <= budget:
            self._cache[ep_index] = frames
            self._cache_bytes += frames.nbytes
            while self._cache_bytes > budget:
                _, old = self._cache.popitem(last=False)
                self._cache_bytes -= old.nbytes
        return frames[start:stop]

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"window index {index} out of range for {len(self)} windows")
        ep_index, t0 = self.windows[index]
        ep = self.episodes[ep_index]
        cfg = self.config
        n = ep.info.num_frames
        frame_index = np.arange(t0, t0 + cfg.window)
        rows = frame_index[:, None] + np.arange(cfg.chunk)[None, :]  # (window, chunk)
        raw = ep.padded_actions[rows]  # (window, chunk, 3)
        mask = rows < n
        actions = raw[..., list(cfg.axes)]
        if cfg.clamp is not None:
            actions = np.clip(actions, -float(cfg.clamp), float(cfg.clamp))
        rgb = self._frames(ep_index, t0, t0 + cfg.window)
        return {
            "rgb": torch.from_numpy(np.ascontiguousarray(rgb)),
            "actions": torch.from_numpy(np.ascontiguousarray(actions, dtype=np.float32)),
            "raw_actions": torch.from_numpy(np.ascontiguousarray(raw, dtype=np.float32)),
            "action_mask": torch.from_numpy(mask),
            "instruction": ep.instruction,
            "episode": ep.info.name,
            "source": ep.source,
            "frame_index": torch.from_numpy(frame_index.astype(np.int64)),
        }


def manifest_episodes(manifest: str | os.PathLike[str], split: str | None = None) -> list[ManifestEntry]:
    """Entries of a manifest, keeping only ``split`` (``"train"``, ``"val"``, …) when given."""
    return [e for e in read_manifest(manifest) if split is None or e.split == split]
