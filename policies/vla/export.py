"""Export a trained checkpoint for shipping: copy it, optionally retune its inference settings.

``python -m policies.vla.export SRC DST [--set action_adapter.snap=true ...] [--keep-episode-lists]``

- ``--set`` changes ``preprocess.*`` or ``action_adapter.*`` settings only: they are applied at
  inference (training never reads the action adapter) so they can be retuned without retraining; the
  model section is defined by the weights and cannot be changed. Every change is recorded in the
  provenance as ``settings_changed: {key: [old, new]}``.
- The provenance's per-episode train/val name lists (tens of thousands of names for a large mix) are
  replaced by their count and SHA-256 unless ``--keep-episode-lists``.
- Optimizer state (``trainer_state.pt`` of a ``last`` checkpoint) is left out.
- The copy is written to a temporary sibling directory, loaded back as a check, then renamed into place.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common.cli import ConfigError, run_main
from common.files import atomic_directory
from policies.vla.config import ActionAdapterConfig, PreprocessConfig, diff, from_dict, merge, to_dict

SETTABLE = {"preprocess": PreprocessConfig, "action_adapter": ActionAdapterConfig}
SKIPPED_FILES = ("trainer_state.pt",)
EPISODE_LISTS = ("train_episodes", "val_episodes")


def parse_setting(text: str) -> tuple[str, str, Any]:
    """``section.key=value`` → (section, key, value); the value is parsed as YAML (``true``, ``0.5``,
    ``[1, -1, 1]``)."""
    import yaml

    name, sep, raw = text.partition("=")
    section, dot, key = name.partition(".")
    if not sep or not dot or not key:
        raise ValueError(f"--set {text!r}: expected section.key=value, e.g. action_adapter.snap=true")
    if section not in SETTABLE:
        raise ValueError(
            f"--set {text!r}: only {sorted(SETTABLE)} settings can change after training "
            "(the model section is defined by the weights)"
        )
    try:
        return section, key, yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or exc
        raise ConfigError(f"--set {text!r}: the value is not YAML ({problem})") from None


def summarize_episode_lists(provenance: dict[str, Any]) -> dict[str, Any]:
    """``provenance`` with ``data_manifest``'s episode name lists replaced by ``{count, sha256}``."""
    manifest = dict(provenance.get("data_manifest") or {})
    for key in EPISODE_LISTS:
        names = manifest.get(key)
        if isinstance(names, list):
            digest = hashlib.sha256("\n".join(map(str, names)).encode()).hexdigest()
            manifest[key] = {"count": len(names), "sha256": digest}
    return {**provenance, "data_manifest": manifest} if manifest else dict(provenance)


def export_checkpoint(
    src: str | Path, dst: str | Path, settings: Sequence[str] = (), keep_episode_lists: bool = False
) -> Path:
    """Copy checkpoint ``src`` to ``dst`` with ``settings`` (``section.key=value``) applied; returns ``dst``.

    Raises ``FileNotFoundError``/``ValueError`` naming the file or setting when ``src`` is not a
    checkpoint, a setting is unknown or invalid, or ``dst`` exists.
    """
    from policies.vla.checkpoint import (
        CONFIG_FILE,
        load_checkpoint,
        read_checkpoint_config,
        write_config_json,
    )

    src, dst = Path(src), Path(dst)
    data = read_checkpoint_config(src)
    if dst.exists():
        raise FileExistsError(f"{dst} already exists; remove it first")
    updates: dict[str, dict[str, Any]] = {}
    for text in settings:
        section, key, value = parse_setting(text)
        updates.setdefault(section, {})[key] = value
    changed: dict[str, list[Any]] = {}
    for section, values in updates.items():
        old = from_dict(SETTABLE[section], data[section], f"{src / CONFIG_FILE}: {section}")
        new = merge(old, values, f"--set {section}")
        changed.update({f"{section}.{k}": [a, b] for k, (a, b) in diff(old, new).items()})
        data[section] = to_dict(new)
    provenance = dict(data.get("provenance") or {})
    if not keep_episode_lists:
        provenance = summarize_episode_lists(provenance)
    provenance["exported_from"] = src.name
    if changed:
        provenance["settings_changed"] = {**provenance.get("settings_changed", {}), **changed}
    data["provenance"] = provenance

    with atomic_directory(dst, replace=False) as tmp:
        shutil.copytree(src, tmp, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*SKIPPED_FILES))
        write_config_json(tmp / CONFIG_FILE, data)
        load_checkpoint(tmp)  # the exported copy must load exactly like the original
    return dst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", help="checkpoint directory, e.g. runs/best/checkpoints/last")
    parser.add_argument("dst", help="new directory (e.g. assets/policies/best)")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--keep-episode-lists", action="store_true")
    args = parser.parse_args(argv)

    def body() -> int:
        out = export_checkpoint(args.src, args.dst, args.settings, args.keep_episode_lists)
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
        print(f"exported {args.src} -> {out} ({size / 1e6:.2f} MB)")
        return 0

    return run_main(body, also=(TypeError,))


if __name__ == "__main__":
    raise SystemExit(main())
