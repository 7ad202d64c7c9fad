"""Train the VLA policy: ``python -m training.train --data DATA --model CONFIG [key=value ...]``.

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
``mean_action`` baseline, to ``mean_action.json`` (``training.checkpointing``).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

from common.cli import run_main
from policies.vla.config import resolve_path
from training.config import RunConfig, load_run_config
from training.data import open_datasets
from training.trainer import Trainer, TrainResult


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
