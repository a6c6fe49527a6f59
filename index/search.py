"""Search a library: dense (FAISS), lexical (FTS5 BM25), or both fused by reciprocal rank.

A reader's permissions are applied inside each search (a FAISS ID selector, a SQL condition on
the full-text query), never by dropping hits afterwards, so a reader still gets k passages
from the documents it may read. Reader None (the machine's CLI user) and admins read everything.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from index.access import Reader
from index.records import Passage
from index.spelling import variants
from index.store import Library
from index.vectors import IdFilter

if TYPE_CHECKING:  # the embedder module pulls in torch; only its protocol is needed here
    from index.embedder import Embedder

MODES = ("hybrid", "dense", "lexical")
RRF_K = 60  # the constant of Cormack et al.; damps the weight of the very top ranks
LEADERS = 6  # one passage in LEADERS of a hybrid search is kept for being among the best of one side alone
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Filters:
    """Restrict a search to documents (by id) and tags; empty means the whole library."""

    doc_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.doc_ids or self.tags)


def search(library: Library, embedder: Embedder, query: str, k: int = 5, mode: str = "hybrid",
           filters: Filters = Filters(), query_vector: np.ndarray | None = None,
           reader: Reader | None = None) -> list[Passage]:
    """The k best passages `reader` may read, best first; `query_vector` saves embedding a query already embedded."""
    if mode not in MODES:
        raise ValueError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
    depth = max(50, 4 * k)  # fusion needs more than k candidates from each side
    ranked: list[list[tuple[int, float]]] = []
    if mode in ("dense", "hybrid"):
        ranked.append(dense_hits(library, embedder, query, depth, filters, query_vector, reader))
    if mode in ("lexical", "hybrid"):
        ranked.append(lexical_hits(library, query, depth, filters, reader))
    hits = ranked[0][:k] if len(ranked) == 1 else fused_with_leaders(ranked, k)
    found = library.chunks([cid for cid, _ in hits], reader)
    return [Passage(chunk=found[cid][0], doc_title=found[cid][1], score=score)
            for cid, score in hits if cid in found]


def dense_hits(library: Library, embedder: Embedder, query: str, n: int, filters: Filters = Filters(),
               query_vector: np.ndarray | None = None, reader: Reader | None = None) -> list[tuple[int, float]]:
    """(chunk id, cosine similarity) of the n nearest chunks `reader` may read."""
    library.check_model(embedder.name)
    index = library.vectors
    if index.ntotal == 0:
        return []
    if filters:  # a few documents chosen: their chunks, less those the reader may not read
        allowed = IdFilter(library.chunk_ids_for(library.select_docs(filters.doc_ids, filters.tags, reader)))
    else:  # the reader's permissions, kept between searches
        allowed = library.chunk_filter(reader)
    if allowed is not None and allowed.allows_none():
        return []
    vector = embedder.embed([query], kind="query")[0] if query_vector is None else query_vector
    scores, ids = index.search(vector[None, :], n, allowed)
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def lexical_hits(library: Library, query: str, n: int, filters: Filters = Filters(),
                 reader: Reader | None = None) -> list[tuple[int, float]]:
    """(chunk id, BM25 score) of the n best full-text matches `reader` may read."""
    match = fts_query(query)
    if not match:
        return []
    allowed = library.select_docs(filters.doc_ids, filters.tags, reader) if filters else None
    return library.lexical(match, n, allowed, reader)


def fts_query(query: str, max_terms: int = 64) -> str:
    """An FTS5 expression matching any word of the query in any of its spellings; user text never reaches FTS5 syntax."""
    words = list(dict.fromkeys(w.lower() for w in _WORD.findall(query)))[:max_terms]
    return " OR ".join(f'"{v}"' for w in words for v in variants(w))


def fused_with_leaders(rankings: Sequence[Sequence[tuple[int, float]]], k: int) -> list[tuple[int, float]]:
    """The k best by reciprocal rank fusion, keeping the fused best and each ranking's first k // LEADERS (at least
    one) among them.

    Fusion favours a passage both sides rank fairly well over one that only one side finds: the one chunk
    that holds a rare term asked for ('libcurl'), first by BM25 and nowhere in the dense list, ranked 25th
    of the fused list and was never read. The deeper the lists, the further such a passage falls.
    """
    fused = reciprocal_rank_fusion(rankings)
    # The fused best is kept too: where k cannot hold every side's first (k=1, 2), the best passage goes first.
    leaders = {cid for ranking in rankings for cid, _ in ranking[:max(1, k // LEADERS)]} | {cid for cid, _ in fused[:1]}
    kept = [hit for hit in fused if hit[0] in leaders][:k]
    kept += [hit for hit in fused if hit[0] not in leaders][:k - len(kept)]
    return sorted(kept, key=lambda item: (-item[1], item[0]))


def reciprocal_rank_fusion(rankings: Sequence[Sequence[tuple[int, float]]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse ranked lists: each id scores sum(1 / (k + rank)), best first."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (cid, _) in enumerate(ranking, start=1):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
