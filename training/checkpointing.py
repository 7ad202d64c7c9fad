"""What a training run writes, each file atomically.

```
<run>/run_config.json, data_manifest.json   the settings and the episodes of each split
<run>/mean_action.json                     the training-set mean action (the ``mean_action`` baseline)
<run>/metrics.csv                          one row per epoch
<run>/checkpoints/epoch=03-val_loss=0.0123 the best ``keep_best`` epochs (0-based index, Lightning's names)
<run>/checkpoints/last                     the latest epoch plus ``trainer_state.pt`` (for ``--resume``)
```
Checkpoints are in the project's own format (``policies.vla.checkpoint``).
"""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from common.files import atomic_write_json, atomic_write_text
from common.git import git_commit
from common.timefmt import utc_now_iso
from policies.mean_action import MEAN_ACTION_FILE
from policies.vla.checkpoint import save_checkpoint
from policies.vla.config import to_dict
from policies.vla.model import VLAModel
from training.config import RunConfig

TRAINER_STATE = "trainer_state.pt"
LAST = "last"


def write_run_files(
    out_dir: Path, cfg: RunConfig, mean: Mapping[str, Any], manifest: Mapping[str, Any]
) -> None:
    """The run's mean action, settings and data manifest (written once, before the first epoch)."""
    atomic_write_json(out_dir / MEAN_ACTION_FILE, mean)
    atomic_write_json(out_dir / "run_config.json", to_dict(cfg))
    atomic_write_json(out_dir / "data_manifest.json", manifest)


def write_metrics(out_dir: Path, rows: list[dict[str, float]]) -> None:
    """``metrics.csv``: one row per epoch so far."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out_dir / "metrics.csv", buf.getvalue())


def checkpoint_name(epoch: int, val_loss: float) -> str:
    """``epoch=03-val_loss=0.0123`` (0-based epoch index)."""
    return f"epoch={epoch:02d}-val_loss={val_loss:.4f}"


def provenance(
    cfg: RunConfig,
    data_manifest: Mapping[str, Any],
    epoch: int,
    global_step: int,
    train_loss: float,
    val_loss: float,
) -> dict[str, Any]:
    """What a checkpoint records about the run that made it (``epoch``: 0-based, the one just ended)."""
    return {
        "data_manifest": dict(data_manifest),
        "git_commit": git_commit(),
        "epochs": cfg.train.epochs,
        "epoch": epoch,
        "global_step": global_step,
        "train_loss": train_loss,
        "val_loss": val_loss,
        "train_config": to_dict(cfg),
        "created": utc_now_iso(),
    }


def save_epoch(
    model: VLAModel,
    ckpt_dir: Path,
    cfg: RunConfig,
    best: list[tuple[float, str]],
    val_loss: float,
    prov: dict[str, Any],
    trainer_state: dict[str, Any],
) -> list[tuple[float, str]]:
    """Checkpoint the epoch that just ended: among the best ``keep_best`` when it is one of them (the
    worst then leaves), always as ``last`` with ``trainer_state`` (optimizer, counters, RNG; saved with the
    updated ``best`` list). Returns the updated ``best`` list of (val_loss, name)."""
    kw = {"preprocess": cfg.preprocess, "action_adapter": cfg.action_adapter, "provenance": prov}
    best = [tuple(b) for b in best]  # type: ignore[misc]
    keep = cfg.train.keep_best
    if keep > 0 and (len(best) < keep or val_loss < max(b[0] for b in best)):
        name = checkpoint_name(prov["epoch"], val_loss)
        save_checkpoint(model, ckpt_dir / name, **kw)
        best.append((val_loss, name))
        best.sort()
        for _, old in best[keep:]:
            shutil.rmtree(ckpt_dir / old, ignore_errors=True)
        best = best[:keep]
    save_checkpoint(model, ckpt_dir / LAST, **kw, extra={TRAINER_STATE: {**trainer_state, "best": best}})
    return best


def last_checkpoint(resume: Path) -> Path:
    """The ``checkpoints/last`` of run directory ``resume`` (or ``resume`` itself, a checkpoint)."""
    last = resume / "checkpoints" / LAST
    return last if last.is_dir() else resume


def read_trainer_state(last: Path) -> dict[str, Any]:
    """The optimizer, counters and RNG state saved with checkpoint ``last``."""
    if not (last / TRAINER_STATE).is_file():
        raise FileNotFoundError(f"{last}: no {TRAINER_STATE}; resume from a run's checkpoints/last")
    return torch.load(last / TRAINER_STATE, map_location="cpu", weights_only=False)
