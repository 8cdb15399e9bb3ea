"""The package tree is the reading order, and the imports keep to it.

Each stage of ``benchsuite`` imports only the stages below it, never a sibling or
one above; there are no import circles; the stages that read and write results
and the metric maths know no torch; and the built-in plugins reach the core
through ``benchsuite.api`` alone, as a third-party plugin must.  Every import
counts, those inside functions included.
"""
from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Lowest first.  A module may import its own stage and the stages of lower layers.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("contract",),
    ("common",),
    ("plugins",),
    ("planning",),
    ("training", "scoring"),  # siblings: neither imports the other
    ("api",),  # what plugins may use, exported on purpose from the stages below
    ("cell",),
    ("execution",),
    ("storage",),
    ("reporting",),
    ("cli",),
    ("testing",),  # helpers for plugin authors' tests: a tiny corpus, a registry, a one-cell run
)
# No torch at import time, and no training stage at all: these read and write results and
# compute metrics, and must stay fast to import (benchsuite score, report, list metrics).
TORCH_FREE = ("contract", "common", "plugins", "planning", "scoring.det", "scoring.files", "scoring.metrics",
              "storage", "reporting", "api")
TORCH_FREE_NO_TRAINING = ("storage", "scoring.det", "scoring.files", "reporting")
PLUGIN_PACKAGES = ("benchsuite_models", "benchsuite_datasets", "benchsuite_metrics", "benchsuite_synth",
                   "benchsuite_augment")
ROOT_MODULES = {"__init__", "__main__"}


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module
    imported: str  # dotted module (or module.name, resolved to the longest module that exists)
    line: int
    top_level: bool  # at module level, not inside a function

    def where(self) -> str:
        return f"{self.importer}:{self.line} imports {self.imported}"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path) -> list[Import]:
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    found: list[Import] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = top_level and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend(Import(name, alias.name, child.lineno, top_level) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                for alias in child.names:  # "from pkg import module" names a module
                    found.append(Import(name, f"{target}.{alias.name}", child.lineno, top_level))
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                continue  # annotations only, never executed
            visit(child, inside)

    visit(tree, True)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "benchsuite" or len(parts) < 2 or parts[1] in ROOT_MODULES:
        return None
    return parts[1]


def layer_of(stage: str) -> int:
    for index, stages in enumerate(LAYERS):
        if stage in stages:
            return index
    raise AssertionError(f"stage {stage!r} is in no layer of LAYERS")


def under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == f"benchsuite.{p}" or module.startswith(f"benchsuite.{p}.") for p in prefixes)


def check_tree(root: Path) -> list[str]:
    """Every violation of the layering rules under ``root`` (a src/ folder), one line each."""
    problems: list[str] = []
    modules = {module_name(p, root): p for p in root.rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules if m.startswith("benchsuite")}
    for module, path in sorted(modules.items()):
        for imp in imports_of(path, root):
            target = _existing(imp.imported, modules)
            top = module.split(".")[0]
            if top in PLUGIN_PACKAGES:
                if target is not None and target.startswith("benchsuite.") and target != "benchsuite.api":
                    problems.append(f"plugin reaches past the contract: {imp.where()} (use benchsuite.api)")
                continue
            if top != "benchsuite":
                continue
            if imp.top_level and imp.imported.split(".")[0] == "torch" and under(module, TORCH_FREE):
                problems.append(f"torch at import time in a torch-free stage: {imp.where()}")
            if target is None or not target.startswith("benchsuite"):
                continue
            if target != module:
                edges[module].add(target)
            if under(module, TORCH_FREE_NO_TRAINING) and under(target, ("training",)):
                problems.append(f"results and metric maths know no training: {imp.where()}")
            mine, theirs = stage_of(module), stage_of(target)
            if mine is None or theirs is None or mine == theirs:
                continue
            if layer_of(theirs) > layer_of(mine):
                problems.append(f"upward import: {imp.where()} ({mine} is below {theirs})")
            elif layer_of(theirs) == layer_of(mine):
                problems.append(f"sideways import: {imp.where()} ({mine} and {theirs} are siblings)")
    problems.extend(f"import circle: {' -> '.join(cycle)}" for cycle in _cycles(edges))
    return problems


def _existing(imported: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``imported`` that is a module of the tree ("pkg.mod.name" -> "pkg.mod")."""
    parts = imported.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in edges:
                continue
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def test_the_tree_keeps_its_layers():
    problems = check_tree(SRC)
    assert not problems, "\n".join(problems)


def test_every_stage_is_in_a_layer():
    package = SRC / "benchsuite"
    stages = {p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert stages, "no stage packages found"
    stages |= {p.stem for p in package.glob("*.py")} - ROOT_MODULES - {"api"}
    layered = {stage for layer in LAYERS for stage in layer} - {"api"}
    assert stages == layered


@pytest.mark.parametrize("module, line, expected", [
    ("benchsuite/storage/store.py", "from benchsuite.cli.main import cli", "upward import"),
    ("benchsuite/training/loop.py", "from benchsuite.scoring import det", "sideways import"),
    ("benchsuite/scoring/det.py", "import torch", "torch at import time"),
    ("benchsuite/storage/store.py", "    from benchsuite.training import loop", "know no training"),
    ("benchsuite_models/aasist.py", "from benchsuite.scoring import det", "plugin reaches past the contract"),
    ("benchsuite/planning/options.py", "def _late():\n    from benchsuite.execution import base", "upward import"),
])
def test_the_check_fails_on_a_deliberately_added_bad_import(tmp_path, module, line, expected):
    copy = tmp_path / "src"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    target = copy / module
    target.write_text(target.read_text() + ("\n\ndef _added():\n    pass\n" if line.startswith("    ") else "\n")
                      + line + "\n")
    problems = check_tree(copy)
    assert any(expected in p for p in problems), problems


def test_the_check_finds_a_circle(tmp_path):
    copy = tmp_path / "src"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for a, b in (("base", "pool"), ("pool", "base")):
        path = copy / "benchsuite" / "execution" / f"{a}.py"
        path.write_text(path.read_text() + f"\n\ndef _added():\n    from benchsuite.execution import {b}\n")
    assert any(p.startswith("import circle:") and "benchsuite.execution.base" in p for p in check_tree(copy))
