"""Structural checks of an open episode file (keys, shapes, dtypes, lengths, attributes) and the
HDF5-value helpers the readers share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np

from datagen.schema.keys import (
    ACTIONS_KEY,
    ATTR_NUM_FRAMES,
    ATTR_SOURCE,
    EVENT_TYPES_KEY,
    IMAGE_KEYS,
    IMAGES_KEY,
    INSTRUCTION_DTYPE,
    INSTRUCTION_KEY,
    OBS_IMAGES_KEY,
    REAL_ATTRS,
    SOURCE_REAL,
    SOURCES,
)


@dataclass(frozen=True)
class SchemaProblem:
    """One finding about a file's structure: ``severity`` is ``error`` (unusable) or ``warning``."""

    severity: str
    message: str


def to_python(value: Any) -> Any:
    """HDF5 attribute value → plain Python (str, int, float, bool, list)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        return [to_python(v) for v in value.tolist()]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def decode_text(value: Any) -> str:
    """A stored string (bytes padded with NULs, or str) as ``str``."""
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
            attr = to_python(f.attrs[ATTR_NUM_FRAMES])
            warn(f"attribute num_frames={attr!r} but the file holds {n} frames")
    source = to_python(f.attrs.get(ATTR_SOURCE, SOURCE_REAL))
    if source not in SOURCES:
        err(f"attribute source={source!r}, expected one of {list(SOURCES)}")
    return out
