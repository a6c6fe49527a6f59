"""Ask every question of a set through the answer engine, several at once, and grade each answer as it lands."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from eval.grade import Grader
from eval.questions import Question
from index.access import Reader
from qa.engine import AnswerEngine, QuestionError
from qa.llm import LLMClient, LLMError

OnDone = Callable[[int, int, dict], None]  # (done, total, record)


class MeteredLLM:
    """An LLMClient that remembers, per thread, each prompt it sent and the text it got back."""

    def __init__(self, llm: LLMClient):
        self._llm, self._local = llm, threading.local()

    def __getattr__(self, name: str):
        return getattr(self._llm, name)

    def take(self) -> list[tuple[str, str]]:
        """The (prompt, reply) texts this thread exchanged since the last take."""
        calls = getattr(self._local, "calls", [])
        self._local.calls = []
        return calls

    def _note(self, messages, reply: str) -> None:
        if not hasattr(self._local, "calls"):
            self._local.calls = []
        self._local.calls.append(("\n".join(m["content"] for m in messages), reply))

    def stream(self, messages, *args, **kwargs):
        """LLMClient.stream, noted when the stream ends (or breaks)."""
        parts: list[str] = []
        try:
            for piece in self._llm.stream(messages, *args, **kwargs):
                parts.append(piece)
                yield piece
        finally:
            self._note(messages, "".join(parts))

    def complete(self, messages, *args, **kwargs) -> str:
        """LLMClient.complete, noted."""
        reply = self._llm.complete(messages, *args, **kwargs)
        self._note(messages, reply)
        return reply

    def choose(self, messages, choices, *args, **kwargs) -> str:
        """LLMClient.choose, noted."""
        reply = self._llm.choose(messages, choices, *args, **kwargs)
        self._note(messages, reply)
        return reply

    def choice_logprobs(self, messages, choices) -> dict[str, float]:
        """LLMClient.choice_logprobs, noted with the likeliest choice as the reply."""
        logprobs = self._llm.choice_logprobs(messages, choices)
        self._note(messages, max(logprobs, key=logprobs.get))
        return logprobs


def token_counts(calls: Sequence[tuple[str, str]], count: Callable[[str], int]) -> dict[str, int]:
    """Tokens sent (message texts, without the chat template's own) and received, over calls."""
    return {"in": sum(count(p) for p, _ in calls), "out": sum(count(r) for _, r in calls if r)}


@dataclass
class RunResult:
    """Records in question order, and where the time went (thread-seconds for answer_s and grade_s)."""

    records: list[dict]
    wall_s: float
    answer_s: float
    grade_s: float
    workers: int


def run_questions(engine: AnswerEngine, questions: Sequence[Question], grader: Grader, workers: int = 1,
                  on_done: OnDone | None = None, reader: Reader | None = None) -> RunResult:
    """Every question answered as `reader` (up to `workers` at once) and graded; one that fails keeps its error."""
    if workers > 1:  # load the index and the embedding model once, before threads race to do it
        engine.library.vectors
        engine.embedder.embed(["warm up"], kind="query")
    metered = engine.llm if isinstance(engine.llm, MeteredLLM) else None
    started = time.perf_counter()
    records: dict[str, dict] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="eval") as pool:
        futures = [pool.submit(_one, engine, q, grader, metered, reader) for q in questions]
        for done, future in enumerate(as_completed(futures), start=1):
            record = future.result()
            records[record["id"]] = record
            if on_done:
                on_done(done, len(questions), record)
    ordered = [records[q.id] for q in questions]
    return RunResult(ordered, time.perf_counter() - started, sum(r["seconds"]["answer"] for r in ordered),
                     sum(r["seconds"]["grade"] for r in ordered), max(1, workers))


def _one(engine: AnswerEngine, q: Question, grader: Grader, metered: MeteredLLM | None,
         reader: Reader | None) -> dict:
    t0 = time.perf_counter()
    try:
        answer, error = engine.answer(q.question, reader=reader), None
    except (QuestionError, LLMError) as exc:
        answer, error = None, str(exc)
    t1 = time.perf_counter()
    calls = metered.take() if metered else []
    # A failed question's record has every key an answered one has (empty), so that a reader of report.json need not
    # tell the two apart first.
    record = grader.record(q, answer) if answer else {**q.to_json(), "answer": None, "abstained": None,
                                                       "complete": False, "sentences": [], "citations": [],
                                                       "retrieved": [], "error": error, "scores": {}}
    record["error"] = error
    record["tokens"] = token_counts(calls, metered.count_tokens) if metered else None
    record["seconds"] = {"answer": round(t1 - t0, 4), "grade": round(time.perf_counter() - t1, 4)}
    return record
