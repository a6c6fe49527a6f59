"""Files Groundwork keeps outside a library's database: its cache folder, and writes no reader sees half done."""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """$XDG_CACHE_HOME/groundwork/PARTS..., else ~/.cache/groundwork/PARTS... (not created here)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "groundwork", *parts)


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Fill a temporary file beside `path` with write(tmp), sync it, rename it over `path`.

    Readers, other processes and the next run after a crash see the old file or the new one,
    whole; the temporary name is unique per process and thread, so concurrent writers never share one.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
