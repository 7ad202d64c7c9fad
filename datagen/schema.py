"""The real Mobile-VLA HDF5 episode schema: key names, attributes, file names, reading and writing.

This is the ONE module that knows how an episode file is laid out (see ``docs/real-robot.md``); the
sim generator, the augmenter, the validator and the training reader all go through it.

One file per episode, gzip-compressed datasets:

- ``images`` (N, H, W, 3) uint8, **BGR** (cv_bridge ``bgr8``); the 2026 layout keeps them at
  ``observations/images``. Readers accept both.
- ``actions`` (N, 3) float32 ``[linear_x, linear_y, angular_z]`` in teleop units (robot frame, x forward,
  y left, z up); row t is the command executed after frame t was observed; row 0 is the start frame's
  stop action.
- ``action_event_types`` (N,) UTF-8 strings: ``episode_start``, ``start_action``, ``stop_action``.
- ``language_instruction`` (1,) ``S256`` (optional; added later to most real files).
- Attributes ``episode_name``, ``total_duration`` (s), ``num_frames``, ``action_chunk_size`` (8),
  ``obstacle_layout_type``, ``time_period``, ``collection_datetime`` (ISO), ``collection_hour``,
  ``collection_minute``.

The bench adds what real readers ignore: a ``source`` attribute (``real`` / ``sim`` / ``augmented``),
a ``sim/`` group (seed, scenario record JSON, per-frame poses ``[x, y, yaw]`` in metres / radians in the
world frame) and an ``augment/`` group (source episode, operations and their parameters).

Writing a sim episode (renderer frames are RGB; files hold BGR)::

    name = format_episode_name(when, "1box_hori_left_core_medium", suffix=f"sim{i:05d}")
    episode = Episode(images=rgb_to_bgr(frames_rgb), actions=actions, event_types=default_event_types(n),
                      instruction=text, source=SOURCE_SIM, attrs={ATTR_TOTAL_DURATION: sim_seconds},
                      sim=SimExtras(seed=base_seed + i, scenario=scenario_record, poses=poses_xy_yaw))
    write_episode(out_dir / f"{name}.h5", episode)

Missing real attributes are filled by ``complete_attrs`` (collection time from the name's timestamp).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from common.cli import BenchError
from sim.protocol import KEY_PRESS_S

# ---------------------------------------------------------------------------------------------- keys
IMAGES_KEY = "images"
OBS_IMAGES_KEY = "observations/images"
IMAGE_KEYS = (IMAGES_KEY, OBS_IMAGES_KEY)
"""Where the frames live: the 2025 layout first, then the 2026 one."""
ACTIONS_KEY = "actions"
EVENT_TYPES_KEY = "action_event_types"
INSTRUCTION_KEY = "language_instruction"
SIM_GROUP = "sim"
AUGMENT_GROUP = "augment"

# ---------------------------------------------------------------------------------------- attributes
ATTR_EPISODE_NAME = "episode_name"
ATTR_TOTAL_DURATION = "total_duration"
ATTR_NUM_FRAMES = "num_frames"
ATTR_ACTION_CHUNK_SIZE = "action_chunk_size"
ATTR_OBSTACLE_LAYOUT = "obstacle_layout_type"
ATTR_TIME_PERIOD = "time_period"
ATTR_COLLECTION_DATETIME = "collection_datetime"
ATTR_COLLECTION_HOUR = "collection_hour"
ATTR_COLLECTION_MINUTE = "collection_minute"
REAL_ATTRS = (
    ATTR_EPISODE_NAME,
    ATTR_TOTAL_DURATION,
    ATTR_NUM_FRAMES,
    ATTR_ACTION_CHUNK_SIZE,
    ATTR_OBSTACLE_LAYOUT,
    ATTR_TIME_PERIOD,
    ATTR_COLLECTION_DATETIME,
    ATTR_COLLECTION_HOUR,
    ATTR_COLLECTION_MINUTE,
)
"""Every root attribute the real collector writes."""
ATTR_SOURCE = "source"
"""Bench-only root attribute: ``real`` / ``sim`` / ``augmented`` (absent in real files → ``real``)."""

ACTION_CHUNK_SIZE = 8
DEFAULT_LAYOUT_TYPE = "hori"
"""The real collector's ``obstacle_layout_type`` default."""
INSTRUCTION_DTYPE = "S256"
INSTRUCTION_MAX_BYTES = 256

TIME_PERIODS = (("dawn", 0, 6), ("morning", 6, 12), ("evening", 12, 18), ("night", 18, 24))
"""``time_period`` by collection hour, as the real collector classifies it: (name, first hour, end hour)."""

# ------------------------------------------------------------------------------------------- events
EVENT_EPISODE_START = "episode_start"
EVENT_START_ACTION = "start_action"
EVENT_STOP_ACTION = "stop_action"
EVENT_TYPES = (EVENT_EPISODE_START, EVENT_START_ACTION, EVENT_STOP_ACTION)

# ------------------------------------------------------------------------------------------ sources
SOURCE_REAL = "real"
SOURCE_SIM = "sim"
SOURCE_AUGMENTED = "augmented"
SOURCES = (SOURCE_REAL, SOURCE_SIM, SOURCE_AUGMENTED)

EPISODE_SUFFIX = ".h5"


class EpisodeFormatError(BenchError, ValueError):
    """An episode file or object does not follow the schema; the message names the file and the problem."""


class EpisodeWriteError(BenchError, OSError):
    """An episode could not be written; the message names the file or directory."""


class EpisodeNameError(BenchError, ValueError):
    """A file name does not follow either episode naming pattern."""


# ---------------------------------------------------------------------------------------- file names
_TIMESTAMP = r"(?P<date>\d{8})_(?P<time>\d{6})"
_SUFFIX = r"(?:__(?P<suffix>[A-Za-z0-9][A-Za-z0-9_-]*))?"
_NAME_2025 = re.compile(
    rf"^episode_{_TIMESTAMP}_(?P<scenario>(?P<num_box>1box|2box)_(?P<orientation>hori|vert)_"
    rf"(?P<side>left|right)_(?P<pattern>core|variant)_(?P<distance>close|medium|far)){_SUFFIX}$"
)
_NAME_2026 = re.compile(
    rf"^episode_{_TIMESTAMP}_(?P<scenario>target_(?P<target>center|left|right)_"
    rf"(?P<path>straight|left|right)_path){_SUFFIX}$"
)
NAME_PATTERNS = (
    "episode_{YYYYMMDD}_{HHMMSS}_{1box|2box}_{hori|vert}_{left|right}_{core|variant}_{close|medium|far}",
    "episode_{YYYYMMDD}_{HHMMSS}_target_{center|left|right}_{straight|left|right}_path",
)
"""The two real naming patterns; either may end with a bench suffix ``__{tag}`` (e.g. ``__aug03m``)."""
_LR_SWAP = {"left": "right", "right": "left"}


def _stem(name: str | os.PathLike[str]) -> str:
    base = os.path.basename(os.fspath(name))
    return base[: -len(EPISODE_SUFFIX)] if base.endswith(EPISODE_SUFFIX) else base


def parse_episode_name(name: str | os.PathLike[str]) -> dict[str, str]:
    """Tags of an episode file name (a path, a name, with or without ``.h5``).

    Returns ``date``, ``time``, ``scenario`` (the part after the timestamp), ``family`` (``2025`` or
    ``2026``), then ``num_box``, ``orientation``, ``side``, ``pattern``, ``distance`` (2025) or
    ``target``, ``path`` (2026), and ``suffix`` when the name carries a bench suffix.
    Raises ``EpisodeNameError`` naming the name and the expected patterns.
    """
    stem = _stem(name)
    for family, pattern in (("2025", _NAME_2025), ("2026", _NAME_2026)):
        match = pattern.match(stem)
        if match:
            tags = {k: v for k, v in match.groupdict().items() if v is not None}
            tags["family"] = family
            return tags
    raise EpisodeNameError(
        f"episode name {stem!r} does not parse; expected {NAME_PATTERNS[0]} or {NAME_PATTERNS[1]}"
        " (optionally followed by __{suffix})"
    )


def try_parse_episode_name(name: str | os.PathLike[str]) -> dict[str, str] | None:
    """``parse_episode_name`` that returns ``None`` for names that do not parse."""
    try:
        return parse_episode_name(name)
    except EpisodeNameError:
        return None


def format_episode_name(when: _dt.datetime, scenario: str, suffix: str | None = None) -> str:
    """``episode_{YYYYMMDD}_{HHMMSS}_{scenario}[__{suffix}]`` (no ``.h5``), checked to parse."""
    name = f"episode_{when:%Y%m%d_%H%M%S}_{scenario}" + (f"__{suffix}" if suffix else "")
    parse_episode_name(name)
    return name


def episode_datetime(name: str | os.PathLike[str]) -> _dt.datetime:
    """The collection time encoded in an episode name."""
    tags = parse_episode_name(name)
    return _dt.datetime.strptime(tags["date"] + tags["time"], "%Y%m%d%H%M%S")


def mirror_episode_name(name: str | os.PathLike[str]) -> str:
    """The name of the left-right mirror image of an episode: swaps ``side`` (2025) or ``target`` and
    ``path`` (2026) left↔right; ``center`` / ``straight`` stay. Returns a stem (no ``.h5``)."""
    tags = parse_episode_name(name)
    if tags["family"] == "2025":
        scenario = "_".join(
            [tags["num_box"], tags["orientation"], _LR_SWAP[tags["side"]], tags["pattern"], tags["distance"]]
        )
    else:
        target = _LR_SWAP.get(tags["target"], tags["target"])
        path = _LR_SWAP.get(tags["path"], tags["path"])
        scenario = f"target_{target}_{path}_path"
    stem = f"episode_{tags['date']}_{tags['time']}_{scenario}"
    return stem + (f"__{tags['suffix']}" if "suffix" in tags else "")


def time_period(hour: int) -> str:
    """The real collector's ``time_period`` of a collection hour (0–23)."""
    for name, first, end in TIME_PERIODS:
        if first <= hour < end:
            return name
    raise ValueError(f"hour {hour!r} is outside 0..23")


# ------------------------------------------------------------------------------------- colour order
def bgr_to_rgb(images: np.ndarray) -> np.ndarray:
    """Swap the channel order of ``(..., 3)`` images (stored BGR → model RGB); returns a contiguous copy."""
    return np.ascontiguousarray(images[..., ::-1])


def rgb_to_bgr(images: np.ndarray) -> np.ndarray:
    """Renderer RGB → stored BGR (the same swap, named for the writing side)."""
    return np.ascontiguousarray(images[..., ::-1])


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
            return _stem(self.path)
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


# ------------------------------------------------------------------------------------ reading files
@dataclass(frozen=True)
class SchemaProblem:
    """One finding about a file's structure: ``severity`` is ``error`` (unusable) or ``warning``."""

    severity: str
    message: str


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
        return _stem(self.path)



def _py(value: Any) -> Any:
    """HDF5 attribute value → plain Python (str, int, float, bool, list)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        return [_py(v) for v in value.tolist()]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _decode(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace").rstrip("\x00")
    return str(value)


def find_image_key(f: h5py.File) -> str | None:
    """The image dataset key present in an open file (``images`` preferred), or ``None``."""
    for key in IMAGE_KEYS:
        if key in f and isinstance(f[key], h5py.Dataset):
            return key
    return None


def schema_problems(f: h5py.File) -> list[SchemaProblem]:
    """Structural findings about an open episode file: keys, shapes, dtypes, lengths, attributes."""
    out: list[SchemaProblem] = []
    err = lambda msg: out.append(SchemaProblem("error", msg))
    warn = lambda msg: out.append(SchemaProblem("warning", msg))

    key = find_image_key(f)
    n = None
    if key is None:
        err(f"missing image dataset (expected {IMAGES_KEY!r} or {OBS_IMAGES_KEY!r})")
    else:
        if all(k in f for k in IMAGE_KEYS):
            warn(f"both {IMAGES_KEY!r} and {OBS_IMAGES_KEY!r} present; using {key!r}")
        ds = f[key]
        if ds.dtype != np.uint8:
            err(f"{key!r} dtype is {ds.dtype}, expected uint8")
        if ds.ndim != 4 or ds.shape[-1] != 3:
            err(f"{key!r} shape is {ds.shape}, expected (N, H, W, 3)")
        else:
            n = int(ds.shape[0])
            if n == 0:
                err(f"{key!r} has no frames")

    if ACTIONS_KEY not in f or not isinstance(f[ACTIONS_KEY], h5py.Dataset):
        err(f"missing {ACTIONS_KEY!r} dataset")
    else:
        ds = f[ACTIONS_KEY]
        if not np.issubdtype(ds.dtype, np.floating):
            err(f"{ACTIONS_KEY!r} dtype is {ds.dtype}, expected float32")
        elif ds.dtype != np.float32:
            warn(f"{ACTIONS_KEY!r} dtype is {ds.dtype}, expected float32")
        if ds.ndim != 2 or ds.shape[-1] != 3:
            err(f"{ACTIONS_KEY!r} shape is {ds.shape}, expected (N, 3)")
        elif n is not None and ds.shape[0] != n:
            err(f"{ds.shape[0]} action rows for {n} frames")

    if EVENT_TYPES_KEY not in f:
        warn(f"missing {EVENT_TYPES_KEY!r} dataset")
    else:
        ds = f[EVENT_TYPES_KEY]
        if not isinstance(ds, h5py.Dataset) or ds.ndim != 1 or h5py.check_string_dtype(ds.dtype) is None:
            err(f"{EVENT_TYPES_KEY!r} must be a 1-D string dataset, got {getattr(ds, 'shape', ds)}")
        elif n is not None and ds.shape[0] != n:
            err(f"{ds.shape[0]} event types for {n} frames")

    if INSTRUCTION_KEY in f:
        ds = f[INSTRUCTION_KEY]
        if (
            not isinstance(ds, h5py.Dataset)
            or ds.shape not in ((1,), ())
            or (h5py.check_string_dtype(ds.dtype) is None and ds.dtype.kind != "S")
        ):
            err(f"{INSTRUCTION_KEY!r} must be a (1,) string dataset, got {getattr(ds, 'shape', ds)}")
        elif ds.dtype != np.dtype(INSTRUCTION_DTYPE):
            warn(f"{INSTRUCTION_KEY!r} dtype is {ds.dtype}, expected {INSTRUCTION_DTYPE}")

    missing = [a for a in REAL_ATTRS if a not in f.attrs]
    if missing:
        warn(f"missing attributes {missing}")
    if ATTR_NUM_FRAMES in f.attrs and n is not None:
        try:
            attr_n = int(f.attrs[ATTR_NUM_FRAMES])
        except (TypeError, ValueError):
            attr_n = None
        if attr_n != n:
            warn(f"attribute num_frames={_py(f.attrs[ATTR_NUM_FRAMES])!r} but the file holds {n} frames")
    source = _py(f.attrs.get(ATTR_SOURCE, SOURCE_REAL))
    if source not in SOURCES:
        err(f"attribute source={source!r}, expected one of {list(SOURCES)}")
    return out


def _open(path: Path) -> h5py.File:
    if not path.exists():
        raise FileNotFoundError(f"episode file {path} does not exist")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise EpisodeFormatError(f"{path}: not a readable HDF5 file ({exc})") from exc


def _read_augment(f: h5py.File) -> AugmentRecord | None:
    if AUGMENT_GROUP not in f:
        return None
    a = f[AUGMENT_GROUP].attrs
    return AugmentRecord(
        source_episode=str(_py(a.get("source_episode", ""))),
        copy_index=int(a.get("copy_index", 0)),
        seed=int(a.get("seed", 0)),
        ops=json.loads(_py(a.get("ops_json", "[]"))),
        source_file=str(_py(a.get("source_file", ""))),
        origin=str(_py(a.get("origin", SOURCE_REAL))),
    )


def _read_sim(f: h5py.File) -> SimExtras | None:
    if SIM_GROUP not in f:
        return None
    g = f[SIM_GROUP]
    attrs = {k: _py(v) for k, v in g.attrs.items() if k not in ("seed", "scenario_json", ATTR_SOURCE)}
    arrays = {k: np.asarray(v[()]) for k, v in g.items() if k != "poses" and isinstance(v, h5py.Dataset)}
    return SimExtras(
        seed=int(g.attrs.get("seed", 0)),
        scenario=json.loads(_py(g.attrs.get("scenario_json", "{}"))),
        poses=np.asarray(g["poses"][()]) if "poses" in g else None,
        arrays=arrays,
        attrs=attrs,
    )


def _read_info(f: h5py.File, path: Path) -> EpisodeInfo:
    problems = schema_problems(f)
    errors = [p.message for p in problems if p.severity == "error"]
    if errors:
        raise EpisodeFormatError(f"{path}: " + "; ".join(errors))
    key = find_image_key(f)
    assert key is not None
    n, h, w, _ = f[key].shape
    events = None
    if EVENT_TYPES_KEY in f:
        events = [_decode(v) for v in f[EVENT_TYPES_KEY][()]]
        bad = sorted({e for e in events if e not in EVENT_TYPES})
        if bad:
            raise EpisodeFormatError(f"{path}: unknown event types {bad}, expected {list(EVENT_TYPES)}")
    instruction = None
    if INSTRUCTION_KEY in f:
        raw = f[INSTRUCTION_KEY][()]
        instruction = _decode(raw.reshape(-1)[0] if isinstance(raw, np.ndarray) else raw)
    attrs = {k: _py(v) for k, v in f.attrs.items()}
    source = str(attrs.pop(ATTR_SOURCE, SOURCE_REAL))
    return EpisodeInfo(
        path=path,
        image_key=key,
        num_frames=int(n),
        height=int(h),
        width=int(w),
        actions=np.asarray(f[ACTIONS_KEY][()], dtype=np.float32),
        event_types=events,
        instruction=instruction,
        attrs=attrs,
        source=source,
        augment=_read_augment(f),
        warnings=[p.message for p in problems if p.severity == "warning"],
    )


def inspect_episode(path: str | os.PathLike[str]) -> EpisodeInfo:
    """Read everything but the images (fast). Raises ``EpisodeFormatError`` naming the file and problem."""
    path = Path(path)
    with _open(path) as f:
        try:
            return _read_info(f, path)
        except EpisodeFormatError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise EpisodeFormatError(f"{path}: unreadable episode data ({exc})") from exc


def read_frames(
    path: str | os.PathLike[str], start: int = 0, stop: int | None = None, image_key: str | None = None
) -> np.ndarray:
    """Frames ``start:stop`` of an episode file, BGR uint8 ``(k, H, W, 3)`` (per-frame chunks: cheap)."""
    path = Path(path)
    with _open(path) as f:
        key = image_key or find_image_key(f)
        if key is None or key not in f:
            raise EpisodeFormatError(
                f"{path}: missing image dataset (expected {IMAGES_KEY!r} or {OBS_IMAGES_KEY!r})"
            )
        try:
            return np.asarray(f[key][start:stop])
        except (OSError, ValueError, RuntimeError) as exc:
            raise EpisodeFormatError(f"{path}: cannot read frames {start}:{stop} of {key!r} ({exc})") from exc


def read_episode(path: str | os.PathLike[str]) -> Episode:
    """Load a whole episode file (either image layout). Raises ``EpisodeFormatError`` naming the file for
    corrupt or truncated files, missing keys, and wrong dtypes or shapes."""
    path = Path(path)
    with _open(path) as f:
        try:
            info = _read_info(f, path)
            images = np.asarray(f[info.image_key][()])
            sim = _read_sim(f)
        except EpisodeFormatError:
            raise
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise EpisodeFormatError(f"{path}: unreadable episode data ({exc})") from exc
    return Episode(
        images=images,
        actions=info.actions,
        event_types=info.event_types,
        instruction=info.instruction,
        attrs=info.attrs,
        source=info.source,
        sim=sim,
        augment=info.augment,
        image_key=info.image_key,
        path=path,
    )


# ------------------------------------------------------------------------------------ writing files
def complete_attrs(episode: Episode, name: str) -> dict[str, Any]:
    """The root attributes to write: the episode's own, with the real ones filled in where missing.

    ``num_frames`` is always the frame count; ``collection_*`` come from the name's timestamp (or the
    Unix epoch for names that do not parse, keeping writes deterministic); ``total_duration`` defaults to
    N key presses of ``KEY_PRESS_S``; ``obstacle_layout_type`` to the name's orientation tag or ``hori``.
    """
    attrs = {k: v for k, v in episode.attrs.items() if k != ATTR_SOURCE}
    tags = try_parse_episode_name(name) or {}
    attrs.setdefault(ATTR_EPISODE_NAME, name)
    attrs[ATTR_NUM_FRAMES] = episode.num_frames
    attrs.setdefault(ATTR_ACTION_CHUNK_SIZE, ACTION_CHUNK_SIZE)
    attrs.setdefault(ATTR_TOTAL_DURATION, float(episode.num_frames * KEY_PRESS_S))
    attrs.setdefault(ATTR_OBSTACLE_LAYOUT, tags.get("orientation", DEFAULT_LAYOUT_TYPE))
    if ATTR_COLLECTION_DATETIME in attrs:
        when = _dt.datetime.fromisoformat(str(attrs[ATTR_COLLECTION_DATETIME]))
    elif tags:
        when = _dt.datetime.strptime(tags["date"] + tags["time"], "%Y%m%d%H%M%S")
    else:
        when = _dt.datetime(1970, 1, 1)
    attrs.setdefault(ATTR_COLLECTION_DATETIME, when.isoformat())
    attrs.setdefault(ATTR_COLLECTION_HOUR, when.hour)
    attrs.setdefault(ATTR_COLLECTION_MINUTE, when.minute)
    attrs.setdefault(ATTR_TIME_PERIOD, time_period(int(attrs[ATTR_COLLECTION_HOUR])))
    attrs[ATTR_SOURCE] = episode.source
    return attrs


def _attr_value(value: Any) -> Any:
    if isinstance(value, (np.generic, np.ndarray, str, bytes, int, float, bool)):
        return value
    if isinstance(value, Sequence) and value and all(isinstance(v, str) for v in value):
        return np.array(value, dtype=h5py.string_dtype("utf-8"))
    if isinstance(value, Sequence) and all(isinstance(v, (int, float, bool)) for v in value):
        return np.asarray(value)
    return json.dumps(value)


def _encode_instruction(text: str, where: str) -> np.ndarray:
    raw = text.encode("utf-8")
    if len(raw) > INSTRUCTION_MAX_BYTES:
        raise EpisodeFormatError(
            f"{where}: instruction is {len(raw)} bytes, the schema's {INSTRUCTION_DTYPE} holds at most "
            f"{INSTRUCTION_MAX_BYTES}"
        )
    return np.array([raw], dtype=INSTRUCTION_DTYPE)


def _prepare_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EpisodeWriteError(f"cannot create output directory {directory}: {exc}") from exc
    if not os.access(directory, os.W_OK | os.X_OK):
        raise EpisodeWriteError(f"output directory {directory} is not writable")


def write_episode(
    path: str | os.PathLike[str],
    episode: Episode,
    *,
    compression: str | None = "gzip",
    level: int = 4,
    image_key: str | None = None,
) -> Path:
    """Write ``episode`` to ``path`` (``.h5``) in exactly the real schema, atomically.

    Images are chunked one frame per chunk ``(1, H, W, 3)``; every dataset uses ``compression``
    (``gzip`` at ``level``; ``None`` for none). ``image_key`` overrides the episode's layout.
    ``event_types`` of ``None`` are written as the collector's convention (``default_event_types``).
    The file appears under its name only once complete (temporary ``*.h5.tmp`` then ``os.replace``).
    Raises ``EpisodeWriteError`` naming the directory or file, ``EpisodeFormatError`` for bad content.
    """
    path = Path(path)
    if path.suffix != EPISODE_SUFFIX:
        raise ValueError(f"episode file name {path} must end with {EPISODE_SUFFIX}")
    key = image_key or episode.image_key
    if key not in IMAGE_KEYS:
        raise ValueError(f"image_key {key!r} is not one of {list(IMAGE_KEYS)}")
    name = _stem(path)
    attrs = complete_attrs(episode, name)
    instruction = None if episode.instruction is None else _encode_instruction(episode.instruction, str(path))
    events = (
        episode.event_types if episode.event_types is not None else default_event_types(episode.num_frames)
    )
    opts: dict[str, Any] = {}
    if compression is not None:
        opts = {"compression": compression}
        if compression == "gzip":
            opts["compression_opts"] = int(level)

    _prepare_dir(path.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=f"{EPISODE_SUFFIX}.tmp", dir=path.parent)
    except OSError as exc:
        raise EpisodeWriteError(f"cannot create a file in output directory {path.parent}: {exc}") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with h5py.File(tmp, "w") as f:
            for k, v in attrs.items():
                f.attrs[k] = _attr_value(v)
            h, w = episode.image_size
            f.create_dataset(key, data=episode.images, chunks=(1, h, w, 3), **opts)
            f.create_dataset(ACTIONS_KEY, data=episode.actions.astype(np.float32), **opts)
            f.create_dataset(EVENT_TYPES_KEY, data=np.array(events, dtype=h5py.string_dtype("utf-8")), **opts)
            if instruction is not None:
                f.create_dataset(INSTRUCTION_KEY, data=instruction)
            if episode.sim is not None:
                _write_sim(f, episode.sim, opts)
            if episode.augment is not None:
                _write_augment(f, episode.augment)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, EpisodeWriteError):
            raise EpisodeWriteError(f"cannot write episode file {path}: {exc}") from exc
        raise
    return path


def _write_sim(f: h5py.File, sim: SimExtras, opts: dict[str, Any]) -> None:
    g = f.create_group(SIM_GROUP)
    g.attrs[ATTR_SOURCE] = SOURCE_SIM
    g.attrs["seed"] = int(sim.seed)
    g.attrs["scenario_json"] = json.dumps(sim.scenario, sort_keys=True)
    for k, v in sim.attrs.items():
        g.attrs[k] = _attr_value(v)
    if sim.poses is not None:
        g.create_dataset("poses", data=np.asarray(sim.poses, dtype=np.float64), **opts)
    for k, v in sim.arrays.items():
        arr = np.asarray(v)
        g.create_dataset(k, data=arr, **(opts if arr.ndim else {}))


def _write_augment(f: h5py.File, record: AugmentRecord) -> None:
    g = f.create_group(AUGMENT_GROUP)
    g.attrs["source_episode"] = record.source_episode
    g.attrs["source_file"] = record.source_file
    g.attrs["copy_index"] = int(record.copy_index)
    g.attrs["seed"] = int(record.seed)
    g.attrs["origin"] = record.origin
    g.attrs["ops_json"] = json.dumps(record.ops, sort_keys=True)
