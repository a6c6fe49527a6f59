"""Ingestion from the Library page: save uploads safely, ingest them with a progress bar, report each file."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from app.ui import state
from app.ui.plain import plain
from app.ui.uploads import Upload, save_uploads
from index.store import Library, LibraryError


def ingest_uploads(files: Sequence[tuple[str, bytes]], tags: tuple[str, ...]) -> list[dict]:
    """Save and ingest uploaded (name, bytes); one row per file saying what happened."""
    cfg = state.config()
    root = state.library_root()
    Library.open(root, create=True, mode=cfg.library_mode).close()  # the folder, before uploads go in it
    reader = state.reader()
    saved = save_uploads(list(files), root, lambda sha: _title_of(reader, sha), cfg.max_file_mb)
    rows = [_refused(u) for u in saved if u.path is None]
    accepted = {str(u.path): u.name for u in saved if u.path is not None}
    if accepted:
        rows += ingest_paths(list(accepted), tags, names=accepted)
    return rows


def ingest_paths(paths: list[str], tags: tuple[str, ...], names: dict[str, str] | None = None) -> list[dict]:
    """Ingest files already on disk under the writer lock, advancing a progress bar file by file."""
    from ingest.pipeline import IngestOptions, ingest
    from ingest.readers import Limits
    cfg = state.config()
    options = IngestOptions(max_tokens=cfg.chunk_tokens, overlap=cfg.chunk_overlap, max_file_mb=cfg.max_file_mb,
                            tags=tags, parse_workers=cfg.parse_workers, pdf_text=cfg.pdf_text,
                            limits=Limits(cfg.max_pages, cfg.max_chars))
    names = names or {}
    bar = st.progress(0.0, text=f"Reading {len(paths)} file{'s' if len(paths) > 1 else ''} …")
    rows: list[dict] = []
    try:
        embedder = state.embedder(cfg.embedding_model, cfg.embedding_backend)
        with Library.open(state.library_root(), create=True, mode=cfg.library_mode) as library:
            library.check_model(embedder.name)
            for result in ingest(paths, library, embedder, options):
                name = names.get(result.path) or Path(result.path).name
                rows.append(_row(name, result))
                bar.progress(min(len(rows) / len(paths), 1.0), text=f"{len(rows)} of {len(paths)} done — {plain(name)}")
    except LibraryError as exc:
        rows.append({"File": "—", "Result": "failed", "Details": str(exc)})
    bar.empty()
    return rows


def _title_of(library: Library | None, sha: str) -> str | None:
    doc_id = library.doc_by_sha(sha) if library else None
    info = library.document(doc_id) if doc_id else None
    return info.title if info else None


def _refused(upload: Upload) -> dict:
    if upload.duplicate_of:
        return {"File": upload.name, "Result": "duplicate", "Details": f"same content as “{upload.duplicate_of}”"}
    return {"File": upload.name, "Result": "refused", "Details": upload.problem}


def _row(name: str, result) -> dict:
    if result.status == "failed":
        return {"File": name, "Result": "failed", "Details": result.error}
    twin = f"; same content as “{result.duplicate_of}”" if result.duplicate_of else ""
    return {"File": name, "Result": result.status, "Details": f"{result.pages} pages, {result.chunks} chunks{twin}"}


def show_results(rows: list[dict]) -> None:
    """The outcome of the last ingest: a one-line summary and a row per file."""
    if not rows:
        return
    added = sum(r["Result"] in ("added", "updated") for r in rows)
    bad = [r for r in rows if r["Result"] in ("failed", "refused")]
    message = f"{added} of {len(rows)} file{'s' if len(rows) > 1 else ''} added"
    if bad:
        st.warning(f"{message}; {len(bad)} could not be ingested — see why below.", icon=":material/warning:")
    else:
        st.success(message + ".", icon=":material/check_circle:")
    st.dataframe(rows, hide_index=True, width="stretch")
