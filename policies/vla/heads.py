"""Action heads: per-frame action-token features (B, W, D) → action chunks (B, W, chunk, n_axes) in [-1, 1].

Module and parameter names follow RoboVLMs (``rnn``, ``velocities.mlp.{0,2,4,6}``) so that a RoboVLMs
``MobileVLALSTMDecoder`` state dict loads without renaming.
"""

from __future__ import annotations

import torch
from torch import nn

from policies.vla.config import HeadConfig


class MLPTanhHead(nn.Module):
    """RoboVLMs' ``MLPTanhHead``: Linear/ReLU stack (default widths 1024, 512, 256) then Linear + Tanh."""

    def __init__(self, in_features: int, out_features: int, hidden: tuple[int, ...] = (1024, 512, 256)):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers += [nn.Linear(width, out_features), nn.Tanh()]
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


class LSTMActionHead(nn.Module):
    """RoboVLMs ``MobileVLALSTMDecoder``: an LSTM over the window of frame features, then an MLP with
    tanh output per time step giving ``chunk`` future actions × ``n_axes``."""

    def __init__(self, in_features: int, cfg: HeadConfig):
        super().__init__()
        self.chunk, self.n_axes = cfg.chunk, cfg.n_axes
        self.rnn = nn.LSTM(
            input_size=in_features,
            hidden_size=cfg.hidden_size,
            num_layers=cfg.num_layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.num_layers > 1 else 0.0,
        )
        self.velocities = MLPTanhHead(cfg.hidden_size, cfg.chunk * cfg.n_axes, cfg.mlp_hidden)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``features`` (B, W, D) → (B, W, chunk, n_axes); step t sees frames 0..t only."""
        out, _ = self.rnn(features)
        return self.velocities(out).unflatten(-1, (self.chunk, self.n_axes))


class MLPActionHead(nn.Module):
    """A plain per-frame MLP head (no history): each frame's feature alone gives its chunk."""

    def __init__(self, in_features: int, cfg: HeadConfig):
        super().__init__()
        self.chunk, self.n_axes = cfg.chunk, cfg.n_axes
        self.velocities = MLPTanhHead(in_features, cfg.chunk * cfg.n_axes, cfg.mlp_hidden)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.velocities(features).unflatten(-1, (self.chunk, self.n_axes))


def build_head(cfg: HeadConfig, in_features: int) -> nn.Module:
    """The head named by ``cfg.type`` taking ``in_features``-wide frame features."""
    heads = {"lstm": LSTMActionHead, "mlp": MLPActionHead}
    return heads[cfg.type](in_features, cfg)
