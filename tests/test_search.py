"""Lexical, dense and hybrid search on a small known corpus, with filters."""
import pytest
from fakes import HashEmbedder, put

from index.search import Filters, fts_query, fused_with_leaders, reciprocal_rank_fusion, search
from index.store import Library

EMB = HashEmbedder()
CORPUS = {
    "lm00": ("Linear models", ["Use lm to fit a linear model: lm(y ~ x) fits y on x by least squares.",
                               "Residuals and fitted values of a linear model come from resid and fitted."]),
    "gl00": ("GLMs", ["glm fits generalized linear models such as logistic regression with family binomial."]),
    "pl00": ("Plots", ["plot draws a scatter plot; hist draws a histogram of a numeric vector."]),
    "io00": ("Data import", ["read.csv reads a comma separated file into a data frame."]),
}


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    with Library.writing(tmp_path_factory.mktemp("s") / "lib", create=True) as library:
        for doc_id, (title, texts) in CORPUS.items():
            put(library, f"/{doc_id}.pdf", doc_id, texts, title,
                tags=["models"] if doc_id in ("lm00", "gl00") else ["misc"])
        yield library


def test_lexical_ranks_the_document_with_the_rare_terms_first(lib):
    hits = search(lib, EMB, "histogram", k=3, mode="lexical")
    assert [h.chunk.doc_id for h in hits] == ["pl00"]
    hits = search(lib, EMB, "fit linear model least squares", k=4, mode="lexical")
    assert hits[0].chunk.doc_id == "lm00" and hits[0].chunk.page == 1
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_dense_finds_word_overlap_with_the_hash_embedder(lib):
    hits = search(lib, EMB, "read a comma separated file", k=2, mode="dense")
    assert hits[0].chunk.doc_id == "io00"
    assert hits[0].doc_title == "Data import"


def test_hybrid_fuses_both_rankings(lib):
    hits = search(lib, EMB, "logistic regression glm", k=3, mode="hybrid")
    assert hits[0].chunk.doc_id == "gl00"
    assert hits[0].score == pytest.approx(2 / 61)  # first in both lists


def test_filters_by_document_and_tag(lib):
    for mode in ("dense", "lexical", "hybrid"):
        hits = search(lib, EMB, "linear model plot histogram", k=10, mode=mode, filters=Filters(tags=("misc",)))
        assert {h.chunk.doc_id for h in hits} <= {"pl00", "io00"}
        hits = search(lib, EMB, "linear model", k=10, mode=mode, filters=Filters(doc_ids=("gl00",)))
        assert {h.chunk.doc_id for h in hits} == {"gl00"}
    assert search(lib, EMB, "linear", mode="dense", filters=Filters(tags=("no-such-tag",))) == []


def test_query_syntax_never_reaches_fts5(lib):
    assert fts_query('lm( "y ~ x" ) AND OR NOT* col:x') == '"lm" OR "y" OR "x" OR "and" OR "or" OR "not" OR "col"'
    assert search(lib, EMB, '"unbalanced ) (*', k=2, mode="lexical") == []
    assert search(lib, EMB, "???", k=2, mode="lexical") == []


def test_unknown_mode_is_refused(lib):
    with pytest.raises(ValueError, match="unknown search mode"):
        search(lib, EMB, "x", mode="fuzzy")


def test_reciprocal_rank_fusion_by_hand():
    fused = reciprocal_rank_fusion([[(1, 0.9), (2, 0.8)], [(2, 5.0), (3, 4.0)]], k=60)
    assert fused == [(2, pytest.approx(1 / 62 + 1 / 61)), (1, pytest.approx(1 / 61)), (3, pytest.approx(1 / 62))]


def test_the_best_of_one_side_alone_stays_among_the_fused_hits():
    # Chunk 99 alone holds the rare term asked for: first by BM25, absent from the dense list. Thirty chunks
    # both sides rank fairly well outscore it in the fusion; it is kept all the same, in its fused place.
    both = [(cid, 1.0) for cid in range(1, 31)]
    dense, lexical = both, [(99, 12.0)] + both[::-1]
    assert 99 not in [cid for cid, _ in reciprocal_rank_fusion([dense, lexical])[:24]]
    hits = fused_with_leaders([dense, lexical], 24)
    ids = [cid for cid, _ in hits]
    assert len(hits) == 24 and 99 in ids and 1 in ids and 30 in ids  # each side's first 4 are kept
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert [cid for cid, _ in fused_with_leaders([dense, lexical], 5)][-1] == 99  # k // 6 < 1: still the very first


def test_a_search_for_one_or_two_passages_keeps_the_fused_best_first():
    # Chunk 7 is second on both sides and best fused; each side's first (1, 2) is found by that side alone.
    # `search -k 1` showed 1, and `-k 3` showed 7 above it: the top hit depended on how many were asked for.
    dense, lexical = [(1, 0.9), (7, 0.8), (3, 0.7)], [(2, 9.0), (7, 8.0), (4, 7.0)]
    assert reciprocal_rank_fusion([dense, lexical])[0][0] == 7
    assert [cid for cid, _ in fused_with_leaders([dense, lexical], 1)] == [7]
    assert [cid for cid, _ in fused_with_leaders([dense, lexical], 2)][0] == 7
    assert [cid for cid, _ in fused_with_leaders([dense, lexical], 3)] == [7, 1, 2]
    assert fused_with_leaders([[], []], 1) == [] and fused_with_leaders([dense, []], 1) == [(1, 1 / 61)]
