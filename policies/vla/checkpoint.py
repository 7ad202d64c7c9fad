"""The project's own VLA checkpoint format: one directory, written atomically.

```
<dir>/config.json            format tag, model / preprocess / action_adapter settings, backbone reference
                             (path + architecture), file list, training provenance
<dir>/head.safetensors       action head (``act_head.*``) and ``action_token``
<dir>/adapter/               LoRA adapter in peft's on-disk layout (adapter_config.json +
                             adapter_model.safetensors), when train_mode is ``lora``
<dir>/backbone/              only when the backbone weights cannot be referenced (train_mode ``full``,
                             or a randomly initialised backbone): config.json, tokenizer files and
                             weights.safetensors (LoRA tensors excluded, tied tensors stored once)
```
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from common.files import atomic_directory, atomic_write_text, read_json
from policies.vla.backbone import (
    DTYPES,
    architecture,
    fingerprint,
    load_backbone,
    load_tokenizer,
    ready,
    untrained_backbone,
)
from policies.vla.config import (
    ActionAdapterConfig,
    ModelConfig,
    PreprocessConfig,
    from_dict,
    resolve_path,
    to_dict,
)
from policies.vla.model import VLAModel
from policies.vla.weights import (
    load_checked,
    read_safetensors,
    read_safetensors_json_metadata,
    require_matching_keys,
    write_safetensors,
)

FORMAT = "mvla-vla-checkpoint"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
HEAD_FILE = "head.safetensors"
ADAPTER_DIR = "adapter"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
BACKBONE_DIR = "backbone"
BACKBONE_WEIGHTS = "weights.safetensors"
PEFT_PREFIX = "base_model.model."


@dataclass
class LoadedCheckpoint:
    """A loaded checkpoint: the model (eval mode) and the settings saved with it."""

    model: VLAModel
    preprocess: PreprocessConfig
    action_adapter: ActionAdapterConfig
    provenance: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def _head_state(model: VLAModel) -> dict[str, torch.Tensor]:
    state = {f"act_head.{k}": v for k, v in model.act_head.state_dict().items()}
    state["action_token"] = model.action_token.detach()
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def _lora_state(model: VLAModel) -> dict[str, torch.Tensor]:
    """LoRA tensors keyed as peft saves them: ``base_model.model.<module>.lora_A.weight``."""
    out = {}
    for name, tensor in model.backbone.state_dict().items():
        if "lora_" in name:
            out[PEFT_PREFIX + name.replace(".default.", ".")] = tensor.detach().cpu().contiguous()
    return out


def _backbone_state(model: VLAModel) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Non-LoRA backbone tensors, shared (tied) tensors stored once: (tensors, {alias: stored name})."""
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple[int, int, tuple[int, ...]], str] = {}
    for name, tensor in model.backbone.state_dict(keep_vars=False).items():
        if "lora_" in name:
            continue
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        tensors[name] = tensor.detach().cpu().contiguous()
    return tensors, aliases


def save_checkpoint(
    model: VLAModel,
    directory: str | Path,
    *,
    preprocess: PreprocessConfig,
    action_adapter: ActionAdapterConfig,
    provenance: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` and its settings to ``directory`` (replaced atomically if it exists).

    ``extra`` maps file names to objects ``torch.save``d into the same directory (e.g. optimizer state),
    so that they appear together with the weights or not at all.
    """
    out = Path(directory)
    cfg = model.config
    save_backbone = cfg.train_mode == "full" or cfg.backbone.init == "random"
    with atomic_directory(out) as tmp:
        files = {"head": HEAD_FILE}
        write_safetensors(_head_state(model), tmp / HEAD_FILE)
        if cfg.train_mode == "lora":
            (tmp / ADAPTER_DIR).mkdir()
            adapter = tmp / ADAPTER_DIR / ADAPTER_WEIGHTS
            write_safetensors(_lora_state(model), adapter, metadata={"format": "pt"})
            write_config_json(tmp / ADAPTER_DIR / ADAPTER_CONFIG, model.lora_config_dict())
            files["adapter"] = ADAPTER_DIR
        backbone_info: dict[str, Any] = {
            "path": cfg.backbone.path,
            "architecture": architecture(model.backbone.config),
            "fingerprint": fingerprint(model.backbone),
            "weights": "reference",
        }
        if save_backbone:
            tensors, aliases = _backbone_state(model)
            (tmp / BACKBONE_DIR).mkdir()
            write_safetensors(
                tensors, tmp / BACKBONE_DIR / BACKBONE_WEIGHTS, metadata={"aliases": json.dumps(aliases)}
            )
            model.backbone.config.save_pretrained(tmp / BACKBONE_DIR)
            model.tokenizer.save_pretrained(tmp / BACKBONE_DIR)
            files["backbone"] = BACKBONE_DIR
            backbone_info["weights"] = f"{BACKBONE_DIR}/{BACKBONE_WEIGHTS}"
        for name, obj in (extra or {}).items():
            torch.save(obj, tmp / name)
        write_config_json(
            tmp / CONFIG_FILE,
            {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "model": to_dict(cfg),
                "preprocess": to_dict(preprocess),
                "action_adapter": to_dict(action_adapter),
                "backbone": backbone_info,
                "files": files,
                "provenance": provenance or {},
            },
        )
    return out


def write_config_json(path: Path, data: Any) -> None:
    """A checkpoint's JSON file (``config.json``, ``adapter_config.json``): indented, keys sorted, atomic."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_checkpoint_config(directory: str | Path) -> dict[str, Any]:
    """The checkpoint's ``config.json``; ``FileNotFoundError``/``ValueError`` if it is not one."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: not a VLA checkpoint directory (missing {CONFIG_FILE})")
    data = read_json(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(
            f"{path}: 'format' is {data.get('format') if isinstance(data, dict) else None!r}, "
            f"expected {FORMAT!r}"
        )
    if data.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: format_version {data.get('format_version')!r} is not supported "
            f"(this code reads version {FORMAT_VERSION})"
        )
    for key in ("model", "preprocess", "action_adapter", "backbone", "files"):
        if not isinstance(data.get(key), dict):
            raise ValueError(f"{path}: key {key!r} must be a mapping, got {type(data.get(key)).__name__}")
    return data


def load_checkpoint(
    directory: str | Path,
    *,
    backbone_path: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
) -> LoadedCheckpoint:
    """Load a checkpoint written by ``save_checkpoint`` (model in eval mode).

    ``backbone_path`` overrides the saved base-model reference; ``device``/``dtype`` override where and
    in which precision the backbone runs. Errors name the file and what was expected: missing files,
    config keys of the wrong type, a base model whose architecture differs from the one trained on,
    and tensors missing from/unexpected in/mis-shaped against the model.
    """
    root = Path(directory)
    data = read_checkpoint_config(root)
    where = str(root / CONFIG_FILE)
    model_cfg = from_dict(ModelConfig, data["model"], f"{where}:model")
    preprocess = from_dict(PreprocessConfig, data["preprocess"], f"{where}:preprocess")
    adapter = from_dict(ActionAdapterConfig, data["action_adapter"], f"{where}:action_adapter")
    bb_over: dict[str, Any] = {}
    if backbone_path is not None:
        bb_over["path"] = backbone_path
    if device is not None:
        bb_over["device"] = device
    if dtype is not None:
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        bb_over["dtype"] = dtype
    files = data["files"]
    for key, name in files.items():
        if not (root / name).exists():
            raise FileNotFoundError(
                f"{root}: checkpoint file {name!r} ({key}) listed in {CONFIG_FILE} is missing"
            )
    if "backbone" in files:
        model = _model_from_saved_backbone(root, model_cfg, bb_over, files)
    else:
        model_cfg = replace(model_cfg, backbone=replace(model_cfg.backbone, **bb_over))
        backbone, tokenizer = load_backbone(model_cfg.backbone)
        _check_architecture(
            data["backbone"].get("architecture"),
            architecture(backbone.config),
            where,
            model_cfg.backbone.path,
        )
        saved_print, found_print = data["backbone"].get("fingerprint"), fingerprint(backbone)
        if saved_print and saved_print != found_print:
            warnings.warn(
                f"{where}: the base model at {resolve_path(model_cfg.backbone.path)} has the trained "
                f"architecture but different weights (fingerprint {found_print}, trained on {saved_print}); "
                f"the adapter and head were trained on another base model",
                UserWarning,
                stacklevel=2,
            )
        model = VLAModel(model_cfg, backbone, tokenizer)
    head_file = root / files["head"]
    _load_into(model, "head", read_safetensors(head_file), _head_state(model), head_file)
    if model_cfg.train_mode == "lora":
        if "adapter" not in files:
            raise FileNotFoundError(f"{root}: train_mode is 'lora' but the checkpoint lists no adapter")
        adapter_file = root / files["adapter"] / ADAPTER_WEIGHTS
        if not adapter_file.is_file():
            raise FileNotFoundError(f"{adapter_file}: LoRA adapter weights missing")
        _load_into(model, "adapter", read_safetensors(adapter_file), _lora_state(model), adapter_file)
    model.eval()
    return LoadedCheckpoint(model, preprocess, adapter, dict(data.get("provenance") or {}), root)


def _model_from_saved_backbone(
    root: Path, cfg: ModelConfig, bb_over: dict[str, Any], files: dict[str, str]
) -> VLAModel:
    from transformers import Kosmos2Config

    bb_over.pop("path", None)
    cfg = replace(cfg, backbone=replace(cfg.backbone, **bb_over))
    bb_dir = root / files["backbone"]
    kcfg = Kosmos2Config.from_pretrained(bb_dir, local_files_only=True)
    backbone = untrained_backbone(kcfg, DTYPES[cfg.backbone.dtype])  # overwritten below
    weights_file = bb_dir / BACKBONE_WEIGHTS
    if not weights_file.is_file():
        raise FileNotFoundError(f"{weights_file}: backbone weights missing")
    aliases = read_safetensors_json_metadata(weights_file, "aliases")
    load_checked(backbone, read_safetensors(weights_file), weights_file, may_lack=aliases, label="file")
    return VLAModel(cfg, ready(backbone, cfg.backbone), load_tokenizer(bb_dir))


def _check_architecture(saved: Any, found: dict[str, Any], where: str, path: str) -> None:
    if not isinstance(saved, dict):
        raise ValueError(f"{where}: backbone.architecture must be a mapping, got {type(saved).__name__}")
    differing = {
        k: (saved.get(k), found.get(k))
        for k in sorted(set(saved) | set(found))
        if saved.get(k) != found.get(k)
    }
    if differing:
        lines = ", ".join(f"{k}: trained {a!r} vs found {b!r}" for k, (a, b) in differing.items())
        raise ValueError(
            f"{where}: the checkpoint was trained on a different backbone architecture than "
            f"the one at {resolve_path(path)} ({lines})"
        )


def _load_into(
    model: VLAModel,
    part: str,
    state: dict[str, torch.Tensor],
    expected: dict[str, torch.Tensor],
    source: Path,
) -> None:
    """Strictly copy ``state`` (keys as produced by ``_head_state``/``_lora_state``) into ``model``."""
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    require_matching_keys(source, state, expected, missing, unexpected, label="file")
    with torch.no_grad():
        if part == "head":
            model.action_token.copy_(state["action_token"])
            model.act_head.load_state_dict(
                {k[len("act_head.") :]: v for k, v in state.items() if k.startswith("act_head.")}, strict=True
            )
        else:
            params = dict(model.backbone.named_parameters())
            for key, value in state.items():
                name = key[len(PEFT_PREFIX) :]
                a, b = name.rsplit(".", 1)
                params[f"{a}.default.{b}"].copy_(value)
