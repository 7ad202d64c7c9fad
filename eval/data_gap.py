"""How far apart two sets of driving data are: key statistics side by side, with total variation distances.

``python -m eval.data_gap A B --out DIR`` where A and B are each a dataset folder (``*.h5``, its
``manifest.jsonl`` used for the keys when present), a manifest, or a real-sequences JSON file (the
shared ``real_operator_sequences.json`` layout: ``sequences`` with ``scenario``, ``keys`` and
``episodes_reported``, used as the episode weight). Per scenario present on both sides, and overall:

- key shares (every press after the start row, stop presses included), first and last press;
- per-position key distribution over the presses (position 1 = the first press after the start row);
- presses (non-stop) and stop rows per episode;
- sequence diversity: distinct sequences and the share of the most common one;

each with its total variation distance TV = ½ Σ |p − q| (0 = identical, 1 = disjoint), plus, when both
sides have images, the visual Fréchet gap of ``eval.sim2real.visual_gap``. ``--key-shares FILE`` adds
a reference key mix (``real_action_stats.json``: its ``as_keys`` counts, the start rows left out): the
overall key shares of each side against it, and per value of each scenario tag (``distance: close``,
``side: left``, …), which shows where a key-mix gap comes from. Writes ``report.json`` and a
self-contained ``report.html`` into ``--out`` (a folder, default ``runs/data_gap/<A>-vs-<B>``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.cli import BenchError, default_out_dir, run_main
from common.files import atomic_write_json
from eval.data_gap_report import OVERALL, format_summary, write_report


class DataGapError(BenchError, ValueError):
    """An input of the data-gap report is missing or malformed; the message names the file and field."""


@dataclass(frozen=True)
class Episode:
    """One episode's presses after the start row (``keys``, lower case), its scenario and weight."""

    scenario: str
    keys: str
    weight: float = 1.0
    path: Path | None = None
    """The HDF5 file (frames available) or None (a real-sequences entry)."""


@dataclass
class Side:
    """One input: its label, episodes and whether frames exist."""

    label: str
    source: str
    episodes: list[Episode]

    @property
    def has_images(self) -> bool:
        return bool(self.episodes) and all(e.path is not None for e in self.episodes)


# --------------------------------------------------------------------------- loading


def _real_sequences(path: Path, data: Mapping[str, Any]) -> list[Episode]:
    from sim.protocol import parse_keys

    episodes = []
    for i, item in enumerate(data["sequences"]):
        where = f"{path}: sequences[{i}]"
        if not isinstance(item, Mapping) or not item.get("scenario") or not item.get("keys"):
            raise DataGapError(f"{where}: expected an object with 'scenario' and 'keys'")
        try:
            keys = "".join("." if k == " " else k for k in parse_keys(str(item["keys"])))
        except ValueError as exc:
            raise DataGapError(f"{where}: {exc}") from exc
        weight = item.get("episodes_reported", 1)
        if not isinstance(weight, (int, float)) or weight <= 0:
            raise DataGapError(f"{where}: episodes_reported={weight!r} is not a positive number")
        episodes.append(Episode(str(item["scenario"]), keys, float(weight)))
    if not episodes:
        raise DataGapError(f"{path}: 'sequences' is empty")
    return episodes


def _dataset(path: Path) -> list[Episode]:
    from datagen.expert_rollout import key_string
    from datagen.manifest import MANIFEST_NAME, discover
    from datagen.schema import read_episode
    from eval.open_loop_metrics import episode_tags

    manifest = path / MANIFEST_NAME if path.is_dir() else None
    entries = discover(manifest if manifest is not None and manifest.is_file() else path)
    if not entries:
        raise DataGapError(f"{path}: no episodes (expected *.h5 files or a manifest listing them)")
    episodes = []
    for entry in entries:
        scenario = episode_tags(entry.tags, entry.name).get("scenario", "unknown")
        keys = entry.extra.get("keys")
        if not isinstance(keys, str):
            try:
                keys = key_string(read_episode(entry.path).actions[1:])
            except (OSError, ValueError) as exc:
                raise DataGapError(f"{entry.path}: cannot read its actions ({exc})") from exc
        episodes.append(Episode(scenario, keys.lower(), 1.0, entry.path))
    return episodes


def load_side(source: str | Path, label: str | None = None) -> Side:
    """Episodes of a dataset folder, manifest or real-sequences JSON file."""
    path = Path(source)
    if not path.exists():
        raise DataGapError(f"{path} does not exist (expected a dataset folder, manifest or sequences file)")
    if path.is_file() and path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataGapError(f"{path}: not readable JSON ({exc})") from exc
        if not isinstance(data, Mapping) or not isinstance(data.get("sequences"), list):
            raise DataGapError(f"{path}: expected a real-sequences file with a 'sequences' list")
        episodes = _real_sequences(path, data)
    else:
        episodes = _dataset(path)
    return Side(label or path.name or str(path), str(path), episodes)


def reference_key_shares(path: str | Path) -> dict[str, float]:
    """Key shares of ``real_action_stats.json`` (``action_distribution_468.as_keys``, start rows left out)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        counts = data["action_distribution_468"]["as_keys"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataGapError(f"{path}: expected action_distribution_468.as_keys key counts ({exc})") from exc
    keys = {k.lower(): float(v) for k, v in counts.items() if len(k) == 1}
    total = sum(keys.values())
    if total <= 0:
        raise DataGapError(f"{path}: action_distribution_468.as_keys has no key counts")
    return {k: v / total for k, v in keys.items()}


# --------------------------------------------------------------------------- statistics


def total_variation(p: Mapping[Any, float], q: Mapping[Any, float]) -> float:
    """½ Σ |p − q| over the union of outcomes (both normalised to sum 1; empty → 0)."""
    sp, sq = sum(p.values()), sum(q.values())
    if sp <= 0 or sq <= 0:
        return float("nan")
    return 0.5 * sum(abs(p.get(k, 0.0) / sp - q.get(k, 0.0) / sq) for k in set(p) | set(q))


def _dist(counter: Counter) -> dict[str, float]:
    total = sum(counter.values())
    return {str(k): v / total for k, v in sorted(counter.items(), key=lambda kv: str(kv[0]))} if total else {}


def _moments(counter: Counter) -> dict[str, float]:
    total = sum(counter.values())
    mean = sum(k * v for k, v in counter.items()) / total
    var = sum(v * (k - mean) ** 2 for k, v in counter.items()) / total
    return {"mean": mean, "std": var**0.5}


def statistics(episodes: Sequence[Episode]) -> dict[str, Any]:
    """Weighted key statistics of ``episodes`` (distributions as ``{key: share}``)."""
    shares, first, last, presses, stops, seqs = (
        Counter(),
        Counter(),
        Counter(),
        Counter(),
        Counter(),
        Counter(),
    )
    length = max(len(e.keys) for e in episodes)
    positions = [Counter() for _ in range(length)]
    for e in episodes:
        w = e.weight
        for i in range(length):
            key = e.keys[i] if i < len(e.keys) else "-"
            positions[i][key] += w
            if key != "-":
                shares[key] += w
        first[e.keys[:1] or "-"] += w
        last[e.keys[-1:] or "-"] += w
        presses[sum(k != "." for k in e.keys)] += w
        stops[e.keys.count(".")] += w
        seqs[e.keys] += w
    total = sum(seqs.values())
    top_seq, top_w = seqs.most_common(1)[0]
    return {
        "episodes": len(episodes),
        "weight": total,
        "key_shares": _dist(shares),
        "first_press": _dist(first),
        "last_press": _dist(last),
        "per_position": [_dist(c) for c in positions],
        "presses_per_episode": {**_moments(presses), "histogram": _dist(presses)},
        "stop_rows_per_episode": {**_moments(stops), "histogram": _dist(stops)},
        "distinct_sequences": len(seqs),
        "top_sequence": top_seq,
        "top_sequence_share": top_w / total,
        "sequences": _dist(seqs),
    }


def _tags(scenario: str) -> dict[str, str]:
    from sim.taxonomy import parse_scenario_name

    try:
        return parse_scenario_name(scenario)[1]
    except ValueError:
        return {}


def key_shares_by_tag(episodes: Sequence[Episode], reference: Mapping[str, float]) -> dict[str, Any]:
    """Key shares of ``episodes`` per value of each scenario tag (``distance: close``, ``side: left``, …)
    with their TV against ``reference``: where a key-mix gap comes from. Episodes whose scenario is not
    a taxonomy name are left out; ``{axis: {value: {episodes, key_shares, tv}}}``."""
    groups: dict[tuple[str, str], list[Episode]] = {}
    for e in episodes:
        for axis, value in _tags(e.scenario).items():
            groups.setdefault((axis, value), []).append(e)
    out: dict[str, Any] = {}
    for (axis, value), group in sorted(groups.items()):
        shares = statistics(group)["key_shares"]
        out.setdefault(axis, {})[value] = {
            "episodes": sum(e.weight for e in group),  # a real sequence counts its weight
            "key_shares": shares,
            "tv": total_variation(shares, reference),
        }
    return out


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Total variation distances between two ``statistics`` results."""
    n = max(len(a["per_position"]), len(b["per_position"]))
    none = {"-": 1.0}
    per_pos = [
        total_variation(
            a["per_position"][i] if i < len(a["per_position"]) else none,
            b["per_position"][i] if i < len(b["per_position"]) else none,
        )
        for i in range(n)
    ]
    return {
        "key_shares": total_variation(a["key_shares"], b["key_shares"]),
        "first_press": total_variation(a["first_press"], b["first_press"]),
        "last_press": total_variation(a["last_press"], b["last_press"]),
        "per_position": per_pos,
        "per_position_mean": float(np.mean(per_pos)),
        "presses_per_episode": total_variation(
            a["presses_per_episode"]["histogram"], b["presses_per_episode"]["histogram"]
        ),
        "stop_rows_per_episode": total_variation(
            a["stop_rows_per_episode"]["histogram"], b["stop_rows_per_episode"]["histogram"]
        ),
        "sequences": total_variation(a["sequences"], b["sequences"]),
    }


def _visual(a: Side, b: Side, scenarios: Sequence[str], max_episodes: int, encoder: str) -> dict[str, Any]:
    """Fréchet gap per scenario (``eval.sim2real.visual_gap``) on up to ``max_episodes`` per side."""
    from eval.visual_gap import visual_gap

    def pick(side: Side, scenario: str) -> list[Path]:
        paths = [e.path for e in side.episodes if e.scenario == scenario and e.path is not None]
        step = max(1, len(paths) // max_episodes)
        return paths[::step][:max_episodes]

    rows = []
    for scenario in scenarios:
        gap = visual_gap(pick(a, scenario), pick(b, scenario), [("scenario", scenario)], encoder)
        rows.extend(gap["tags"])
    return {"encoder": gap["encoder"] if scenarios else encoder, "rows": rows}


def data_gap(
    a: Side,
    b: Side,
    key_shares_ref: Mapping[str, float] | None = None,
    ref_label: str = "reference",
    images: bool = True,
    max_image_episodes: int = 40,
    encoder: str = "colorhist",
) -> dict[str, Any]:
    """The whole comparison as a JSON-ready dict (see the module docstring)."""
    common = sorted({e.scenario for e in a.episodes} & {e.scenario for e in b.episodes})
    groups: dict[str, Any] = {}
    for name in [OVERALL, *common]:
        sa = statistics([e for e in a.episodes if name == OVERALL or e.scenario == name])
        sb = statistics([e for e in b.episodes if name == OVERALL or e.scenario == name])
        groups[name] = {"a": sa, "b": sb, "tv": compare(sa, sb)}
    result: dict[str, Any] = {
        "a": {"label": a.label, "source": a.source, "episodes": len(a.episodes)},
        "b": {"label": b.label, "source": b.source, "episodes": len(b.episodes)},
        "scenarios_in_both": common,
        "groups": groups,
    }
    if key_shares_ref is not None:
        overall = groups[OVERALL]
        result["key_shares_reference"] = {
            "label": ref_label,
            "shares": dict(key_shares_ref),
            "tv_a": total_variation(overall["a"]["key_shares"], key_shares_ref),
            "tv_b": total_variation(overall["b"]["key_shares"], key_shares_ref),
            "by_tag_a": key_shares_by_tag(a.episodes, key_shares_ref),
            "by_tag_b": key_shares_by_tag(b.episodes, key_shares_ref),
        }
    if images and a.has_images and b.has_images and common:
        result["visual"] = _visual(a, b, common, max_image_episodes, encoder)
    else:
        result["visual"] = None
    return result


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m eval.data_gap", description=__doc__.split("\n\n")[0])
    p.add_argument("a", help="dataset folder, manifest.jsonl or real-sequences JSON")
    p.add_argument("b", help="dataset folder, manifest.jsonl or real-sequences JSON")
    p.add_argument(
        "--out", type=Path, help="folder for report.json and report.html (default runs/data_gap/<A>-vs-<B>)"
    )
    p.add_argument("--labels", nargs=2, metavar=("A", "B"), help="names of the two sides in the report")
    p.add_argument("--key-shares", help="reference key mix for the overall line (real_action_stats.json)")
    p.add_argument("--no-images", action="store_true", help="skip the visual Fréchet gap")
    p.add_argument("--image-episodes", type=int, default=40, help="episodes per scenario and side for it")
    p.add_argument("--encoder", default="colorhist", help="colorhist or policy:NAME (see eval.sim2real)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_main(lambda: _main(args))


def _main(args: argparse.Namespace) -> int:
    if args.image_episodes < 1:
        raise DataGapError(f"--image-episodes={args.image_episodes}: expected >= 1")
    labels = args.labels or (None, None)
    a, b = load_side(args.a, labels[0]), load_side(args.b, labels[1])
    out = args.out or default_out_dir("data_gap", f"{a.label}-vs-{b.label}")
    if out.exists() and not out.is_dir():
        raise DataGapError(f"--out {out} is a file; expected a folder")
    ref = reference_key_shares(args.key_shares) if args.key_shares else None
    ref_label = Path(args.key_shares).name if args.key_shares else ""
    result = data_gap(a, b, ref, ref_label, not args.no_images, args.image_episodes, args.encoder)
    atomic_write_json(out / "report.json", result)
    write_report(result, out)
    print(format_summary(result))
    print(f"wrote {out / 'report.json'} and {out / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
