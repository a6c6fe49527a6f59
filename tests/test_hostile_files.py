"""Hostile files: terminal control sequences, binaries named .txt, and PDFs that expand to billions of characters."""
from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from fakes import HashEmbedder
from pdfs import write_pdf, write_shared_pages
from pypdf import PdfReader, PdfWriter
from pypdf.generic import NameObject, StreamObject
from reportlab.pdfgen import canvas

import ingest.readers.pdf as pdf_reader
from index.control_chars import visible
from index.store import Library
from ingest.pipeline import IngestOptions, ingest
from ingest.readers import PDF_TEXT_ENGINES, Limits, ReadError, read_document

# Clear screen, a window title, an OSC 8 link, an OSC 52 clipboard write, a bell and a C1 CSI.
ESCAPES = "\x1b[2J\x1b]0;owned\x07\x1b]8;;http://evil.example\x07link\x1b]8;;\x07\x1b]52;c;cHduZWQ=\x07\x9b31m"
CONTROL = re.compile(r"[\x00-\x08\x0b\x0d-\x1f\x7f-\x9f]")


def pdf_with_raw_text(path: Path, text: bytes, title: str) -> Path:
    """A PDF whose page draws `text` as given: reportlab would replace the control bytes."""
    plain = io.BytesIO()
    c = canvas.Canvas(plain)
    c.setTitle(title)
    c.drawString(72, 720, "placeholder")
    c.showPage()
    c.save()
    writer = PdfWriter(clone_from=PdfReader(plain))
    stream = StreamObject()
    stream.set_data(b"BT /F1 12 Tf 72 720 Td (" + text + b") Tj ET")
    writer.pages[0][NameObject("/Contents")] = writer._add_object(stream)
    with open(path, "wb") as f:
        writer.write(f)
    return path


def assert_clean(doc, words: str) -> None:
    for text in (doc.title, *(p.text for p in doc.pages), *doc.metadata.values()):
        assert not CONTROL.search(text), repr(text)
    assert words in " ".join(p.text for p in doc.pages)


@pytest.mark.parametrize("engine", PDF_TEXT_ENGINES)
def test_pdf_text_and_title_lose_their_control_characters(tmp_path, engine):
    raw = ("Open the valve " + ESCAPES + " before priming").encode("latin-1")
    path = pdf_with_raw_text(tmp_path / "p.pdf", raw.replace(b"(", b"\\(").replace(b")", b"\\)"), "Pump" + ESCAPES)
    doc = read_document(path, "d", engine)
    assert_clean(doc, "Open the valve " + SHOWN + "›31m before priming")  # 0x9b is › in a PDF font: no CSI
    assert doc.title == "Pump" + SHOWN


SHOWN = "link"  # ESCAPES without its escape sequences, each removed whole: a link's text is all that is left


@pytest.mark.parametrize("name, data, title", [
    ("notes.txt", f"Field notes {ESCAPES}\tcolumn\nline two\fpage two", "notes"),
    ("guide.md", f"# Wiring {ESCAPES} guide\n\nBrown to L {ESCAPES}.", f"Wiring {SHOWN} guide"),
    ("page.html", f"<title>FAQ {ESCAPES}</title><p>Warranty {ESCAPES} two years</p>", f"FAQ {SHOWN}"),
])
def test_text_markdown_and_html_lose_their_control_characters(tmp_path, name, data, title):
    path = tmp_path / name
    path.write_text(data)
    doc = read_document(path, "d")
    assert_clean(doc, SHOWN)
    assert doc.title == title


def test_tab_newline_and_form_feed_stay(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("a\tb\nc\fd\x1b[0m")
    doc = read_document(path, "d")
    assert [p.text for p in doc.pages] == ["a\tb\nc", "d"]


def test_a_file_name_with_controls_makes_a_one_line_title(tmp_path):
    path = tmp_path / "evil\x1b]0;x\x07\nname.txt"
    path.write_text("Some text.")
    assert read_document(path, "d").title == "evil name"


def test_visible_escapes_what_a_terminal_would_obey():
    assert visible("a\x1b[2Jb\nc\u202ed\x9b") == "a\\x1b[2Jb\\nc\\u202ed\\x9b"
    assert visible("line one\n\tline two\x07", keep_lines=True) == "line one\n\tline two\\x07"
    assert visible("café naïve — “quoted” 日本語 soft\u00adhyphen") == "café naïve — “quoted” 日本語 soft\u00adhyphen"


def test_a_program_named_txt_is_refused_as_binary(tmp_path):
    path = tmp_path / "ls.txt"
    shutil.copy("/bin/ls", path)
    with pytest.raises(ReadError, match="^binary file, not text"):
        read_document(path, "d")


@pytest.mark.parametrize("data", [bytes(range(1, 32)) * 40 + b"a few words", b"text\x00with a NUL byte"])
def test_control_bytes_or_a_nul_make_a_file_binary(tmp_path, data):
    path = tmp_path / "x.md"
    path.write_bytes(data)
    with pytest.raises(ReadError, match="^binary file, not text"):
        read_document(path, "d")


def test_coloured_logs_and_utf16_text_are_still_text(tmp_path):
    log = tmp_path / "build.txt"
    log.write_text("".join(f"\x1b[32mOK\x1b[0m step {i} passed\r\n" for i in range(50)))
    assert read_document(log, "d").pages[0].text.startswith("OK step 0 passed\nOK step 1")  # the colours left out
    wide = tmp_path / "wide.txt"
    wide.write_bytes("naïve café".encode("utf-16"))
    assert read_document(wide, "d").pages[0].text == "naïve café"
    wide.write_bytes("Exported without a byte-order mark.\r\nLine two.".encode("utf-16-le"))  # some Windows tools
    assert read_document(wide, "d").pages[0].text == "Exported without a byte-order mark.\nLine two."
    wide.write_bytes("word\x00\x01\x02\x03".encode("utf-16-le") * 50)  # NULs on one side, but controls: binary
    with pytest.raises(ReadError, match="^binary file, not text"):
        read_document(wide, "d")


def test_a_binary_fails_alone_and_the_batch_goes_in(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy("/bin/ls", docs / "ls.txt")
    (docs / "ok.txt").write_text("A perfectly fine note.")
    with Library.writing(tmp_path / "lib", create=True) as lib:
        results = {Path(r.path).name: r for r in ingest([docs], lib, HashEmbedder(dim=16), IngestOptions())}
    assert results["ok.txt"].status == "added"
    assert results["ls.txt"].status == "failed" and results["ls.txt"].error.startswith("binary file, not text")


@pytest.mark.parametrize("engine, reader", [("pypdf", "_page_text"), ("pdfium", "_pdfium_page_text")])
def test_pages_sharing_one_stream_stop_at_the_character_limit_while_reading(tmp_path, monkeypatch, engine, reader):
    path = write_shared_pages(tmp_path / "bomb.pdf", pages=300, lines=100)  # ~36 KB on disk, ~3.6 M characters
    assert path.stat().st_size < 100_000
    read = []
    original = getattr(pdf_reader, reader)
    monkeypatch.setattr(pdf_reader, reader, lambda *a: read.append(1) or original(*a))
    with pytest.raises(ReadError, match=r"^too much text \(over 100,000 characters in the first \d pages; "
                                        r"the limit is max_chars = 100,000\)$"):
        read_document(path, "d", engine, Limits(max_chars=100_000))
    assert len(read) < 10  # stopped early, not after reading all 300 pages


def test_too_many_pages_fail_before_any_text_is_read(tmp_path, monkeypatch):
    path = write_shared_pages(tmp_path / "many.pdf", pages=30, lines=1)
    monkeypatch.setattr(pdf_reader, "_page_text", lambda page: pytest.fail("read a page"))
    with pytest.raises(ReadError, match=r"^too much text \(30 pages; the limit is max_pages = 20\)$"):
        read_document(path, "d", "pypdf", Limits(max_pages=20))


def test_text_files_have_the_same_limits(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("page\f" * 5 + "x" * 1000)
    with pytest.raises(ReadError, match="too much text .6 pages"):
        read_document(path, "d", limits=Limits(max_pages=5))
    with pytest.raises(ReadError, match="too much text .over 1,000 characters"):
        read_document(path, "d", limits=Limits(max_chars=1000))


def test_the_expanding_pdf_fails_alone(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    write_shared_pages(docs / "bomb.pdf", pages=300, lines=100)
    write_pdf(docs / "fine.pdf", ["Installing\nOpen the valve before priming."])
    options = IngestOptions(limits=Limits(max_chars=200_000))
    with Library.writing(tmp_path / "lib", create=True) as lib:
        results = {Path(r.path).name: r for r in ingest([docs], lib, HashEmbedder(dim=16), options)}
        assert [d.title for d in lib.documents()] == ["fine"]
    assert results["fine.pdf"].status == "added"
    assert results["bomb.pdf"].status == "failed" and results["bomb.pdf"].error.startswith("too much text (over 200,000")
