"""State-dict files and strict loading: the leaf every other VLA module reads weights through.

Reads safetensors files (``CheckpointError`` naming a truncated or corrupt file) and the team's Lightning
``.ckpt`` state dicts, checks a state dict against a module (missing / unexpected keys, shape
mismatches: one error listing them all) and loads it; loads a RoboVLMs robot-pretrained backbone's
weights. Imports nothing of the VLA package but its settings (``policies.vla.config``).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from common.cli import BenchError
from policies.vla.config import resolve_path


class CheckpointError(BenchError, ValueError):
    """A checkpoint file is unreadable (truncated, corrupt); the message names the file."""


class WeightsMismatchError(BenchError, RuntimeError):
    """A state dict does not fit its model (missing / unexpected keys, shapes); the message lists them."""


def _unreadable(path: Path, exc: Exception) -> CheckpointError:
    return CheckpointError(
        f"{path}: not a readable safetensors file ({exc}); it is truncated or corrupt: copy the "
        "checkpoint again or re-export it"
    )


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of the safetensors file ``path``; ``CheckpointError`` naming it when it is truncated or
    corrupt (safetensors' own error derives from neither ``OSError`` nor ``ValueError``)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except SafetensorError as exc:
        raise _unreadable(path, exc) from exc


def read_safetensors_json_metadata(path: Path, key: str) -> Any:
    """The JSON value stored under metadata ``key`` of the safetensors file ``path`` (``{}`` if absent);
    ``CheckpointError`` naming the file when it is unreadable."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return json.loads((f.metadata() or {}).get(key, "{}"))
    except SafetensorError as exc:
        raise _unreadable(path, exc) from exc


def write_safetensors(
    tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None
) -> None:
    """Save ``tensors`` to ``path`` (safetensors; callers write into a temporary directory)."""
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata=metadata)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of a Lightning ``.ckpt`` (or a bare state dict / ``{"model": ...}`` file).

    Tries ``weights_only=True`` first; Lightning files holding pickled objects fall back to a full
    unpickle with a warning (only load checkpoints you trust).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"RoboVLMs checkpoint {p} not found")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure: retry trusting the file
        warnings.warn(
            f"{p}: weights_only load failed ({type(exc).__name__}); unpickling it fully", stacklevel=2
        )
        obj = torch.load(p, map_location="cpu", weights_only=False)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    elif isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError(f"{p}: expected a Lightning checkpoint with a 'state_dict' of tensors")
    return obj


def listing(header: str, groups: list[tuple[str, list[str]]], most: int = 20) -> str:
    """``header; label (count): a, b, ... (N in all)`` for every non-empty group (error messages)."""
    parts = [header]
    for label, keys in groups:
        if keys:
            more = f", ... ({len(keys)} in all)" if len(keys) > most else ""
            parts.append(f"{label} ({len(keys)}): " + ", ".join(keys[:most]) + more)
    return "; ".join(parts)


def require_matching_keys(
    source: Any,
    state: dict[str, torch.Tensor],
    expected: dict[str, torch.Tensor],
    missing: list[str],
    unexpected: list[str],
    label: str = "checkpoint",
) -> None:
    """Raise ``WeightsMismatchError`` (a ``RuntimeError``) listing missing and unexpected keys and shape
    mismatches of the keys ``state`` and ``expected`` share (``label`` names the ``state`` side)."""
    shapes = [
        f"{k}: {label} {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(state) & set(expected))
        if state[k].shape != expected[k].shape
    ]
    if missing or unexpected or shapes:
        raise WeightsMismatchError(
            listing(
                f"{source}: weights do not match the model",
                [("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes)],
            )
        )


def load_checked(
    module: nn.Module,
    state: dict[str, torch.Tensor],
    source: Any,
    *,
    may_lack: Iterable[str] = (),
    also_unexpected: Iterable[str] = (),
    label: str = "checkpoint",
) -> None:
    """Load ``state`` into ``module`` after checking it against ``module.state_dict()``: every expected key
    present (except ``may_lack``: tied or aliased tensors), no key the module lacks (``also_unexpected``
    adds keys the caller could not map), every shape equal; values cast to the module's dtypes."""
    expected = module.state_dict()
    lacks = set(may_lack)
    missing = sorted(k for k in set(expected) - set(state) if k not in lacks)
    unexpected = sorted([*also_unexpected, *(k for k in state if k not in expected)])
    require_matching_keys(source, state, expected, missing, unexpected, label)
    with torch.no_grad():
        module.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=False)


TIED = {"text_model.lm_head.weight": "text_model.model.embed_tokens.weight"}
"""Kosmos-2 ties its output projection to the token embedding: a state dict may store only the latter."""


def load_backbone_weights(backbone: nn.Module, path: str | Path) -> None:
    """Replace a Kosmos-2 backbone's weights with the ``backbone.*`` tensors of a RoboVLMs
    robot-pretrained checkpoint (e.g. ``kosmos_ph_oxe-pretrain.pt``); strict on backbone keys."""
    state = read_state_dict(resolve_path(path))
    sub: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        idx = key.find("backbone.")
        if idx >= 0 and "lora_" not in key:
            sub[key[idx + len("backbone.") :].replace(".base_layer.", ".")] = value
    if not sub:
        raise ValueError(f"{path}: no 'backbone.*' tensors found; is this a RoboVLMs checkpoint?")
    load_checked(backbone, sub, path, may_lack=[k for k, v in TIED.items() if v in sub])
