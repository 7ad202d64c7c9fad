"""Settings of the VLA policy as frozen dataclasses, validated on construction, apart from model code.

Every setting that train, sim and robot must agree on (model shape, image preprocessing, the mapping
from model space to robot commands) lives here and is saved with each checkpoint.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from common.paths import REPO_ROOT
from common.typed_config import from_dict

PROJECT_ROOT = REPO_ROOT
"""Relative paths in configs (``.vlms/...``, ``runs/...``) resolve against this directory."""

DEFAULT_BACKBONE_PATH = ".vlms/kosmos-2-patch14-224"
TINY_BACKBONE_PATH = ".vlms/tiny-kosmos-2"
DEFAULT_PROMPT = "<grounding>An image of a robot {instruction}"

T = TypeVar("T")


def resolve_path(path: str | Path) -> Path:
    """An absolute path as is; a relative one against the project root (never the working directory)."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else PROJECT_ROOT / p


@dataclass(frozen=True)
class BackboneConfig:
    """Where the Kosmos-2 backbone comes from and how it runs.

    ``init``: ``pretrained`` loads a Hugging Face-format directory at ``path``; ``tiny`` builds the tiny
    test model there first when missing, then loads it the same way; ``random`` builds random weights
    from ``path``'s ``config.json`` (or the default full-size ``Kosmos2Config()``), for latency benchmarks.
    ``robovlms_weights``: optional RoboVLMs robot-pretrained ``.pt``/``.ckpt`` whose ``backbone.*`` weights
    replace the loaded ones. ``tiny_sizes``: with ``init: tiny``, dimensions overriding
    ``policies.vla.tiny.TINY_SIZES`` (e.g. ``{image_size: 64, patch_size: 8}``); a copy at ``path`` built
    with other sizes is rebuilt.
    """

    path: str = DEFAULT_BACKBONE_PATH
    init: Literal["pretrained", "tiny", "random"] = "pretrained"
    dtype: Literal["fp32", "bf16", "fp16"] = "fp32"
    device: str = "cpu"
    robovlms_weights: str | None = None
    tiny_sizes: dict[str, int] | None = None

    def __post_init__(self) -> None:
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ValueError(f"backbone.device must be 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")


@dataclass(frozen=True)
class HeadConfig:
    """Action head: ``lstm`` (RoboVLMs ``MobileVLALSTMDecoder``) or a per-frame ``mlp``.

    Output: a chunk of ``chunk`` future actions × ``n_axes`` (2: linear_x, linear_y; 3: + angular_z)
    in the model's normalised space [-1, 1] (tanh).
    """

    type: Literal["lstm", "mlp"] = "lstm"
    hidden_size: int = 512
    num_layers: int = 4
    dropout: float = 0.0
    mlp_hidden: tuple[int, ...] = (1024, 512, 256)
    chunk: int = 10
    n_axes: int = 2

    def __post_init__(self) -> None:
        _positive(self, "hidden_size", "num_layers", "chunk")
        if self.n_axes not in (2, 3):
            raise ValueError(
                f"head.n_axes must be 2 (linear_x, linear_y) or 3 (+ angular_z), got {self.n_axes}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"head.dropout must be in [0, 1), got {self.dropout}")
        if any(h <= 0 for h in self.mlp_hidden):
            raise ValueError(f"head.mlp_hidden must hold positive widths, got {self.mlp_hidden}")


@dataclass(frozen=True)
class LoraSettings:
    """peft LoRA settings; ``target_modules=None`` means every ``nn.Linear`` of the language model
    except ``lm_head`` (computed by walking the module tree)."""

    r: int = 32
    alpha: int = 16
    dropout: float = 0.1
    bias: Literal["none", "all", "lora_only"] = "none"
    target_modules: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _positive(self, "r", "alpha")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"lora.dropout must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class ModelConfig:
    """The whole VLA: backbone + learnable action token + action head, and what is trained.

    ``window``: frames of history fed to the head; ``train_mode``: ``frozen`` (head and action token
    only), ``lora`` (plus LoRA adapters on the language model) or ``full`` (whole backbone; the vision
    tower only with ``train_vision``). ``seed`` seeds the head, action token and LoRA initialisation.
    ``token_layout``: ``bench`` (``<s> <image> latents </image> prompt </s> [ACTION]``, this bench's own
    models) or ``robovlms_fallback`` (the team's checkpoints: the latents overwrite the first
    ``latent_query_num`` positions of ``<s> prompt </s>``, padded to that length with attention mask 0,
    then the action token; see ``VLAModel.encode_text``).
    """

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    window: int = 8
    train_mode: Literal["frozen", "lora", "full"] = "lora"
    train_vision: bool = False
    lora: LoraSettings = field(default_factory=LoraSettings)
    prompt: str = DEFAULT_PROMPT
    seed: int = 0
    token_layout: Literal["bench", "robovlms_fallback"] = "bench"

    def __post_init__(self) -> None:
        _positive(self, "window")
        if "{instruction}" not in self.prompt:
            raise ValueError(f"model.prompt must contain '{{instruction}}', got {self.prompt!r}")


@dataclass(frozen=True)
class PreprocessConfig:
    """Camera frame → model input. Observations arrive RGB; ``channel_order`` is what the model was
    trained on (``bgr`` if it saw raw HDF5 frames). ``normalize``: ``div255`` (the real 2025 loader: [0, 1])
    or ``clip`` (CLIP mean/std). ``resize``: square side in pixels (must match the vision tower).
    ``interpolation``: an OpenCV filter, or ``pil_bilinear``/``pil_bicubic`` (PIL's, as the team's loader).
    ``profile``: the named profile these settings form (``policies.vla.profiles``); ``None`` derives it
    from the settings (``custom`` when none fits); a name the settings contradict is an error."""

    channel_order: Literal["rgb", "bgr"] = "rgb"
    resize: int = 224
    interpolation: Literal["bicubic", "bilinear", "area", "nearest", "pil_bilinear", "pil_bicubic"] = (
        "bicubic"
    )
    normalize: Literal["div255", "clip"] = "div255"
    profile: str | None = None

    def __post_init__(self) -> None:
        from policies.vla import profiles

        _positive(self, "resize")
        settings = {k: getattr(self, k) for k in ("channel_order", "interpolation", "normalize")}
        if self.profile is None:
            object.__setattr__(self, "profile", profiles.derive(settings))
        elif self.profile != profiles.CUSTOM and not profiles.matches(self.profile, settings):
            raise ValueError(
                f"preprocess.profile {self.profile!r} means {profiles.PROFILES[self.profile]} "
                f"but the settings are {settings}"
            )
        elif self.profile == profiles.CUSTOM and profiles.derive(settings) != profiles.CUSTOM:
            object.__setattr__(self, "profile", profiles.derive(settings))


@dataclass(frozen=True)
class ActionAdapterConfig:
    """Model space ([-1, 1] per axis) → robot command ``[linear_x, linear_y, angular_z]`` (teleop units).

    ``command = sign * gain * model`` per axis after zeroing ``|model| < deadzone`` (model units);
    ``abs_action``: the lateral (linear_y) sign comes from the instruction's last ``left``/``right``;
    ``snap``: snap to the teleop key vocabulary (``sim.protocol.snap_to_key``, ``snap_threshold`` in
    command units). Chunk execution: ``first_k`` executes the first ``execute_k`` actions of each chunk,
    then re-plans; ``ensemble`` re-plans every step and averages all chunks' predictions for the current
    step with weights ``exp(-ensemble_decay * i)`` (i = 0 for the oldest prediction, as in ACT).
    ``repeat_first_frame``: feed an episode's first frame twice, as the real collector records it (row 0
    is the ``episode_start`` row with a stop action; row 1 holds the same frame and the first key press),
    so the first command executed is the model's prediction for row 1, not the start row's stop. Use it
    for models trained on collector-layout episodes that include row 0; without it such a model spends
    its first step of the 17-step budget on that stop.
    """

    gain: float = 1.15
    signs: tuple[float, float, float] = (1.0, 1.0, 1.0)
    deadzone: float = 0.0
    abs_action: bool = False
    snap: bool = False
    snap_threshold: float = 0.3
    chunk_mode: Literal["first_k", "ensemble"] = "first_k"
    execute_k: int = 1
    ensemble_decay: float = 0.01
    repeat_first_frame: bool = False

    def __post_init__(self) -> None:
        _positive(self, "execute_k")
        if self.gain <= 0:
            raise ValueError(f"action_adapter.gain must be > 0, got {self.gain}")
        if any(s not in (-1.0, 1.0) for s in self.signs):
            raise ValueError(f"action_adapter.signs must be ±1 per axis, got {self.signs}")
        if self.deadzone < 0:
            raise ValueError(f"action_adapter.deadzone must be >= 0, got {self.deadzone}")


def _positive(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if value <= 0:
            raise ValueError(f"{type(obj).__name__}.{name} must be > 0, got {value}")


def to_dict(obj: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON-ready data (tuples become lists)."""

    def plain(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(obj))


def merge(obj: T, updates: Mapping[str, Any] | None, where: str = "") -> T:
    """``obj`` with the (possibly nested) ``updates`` applied, re-validated. For ``PreprocessConfig``,
    ``updates["profile"]`` expands to that profile's settings (``profiles.resolve_overrides``)."""
    if not updates:
        return obj
    if isinstance(obj, PreprocessConfig):  # a named profile expands to its settings
        from policies.vla.profiles import resolve_overrides

        return from_dict(PreprocessConfig, resolve_overrides(to_dict(obj), updates), where)
    base = dataclasses.asdict(obj)  # type: ignore[call-overload]
    _deep_update(base, dict(updates))
    return from_dict(type(obj), base, where)


def _deep_update(base: dict[str, Any], updates: Mapping[str, Any]) -> None:
    for key, value in updates.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value


def diff(a: Any, b: Any) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ between two config dataclasses of the same type: ``{key: (a, b)}``."""
    da, db = to_dict(a), to_dict(b)
    return {k: (da[k], db.get(k)) for k in da if da[k] != db.get(k)}
