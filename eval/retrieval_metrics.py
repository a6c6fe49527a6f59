"""Pure retrieval metrics: a ranked list of evidence keys (e.g. (doc, page)) against a gold set.

A key may occur several times in a ranking (two chunks of one page); only its first occurrence
counts, so a page found twice is not found "more". Every metric is None when there is no gold.
"""
from __future__ import annotations

import math
from collections.abc import Hashable, Sequence, Set


def _first_hits(ranked: Sequence[Hashable], gold: Set) -> list[bool]:
    """Per rank, whether it holds a gold key not seen at an earlier rank."""
    seen, out = set(), []
    for key in ranked:
        new = key in gold and key not in seen
        seen.add(key)
        out.append(new)
    return out


def hit_at(ranked: Sequence[Hashable], gold: Set, k: int) -> float | None:
    """1.0 when any gold key is among the first k, else 0.0."""
    if not gold:
        return None
    return float(any(key in gold for key in ranked[:k]))


def recall_at(ranked: Sequence[Hashable], gold: Set, k: int) -> float | None:
    """Share of the gold keys found among the first k: |gold ∩ top k| / |gold|."""
    if not gold:
        return None
    return len(gold & set(ranked[:k])) / len(gold)


def reciprocal_rank(ranked: Sequence[Hashable], gold: Set) -> float | None:
    """1 / rank of the first gold key (ranks from 1); 0.0 when none is ranked."""
    if not gold:
        return None
    return next((1.0 / r for r, key in enumerate(ranked, start=1) if key in gold), 0.0)


def first_gold_rank(ranked: Sequence[Hashable], gold: Set) -> int | None:
    """The rank (from 1) of the first gold key; None when none is ranked or there is no gold."""
    return next((r for r, key in enumerate(ranked, start=1) if key in gold), None)


def ndcg_at(ranked: Sequence[Hashable], gold: Set, k: int = 10) -> float | None:
    """Binary-gain nDCG@k: Σ 1/log2(rank+1) over first hits in the top k, over the ideal for min(k, |gold|) hits."""
    if not gold:
        return None
    dcg = sum(1.0 / math.log2(r + 1) for r, hit in enumerate(_first_hits(ranked[:k], gold), start=1) if hit)
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(k, len(gold)) + 1))
    return dcg / ideal
