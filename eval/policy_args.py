"""The policy arguments of an evaluation command line: ``policy.KEY=VALUE`` items (``common.cli``'s
dialect, deep-merged) plus the deprecated ``--set KEY=VALUE`` spelling, wherever argparse put them."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from common.cli import policy_overrides


def is_policy_item(item: str) -> bool:
    """Whether a command-line item is a ``policy.KEY=VALUE`` argument."""
    return item.startswith("policy.") and "=" in item


def take_policy_items(items: list[str]) -> list[str]:
    """Remove and return the ``policy.KEY=VALUE`` items a list-valued flag swallowed (``--data DIR
    policy.x=1`` puts ``policy.x=1`` into ``--data``)."""
    taken = [i for i in items if is_policy_item(i)]
    items[:] = [i for i in items if not is_policy_item(i)]
    return taken


def policy_kwargs(overrides: Sequence[str], legacy_set: Sequence[str] = ()) -> dict[str, Any]:
    """``make_policy`` arguments of ``policy.KEY=VALUE`` items and the deprecated ``--set KEY=VALUE``
    items (a warning on stderr), deep-merged; ``--set`` items come first, so ``policy.`` items win."""
    legacy = [i for i in legacy_set if not is_policy_item(i)]
    if legacy:
        print("warning: --set KEY=VALUE is deprecated; write policy.KEY=VALUE", file=sys.stderr)
    moved = [i for i in legacy_set if is_policy_item(i)]
    return policy_overrides([*(f"policy.{item}" for item in legacy), *moved, *overrides])
