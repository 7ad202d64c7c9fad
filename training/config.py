"""A training run's settings: ``configs/train/<name>.yaml`` (or a YAML path) plus dot-list overrides.

Sections ``model``, ``preprocess``, ``action_adapter`` (``policies.vla.config``), ``data`` and ``train``
(here), and ``out`` (the run directory). Frozen dataclasses, validated on construction; importing this
module loads neither torch nor transformers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common.paths import CONFIG_DIR
from policies.vla.config import (
    ActionAdapterConfig,
    ModelConfig,
    PreprocessConfig,
    from_dict,
    resolve_path,
)

TRAIN_CONFIG_DIR = CONFIG_DIR / "train"


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
    """Everything a training run reads: the model and its inference settings, data, optimisation, ``out``."""

    model: ModelConfig = field(default_factory=ModelConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    action_adapter: ActionAdapterConfig = field(default_factory=ActionAdapterConfig)
    data: DataSettings = field(default_factory=DataSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    out: str = "runs/vla"


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
