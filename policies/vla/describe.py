"""What a VLA policy is, as JSON-ready data: checkpoint identity, pixels it expects, action space.

``describe(policy)`` backs ``VLAPolicy.describe()``; reports and the policy server record it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from policies.vla import profiles
from policies.vla.config import to_dict

ACTION_KEYS = ["linear_x", "linear_y", "angular_z"]
ACTION_LIMIT = 1.15
"""Teleop units: the key vocabulary's ±1.15 (``sim.protocol``)."""


def _hash_files(paths: list[Path], digest: Any) -> None:
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda f=f: f.read(1 << 20), b""):
                digest.update(block)


def checkpoint_hash(source: dict[str, Any], model_config: dict[str, Any]) -> str:
    """sha256 hex identifying the weights and config a policy was loaded from.

    ``source``: ``{"checkpoint": DIR}`` (every file of the directory by relative path and content),
    ``{"robovlms_checkpoint": CKPT, "robovlms_config": JSON}`` (both files' bytes), or ``{}`` for an
    untrained model (its model settings, which seed its weights)."""
    digest = hashlib.sha256()
    if source.get("checkpoint"):
        root = Path(source["checkpoint"])
        files = sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            _hash_files([path], digest)
    elif source.get("robovlms_checkpoint"):
        _hash_files([Path(source["robovlms_config"]), Path(source["robovlms_checkpoint"])], digest)
    else:
        digest.update(json.dumps(model_config, sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


def describe(policy: Any) -> dict[str, Any]:
    """The ``describe()`` dict of a ``VLAPolicy`` (see ``policies.base`` for the shared contract)."""
    pre = to_dict(policy.preprocess_cfg)
    settings = {k: v for k, v in pre.items() if k != "profile"}
    model = policy.model
    return {
        "name": policy.name,
        "source": policy.source,
        "checkpoint_hash": policy.checkpoint_hash(),
        "preprocessing": {
            "profile": pre["profile"],
            "hash": profiles.settings_hash(settings),
            **settings,
        },
        "token_layout": model.config.token_layout,
        "lora": {
            "modules": len(model.lora_targets),
            "merged": bool(getattr(model, "lora_merged", False)),
        },
        "quantization": policy.quantization,
        "window": model.config.window,
        "action": {
            "keys": list(ACTION_KEYS),
            "units": "teleop",
            "limits": [[-ACTION_LIMIT, ACTION_LIMIT] for _ in ACTION_KEYS],
        },
        "image": {"shape": list(policy.image_shape), "dtype": "uint8", "channel_order": "RGB"},
        "device": policy.device,
        "dtype": policy.dtype,
    }
