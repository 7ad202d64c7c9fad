"""The training loop: AdamW over the trainable parameters, gradient accumulation and clipping, the
learning-rate schedule, validation and a checkpoint after every epoch, exact resume (optimizer, counters
and both random streams restored)."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from policies.mean_action import mean_action_stats
from policies.vla.checkpoint import load_checkpoint
from policies.vla.model import build_model
from policies.vla.preprocess import Preprocessor
from training import checkpointing
from training.config import RunConfig
from training.data import action_samples, collate
from training.objective import learning_rate, masked_huber


@dataclass
class TrainResult:
    """A finished run: its directory, the kept best checkpoints (val_loss, name), ``last``, the per-epoch
    metrics and the training-set mean action."""

    out_dir: Path
    best: list[tuple[float, str]]
    last: Path
    history: list[dict[str, float]]
    mean_action: dict[str, list[float]]


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
        self.cfg = cfg
        self.out_dir = out_dir
        self.ckpt_dir = out_dir / "checkpoints"
        self.data_manifest = dict(data_manifest or {})
        self.state: dict[str, Any] = {"epoch": 0, "global_step": 0, "best": [], "history": []}
        resume_state = None
        if resume is not None:
            last = checkpointing.last_checkpoint(resume)
            self.model = load_checkpoint(last).model
            resume_state = checkpointing.read_trainer_state(last)
        else:
            self.model = build_model(cfg.model)
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
        """One pass over the training loader: (mean loss per valid action entry, optimizer steps)."""
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
        """Mean loss per valid action entry over the validation loader."""
        from tqdm import tqdm

        self.model.eval()
        total, count = 0.0, 0
        for batch in tqdm(self.val_loader, desc="val", disable=not self.cfg.train.progress, leave=False):
            loss, n = self.batch_loss(batch)
            total += loss.item() * n
            count += n
        return total / max(count, 1)

    def run(self) -> TrainResult:
        """Write the run files, train the remaining epochs, return where everything went."""
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        mean = mean_action_stats(action_samples(self.train_set))
        checkpointing.write_run_files(self.out_dir, self.cfg, mean, self.data_manifest)
        t = self.cfg.train
        threads = torch.get_num_threads()
        if t.num_threads is not None:
            torch.set_num_threads(t.num_threads)
        try:
            self._epochs()
        finally:
            torch.set_num_threads(threads)
        return TrainResult(
            self.out_dir,
            list(self.state["best"]),
            self.ckpt_dir / checkpointing.LAST,
            list(self.state["history"]),
            mean,
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
                checkpointing.write_metrics(self.out_dir, self.state["history"])
                if t.progress:
                    print(
                        f"epoch {epoch:02d}: train_loss {train_loss:.5f} val_loss {val_loss:.5f} "
                        f"({row['epoch_time_s']:.1f} s)",
                        file=sys.stderr,
                    )

    def _checkpoint(self, epoch: int, train_loss: float, val_loss: float) -> None:
        prov = checkpointing.provenance(
            self.cfg, self.data_manifest, epoch, self.state["global_step"], train_loss, val_loss
        )
        trainer_state = {
            "optimizer": self.optimizer.state_dict(),
            **{k: self.state[k] for k in ("epoch", "global_step", "best", "history")},
            "rng": {"loader": self.generator.get_state(), "torch": torch.get_rng_state()},
        }
        self.state["best"] = checkpointing.save_epoch(
            self.model, self.ckpt_dir, self.cfg, self.state["best"], val_loss, prov, trainer_state
        )
