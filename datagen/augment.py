"""Augmented copies of episodes: mirror, colour, brightness/contrast, blur, noise, crop-and-resize.

``python -m datagen.augment --in DIR --out DIR --copies 5 --seed S [--include-originals]``

Each input episode gets ``copies`` augmented copies in ``--out``; the output holds only the copies
(250 episodes × 5 copies → 1,250 files) unless ``--include-originals`` also places the originals there
(hard link, or a copy across file systems; 250 × 6 = 1,500). A ``manifest.jsonl`` lists this run's
outputs (file, sha256, tags, source, source_episode, ops, frames, instruction).

Every copy draws its parameters from ``np.random.default_rng([seed, hash(source file name), copy, op])``:
results are deterministic and independent of processing order and of which other ops are enabled.
Operations act on whole episodes (the same parameters for every frame, noise drawn per frame) in this
order: mirror, crop, hsv, brightness_contrast, blur, noise. The mirror flips images left-right, negates
``linear_y`` and ``angular_z``, swaps "left"/"right" in the instruction and the side tag(s) in the name.

Copies keep the event types and real attributes (``episode_name`` renamed), record their origin
under ``augment/`` and drop the ``sim/`` group (its poses would not match mirrored images).

Copy names: ``{source stem, side-swapped if mirrored}__aug{k:02d}`` with an ``m`` appended when mirrored,
so they are unique and still parse. A bad input file is reported and skipped; the exit status is 1 only
when no input could be processed (then nothing is written; ``--strict``: when any failed), 2 for bad
arguments (``error: …`` naming the value, before anything is written). ``--out`` is a folder, by default
``runs/augment/<first input>-seed<S>``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from common.cli import ConfigError, default_out_dir, run_main
from common.workers import spawn_pool
from datagen.augment_ops import (
    OPS,
    AugmentConfig,
    augment_episode,
    copy_name,
    mirror_actions,
    op_rng,
    swap_left_right,
)
from datagen.manifest import (
    MANIFEST_NAME,
    ManifestEntry,
    discover,
    entry_for_file,
    file_sha256,
    write_manifest,
)
from datagen.schema import (
    EPISODE_SUFFIX,
    Episode,
    EpisodeFormatError,
    read_episode,
    write_episode,
    write_episode_file,
)

__all__ = [
    "OPS",
    "AugmentConfig",
    "FileResult",
    "augment_episode",
    "augment_file",
    "augment_paths",
    "copy_name",
    "main",
    "mirror_actions",
    "op_rng",
    "swap_left_right",
]


# -------------------------------------------------------------------------------------- files
@dataclass
class FileResult:
    """Outcome of one input file: manifest entries of what was written, or the reason it failed."""

    source: Path
    entries: list[ManifestEntry] = field(default_factory=list)
    error: str | None = None


def _entry(path: Path, episode: Episode, **extra: Any) -> ManifestEntry:
    entry = entry_for_file(path, source=episode.source, source_episode=episode.source_episode)
    entry.extra = {
        "sha256": file_sha256(path),
        "frames": episode.num_frames,
        "instruction": episode.instruction,
        **extra,
    }
    return entry


def augment_file(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    config: AugmentConfig,
    include_original: bool = False,
) -> FileResult:
    """Write the augmented copies of one episode file into ``out_dir``; never raises for a bad input."""
    path, out_dir = Path(path), Path(out_dir)
    result = FileResult(source=path)
    try:
        episode = read_episode(path)
        for k in range(config.copies):
            copy = augment_episode(episode, config, k, path.name)
            out = write_episode(
                out_dir / f"{copy.name}{EPISODE_SUFFIX}", copy, level=config.compression_level
            )
            copy.path = out
            assert copy.augment is not None
            result.entries.append(
                _entry(out, copy, ops=copy.augment.ops, copy_index=k, seed=config.seed, source_file=path.name)
            )
        if include_original:
            dest = out_dir / path.name
            if dest.resolve() != path.resolve():
                dest.unlink(missing_ok=True)
                try:
                    os.link(path, dest)
                except OSError:  # another file system: a copy, written like every episode file
                    write_episode_file(dest, lambda tmp: shutil.copy2(path, tmp))
            episode.path = dest
            result.entries.append(_entry(dest, episode))
    except (EpisodeFormatError, OSError, ValueError) as exc:
        result.error = str(exc)
    return result


def _augment_file_args(args: tuple[Path, Path, AugmentConfig, bool]) -> FileResult:
    return augment_file(*args)


def augment_paths(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    config: AugmentConfig,
    *,
    include_originals: bool = False,
    workers: int = 1,
) -> list[FileResult]:
    """Augment every episode of ``inputs`` (files, folders, manifests) into ``out_dir`` and write its
    ``manifest.jsonl`` (not when no input could be processed). Files already under ``out_dir`` are not
    taken as inputs. Raises ``FileNotFoundError`` naming a missing input before anything is written."""
    out_dir = Path(out_dir)
    files = input_files(inputs, out_dir)
    jobs = [(f, out_dir, config, include_originals) for f in files]
    if workers > 1 and len(jobs) > 1:
        with spawn_pool(workers) as pool:
            results = list(pool.map(_augment_file_args, jobs))
    else:
        results = [_augment_file_args(job) for job in jobs]
    if any(r.error is None for r in results):
        entries = sorted((e for r in results for e in r.entries), key=lambda e: e.path.name)
        write_manifest(out_dir / MANIFEST_NAME, entries)
    return results


def input_files(inputs: Sequence[str | os.PathLike[str]], out_dir: Path) -> list[Path]:
    """The episode files of ``inputs``, leaving out those already under ``out_dir``."""
    out_abs = out_dir.resolve()
    return [e.path for e in discover(list(inputs)) if out_abs not in e.path.resolve().parents]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m datagen.augment", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--in",
        dest="inputs",
        nargs="+",
        required=True,
        type=Path,
        help="episode files, folders (recursive *.h5) or manifest.jsonl files",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="output folder (default runs/augment/<first input>-seed<S>)"
    )
    parser.add_argument("--copies", type=int, default=5, help="augmented copies per episode (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--include-originals", action="store_true", help="also place the originals in --out")
    parser.add_argument("--workers", type=int, default=1, help="processes (results do not depend on it)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any input failed")
    for op in OPS:
        parser.add_argument(
            f"--p-{op.replace('_', '-')}", type=float, default=None, help=f"probability of {op} (0-1)"
        )
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise ConfigError(f"--workers {args.workers} is invalid: expected an integer >= 1")
    overrides = {f"p_{op}": getattr(args, f"p_{op}") for op in OPS if getattr(args, f"p_{op}") is not None}
    config = AugmentConfig(copies=args.copies, seed=args.seed, **overrides)
    out = args.out or default_out_dir("augment", f"{Path(args.inputs[0]).stem}-seed{args.seed}")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; expected a directory")
    if not input_files(args.inputs, out):
        raise FileNotFoundError(f"no *.h5 episode files in --in {' '.join(map(str, args.inputs))}")
    results = augment_paths(
        args.inputs, out, config, include_originals=args.include_originals, workers=args.workers
    )
    failed = [r for r in results if r.error is not None]
    for r in failed:
        print(f"skipped {r.source}: {r.error}", file=sys.stderr)
    done = len(results) - len(failed)
    if done == 0:
        print(
            f"error: none of the {len(results)} input episodes is readable; nothing written",
            file=sys.stderr,
        )
        return 1
    written = sum(len(r.entries) for r in results)
    print(
        f"augmented {done}/{len(results)} episodes → {written} files in {out} "
        f"({len(failed)} skipped); manifest {out / MANIFEST_NAME}"
    )
    print("config: " + ", ".join(f"{k}={v}" for k, v in asdict(config).items()))
    return 1 if args.strict and failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_main(lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
