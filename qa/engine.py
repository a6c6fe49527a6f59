"""The answer engine: question -> evidence -> (model) -> cited sentences -> verification -> Answer.

Grounding is structural, because the default model is weak: every sentence that reaches the
user is verified against the passages it cites; an unsupported one is replaced by the quote
it should have used, or dropped; an answer with little left abstains and shows the closest
passages instead.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from index.access import Reader
from index.control_chars import as_typed
from index.records import Passage
from index.search import Filters, search
from index.store import Library
from qa import guided, prompt
from qa.answerability import Gate, signals
from qa.answertype import offers_code, offers_reason
from qa.citations import cited_sentences
from qa.evidence import Candidate, Evidence, Weights, entry_heading, excerpt, following, rerank
from qa.llm import LLMClient, Sampling, StreamInterrupted
from qa.records import MODES, RANKERS, Answer, Citation, Sentence
from qa.rewrite import standalone_question
from qa.text import flatten
from qa.units import without_rules
from index.errors import GroundworkError

if TYPE_CHECKING:
    from index.embedder import Embedder
    from qa.ranker import AnswerRanker
    from qa.verify import Verifier

MAX_QUESTION_CHARS = 2000


class QuestionError(GroundworkError):
    """A question that cannot be asked, said in one line."""


@dataclass(frozen=True)
class Settings:
    """How answers are made; the defaults were chosen by bench/answer.py on the sample manuals."""

    mode: str = "extractive"
    depth: int = 24            # passages searched
    keep: int = 6              # passages whose sentences are ranked (6 of ~250 tokens fill a 2048 context)
    prompt_passages: int = 6   # the best of those a generative prompt holds (fewer: a sooner first token)
    # Each shown as its best units up to this many words (evidence.excerpt); 0: whole. Qwen 0.5B on 2 AVX2 cores, 24
    # sampled dev questions: first token 13.3 s p50 whole, 4.8 s at 60 words; right 1 -> 3 of 19, refused 5/5 both.
    # Test, at 7ac7a56: 11.6 -> 4.8 s, right 4 -> 2 of 18 (dev then 1 -> 2): no clear cost or gain at this size.
    prompt_words: int = 60
    # Most quotes in an extractive answer. 3 against 2, on the three dev sets: right 109 -> 115 of 156 (R dev 42 -> 44,
    # dev-manuals 29 -> 33, licences 38), at 1.6 -> 2.0 quotes and 41-72 -> 53-81 words an answer (mean).
    quotes: int = 3
    statements: int = 8        # candidates offered to the model in guided mode (at most 9: one digit each)
    guided_rule: guided.Rule | None = None  # model and ranker combined in guided mode; None: qa/guided.json for the model
    # What orders quotes and guided candidates: the rerank's hand-set blend (the default), that plus qa/ranker.py's P
    # ("blend"), or the ranker alone ("trained"). Held out, "blend" put the answer first a little more often and was
    # right no more often (README).
    answer_ranker: str = "rerank"
    # A further quote must score at least the best one's score less this. Chosen on dev: right 37 (0.03: 34, 0.05: 37)
    # -> 39 of 59 at 0.08 and 0.1 (0.15: 40, at 1.8 quotes an answer against 1.5 at 0.08); refusal unchanged. Again on
    # the six dev corpora (308 answerable), with follow_margin 0.25: right 199 at 0.08, 201 at 0.1, 202 at 0.12, 204 at
    # 0.15, 208 always 3 quotes; 69, 74, 77, 81, 95 words an answer (mean of the corpora). 0.12: the most right under
    # 80 words, about three sentences.
    quote_margin: float = 0.12
    # The unit right after the best one in its passage is the second quote when it scores at least the best's score
    # less this: an answer often follows the sentence that names its subject ("codegen-units: the number of units a
    # crate is split into." / "The default value ... is 16."). Dev right +1 (licences) at 0.1 and 0.15, R dev and
    # dev-manuals unchanged; 0.2: R dev -1, 0.3: -3. At any score when it gives the command the question asks for and the
    # best one gives none (answertype.offers_code): dev right +2 (R dev, dev-manuals), no dev answer lost. Again on the
    # six dev corpora (quote_margin 0.08): right 196 at 0.15, 195 at 0.2, 199 at 0.25 and 0.3; with each corpus left out
    # in turn, 0.25 was chosen on the other five for four of the six.
    follow_margin: float = 0.25
    min_strength: float = 0.45  # a candidate scoring less never stands in for a rejected sentence
    max_rejected: float = 0.5   # share of generated sentences verification may reject before abstaining
    sampling: Sampling = Sampling()
    weights: Weights = Weights()


@dataclass
class _Draft:
    """What a mode produced before verification: (text, cited numbers) per sentence."""

    sentences: list[tuple[str, tuple[int, ...]]]
    stopped: str = ""  # why generation ended early ('' when it did not)
    abstained: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return not self.stopped


class AnswerEngine:
    """Answers questions from one library; the model is optional in extractive mode."""

    def __init__(self, library: Library, embedder: Embedder, verifier: Verifier,
                 llm: LLMClient | None = None, settings: Settings = Settings(), gate: Gate | None = None,
                 ranker: AnswerRanker | None = None):
        if settings.mode not in MODES:
            raise QuestionError(f"unknown answer mode {settings.mode!r}; use one of {', '.join(MODES)}")
        if settings.prompt_passages < 1:
            raise QuestionError(f"prompt_passages must be at least 1, not {settings.prompt_passages}")
        if settings.prompt_words < 0:
            raise QuestionError(f"prompt_words must be 0 (whole passages) or more, not {settings.prompt_words}")
        if not 0 < settings.statements <= guided.MAX_STATEMENTS:
            raise QuestionError(f"statements must be 1 to {guided.MAX_STATEMENTS}, not {settings.statements}")
        if settings.answer_ranker not in RANKERS:
            raise QuestionError(f"unknown answer ranker {settings.answer_ranker!r}; use one of {', '.join(RANKERS)}")
        self.library, self.embedder, self.verifier, self.llm, self.settings = library, embedder, verifier, llm, settings
        self._gate = gate
        self._ranker = ranker  # the trained answer ranker (qa/models/answer_ranker unless given), loaded when used

    @property
    def gate(self) -> Gate:
        """Decides from the evidence whether the documents answer the question (qa/answerability.json unless given)."""
        if self._gate is None:  # refused when fitted on another verifier's support scores
            self._gate = Gate.for_verifier(getattr(self.verifier, "spec", ""))
        return self._gate

    def warm(self) -> float:
        """Load the embedding model now, so that answers' timings show only their own work; seconds taken."""
        start = time.perf_counter()
        self.embedder.embed(["warm-up"], kind="query")
        return time.perf_counter() - start

    def answer(self, question: str, history: Sequence[tuple[str, str]] = (), filters: Filters = Filters(),
               on_text: Callable[[str], None] | None = None, reader: Reader | None = None,
               evidence: Evidence | None = None) -> Answer:
        """A verified, cited answer from what `reader` may read (None: all); `on_text` receives generated text.

        `evidence`: what self.evidence() gave for this question already (a fit that also reads its candidates).
        """
        question = _checked(question)
        timings: dict[str, float] = {}
        with _timer(timings, "rewrite"):
            question = standalone_question(question, history, self.llm) if history else question
        if evidence is None:
            evidence = self.evidence(question, filters, timings, reader)
        with _timer(timings, "rerank"):
            support_by = self.verifier if self.gate.weighs("support") else None
            best = self.ranker.best(question, evidence.candidates) if self.gate.weighs("ranker") else 0.0
            found = signals(self.library, question, evidence, support_by, self.settings.keep, reader, best)
            found |= {"p_answerable": self.gate.probability(found), "threshold": self.gate.params.threshold}
        if found["p_answerable"] < found["threshold"]:
            answer = _abstain(evidence, timings, _Draft([]), mode=self.settings.mode)
        else:
            draft = self._draft(question, evidence, on_text, timings)
            with _timer(timings, "verify"):
                checked = self._verify(draft, evidence)
            answer = self._finish(draft, checked, evidence, timings)
        return replace(answer, query=question, answerability=found)

    def picks(self, question: str, evidence: Evidence) -> tuple[Candidate, ...]:
        """The candidate answer units best first, as the configured answer ranker orders them."""
        if self.settings.answer_ranker == "rerank" or not evidence.candidates:
            return evidence.candidates
        if self.settings.answer_ranker == "blend":
            return self.ranker.blend(question, evidence.candidates)
        return self.ranker.order(question, evidence.candidates)

    @property
    def ranker(self) -> AnswerRanker:
        """The trained answer ranker (qa/models/answer_ranker unless one was given), loaded on first use."""
        if self._ranker is None:
            from qa.ranker import AnswerRanker  # onnxruntime is loaded only when the trained ranker is used
            self._ranker = AnswerRanker()
        return self._ranker

    def evidence(self, question: str, filters: Filters = Filters(),
                 timings: dict[str, float] | None = None, reader: Reader | None = None) -> Evidence:
        """The reranked passages and candidate sentences of an answer to `question`, all readable by `reader`."""
        timings = {} if timings is None else timings
        with _timer(timings, "retrieve"):
            qvec = self.embedder.embed([question], kind="query")[0]  # once, for search and rerank
            hits = search(self.library, self.embedder, question, k=self.settings.depth, filters=filters,
                          query_vector=qvec, reader=reader)
        with _timer(timings, "rerank"):
            return rerank(self.library, self.embedder, question, hits, self.settings.keep, self.settings.weights, qvec,
                          reader)

    # ---- the three modes ------------------------------------------------------------
    def _draft(self, question: str, evidence: Evidence, on_text, timings: dict[str, float]) -> _Draft:
        if self.settings.mode == "extractive":
            with _timer(timings, "rank"):
                return _Draft(self._quotes(question, evidence, self.picks(question, evidence)))
        if self.llm is None:
            raise QuestionError(f"answer mode {self.settings.mode!r} needs a model server (run: groundwork serve)")
        if self.settings.mode == "guided":
            with _timer(timings, "rank"):
                picks = self.picks(question, evidence)
            with _timer(timings, "generate"):
                return self._guided(question, evidence, picks)
        with _timer(timings, "generate"):
            return self._generative(question, evidence, on_text, timings)

    def _quotes(self, question: str, evidence: Evidence, picks: Sequence[Candidate]) -> list[tuple[str, tuple[int, ...]]]:
        """The best candidate, and the next ones nearly as good, from any passage.

        Two neighbouring sentences of one passage often split an answer between them ("By default ...
        is built when needed." / "The option --x builds it at install time."): both may be quoted, and the one right
        after the best is preferred (follow_margin), whatever its score when it gives the command (or, to a why-question,
        the reason) the question asks for and the best gives none.
        """
        best = picks[0]
        after = following(best, picks)
        close = after is not None and (after.score >= best.score - self.settings.follow_margin
                                       or offers_code(question, best.text, after.text)
                                       or offers_reason(question, best.text, after.text))
        picked = [best] + ([after] if close else [])
        heading = entry_heading(best, picks)  # a manual's definition line names what its description does not
        if heading is not None and offers_code(question, best.text, heading.text):
            picked.insert(0, heading)
        for c in picks[1:]:
            if len(picked) >= self.settings.quotes or c.score < best.score - self.settings.quote_margin:
                break
            if not any(_repeats(c.text, p.text) for p in picked):
                picked.append(c)
        return [(c.text, (_number(evidence, c.passage),)) for c in picked[:self.settings.quotes]]

    def _guided(self, question: str, evidence: Evidence, picks: Sequence[Candidate]) -> _Draft:
        """What extractive shows when the model agrees with the ranker (or is not asked), else the model's pick."""
        rule = self.settings.guided_rule or guided.Rule.for_model(self.llm.model)
        offered = list(picks[: self.settings.statements])
        chosen = 0
        if rule.asks:
            judgment = guided.judge(self.llm, question, [c.text for c in offered], self.llm.special_tokens)
            chosen = guided.pick(judgment, [c.score for c in offered], rule)
        if chosen is None:
            return _Draft([], abstained=True)
        if chosen == 0:
            return _Draft(self._quotes(question, evidence, picks))
        return _Draft([(offered[chosen].text, (_number(evidence, offered[chosen].passage),))])

    def shown_passages(self, question: str, evidence: Evidence) -> list[Passage]:
        """What a generative prompt shows: the best prompt_passages, each as its excerpt, as many as fit the context;
        passage n of the prompt is evidence.passages[n - 1] (its citation and its verification read it whole)."""
        budget = self.llm.context_length - self.settings.sampling.max_tokens
        picks = self.picks(question, evidence) if self.settings.prompt_words else ()
        shown = [excerpt(p, picks, self.settings.prompt_words)
                 for p in evidence.passages[: min(self.settings.keep, self.settings.prompt_passages)]]
        return prompt.fit_passages(question, shown, self.llm.count_tokens, budget, self.llm.special_tokens)

    def _generative(self, question: str, evidence: Evidence, on_text, timings: dict[str, float]) -> _Draft:
        specials = self.llm.special_tokens
        passages = self.shown_passages(question, evidence)
        started, parts, stopped = time.perf_counter(), [], ""
        try:
            for piece in self.llm.stream(prompt.answer_messages(question, passages, specials), self.settings.sampling):
                if not parts:
                    timings["first_token"] = time.perf_counter() - started
                parts.append(piece)
                if on_text:
                    on_text(piece)
        except StreamInterrupted as exc:
            parts, stopped = [exc.partial], str(exc)
        text = "".join(parts).strip()
        if prompt.declines(text):
            return _Draft([], stopped=stopped, abstained=True)
        return _Draft(cited_sentences(text, len(passages)), stopped=stopped)

    # ---- verification ------------------------------------------------------------------
    def _verify(self, draft: _Draft, evidence: Evidence) -> tuple[list[Sentence], int]:
        """Every drafted sentence checked, with the quotes that replace rejected ones; and how many were rejected."""
        out: list[Sentence] = []
        rejected = 0
        for text, cites in draft.sentences:
            if not cites:  # no marker: attribute it to the passage that supports it best
                cites = self._best_support(text, evidence)
            passages = [evidence.passages[n - 1] for n in cites]
            ok, score = self.verifier.verify(text, passages) if passages else (False, 0.0)
            out.append(Sentence(text, cites, ok, score))
            if not ok:
                rejected += 1
                # a quote the draft says later anyway would show twice
                quote = self._repair(cites, evidence, {s.text for s in out} | {t for t, _ in draft.sentences})
                out += [quote] if quote else []
        return out, rejected

    def _best_support(self, text: str, evidence: Evidence) -> tuple[int, ...]:
        shown = evidence.passages[: self.settings.keep]  # the passages a model saw
        scored = [(self.verifier.verify(text, [p]), n) for n, p in enumerate(shown, start=1)]
        (ok, _), n = max(scored, key=lambda item: item[0][1])
        return (n,) if ok else ()

    def _repair(self, cites: tuple[int, ...], evidence: Evidence, used: set[str]) -> Sentence | None:
        """The best candidate quote from the cited passages, standing in for an unsupported sentence."""
        cited = {evidence.passages[n - 1].chunk.chunk_id for n in cites}
        for c in evidence.candidates:
            if c.score < self.settings.min_strength:
                break  # candidates are best first: nothing left answers the question well enough
            if c.passage.chunk.chunk_id in cited and c.text not in used:
                ok, score = self.verifier.verify(c.text, [c.passage])
                return Sentence(c.text, (_number(evidence, c.passage),), ok, score) if ok else None
        return None

    def _finish(self, draft: _Draft, checked: tuple[list[Sentence], int], evidence: Evidence,
                timings: dict[str, float]) -> Answer:
        sentences, rejected = checked
        sentences = [replace(s, text=without_rules(s.text, [evidence.passages[n - 1].chunk.text for n in s.citations]))
                     for s in sentences]  # shown so; verified as the passage has it
        kept = [s for s in sentences if s.supported]
        if draft.abstained or not kept or rejected > self.settings.max_rejected * len(draft.sentences):
            return _abstain(evidence, timings, draft, self.settings.mode, tuple(sentences))
        cited = sorted({n for s in kept for n in s.citations})
        citations = tuple(Citation(n, evidence.passages[n - 1]) for n in cited)
        text = " ".join(f"{s.text} " + "".join(f"[{n}]" for n in s.citations) for s in kept)
        return Answer(text, tuple(sentences), citations, False, _total(timings), draft.complete,
                      self.settings.mode, evidence.passages, stopped=draft.stopped)


def _checked(question: str) -> str:
    # pasted from a PDF viewer (ligatures), a coloured terminal (escape sequences), a web page (zero-width spaces) or
    # typed with a CJK input method (full-width letters): as_typed
    question = " ".join(as_typed(question).split())
    if not question:
        raise QuestionError("the question is empty: ask something, e.g. groundwork ask \"how do I ...\"")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(question)} characters long; keep it under {MAX_QUESTION_CHARS}")
    return question


def _repeats(unit: str, quoted: str) -> bool:
    """Whether one of two units holds the other whole: overlapping chunks cut one sentence into units of two lengths.

    Whole words only: "abort: terminate the process upon panic" is another option than "immediate-abort: terminate
    the process upon panic, and do not call any panic hooks".
    """
    short, long = sorted((" ".join(flatten(text).casefold().split()) for text in (unit, quoted)), key=len)
    return re.search(r"(?<!\S)" + re.escape(short) + r"(?!\S)", long) is not None


def _number(evidence: Evidence, passage: Passage) -> int:
    return next(n for n, p in enumerate(evidence.passages, start=1) if p.chunk.chunk_id == passage.chunk.chunk_id)


def _abstain(evidence: Evidence, timings: dict[str, float], draft: _Draft, mode: str,
             rejected: tuple[Sentence, ...] = ()) -> Answer:
    """'The documents do not say', with the sentences that were tried and the closest passages."""
    return Answer(prompt.ABSTAIN, rejected, (), True, _total(timings), draft.complete, mode, evidence.passages,
                  stopped=draft.stopped)


def _total(timings: dict[str, float]) -> dict[str, float]:
    return {**timings, "total": sum(v for k, v in timings.items() if k != "first_token")}


class _timer:
    """Adds the seconds spent inside the block to timings[name]."""

    def __init__(self, timings: dict[str, float], name: str):
        self.timings, self.name = timings, name

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, *exc):
        self.timings[self.name] = self.timings.get(self.name, 0.0) + time.perf_counter() - self.start
