"""Fit the rerank Weights (qa/evidence.py) on the DEV questions of a split question set, by a small grid search.

    python -m eval.fit_rerank --library DIR [--dataset eval/data/r-manuals.jsonl]

The score of a point is hit@1 (the first reranked passage is on a gold page) plus top-1 contains-answer
(the best candidate sentence holds a gold answer), averaged over the answerable dev questions. Search
runs once per question (it does not depend on the weights) and sentence embeddings are memoised, so a
point costs only the blend. It prints the five best points beside the weights in use; a point that
replaces Weights' defaults needs the answerability gate refitted after (its strength signal is a rerank score).
The dataset is read with split="dev" only, so no test row reaches the fit.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from eval.answer_metrics import contains_answer
from eval.fit_answerability import DATASET, dev_questions
from eval.grade import on_gold
from eval.questions import Question
from qa.evidence import Evidence, Weights

# sentence_coverage is 1 - sentence_cosine: only the ratio of the two matters to the order of sentences.
GRID = {"passage_cosine": (0.3, 0.5, 0.7), "passage_coverage": (0.4, 0.6, 0.8),
        "passage_best_sentence": (0.2, 0.4, 0.6), "sentence_cosine": (0.4, 0.6, 0.8)}


@dataclass(frozen=True)
class Hits:
    """What reranking one question needs that no weight changes: the question, its vector and search hits."""

    question: Question
    vector: np.ndarray
    hits: tuple


class MemoEmbedder:
    """An embedder that embeds each (text, kind) once."""

    def __init__(self, embedder):
        self.embedder, self.name, self.memo = embedder, embedder.name, {}

    def embed(self, texts: Sequence[str], kind: str = "document") -> np.ndarray:
        """Rows for `texts`, from the memo where seen."""
        new = [t for t in dict.fromkeys(texts) if (t, kind) not in self.memo]
        if new:
            self.memo.update({(t, kind): v for t, v in zip(new, self.embedder.embed(new, kind=kind))})
        return np.asarray([self.memo[(t, kind)] for t in texts]).reshape(len(texts), -1)


def points() -> list[Weights]:
    """Every point of the grid."""
    keys = list(GRID)
    return [Weights(**dict(zip(keys, values)), sentence_coverage=round(1 - values[-1], 6))
            for values in itertools.product(*GRID.values())]


def score(evidences: Sequence[Evidence], questions: Sequence[Question]) -> dict:
    """hit@1 and top-1 contains-answer over answerable questions, and their mean."""
    hit = [float(bool(ev.passages) and on_gold(ev.passages[0], q)) for ev, q in zip(evidences, questions)]
    found = [contains_answer(ev.candidates[0].text if ev.candidates else "", q.answers) or 0.0
             for ev, q in zip(evidences, questions)]
    return {"hit@1": float(np.mean(hit)), "contains@1": float(np.mean(found)),
            "score": float(np.mean(hit) + np.mean(found)) / 2}


def search_once(library, embedder, questions: Sequence[Question], depth: int) -> list[Hits]:
    """Each question's vector and search hits."""
    from index.search import search
    out = []
    for q in questions:
        vector = embedder.embed([q.question], kind="query")[0]
        out.append(Hits(q, vector, tuple(search(library, embedder, q.question, k=depth, query_vector=vector))))
    return out


def grid_search(library, embedder, found: Sequence[Hits], keep: int) -> list[tuple[dict, Weights]]:
    """Every point's figures, best first (ties: the point nearest the weights in use)."""
    from qa.evidence import rerank
    current = asdict(Weights())
    questions = [h.question for h in found]
    results = []
    for n, w in enumerate(points(), start=1):
        evidences = [rerank(library, embedder, h.question.question, h.hits, keep, w, h.vector) for h in found]
        results.append((score(evidences, questions), w))
        print(f"\r{n}/{len(points())} points", end="", file=sys.stderr, flush=True)
    distance = lambda w: sum(abs(v - current[k]) for k, v in asdict(w).items())  # noqa: E731
    return sorted(results, key=lambda fw: (-fw[0]["score"], distance(fw[1])))


def main(argv: Sequence[str] | None = None) -> int:
    """Search once, try every point, print the best beside the weights in use."""
    ap = argparse.ArgumentParser(prog="python -m eval.fit_rerank", description=__doc__.splitlines()[0])
    ap.add_argument("--library", required=True)
    ap.add_argument("--dataset", default=DATASET, help=f"split question set (default {DATASET}); dev rows only")
    args = ap.parse_args(argv)
    from eval.halueval import DatasetError
    from index.embedder import SentenceTransformerEmbedder, default_model
    from index.store import Library, LibraryError
    from qa.engine import Settings
    try:
        questions = [q for q in dev_questions(args.dataset) if q.answerable and q.gold and q.answers]
        if not questions:  # every point would score NaN, printed as JSON no reader takes
            raise DatasetError(f"{args.dataset} holds no answerable dev question with answers and gold pages; "
                               f"the fit scores only those")
        library = Library.open(args.library)
    except (DatasetError, LibraryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    settings, embedder = Settings(), MemoEmbedder(SentenceTransformerEmbedder(default_model()))
    with library:
        found = search_once(library, embedder, questions, settings.depth)
        ranked = grid_search(library, embedder, found, settings.keep)
    in_use = next((f for f, w in ranked if w == Weights()), None)  # None: the weights in use lie off the grid
    print("\n" + json.dumps({"questions": len(questions), "in_use": in_use, "points": len(ranked),
                             "best": [{**f, "weights": asdict(w)} for f, w in ranked[:5]]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
