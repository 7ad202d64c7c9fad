"""Episode lists: ``manifest.jsonl`` files and folders of ``*.h5`` episodes.

A manifest has one JSON object per line with at least ``file`` (relative to the manifest's folder, or
absolute) and optionally ``split``, ``source``, ``source_episode``, ``tags`` and any further fields
(kept in ``ManifestEntry.extra``, e.g. ``sha256``, ``ops``, ``frames``, ``instruction``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.cli import BenchError
from common.files import atomic_write_text
from datagen.schema import EPISODE_SUFFIX, try_parse_episode_name

MANIFEST_NAME = "manifest.jsonl"
_KNOWN_FIELDS = ("file", "split", "source", "source_episode", "tags")


class ManifestError(BenchError, ValueError):
    """A manifest line is malformed; the message names the manifest file and line."""


@dataclass
class ManifestEntry:
    """One episode of a list. ``path`` is the resolved file; ``file`` what the manifest line said."""

    path: Path
    split: str | None = None
    source: str | None = None
    source_episode: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """Episode id: the file stem."""
        return (
            self.path.name[: -len(EPISODE_SUFFIX)]
            if self.path.name.endswith(EPISODE_SUFFIX)
            else self.path.stem
        )

    def to_json(self, root: Path | None = None) -> dict[str, Any]:
        """The manifest line; ``file`` is made relative to ``root`` (the manifest's folder) when given."""
        file = os.path.relpath(os.path.abspath(self.path), os.path.abspath(root)) if root else str(self.path)
        obj: dict[str, Any] = {"file": Path(file).as_posix()}
        for key in ("split", "source", "source_episode"):
            if getattr(self, key) is not None:
                obj[key] = getattr(self, key)
        if self.tags:
            obj["tags"] = dict(self.tags)
        obj.update({k: v for k, v in self.extra.items() if k not in obj})
        return obj


def entry_for_file(path: str | os.PathLike[str], **fields: Any) -> ManifestEntry:
    """A manifest entry for one episode file, with tags parsed from its name (``{}`` if it does not parse)."""
    path = Path(path)
    entry = ManifestEntry(path=path, **fields)
    if not entry.tags:
        tags = try_parse_episode_name(path) or {}
        entry.tags = {k: v for k, v in tags.items() if k not in ("date", "time")}
    return entry


def read_manifest(path: str | os.PathLike[str]) -> list[ManifestEntry]:
    """Entries of a ``manifest.jsonl``; relative ``file`` values resolve against the manifest's folder.

    Raises ``ManifestError`` naming the file and line for malformed lines, ``FileNotFoundError`` if absent.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"manifest {path} does not exist")
    root = path.parent
    entries = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{path}:{lineno}: not valid JSON ({exc})") from exc
        if not isinstance(obj, dict) or not isinstance(obj.get("file"), str) or not obj["file"]:
            raise ManifestError(f"{path}:{lineno}: each line needs a JSON object with a 'file' string")
        tags = obj.get("tags") or {}
        if not isinstance(tags, dict):
            raise ManifestError(f"{path}:{lineno}: 'tags' must be an object, got {tags!r}")
        file = Path(obj["file"])
        entries.append(
            ManifestEntry(
                path=file if file.is_absolute() else root / file,
                split=obj.get("split"),
                source=obj.get("source"),
                source_episode=obj.get("source_episode"),
                tags={str(k): str(v) for k, v in tags.items()},
                extra={k: v for k, v in obj.items() if k not in _KNOWN_FIELDS},
            )
        )
    return entries


def write_manifest(path: str | os.PathLike[str], entries: Iterable[ManifestEntry]) -> Path:
    """Write entries as JSON lines (paths relative to the manifest's folder), atomically."""
    path = Path(path)
    text = "".join(json.dumps(e.to_json(path.parent), sort_keys=True) + "\n" for e in entries)
    atomic_write_text(path, text)
    return path


def write_text_atomic(path: Path, text: str) -> None:
    """Kept for older callers: ``common.files.atomic_write_text`` (temp file beside ``path``, then rename)."""
    atomic_write_text(path, text)


def is_manifest(path: Path) -> bool:
    return path.is_file() and path.suffix == ".jsonl"


def find_episode_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Every ``*.h5`` under ``folder`` (recursive), sorted by path."""
    return sorted(p for p in Path(folder).rglob(f"*{EPISODE_SUFFIX}") if p.is_file())


def discover(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[ManifestEntry]:
    """Entries from episode files, folders (recursive ``*.h5``) and ``*.jsonl`` manifests, in given order.

    Raises ``FileNotFoundError`` naming a path that does not exist.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    entries: list[ManifestEntry] = []
    for raw in paths:
        p = Path(raw)
        if is_manifest(p):
            entries.extend(read_manifest(p))
        elif p.is_dir():
            entries.extend(entry_for_file(f) for f in find_episode_files(p))
        elif p.is_file():
            entries.append(entry_for_file(p))
        else:
            raise FileNotFoundError(
                f"episode source {p} does not exist (expected a .h5 file, folder or .jsonl)"
            )
    return entries


def list_episodes(manifest: str | os.PathLike[str], split: str | None = None) -> list[Path]:
    """Episode files of a manifest, keeping only ``split`` (e.g. ``"train"``, ``"val"``) when given."""
    return [e.path for e in read_manifest(manifest) if split is None or e.split == split]


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stable_hash(text: str) -> int:
    """A process-independent 63-bit hash of ``text`` (for seeding ``np.random.default_rng``)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little") >> 1
