"""Episodes in memory: ``Episode`` (exactly as stored), ``EpisodeInfo`` (all but the images), their
sim / augment records, the checks every ``Episode`` passes, and the stored colour order (BGR)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from datagen.schema.keys import (
    ATTR_EPISODE_NAME,
    EVENT_EPISODE_START,
    EVENT_START_ACTION,
    EVENT_TYPES,
    IMAGE_KEYS,
    IMAGES_KEY,
    SOURCE_REAL,
    SOURCES,
    EpisodeFormatError,
)
from datagen.schema.names import episode_stem, try_parse_episode_name

# ------------------------------------------------------------------------------------- colour order
_CV_DTYPES = (np.uint8, np.uint16, np.float32)


def _swap_channels(images: np.ndarray) -> np.ndarray:
    """``(..., 3)`` images with the channel order reversed, as a new contiguous array.

    OpenCV's SIMD swap (about 80x faster than numpy's strided reversed copy on an episode of frames,
    same bytes) where its types allow; numpy otherwise."""
    images = np.asarray(images)
    if images.ndim >= 3 and images.shape[-1] == 3 and images.size and images.dtype in _CV_DTYPES:
        rows = np.ascontiguousarray(images).reshape(-1, images.shape[-2], 3)
        return cv2.cvtColor(rows, cv2.COLOR_RGB2BGR).reshape(images.shape)
    return np.ascontiguousarray(images[..., ::-1])


def bgr_to_rgb(images: np.ndarray) -> np.ndarray:
    """Swap the channel order of ``(..., 3)`` images (stored BGR → model RGB); returns a contiguous copy."""
    return _swap_channels(images)


def rgb_to_bgr(images: np.ndarray) -> np.ndarray:
    """Renderer RGB → stored BGR (the same swap, named for the writing side)."""
    return _swap_channels(images)


# ------------------------------------------------------------------------------------- episode data
@dataclass
class SimExtras:
    """Sim-only record stored under ``sim/`` (real readers ignore it).

    ``poses`` are per-frame ``[x, y, yaw]`` of the robot base in the world frame (metres, radians);
    ``arrays`` holds further numeric arrays and ``attrs`` further scalars (e.g. success, collisions).
    """

    seed: int
    scenario: dict[str, Any] = field(default_factory=dict)
    poses: np.ndarray | None = None
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class AugmentRecord:
    """How an augmented copy was made, stored under ``augment/``.

    ``ops`` is the ordered list of applied operations, each a dict ``{"op": name, **parameters}``.
    """

    source_episode: str
    copy_index: int
    seed: int
    ops: list[dict[str, Any]] = field(default_factory=list)
    source_file: str = ""
    origin: str = SOURCE_REAL
    """The ``source`` of the original episode (``real`` or ``sim``)."""


class _EpisodeIdentity:
    """``source_episode`` and ``tags`` derived from an episode's ``name`` and ``augment`` record."""

    name: str
    augment: AugmentRecord | None

    @property
    def source_episode(self) -> str:
        """The original episode this one derives from (itself unless augmented)."""
        return self.augment.source_episode if self.augment is not None else self.name

    @property
    def tags(self) -> dict[str, str]:
        """Parsed name tags, or ``{}`` when the name does not follow a naming pattern."""
        return try_parse_episode_name(self.name) or {}


@dataclass
class Episode(_EpisodeIdentity):
    """One episode in memory, exactly as stored: images BGR uint8 ``(N, H, W, 3)``, actions float32
    ``(N, 3)`` in teleop units, ``event_types`` of length N (``None`` when a legacy file has none).

    Constructing one checks shapes and dtypes (``EpisodeFormatError``); float actions are cast to float32.
    """

    images: np.ndarray
    actions: np.ndarray
    event_types: list[str] | None = None
    instruction: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)
    source: str = SOURCE_REAL
    sim: SimExtras | None = None
    augment: AugmentRecord | None = None
    image_key: str = IMAGES_KEY
    """Layout the frames were read from and will be written to."""
    path: Path | None = None
    """File the episode was read from (``None`` for new episodes)."""

    def __post_init__(self) -> None:
        where = (
            str(self.path) if self.path is not None else f"episode {self.attrs.get(ATTR_EPISODE_NAME, '?')}"
        )
        self.images = np.asarray(self.images)
        self.actions = np.asarray(self.actions)
        if self.event_types is not None:
            self.event_types = [str(e) for e in self.event_types]
        problems = _episode_problems(self)
        if problems:
            raise EpisodeFormatError(f"{where}: " + "; ".join(problems))
        self.actions = self.actions.astype(np.float32, copy=False)

    @property
    def num_frames(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_size(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    @property
    def name(self) -> str:
        """Episode id: the file stem when read from a file, else the ``episode_name`` attribute."""
        if self.path is not None:
            return episode_stem(self.path)
        return str(self.attrs.get(ATTR_EPISODE_NAME, ""))


def _episode_problems(ep: Episode) -> list[str]:
    problems = []
    images, actions = ep.images, ep.actions
    if images.dtype != np.uint8:
        problems.append(f"images dtype is {images.dtype}, expected uint8")
    if images.ndim != 4 or images.shape[-1] != 3:
        problems.append(f"images shape is {images.shape}, expected (N, H, W, 3)")
    if not np.issubdtype(actions.dtype, np.floating):
        problems.append(f"actions dtype is {actions.dtype}, expected float32")
    if actions.ndim != 2 or actions.shape[-1] != 3:
        problems.append(f"actions shape is {actions.shape}, expected (N, 3)")
    n = images.shape[0] if images.ndim >= 1 else 0
    if actions.ndim >= 1 and actions.shape[0] != n:
        problems.append(f"{actions.shape[0]} action rows for {n} frames")
    if n < 1:
        problems.append("episode has no frames")
    if ep.event_types is not None:
        if len(ep.event_types) != n:
            problems.append(f"{len(ep.event_types)} event types for {n} frames")
        bad = sorted({e for e in ep.event_types if e not in EVENT_TYPES})
        if bad:
            problems.append(f"unknown event types {bad}, expected {list(EVENT_TYPES)}")
    if ep.instruction is not None and not isinstance(ep.instruction, str):
        problems.append(f"instruction is {type(ep.instruction).__name__}, expected str or None")
    if ep.source not in SOURCES:
        problems.append(f"source is {ep.source!r}, expected one of {list(SOURCES)}")
    if ep.image_key not in IMAGE_KEYS:
        problems.append(f"image_key is {ep.image_key!r}, expected one of {list(IMAGE_KEYS)}")
    if ep.sim is not None and ep.sim.poses is not None:
        poses = np.asarray(ep.sim.poses)
        if poses.shape != (n, 3):
            problems.append(f"sim poses shape is {poses.shape}, expected ({n}, 3)")
    return problems


def default_event_types(num_frames: int) -> list[str]:
    """The collector's convention: ``episode_start`` then one ``start_action`` per key press."""
    return [EVENT_EPISODE_START] + [EVENT_START_ACTION] * (num_frames - 1)


@dataclass
class EpisodeInfo(_EpisodeIdentity):
    """Everything about an episode file except its images (cheap to read; used for indexing)."""

    path: Path
    image_key: str
    num_frames: int
    height: int
    width: int
    actions: np.ndarray
    event_types: list[str] | None
    instruction: str | None
    attrs: dict[str, Any]
    source: str
    augment: AugmentRecord | None
    warnings: list[str]

    @property
    def name(self) -> str:
        return episode_stem(self.path)
