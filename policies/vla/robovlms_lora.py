"""Where the team's LoRA sits, and the two peft copies in their Lightning state dict.

RoboVLMs picks LoRA targets with a LLaVA-style rule over the whole Kosmos-2 (``find_all_linear_names``
in ``robovlms/utils/lora_utils.py``): skip modules whose name contains ``mm_projector``,
``vision_tower`` or ``vision_resampler``; keep the *last* name component of every other ``nn.Linear``;
drop ``lm_head``. peft then wraps every Linear whose name equals or ends with ``.<suffix>``. Kosmos-2
calls its tower ``vision_model``, so the vision encoder, ``image_to_text_projection`` and the text
model all carry LoRA. Since 2026-01-07 ``train_setup.lora_target_modules`` may name the targets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from policies.vla.weights import listing

SKIP_KEYWORDS = ("mm_projector", "vision_tower", "vision_resampler")
BACKBONE = "backbone."
_LORA_KEY = re.compile(r"^backbone\.(?P<module>.+)\.lora_(?P<ab>[AB])\.(?:default\.)?weight$")


def suffix_targets(backbone: nn.Module) -> list[str]:
    """The team's ``find_all_linear_names`` over ``backbone``: sorted last name components."""
    names = set()
    for name, module in backbone.named_modules():
        if any(k in name for k in SKIP_KEYWORDS) or not isinstance(module, nn.Linear):
            continue
        names.add(name.split(".")[-1])
    names.discard("lm_head")
    return sorted(names)


def modules_matching(backbone: nn.Module, targets: str | Iterable[str]) -> set[str]:
    """Full names of the Linear modules peft wraps for ``target_modules=targets``: a string is a
    regular expression matched against the whole name, a list matches a name equal to an entry or
    ending with ``.entry``."""
    out = set()
    for name, module in backbone.named_modules():
        if not isinstance(module, nn.Linear) or not name:
            continue
        if isinstance(targets, str):
            hit = re.fullmatch(targets, name) is not None
        else:
            hit = any(name == t or name.endswith("." + t) for t in targets)
        if hit:
            out.add(name)
    return out


def checkpoint_targets(mapped: Mapping[str, torch.Tensor], source: Any) -> dict[str, int]:
    """``{module full name: rank}`` of every module carrying ``lora_A``/``lora_B`` in ``mapped``
    (keys ``backbone.<module>.lora_A[.default].weight``); ``ValueError`` for a module with only one of
    the two or whose A and B ranks differ."""
    found: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in mapped.items():
        m = _LORA_KEY.match(key)
        if m:
            found.setdefault(m.group("module"), {})[m.group("ab")] = value
    broken = [f"{mod} (has only lora_{next(iter(ab))})" for mod, ab in sorted(found.items()) if len(ab) != 2]
    broken += [
        f"{mod} (lora_A rank {ab['A'].shape[0]} vs lora_B rank {ab['B'].shape[-1]})"
        for mod, ab in sorted(found.items())
        if len(ab) == 2 and ab["A"].shape[0] != ab["B"].shape[-1]
    ]
    if broken:
        raise ValueError(f"{source}: malformed LoRA tensors: {', '.join(broken[:10])}")
    return {mod: int(ab["A"].shape[0]) for mod, ab in found.items()}


def check_targets(
    ckpt: Mapping[str, int],
    backbone: nn.Module,
    setup: Mapping[str, Any],
    rank: int,
    where: str,
) -> str:
    """Check the checkpoint's LoRA modules and ranks against its config; returns how the expected
    set was chosen. ``ValueError`` lists modules the config selects without LoRA in the checkpoint,
    LoRA modules the config does not select, and ranks other than ``lora_r``."""
    named = setup.get("lora_target_modules")
    if named is not None:
        if not isinstance(named, (str, list, tuple)) or (
            not isinstance(named, str) and not all(isinstance(t, str) for t in named)
        ):
            raise TypeError(f"{where}: train_setup.lora_target_modules must be a string or a list of strings")
        expected, rule = modules_matching(backbone, named), "train_setup.lora_target_modules"
    else:
        expected = modules_matching(backbone, suffix_targets(backbone))
        rule = "the team's find_all_linear_names rule (no train_setup.lora_target_modules)"
    problems = []
    unmatched = sorted(expected - set(ckpt))
    extra = sorted(set(ckpt) - expected)
    if unmatched:
        problems.append(
            f"{len(unmatched)} module(s) selected by {rule} have no LoRA tensors: {_show(unmatched)}"
        )
    if extra:
        problems.append(f"{len(extra)} module(s) carry LoRA but {rule} does not select them: {_show(extra)}")
    bad_rank = sorted(f"{m} (r={r})" for m, r in ckpt.items() if r != rank)
    if bad_rank:
        problems.append(
            f"LoRA rank differs from train_setup.lora_r={rank} in {len(bad_rank)}: {_show(bad_rank)}"
        )
    if problems:
        raise ValueError(f"{where}: the checkpoint's LoRA does not match its config: " + "; ".join(problems))
    return rule


def merge_copies(
    primary: dict[str, torch.Tensor], alias: dict[str, torch.Tensor], source: Any
) -> dict[str, torch.Tensor]:
    """The backbone tensors from the two copies the team's state dict holds (``model.backbone.*`` and
    ``model.model.base_model.model.*``, both already keyed ``backbone.*``). Either copy alone is
    accepted; when both exist they must hold the same keys and equal tensors (``ValueError`` listing
    what differs)."""
    if not alias:
        return primary
    if not primary:
        return alias
    only_p, only_a = sorted(set(primary) - set(alias)), sorted(set(alias) - set(primary))
    differ = sorted(
        k
        for k in set(primary) & set(alias)
        if primary[k].shape != alias[k].shape or not torch.equal(primary[k], alias[k])
    )
    if only_p or only_a or differ:
        raise ValueError(
            listing(
                f"{source}: the two copies of the peft model disagree",
                [
                    ("only under model.backbone", only_p),
                    ("only under model.model.base_model.model", only_a),
                    ("different values", differ),
                ],
                most=8,
            )
        )
    return primary


def _show(items: list[str], n: int = 8) -> str:
    return ", ".join(items[:n]) + (f", ... ({len(items)} in all)" if len(items) > n else "")
