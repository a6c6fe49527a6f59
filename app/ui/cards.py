"""Source cards: a cited passage with its supporting words marked, beside the PDF page it came from."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from app.ui import state
from app.ui.highlight import marked_html, support_spans
from app.ui.page_image import pdf_source, render_page
from app.ui.plain import plain
from index.records import Passage
from index.store import Library


def source_card(label: str, passage: Passage, supported: Sequence[str], anchor: str, expanded: bool = False) -> None:
    """One passage as an expander: title and page, the passage marked, and the page image."""
    chunk = passage.chunk
    st.html(f'<div id="{anchor}" class="gw-anchor"></div>')
    with st.expander(f"{label} {plain(passage.doc_title)} · page {chunk.page}", expanded=expanded):
        text, image = st.columns([3, 2], gap="medium")
        shown = passage.text_as_read  # with the words across a page break its quotes hold
        spans = support_spans(shown, supported)
        text.html(f'<div class="gw-passage">{marked_html(shown, spans)}</div>')
        if supported and not spans:
            text.caption("No words of the answer appear verbatim in this passage.")
        with image:
            _page_image(passage)


def _page_image(passage: Passage) -> None:
    """The PDF page of a passage, drawn only when the signed-in reader may read its document now."""
    library = state.library()
    info = library.document(passage.chunk.doc_id, reader=state.user()) if library else None
    pdf = pdf_source(info.paths) if info else None
    if pdf is None:
        st.caption("No page image: the source is not a PDF, or its file has moved.")
        return
    if not _as_ingested(library, pdf):
        st.caption("No page image: the file has changed since it was ingested; ingest it again.")
        return
    try:
        png = _rendered(str(pdf), pdf.stat().st_mtime_ns, passage.chunk.page, passage.chunk.text)
    except Exception as exc:  # noqa: BLE001 - a damaged PDF must not break the answer around it
        state.log.warning("cannot render %s page %s: %s", pdf, passage.chunk.page, exc)
        st.caption(f"The page image could not be drawn ({type(exc).__name__}).")
        return
    st.image(png, caption=f"Page {passage.chunk.page} of {plain(pdf.name)}, the passage marked",
             width="stretch")


def _as_ingested(library: Library, pdf: Path) -> bool:
    """Whether the file still has the size and time it was ingested with.

    A file saved over since may hold text the reader may not read (or just another version): the
    page drawn must be the one the passage came from.
    """
    known, now = library.source(str(pdf)), pdf.stat()
    return known is not None and (known.size, known.mtime_ns) == (now.st_size, now.st_mtime_ns)


@st.cache_data(max_entries=64, show_spinner=False)
def _rendered(path: str, mtime_ns: int, page: int, text: str) -> bytes:
    """PNG of the page; mtime_ns is in the key so a replaced file is drawn again."""
    return render_page(path, page, text)
