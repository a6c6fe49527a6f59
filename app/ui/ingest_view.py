"""Ingestion from the Library page: save uploads safely, ingest them with a progress bar, report each file."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from app import wiring
from app.ui import state
from app.ui.plain import plain
from app.ui.uploads import Upload, save_uploads
from index.store import Library, LibraryError


def ingest_uploads(files: Sequence[tuple[str, bytes]], tags: tuple[str, ...],
                   allow: tuple[str, ...] = ()) -> list[dict]:
    """Save and ingest uploaded (name, bytes), readable by the groups `allow` (none: everyone); one row per file."""
    cfg = state.config()
    root = state.library_root()
    Library.open(root, create=True, mode=cfg.library_mode).close()  # the folder, before uploads go in it
    library = state.library()  # uploads are an admin's: every title may be named as a duplicate
    saved = save_uploads(list(files), root, lambda sha: _title_of(library, sha), cfg.max_file_mb)
    rows = [_refused(u) for u in saved if u.path is None]
    accepted = {str(u.path): u.name for u in saved if u.path is not None}
    if accepted:
        rows += ingest_paths(list(accepted), tags, names=accepted, allow=allow)
    return rows


def ingest_paths(paths: list[str], tags: tuple[str, ...], names: dict[str, str] | None = None,
                 allow: tuple[str, ...] = ()) -> list[dict]:
    """Ingest files already on disk, readable by the groups `allow`, advancing a progress bar; one row per file."""
    names = names or {}
    bar = st.progress(0.0, text=f"Reading {len(paths)} file{'s' if len(paths) > 1 else ''} …")
    rows: list[dict] = []

    def show(result, report) -> None:
        name = names.get(result.path) or Path(result.path).name
        rows.append(_row(name, result))
        bar.progress(min(len(rows) / len(paths), 1.0), text=f"{len(rows)} of {len(paths)} done — {plain(name)}")

    try:
        wiring.ingest(state.config(), paths, tags, on_result=show, model=state.embedder(), allow=allow)
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
