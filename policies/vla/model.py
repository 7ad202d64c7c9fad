"""The VLA network: Kosmos-2 backbone + learnable action token + action head (RoboVLMs "MobileVLA").

Per frame, the language model reads (right-padded, causal), in the ``bench`` token layout:
``<s> <image> [latent_query_num image embeddings] </image> {prompt tokens} </s> [ACTION]``
with ``prompt = "<grounding>An image of a robot {instruction}"``; the final hidden state at the action
token (text hidden size, 2048 at full size) is the frame's feature. The ``robovlms_fallback`` layout
reproduces what trained every team checkpoint (RoboVLMs ``forward_continuous``, Kosmos-2 fallback
branch): ``<s> {prompt tokens} </s>`` padded with attention mask 0 up to ``latent_query_num``
positions, the image embeddings written over the first ``latent_query_num`` positions, then
``[ACTION]``; a prompt shorter than the latents is thus never seen, and only as many latents as it has
tokens are attended to. The head reads the window of W
such features. The language model is called through its base transformer, so no vocabulary logits
(``lm_head``) are ever computed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from policies.vla.backbone import DTYPES, load_backbone, lora_target_modules
from policies.vla.config import ModelConfig
from policies.vla.heads import build_head


class VLAModel(nn.Module):
    """Backbone (``self.backbone``: ``Kosmos2ForConditionalGeneration``, LoRA injected in place when
    ``train_mode == "lora"``), ``self.action_token`` (D,) and ``self.act_head``; the head and the action
    token are kept in float32 whatever the backbone dtype."""

    def __init__(self, config: ModelConfig, backbone: nn.Module, tokenizer: Any):
        super().__init__()
        self.config = config
        self.backbone = backbone
        self.tokenizer = tokenizer
        kcfg = backbone.config
        self.text_dim = int(kcfg.text_config.embed_dim)
        self.num_image_tokens = int(kcfg.latent_query_num)
        self.image_size = int(kcfg.vision_config.image_size)
        self.boi_id, self.eoi_id = self._token_ids("<image>", "</image>")
        self.bos_id = tokenizer.bos_token_id
        self.pad_id = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else kcfg.text_config.pad_token_id
        )
        self._prompt_cache: dict[str, list[int]] = {}
        device = next(backbone.parameters()).device
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.action_token = nn.Parameter(torch.zeros(self.text_dim, device=device))
            self.act_head = build_head(config.head, self.text_dim).to(device)
            self.lora_targets: list[str] = []
            self.lora_merged = False
            if config.train_mode == "lora":
                self._inject_lora()
        self.set_trainable()

    # ---------------------------------------------------------------- construction
    def _token_ids(self, *tokens: str) -> list[int]:
        ids = self.tokenizer.convert_tokens_to_ids(list(tokens))
        unk = self.tokenizer.unk_token_id
        missing = [t for t, i in zip(tokens, ids, strict=True) if i is None or i == unk]
        if missing:
            raise ValueError(f"tokenizer lacks the Kosmos-2 token(s) {missing}; is it a Kosmos-2 tokenizer?")
        return ids

    def _inject_lora(self) -> None:
        from peft import LoraConfig, inject_adapter_in_model

        lcfg = self.config.lora
        targets = list(lcfg.target_modules) if lcfg.target_modules else lora_target_modules(self.backbone)
        self.lora_targets = targets
        peft_cfg = LoraConfig(
            r=lcfg.r, lora_alpha=lcfg.alpha, lora_dropout=lcfg.dropout, bias=lcfg.bias, target_modules=targets
        )
        inject_adapter_in_model(peft_cfg, self.backbone)
        dtype = next(self.backbone.text_model.parameters()).dtype
        for name, p in self.backbone.named_parameters():
            if "lora_" in name:
                p.data = p.data.to(dtype)

    def lora_config_dict(self) -> dict[str, Any]:
        """The peft ``LoraConfig`` of the injected adapter as a JSON-ready dict (``{}`` without LoRA)."""
        peft_cfg = getattr(self.backbone, "peft_config", {}).get("default")
        if peft_cfg is None:
            return {}
        d = peft_cfg.to_dict()
        return {k: (sorted(v) if isinstance(v, set) else v) for k, v in d.items()}

    def set_trainable(self) -> None:
        """requires_grad per ``train_mode``: head + action token always; LoRA tensors in ``lora`` mode
        (wherever they sit: peft trains the team's vision-tower adapters too); the whole backbone in
        ``full`` mode; the vision tower's base weights only with ``train_vision``."""
        mode = self.config.train_mode
        for name, p in self.backbone.named_parameters():
            if mode == "lora" and "lora_" in name:
                p.requires_grad_(True)
            elif name.startswith("vision_model."):
                p.requires_grad_(self.config.train_vision)
            elif mode == "full":
                p.requires_grad_(True)
            else:
                p.requires_grad_(mode == "lora" and "lora_" in name)
        self.action_token.requires_grad_(True)
        self.act_head.requires_grad_(True)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    @property
    def device(self) -> torch.device:
        return self.action_token.device

    @property
    def backbone_dtype(self) -> torch.dtype:
        return self.backbone.text_model.model.embed_tokens.weight.dtype

    # ---------------------------------------------------------------- inputs
    def prompt_ids(self, instruction: str) -> list[int]:
        """Token ids of the prompt for ``instruction`` without the leading ``<s>`` (ends with ``</s>``)."""
        ids = self._prompt_cache.get(instruction)
        if ids is None:
            text = self.config.prompt.format(instruction=instruction)
            ids = list(self.tokenizer(text, add_special_tokens=True)["input_ids"])
            if ids and ids[0] == self.bos_id:
                ids = ids[1:]
            self._prompt_cache[instruction] = ids
        return ids

    def tokenize(self, instructions: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded prompt ids (N, L) and their lengths (N,), on the model's device."""
        seqs = [self.prompt_ids(i) for i in instructions]
        width = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        for row, s in enumerate(seqs):
            ids[row, : len(s)] = torch.tensor(s, dtype=torch.long)
        lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
        return ids.to(self.device), lengths.to(self.device)

    # ---------------------------------------------------------------- forward pieces
    def _vision_trainable(self) -> bool:
        return any(
            p.requires_grad
            for n, p in self.backbone.named_parameters()
            if n.startswith(("vision_model.", "image_to_text_projection."))
        )

    def encode_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) → image embeddings (N, latent_query_num, D): vision tower, post-layernorm,
        L2 normalisation, image-to-text projection (as ``Kosmos2Model.get_image_features``)."""
        if pixel_values.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"pixel_values: expected (N, 3, {self.image_size}, {self.image_size}) for this "
                f"backbone, got {tuple(pixel_values.shape)}"
            )
        px = pixel_values.to(self.device, self.backbone_dtype)
        with torch.set_grad_enabled(torch.is_grad_enabled() and self._vision_trainable()):
            vision = self.backbone.vision_model(pixel_values=px, return_dict=True)
            feats = self.backbone.vision_model.model.post_layernorm(vision.last_hidden_state)
            feats = F.normalize(feats, dim=-1)
            image_embeds, _ = self.backbone.image_to_text_projection(feats)
        return image_embeds

    def encode_text(
        self, image_embeds: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """Language model over image + prompt + action token in ``config.token_layout``; returns the
        action token's final hidden state (N, D) in float32. ``ids``/``lengths`` come from ``tokenize``
        (one row per frame)."""
        n, q = image_embeds.shape[:2]
        if ids.shape[0] != n:
            raise ValueError(f"encode_text: {n} images but {ids.shape[0]} prompts")
        if self.config.token_layout == "robovlms_fallback":
            return self._encode_text_fallback(image_embeds, ids, lengths)
        width = ids.shape[1]
        total = 3 + q + width + 1
        full = torch.full((n, total), self.pad_id, dtype=torch.long, device=self.device)
        full[:, 0] = self.bos_id
        full[:, 1] = self.boi_id
        full[:, 2 + q] = self.eoi_id
        full[:, 3 + q : 3 + q + width] = ids
        text = self.backbone.text_model.model
        emb = text.embed_tokens(full)
        emb = torch.cat([emb[:, :2], image_embeds.to(emb.dtype), emb[:, 2 + q :]], dim=1)
        positions = torch.arange(total, device=self.device)
        act_pos = 3 + q + lengths.to(self.device)
        is_action = (positions[None, :] == act_pos[:, None]).unsqueeze(-1)
        emb = torch.where(is_action, self.action_token.to(emb.dtype), emb)
        attention = (positions[None, :] <= act_pos[:, None]).long()
        hidden = text(inputs_embeds=emb, attention_mask=attention, use_cache=False).last_hidden_state
        return hidden[torch.arange(n, device=self.device), act_pos].float()

    def _encode_text_fallback(
        self, image_embeds: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """The team's layout: ``<s> prompt </s>`` (mask 1), padded to at least ``latent_query_num``
        positions (mask 0), latents over positions ``[0, latent_query_num)``, action token last."""
        n, q = image_embeds.shape[:2]
        width = max(ids.shape[1] + 1, q)
        full = torch.zeros((n, width), dtype=torch.long, device=self.device)
        full[:, 0] = self.bos_id
        full[:, 1 : 1 + ids.shape[1]] = ids
        positions = torch.arange(width + 1, device=self.device)
        attention = (positions[None, :] < 1 + lengths.to(self.device)[:, None]).long()
        attention[:, width] = 1
        text = self.backbone.text_model.model
        emb = text.embed_tokens(full)
        emb = torch.cat(
            [image_embeds.to(emb.dtype), emb[:, q:], self.action_token.to(emb.dtype).expand(n, 1, -1)], dim=1
        )
        hidden = text(inputs_embeds=emb, attention_mask=attention, use_cache=False).last_hidden_state
        return hidden[:, -1].float()

    def merge_lora(self) -> int:
        """Fold every LoRA adapter into its base weight and put the plain layer back (inference only:
        the model then runs at the speed of one without LoRA). Returns the number of layers merged."""
        from peft.tuners.tuners_utils import BaseTunerLayer

        merged = 0
        for name, module in list(self.backbone.named_modules()):
            if isinstance(module, BaseTunerLayer):
                module.merge()
                parent_name, _, child = name.rpartition(".")
                parent = self.backbone.get_submodule(parent_name) if parent_name else self.backbone
                setattr(parent, child, module.get_base_layer())
                merged += 1
        self.lora_merged = merged > 0
        return merged

    def encode_frames(
        self, pixel_values: torch.Tensor, ids: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor:
        """(N, 3, S, S) frames with one prompt row each → action-token features (N, D) float32."""
        return self.encode_text(self.encode_images(pixel_values), ids, lengths)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """(B, W, D) frame features → (B, W, chunk, n_axes) actions in [-1, 1]."""
        return self.act_head(features.float())

    def forward(self, pixel_values: torch.Tensor, instructions: Sequence[str]) -> torch.Tensor:
        """Windows of frames (B, W, 3, S, S) and one instruction per window → (B, W, chunk, n_axes)."""
        if pixel_values.ndim != 5:
            raise ValueError(f"pixel_values: expected (B, W, 3, S, S), got {tuple(pixel_values.shape)}")
        b, w = pixel_values.shape[:2]
        if len(instructions) != b:
            raise ValueError(f"forward: {b} windows but {len(instructions)} instructions")
        ids, lengths = self.tokenize(instructions)
        feats = self.encode_frames(
            pixel_values.flatten(0, 1), ids.repeat_interleave(w, 0), lengths.repeat_interleave(w, 0)
        )
        return self.head(feats.view(b, w, -1))


def build_model(config: ModelConfig) -> VLAModel:
    """Load the backbone named by ``config.backbone`` and build the VLA around it (head untrained)."""
    backbone, tokenizer = load_backbone(config.backbone)
    return VLAModel(config, backbone, tokenizer)


def dtype_name(dtype: torch.dtype) -> str:
    return {v: k for k, v in DTYPES.items()}.get(dtype, str(dtype))


def quantize_linears(model: VLAModel) -> None:
    """Dynamic INT8 quantisation (torch.ao) of every ``nn.Linear`` of the backbone, in place; fp32 only."""
    if model.backbone_dtype != torch.float32 or model.device.type != "cpu":
        raise ValueError(
            f"quantize='int8_dynamic' needs an fp32 backbone on the CPU, got "
            f"{dtype_name(model.backbone_dtype)} on {model.device}; pass dtype='fp32', device='cpu'"
        )
    import warnings

    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (DeprecationWarning, UserWarning))
        quantize_dynamic(model.backbone, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
