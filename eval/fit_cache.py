"""The fits' caches of what the engine computed per question: stale once the code that computed it changed."""
from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def source_hash(paths: Sequence[str], root: Path = ROOT) -> str:
    """A hash of the files under `paths` (relative to root; a folder counts by its Python files)."""
    digest = hashlib.sha256()
    for path in paths:
        found = sorted((root / path).rglob("*.py")) if (root / path).is_dir() else [root / path]
        for file in found:
            data = file.read_bytes() if file.is_file() else b"(missing)"
            digest.update(f"{file.relative_to(root)}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()[:16]


def shown(path: Path, root: Path = ROOT) -> str:
    """A path as a fit's record or model card names it: relative to the project when inside it."""
    full = path.resolve()
    return str(full.relative_to(root)) if full.is_relative_to(root) else str(path)


def say_stale(cache: Path, old: dict, new: dict) -> None:
    """One line on stderr: the cache holds values computed under another key, which are computed again."""
    changed = [k for k in new if old.get(k) != new[k]]
    print(f"{cache}: the cached values are stale ({', '.join(changed)} changed); computing them again",
          file=sys.stderr)
