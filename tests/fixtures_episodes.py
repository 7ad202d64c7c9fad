"""Small episode files in the real schema, for the datagen tests.

``write_real_episode_file`` builds a file with raw h5py straight from the documented schema (as the
real collector writes it), independent of ``datagen.schema``, so the tests can compare our writer's
output against it. Images are small (36×64) and random-textured (mean ≈ 127, far from "bad frame").
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from sim.protocol import CORE_SEQUENCES, keys_to_actions

H, W = 36, 64
INSTRUCTIONS = {
    "left": "Navigate around obstacles and reach the front of the beverage bottle on the left",
    "right": "Navigate around obstacles and reach the front of the beverage bottle on the right",
}


def episode_file_name(side: str = "left", index: int = 0, pattern: str = "core") -> str:
    """A 2025-pattern file name; ``index`` shifts the timestamp so names are unique."""
    when = dt.datetime(2025, 11, 6, 10, 0, 0) + dt.timedelta(minutes=index)
    return f"episode_{when:%Y%m%d_%H%M%S}_1box_hori_{side}_{pattern}_medium.h5"


def make_images(n: int = 18, h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    """Deterministic random BGR uint8 frames ``(n, h, w, 3)``; channel means differ (B < G < R)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(40, 216, size=(n, h, w, 3), dtype=np.uint8)
    images[..., 0] //= 2  # blue darker than red: makes channel-order mistakes visible
    return images


def make_actions(side: str = "left", n: int = 18) -> np.ndarray:
    """Row 0 the start frame's stop action, then the core key sequence (repeated/truncated to n rows)."""
    keys = keys_to_actions(CORE_SEQUENCES[side])
    rows = [np.zeros(3, dtype=np.float32)] + [keys[i % len(keys)] for i in range(n - 1)]
    return np.stack(rows).astype(np.float32)


def make_events(n: int = 18) -> list[str]:
    return ["episode_start"] + ["start_action"] * (n - 1)


def real_attrs(name: str, n: int) -> dict[str, Any]:
    """The attributes the real collector writes (types as it writes them)."""
    when = dt.datetime(2025, 11, 6, 10, 0, 0)
    return {
        "episode_name": name,
        "total_duration": 12.5,
        "num_frames": n,
        "action_chunk_size": 8,
        "obstacle_layout_type": "hori",
        "time_period": "morning",
        "collection_datetime": when.isoformat(),
        "collection_hour": when.hour,
        "collection_minute": when.minute,
    }


def write_real_episode_file(
    path: Path,
    *,
    n: int = 18,
    side: str = "left",
    layout: str = "images",
    instruction: str | None = "default",
    seed: int = 0,
    images: np.ndarray | None = None,
    actions: np.ndarray | None = None,
    events: list[str] | None = None,
) -> Path:
    """Write one episode with raw h5py exactly as documented (gzip datasets, S256 instruction)."""
    images = make_images(n, seed=seed) if images is None else images
    actions = make_actions(side, n) if actions is None else actions
    events = make_events(n) if events is None else events
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for k, v in real_attrs(path.stem, len(images)).items():
            f.attrs[k] = v
        f.create_dataset(layout, data=images, compression="gzip")
        f.create_dataset("actions", data=np.asarray(actions, dtype=np.float32), compression="gzip")
        f.create_dataset(
            "action_event_types",
            data=np.array(events, dtype=h5py.string_dtype(encoding="utf-8")),
            compression="gzip",
        )
        if instruction is not None:
            text = INSTRUCTIONS[side] if instruction == "default" else instruction
            f.create_dataset("language_instruction", data=np.array([text.encode("utf-8")], dtype="S256"))
    return path


def h5_layout(path: Path) -> dict[str, Any]:
    """A comparable description of a file: datasets (shape without N, dtype, compression) and root attrs
    (name → kind: str / int / float), ignoring the bench-only ``sim/`` and ``augment/`` groups."""
    datasets: dict[str, Any] = {}
    with h5py.File(path, "r") as f:

        def visit(name: str, obj: Any) -> None:
            if name.split("/")[0] in ("sim", "augment") or not isinstance(obj, h5py.Dataset):
                return
            string = h5py.check_string_dtype(obj.dtype)
            dtype = f"str:{string.encoding}:{string.length}" if string else str(obj.dtype)
            shape = obj.shape if name == "language_instruction" else obj.shape[1:]
            datasets[name] = (shape, dtype, obj.compression)

        f.visititems(visit)
        attrs = {}
        for k, v in f.attrs.items():
            if isinstance(v, (str, bytes)):
                attrs[k] = "str"
            elif isinstance(v, (int, np.integer)):
                attrs[k] = "int"
            else:
                attrs[k] = "float"
    return {"datasets": datasets, "attrs": attrs}
