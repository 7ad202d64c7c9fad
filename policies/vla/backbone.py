"""Load the Kosmos-2 backbone and its tokenizer from a local Hugging Face-format directory.

The same code path serves the real ``microsoft/kosmos-2-patch14-224`` copy and the tiny test model
(``policies.vla.tiny``); ``init: random`` builds random weights for latency benchmarks. Nothing here
downloads: ``local_files_only=True`` throughout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from policies.vla.config import BackboneConfig, resolve_path
from policies.vla.weights import load_backbone_weights

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

ARCHITECTURE_KEYS = {
    "text_config": (
        "vocab_size",
        "embed_dim",
        "layers",
        "ffn_dim",
        "attention_heads",
        "max_position_embeddings",
    ),
    "vision_config": (
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "image_size",
        "patch_size",
    ),
}


def torch_device(name: str) -> torch.device:
    """``cpu`` / ``cuda`` / ``cuda:N``; ``RuntimeError`` when CUDA is asked for but not available."""
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {name!r} requested but torch.cuda.is_available() is False on this machine"
        )
    return torch.device(name)


def architecture(config: Any) -> dict[str, Any]:
    """The shape-defining fields of a ``Kosmos2Config`` (what must match for weights to load)."""
    out: dict[str, Any] = {"latent_query_num": config.latent_query_num}
    for sub, keys in ARCHITECTURE_KEYS.items():
        sub_cfg = getattr(config, sub)
        for key in keys:
            out[f"{sub}.{key}"] = getattr(sub_cfg, key)
    return out


def fingerprint(backbone: nn.Module) -> str:
    """A short hash of a few backbone tensors (final layer norms, first latent query, first token
    embedding): tells two base models of the same architecture apart (e.g. Microsoft's vs a
    robot-pretrained one)."""
    import hashlib

    names = (
        "text_model.model.layer_norm.weight",
        "vision_model.model.post_layernorm.weight",
        "image_to_text_projection.latent_query",
        "text_model.model.embed_tokens.weight",
    )
    state = backbone.state_dict()
    digest = hashlib.sha256()
    for name in names:
        tensor = state[name]
        digest.update(tensor.reshape(-1)[:4096].detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


TOKENIZER_FILES = ("tokenizer.json", "sentencepiece.bpe.model", "tokenizer.model")
"""A saved tokenizer holds one of these (transformers otherwise blames a missing sentencepiece install)."""


def load_tokenizer(path: Path) -> Any:
    """The tokenizer saved in folder ``path``; ``FileNotFoundError`` naming the folder and the files it
    lacks when none of ``TOKENIZER_FILES`` is there."""
    from transformers import AutoTokenizer

    if not any((path / name).is_file() for name in TOKENIZER_FILES):
        raise FileNotFoundError(
            f"{path}: no tokenizer file ({' or '.join(TOKENIZER_FILES)}); the folder is incomplete: copy it "
            "again or re-export the checkpoint"
        )
    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def load_backbone(cfg: BackboneConfig) -> tuple[nn.Module, Any]:
    """``(Kosmos2ForConditionalGeneration, tokenizer)`` on ``cfg.device`` in ``cfg.dtype``, in eval mode.

    Raises ``FileNotFoundError`` naming the directory when a pretrained backbone is missing.
    """
    from transformers import AutoTokenizer, Kosmos2Config, Kosmos2ForConditionalGeneration

    torch_device(cfg.device)  # fail before loading anything when CUDA is asked for but absent
    dtype = DTYPES[cfg.dtype]
    path = resolve_path(cfg.path)
    if cfg.init == "tiny":
        from policies.vla.tiny import ensure_tiny_backbone

        ensure_tiny_backbone(path, sizes=cfg.tiny_sizes)
    has_config = (path / "config.json").is_file()
    if cfg.init in ("pretrained", "tiny"):
        if not has_config:
            raise FileNotFoundError(
                f"Kosmos-2 backbone directory {path} has no config.json: put a Hugging Face-format copy of "
                f"microsoft/kosmos-2-patch14-224 there (save_pretrained layout), point backbone.path at one, "
                f"or use backbone.init=tiny (test model) / backbone.init=random (latency only)"
            )
        model = Kosmos2ForConditionalGeneration.from_pretrained(path, dtype=dtype, local_files_only=True)
        tokenizer = load_tokenizer(path)
    else:
        config = Kosmos2Config.from_pretrained(path, local_files_only=True) if has_config else Kosmos2Config()
        model = untrained_backbone(config, dtype, seed=0)
        if (path / "tokenizer_config.json").is_file():
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        else:
            from policies.vla.tiny import build_tokenizer

            tokenizer = build_tokenizer()
    if cfg.robovlms_weights:
        load_backbone_weights(model, resolve_path(cfg.robovlms_weights))
    return ready(model, cfg), tokenizer


def untrained_backbone(config: Any, dtype: torch.dtype, seed: int | None = None) -> nn.Module:
    """A ``Kosmos2ForConditionalGeneration`` of ``config`` with fresh weights (from ``seed`` when given;
    to be overwritten otherwise), leaving the global torch RNG as it was."""
    from transformers import Kosmos2ForConditionalGeneration

    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return Kosmos2ForConditionalGeneration._from_config(config, dtype=dtype)


def ready(model: nn.Module, cfg: BackboneConfig) -> nn.Module:
    """``model`` for inference per ``cfg``: no KV cache, on ``cfg.device``, eval mode."""
    model.config.use_cache = False
    return model.to(torch_device(cfg.device)).eval()


def lora_target_modules(backbone: nn.Module) -> list[str]:
    """Every ``nn.Linear`` of the language model (``text_model``) except ``lm_head``, by full name.

    The vision tower (``vision_model``) and the image-to-text projection are left out, as in the real
    MobileVLA training setup.
    """
    names = [
        name
        for name, module in backbone.named_modules()
        if isinstance(module, nn.Linear)
        and name.startswith("text_model.")
        and name.split(".")[-1] != "lm_head"
    ]
    if not names:
        raise ValueError("no nn.Linear found under backbone.text_model: is this a Kosmos-2 model?")
    return names
