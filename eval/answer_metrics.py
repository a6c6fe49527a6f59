"""Pure per-answer metrics: answer quality against gold strings, grounding verdicts, abstention.

Each returns None where it is undefined (no gold answers, no sentences, no citations), so that a
summary averages it only over the questions it applies to instead of inventing a 0 or a 1.
"""
from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence, Set

import numpy as np

from eval.dataset import answer_in

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
_MARKERS = re.compile(r"\s*\[\d+\]")


def strip_markers(text: str) -> str:
    """Answer text without its citation markers ([1], [2])."""
    return _MARKERS.sub("", text).strip()


def answer_tokens(text: str) -> list[str]:
    """SQuAD's normalisation: lower case, no punctuation, no articles, split on white space."""
    return _ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split()


def token_f1(prediction: str, golds: Sequence[str]) -> float | None:
    """Best over gold answers of the F1 of shared tokens (SQuAD): 2PR/(P+R) with P, R over token counts."""
    if not golds:
        return None
    pred = answer_tokens(prediction)
    best = 0.0
    for gold in golds:
        ref = answer_tokens(gold)
        common = sum((Counter(pred) & Counter(ref)).values())
        if common:
            p, r = common / len(pred), common / len(ref)
            best = max(best, 2 * p * r / (p + r))
    return best


def exact_match(prediction: str, golds: Sequence[str]) -> float | None:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    if not golds:
        return None
    pred = answer_tokens(prediction)
    return float(any(pred == answer_tokens(g) for g in golds))


def contains_answer(prediction: str, golds: Sequence[str]) -> float | None:
    """1.0 when the prediction contains a gold answer (casefolded, white space collapsed; eval.dataset.answer_in)."""
    if not golds:
        return None
    return float(any(answer_in(g, prediction) for g in golds))


def best_cosine(prediction: np.ndarray, golds: np.ndarray) -> float | None:
    """Semantic similarity: the best cosine of the prediction's vector with a gold answer's (vectors L2-normalised)."""
    if len(golds) == 0:
        return None
    return float(np.max(np.asarray(golds) @ np.asarray(prediction)))


def faithfulness(supported: Sequence[bool]) -> float | None:
    """Share of an answer's sentences (or claims) that its passages support; None with none."""
    return sum(map(bool, supported)) / len(supported) if supported else None


def hallucinated(supported: Sequence[bool]) -> float | None:
    """1.0 when any sentence (or claim) is unsupported; None with none."""
    return float(not all(supported)) if supported else None


def citation_precision(citation_supports: Sequence[bool]) -> float | None:
    """Share of cited passages that support at least one sentence citing them; None with no citation."""
    return faithfulness(citation_supports)


def gold_cited(cited: Set, gold: Set) -> float | None:
    """1.0 when the answer cites any gold key (doc, page); None with no gold.

    A question's gold pages are alternatives (each holds the answer), so citing one is enough.
    """
    return float(bool(cited & gold)) if gold else None


def right(contains: float | None, cited_gold: float | None) -> float | None:
    """1.0 when the answer holds a gold answer and cites a gold page; None where either is undefined."""
    if contains is None or cited_gold is None:
        return None
    return float(contains == 1.0 and cited_gold == 1.0)


def refusal(abstained: bool, answerable: bool | None) -> tuple[float | None, float | None]:
    """(refused an unanswerable question, refused an answerable one): each 1/0 where it applies, else None."""
    if answerable is None:
        return None, None
    return (None, float(abstained)) if answerable else (float(abstained), None)
