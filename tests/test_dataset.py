"""The shipped question set: well-formed, split into dev and test by document, and every answer on its stated
page of its PDF; drafts checked against the library they came from."""
from __future__ import annotations

import codecs
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from fakes import HashEmbedder
from pdfs import write_small_corpus

from eval.dataset import (DEFAULT_DATASET, DEFAULT_DOCS, answer_in, check_file, check_rows, main, read_rows,
                          shape_problems)
from eval.halueval import DatasetError
from eval.questions import load
from index.store import Library
from ingest.pipeline import ingest

PAGES = {("a.pdf", 1): "The function  LM fits\nlinear models.", ("a.pdf", 2): "Nothing here."}


def fake_pages(doc: str, page: int) -> str | None:
    return PAGES.get((doc, page))


def row(rid: str, **fields) -> dict:
    base = {"id": rid, "question": "How do I fit a linear model?", "answers": ["lm fits linear"],
            "doc": "a.pdf", "pages": [2, 1], "answerable": True}
    return {**base, **fields}


def unanswerable(rid: str) -> dict:
    return row(rid, answers=[], doc=None, pages=[], answerable=False)


@pytest.fixture(scope="module")
def shipped():
    """The shipped rows and their problems; reading the five PDFs takes a few seconds, once."""
    return check_file(DEFAULT_DATASET)


def test_shipped_dataset_passes_every_check(shipped):
    rows, problems = shipped
    assert problems == []
    assert len(rows) >= 150 and sum(not r["answerable"] for r in rows) >= 45


def test_shipped_dataset_covers_every_sample_and_both_kinds_of_question(shipped):
    rows, _ = shipped
    asked = {r["doc"] for r in rows if r["answerable"]}
    assert asked == {p.name for p in Path(DEFAULT_DOCS).glob("*.pdf")}
    assert sum(not r["answerable"] for r in rows) >= 10


def test_answers_match_ignoring_case_and_whitespace_runs():
    assert answer_in("lm  FITS linear", "The function  LM fits\nlinear models.")
    assert not answer_in("lmfits", "The function LM fits")


def test_a_good_set_has_no_problems():
    assert check_rows([row("a-howto-01"), unanswerable("none-unanswerable-01")], fake_pages) == []


def test_each_kind_of_mistake_is_reported():
    rows = [
        row("dup"), row("dup"),
        row("wrong-page", pages=[2]),
        row("no-page", pages=[3]),
        row("no-doc", doc="b.pdf"),
        row("not-there", answers=["lm", "glm"]),
        row("extra", kind="howto"),
        row("bad-pages", pages=["1"]),
        row("empty-answers", answers=[]),
        row("unanswerable-with-answer", answers=["lm"], doc=None, pages=[], answerable=False),
    ]
    problems = check_rows(rows, fake_pages)
    for rid in ("dup", "wrong-page", "no-page", "no-doc", "not-there", "extra", "bad-pages",
                "empty-answers", "unanswerable-with-answer"):
        assert any(p.startswith(f"{rid}:") for p in problems), rid
    assert any("'glm'" in p for p in problems) and not any("'lm'" in p for p in problems)


def test_shipped_dataset_is_split_by_document_with_unanswerables_on_both_sides(shipped):
    rows, _ = shipped
    splits = {r["doc"]: r["split"] for r in rows if r["answerable"]}
    # one split per document: no page of a test document is seen while tuning on dev
    assert all(r["split"] == splits[r["doc"]] for r in rows if r["answerable"])
    # an unanswerable row's id names the manual whose topic it is near; it follows that manual's split
    near = {Path(doc).stem.removeprefix("R-").lower(): split for doc, split in splits.items()}
    assert all(r["split"] == near[r["id"].split("-")[0]] for r in rows if not r["answerable"])
    count = Counter((r["split"], r["answerable"]) for r in rows)
    dev, test = count["dev", True] + count["dev", False], count["test", True] + count["test", False]
    assert abs(dev - test) <= 0.1 * len(rows)
    assert count["dev", False] >= 0.3 * dev and count["test", False] >= 10
    assert [q.id for q in load(str(DEFAULT_DATASET), split="dev")] == [r["id"] for r in rows if r["split"] == "dev"]


def test_split_problems_are_reported():
    dev, test = row("a-1", pages=[1], split="dev"), row("a-2", answers=["nothing here"], pages=[2], split="test")
    assert check_rows([dev, test, {**unanswerable("none-1"), "split": "test"}], fake_pages) == []
    problems = check_rows([dev, row("a-3", pages=[2, 1], split="test"), row("a-4", pages=[2]),
                           row("a-5", split="train")], fake_pages)
    assert any(p.startswith("a.pdf: dev pages 1-1 and test pages 1-2 overlap") for p in problems)
    assert any(p.startswith("a-4: no split") for p in problems)
    assert any(p.startswith("a-5: split must be one of") for p in problems)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A library that is not the samples: two small PDFs and a Markdown file, as ingest stores them."""
    base = tmp_path_factory.mktemp("drafts")
    write_small_corpus(base / "docs")
    with Library.writing(base / "lib", create=True) as lib:
        assert {r.status for r in ingest([base / "docs"], lib, HashEmbedder())} == {"added"}
    return base / "lib"


def test_drafts_are_checked_against_the_library_they_came_from(library, tmp_path, capsys):
    good = [row("stats-1", answers=["plot(x, y)"], doc="stats.pdf", pages=[2]),
            row("stats-2", answers=["linear regression"], doc="Stats guide", pages=[1]),
            row("faq-1", answers=["two years"], doc="faq.md", pages=[1])]
    drafts = tmp_path / "drafts.jsonl"
    drafts.write_text("".join(json.dumps(r) + "\n" for r in good))
    assert main([str(drafts), "--library", str(library)]) == 0
    bad = good + [row("wrong-page", answers=["plot(x, y)"], doc="stats.pdf", pages=[1]),
                  row("elsewhere", answers=["lm"], doc="R-intro.pdf", pages=[64])]
    drafts.write_text("".join(json.dumps(r) + "\n" for r in bad))
    capsys.readouterr()
    assert main([str(drafts), "--library", str(library)]) == 1
    problems = [x for x in capsys.readouterr().out.splitlines() if x.startswith("problem:")]
    assert len(problems) == 2 and "wrong-page: answer 'plot(x, y)'" in problems[0] and "elsewhere: no page 64" in problems[1]
    assert main([str(drafts), "--library", str(tmp_path / "nowhere")]) == 2


def test_a_set_over_other_documents_is_checked_against_them(tmp_path, capsys):
    docs = tmp_path / "manuals"
    docs.mkdir()
    (docs / "tool.html").write_text("<html><title>Tool</title><body><p>Use <code>--dry-run</code> "
                                    "to check.</p></body></html>")
    (tmp_path / "notes.md").write_text("# Notes\nThe limit is 42 bytes.\n")
    rows = [row("tool-1", answers=["--dry-run"], doc="tool.html", pages=[1]),
            row("notes-1", answers=["42 bytes"], doc="notes.md", pages=[1])]
    qs = tmp_path / "unseen.jsonl"
    qs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main([str(qs), "--docs", str(docs), str(tmp_path / "notes.md")]) == 0
    qs.write_text(json.dumps(row("tool-2", answers=["--force"], doc="tool.html", pages=[1])) + "\n")
    capsys.readouterr()
    assert main([str(qs), "--docs", str(docs)]) == 1
    assert "tool-2: answer '--force' is not on tool.html" in capsys.readouterr().out
    assert main([str(qs), "--docs", str(tmp_path / "nowhere")]) == 2


UNSEEN = DEFAULT_DATASET.parent / "unseen-manuals.jsonl"
UNSEEN_DOCS = [Path("/usr/share/doc/libtasn1-doc"), Path("/usr/share/doc/shared-mime-info"),
               Path.home() / ".rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html/cargo/commands"]


def test_the_first_unseen_set_is_a_dev_set_now_and_its_answers_are_on_their_pages():
    rows, problems = read_rows(UNSEEN)
    assert problems == [] and [p for r in rows for p in shape_problems(r)] == []
    assert all(r["split"] == "dev" for r in rows) and sum(not r["answerable"] for r in rows) >= 15
    if not all(d.is_dir() for d in UNSEEN_DOCS):
        pytest.skip("the unseen manuals are not installed (apt libtasn1-doc shared-mime-info, rustup rust-docs)")
    assert main([str(UNSEEN), "--docs", *map(str, UNSEEN_DOCS)]) == 0


@pytest.mark.parametrize("name, env, script", [
    ("unseen2-manuals.jsonl", "UNSEEN2_DOCS", "bench/unseen2_docs.sh"),
    ("unseen3-manuals.jsonl", "UNSEEN3_DOCS", "bench/unseen3_docs.sh"),
    ("unseen4-manuals.jsonl", "UNSEEN4_DOCS", "bench/unseen4_docs.sh"),
    ("unseen5-manuals.jsonl", "UNSEEN5_DOCS", "bench/unseen5_docs.sh"),
    ("unseen6-manuals.jsonl", "UNSEEN6_DOCS", "bench/unseen6_docs.sh"),
])
def test_the_later_unseen_sets_are_test_only_on_documents_no_other_set_uses(name, env, script):
    path = DEFAULT_DATASET.parent / name
    rows, problems = read_rows(path)
    assert problems == [] and [p for r in rows for p in shape_problems(r)] == []
    assert all(r["split"] == "test" for r in rows) and sum(not r["answerable"] for r in rows) >= 20
    others = {r["doc"] for f in DEFAULT_DATASET.parent.glob("*.jsonl") if f != path
              for r in read_rows(f)[0] if r["doc"]}
    assert {r["doc"] for r in rows if r["doc"]}.isdisjoint(others)
    docs = os.environ.get(env)  # a folder filled by the script
    if not docs:
        pytest.skip(f"set {env} to a folder filled by {script} to check the pages")
    assert main([str(path), "--docs", docs]) == 0


@pytest.mark.parametrize("name, env", [
    ("dev-manuals.jsonl", None), ("legal-licences.jsonl", None),
    ("dev-manuals2.jsonl", "DEV_MANUALS2_DOCS"), ("dev-papers.jsonl", "DEV_PAPERS_DOCS"),
])
def test_the_dev_corpora_are_dev_only_a_third_unanswerable_on_documents_no_test_set_uses(name, env):
    path = DEFAULT_DATASET.parent / name
    rows, problems = read_rows(path)
    assert problems == [] and [p for r in rows for p in shape_problems(r)] == []
    assert all(r["split"] == "dev" for r in rows) and sum(not r["answerable"] for r in rows) >= 0.3 * len(rows)
    tested = {r["doc"] for f in DEFAULT_DATASET.parent.glob("*.jsonl")
              for r in read_rows(f)[0] if r["doc"] and r.get("split") == "test"}
    assert {r["doc"] for r in rows if r["doc"]}.isdisjoint(tested)  # the gate and the ranker never learn a test page
    docs = os.environ.get(env) if env else None  # a folder filled by bench/dev_manuals2_docs.sh or dev_papers_docs.sh
    if not docs:
        pytest.skip(f"set {env} to a folder of its documents to check the pages" if env else "documents not fetched")
    assert main([str(path), "--docs", docs]) == 0


def test_two_documents_of_one_name_under_docs_are_an_error_not_a_silent_choice(tmp_path, capsys):
    for folder, text in (("a", "The limit is 42 bytes."), ("b", "The limit is 7 bytes.")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "index.md").write_text(f"# Limits\n{text}\n")
    qs = tmp_path / "set.jsonl"
    qs.write_text(json.dumps(row("limit-1", answers=["42 bytes"], doc="index.md", pages=[1])) + "\n")
    assert main([str(qs), "--docs", str(tmp_path / "a"), str(tmp_path / "a" / "index.md")]) == 0  # one file twice
    capsys.readouterr()
    assert main([str(qs), "--docs", str(tmp_path / "a"), str(tmp_path / "b")]) == 2
    assert "two documents named index.md" in capsys.readouterr().out


def test_a_set_saved_by_windows_tools_reads_as_the_same_rows_and_other_encodings_are_one_line(tmp_path):
    rows = [row("q1", question="Où est lm ?"), unanswerable("q2")]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\r\n" for r in rows)
    for name, data in [("bom.jsonl", codecs.BOM_UTF8 + text.encode()), ("utf16.jsonl", text.encode("utf-16"))]:
        (tmp_path / name).write_bytes(data)
        assert read_rows(tmp_path / name) == (rows, [])
        assert [q.id for q in load(str(tmp_path / name))] == ["q1", "q2"]
    (tmp_path / "latin1.jsonl").write_bytes(text.encode("latin-1"))
    assert read_rows(tmp_path / "latin1.jsonl")[1] == ["not UTF-8 text (byte 0xf9 at offset 27); save the file as UTF-8"]
    with pytest.raises(DatasetError, match="not UTF-8 text"):
        load(str(tmp_path / "latin1.jsonl"))
    # Behind a UTF-8 BOM the offset is still the file's: the codec reads the bytes after the BOM.
    (tmp_path / "bom-latin1.jsonl").write_bytes(codecs.BOM_UTF8 + text.encode("latin-1"))
    assert read_rows(tmp_path / "bom-latin1.jsonl")[1] == [
        "not UTF-8 text (byte 0xf9 at offset 30); save the file as UTF-8"]
    (tmp_path / "odd.jsonl").write_bytes(codecs.BOM_UTF16_LE + b"{\x00\x00\xd8")  # a lone surrogate half
    assert read_rows(tmp_path / "odd.jsonl")[1][0].startswith("not UTF-16 text (byte 0x")
