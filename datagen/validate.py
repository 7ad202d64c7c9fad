"""Check episode files against the real schema and for content problems.

``python -m datagen.validate PATH... [--min-frames 18] [--out DIR] [--strict]``

PATHs are ``.h5`` files, folders (searched recursively for ``*.h5``) or ``manifest.jsonl`` files.
Each file gets a status: ``OK``, ``WARN`` (usable, with findings) or ``INVALID`` (unusable).

Checks: keys, shapes and dtypes (both image layouts); finite actions; actions outside the teleop key
vocabulary (real data only); a non-stop row 0; event types valid and length-matched; missing / empty
instruction; short episodes (``< min_frames`` → warning, ``< min_frames_error`` → invalid); bad frames
(near-black: mean below ``dark_mean``; washed-out: mean above ``bright_mean`` or std below ``min_std``;
pixel levels 0–255); ``num_frames`` consistency.

``--out DIR`` also writes ``DIR/validate.json`` (``--json FILE``, the older form, names the file).

Exit status: 0 when no file is invalid, 1 when any is (or any warns, with ``--strict``), 2 (``error: …``)
when a path does not exist, no episode file was found or an argument is invalid.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from common.cli import ConfigError, run_main
from common.files import atomic_write_json
from datagen.manifest import find_episode_files, is_manifest, read_manifest
from datagen.schema import (
    ACTIONS_KEY,
    ATTR_SOURCE,
    EVENT_EPISODE_START,
    EVENT_TYPES,
    EVENT_TYPES_KEY,
    INSTRUCTION_KEY,
    SOURCE_REAL,
    find_image_key,
    schema_problems,
)
from sim.protocol import KEY_ACTIONS

STATUS_OK, STATUS_WARN, STATUS_INVALID = "OK", "WARN", "INVALID"
REPORT_NAME = "validate.json"
"""The JSON report ``--out DIR`` writes (a list of per-file reports)."""


@dataclass
class ValidateConfig:
    """Thresholds of the content checks (frame statistics in 0–255 pixel levels)."""

    min_frames: int = 18
    min_frames_error: int = 2
    dark_mean: float = 10.0
    bright_mean: float = 245.0
    min_std: float = 3.0
    pixel_step: int = 4
    """Frame statistics use every ``pixel_step``-th row and column (speed on 720×1280 frames)."""
    vocab_tolerance: float = 1e-3
    check_vocabulary: bool | None = None
    """Warn for actions outside the teleop vocabulary: ``None`` = only for real data."""

    def __post_init__(self) -> None:
        if self.min_frames_error < 1 or self.min_frames < self.min_frames_error:
            raise ConfigError(
                f"need 1 <= min_frames_error <= min_frames, got min_frames_error={self.min_frames_error!r}, "
                f"min_frames={self.min_frames!r}"
            )
        if self.pixel_step < 1:
            raise ConfigError(f"pixel_step must be >= 1, got {self.pixel_step!r}")
        if not 0 <= self.dark_mean < self.bright_mean <= 255:
            raise ConfigError(
                f"need 0 <= dark_mean < bright_mean <= 255, got {self.dark_mean!r}, {self.bright_mean!r}"
            )


@dataclass
class FileReport:
    """Findings about one file; ``status`` is INVALID with any error, WARN with any warning, else OK."""

    path: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    num_frames: int | None = None
    source: str | None = None

    @property
    def status(self) -> str:
        if self.errors:
            return STATUS_INVALID
        return STATUS_WARN if self.warnings else STATUS_OK

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        d["status"] = self.status
        return d


_VOCAB = np.array(sorted(set(KEY_ACTIONS.values())), dtype=np.float32)


def _frames_list(indices: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in indices[:10])
    return shown + (f", … ({len(indices)} in all)" if len(indices) > 10 else "")


def _row(action: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in action]


def _check_actions(actions: np.ndarray, report: FileReport, cfg: ValidateConfig, source: str) -> None:
    finite = np.isfinite(actions).all(axis=1)
    if not finite.all():
        report.errors.append(f"non-finite actions in rows {_frames_list(np.flatnonzero(~finite).tolist())}")
    check_vocab = cfg.check_vocabulary if cfg.check_vocabulary is not None else source == SOURCE_REAL
    if check_vocab and finite.any():
        dist = np.abs(actions[:, None, :] - _VOCAB[None, :, :]).max(axis=2).min(axis=1)
        off = np.flatnonzero(finite & (dist > cfg.vocab_tolerance))
        if off.size:
            report.warnings.append(
                f"actions outside the teleop key vocabulary in rows {_frames_list(off.tolist())} "
                f"(e.g. {_row(actions[off[0]])})"
            )
    if len(actions) and np.isfinite(actions[0]).all() and np.abs(actions[0]).max() > cfg.vocab_tolerance:
        report.warnings.append(
            f"row 0 is {_row(actions[0])}, expected the start frame's stop action [0, 0, 0]"
        )


def _check_frames(ds: h5py.Dataset, report: FileReport, cfg: ValidateConfig) -> None:
    dark, washed = [], []
    step = cfg.pixel_step
    for i in range(ds.shape[0]):
        frame = np.asarray(ds[i, ::step, ::step, :], dtype=np.float32)
        mean, std = float(frame.mean()), float(frame.std())
        if mean < cfg.dark_mean:
            dark.append(i)
        elif mean > cfg.bright_mean or std < cfg.min_std:
            washed.append(i)
    if dark:
        report.warnings.append(f"near-black frames (mean < {cfg.dark_mean:g}): {_frames_list(dark)}")
    if washed:
        report.warnings.append(
            f"washed-out frames (mean > {cfg.bright_mean:g} or std < {cfg.min_std:g}): {_frames_list(washed)}"
        )


def _check_open_file(f: h5py.File, report: FileReport, cfg: ValidateConfig) -> None:
    for problem in schema_problems(f):
        (report.errors if problem.severity == "error" else report.warnings).append(problem.message)
    source = f.attrs.get(ATTR_SOURCE, SOURCE_REAL)
    report.source = source.decode() if isinstance(source, bytes) else str(source)
    key = find_image_key(f)
    images = f[key] if key is not None else None
    if images is not None and images.ndim == 4:
        n = int(images.shape[0])
        report.num_frames = n
        if n < cfg.min_frames_error:
            report.errors.append(f"only {n} frame(s); at least {cfg.min_frames_error} needed")
        elif n < cfg.min_frames:
            report.warnings.append(f"short episode: {n} frames (< {cfg.min_frames})")
        if images.dtype == np.uint8 and images.shape[-1] == 3:
            _check_frames(images, report, cfg)
    if ACTIONS_KEY in f and isinstance(f[ACTIONS_KEY], h5py.Dataset):
        actions = f[ACTIONS_KEY]
        if actions.ndim == 2 and actions.shape[1] == 3 and np.issubdtype(actions.dtype, np.floating):
            _check_actions(np.asarray(actions[()], dtype=np.float32), report, cfg, report.source)
    event_ds = f.get(EVENT_TYPES_KEY)
    if isinstance(event_ds, h5py.Dataset) and h5py.check_string_dtype(event_ds.dtype) is not None:
        events = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in event_ds[()]]
        bad = sorted({e for e in events if e not in EVENT_TYPES})
        if bad:
            report.errors.append(f"unknown event types {bad}, expected {list(EVENT_TYPES)}")
        if events and events[0] != EVENT_EPISODE_START:
            report.warnings.append(f"first event is {events[0]!r}, expected {EVENT_EPISODE_START!r}")
    if INSTRUCTION_KEY not in f:
        report.warnings.append(f"missing {INSTRUCTION_KEY!r}")
    elif not any(m.startswith(f"{INSTRUCTION_KEY!r}") for m in report.errors):
        raw = np.asarray(f[INSTRUCTION_KEY][()]).reshape(-1)
        text = raw[0].decode("utf-8", "replace") if raw.size and isinstance(raw[0], bytes) else str(raw[0])
        if not text.strip("\x00 \t\n"):
            report.warnings.append(f"empty {INSTRUCTION_KEY!r}")


def validate_file(path: str | os.PathLike[str], config: ValidateConfig | None = None) -> FileReport:
    """Check one episode file; never raises for bad content (a corrupt file is an INVALID report)."""
    cfg = config or ValidateConfig()
    report = FileReport(path=Path(path))
    try:
        with h5py.File(path, "r") as f:
            _check_open_file(f, report, cfg)
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        report.errors.append(f"unreadable HDF5 file ({exc})")
    return report


def validate_path(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], config: ValidateConfig | None = None
) -> list[FileReport]:
    """Reports for a file, a folder (recursive ``*.h5``), a ``manifest.jsonl`` or a list of them.

    Raises ``FileNotFoundError`` naming a path that does not exist.
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(find_episode_files(p))
        elif is_manifest(p):
            files.extend(e.path for e in read_manifest(p))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p} does not exist")
    return [validate_file(f, config) for f in files]


def format_report(reports: Sequence[FileReport], verbose: bool = True) -> str:
    """Per-file lines (status, path, reasons) and a summary line."""
    lines = []
    for r in reports:
        if verbose or r.status != STATUS_OK:
            frames = f" [{r.num_frames} frames]" if r.num_frames is not None else ""
            lines.append(f"{r.status:<7} {r.path}{frames}")
            lines.extend(f"    error: {m}" for m in r.errors)
            lines.extend(f"    warning: {m}" for m in r.warnings)
    counts = {s: sum(r.status == s for r in reports) for s in (STATUS_OK, STATUS_WARN, STATUS_INVALID)}
    lines.append(
        f"summary: {len(reports)} files: {counts[STATUS_OK]} OK, {counts[STATUS_WARN]} WARN, "
        f"{counts[STATUS_INVALID]} INVALID"
    )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m datagen.validate", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="episode .h5 files or folders (searched recursively)")
    parser.add_argument("--min-frames", type=int, default=18, help="warn below this many frames (default 18)")
    parser.add_argument("--min-frames-error", type=int, default=2, help="invalid below this many (default 2)")
    parser.add_argument("--dark-mean", type=float, default=10.0, help="near-black frame mean threshold")
    parser.add_argument("--bright-mean", type=float, default=245.0, help="washed-out frame mean threshold")
    parser.add_argument("--min-std", type=float, default=3.0, help="washed-out (flat) frame std threshold")
    parser.add_argument("--out", type=Path, default=None, help=f"also write {REPORT_NAME} into this folder")
    parser.add_argument("--json", type=Path, help="also write the reports as JSON to this file (older form)")
    parser.add_argument("--quiet", action="store_true", help="list only files that are not OK")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any file warns, too")
    return parser


def _report_files(args: argparse.Namespace) -> list[Path]:
    """Where to write the JSON report, checked before anything is read or written."""
    targets = []
    if args.out is not None:
        if args.out.exists() and not args.out.is_dir():
            raise ConfigError(f"--out {args.out} is a file; expected a directory")
        targets.append(args.out / REPORT_NAME)
    if args.json is not None:
        if args.json.is_dir():
            raise ConfigError(f"--json {args.json} is a directory; expected a file name (or use --out DIR)")
        targets.append(args.json)
    return targets


def _run(args: argparse.Namespace) -> int:
    config = ValidateConfig(
        min_frames=args.min_frames,
        min_frames_error=args.min_frames_error,
        dark_mean=args.dark_mean,
        bright_mean=args.bright_mean,
        min_std=args.min_std,
    )
    targets = _report_files(args)
    reports = validate_path(args.paths, config)
    if not reports:
        raise FileNotFoundError(f"no *.h5 episode files found under {' '.join(args.paths)}")
    print(format_report(reports, verbose=not args.quiet))
    for target in targets:
        atomic_write_json(target, [r.to_dict() for r in reports])
    if any(r.status == STATUS_INVALID for r in reports):
        return 1
    if args.strict and any(r.status == STATUS_WARN for r in reports):
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_main(lambda: _run(args))


if __name__ == "__main__":
    sys.exit(main())
