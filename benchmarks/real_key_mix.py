"""How far the real key mixes of the team's two recording periods lie from the 468-episode counts.

Run: ``python benchmarks/real_key_mix.py [SEQUENCES.json] [STATS.json]`` (defaults: the repository's
copies in ``configs/calibration/``). The real-sequences file holds runs of both periods; the 468-episode
counts (``real_action_stats.json``) come from the November 2025 files only. The December left set is the
set of left sequences in ``configs/operator/real_sequences.yaml`` that ``real_sequences_2025_11.yaml``
leaves out. Prints each mix's key shares and its total variation distance to the counts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.data_gap import Episode, load_side, reference_key_shares, statistics, total_variation  # noqa: E402
from policies.operator_plans import TEMPLATES_DIR  # noqa: E402
from sim.taxonomy import named_side  # noqa: E402

CALIBRATION = ROOT / "configs" / "calibration"
NOVEMBER_FILES = {"left": 218.0, "right": 250.0}
"""Files per side behind the 468-episode counts (``dataset_summary_468.split``: 206 + 12 left, 250 right)."""
CURRENT_FILES = {"left": 250.0, "right": 250.0}
"""The team's 2025 collection today (real-robot.md): 250 left re-recorded in December, 250 right."""


def _keys(path: Path, side: str) -> set[str]:
    from omegaconf import OmegaConf

    data = OmegaConf.to_container(OmegaConf.load(path))
    return {"".join(str(e["keys"]).split()).lower() for e in data[side]}


def real_mixes(episodes: list[Episode]) -> dict[str, list[Episode]]:
    """The real key mixes compared: ``{label: weighted episodes}``."""
    december = _keys(TEMPLATES_DIR / "real_sequences.yaml", "left") - _keys(
        TEMPLATES_DIR / "real_sequences_2025_11.yaml", "left"
    )
    left = [e for e in episodes if named_side(e.scenario) == "left"]
    right = [e for e in episodes if named_side(e.scenario) == "right"]

    def scaled(group: list[Episode], total: float) -> list[Episode]:
        weight = sum(e.weight for e in group)
        return [Episode(e.scenario, e.keys, e.weight * total / weight) for e in group]

    return {
        "the real-sequences file as it is (both periods)": episodes,
        "the same, left and right weighted equally": scaled(left, 1.0) + scaled(right, 1.0),
        "current 2025 collection: 250 left of the December set + 250 right": scaled(
            [e for e in left if e.keys in december], CURRENT_FILES["left"]
        )
        + scaled(right, CURRENT_FILES["right"]),
        "November sequences only, 218 left + 250 right as in the 468 files": scaled(
            [e for e in left if e.keys not in december], NOVEMBER_FILES["left"]
        )
        + scaled(right, NOVEMBER_FILES["right"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sequences", nargs="?", default=str(CALIBRATION / "real_operator_sequences.json"))
    parser.add_argument("stats", nargs="?", default=str(CALIBRATION / "real_action_stats.json"))
    args = parser.parse_args()
    reference = reference_key_shares(args.stats)
    mix = "  ".join(f"{k.upper()} {v:.1%}" for k, v in reference.items())
    print(f"reference (468-episode counts): {mix}")
    for label, group in real_mixes(load_side(args.sequences).episodes).items():
        shares = statistics(group)["key_shares"]
        mix = "  ".join(f"{k.upper()} {shares.get(k, 0.0):.1%}" for k in reference)
        print(f"{label:68s} TV {total_variation(shares, reference):.3f}   {mix}")


if __name__ == "__main__":
    main()
