"""One question's record: the answer, what was retrieved and cited, the grounding verdicts, and every per-question score."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from eval import answer_metrics as am
from eval import retrieval_metrics as rm
from eval.checkers import Checker
from eval.questions import Question
from index.records import Passage
from qa.records import Answer

Embed = Callable[[Sequence[str]], np.ndarray]  # texts -> L2-normalised rows
Key = tuple[str, int]
Names = dict[str, frozenset[str]]  # doc_id -> every name a dataset may give it (eval.dataset.doc_names)
HIT_KS = (1, 3, 5)
RECALL_KS = (5, 10)


class Grader:
    """Turns (question, answer) into a record; support is judged by `checker`, similarity by `embed` when given.

    Without a checker (no judge independent of the engine's verifier) support is not measured: the
    engine shows only sentences its own verifier accepted, so re-checking them with it says 1.0 always.
    """

    def __init__(self, checker: Checker | None, names: Names, embed: Embed | None = None):
        self.checker, self.names, self.embed = checker, names, embed

    def record(self, q: Question, answer: Answer) -> dict:
        """The record a report keeps for one answered question, with its `scores`."""
        gold = set(q.gold)
        ranked = [gold_key(p, q, self.names) for p in answer.evidence]
        shown = [] if answer.abstained else [s for s in answer.sentences if s.supported]
        units, precise = self._judge(answer, shown)
        cited = {gold_key(c.passage, q, self.names) for c in answer.citations}
        record = {**q.to_json(), "answer": answer.text, "abstained": answer.abstained, "complete": answer.complete,
                  "mode": answer.mode, "query": answer.query, "timings": dict(answer.timings),
                  "sentences": _sentences(answer, shown, units),
                  "citations": [{"n": c.n, "doc": c.passage.doc_title, "page": c.page, "chunk_id": c.passage.chunk.chunk_id,
                                 "supports": precise.get(c.n), "gold": gold_key(c.passage, q, self.names) in gold}
                                for c in answer.citations],
                  "retrieved": [{"doc": p.doc_title, "page": p.chunk.page, "chunk_id": p.chunk.chunk_id,
                                 "score": round(p.score, 4), "gold": k in gold} for p, k in zip(answer.evidence, ranked)],
                  "gold_rank": rm.first_gold_rank(ranked, gold)}
        # What the abstention gate saw, so a report can set other gates beside it on the same evidence.
        record["answerability"] = {k: round(v, 4) for k, v in answer.answerability.items()}
        flat = [ok for checked in units for _, ok in checked] if self.checker else None
        scores = {**_retrieval(ranked, gold), **self._answer_scores(q, answer),
                  **_grounding(answer, q.answerable, flat, list(precise.values()) if self.checker else None, cited, gold)}
        record["scores"] = scores | {"right": answer_right(q, answer.text, [c.passage for c in answer.citations],
                                                           self.names, answer.abstained)}
        return record

    def _judge(self, answer: Answer, shown: list) -> tuple[list, dict[int, bool]]:
        """The checker's units per shown sentence, and per citation whether it supports a sentence citing it."""
        if self.checker is None:
            return [[] for _ in shown], {}
        citing = [(c, s) for c in answer.citations for s in shown if c.n in s.citations]
        verdicts = self.checker.check_many([(s.text, self._passages(answer, s.citations)) for s in shown] +
                                           [(s.text, [c.passage]) for c, s in citing])
        precise = {c.n: False for c in answer.citations}
        for (c, _), checked in zip(citing, verdicts[len(shown):]):
            precise[c.n] = precise[c.n] or any(ok for _, ok in checked)
        return verdicts[:len(shown)], precise

    @staticmethod
    def _passages(answer: Answer, numbers: Sequence[int]) -> list[Passage]:
        return [answer.evidence[n - 1] for n in numbers if 0 < n <= len(answer.evidence)]

    def _answer_scores(self, q: Question, answer: Answer) -> dict:
        names = ("contains_answer", "token_f1", "exact_match", "semantic_similarity")
        if not q.answers or not q.answerable:
            return dict.fromkeys(names)
        if answer.abstained:  # no answer given: it scores 0 on every answer metric
            return dict.fromkeys(names, 0.0)
        text = am.strip_markers(answer.text)
        similarity = None
        if self.embed is not None:
            vectors = self.embed([text, *q.answers])
            similarity = am.best_cosine(vectors[0], vectors[1:])
        return {"contains_answer": am.contains_answer(text, q.answers), "token_f1": am.token_f1(text, q.answers),
                "exact_match": am.exact_match(text, q.answers), "semantic_similarity": similarity}


def gold_key(passage: Passage, q: Question, names: Names | None = None) -> Key:
    """A passage's (doc, page), under the question's name for the document when it names this one."""
    known = (names or {}).get(passage.chunk.doc_id, frozenset({passage.doc_title}))
    for doc, _ in q.gold:
        if doc in known or Path(doc).stem in known:
            return doc, passage.chunk.page
    return passage.doc_title, passage.chunk.page


def on_gold(passage: Passage, q: Question, names: Names | None = None) -> bool:
    """Whether a passage lies on one of the question's gold pages."""
    return gold_key(passage, q, names) in set(q.gold)


def answer_right(q: Question, text: str, cited: Sequence[Passage], names: Names | None = None,
                 abstained: bool = False) -> float | None:
    """The report's `right`: 1.0 when text holds an expected answer and cites a gold page, else 0.0.

    None where it is undefined: no expected answers, not answerable, or no gold pages. An
    abstention is not right.
    """
    if not q.answers or not q.answerable or not q.gold:
        return None
    if abstained:
        return 0.0
    cited_gold = am.gold_cited({gold_key(p, q, names) for p in cited}, set(q.gold))
    return am.right(am.contains_answer(am.strip_markers(text), q.answers), cited_gold)


def _retrieval(ranked: list[Key], gold: set[Key]) -> dict:
    out = {f"hit@{k}": rm.hit_at(ranked, gold, k) for k in HIT_KS}
    out |= {f"recall@{k}": rm.recall_at(ranked, gold, k) for k in RECALL_KS}
    return out | {"mrr": rm.reciprocal_rank(ranked, gold), "ndcg@10": rm.ndcg_at(ranked, gold, 10)}


def _grounding(answer: Answer, answerable: bool | None, units: list[bool] | None, precise: list[bool] | None,
               cited: set[Key], gold: set[Key]) -> dict:
    """Grounding scores; those a judge decides are None where nothing judged (units and precise None)."""
    refused, false_refusal = am.refusal(answer.abstained, answerable)
    judged = not answer.abstained and units is not None
    drafted = [s.supported for s in answer.sentences]
    return {"faithfulness": am.faithfulness(units) if judged else None,
            "hallucination": am.hallucinated(units) if judged else None,
            # Before the engine's repair: did verification reject anything the mode drafted?
            "draft_hallucination": am.hallucinated(drafted),
            "citation_precision": am.citation_precision(precise) if judged else None,
            "gold_cited": am.gold_cited(cited, gold) if not answer.abstained else None,
            "refusal": refused, "false_refusal": false_refusal}


def _sentences(answer: Answer, shown, units) -> list[dict]:
    judged = {id(s): u for s, u in zip(shown, units)}
    return [{"text": s.text, "citations": list(s.citations), "engine_supported": s.supported,
             "score": round(s.score, 4), "shown": id(s) in judged,
             "units": [{"text": t, "supported": ok} for t, ok in judged.get(id(s), [])]}
            for s in answer.sentences]
