"""Import the team's RoboVLMs checkpoints: a PyTorch Lightning ``.ckpt`` plus its JSON training config.

State-dict layout (RoboVLMs ``BaseTrainer.model`` = ``RoboKosMos``):

- ``model.backbone.*``: ``Kosmos2ForConditionalGeneration`` with peft LoRA injected in place
  (``...q_proj.base_layer.weight``, ``...q_proj.lora_A.default.weight``, ``...lora_B.default.weight``)
  wherever the team's target rule put it (``policies.vla.robovlms_lora``: vision encoder, projection
  and text model);
- ``model.model.base_model.model.*``: the same tensors again, seen through the ``PeftModel`` wrapper
  (either copy alone is accepted; both must agree);
- ``model.act_head.rnn.*`` (LSTM), ``model.act_head.velocities.mlp.{0,2,4,6}.*`` (MLP + tanh);
- ``model.action_token`` (text hidden size).

JSON keys read: ``window_size``, ``fwd_pred_next_n``, ``image_size``, ``act_head`` (``type``,
``hidden_size``, ``num_layers``, ``action_dim``, ``policy_rnn_dropout_p``, ``down_sample``, ``latent``),
``train_setup`` (``lora_enable``, ``lora_r``, ``lora_alpha``, ``lora_dropout``, ``lora_bias``,
``lora_target_modules``, ``freeze_backbone``, ``train_vision``), the base model path from
``model_path``, ``vlm.pretrained_model_name_or_path`` or ``model_url``, and two keys only this bench's
exporter writes: ``preprocess_profile`` and ``mvla_token_layout``.

Imported checkpoints run in the ``robovlms_fallback`` token layout (what trained them) and with the
preprocessing profile of the team's loader at the checkpoint's date (``policies.vla.profiles``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from common.files import atomic_write_text, atomic_write_via
from policies.vla import profiles
from policies.vla.backbone import load_backbone
from policies.vla.config import (
    BackboneConfig,
    HeadConfig,
    LoraSettings,
    ModelConfig,
    PreprocessConfig,
)
from policies.vla.model import VLAModel
from policies.vla.robovlms_lora import check_targets, checkpoint_targets, merge_copies
from policies.vla.weights import load_checked, read_state_dict

PREFIX = "model."
ALIAS_PREFIX = "model.model.base_model.model."
PEFT_INNER = "base_model.model."
SUPPORTED_HEADS = ("MobileVLALSTMDecoder", "NavPolicyRegression", "LSTMDecoder")
TEAM_LAYOUT = "robovlms_fallback"


@dataclass
class ImportReport:
    """What the import decided and checked (recorded in the policy's provenance)."""

    preprocess_profile: str
    profile_reason: str
    token_layout: str
    lora_modules: int = 0
    lora_rule: str = ""
    missing: int = 0
    unexpected: int = 0
    peft_copies: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def map_state_dict(
    state: dict[str, torch.Tensor], source: Any = "checkpoint"
) -> tuple[dict[str, torch.Tensor], list[str], list[str]]:
    """RoboVLMs keys → this package's ``VLAModel`` keys.

    Returns (mapped, unmappable keys, names of the peft copies found). The backbone may come as
    ``model.backbone.*`` (optionally itself ``model.backbone.base_model.model.*``) and/or
    ``model.model.base_model.model.*``; both copies must agree (``merge_copies``).
    """
    rest: dict[str, torch.Tensor] = {}
    primary: dict[str, torch.Tensor] = {}
    alias: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for key, value in state.items():
        if key.startswith(ALIAS_PREFIX):
            alias["backbone." + key[len(ALIAS_PREFIX) :]] = value
        elif key.startswith(PREFIX + "backbone."):
            inner = key[len(PREFIX + "backbone.") :]
            primary["backbone." + inner.removeprefix(PEFT_INNER)] = value
        elif key.startswith(PREFIX + "act_head.") or key == PREFIX + "action_token":
            rest[key[len(PREFIX) :]] = value
        else:
            unknown.append(key)
    copies = [name for name, d in (("model.backbone", primary), ("model.model.base_model.model", alias)) if d]
    mapped = merge_copies(primary, alias, source)
    mapped.update(rest)
    return mapped, unknown, copies


def _require(cfg: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in cfg:
        raise KeyError(f"{where}: missing key {key!r}")
    value = cfg[key]
    if isinstance(value, bool) and kind in (int, float) or not isinstance(value, kind):
        raise TypeError(f"{where}: key {key!r} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def config_from_robovlms(
    cfg: dict[str, Any],
    state: dict[str, torch.Tensor] | None = None,
    *,
    backbone_path: str | None = None,
    device: str = "cpu",
    dtype: str = "fp32",
    where: str = "RoboVLMs config",
    paths: tuple[str | Path, ...] = (),
) -> tuple[ModelConfig, PreprocessConfig]:
    """Our ``ModelConfig`` and ``PreprocessConfig`` from a RoboVLMs JSON config.

    RoboVLMs hard-codes the head MLP widths (1024, 512, 256); when ``state`` is given they are read from
    its ``act_head.velocities.mlp.*.weight`` shapes instead (so scaled-down test models import too).
    Preprocessing is the profile of the team's loader at the checkpoint's date (``paths``: the config
    and checkpoint files, searched for a date); the token layout is ``robovlms_fallback``.
    """
    window = _require(cfg, "window_size", int, where)
    chunk = _require(cfg, "fwd_pred_next_n", int, where)
    head = _require(cfg, "act_head", dict, where)
    head_type = _require(head, "type", str, f"{where}:act_head")
    if head_type not in SUPPORTED_HEADS:
        raise ValueError(
            f"{where}: act_head.type {head_type!r} is not supported; supported: {SUPPORTED_HEADS}"
        )
    if head.get("latent", 1) != 1 or head.get("down_sample", "none") not in ("none", "pooling"):
        raise ValueError(
            f"{where}: only act_head.latent=1 with down_sample none/pooling is supported, "
            f"got latent={head.get('latent')!r} down_sample={head.get('down_sample')!r}"
        )
    mlp_hidden: tuple[int, ...] = (1024, 512, 256)
    if state is not None:
        widths = _mlp_widths(state)
        if widths:
            mlp_hidden = widths
    head_cfg = HeadConfig(
        type="lstm",
        hidden_size=_require(head, "hidden_size", int, f"{where}:act_head"),
        num_layers=int(head.get("num_layers", 4)),
        dropout=float(head.get("policy_rnn_dropout_p", 0.0)),
        mlp_hidden=mlp_hidden,
        chunk=chunk,
        n_axes=_require(head, "action_dim", int, f"{where}:act_head"),
    )
    setup = cfg.get("train_setup", {})
    if not isinstance(setup, dict):
        raise TypeError(f"{where}: train_setup must be a mapping, got {setup!r}")
    lora_enable = bool(setup.get("lora_enable", False))
    freeze = bool(setup.get("freeze_backbone", True))
    train_mode = "lora" if lora_enable else ("frozen" if freeze else "full")
    lora = LoraSettings(
        r=int(setup.get("lora_r", 32)),
        alpha=int(setup.get("lora_alpha", 16)),
        dropout=float(setup.get("lora_dropout", 0.1)),
        bias=str(setup.get("lora_bias", "none")),  # type: ignore[arg-type]
    )
    path = (
        backbone_path
        or cfg.get("model_path")
        or (cfg.get("vlm") or {}).get("pretrained_model_name_or_path")
        or cfg.get("model_url")
    )
    if not isinstance(path, str) or not path or path.startswith("http"):
        raise ValueError(
            f"{where}: no local base-model path (model_path / vlm.pretrained_model_name_or_path); "
            f"pass backbone_path="
        )
    layout = cfg.get("mvla_token_layout", TEAM_LAYOUT)
    model_cfg = ModelConfig(
        backbone=BackboneConfig(path=path, init="pretrained", dtype=dtype, device=device),  # type: ignore[arg-type]
        head=head_cfg,
        window=window,
        train_mode=train_mode,  # type: ignore[arg-type]
        train_vision=bool(setup.get("train_vision", False)),
        lora=lora,
        token_layout=layout,
    )
    profile, _ = profiles.profile_for_robovlms(cfg, *paths)
    preprocess = PreprocessConfig(
        resize=int(cfg.get("image_size", 224)), profile=profile, **profiles.PROFILES[profile]
    )
    return model_cfg, preprocess


def _mlp_widths(state: dict[str, torch.Tensor]) -> tuple[int, ...]:
    pattern = re.compile(r"^(?:model\.)?act_head\.velocities\.mlp\.(\d+)\.weight$")
    layers = sorted((int(m.group(1)), v.shape[0]) for k, v in state.items() if (m := pattern.match(k)))
    return tuple(width for _, width in layers[:-1])


def load_robovlms_checkpoint(
    ckpt_path: str | Path,
    config_path: str | Path,
    *,
    backbone_path: str | None = None,
    device: str = "cpu",
    dtype: str = "fp32",
) -> tuple[VLAModel, PreprocessConfig, ImportReport]:
    """Build our model from a RoboVLMs ``.ckpt`` + JSON config and load every tensor strictly.

    LoRA goes exactly where the checkpoint carries it, checked against the config (its
    ``lora_target_modules``, else the team's suffix rule) and its ``lora_r``. Raises ``RuntimeError``
    listing missing and unexpected keys (and shape mismatches), ``ValueError`` for LoRA that does not
    match the config or peft copies that disagree.
    """
    cfg_file = Path(config_path)
    missing = [
        f"{what} {p}"
        for what, p in (("checkpoint", Path(ckpt_path)), ("config", cfg_file))
        if not p.is_file()
    ]
    if missing:
        raise FileNotFoundError(f"RoboVLMs {' and '.join(missing)} not found")
    cfg = json.loads(cfg_file.read_text())
    state = read_state_dict(ckpt_path)
    where = str(cfg_file)
    model_cfg, preprocess = config_from_robovlms(
        cfg,
        state,
        backbone_path=backbone_path,
        device=device,
        dtype=dtype,
        where=where,
        paths=(cfg_file, ckpt_path),
    )
    _, reason = profiles.profile_for_robovlms(cfg, cfg_file, ckpt_path)
    mapped, unknown, copies = map_state_dict(state, ckpt_path)
    lora_mods = checkpoint_targets(mapped, ckpt_path)
    backbone, tokenizer = load_backbone(model_cfg.backbone)
    report = ImportReport(preprocess.profile or "", reason, model_cfg.token_layout, peft_copies=copies)
    if model_cfg.train_mode == "lora":
        report.lora_rule = check_targets(
            lora_mods, backbone, cfg.get("train_setup", {}), model_cfg.lora.r, where
        )
        report.lora_modules = len(lora_mods)
        model_cfg = replace(model_cfg, lora=replace(model_cfg.lora, target_modules=tuple(sorted(lora_mods))))
    elif lora_mods:
        raise ValueError(
            f"{where}: train_setup.lora_enable is false but {ckpt_path} carries LoRA on "
            f"{len(lora_mods)} modules"
        )
    model = VLAModel(model_cfg, backbone, tokenizer)
    load_mapped_state(model, mapped, unknown, source=ckpt_path)
    return model.eval(), preprocess, report


def load_mapped_state(
    model: VLAModel, mapped: dict[str, torch.Tensor], unknown: list[str], source: Any = "checkpoint"
) -> None:
    """Strictly load mapped RoboVLMs tensors into ``model`` (every key used, every shape checked)."""
    load_checked(model, mapped, source, also_unexpected=unknown)


def export_state_dict(model: VLAModel, *, with_peft_alias: bool = True) -> dict[str, torch.Tensor]:
    """``model``'s tensors in the RoboVLMs Lightning layout (for tests and round-trip tooling)."""
    out: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        out[PREFIX + key] = value.detach().cpu().clone()
        if with_peft_alias and key.startswith("backbone.") and model.config.train_mode == "lora":
            out[ALIAS_PREFIX + key[len("backbone.") :]] = value.detach().cpu().clone()
    return out


def write_robovlms_checkpoint(
    model: VLAModel,
    ckpt_path: str | Path,
    config_path: str | Path,
    image_size: int | None = None,
    preprocess_profile: str | None = None,
) -> None:
    """Write ``model`` as a RoboVLMs-style ``.ckpt`` (``torch.save({"state_dict": ...})``) + JSON config.

    The JSON also records the LoRA modules (full names), the model's token layout and, when given,
    the preprocessing profile, so the import reproduces this model exactly."""
    cfg = model.config
    rcfg: dict[str, Any] = {
        "model": "kosmos",
        "model_path": cfg.backbone.path,
        "vlm": {
            "type": "AutoModelForVision2Seq",
            "pretrained_model_name_or_path": cfg.backbone.path,
            "name": "kosmos",
        },
        "image_size": image_size or model.image_size,
        "window_size": cfg.window,
        "fwd_pred_next_n": cfg.head.chunk,
        "train_setup": {
            "freeze_backbone": cfg.train_mode != "full",
            "train_vision": cfg.train_vision,
            "lora_enable": cfg.train_mode == "lora",
            "lora_r": cfg.lora.r,
            "lora_alpha": cfg.lora.alpha,
            "lora_dropout": cfg.lora.dropout,
            "lora_bias": cfg.lora.bias,
            "lora_target_modules": sorted(model.lora_targets),
        },
        "mvla_token_layout": cfg.token_layout,
        "act_head": {
            "type": "MobileVLALSTMDecoder",
            "hidden_size": cfg.head.hidden_size,
            "num_layers": cfg.head.num_layers,
            "action_dim": cfg.head.n_axes,
            "down_sample": "none",
            "latent": 1,
            "policy_rnn_dropout_p": cfg.head.dropout,
            "fwd_pred_next_n": cfg.head.chunk,
            "window_size": cfg.window,
        },
    }
    if preprocess_profile is not None:
        profiles.check_profile(preprocess_profile)
        rcfg["preprocess_profile"] = preprocess_profile
    if cfg.head.type != "lstm":
        raise ValueError(f"RoboVLMs export needs an lstm head, this model has {cfg.head.type!r}")
    state = {"state_dict": export_state_dict(model)}
    atomic_write_via(ckpt_path, lambda tmp: torch.save(state, tmp))
    atomic_write_text(config_path, json.dumps(rcfg, indent=2))
