"""The scenario taxonomy of the real data: names, tags, instruction wording, mirroring, the named side.

Two families, each a product of axes (the real collectors' names, so sim and real episodes pair up):

- 2025 bottle task ``{num_box}_{orientation}_{side}_{pattern}_{distance}``, e.g.
  ``1box_hori_left_core_medium``; the instruction names ``side``.
- 2026 basket task ``target_{target}_{path}_path``, e.g. ``target_center_left_path``; the instruction
  names ``path`` (the side to pass the pot on, or ``straight``).

Mirroring (left ↔ right) swaps every ``left``/``right`` value of a name's tags and every ``left``/``right``
word of an instruction; ``center``/``straight`` stay. ``instruction_side`` is the ONE rule for which side
an instruction names, used by the env's scenarios, the expert, augmentation, the VLA adapter and metrics.
Sides are in the robot/world frame: ``left`` is +y, ``right`` is -y.
"""

from __future__ import annotations

import itertools
import re

BOTTLE_TASK = "bottle2025"
BASKET_TASK = "basket2026"

BOTTLE_AXES: dict[str, tuple[str, ...]] = {
    "num_box": ("1box", "2box"),
    "orientation": ("hori", "vert"),
    "side": ("left", "right"),
    "pattern": ("core", "variant"),
    "distance": ("close", "medium", "far"),
}
BASKET_AXES: dict[str, tuple[str, ...]] = {
    "target": ("center", "left", "right"),
    "path": ("straight", "left", "right"),
}
TASK_AXES: dict[str, dict[str, tuple[str, ...]]] = {BOTTLE_TASK: BOTTLE_AXES, BASKET_TASK: BASKET_AXES}

BOTTLE_INSTRUCTION = "Navigate around obstacles and reach the front of the beverage bottle on the {side}"
BASKET_INSTRUCTIONS = {
    "left": "Navigate to the left toward the gray basket",
    "right": "Navigate to the right toward the gray basket",
    "straight": "Navigate straight toward the gray basket",
}

SIDES = ("left", "right")
"""The two sides an instruction can name; anything else (neither, or both) is ``straight``."""
_SWAP = {"left": "right", "right": "left"}
_SIDE_WORD = re.compile(r"\b(left|right)\b", re.IGNORECASE)


def _alternatives(values: tuple[str, ...]) -> str:
    return "{" + "|".join(values) + "}"


NAME_GRAMMAR = (
    "_".join(_alternatives(v) for v in BOTTLE_AXES.values()),
    "target_" + "_".join(_alternatives(v) for v in BASKET_AXES.values()) + "_path",
)
"""The two name grammars, spelled out from the axes (for error messages and docs)."""


def format_scenario_name(task: str, tags: dict[str, str]) -> str:
    """The scenario name of ``tags`` (every axis of ``task``); ``ValueError`` naming a missing axis."""
    if task not in TASK_AXES:
        raise ValueError(f"unknown task {task!r}; valid: {', '.join(TASK_AXES)}")
    missing = [axis for axis in TASK_AXES[task] if axis not in tags]
    if missing:
        raise ValueError(f"scenario tags {tags!r} lack {', '.join(missing)} (task {task})")
    if task == BOTTLE_TASK:
        return "_".join(tags[axis] for axis in BOTTLE_AXES)
    return f"target_{tags['target']}_{tags['path']}_path"


def all_scenario_names() -> list[str]:
    """Every scenario name of both taxonomies, in a stable order (bottle first, axes in order)."""
    return [
        format_scenario_name(task, dict(zip(axes, values, strict=True)))
        for task, axes in TASK_AXES.items()
        for values in itertools.product(*axes.values())
    ]


def scenario_regex(task: str) -> str:
    """A regular expression (no anchors) matching ``task``'s scenario names, one named group per axis."""
    groups = {axis: f"(?P<{axis}>{'|'.join(values)})" for axis, values in TASK_AXES[task].items()}
    return format_scenario_name(task, groups)


def parse_scenario_name(name: str) -> tuple[str, dict[str, str]]:
    """``(task, tags)`` of a scenario name; ``ValueError`` naming the bad part and the valid values."""
    parts = name.split("_")
    if len(parts) == 4 and parts[0] == "target" and parts[3] == "path":
        task, tags = BASKET_TASK, {"target": parts[1], "path": parts[2]}
    elif len(parts) == 5:
        task, tags = BOTTLE_TASK, dict(zip(BOTTLE_AXES, parts, strict=True))
    else:
        raise ValueError(
            f"unknown scenario {name!r}: expected '{NAME_GRAMMAR[0]}' or '{NAME_GRAMMAR[1]}', "
            "e.g. 1box_hori_left_core_medium"
        )
    axes = TASK_AXES[task]
    for axis, value in tags.items():
        if value not in axes[axis]:
            raise ValueError(
                f"unknown scenario {name!r}: {axis} {value!r} is not one of {', '.join(axes[axis])}"
            )
    return task, tags


def named_side(name: str) -> str:
    """The side the scenario's instruction names: ``left``, ``right`` or ``straight``."""
    task, tags = parse_scenario_name(name)
    return tags["side"] if task == BOTTLE_TASK else tags["path"]


def instruction_for(name: str) -> str:
    """The instruction text exactly as the real data words it."""
    task, tags = parse_scenario_name(name)
    if task == BOTTLE_TASK:
        return BOTTLE_INSTRUCTION.format(side=tags["side"])
    return BASKET_INSTRUCTIONS[tags["path"]]


def mirror_side(value: str) -> str:
    """``left`` ↔ ``right``; any other value (``center``, ``straight``, ``1box`` ...) unchanged."""
    return _SWAP.get(value, value)


def mirror_tags(tags: dict[str, str]) -> dict[str, str]:
    """The tags of the left-right mirror image: every ``left``/``right`` value swapped."""
    return {axis: mirror_side(value) for axis, value in tags.items()}


def mirror_scenario_name(name: str) -> str:
    """The name of the left-right mirror image of scenario ``name`` (checked to parse)."""
    task, tags = parse_scenario_name(name)
    return format_scenario_name(task, mirror_tags(tags))


def mirror_instruction(text: str) -> str:
    """Swap the words ``left`` and ``right``, keeping case (Left → Right, LEFT → RIGHT); words that
    merely contain them (``leftover``) stay. The instruction-sensitivity probe and mirror augmentation."""

    def repl(match: re.Match[str]) -> str:
        word = match.group(0)
        swapped = _SWAP[word.lower()]
        if word.isupper():
            return swapped.upper()
        return swapped.capitalize() if word[0].isupper() else swapped

    return _SIDE_WORD.sub(repl, text)


def instruction_side(instruction: str) -> str:
    """The side an instruction names: ``left`` or ``right`` when exactly one of the two words occurs
    (whole words, any case), else ``straight`` (neither, or both: no side is named unambiguously)."""
    found = {w.lower() for w in _SIDE_WORD.findall(instruction)}
    return found.pop() if len(found) == 1 else "straight"


def side_sign(side: str) -> int:
    """+1 for ``left`` (+y), -1 for ``right`` (-y), 0 for anything else."""
    return {"left": 1, "right": -1}.get(side, 0)
