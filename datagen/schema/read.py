"""Reading episode files: ``inspect_episode`` (all but the images), ``read_frames``, ``read_episode``.

Every failure is an ``EpisodeFormatError`` naming the file (or ``FileNotFoundError`` for a missing one).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from datagen.schema.check import decode_text, find_image_key, schema_problems, to_python
from datagen.schema.episode import AugmentRecord, Episode, EpisodeInfo, SimExtras
from datagen.schema.keys import (
    ACTIONS_KEY,
    ATTR_SOURCE,
    AUGMENT_GROUP,
    EVENT_TYPES,
    EVENT_TYPES_KEY,
    IMAGES_KEY,
    INSTRUCTION_KEY,
    OBS_IMAGES_KEY,
    SIM_GROUP,
    SOURCE_REAL,
    EpisodeFormatError,
)


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
        source_episode=str(to_python(a.get("source_episode", ""))),
        copy_index=int(a.get("copy_index", 0)),
        seed=int(a.get("seed", 0)),
        ops=json.loads(to_python(a.get("ops_json", "[]"))),
        source_file=str(to_python(a.get("source_file", ""))),
        origin=str(to_python(a.get("origin", SOURCE_REAL))),
    )


def _read_sim(f: h5py.File) -> SimExtras | None:
    if SIM_GROUP not in f:
        return None
    g = f[SIM_GROUP]
    attrs = {k: to_python(v) for k, v in g.attrs.items() if k not in ("seed", "scenario_json", ATTR_SOURCE)}
    arrays = {k: np.asarray(v[()]) for k, v in g.items() if k != "poses" and isinstance(v, h5py.Dataset)}
    return SimExtras(
        seed=int(g.attrs.get("seed", 0)),
        scenario=json.loads(to_python(g.attrs.get("scenario_json", "{}"))),
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
        events = [decode_text(v) for v in f[EVENT_TYPES_KEY][()]]
        bad = sorted({e for e in events if e not in EVENT_TYPES})
        if bad:
            raise EpisodeFormatError(f"{path}: unknown event types {bad}, expected {list(EVENT_TYPES)}")
    instruction = None
    if INSTRUCTION_KEY in f:
        raw = f[INSTRUCTION_KEY][()]
        instruction = decode_text(raw.reshape(-1)[0] if isinstance(raw, np.ndarray) else raw)
    attrs = {k: to_python(v) for k, v in f.attrs.items()}
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
