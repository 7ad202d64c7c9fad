"""Training data: episodes → windows (``datagen.dataset.EpisodeDataset``), split train/val by episode.

The manifest's ``split`` field (``train`` / ``val``) decides when present, else a seeded fraction of
episodes (episodes that derive from the same source episode stay together).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from datagen.dataset import DatasetConfig, EpisodeDataset
from datagen.manifest import discover
from policies.vla.config import resolve_path
from training.config import RunConfig


def _base_dataset(ds: Dataset) -> tuple[Any, list[int]]:
    """(EpisodeDataset, window indices) behind a dataset or a ``Subset`` of one."""
    if isinstance(ds, Subset):
        base, idx = _base_dataset(ds.dataset)
        return base, [idx[i] for i in ds.indices]
    return ds, list(range(len(ds)))  # type: ignore[arg-type]


def split_by_episode(dataset: Any, val_fraction: float, seed: int) -> tuple[Subset, Subset, list[str]]:
    """Split an ``EpisodeDataset``'s windows by episode (grouped by source episode), deterministically.

    Returns (train subset, val subset, val group names).
    """
    groups = sorted({ep.info.source_episode for ep in dataset.episodes})
    if len(groups) < 2:
        raise ValueError(f"need at least 2 episodes to split train/val by episode, got {len(groups)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(groups))
    n_val = min(len(groups) - 1, max(1, round(val_fraction * len(groups))))
    val_groups = {groups[i] for i in order[:n_val]}
    val_eps = {i for i, ep in enumerate(dataset.episodes) if ep.info.source_episode in val_groups}
    train_idx = [w for w, (ep, _) in enumerate(dataset.windows) if ep not in val_eps]
    val_idx = [w for w, (ep, _) in enumerate(dataset.windows) if ep in val_eps]
    return Subset(dataset, train_idx), Subset(dataset, val_idx), sorted(val_groups)


def open_datasets(data: Sequence[str], cfg: RunConfig) -> tuple[Dataset, Dataset, dict[str, Any]]:
    """Train and validation datasets for ``data`` (files / folders / manifests) and a data manifest."""
    sources = [str(resolve_path(d)) for d in data]
    dcfg = DatasetConfig(
        window=cfg.model.window,
        chunk=cfg.model.head.chunk,
        axes=tuple(range(cfg.model.head.n_axes)),
        clamp=1.0,
        resize=cfg.data.dataset_resize,
        stride=cfg.data.stride,
        cache_mb=cfg.data.cache_mb,
    )
    entries = discover(sources)
    splits = {e.split for e in entries}
    if "train" in splits:
        train_set = EpisodeDataset(sources, dcfg, split="train")
        if "val" not in splits:
            raise ValueError(f"{data}: the manifest has a 'train' split but no 'val' split")
        val_set = EpisodeDataset(sources, dcfg, split="val")
        how = "manifest split field"
        val_names = sorted(val_set.episode_ids)
        train_names = sorted(train_set.episode_ids)
    else:
        full = EpisodeDataset(sources, dcfg)
        train_set, val_set, _ = split_by_episode(full, cfg.data.val_fraction, cfg.data.split_seed)
        how = f"fraction {cfg.data.val_fraction} of episodes (seed {cfg.data.split_seed})"
        val_idx = {full.windows[i][0] for i in val_set.indices}
        val_names = sorted(full.episodes[i].info.name for i in val_idx)
        train_names = sorted(ep.info.name for i, ep in enumerate(full.episodes) if i not in val_idx)
    if len(train_set) == 0 or len(val_set) == 0:
        raise ValueError(f"{data}: empty split (train {len(train_set)} windows, val {len(val_set)} windows)")
    manifest = {
        "sources": list(data),
        "split": how,
        "train_episodes": train_names,
        "val_episodes": val_names,
        "train_windows": len(train_set),
        "val_windows": len(val_set),
    }
    return train_set, val_set, manifest


def action_samples(dataset: Dataset) -> Iterable[dict[str, np.ndarray]]:
    """Each window's ``actions``/``raw_actions``/``action_mask`` without decoding images when the
    dataset is an ``EpisodeDataset`` (or a subset of one); otherwise the full samples."""
    base, indices = _base_dataset(dataset)
    if not hasattr(base, "windows") or not hasattr(base, "episodes"):
        yield from (dataset[i] for i in range(len(dataset)))  # type: ignore[arg-type]
        return
    cfg = base.config
    for w in indices:
        ep_index, t0 = base.windows[w]
        ep = base.episodes[ep_index]
        rows = np.arange(t0, t0 + cfg.window)[:, None] + np.arange(cfg.chunk)[None, :]
        raw = ep.padded_actions[rows]
        actions = raw[..., list(cfg.axes)]
        if cfg.clamp is not None:
            actions = np.clip(actions, -cfg.clamp, cfg.clamp)
        yield {"actions": actions, "raw_actions": raw, "action_mask": rows < ep.info.num_frames}


def collate(samples: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Stack the array fields, list the string fields."""
    out: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        if isinstance(values[0], str):
            out[key] = values
        else:
            out[key] = torch.stack([torch.as_tensor(v) for v in values])
    return out
