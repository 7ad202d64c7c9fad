"""The generation folder (``datagen.generate``): preparing it, cleaning a killed run's temporary files,
its run record (``generation.json``), the manifest entries, and merging shard manifests."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from common.rundir import RunDirError, check_run_record
from common.timefmt import utc_now_iso
from datagen.generation_config import (
    RUN_RECORD,
    SHARD_MANIFEST,
    SUMMARY_NAME,
    GenerationError,
    build_suite,
    content_config,
    episode_file_name,
)
from datagen.generation_job import existing_episode_fields
from datagen.generation_summary import summarize
from datagen.manifest import MANIFEST_NAME, ManifestEntry, read_manifest, write_manifest, write_text_atomic
from datagen.schema import EPISODE_SUFFIX, SOURCE_SIM

_INDEX_RE = re.compile(r"__sim(\d+)\.")
_SHARD_MANIFEST_RE = re.compile(r"^manifest\.shard(\d{3})-of-(\d{3})\.jsonl$")


def prepare_out_dir(out: Path) -> None:
    """Create ``out`` and check a file can be created in it; ``GenerationError`` naming the folder."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise GenerationError(f"output directory {out} is not writable: {exc}") from exc


def clean_temp_files(out: Path, indices: set[int] | None, shard_manifest: str | None) -> int:
    """Remove the temporary files a killed run left: episode temps of ``indices`` (all when None) and the
    temps of ``shard_manifest`` (or of ``manifest.jsonl`` / ``summary.json`` when None). Returns the count."""
    removed = 0
    own_prefixes = [f".{shard_manifest}."] if shard_manifest else [f".{MANIFEST_NAME}.", f".{SUMMARY_NAME}.",
                                                                   f".{RUN_RECORD}."]
    for p in out.iterdir():
        if not (p.name.startswith(".") and p.name.endswith(".tmp")):
            continue
        match = _INDEX_RE.search(p.name)
        if match and p.name.endswith(f"{EPISODE_SUFFIX}.tmp"):
            mine = indices is None or int(match.group(1)) in indices
        else:
            mine = any(p.name.startswith(prefix) for prefix in own_prefixes)
        if mine:
            p.unlink(missing_ok=True)
            removed += 1
    return removed


def check_generation_record(out: Path, cfg: DictConfig, digest: str) -> None:
    """Write ``generation.json`` (config and hash) or check that the folder's matches this config (a larger
    ``episodes`` extends the record); ``GenerationError`` naming the differing keys."""
    content = content_config(cfg)
    from sim.render_backend import describe

    try:
        write = check_run_record(out / RUN_RECORD, content, counts={"episodes": int(cfg.episodes)},
                                 what="generation")
    except RunDirError as exc:
        raise GenerationError(str(exc)) from exc
    if write:
        record = {"config_hash": digest, "episodes": int(cfg.episodes), "config": content,
                  "created": utc_now_iso(), "renderer": describe(str(cfg.env.get("render_backend", "tiny")))}
        write_text_atomic(out / RUN_RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")


def manifest_entry(out: Path, file: str, fields: dict[str, Any]) -> ManifestEntry:
    from datagen.manifest import entry_for_file

    return entry_for_file(out / file, source=SOURCE_SIM, extra=dict(fields))



@dataclass
class GenerationResult:
    """What a run (or a merge) produced: the manifest entries written and the summary."""

    out: Path
    entries: list[ManifestEntry]
    summary: dict[str, Any]
    manifest: Path | None
    merged: bool = False
    merge_summary: dict[str, Any] | None = None



def all_shard_manifests(out: Path, num_shards: int) -> bool:
    names = (SHARD_MANIFEST.format(shard=k, num_shards=num_shards) for k in range(num_shards))
    return all((out / name).is_file() for name in names)


# ----------------------------------------------------------------------------------- merging
def merge(out: str | os.PathLike[str], rebuild: bool = False,
          episodes: int | None = None) -> GenerationResult:
    """Write ``manifest.jsonl`` and ``summary.json`` of a generation folder from its shard manifests
    (``rebuild``: from the episode files themselves). Raises ``GenerationError`` naming the folder when it
    is not a generation folder or episodes are missing (nothing is written then)."""
    out = Path(out)
    record_path = out / RUN_RECORD
    if not record_path.is_file():
        raise GenerationError(f"{out} is not a generation folder: {RUN_RECORD} is missing")
    record = json.loads(record_path.read_text(encoding="utf-8"))
    cfg = OmegaConf.create(record["config"])
    total = int(episodes if episodes is not None else record["episodes"])
    suite = build_suite(cfg)
    digest = record["config_hash"]
    names = {i: episode_file_name(cfg, suite, i) for i in range(total)}
    found: dict[int, dict[str, Any]] = {}
    if not rebuild:
        for p in sorted(out.iterdir()):
            if not _SHARD_MANIFEST_RE.match(p.name):
                continue
            for entry in read_manifest(p):
                i = int(entry.extra.get("episode", -1))
                if i in names and entry.path.name == names[i] and entry.path.is_file() \
                        and entry.path.stat().st_size == entry.extra.get("bytes"):
                    found[i] = dict(entry.extra)
    missing = [i for i in range(total) if i not in found]
    if missing:
        frames = int(cfg.env.max_steps) + 1
        size = (int(cfg.env.camera.height), int(cfg.env.camera.width))
        for i in missing:
            path = out / names[i]
            if path.is_file():
                fields = existing_episode_fields(path, i, digest, frames, size)
                if fields is not None:
                    found[i] = fields
        missing = [i for i in range(total) if i not in found]
    if missing:
        raise GenerationError(
            f"{out}: {len(missing)} of {total} episodes are missing or invalid (indices "
            f"{', '.join(map(str, missing[:10]))}{', …' if len(missing) > 10 else ''}); rerun the generation "
            "into this folder (it resumes), then merge"
        )
    entries = [manifest_entry(out, names[i], found[i]) for i in range(total)]
    summary = summarize([e.extra for e in entries], suite)
    manifest = write_manifest(out / MANIFEST_NAME, entries)
    write_text_atomic(out / SUMMARY_NAME, json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return GenerationResult(out, entries, summary, manifest, merged=True, merge_summary=summary)

