"""Train the VLA policy: ``python -m policies.train --data DATA --model CONFIG [key=value ...]``.

``DATA``: episode files, folders or ``manifest.jsonl`` files (``datagen.dataset.EpisodeDataset``).
``CONFIG``: a ``configs/train/<name>.yaml`` name or a YAML path with ``model``, ``preprocess``,
``action_adapter``, ``data`` and ``train`` sections; ``key=value`` arguments override it (OmegaConf
dot-list, e.g. ``train.epochs=3 model.train_mode=frozen``).

Loss: Huber on the masked action chunks in model space (targets clamped to [-1, 1]). AdamW over the
trainable parameters, gradient accumulation and clipping. Validation split by episode: the manifest's
``split`` field (``train`` / ``val``) when present, else a seeded fraction of episodes (episodes that
derive from the same source episode stay together). Each epoch writes a checkpoint in the project's
own format, ``checkpoints/epoch=03-val_loss=0.0123`` (0-based epoch index, as Lightning names them),
keeping the best ``keep_best`` plus ``checkpoints/last`` (which also holds the optimizer state, for
``--resume``); per-epoch metrics go to ``metrics.csv``; the training-set mean action, for the
``mean_action`` baseline, to ``mean_action.json``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Subset

from common.cli import run_main
from policies.vla.config import (
    PROJECT_ROOT,
    ActionAdapterConfig,
    ModelConfig,
    PreprocessConfig,
    from_dict,
    resolve_path,
    to_dict,
)

TRAIN_CONFIG_DIR = PROJECT_ROOT / "configs" / "train"
TRAINER_STATE = "trainer_state.pt"
LAST = "last"


@dataclass(frozen=True)
class DataSettings:
    """How episodes become training windows. ``val_fraction``/``split_seed`` are used only when the data
    carries no manifest ``split``; ``dataset_resize`` lets the dataset pre-resize frames (cv2 INTER_AREA,
    cached) instead of the policy's own preprocessing; leave it ``None`` unless the policy also uses
    ``interpolation: area``."""

    val_fraction: float = 0.2
    split_seed: int = 0
    stride: int = 1
    num_workers: int = 0
    cache_mb: float = 256.0
    dataset_resize: int | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"data.val_fraction must be in (0, 1), got {self.val_fraction}")


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings (defaults: the real MobileVLA run; ``amp`` = autocast dtype or ``none``)."""

    epochs: int = 10
    batch_size: int = 8
    lr: float = 1e-4
    weight_decay: float = 0.01
    grad_accum: int = 1
    grad_clip: float = 1.0
    huber_delta: float = 1.0
    keep_best: int = 3
    seed: int = 0
    max_steps_per_epoch: int | None = None
    amp: str = "none"
    lr_schedule: str = "constant"
    """``constant`` or ``cosine`` (linear warm-up over ``warmup_steps`` optimizer steps, then cosine decay
    to ``min_lr_ratio * lr`` at the last step of the last epoch)."""
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    progress: bool = True
    num_threads: int | None = None
    """torch intra-op CPU threads during the run (restored after); 1 suits tiny models on a shared CPU."""

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "grad_accum"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.amp not in ("none", "bf16", "fp16"):
            raise ValueError(f"train.amp must be none, bf16 or fp16, got {self.amp!r}")
        if self.keep_best < 0:
            raise ValueError(f"train.keep_best must be >= 0, got {self.keep_best}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"train.lr_schedule must be constant or cosine, got {self.lr_schedule!r}")
        if self.warmup_steps < 0:
            raise ValueError(f"train.warmup_steps must be >= 0, got {self.warmup_steps}")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"train.min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    action_adapter: ActionAdapterConfig = field(default_factory=ActionAdapterConfig)
    data: DataSettings = field(default_factory=DataSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    out: str = "runs/vla"


@dataclass
class TrainResult:
    out_dir: Path
    best: list[tuple[float, str]]
    last: Path
    history: list[dict[str, float]]
    mean_action: dict[str, list[float]]


# ------------------------------------------------------------------------------------------ config
def load_run_config(model: str, overrides: Sequence[str] = ()) -> RunConfig:
    """``configs/train/<model>.yaml`` (or a YAML path) with dot-list ``overrides`` applied, validated."""
    from omegaconf import OmegaConf

    path = Path(model)
    if not path.suffix:
        path = TRAIN_CONFIG_DIR / f"{model}.yaml"
    elif not path.is_absolute() and not path.is_file():
        path = resolve_path(model)
    if not path.is_file():
        known = sorted(p.stem for p in TRAIN_CONFIG_DIR.glob("*.yaml")) if TRAIN_CONFIG_DIR.is_dir() else []
        raise FileNotFoundError(f"training config {model!r} not found ({path}); known configs: {known}")
    cfg = OmegaConf.load(path)
    if overrides:
        cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
    data = OmegaConf.to_container(cfg, resolve=True)
    return from_dict(RunConfig, data, str(path))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ data
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
    from datagen.dataset import DatasetConfig, EpisodeDataset
    from datagen.manifest import discover

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


# ------------------------------------------------------------------------------------------ loss
def masked_huber(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, delta: float = 1.0
) -> torch.Tensor:
    """Mean Huber loss over valid entries: ``pred``/``target`` (B, W, chunk, A), ``mask`` (B, W, chunk)."""
    loss = F.huber_loss(pred.float(), target.float(), reduction="none", delta=delta)
    m = mask.to(loss.dtype).unsqueeze(-1).expand_as(loss)
    return (loss * m).sum() / m.sum().clamp_min(1.0)


def learning_rate(t: TrainSettings, step: int, total_steps: int) -> float:
    """The learning rate for optimizer step ``step`` (0-based) of ``total_steps`` under ``t``'s schedule."""
    if t.warmup_steps and step < t.warmup_steps:
        return t.lr * (step + 1) / t.warmup_steps
    if t.lr_schedule == "constant":
        return t.lr
    span = max(1, total_steps - t.warmup_steps)
    progress = min(1.0, max(0, step - t.warmup_steps) / span)
    return t.lr * (t.min_lr_ratio + (1 - t.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


# ------------------------------------------------------------------------------------------ training
class Trainer:
    """One training run: model, optimiser, data loaders, checkpointing."""

    def __init__(
        self,
        cfg: RunConfig,
        train_set: Dataset,
        val_set: Dataset,
        out_dir: Path,
        data_manifest: Mapping[str, Any] | None = None,
        resume: Path | None = None,
    ) -> None:
        from policies.vla.checkpoint import load_checkpoint
        from policies.vla.model import build_model
        from policies.vla.preprocess import Preprocessor

        self.cfg = cfg
        self.out_dir = out_dir
        self.ckpt_dir = out_dir / "checkpoints"
        self.data_manifest = dict(data_manifest or {})
        self.state: dict[str, Any] = {"epoch": 0, "global_step": 0, "best": [], "history": []}
        if resume is not None:
            last = resume / "checkpoints" / LAST if (resume / "checkpoints" / LAST).is_dir() else resume
            loaded = load_checkpoint(last)
            self.model = loaded.model
            if not (last / TRAINER_STATE).is_file():
                raise FileNotFoundError(f"{last}: no {TRAINER_STATE}; resume from a run's checkpoints/last")
            resume_state = torch.load(last / TRAINER_STATE, map_location="cpu", weights_only=False)
        else:
            self.model = build_model(cfg.model)
            resume_state = None
        if self.model.image_size != cfg.preprocess.resize:
            raise ValueError(
                f"preprocess.resize is {cfg.preprocess.resize} but the backbone takes "
                f"{self.model.image_size}x{self.model.image_size} images"
            )
        self.model.set_trainable()
        self.params = self.model.trainable_parameters()
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
        if resume_state is not None:
            self.optimizer.load_state_dict(resume_state["optimizer"])
            self.state = {k: resume_state[k] for k in ("epoch", "global_step", "best", "history")}
        self.preprocessor = Preprocessor(cfg.preprocess)
        self.generator = torch.Generator().manual_seed(cfg.train.seed)
        self._rng_state: torch.Tensor | None = None
        if resume_state is not None and "rng" in resume_state:
            self.generator.set_state(resume_state["rng"]["loader"])
            self._rng_state = resume_state["rng"]["torch"]
        self.train_loader = DataLoader(
            train_set,
            batch_size=cfg.train.batch_size,
            shuffle=True,
            generator=self.generator,
            num_workers=cfg.data.num_workers,
            collate_fn=collate,
        )
        self.val_loader = DataLoader(
            val_set,
            batch_size=cfg.train.batch_size,
            shuffle=False,
            num_workers=cfg.data.num_workers,
            collate_fn=collate,
        )
        self.train_set = train_set
        self.device = self.model.device
        self.total_steps = cfg.train.epochs * math.ceil(self.batches_per_epoch() / cfg.train.grad_accum)

    def batches_per_epoch(self) -> int:
        """Training batches one epoch runs (the loader's, capped by ``max_steps_per_epoch``)."""
        t = self.cfg.train
        n = len(self.train_loader)
        return n if t.max_steps_per_epoch is None else min(n, t.max_steps_per_epoch * t.grad_accum)

    def _autocast(self) -> Any:
        amp = self.cfg.train.amp
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp, torch.float32)
        return torch.autocast(device_type=self.device.type, dtype=dtype, enabled=amp != "none")

    def batch_loss(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, int]:
        """Masked Huber loss of one collated batch and its number of valid action entries."""
        pixels = self.preprocessor.frames(batch["rgb"].numpy()).to(self.device, self.model.backbone_dtype)
        mask = batch["action_mask"].to(self.device)
        with self._autocast():
            pred = self.model(pixels, list(batch["instruction"]))
        loss = masked_huber(pred, batch["actions"].to(self.device), mask, self.cfg.train.huber_delta)
        return loss, int(mask.sum()) * pred.shape[-1]

    def train_epoch(self, epoch: int) -> tuple[float, int]:
        from tqdm import tqdm

        t = self.cfg.train
        self.model.train()
        total, count, steps = 0.0, 0, 0
        self.optimizer.zero_grad(set_to_none=True)
        n_batches = self.batches_per_epoch()
        bar = tqdm(total=n_batches, desc=f"epoch {epoch:02d} train", disable=not t.progress, leave=False)
        for i, batch in enumerate(self.train_loader):
            if i >= n_batches:
                break
            loss, n = self.batch_loss(batch)
            (loss / t.grad_accum).backward()
            total += loss.item() * n
            count += n
            if (i + 1) % t.grad_accum == 0 or i + 1 == n_batches:
                lr = learning_rate(t, self.state["global_step"], self.total_steps)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                if t.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(self.params, t.grad_clip)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                steps += 1
                self.state["global_step"] += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.4f}")
        bar.close()
        return total / max(count, 1), steps

    @torch.no_grad()
    def validate(self) -> float:
        from tqdm import tqdm

        self.model.eval()
        total, count = 0.0, 0
        for batch in tqdm(self.val_loader, desc="val", disable=not self.cfg.train.progress, leave=False):
            loss, n = self.batch_loss(batch)
            total += loss.item() * n
            count += n
        return total / max(count, 1)

    def run(self) -> TrainResult:
        from policies.vla.policy import MEAN_ACTION_FILE, mean_action_stats

        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        mean = mean_action_stats(action_samples(self.train_set))
        _write_text(self.out_dir / MEAN_ACTION_FILE, json.dumps(mean, indent=2) + "\n")
        _write_text(self.out_dir / "run_config.json", json.dumps(to_dict(self.cfg), indent=2) + "\n")
        _write_text(self.out_dir / "data_manifest.json", json.dumps(self.data_manifest, indent=2) + "\n")
        t = self.cfg.train
        threads = torch.get_num_threads()
        if t.num_threads is not None:
            torch.set_num_threads(t.num_threads)
        try:
            self._epochs()
        finally:
            torch.set_num_threads(threads)
        return TrainResult(
            self.out_dir, list(self.state["best"]), self.ckpt_dir / LAST, list(self.state["history"]), mean
        )

    def _epochs(self) -> None:
        t = self.cfg.train
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(t.seed)
            if self._rng_state is not None:  # resuming: continue the random streams where they stopped
                torch.set_rng_state(self._rng_state)
            for epoch in range(self.state["epoch"], t.epochs):
                start = time.perf_counter()
                train_loss, steps = self.train_epoch(epoch)
                val_loss = self.validate()
                row = {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "val_loss": val_loss,
                    "lr": self.optimizer.param_groups[0]["lr"],
                    "steps": steps,
                    "global_step": self.state["global_step"],
                    "epoch_time_s": time.perf_counter() - start,
                }
                self.state["history"].append(row)
                self.state["epoch"] = epoch + 1
                self._checkpoint(epoch, train_loss, val_loss)
                self._write_metrics()
                if t.progress:
                    print(
                        f"epoch {epoch:02d}: train_loss {train_loss:.5f} val_loss {val_loss:.5f} "
                        f"({row['epoch_time_s']:.1f} s)",
                        file=sys.stderr,
                    )

    def _provenance(self, epoch: int, train_loss: float, val_loss: float) -> dict[str, Any]:
        return {
            "data_manifest": self.data_manifest,
            "git_commit": git_commit(),
            "epochs": self.cfg.train.epochs,
            "epoch": epoch,
            "global_step": self.state["global_step"],
            "train_loss": train_loss,
            "val_loss": val_loss,
            "train_config": to_dict(self.cfg),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def _checkpoint(self, epoch: int, train_loss: float, val_loss: float) -> None:
        from policies.vla.checkpoint import save_checkpoint

        kw = {
            "preprocess": self.cfg.preprocess,
            "action_adapter": self.cfg.action_adapter,
            "provenance": self._provenance(epoch, train_loss, val_loss),
        }
        best: list[tuple[float, str]] = [tuple(b) for b in self.state["best"]]  # type: ignore[misc]
        name = f"epoch={epoch:02d}-val_loss={val_loss:.4f}"
        keep = self.cfg.train.keep_best
        if keep > 0 and (len(best) < keep or val_loss < max(b[0] for b in best)):
            save_checkpoint(self.model, self.ckpt_dir / name, **kw)
            best.append((val_loss, name))
            best.sort()
            for _, old in best[keep:]:
                shutil.rmtree(self.ckpt_dir / old, ignore_errors=True)
            best = best[:keep]
        self.state["best"] = best
        trainer_state = {
            "optimizer": self.optimizer.state_dict(),
            **{k: self.state[k] for k in ("epoch", "global_step", "best", "history")},
            "rng": {"loader": self.generator.get_state(), "torch": torch.get_rng_state()},
        }
        save_checkpoint(self.model, self.ckpt_dir / LAST, **kw, extra={TRAINER_STATE: trainer_state})

    def _write_metrics(self) -> None:
        rows = self.state["history"]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        _write_text(self.out_dir / "metrics.csv", buf.getvalue())


def git_commit() -> str | None:
    """The project's current git commit, or ``None`` (no git, no commits yet)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def train(
    cfg: RunConfig, data: Sequence[str], out_dir: str | Path | None = None, resume: str | Path | None = None
) -> TrainResult:
    """Open ``data``, split it, train per ``cfg`` and checkpoint into ``out_dir`` (default ``cfg.out``)."""
    train_set, val_set, manifest = open_datasets(data, cfg)
    out = resolve_path(out_dir or cfg.out)
    trainer = Trainer(cfg, train_set, val_set, out, manifest, resume=resolve_path(resume) if resume else None)
    return trainer.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the Kosmos-2 VLA policy (see module docstring).")
    parser.add_argument("--data", nargs="+", required=True, help="episode files, folders or manifest.jsonl")
    parser.add_argument("--model", default="vla_tiny", help="configs/train/<name>.yaml or a YAML path")
    parser.add_argument("--out", default=None, help="run directory (default: the config's 'out')")
    parser.add_argument("--resume", default=None, help="run directory (or checkpoint dir) to resume from")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.epochs=3")
    args = parser.parse_intermixed_args(argv)  # key=value may sit between flags

    def body() -> int:
        result = train(load_run_config(args.model, args.overrides), args.data, args.out, args.resume)
        best = result.best[0] if result.best else (math.nan, "-")
        print(f"run {result.out_dir}: best {best[1]} (val_loss {best[0]:.5f}); last {result.last}")
        return 0

    return run_main(body, also=(TypeError,))


if __name__ == "__main__":
    raise SystemExit(main())
