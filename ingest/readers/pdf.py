"""PDF files: one Page per physical page (the only module of ingest importing pypdf and pypdfium2).

pypdf opens every file: it judges what is corrupt or encrypted, and reads the page tree and the
metadata. The text of each page comes from pypdf too unless `engine="pdfium"` asks for PDFium
(pypdfium2), which reads the same pages with nearly the same text, ~7x faster all told; on 2 cores
that is what lets parsing hide behind embedding (bench/ingest.py measures both).
"""
from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, PdfReadWarning

from index.records import Document, Page
from ingest.readers.base import DEFAULT_PDF_TEXT, PDF_TEXT_ENGINES, Limits, ReadError
from ingest.readers.underscores import with_underscores

_METADATA_KEYS = {
    "/Author": "author",
    "/Subject": "subject",
    "/Creator": "creator",
    "/Producer": "producer",
    "/CreationDate": "creation_date",
}
# Titles that tools write when the author gave none (reportlab writes "untitled").
_PLACEHOLDER_TITLES = {"", "untitled", "untitled document"}

# We report every failure ourselves in one line; pypdf's own complaints about
# malformed files (logged by its submodules, or warned) would only be noise.
# Set once here, the only module that imports pypdf, as per-call toggling of
# global logging and warning state is not thread-safe.
logging.getLogger("pypdf").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", category=PdfReadWarning)


def read_pdf(data: bytes, doc_id: str, stem: str, engine: str = DEFAULT_PDF_TEXT, limits: Limits = Limits()) -> Document:
    """Parse PDF bytes into a Document with one Page per physical page, its text read by `engine`.

    Reading stops with ReadError('too much text ...') as soon as the pages or their text pass `limits`:
    pages can share one content stream, so a small file can expand to billions of characters.
    """
    if engine not in PDF_TEXT_ENGINES:
        raise ValueError(f"unknown PDF text engine {engine!r}: use one of {', '.join(PDF_TEXT_ENGINES)}")
    reader = _open(data)
    pages = _pages(reader)
    limits.check(len(pages), 0)
    texts = _pdfium_texts(data, len(pages), limits) if engine == "pdfium" else None
    info = {**_metadata(reader), "text_from": "pdfium" if texts else "pypdf"}  # stored: which engine read it
    texts = texts or _within(limits, (_page_text(page) for page in pages))
    if not texts:
        raise ReadError("PDF has no pages")
    if not any(text.strip() for text in texts):
        raise ReadError("no text; scanned PDF?")
    pages = tuple(Page(doc_id, number, text) for number, text in enumerate(with_underscores(texts), start=1))
    title = info.pop("title", "")
    if title.lower() in _PLACEHOLDER_TITLES:
        title = stem
    return Document(doc_id=doc_id, title=title, pages=pages, metadata=info)


def _open(data: bytes) -> PdfReader:
    """Open and, when it needs only the empty password, decrypt the PDF."""
    # pypdf raises many exception types on broken files; every one means "unreadable".
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
    except Exception as exc:  # noqa: BLE001
        raise ReadError(f"not a readable PDF: {_short(exc)}") from exc
    if not encrypted:
        return reader
    try:
        opened = reader.decrypt("")
    except DependencyError as exc:
        raise ReadError("encrypted PDF (decrypting it needs the 'cryptography' package)") from exc
    except Exception as exc:  # noqa: BLE001
        raise ReadError(f"encrypted PDF (cannot decrypt: {_short(exc)})") from exc
    if not opened:
        raise ReadError("encrypted PDF (password required)")
    return reader


def _pages(reader: PdfReader) -> list[Any]:
    """The page objects; a broken page tree makes the whole file unreadable."""
    try:
        return list(reader.pages)
    except Exception as exc:  # noqa: BLE001
        raise ReadError(f"not a readable PDF: {_short(exc)}") from exc


def _within(limits: Limits, texts: Iterator[str]) -> list[str]:
    """The page texts, read one by one until their characters pass the limit."""
    read: list[str] = []
    chars = 0
    for text in texts:
        read.append(text)
        chars += len(text)
        limits.check(len(read), chars)
    return read


def _page_text(page: Any) -> str:
    """The text of one page; a page pypdf cannot parse reads as empty, keeping numbering."""
    try:
        text = page.extract_text() or ""
    except Exception:  # noqa: BLE001
        return ""
    return text.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")


def _pdfium_texts(data: bytes, count: int, limits: Limits) -> list[str] | None:
    """Every page's text read by PDFium, in pypdf's form; None when PDFium sees other pages than pypdf."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        return None  # pypdf opened it (an empty password, a repaired xref): its text is the answer
    try:
        if len(pdf) != count:
            return None  # page numbers must not depend on the engine
        return _within(limits, (_pdfium_page_text(pdf, index) for index in range(count)))
    finally:
        pdf.close()


def _pdfium_page_text(pdf: Any, index: int) -> str:
    """One page's text; PDFium's CRLF line ends and U+FFFE soft hyphens written as pypdf writes them."""
    try:
        page = pdf[index]
        text = page.get_textpage().get_text_range()
    except Exception:  # noqa: BLE001 - a page that cannot be read keeps its number, empty, as with pypdf
        return ""
    return text.replace("\ufffe", "-").replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")


def _metadata(reader: PdfReader) -> dict[str, str]:
    """Title and descriptive fields from the document info dictionary, as plain strings."""
    names = {"/Title": "title", **_METADATA_KEYS}
    try:
        info = reader.metadata or {}
        values = {name: _as_text(info.get(key)) for key, name in names.items()}
    except Exception:  # noqa: BLE001 - metadata is optional; a broken info dict is ignored
        return {}
    return {name: text for name, text in values.items() if text}


def _as_text(value: Any) -> str:
    """A metadata value as a clean one-line string ('' when absent)."""
    if hasattr(value, "get_object"):
        value = value.get_object()
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return " ".join(str(value).replace("\x00", "").split())


def _short(exc: Exception) -> str:
    """The exception's message, or its type when the message is empty."""
    return str(exc).strip() or type(exc).__name__
