"""Records the answer engine adds on top of index's: citations, verified sentences, answers."""
from __future__ import annotations

from dataclasses import dataclass, field

from index.records import Passage

MODES = ("extractive", "guided", "generative")  # how an answer is written (DESIGN.md, Answer modes)
CLOSEST = 3  # passages an abstaining answer shows in place of citations
# What orders the candidate answer units: hand-set weights, those plus qa/ranker.py's P, or qa/ranker.py alone.
RANKERS = ("rerank", "blend", "trained")


@dataclass(frozen=True)
class Citation:
    """Passage [n] of the prompt, as an answer cites it."""

    n: int
    passage: Passage

    @property
    def page(self) -> int:
        return self.passage.chunk.page


@dataclass(frozen=True)
class Sentence:
    """One sentence of an answer, the passages it cites (by n) and whether they support it."""

    text: str
    citations: tuple[int, ...]
    supported: bool
    score: float


@dataclass(frozen=True)
class Answer:
    """A verified answer: its sentences, the passages they cite, and how long each stage took."""

    text: str
    sentences: tuple[Sentence, ...]
    citations: tuple[Citation, ...]
    abstained: bool
    timings: dict[str, float] = field(default_factory=dict)
    complete: bool = True  # False when generation stopped early (the server died or went silent mid-stream)
    mode: str = "extractive"
    evidence: tuple[Passage, ...] = ()  # the passages retrieved, shown when the answer abstains
    query: str = ""  # the question as retrieval saw it (a follow-up rewritten to stand alone)
    answerability: dict[str, float] = field(default_factory=dict)  # the gate's signals and p_answerable
    stopped: str = ""  # why an incomplete answer ended, in one line ('' when complete)

    def shown(self) -> tuple[Passage, ...]:
        """The passages shown with the answer: those it cites, or the closest ones when it abstains."""
        if self.citations:
            return tuple(c.passage for c in self.citations)
        return self.evidence[:CLOSEST] if self.abstained else ()

    def to_json(self) -> dict:
        """The `ask --json` object of DESIGN.md, plus whether it is complete and the closest passages."""
        return {
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [{"n": c.n, "doc": c.passage.doc_title, "page": c.page,
                           "chunk_id": c.passage.chunk.chunk_id, "text": c.passage.text_as_read}
                          for c in self.citations],
            "sentences": [{"text": s.text, "citations": list(s.citations), "supported": s.supported,
                           "score": round(s.score, 4)} for s in self.sentences],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "complete": self.complete,
            "stopped": self.stopped,
            "mode": self.mode,
            "query": self.query,
            "closest": [{"doc": p.doc_title, "page": p.chunk.page, "chunk_id": p.chunk.chunk_id,
                         "score": round(p.score, 4)} for p in self.evidence[:CLOSEST]] if self.abstained else [],
        }
