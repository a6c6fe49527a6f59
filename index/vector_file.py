"""The FAISS file of a library: saved atomically, named after the commit it reflects.

`vectors.N.faiss` holds the index as of SQLite commit N and `vectors.N.json` its
search settings; an older pair is removed once a newer one is in place.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from index.files import atomic_write
from index.vectors import IndexSettings, VectorIndex


def save_stamped(index: VectorIndex, root: Path, epoch: int) -> None:
    """Save `index` as of commit `epoch`, then drop older saves."""
    final = root / f"vectors.{epoch}.faiss"
    atomic_write(final.with_suffix(".json"), lambda tmp: tmp.write_text(json.dumps(asdict(index.settings))))
    atomic_write(final, index.save)
    for old in root.glob("vectors.*.faiss"):
        if old != final:
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)


def load_latest(root: Path, dim: int) -> tuple[int, VectorIndex] | None:
    """The newest complete save as (epoch, index), or None: also when it cannot be read.

    The file is a cache of the vectors SQLite holds: a damaged one (a bad copy, a full disk, an edit) is
    rebuilt from them, as a missing one is, where it crashed every search with FAISS's or JSON's traceback.
    """
    saved = []
    for path in root.glob("vectors.*.faiss"):
        stem = path.name.split(".")[1]
        if stem.isdigit() and path.with_suffix(".json").exists():
            saved.append((int(stem), path))
    if not saved:
        return None
    epoch, path = max(saved)
    try:
        settings = IndexSettings(**json.loads(path.with_suffix(".json").read_text()))
        return epoch, VectorIndex.load(path, dim, settings)
    except (OSError, ValueError, TypeError, RuntimeError):  # faiss raises RuntimeError for a file it cannot read
        return None

