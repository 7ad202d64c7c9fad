"""Shared fixtures: the tiny Kosmos-2 backbone (built once per session) and the env of a test module.

A module sets ``ENV_CONFIG`` (a ``sim_config`` mapping, e.g. a small camera) to change its ``env``;
``calm_env`` (no randomisation, no rendering: the real layout exactly, for experts that read the state)
and ``random_env`` (full randomisation, no rendering) are shared by the whole session.
Tests marked ``slow`` (the longest few, measured with ``--durations``) can be left out with
``-m "not slow"``; the documented command (``python -m pytest -q -n 2``) and CI run them all.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory):
    """A tiny Kosmos-2 backbone + tokenizer directory (``policies.vla.tiny``), shared by the session."""
    from policies.vla.tiny import build_tiny_backbone

    return build_tiny_backbone(tmp_path_factory.mktemp("vla") / "tiny-kosmos-2")


@pytest.fixture(scope="module")
def env(request: pytest.FixtureRequest):
    """A ``MobileNavEnv`` with the module's ``ENV_CONFIG`` (default config when it has none)."""
    from envs import MobileNavEnv

    e = MobileNavEnv(config=getattr(request.module, "ENV_CONFIG", None))
    yield e
    e.close()


def _frameless(config: dict | None):
    from datagen.expert_rollout import FramelessNavEnv

    return FramelessNavEnv(config=config, render_mode=None)


@pytest.fixture(scope="session")
def calm_env():
    """A ``FramelessNavEnv`` (``rgb=None``) with randomisation off: the calibrated layout exactly."""
    e = _frameless({"randomization": {"enabled": False}})
    yield e
    e.close()


@pytest.fixture(scope="session")
def random_env():
    """A ``FramelessNavEnv`` (``rgb=None``) with the default, full randomisation."""
    e = _frameless(None)
    yield e
    e.close()
