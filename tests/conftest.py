import os
import sys
from pathlib import Path

import pytest

# Models load from installed packages, never from a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small library of two PDFs and a Markdown file, ingested once for the module."""
    from pdfs import write_small_corpus

    from app.cli import main
    base = tmp_path_factory.mktemp("cli")
    docs = base / "docs"
    write_small_corpus(docs)
    lib = base / "lib"
    code = main(["ingest", str(docs), "--library", str(lib), "--json", "--tag", "manuals"])
    return docs, lib, code


@pytest.fixture(scope="module")
def sample_library(tmp_path_factory):
    """Ingest some of samples/ into a new library through the CLI: sample_library("R-data.pdf", ...) -> its folder."""
    from app.cli import main

    def ingest(*names: str) -> Path:
        root = tmp_path_factory.mktemp("samples") / "lib"
        samples = Path(__file__).resolve().parents[1] / "samples"
        assert main(["ingest", *(str(samples / n) for n in names), "--library", str(root)]) == 0
        return root
    return ingest
