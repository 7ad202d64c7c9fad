"""Writing episode files in exactly the real schema, atomically (the one HDF5 writer of the bench)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from datagen.schema.episode import AugmentRecord, Episode, SimExtras, default_event_types
from datagen.schema.keys import (
    ACTION_CHUNK_SIZE,
    ACTIONS_KEY,
    ATTR_ACTION_CHUNK_SIZE,
    ATTR_COLLECTION_DATETIME,
    ATTR_COLLECTION_HOUR,
    ATTR_COLLECTION_MINUTE,
    ATTR_EPISODE_NAME,
    ATTR_NUM_FRAMES,
    ATTR_OBSTACLE_LAYOUT,
    ATTR_SOURCE,
    ATTR_TIME_PERIOD,
    ATTR_TOTAL_DURATION,
    AUGMENT_GROUP,
    DEFAULT_LAYOUT_TYPE,
    EPISODE_SUFFIX,
    EVENT_TYPES_KEY,
    IMAGE_KEYS,
    INSTRUCTION_DTYPE,
    INSTRUCTION_KEY,
    INSTRUCTION_MAX_BYTES,
    SIM_GROUP,
    SOURCE_SIM,
    EpisodeFormatError,
    EpisodeWriteError,
)
from datagen.schema.names import episode_stem, time_period, try_parse_episode_name
from sim.protocol import KEY_PRESS_S


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
    name = episode_stem(path)
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

    def fill(tmp: Path) -> None:
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

    return write_episode_file(path, fill)


def write_episode_file(path: str | os.PathLike[str], fill: Callable[[Path], None]) -> Path:
    """The one way an episode file is written: ``fill(tmp)`` writes a temporary ``.{stem}.*.h5.tmp``
    beside ``path`` (never matched by ``*.h5``), which is then renamed to ``path``; on any failure the
    temporary file is removed. Raises ``EpisodeWriteError`` naming the directory or file."""
    path = Path(path)
    _prepare_dir(path.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{episode_stem(path)}.", suffix=f"{EPISODE_SUFFIX}.tmp", dir=path.parent
        )
    except OSError as exc:
        raise EpisodeWriteError(f"cannot create a file in output directory {path.parent}: {exc}") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        fill(tmp)
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
