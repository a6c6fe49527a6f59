"""Read one file into a Document of physical pages, whatever its format."""
from __future__ import annotations

from pathlib import Path

from index.records import Document
from ingest.readers.base import DEFAULT_PDF_TEXT, PDF_TEXT_ENGINES, ReadError  # noqa: F401 - the package's names

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".pdf", ".txt", ".md", ".markdown", ".html", ".htm"}
)

def read_document(path: Path, doc_id: str, pdf_text: str = DEFAULT_PDF_TEXT) -> Document:
    """Read a supported file into a Document, or raise ReadError with a one-line reason.

    `pdf_text` names the engine that reads a PDF's text: 'pypdf' or 'pdfium' (see readers/pdf.py).
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise ReadError(f"unsupported file type '{suffix or path.name}' (supported: {supported})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReadError(f"cannot read file: {exc.strerror or exc}") from exc
    if not data:
        raise ReadError("empty file (0 bytes)")
    # Readers are imported here, not at the top: they import ReadError from this
    # module, and a text file should not pay for importing pypdf.
    if suffix == ".pdf":
        from ingest.readers.pdf import read_pdf

        return read_pdf(data, doc_id, path.stem, engine=pdf_text)
    if suffix in (".html", ".htm"):
        from ingest.readers.html import read_html

        return read_html(data, doc_id, path.stem)
    from ingest.readers.text import read_text

    return read_text(data, doc_id, path.stem, markdown=suffix in (".md", ".markdown"))
