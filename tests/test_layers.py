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
