"""The trained answer ranker: a cross-encoder that reads (question, answer unit in its passage) and gives P(it answers).

`python -m eval.train_ranker` fine-tunes it from the packaged all-MiniLM-L6-v2 (the same head and
loop as the groundedness verifier, eval/train_verifier.py) and writes a folder (int8 ONNX graph,
tokenizer.json, settings.json, MODEL_CARD.md). The one shipped in qa/models/answer_ranker learnt from the
dev questions' own candidates (eval/ranker_data.py, `--pairs-file`). Its best P among a question's units is a
signal of the answerability gate: with it the gate refused as many or more near-topic unanswerable questions,
and as few or fewer answerable ones, on every held-out set (README). Ordering units it helps less: alone it
orders them worse than the rerank; added to the rerank's score (`blend`) its first quote holds the answer a little more often
on held-out questions, but its answers are right no more often, so the rerank still orders them by default.
Answer time needs only onnxruntime and tokenizers. Training and answering encode a pair the same
way, through `RankerEncoder`.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from index.errors import GroundworkError
from qa.cross_verifier import GRAPH, SETTINGS, TOKENIZER, Encoder, onnx_session, probabilities_of
from qa.evidence import Candidate
from qa.text import flatten, split_sentences

SHIPPED = Path(__file__).with_name("models") / "answer_ranker"  # the gate's ranker, and "blend" / "trained"
CANDIDATES = 20  # the rerank's best units the ranker reads (and is trained on): 0.16 s p50 a question, 2 Zen 4 cores
# blend: a unit's rerank score + BLEND_WEIGHT x P(answers). Chosen with each of the four dev corpora held out
# in turn (the ranker trained on the other three): top-1 holds the answer on a gold page for 117 of 205 at 0,
# 118 at 0.1, 119 at 0.2, 120 at 0.3, 121 at 0.5, 120 at 0.7, 121 at 1.0; the smaller of the best kept.
BLEND_WEIGHT = 0.5
QUESTION_WORDS = 40  # a longer question is cut: the unit and its context need the room
CONTEXT_WORDS = 30


class RankerError(GroundworkError):
    """The ranker's folder cannot be used, said in one line."""


def context_of(unit: str, passage: str) -> str:
    """The sentence before the unit in its passage (a heading or the question it answers often sits there)."""
    flat = flatten(passage)  # units are shown flattened: find them in the passage the same way
    at = flat.find(flatten(unit.split("\n", 1)[0])[:60])
    before = split_sentences(flat[:at]) if at > 0 else []
    return " ".join(before[-1].split()[-CONTEXT_WORDS:]) if before else ""


def _items(question: str, candidates: Sequence[Candidate]) -> list[tuple[str, str, str]]:
    """(question, unit, its context) for each candidate: what the ranker reads."""
    return [(question, c.text, context_of(c.text, c.passage.chunk.text)) for c in candidates]


class RankerEncoder(Encoder):
    """A pair as the model reads it: [CLS] question [SEP] unit | context [SEP], at most max_tokens.

    The verifier's tokenizer set-up: the longer side is cut first, and the unit's context sits at
    the end of its side, so the context goes before the unit does.
    """

    def encode(self, items: Sequence[tuple[str, str, str]]) -> list[tuple[list[int], list[int]]]:
        """Token ids and type ids, unpadded, for each (question, unit, context)."""
        pairs = [(" ".join(q.split()[:QUESTION_WORDS]), flatten(u) + (f" | {c}" if c else "")) for q, u, c in items]
        return [(e.ids, e.type_ids) for e in self._tok.encode_batch(pairs)]


class AnswerRanker:
    """Scores candidate answer units for a question; loads its graph on first use."""

    def __init__(self, folder: str | Path = SHIPPED, threads: int | None = None):
        self.folder, self.threads = Path(folder), threads
        self._session = self._encoder = None
        self._last: tuple[list, np.ndarray] | None = None

    def probabilities(self, items: Sequence[tuple[str, str, str]]) -> np.ndarray:
        """P(the unit answers the question) for each (question, unit, context)."""
        self._load()
        encoded = self._encoder.encode(items)
        return probabilities_of(self._session, encoded)

    def best_units(self, question: str, candidates: Sequence[Candidate]) -> np.ndarray:
        """P(answers) of the rerank's best CANDIDATES units; the last question's are kept, as the gate and the
        blend both read them."""
        items = _items(question, candidates[:CANDIDATES])
        last = self._last  # read once: another thread's answer may replace it meanwhile
        if last is None or last[0] != items:
            last = (items, self.probabilities(items) if items else np.zeros(0))
            self._last = last
        return last[1]

    def best(self, question: str, candidates: Sequence[Candidate]) -> float:
        """The answerability gate's signal: the highest P(answers) among the rerank's best CANDIDATES units."""
        probs = self.best_units(question, candidates)
        return float(probs.max()) if len(probs) else 0.0

    def order(self, question: str, candidates: Sequence[Candidate]) -> tuple[Candidate, ...]:
        """The candidates best first by the ranker, each scored with its probability."""
        probs = self.probabilities(_items(question, candidates))
        scored = [replace(c, score=float(p)) for c, p in zip(candidates, probs)]
        return tuple(sorted(scored, key=lambda c: -c.score))

    def blend(self, question: str, candidates: Sequence[Candidate],
              weight: float = BLEND_WEIGHT) -> tuple[Candidate, ...]:
        """The rerank's best CANDIDATES reordered by score + weight x P(answers), the rest after them as they were."""
        head, rest = list(candidates[:CANDIDATES]), tuple(candidates[CANDIDATES:])
        probs = self.best_units(question, head)
        scored = [replace(c, score=c.score + weight * float(p)) for c, p in zip(head, probs)]
        return tuple(sorted(scored, key=lambda c: -c.score)) + rest

    def _load(self) -> None:
        if self._session is not None:
            return
        try:
            settings = json.loads((self.folder / SETTINGS).read_text(encoding="utf-8"))
            self._encoder = RankerEncoder(self.folder / TOKENIZER, int(settings["max_tokens"]))
            self._session = onnx_session(self.folder / GRAPH, self.threads)
        except Exception as exc:  # noqa: BLE001 - tokenizers and onnxruntime raise their own types for a bad file
            again = "--pairs-file eval/data/ranker-pairs.jsonl.gz --threads 2" if self.folder == SHIPPED else \
                f"--out {self.folder}"  # the shipped one: restored by training it again on its own pairs
            raise RankerError(f"cannot load the answer ranker in {self.folder} ({str(exc).splitlines()[0]}); "
                              f"train one with `python -m eval.train_ranker {again}`") from None
