"""The shipped question set: well-formed, and every answer on its stated page of its PDF."""
from __future__ import annotations

from pathlib import Path

import pytest

from eval.dataset import (DEFAULT_DATASET, DEFAULT_DOCS, answer_in, check_file,
                                     check_rows)

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
    return check_file(DEFAULT_DATASET, DEFAULT_DOCS)


def test_shipped_dataset_passes_every_check(shipped):
    rows, problems = shipped
    assert problems == []
    assert len(rows) >= 50


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
