"""The trained answer ranker: a cross-encoder that reads (question, answer unit in its passage) and gives P(it answers).

`python -m eval.train_ranker` fine-tunes it from the packaged all-MiniLM-L6-v2 (the same head and
loop as the groundedness verifier, eval/train_verifier.py) and writes a folder (int8 ONNX graph,
tokenizer.json, settings.json, MODEL_CARD.md), by default in the cache. None is shipped: the one
trained so far lost to the rerank on the dev questions (README).
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
from index.files import cache_dir
from qa.cross_verifier import GRAPH, SETTINGS, TOKENIZER, Encoder, onnx_session, probabilities_of
from qa.evidence import Candidate
from qa.text import flatten, split_sentences

SHIPPED = cache_dir("answer_ranker")  # where eval.train_ranker writes and answer_ranker = "trained" reads
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

    def probabilities(self, items: Sequence[tuple[str, str, str]]) -> np.ndarray:
        """P(the unit answers the question) for each (question, unit, context)."""
        self._load()
        encoded = self._encoder.encode(items)
        return probabilities_of(self._session, encoded)

    def order(self, question: str, candidates: Sequence[Candidate]) -> tuple[Candidate, ...]:
        """The candidates best first by the ranker, each scored with its probability."""
        probs = self.probabilities([(question, c.text, context_of(c.text, c.passage.chunk.text)) for c in candidates])
        scored = [replace(c, score=float(p)) for c, p in zip(candidates, probs)]
        return tuple(sorted(scored, key=lambda c: -c.score))

    def _load(self) -> None:
        if self._session is not None:
            return
        try:
            settings = json.loads((self.folder / SETTINGS).read_text(encoding="utf-8"))
            self._encoder = RankerEncoder(self.folder / TOKENIZER, int(settings["max_tokens"]))
            self._session = onnx_session(self.folder / GRAPH, self.threads)
        except Exception as exc:  # noqa: BLE001 - tokenizers and onnxruntime raise their own types for a bad file
            raise RankerError(f"cannot load the answer ranker in {self.folder} ({str(exc).splitlines()[0]}); "
                              f"train one with `python -m eval.train_ranker --out {self.folder}`") from None
