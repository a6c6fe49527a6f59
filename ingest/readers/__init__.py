"""Read one file into a Document of physical pages, whatever its format."""
from __future__ import annotations

import codecs
from dataclasses import replace
from pathlib import Path

from index.control_chars import one_line, remove_sequences
from index.records import Document, Page
from index.spelling import spelt_out
from ingest.readers.base import DEFAULT_PDF_TEXT, PDF_TEXT_ENGINES, Limits, ReadError  # noqa: F401 - the package's names
from ingest.readers.margins import without_running_lines

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".pdf", ".txt", ".md", ".markdown", ".rst", ".html", ".htm"}
)

# Bytes that no text file holds (C0 controls but tab, newlines, form feed and ESC, which colour logs use).
_CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 12, 13, 27}) + b"\x7f"
_MAX_CONTROL_SHARE = 0.05  # random bytes hold ~11% of these; text holds none
# UTF-16/32 text legitimately holds NUL bytes (the UTF-32-LE BOM starts with the UTF-16-LE one).
_WIDE_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)


def read_document(path: Path, doc_id: str, pdf_text: str = DEFAULT_PDF_TEXT, limits: Limits = Limits()) -> Document:
    """Read a supported file into a Document, or raise ReadError with a one-line reason.

    `pdf_text` names the engine that reads a PDF's text: 'pypdf' or 'pdfium' (see readers/pdf.py).
    Terminal escape sequences and control characters are removed from the text and title, whatever the format, and ligatures spelt out ("ﬁ": "fi").
    """
    doc = _read(path, doc_id, pdf_text, limits)
    limits.check(len(doc.pages), sum(len(p.text) for p in doc.pages))
    texts = [spelt_out(remove_sequences(p.text)) for p in doc.pages]
    limits.check(len(texts), sum(map(len, texts)))  # a ligature spelt out is up to three characters
    texts = without_running_lines(texts)
    pages = tuple(Page(p.doc_id, p.number, text) for p, text in zip(doc.pages, texts))
    if not any(p.text.strip() for p in pages):
        raise ReadError("no text (the file holds only control characters)")
    metadata = {key: one_line(value) for key, value in doc.metadata.items()}
    title = spelt_out(one_line(doc.title))
    return replace(doc, title=title or one_line(path.stem) or doc_id, pages=pages, metadata=metadata)


def _read(path: Path, doc_id: str, pdf_text: str, limits: Limits) -> Document:
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

        return read_pdf(data, doc_id, path.stem, engine=pdf_text, limits=limits)
    if binary(data):
        raise ReadError("binary file, not text (it holds NUL bytes or many control characters)")
    if suffix in (".html", ".htm"):
        from ingest.readers.html import read_html

        return read_html(data, doc_id, path.stem)
    from ingest.readers.text import read_text

    markup = "markdown" if suffix in (".md", ".markdown") else "rst" if suffix == ".rst" else ""
    return read_text(data, doc_id, path.stem, markup=markup)


def binary(data: bytes) -> bool:
    """Whether bytes are a binary file rather than text: NUL bytes (but in UTF-16 or UTF-32 text), or a high share of
    control bytes."""
    from ingest.readers.text import utf16_without_bom  # where text is decoded: the reader a text file uses anyway
    if data.startswith(_WIDE_BOMS) or utf16_without_bom(data) is not None:
        return False
    if b"\x00" in data:
        return True
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    return controls > _MAX_CONTROL_SHARE * len(data)
