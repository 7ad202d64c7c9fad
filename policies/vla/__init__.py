"""Kosmos-2 VLA policy (RoboVLMs "MobileVLA"): settings, model, checkpoints, preprocessing, actions.

This package exports the settings dataclasses only, so importing it (or ``policies.vla.config``) loads
neither torch nor transformers. The model code lives in its modules, imported one way:
``config`` → ``weights`` → ``backbone`` → ``heads`` → ``model`` → {``checkpoint``, ``robovlms``} →
``policy`` (registers the ``vla`` policy type; ``policies.factory`` imports it lazily) → ``export``.
"""

from policies.vla.config import (
    ActionAdapterConfig,
    BackboneConfig,
    HeadConfig,
    LoraSettings,
    ModelConfig,
    PreprocessConfig,
)

__all__ = [
    "ActionAdapterConfig",
    "BackboneConfig",
    "HeadConfig",
    "LoraSettings",
    "ModelConfig",
    "PreprocessConfig",
]
