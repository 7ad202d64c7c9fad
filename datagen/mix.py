"""Sim + Real training mixes as manifests (nothing is copied).

``python -m datagen.mix --real DIR --sim DIR [--augmented DIR] [--input LABEL=PATH ...]
[--real-count 250 --sim-count 5000 | --count LABEL=N ... | --ratio sim=0.5,real=0.5 --total N]
[--balance side] [--stratify side] [--val-fraction 0.2] [--seed S] [--out DIR] [--link-dir DIR]``

Inputs are folders (recursive ``*.h5``), episode files or ``manifest.jsonl`` files, each under a source
label (the entry's ``source`` in the output). Selection per label: an explicit count, a share of
``--total`` by ``--ratio`` (largest-remainder rounding), or everything. ``--balance TAG`` selects equal
numbers per value of a name tag (e.g. ``side``: left/right) within each label. Selection is a seeded
permutation per label (and tag value), so it is deterministic.

The train/val split is by *source episode*: augmented copies carry the ``source_episode`` of their
original, and all entries of one source episode land in the same split, so copies of a validation
episode never train. Within each stratum (the set of labels a source episode appears under, and the
``--stratify`` tag of its name) the ``round(val_fraction × n)`` source episodes with the smallest
``hash(seed, id)`` go to val, which also keeps an episode's split stable across mixes.

Writes ``manifest.jsonl`` (file relative to the manifest, split, source, source_episode, tags, frames,
instruction, origin) and ``mix.json`` (counts per source / split / tag, skipped files) into the folder
``--out`` (default ``runs/mix/seed<S>``; a ``.jsonl`` path still names the manifest itself, ``mix.json``
beside it). Unreadable files are reported and skipped. Exit status 0; 1 when nothing could be selected;
2 (``error: …`` naming the value, before anything is written) for bad arguments or impossible
selections (a count above what a label holds).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from common.cli import default_out_dir, run_main
from common.files import atomic_write_text
from datagen.manifest import MANIFEST_NAME, ManifestEntry, write_manifest
from datagen.mix_select import (
    SPLITS,
    MixError,
    MixResult,
    MixSpec,
    assign_splits,
    build_mix,
    collect,
    resolve_counts,
    select,
    summarize,
)

__all__ = [
    "MixError",
    "MixResult",
    "MixSpec",
    "assign_splits",
    "build_mix",
    "collect",
    "main",
    "resolve_counts",
    "select",
    "summarize",
    "write_mix",
]


def manifest_path(out: str | os.PathLike[str]) -> Path:
    """The manifest ``--out`` names: ``out/manifest.jsonl`` for a folder, ``out`` itself for a ``.jsonl``."""
    out = Path(out)
    return out if out.suffix == ".jsonl" else out / MANIFEST_NAME


def check_outputs(out: str | os.PathLike[str], link_dir: str | os.PathLike[str] | None = None) -> None:
    """Refuse, before anything is written, an ``out`` folder that is a file and a link folder holding
    regular files (``MixError`` naming the path)."""
    folder = manifest_path(out).parent
    if folder.exists() and not folder.is_dir():
        raise MixError(f"--out {out}: {folder} is a file; expected a directory")
    if link_dir is None:
        return
    for split in SPLITS:
        regular = [
            p for p in sorted((Path(link_dir) / split).rglob("*")) if p.is_file() and not p.is_symlink()
        ]
        if regular:
            raise MixError(
                f"link folder {Path(link_dir) / split} holds a regular file {regular[0]}; "
                "refusing to mix links into it"
            )


def write_mix(
    result: MixResult, out: str | os.PathLike[str], link_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Write ``manifest.jsonl`` and ``mix.json`` (``out`` is a folder or a ``.jsonl`` path); optionally a
    folder of relative symlinks ``link_dir/{train,val}/{source}/{file}``. Returns the manifest path."""
    check_outputs(out, link_dir)
    manifest = manifest_path(out)
    write_manifest(manifest, result.entries)
    atomic_write_text(
        manifest.parent / "mix.json", json.dumps(result.summary, indent=2, sort_keys=True) + "\n"
    )
    if link_dir is not None:
        _write_links(result.entries, Path(link_dir))
    return manifest


def _write_links(entries: list[ManifestEntry], link_dir: Path) -> None:
    for split in SPLITS:
        folder = link_dir / split
        if folder.exists():
            for p in sorted(folder.rglob("*"), reverse=True):
                if p.is_symlink():
                    p.unlink()
                elif p.is_dir() and not any(p.iterdir()):
                    p.rmdir()
    for e in entries:
        link = link_dir / (e.split or "train") / (e.source or "unlabelled") / e.path.name
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            raise MixError(f"two selected episodes share the link name {link}")
        link.symlink_to(os.path.relpath(e.path.resolve(), link.parent.resolve()))


def _pairs(values: Sequence[str], what: str, commas: bool = True) -> list[tuple[str, str]]:
    out = []
    for item in values:
        for part in item.split(",") if commas else [item]:
            if not part:
                continue
            label, sep, value = part.partition("=")
            if not sep or not label or not value:
                raise MixError(f"{what} expects LABEL=VALUE, got {part!r}")
            out.append((label.strip(), value.strip()))
    return out


def _number(text: str, what: str, kind: type) -> float:
    """``text`` as ``kind`` (int or float); ``MixError`` naming the flag and value otherwise."""
    try:
        return kind(text)
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise MixError(f"{what}={text} is invalid: expected {expected}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m datagen.mix", description=__doc__.split("\n\n")[0])
    for label in ("real", "sim", "augmented"):
        parser.add_argument(
            f"--{label}",
            action="append",
            default=[],
            type=Path,
            metavar="PATH",
            help=f"episodes labelled {label!r} (folder, file or manifest; repeatable)",
        )
        parser.add_argument(f"--{label}-count", type=int, default=None, metavar="N")
    parser.add_argument(
        "--input", action="append", default=[], metavar="LABEL=PATH", help="any labelled input"
    )
    parser.add_argument("--count", action="append", default=[], metavar="LABEL=N")
    parser.add_argument("--ratio", action="append", default=[], metavar="LABEL=R[,LABEL=R]")
    parser.add_argument("--total", type=int, default=None)
    parser.add_argument(
        "--balance", default=None, metavar="TAG", help="equal numbers per value of a name tag"
    )
    parser.add_argument(
        "--stratify", default=None, metavar="TAG", help="split each value of a tag separately"
    )
    parser.add_argument(
        "--val-fraction", type=float, default=0.2, help="share of source episodes in val, [0, 1)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default runs/mix/seed<S>; or a .jsonl manifest path)",
    )
    parser.add_argument(
        "--link-dir", type=Path, default=None, help="also write train/ val/ folders of symlinks"
    )
    return parser


def _spec(args: argparse.Namespace) -> MixSpec:
    inputs: dict[str, list[Path]] = defaultdict(list)
    counts: dict[str, int] = {}
    for label in ("real", "sim", "augmented"):
        inputs[label].extend(getattr(args, label))
        if getattr(args, f"{label}_count") is not None:
            counts[label] = getattr(args, f"{label}_count")
    for label, path in _pairs(args.input, "--input", commas=False):
        inputs[label].append(Path(path))
    for label, n in _pairs(args.count, "--count"):
        counts[label] = int(_number(n, f"--count {label}", int))
    ratios = {label: _number(r, f"--ratio {label}", float) for label, r in _pairs(args.ratio, "--ratio")}
    return MixSpec(
        inputs={k: v for k, v in inputs.items() if v},
        counts=counts,
        ratios=ratios,
        total=args.total,
        balance=args.balance,
        stratify=args.stratify,
        val_fraction=args.val_fraction,
        seed=args.seed,
    )


def _run(args: argparse.Namespace) -> int:
    spec = _spec(args)
    out = args.out or default_out_dir("mix", f"seed{args.seed}")
    check_outputs(out, args.link_dir)
    result = build_mix(spec)
    for s in result.skipped:
        print(f"skipped {s['file']}: {s['reason']}", file=sys.stderr)
    if not result.entries:
        print(
            f"error: nothing selected ({len(result.skipped)} file(s) skipped); nothing written",
            file=sys.stderr,
        )
        return 1
    manifest = write_mix(result, out, args.link_dir)
    summary = result.summary
    print(
        f"mix: {summary['total']} episodes → {manifest} "
        f"(train {summary['by_split']['train']}, val {summary['by_split']['val']}; "
        f"{len(result.skipped)} skipped)"
    )
    for label, by_split in summary["by_source"].items():
        print(f"  {label}: train {by_split['train']}, val {by_split['val']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_main(lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
