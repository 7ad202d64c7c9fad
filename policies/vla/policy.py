"""The registered ``vla`` policy (Kosmos-2 + action token + head, RoboVLMs MobileVLA).

``VLAPolicy`` keeps its own rolling window of the last W frames across ``act`` calls (cleared by
``reset``). Each frame's action-token feature depends only on that frame and the instruction, so it is
computed once, when the frame is first needed for a plan, and cached; a plan runs the head over the
cached window. ``last_timing`` splits each step into preprocess / VLM (vision + projection + language
model; ``extra["vision_ms"]``, ``extra["lm_ms"]``) / head / postprocess.
"""

from __future__ import annotations

import time
import warnings
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from policies.base import OBS_INSTRUCTION, OBS_RGB, BasePolicy, StepTiming, register_policy
from policies.vla.action_adapter import ActionAdapter, ChunkExecutor
from policies.vla.config import (
    ActionAdapterConfig,
    ModelConfig,
    PreprocessConfig,
    diff,
    from_dict,
    merge,
    resolve_path,
    to_dict,
)
from policies.vla.model import VLAModel, build_model, dtype_name, quantize_linears
from policies.vla.preprocess import Preprocessor


@dataclass
class _Frame:
    pixels: torch.Tensor
    feature: torch.Tensor | None = None


@register_policy("vla")
class VLAPolicy(BasePolicy):
    """Kosmos-2 VLA policy.

    Sources (one of): ``checkpoint`` (this project's format), ``robovlms_checkpoint`` +
    ``robovlms_config`` (the team's Lightning ``.ckpt`` + JSON), or neither: an untrained model built
    from ``model`` settings (latency runs, smoke tests). ``preprocess`` / ``action_adapter`` override the
    saved settings, with a loud ``UserWarning`` showing both when they differ. ``backbone_path``,
    ``device``, ``dtype`` override where the backbone comes from and runs. ``num_threads`` sets torch's
    intra-op CPU threads for the whole process (1 avoids OpenMP spin-wait stalls of small models on a
    shared CPU: the tiny model takes ~2 ms per step with 1 thread, ~800 ms with 2 on a busy 2-core host).

    ``merge_lora`` (default on) folds LoRA into the base weights at load (inference needs no separate
    adapters; the model then runs at the speed of one without LoRA). ``quantize="int8_dynamic"``
    applies torch's dynamic INT8 quantisation to the backbone's ``nn.Linear`` layers (fp32 only; CPU).
    ``image_shape``: the (H, W, 3) RGB frame the policy is fed (``describe()``; any size is accepted).
    """

    name = "vla"

    def __init__(
        self,
        checkpoint: str | None = None,
        robovlms_checkpoint: str | None = None,
        robovlms_config: str | None = None,
        model: Mapping[str, Any] | None = None,
        preprocess: Mapping[str, Any] | None = None,
        action_adapter: Mapping[str, Any] | None = None,
        backbone_path: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        num_threads: int | None = None,
        merge_lora: bool = True,
        quantize: str | None = None,
        image_shape: tuple[int, int, int] | list[int] = (144, 256, 3),
    ) -> None:
        super().__init__()
        if quantize not in (None, "int8_dynamic"):
            raise ValueError(f"quantize must be null or 'int8_dynamic', got {quantize!r}")
        if num_threads is not None:
            if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
                raise ValueError(f"num_threads must be a positive int, got {num_threads!r}")
            torch.set_num_threads(num_threads)
        if checkpoint and robovlms_checkpoint:
            raise ValueError("give either checkpoint= (own format) or robovlms_checkpoint=, not both")
        saved_pre: PreprocessConfig | None = None
        saved_ad: ActionAdapterConfig | None = None
        self.source = "untrained"
        if checkpoint:
            from policies.vla.checkpoint import load_checkpoint

            loaded = load_checkpoint(
                resolve_path(checkpoint), backbone_path=backbone_path, device=device, dtype=dtype
            )
            self.model: VLAModel = loaded.model
            saved_pre, saved_ad = loaded.preprocess, loaded.action_adapter
            self.provenance = loaded.provenance
            self.source = str(checkpoint)
            if model:
                _warn_ignored_model(model, self.model.config, self.source)
        elif robovlms_checkpoint:
            from policies.vla.robovlms import load_robovlms_checkpoint

            if not robovlms_config:
                raise ValueError("robovlms_checkpoint= needs robovlms_config= (the JSON training config)")
            self.model, saved_pre, report = load_robovlms_checkpoint(
                resolve_path(robovlms_checkpoint),
                resolve_path(robovlms_config),
                backbone_path=backbone_path,
                device=device or "cpu",
                dtype=dtype or "fp32",
            )
            saved_ad = ActionAdapterConfig()
            self.provenance = {"robovlms_checkpoint": str(robovlms_checkpoint), "import": report.as_dict()}
            self.source = str(robovlms_checkpoint)
        else:
            cfg = from_dict(ModelConfig, dict(model or {}), "vla policy 'model' settings")
            bb = {
                k: v
                for k, v in (("path", backbone_path), ("device", device), ("dtype", dtype))
                if v is not None
            }
            cfg = merge(cfg, {"backbone": bb}, "vla policy 'model' settings")
            self.model = build_model(cfg).eval()
            self.provenance = {}
        self.preprocess_cfg = _settle(PreprocessConfig, saved_pre, preprocess, "PREPROCESSING", self.source)
        self.adapter_cfg = _settle(
            ActionAdapterConfig, saved_ad, action_adapter, "ACTION ADAPTER", self.source
        )
        if self.preprocess_cfg.resize != self.model.image_size:
            raise ValueError(
                f"preprocess.resize is {self.preprocess_cfg.resize} but the backbone's vision tower "
                f"takes {self.model.image_size}x{self.model.image_size} images"
            )
        self._hash_source = {
            "checkpoint": resolve_path(checkpoint) if checkpoint else None,
            "robovlms_checkpoint": resolve_path(robovlms_checkpoint) if robovlms_checkpoint else None,
            "robovlms_config": resolve_path(robovlms_config) if robovlms_config else None,
        }
        self._checkpoint_hash: str | None = None
        self.image_shape = tuple(int(v) for v in image_shape)
        if len(self.image_shape) != 3 or self.image_shape[2] != 3 or min(self.image_shape) < 1:
            raise ValueError(f"image_shape must be [H, W, 3], got {list(image_shape)}")
        if merge_lora and self.model.config.train_mode == "lora":
            self.model.merge_lora()
        self.quantization = quantize
        if quantize:
            quantize_linears(self.model)
        self.preprocessor = Preprocessor(self.preprocess_cfg)
        self.adapter = ActionAdapter(self.adapter_cfg)
        self.executor = ChunkExecutor(self.adapter_cfg)
        self.window = self.model.config.window
        self.device = str(self.model.device)
        self.dtype = dtype_name(self.model.backbone_dtype)
        self._cuda = self.model.device.type == "cuda"
        self._frames: deque[_Frame] = deque(maxlen=self.window)
        self._prompt: tuple[torch.Tensor, torch.Tensor] | None = None
        self.last_chunk: np.ndarray | None = None
        self.last_model_action: np.ndarray | None = None

    # ------------------------------------------------------------------ interface
    def reset(self, instruction: str) -> None:
        super().reset(instruction)
        self._frames.clear()
        self.executor.reset()
        self._prompt = None
        self.last_chunk = None
        self.last_model_action = None

    def act(self, obs: dict[str, Any]) -> np.ndarray:
        t0 = time.perf_counter()
        if not isinstance(obs, Mapping) or OBS_RGB not in obs:
            got = sorted(obs) if isinstance(obs, Mapping) else type(obs).__name__
            raise ValueError(
                f"observation: expected a dict with {OBS_RGB!r} ((H, W, 3) uint8 RGB) and "
                f"{OBS_INSTRUCTION!r}, got {got}"
            )
        instruction = obs.get(OBS_INSTRUCTION) or self.instruction
        if not isinstance(instruction, str) or not instruction:
            raise ValueError(
                "observation: no instruction (pass obs['instruction'] or call reset(instruction))"
            )
        if instruction != self.instruction or self._prompt is None:
            self._set_instruction(instruction)
        pixels = self.preprocessor(obs[OBS_RGB]).to(self.model.device, self.model.backbone_dtype)
        frame = _Frame(pixels)
        if not self._frames and self.adapter_cfg.repeat_first_frame:
            self._frames.append(frame)  # the collector's start row: same frame object, encoded once
        self._frames.append(frame)
        t1 = self._sync()
        vision_ms = lm_ms = head_ms = 0.0
        encoded = 0
        t3 = t1
        if self.executor.needs_plan():
            pending = list({id(f): f for f in self._frames if f.feature is None}.values())
            encoded = len(pending)
            with torch.inference_mode():
                if pending:
                    images = self.model.encode_images(torch.stack([f.pixels for f in pending]))
                    t2 = self._sync()
                    ids, lengths = self._prompt  # type: ignore[misc]
                    feats = self.model.encode_text(images, ids.expand(encoded, -1), lengths.expand(encoded))
                    t3 = self._sync()
                    for f, feat in zip(pending, feats, strict=True):
                        f.feature = feat
                    vision_ms, lm_ms = (t2 - t1) * 1e3, (t3 - t2) * 1e3
                window = torch.stack([f.feature for f in self._frames])[None]  # type: ignore[misc]
                chunk = self.model.head(window)[0, -1].float().cpu().numpy()
            t4 = self._sync()
            head_ms = (t4 - t3) * 1e3
            self.last_chunk = chunk
            self.executor.push(chunk)
        t5 = time.perf_counter()
        model_action = self.executor.pop()
        command = self.adapter.to_command(model_action, instruction)
        self.last_model_action = model_action
        t6 = time.perf_counter()
        self.last_timing = StepTiming(
            preprocess_ms=(t1 - t0) * 1e3,
            vlm_ms=vision_ms + lm_ms,
            head_ms=head_ms,
            postprocess_ms=(t6 - t5) * 1e3,
            total_ms=(t6 - t0) * 1e3,
            extra={"vision_ms": vision_ms, "lm_ms": lm_ms, "frames_encoded": float(encoded)},
        )
        return command

    @property
    def repeats_first_frame(self) -> bool:
        """Whether the first frame stands for the collector's start row too (see ``ActionAdapterConfig``):
        open-loop evaluation then starts feeding a recorded episode at row 1."""
        return bool(self.adapter_cfg.repeat_first_frame)

    # ------------------------------------------------------------------ helpers
    def _set_instruction(self, instruction: str) -> None:
        """A new instruction invalidates cached features (they depend on it) but keeps the frames."""
        self.instruction = instruction
        ids, lengths = self.model.tokenize([instruction])
        self._prompt = (ids, lengths)
        for f in self._frames:
            f.feature = None

    def _sync(self) -> float:
        if self._cuda:
            torch.cuda.synchronize(self.model.device)
        return time.perf_counter()

    def checkpoint_hash(self) -> str:
        """sha256 hex of the weights/config the policy was loaded from (computed once, then cached)."""
        if self._checkpoint_hash is None:
            from policies.vla.describe import checkpoint_hash

            self._checkpoint_hash = checkpoint_hash(self._hash_source, to_dict(self.model.config))
        return self._checkpoint_hash

    def describe(self) -> dict[str, Any]:
        """Checkpoint identity, preprocessing profile (name, settings, hash), token layout, action and
        image contracts, JSON-ready (``policies.vla.describe``)."""
        from policies.vla.describe import describe

        return describe(self)

    def settings(self) -> dict[str, Any]:
        """Everything that defines this policy's behaviour, JSON-ready (for results files)."""
        return {
            "source": self.source,
            "model": to_dict(self.model.config),
            "preprocess": to_dict(self.preprocess_cfg),
            "action_adapter": to_dict(self.adapter_cfg),
            "device": self.device,
            "dtype": self.dtype,
        }


def _settle(cls: type, saved: Any, requested: Mapping[str, Any] | None, kind: str, source: str) -> Any:
    """Saved settings with ``requested`` overrides applied, warning loudly when they differ.
    Preprocessing overrides may name a ``profile`` (``policies.vla.profiles.resolve_overrides``)."""
    where = f"vla policy {kind.lower()} settings"
    if saved is None:
        if cls is PreprocessConfig:
            from policies.vla.profiles import resolve_overrides

            return from_dict(cls, resolve_overrides({}, requested), where)
        return from_dict(cls, dict(requested or {}), where)
    if not requested:
        return saved
    final = merge(saved, requested, where)
    warn_if_differs(kind, saved, final, source)
    return final


def warn_if_differs(kind: str, saved: Any, requested: Any, source: Any) -> None:
    """``warnings.warn`` loudly, with both values, when requested settings differ from the saved ones."""
    differing = diff(saved, requested)
    if differing:
        detail = "; ".join(f"{k}: checkpoint {a!r} vs requested {b!r}" for k, (a, b) in differing.items())
        warnings.warn(
            f"!!! {kind} MISMATCH for checkpoint {source}: the model was trained with {to_dict(saved)} but "
            f"{to_dict(requested)} was requested ({detail}); using the requested settings",
            UserWarning,
            stacklevel=3,
        )


def _warn_ignored_model(requested: Mapping[str, Any], saved: ModelConfig, source: str) -> None:
    try:
        wanted = merge(saved, requested)
    except (KeyError, TypeError, ValueError) as exc:
        warnings.warn(
            f"vla policy: 'model' settings ignored, checkpoint {source} defines the model ({exc})",
            UserWarning,
            stacklevel=3,
        )
        return
    if replace(wanted, backbone=saved.backbone) != replace(saved, backbone=saved.backbone):
        warnings.warn(
            f"vla policy: 'model' settings {dict(requested)} ignored: checkpoint {source} defines the "
            f"model as {to_dict(saved)}",
            UserWarning,
            stacklevel=3,
        )
