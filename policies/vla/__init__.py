"""Kosmos-2 VLA policy (RoboVLMs "MobileVLA"): model, checkpoints, preprocessing, action adaptation.

Importing this package registers the ``vla`` and ``mean_action`` policy types (torch, transformers and
peft are imported here, so ``policies.factory`` imports it lazily).
"""

from policies.vla.config import (
    ActionAdapterConfig,
    BackboneConfig,
    HeadConfig,
    LoraSettings,
    ModelConfig,
    PreprocessConfig,
)
from policies.vla.model import VLAModel, build_model
from policies.vla.policy import MeanActionPolicy, VLAPolicy, mean_action_stats

__all__ = [
    "ActionAdapterConfig",
    "BackboneConfig",
    "HeadConfig",
    "LoraSettings",
    "MeanActionPolicy",
    "ModelConfig",
    "PreprocessConfig",
    "VLAModel",
    "VLAPolicy",
    "build_model",
    "mean_action_stats",
]
