"""The code's shape: imports point down the layers with no circles, and every user-facing error has one base."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from app.cli import main
from index.errors import GroundworkError

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("index", "ingest", "qa", "eval", "app")
INTERNAL_ERRORS = {"index.onnx_graph.GraphError"}  # caught where raised: the embedder falls back to torch


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


# Who may import whom: a module imports its own package or one of a lower layer (DESIGN.md, Layers).
LAYER = {"index": 0, "ingest": 1, "qa": 1, "eval": 2, "app": 3}
CLI = {"app.cli", "app.ask", "app.eval_cli", "app.index_cli", "app.ui_cli"}


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every project module the file imports, at the top or inside a function, by its full name."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                     for a in node.names]
        else:
            continue
        found |= {n for n in names if n in modules}
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle as [a, b, ..., a], or [] when there is none (depth-first, three colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_no_import_circles():
    assert _cycle(_graph()) == []


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_imports_point_down_the_layers():
    upward = []
    for module, imported in _graph().items():
        top = module.split(".")[0]
        for other in imported:
            below = other.split(".")[0]
            if below != top and LAYER[below] >= LAYER[top]:
                upward.append(f"{module} -> {other}")
    assert upward == []


def test_nothing_imports_the_cli_and_the_ui_no_cli_module():
    graph = _graph()
    assert [m for m, imported in graph.items() if "app.cli" in imported] == []
    assert [f"{m} -> {o}" for m, imported in graph.items() if m.startswith("app.ui.") for o in imported & CLI] == []


def _error_classes() -> list[str]:
    names = []
    for module, path in _modules().items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and node.name.endswith("Error"):
                names.append(f"{module}.{node.name}")
    return names


@pytest.mark.parametrize("name", _error_classes())
def test_every_one_line_error_derives_from_the_one_base(name):
    module, cls = name.rsplit(".", 1)
    error = getattr(importlib.import_module(module), cls)
    assert issubclass(error, GroundworkError) != (name in INTERNAL_ERRORS), name


def test_the_cli_shows_any_groundwork_error_as_one_line(monkeypatch, capsys):
    class NewError(GroundworkError):
        """One a future module might add: the CLI needs no list of them."""

    def broken(args, config):
        raise NewError("it broke; run: groundwork docs")
    monkeypatch.setattr("app.cli.cmd_docs", broken)
    assert main(["docs"]) == 2
    assert capsys.readouterr().err == "error: it broke; run: groundwork docs\n"
