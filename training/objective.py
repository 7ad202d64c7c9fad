"""What training minimises and how fast: masked Huber loss on action chunks, the learning-rate schedule."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from training.config import TrainSettings


def masked_huber(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, delta: float = 1.0
) -> torch.Tensor:
    """Mean Huber loss over valid entries: ``pred``/``target`` (B, W, chunk, A) in model space,
    ``mask`` (B, W, chunk)."""
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
