"""Library: the documents a reader may read, and what Ask searches; admins also upload, delete and re-ingest."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from app import wiring
from app.ui import state
from app.ui.ingest_view import ingest_paths, ingest_uploads, show_results
from app.ui.plain import plain
from index.access import AccessError, check_names
from index.records import DocumentInfo
from index.store import LibraryError
from ingest.readers import SUPPORTED_SUFFIXES


def page() -> None:
    """The Library page."""
    state.style()
    st.header("Library", anchor=False)
    reader = state.user()
    admin = state.manages(reader)
    if admin:
        _upload()
    library = state.library()
    docs = library.documents(reader=reader) if library else []
    failures = library.failures(reader=reader) if library else []
    if not docs:
        st.info("No documents yet — drop PDF, text, Markdown or HTML files above to start." if admin else
                "No documents you may read yet — ask an admin to add some or to give you a group.",
                icon=":material/upload_file:")
    else:
        _documents(docs, admin)
        if admin:
            _manage(docs)
        _filters(docs)
    if failures:
        _failures(failures)


def _upload() -> None:
    """Drag and drop several files, tag them, ingest them with a progress bar."""
    cfg = state.config()
    round_ = st.session_state.setdefault("upload_round", 0)  # a new key empties the uploader after ingesting
    with st.container(border=True):
        files = st.file_uploader(
            f"Add documents (PDF, text, Markdown, HTML; up to {cfg.max_file_mb:g} MB each)",
            type=sorted(s.lstrip(".") for s in SUPPORTED_SUFFIXES), accept_multiple_files=True,
            key=f"uploads-{round_}")
        left, right = st.columns(2)
        tags = left.text_input("Tags for these files (optional, comma-separated)", key=f"tags-{round_}",
                               placeholder="e.g. manuals, 2024")
        groups = right.text_input("Groups that may read them (optional, comma-separated)", key=f"groups-{round_}",
                                  placeholder="none: every signed-in user may", help="groundwork ingest --allow")
        if st.button(f"Ingest {len(files)} file{'s' if len(files) != 1 else ''}" if files else "Ingest",
                     type="primary", disabled=not files):
            try:
                allow = check_names(_items(groups))
            except AccessError as exc:
                st.error(plain(exc), icon=":material/warning:")
                return
            rows = ingest_uploads([(f.name, f.getvalue()) for f in files], _items(tags), allow)
            st.session_state["ingest_rows"] = rows
            st.session_state["upload_round"] = round_ + 1
            st.rerun()
        show_results(st.session_state.get("ingest_rows", []))


def _items(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _documents(docs: list[DocumentInfo], admin: bool) -> None:
    """The documents listed; an admin also sees which groups may read each."""
    pages, chunks = sum(d.pages for d in docs), sum(d.chunks for d in docs)
    st.subheader(f"{len(docs)} documents · {pages} pages · {chunks} chunks", anchor=False)
    rows = [{"Title": d.title, "Pages": d.pages, "Chunks": d.chunks, "Ingested": _when(d.ingested_at),
             "Tags": ", ".join(d.tags), "File": ", ".join(Path(p).name for p in d.paths)}
            | ({"Readable by": ", ".join(d.groups) or "everyone"} if admin else {}) for d in docs]
    st.dataframe(rows, hide_index=True, width="stretch")


def _manage(docs: list[DocumentInfo]) -> None:
    """Delete a document, or ingest it again from its file."""
    by_id = {d.doc_id: d for d in docs}
    pick, reingest, delete = st.columns([4, 1, 1], vertical_alignment="bottom")
    doc_id = pick.selectbox("Document", list(by_id), format_func=lambda i: by_id[i].title, key="manage-doc")
    doc = by_id[doc_id]
    if reingest.button("Re-ingest", width="stretch", help="Read the file again and replace its chunks"):
        _reingest(doc)
    if delete.button("Delete", width="stretch", help="Remove the document everywhere"):
        st.session_state["confirm_delete"] = doc_id
    if st.session_state.get("confirm_delete") == doc_id:
        st.warning(f"Delete “{plain(doc.title)}” ({doc.pages} pages, {doc.chunks} chunks) from the library?",
                   icon=":material/delete:")
        yes, no, _ = st.columns([1, 1, 4])
        if yes.button("Yes, delete", type="primary"):
            _delete(doc)
        if no.button("Keep it"):
            st.session_state.pop("confirm_delete")
            st.rerun()


def _drop(doc: DocumentInfo) -> bool:
    """Remove a document under the writer lock; False (and the reason shown) when another writer holds it."""
    try:
        with wiring.write_library(state.config()) as library:
            library.delete_document(doc.doc_id)
    except LibraryError as exc:
        st.error(plain(exc), icon=":material/warning:")
        return False
    return True


def _delete(doc: DocumentInfo) -> None:
    if not _drop(doc):
        return
    st.session_state.pop("confirm_delete", None)
    st.session_state["ingest_rows"] = [{"File": doc.title, "Result": "deleted",
                                        "Details": f"{doc.pages} pages, {doc.chunks} chunks removed"}]
    st.rerun()


def _reingest(doc: DocumentInfo) -> None:
    """Drop the document and read its files again (after a change of chunking, say)."""
    present = [p for p in doc.paths if Path(p).is_file()]
    if not present:
        st.error(f"The file of “{plain(doc.title)}” is no longer on disk ({plain(', '.join(doc.paths))}); "
                 "upload it again instead.", icon=":material/warning:")
        return
    if not _drop(doc):
        return
    st.session_state["ingest_rows"] = ingest_paths(present, doc.tags, allow=doc.groups)  # still restricted
    st.rerun()


def _filters(docs: list[DocumentInfo]) -> None:
    """Which documents and tags the Ask page searches; kept outside widget state so it survives page changes."""
    st.subheader("Ask only about …", anchor=False)
    by_id = {d.doc_id: d.title for d in docs}
    tags = sorted({t for d in docs for t in d.tags})
    chosen_docs, chosen_tags = state.filters()
    # Widget state: seeded from the kept filter, and cleared of documents deleted since.
    st.session_state["_filter_docs"] = [d for d in st.session_state.get("_filter_docs", chosen_docs) if d in by_id]
    st.session_state["_filter_tags"] = [t for t in st.session_state.get("_filter_tags", chosen_tags) if t in tags]
    left, right = st.columns(2)
    picked = left.multiselect("Documents", list(by_id), format_func=by_id.get, placeholder="All documents",
                              key="_filter_docs")
    picked_tags = right.multiselect("Tags", tags, placeholder="Any tag" if tags else "No tags yet",
                                    disabled=not tags, key="_filter_tags")
    st.session_state["filter_docs"], st.session_state["filter_tags"] = picked, picked_tags
    st.caption("Questions on the Ask page search only these; leave both empty to search the whole library.")


def _failures(failures: list[tuple[str, str, str]]) -> None:
    st.subheader(f"{len(failures)} file{'s' if len(failures) > 1 else ''} could not be ingested", anchor=False)
    st.dataframe([{"File": Path(p).name, "Reason": e, "When": _when(at)} for p, e, at in failures],
                 hide_index=True, width="stretch")


def _when(iso: str) -> str:
    return iso.replace("T", " ").removesuffix("+00:00") + " UTC" if "T" in iso else iso
