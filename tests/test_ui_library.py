"""The Library page under AppTest: upload with checks, ingest, delete, re-ingest, the Ask filter."""
import re

import pytest
from pdfs import write_pdf
from ui_helpers import build_library, page_app, shown

from index.store import Library


@pytest.fixture
def library(tmp_path, monkeypatch):
    _, lib = build_library(tmp_path)
    monkeypatch.setenv("GROUNDWORK_LIBRARY", str(lib))
    return lib


def pdf_bytes(tmp_path, text: str, title: str) -> bytes:
    return write_pdf(tmp_path / f"{title}.pdf", [text], title=title).read_bytes()


def titles(lib) -> set[str]:
    with Library.open(lib) as library:
        return {d.title for d in library.documents()}


def test_an_empty_library_invites_an_upload(tmp_path, monkeypatch):
    monkeypatch.setenv("GROUNDWORK_LIBRARY", str(tmp_path / "new"))
    at = page_app("library_page").run()
    assert not at.exception and "No documents yet" in at.info[0].value
    assert at.button[0].disabled  # nothing to ingest yet


def test_uploads_are_checked_saved_inside_the_library_and_ingested(library, tmp_path):
    at = page_app("library_page").run()
    assert set(at.file_uploader[0].allowed_type) == {".pdf", ".txt", ".md", ".markdown", ".rst", ".html", ".htm"}
    good = pdf_bytes(tmp_path, "Pruning\nPrune the roses in early spring.", "Roses")
    at.file_uploader[0].set_value([("../../etc/roses.pdf", good, "application/pdf"),
                                   ("copy of roses.pdf", good, "application/pdf"),
                                   ("faq.md", b"# FAQ\n\nThe warranty of the pump lasts two years.\n", "text/markdown")])
    at.text_input[0].set_value("garden, 2024").run()
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    rows = {r["File"]: (r["Result"], r["Details"]) for r in at.dataframe[0].value.to_dict("records")}
    assert rows["../../etc/roses.pdf"][0] == "added"
    assert rows["copy of roses.pdf"] == ("duplicate", "same content as “../../etc/roses.pdf”")
    assert rows["faq.md"] == ("duplicate", "same content as “FAQ”")
    stored = list((library / "uploads").rglob("*.pdf"))
    assert [p.name for p in stored] == ["roses.pdf"] and stored[0].resolve().is_relative_to(library.resolve())
    with Library.open(library) as lib:
        roses = next(d for d in lib.documents() if d.title == "Roses")
    assert roses.tags == ("2024", "garden") and roses.pages == 1
    assert "Roses" in at.dataframe[1].value["Title"].tolist()


def test_a_file_over_the_size_limit_is_refused_with_the_limit(library, monkeypatch):
    monkeypatch.setenv("GROUNDWORK_MAX_FILE_MB", "0.001")
    at = page_app("library_page").run()
    at.file_uploader[0].set_value(("big.txt", b"word " * 1000, "text/plain")).run()
    at.button[0].click().run()
    row = at.dataframe[0].value.to_dict("records")[0]
    assert row["Result"] == "refused" and "the limit is 0.001 MB" in row["Details"]


def test_a_long_non_ascii_name_does_not_stop_the_batch(library):
    at = page_app("library_page").run()
    long_name = "ポンプ取扱説明書 " * 30 + ".md"  # cut at 120 characters: ~330 bytes, over 255
    at.file_uploader[0].set_value([("first.md", b"# First\n\nPrime the pump.", "text/markdown"),
                                   (long_name, b"# Long\n\nOpen the valve.", "text/markdown"),
                                   ("last.md", b"# Last\n\nClose the valve.", "text/markdown")]).run()
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    rows = {r["File"]: r["Result"] for r in at.dataframe[0].value.to_dict("records")}
    assert rows == {"first.md": "added", long_name: "added", "last.md": "added"}
    assert {"First", "Long", "Last"} <= titles(library)


def test_delete_asks_first_then_removes_the_document(library):
    at = page_app("library_page").run()
    at.selectbox(key="manage-doc").set_value(_doc_id(library, "Garden")).run()
    next(b for b in at.button if b.label == "Delete").click().run()
    assert "Delete “Garden”" in at.warning[0].value and "Garden" in titles(library)
    next(b for b in at.button if b.label == "Yes, delete").click().run()
    assert not at.exception and "Garden" not in titles(library)
    assert "Garden" not in at.dataframe[1].value["Title"].tolist()


def test_reingest_reads_the_file_again(library):
    at = page_app("library_page").run()
    at.selectbox(key="manage-doc").set_value(_doc_id(library, "Stats guide")).run()
    next(b for b in at.button if b.label == "Re-ingest").click().run()
    assert not at.exception
    assert at.dataframe[0].value.to_dict("records")[0]["Result"] == "added"
    assert "Stats guide" in titles(library)


def test_the_chosen_documents_and_tags_limit_the_questions(library):
    at = page_app("library_page").run()
    garden = _doc_id(library, "Garden")
    at.multiselect(key="_filter_docs").set_value([garden])
    at.multiselect(key="_filter_tags").set_value(["manuals"]).run()
    assert at.session_state["filter_docs"] == [garden] and at.session_state["filter_tags"] == ["manuals"]


def _doc_id(lib, title: str) -> str:
    with Library.open(lib) as library:
        return next(d.doc_id for d in library.documents() if d.title == title)


def test_failures_are_listed_with_their_reason(library):
    at = page_app("library_page").run()
    at.file_uploader[0].set_value(("broken.pdf", b"%PDF-1.7 not really a pdf", "application/pdf")).run()
    at.button[0].click().run()
    failures = at.dataframe[-1].value.to_dict("records")
    assert failures[0]["File"] == "broken.pdf" and failures[0]["Reason"]
    assert any("could not be ingested" in s.value for s in at.subheader)


def test_a_title_written_in_markdown_is_shown_as_written(library, tmp_path):
    title = "Evil ![x](http://evil.example/x.png) :red[red] $x^2$ **bold**"
    at = page_app("library_page").run()
    pdf = write_pdf(tmp_path / "evil.pdf", ["Roses\nPrune them."], title=title).read_bytes()
    at.file_uploader[0].set_value((":blue[f] $y$.pdf", pdf, "application/pdf")).run()
    at.button[0].click().run()
    at.selectbox(key="manage-doc").set_value(_doc_id(library, title)).run()
    next(b for b in at.button if b.label == "Delete").click().run()
    warning = at.warning[0].value
    assert f"Delete “{title}”" in shown(warning)
    for markup in (r"!\[x\]\(", r":red\[", r"\$x", r"\*\*bold"):  # the Markdown source holds the title escaped
        assert not re.search(r"(?<!\\)" + markup, warning), markup
