"""Shared plumbing below every other package: one error type and CLI error path (``common.cli``), Hydra
config composition and value checks (``common.config``), run folders (``common.rundir``) and worker
processes (``common.workers``). Imports nothing from the bench's other packages."""
