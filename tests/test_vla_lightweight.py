"""What stays light: the ``mean_action`` baseline and the settings modules load neither torch nor
transformers (checked in a fresh interpreter); the baseline's bad input; the one directory writer."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from common.files import atomic_directory
from common.paths import REPO_ROOT
from policies import make_policy

HEAVY = ("torch", "transformers", "peft")


def run_fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter at the repository root; it prints one JSON line, returned."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_mean_action_is_made_and_steps_without_torch(tmp_path):
    stats = tmp_path / "run"
    stats.mkdir()
    (stats / "mean_action.json").write_text(json.dumps({"mean_command": [0.25, -0.5, 0.0]}))
    result = run_fresh(
        f"""
        import json, sys
        import numpy as np
        from policies import make_policy
        actions = []
        for kwargs in ({{"mean": [0.5, -0.2, 0.0]}}, {{"stats": {str(stats)!r}}}):
            policy = make_policy("mean_action", **kwargs)
            policy.reset("Navigate around obstacles and reach the front of the beverage bottle on the left")
            for _ in range(3):
                actions.append(policy.act({{"rgb": np.zeros((36, 64, 3), np.uint8)}}).tolist())
        print(json.dumps({{"actions": actions, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
        """
    )
    assert result["loaded"] == []
    assert result["actions"] == [[0.5, -0.20000000298023224, 0.0]] * 3 + [[0.25, -0.5, 0.0]] * 3


def test_importing_the_settings_modules_loads_no_torch():
    result = run_fresh(
        f"""
        import json, sys
        import policies.vla, policies.vla.config, training, training.config
        epochs = training.config.load_run_config("vla_tiny", ["train.epochs=2"]).train.epochs
        print(json.dumps({{"epochs": epochs, "loaded": [m for m in {HEAVY!r} if m in sys.modules]}}))
        """
    )
    assert result == {"epochs": 2, "loaded": []}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", r"mean_action\.json: invalid JSON"),
        ('{"mean_model": [0.1, 0.2]}', r"mean_action\.json: missing key 'mean_command'"),
        ('{"mean_command": [0.1, 0.2]}', r"mean must be 3 finite numbers .* got \[0\.1, 0\.2\]"),
        ('{"mean_command": [0.1, NaN, 0.0]}', r"mean must be 3 finite numbers"),
    ],
)
def test_mean_action_bad_stats_name_the_file_or_value(tmp_path, content, message):
    (tmp_path / "mean_action.json").write_text(content)
    with pytest.raises((ValueError, KeyError), match=message):
        make_policy("mean_action", stats=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"stats file .*nowhere not found"):
        make_policy("mean_action", stats=str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="needs mean="):
        make_policy("mean_action")


def test_atomic_directory_replaces_whole_or_not_at_all(tmp_path):
    out = tmp_path / "ckpt"
    with atomic_directory(out) as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(RuntimeError, match="writer died"), atomic_directory(out) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("writer died")
    assert (out / "a.txt").read_text() == "first"
    with atomic_directory(out) as tmp:
        (tmp / "b.txt").write_text("second")
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]
    with pytest.raises(FileExistsError, match="ckpt already exists"), atomic_directory(out, replace=False):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temporary siblings left behind
    assert (out / "b.txt").read_text() == "second"
