"""The shape of the code base (issue 13): small modules, no import cycles, layers that import downwards.

Layers, lowest first: ``common`` ← ``sim`` ← ``envs`` ← ``policies`` ← ``datagen`` ← ``training`` ←
``eval`` / ``bridge``. Imports inside functions (lazy imports) count like module-level ones: a cycle that
only closes at call time is still a cycle a reader has to hold in their head.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from common.paths import REPO_ROOT

LAYERS = {"common": 0, "hydra_plugins": 0, "sim": 1, "envs": 2, "policies": 3, "datagen": 4, "training": 5,
          "eval": 6, "bridge": 6}
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    """``{dotted module name: file}`` for every source file of the layered packages."""
    out = {}
    for package in LAYERS:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            parts = path.relative_to(REPO_ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The bench modules ``name`` imports anywhere in its body (a package import counts as its
    ``__init__``; ``from pkg import mod`` as ``pkg.mod``)."""
    targets: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                here = here[: len(here) - (node.level - 1)]
                base = ".".join(here + ([base] if base else []))
            targets += [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    found = set()
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
            parts = target.split(".")  # importing a.b.c runs a/__init__ and a/b/__init__ first
            found.update(p for p in (".".join(parts[:i]) for i in range(1, len(parts)))
                         if p in modules and not name.startswith(p + "."))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_no_source_file_is_longer_than_400_lines():
    long = {str(p.relative_to(REPO_ROOT)): n for p in _modules().values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    long.update({str(p.relative_to(REPO_ROOT)): n for p in sorted((REPO_ROOT / "benchmarks").glob("*.py"))
                 if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES})
    assert not long, f"split these files (lines > {MAX_LINES}): {long}"


def test_layers_import_downwards_only(graph):
    upward = sorted(f"{a} -> {b}" for a, deps in graph.items() for b in deps
                    if LAYERS[b.split(".")[0]] > LAYERS[a.split(".")[0]])
    assert not upward, "imports from a higher layer: " + ", ".join(upward)


def test_no_import_cycles(graph):
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles (lazy imports included): {cycles}"


def test_the_checker_sees_a_cycle_and_an_upward_import(tmp_path):
    """The graph builder is not blind: relative, lazy and ``from pkg import mod`` imports all count."""
    modules = {"sim.a": tmp_path / "a.py", "sim.b": tmp_path / "b.py", "eval": tmp_path / "e.py"}
    modules["sim.a"].write_text("def f():\n    from . import b\n")
    modules["sim.b"].write_text("from sim.a import f\nimport eval\n")
    modules["eval"].write_text("")
    assert _imports("sim.a", modules["sim.a"], modules) == {"sim.b"}
    assert _imports("sim.b", modules["sim.b"], modules) == {"sim.a", "eval"}
