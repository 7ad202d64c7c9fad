"""Selecting a Sim + Real mix: the request (``MixSpec``), collecting readable episodes per source label,
counts and ratio shares, tag-balanced seeded selection, the split by source episode and the summary.

Selection is a seeded permutation per label (and tag value), so it is deterministic. The train/val split
is by *source episode* (augmented copies carry the ``source_episode`` of their original; all entries of
one source episode land in the same split); within each stratum (the labels a source episode appears
under and the ``stratify`` tag of its name) the ``round(val_fraction × n)`` source episodes with the
smallest ``hash(seed, id)`` go to val. Writing and the CLI: ``datagen.mix``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.cli import BenchError
from datagen.manifest import ManifestEntry, discover, stable_hash
from datagen.schema import NAME_TAGS, EpisodeFormatError, inspect_episode, try_parse_episode_name

SPLITS = ("train", "val")
SUMMARY_TAGS = ("side", "pattern", "distance", "num_box", "orientation", "target", "path", "scenario")
UNKNOWN = "unknown"


class MixError(BenchError, ValueError):
    """An impossible or ill-formed mix request; the message names the label / tag and the numbers."""


@dataclass
class MixSpec:
    """What to mix. ``inputs``: label → paths. ``counts``: label → episodes to take. ``ratios`` + ``total``:
    shares of a total. Labels with neither are taken whole (not allowed together with ``ratios``)."""

    inputs: dict[str, list[Path]]
    counts: dict[str, int] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)
    total: int | None = None
    balance: str | None = None
    stratify: str | None = None
    val_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.inputs:
            raise MixError("no inputs: give --real/--sim/--augmented PATH or --input LABEL=PATH")
        for label in self.inputs:
            if not label or "/" in label or "=" in label:
                raise MixError(f"bad source label {label!r}")
        for name, mapping in (("count", self.counts), ("ratio", self.ratios)):
            unknown = sorted(set(mapping) - set(self.inputs))
            if unknown:
                raise MixError(
                    f"{name} given for labels {unknown} without inputs; inputs: {sorted(self.inputs)}"
                )
        for label, n in self.counts.items():
            if int(n) < 0:
                raise MixError(f"count for {label!r} must be >= 0, got {n!r}")
        if self.ratios:
            if self.total is None or self.total < 0:
                raise MixError(f"--ratio needs --total N (>= 0), got total={self.total!r}")
            if any(r < 0 for r in self.ratios.values()) or sum(self.ratios.values()) <= 0:
                raise MixError(f"ratios must be >= 0 with a positive sum, got {self.ratios!r}")
            overlap = sorted(set(self.ratios) & set(self.counts))
            if overlap:
                raise MixError(f"labels {overlap} have both a count and a ratio")
            missing = sorted(set(self.inputs) - set(self.ratios) - set(self.counts))
            if missing:
                raise MixError(
                    f"labels {missing} have neither a ratio nor a count; add them to --ratio or --count"
                )
        elif self.total is not None:
            raise MixError("--total is only used with --ratio")
        if not 0.0 <= self.val_fraction < 1.0:
            raise MixError(f"val_fraction must be in [0, 1), got {self.val_fraction!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise MixError(f"seed must be an integer >= 0, got {self.seed!r}")
        for flag, tag in (("balance", self.balance), ("stratify", self.stratify)):
            if tag is not None and tag not in NAME_TAGS:
                raise MixError(f"{flag} tag {tag!r} is not a name tag; expected one of {list(NAME_TAGS)}")


@dataclass
class MixResult:
    entries: list[ManifestEntry]
    skipped: list[dict[str, str]]
    summary: dict[str, Any]


def collect(label: str, paths: Sequence[Path]) -> tuple[list[ManifestEntry], list[dict[str, str]]]:
    """Readable episodes of one label (each checked with ``inspect_episode``) and the skipped ones."""
    entries: list[ManifestEntry] = []
    skipped: list[dict[str, str]] = []
    seen: set[Path] = set()
    for entry in discover(list(paths)):
        resolved = entry.path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        try:
            info = inspect_episode(entry.path)
        except (EpisodeFormatError, FileNotFoundError, OSError) as exc:
            skipped.append({"file": str(entry.path), "source": label, "reason": str(exc)})
            continue
        tags = entry.tags or {
            k: v for k, v in (try_parse_episode_name(entry.path) or {}).items() if k not in ("date", "time")
        }
        entries.append(
            ManifestEntry(
                path=entry.path,
                source=label,
                source_episode=entry.source_episode or info.source_episode,
                tags=tags,
                extra={"frames": info.num_frames, "instruction": info.instruction, "origin": info.source},
            )
        )
    entries.sort(key=lambda e: str(e.path))
    return entries, skipped


def resolve_counts(spec: MixSpec, available: dict[str, int]) -> dict[str, int | None]:
    """Episodes to take per label (``None`` = all), from counts or ratio shares of the total."""
    counts: dict[str, int | None] = {label: None for label in spec.inputs}
    counts.update({k: int(v) for k, v in spec.counts.items()})
    if spec.ratios:
        assert spec.total is not None
        total_ratio = sum(spec.ratios.values())
        shares = {k: spec.total * r / total_ratio for k, r in spec.ratios.items()}
        floors = {k: math.floor(v) for k, v in shares.items()}
        left = spec.total - sum(floors.values())
        for k in sorted(shares, key=lambda k: (-(shares[k] - floors[k]), k))[:left]:
            floors[k] += 1
        counts.update(floors)
    for label, n in counts.items():
        if n is not None and n > available.get(label, 0):
            raise MixError(f"{label!r}: {n} episodes requested but only {available.get(label, 0)} readable")
    return counts


def _permuted(entries: list[ManifestEntry], seed: int, *keys: str) -> list[ManifestEntry]:
    rng = np.random.default_rng([int(seed), *(stable_hash(k) for k in keys)])
    return [entries[i] for i in rng.permutation(len(entries))]


def select(
    entries: list[ManifestEntry], n: int | None, label: str, seed: int, balance: str | None = None
) -> list[ManifestEntry]:
    """``n`` entries (``None`` = all, or the largest balanced subset with ``balance``) by a seeded shuffle;
    with ``balance``, equal numbers per tag value (remainder to the values in sorted order)."""
    if balance is None:
        return _permuted(entries, seed, label)[: len(entries) if n is None else n]
    groups: dict[str, list[ManifestEntry]] = defaultdict(list)
    for e in entries:
        groups[e.tags.get(balance, UNKNOWN)].append(e)
    values = sorted(groups)
    if not values:
        return []
    if n is None:
        n = len(values) * min(len(g) for g in groups.values())
    chosen: list[ManifestEntry] = []
    for i, value in enumerate(values):
        want = n // len(values) + (1 if i < n % len(values) else 0)
        if want > len(groups[value]):
            raise MixError(
                f"{label!r}: balancing {n} episodes by {balance!r} needs {want} with {balance}={value}, "
                f"only {len(groups[value])} available (values: "
                + ", ".join(f"{v}={len(groups[v])}" for v in values)
                + ")"
            )
        chosen.extend(_permuted(groups[value], seed, label, balance, value)[:want])
    return chosen


def assign_splits(
    entries: list[ManifestEntry], val_fraction: float, seed: int, stratify: str | None = None
) -> None:
    """Set ``split`` on every entry, grouping by ``source_episode`` (see the module docstring)."""
    labels: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        labels[e.source_episode or e.name].add(e.source or "")
    strata: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for key, key_labels in labels.items():
        value = (try_parse_episode_name(key) or {}).get(stratify, UNKNOWN) if stratify else ""
        strata[(tuple(sorted(key_labels)), value)].append(key)
    val_keys: set[str] = set()
    for keys in strata.values():
        ranked = sorted(keys, key=lambda k: (stable_hash(f"{seed}:{k}"), k))
        val_keys.update(ranked[: math.floor(val_fraction * len(ranked) + 0.5)])
    for e in entries:
        e.split = "val" if (e.source_episode or e.name) in val_keys else "train"


def summarize(
    spec: MixSpec,
    entries: list[ManifestEntry],
    available: dict[str, int],
    counts: dict[str, int | None],
    skipped: list[dict[str, str]],
) -> dict[str, Any]:
    by_source: dict[str, Counter[str]] = defaultdict(Counter)
    by_tag: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    episodes: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        split = e.split or "train"
        by_source[e.source or ""][split] += 1
        episodes[split].add(e.source_episode or e.name)
        for tag in SUMMARY_TAGS:
            if tag in e.tags:
                by_tag[tag][e.tags[tag]][split] += 1
    return {
        "seed": spec.seed,
        "val_fraction": spec.val_fraction,
        "balance": spec.balance,
        "stratify": spec.stratify,
        "inputs": {k: [str(p) for p in v] for k, v in spec.inputs.items()},
        "available": available,
        "requested": {k: ("all" if v is None else v) for k, v in counts.items()},
        "total": len(entries),
        "by_split": {s: sum(c[s] for c in by_source.values()) for s in SPLITS},
        "by_source": {k: {s: v[s] for s in SPLITS} for k, v in sorted(by_source.items())},
        "source_episodes": {s: len(episodes[s]) for s in SPLITS},
        "leaked_source_episodes": len(episodes["train"] & episodes["val"]),
        "by_tag": {
            t: {v: {s: c[s] for s in SPLITS} for v, c in sorted(vals.items())} for t, vals in by_tag.items()
        },
        "skipped": skipped,
    }


def build_mix(spec: MixSpec) -> MixResult:
    """Collect, select and split; raises ``MixError`` for impossible requests."""
    pools: dict[str, list[ManifestEntry]] = {}
    skipped: list[dict[str, str]] = []
    for label, paths in spec.inputs.items():
        pools[label], bad = collect(label, paths)
        skipped.extend(bad)
    available = {k: len(v) for k, v in pools.items()}
    counts = resolve_counts(spec, available)
    entries: list[ManifestEntry] = []
    for label, pool in pools.items():
        entries.extend(select(pool, counts[label], label, spec.seed, spec.balance))
    assign_splits(entries, spec.val_fraction, spec.seed, spec.stratify)
    entries.sort(key=lambda e: (e.source or "", str(e.path)))
    return MixResult(
        entries=entries, skipped=skipped, summary=summarize(spec, entries, available, counts, skipped)
    )
