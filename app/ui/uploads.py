"""Uploaded files into the library folder: checked type and size, a safe name, duplicates detected.

A browser's file name is only ever a label: the stored path is uploads/<content hash>/<cleaned
name> inside the library, so no name can reach outside it, and the page images can be
rendered from the stored copy later.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ingest.readers import SUPPORTED_SUFFIXES

UPLOADS = "uploads"
# File systems limit a name to 255 bytes, not characters; the partial copy adds ".{name}.part".
MAX_NAME_BYTES = 200
MAX_SUFFIX_CHARS = 16


@dataclass(frozen=True)
class Upload:
    """One uploaded file after checking: where it was saved, or why it was not."""

    name: str                  # as the browser sent it, for messages only
    path: Path | None = None   # the saved copy, when accepted
    problem: str = ""          # why it was refused
    duplicate_of: str = ""     # title of the stored document with the same content


def safe_name(name: str) -> str:
    """A file name with no folders, no odd characters and at most MAX_NAME_BYTES of UTF-8; its suffix kept."""
    base = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = re.sub(r"[^\w]+", "", suffix).lower()[:MAX_SUFFIX_CHARS]
    room = MAX_NAME_BYTES - len(suffix.encode()) - 1
    stem = re.sub(r"[^\w.-]+", "_", stem).strip("._").encode()[:room].decode("utf-8", "ignore")  # whole characters
    return (stem.strip("._") or "document") + (f".{suffix}" if suffix else "")


def check_upload(name: str, data: bytes, max_mb: float) -> str:
    """Why a file cannot be ingested ('' when it can): its type, emptiness or size."""
    suffix = Path(safe_name(name)).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
        return f"{suffix or 'files without a suffix'} is not supported (use {kinds})"
    if not data:
        return "the file is empty"
    if len(data) > max_mb * 2**20:
        return f"the file is {len(data) / 2**20:.1f} MB; the limit is {max_mb:g} MB"
    return ""


def save_uploads(files: list[tuple[str, bytes]], root: Path, known_sha, max_mb: float) -> list[Upload]:
    """Check and save (name, bytes) pairs under root/uploads; `known_sha(sha) -> title or None` finds duplicates."""
    out: list[Upload] = []
    seen: dict[str, str] = {}
    for name, data in files:
        problem = check_upload(name, data, max_mb)
        if problem:
            out.append(Upload(name, problem=problem))
            continue
        sha = hashlib.sha256(data).hexdigest()
        twin = known_sha(sha) or seen.get(sha)
        if twin:
            out.append(Upload(name, duplicate_of=twin))
            continue
        try:
            out.append(Upload(name, path=_store(root, sha, safe_name(name), data)))
        except OSError as exc:  # a full disk or an odd file system refuses this file, not the batch
            out.append(Upload(name, problem=f"cannot save the file: {exc.strerror or exc}"))
            continue
        seen[sha] = name
    return out


def _store(root: Path, sha: str, name: str, data: bytes) -> Path:
    """Write atomically, so a half-written upload never looks like a document."""
    folder = root / UPLOADS / sha[:16]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    partial = folder / f".{name}.part"
    partial.write_bytes(data)
    partial.replace(path)
    return path
