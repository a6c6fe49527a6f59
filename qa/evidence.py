"""Evidence for an answer: retrieve passages, rerank them, and rank candidate answer sentences.

With no cross-encoder weights offline, reranking and the candidate ranker are a small linear
blend of signals the library already holds: the chunk's stored embedding against the question,
how much of the question's weighted vocabulary a text covers (IDF from the library's FTS
index), and, for the best passages, each sentence's embedding against the question. Index
pages, tables of contents and code listings are pushed down by how little of them is prose. A unit
that lacks the kind of fact the question's form asks for (a code name, a number, a default) is pushed
down a little: it cannot be the whole answer.
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from index.access import Reader
from index.records import Passage, across_breaks
from index.store import Library
from index.titles import name_parts, title_words
from qa.answertype import asked_kinds, holds
from qa.injection import instruction_start, without_instructions
from qa.text import content_words, name_words, prose_ratio, tokens, words
from qa.units import (MAX_UNIT_CHARS, MAX_UNIT_WORDS, continuation, defines, heading_between, lead,
                      open_end, opens_mid_sentence, opens_plain_rows, opens_with_code, plain_table_header, plain_table_split, refers_back,
                      table_header, table_split, under_header, unit_spans, unit_text)

if TYPE_CHECKING:
    from index.embedder import Embedder

# A table of contents leads its titles to their page numbers with dots: "Reading data ........ 14", ". . . . 14".
_DOT_LEADER = re.compile(r"(?:\.\s?){4,}")
# A whole line of one: its dots, then the page number (arabic or roman) at the line's end.
_CONTENTS_LINE = re.compile(_DOT_LEADER.pattern + r"\s*(?:\d+|[ivxlc]+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Weights:
    """How the signals blend: set by hand on the first 68 sample questions, and kept after a fit on dev.

    `python -m eval.fit_rerank` (dev questions only) found no grid point better on both hit@1 and top-1
    contains-answer: its best (sentence cosine 0.8, coverage 0.2) raised dev hit@1 0.729 -> 0.814 but
    lowered contains-answer 0.390 -> 0.356, and made extractive answers quote a heading (tests/injection).
    """

    passage_cosine: float = 0.5
    passage_coverage: float = 0.6
    passage_best_sentence: float = 0.4
    sentence_cosine: float = 0.6
    sentence_coverage: float = 0.4
    prose_floor: float = 0.6  # below this share of words a chunk is a listing, an index or code (not fitted)
    # Taken off a unit that lacks the kind of fact the question's form asks for (qa/answertype.py: 'which
    # option' -> a code name, 'by default' -> a default): dev right 35 -> 37 of 59 at 0.05, 0.1 and 0.2,
    # 35 at 0.02; the smallest of the best kept dev refusal at 0.821 (0.1: 0.786).
    missing_kind: float = 0.05


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage that may answer the question."""

    text: str
    passage: Passage
    score: float


@dataclass(frozen=True)
class Evidence:
    """Reranked passages (best first, score = rerank score) and candidate sentences (best first)."""

    passages: tuple[Passage, ...]
    candidates: tuple[Candidate, ...]
    named: dict[str, frozenset[str]] = field(default_factory=dict)  # title_named: the question's stems per document

    @property
    def strength(self) -> float:
        """The best candidate's score: how well the library seems to hold an answer."""
        return self.candidates[0].score if self.candidates else 0.0


def rerank(library: Library, embedder: Embedder, question: str, hits: Sequence[Passage],
           keep: int = 6, weights: Weights = Weights(), query_vector: np.ndarray | None = None,
           reader: Reader | None = None) -> Evidence:
    """Rerank the hits; the best `keep` get their sentences ranked as candidates and their order refined.

    Only those `keep` have their sentences embedded (the costly part: ~4.5 ms a sentence on CPU);
    the rest follow in passage-score order, for retrieval metrics and the closest-passages view.
    Word weights and stored vectors are read as `reader` may read them: a document it may not
    read weighs nothing in its scores.
    """
    if not hits:
        return Evidence((), ())
    named = title_named(library, question, reader)
    idf = _titles_counted(question_idf(library, question, reader), named, library, reader)
    qvec = embedder.embed([question], kind="query")[0] if query_vector is None else query_vector
    stored = library.chunk_vectors([p.chunk.chunk_id for p in hits], reader)
    scored = sorted(((_passage_score(p, qvec, stored, idf, weights, named), p) for p in hits), key=lambda sp: -sp[0])
    best = _rank_sentences([headed(library, p, reader) for _, p in scored[:keep]], qvec, stored, idf, embedder,
                           weights, asked_kinds(question), named)
    rest = tuple(replace(p, score=s) for s, p in scored[keep:])
    return Evidence(best.passages + rest, best.candidates, named)


def coverage(text: str, idf: dict[str, float], named: frozenset[str] = frozenset()) -> float:
    """Share of the question's IDF weight whose words appear in `text`, in a name of it (asn1_find_structure_from_oid:
    'find', 'structure') or are `named` by its document's title."""
    total = sum(idf.values())
    if not total:
        return 0.0
    present = set(content_words(text)) | name_words(text) | named
    return sum(w for word, w in idf.items() if word in present) / total


def body(text: str) -> str:
    """`text` without its table-of-contents lines: "3 Replacing the impeller ........ 9" names a subject and says
    nothing of it, so a question it matches is not answered by its page."""
    return "\n".join(line for line in text.splitlines() if not _CONTENTS_LINE.search(line))


def question_idf(library: Library, question: str, reader: Reader | None = None) -> dict[str, float]:
    """Each content word of the question (stemmed) with its inverse document frequency among `reader`'s chunks."""
    n = max(library.count("chunks", reader), 1)
    weights: dict[str, float] = {}
    for word in dict.fromkeys(w for w in words(question)):
        stems = content_words(word)
        if stems:
            df = library.doc_freq(word, reader)
            weights[stems[0]] = max(weights.get(stems[0], 0.0), math.log((n + 1) / (df + 0.5)))
    return weights


def title_named(library: Library, question: str, reader: Reader | None = None) -> dict[str, frozenset[str]]:
    """Per document id, the stems of the question's words that its title or a file name names ('GPLv3': 'GPL-3').

    A question names its document as readers do ("GPLv3", "GNU FDL") while the text says "this License":
    the title counts as text of every passage of its document.
    """
    out = {}
    for doc, keys in library.named_documents(reader):
        parts = title_words(question, keys)
        if not parts:  # most documents: no need to read the question's words again
            continue
        stems = frozenset(s for t in tokens(question) if set(name_parts(t)) <= parts for s in content_words(t))
        if stems:
            out[doc.doc_id] = stems
    return out


def _titles_counted(idf: dict[str, float], named: dict[str, frozenset[str]], library: Library,
                    reader: Reader | None) -> dict[str, float]:
    """The IDF weights with a title-named word counted as held by every chunk of the documents naming it."""
    if not named:
        return idf
    n = max(library.count("chunks", reader), 1)
    sizes = {d.doc_id: d.chunks for d, _ in library.named_documents(reader) if d.doc_id in named}
    out = dict(idf)
    for word in idf.keys() & set().union(*named.values()):
        df = sum(sizes[d] for d, stems in named.items() if word in stems)
        out[word] = min(idf[word], math.log((n + 1) / (df + 0.5)))
    return out


def _passage_score(p: Passage, qvec: np.ndarray, stored: dict[int, np.ndarray], idf: dict[str, float], w: Weights,
                   named: dict[str, frozenset[str]]) -> float:
    vec = stored.get(p.chunk.chunk_id)
    cosine = float(vec @ qvec) if vec is not None else 0.0
    # A contents page holds every section's title: its lines say where a subject is, never what it says.
    held = coverage(body(p.chunk.text), idf, named.get(p.chunk.doc_id, frozenset()))
    return w.passage_cosine * cosine + w.passage_coverage * held - _junk(p.chunk.text, w)


def _junk(text: str, w: Weights) -> float:
    return max(0.0, w.prose_floor - prose_ratio(text))


def _rank_sentences(passages: Sequence[Passage], qvec: np.ndarray, stored: dict[int, np.ndarray],
                    idf: dict[str, float], embedder: Embedder, w: Weights,
                    kinds: frozenset[str] = frozenset(), named: dict[str, frozenset[str]] | None = None) -> Evidence:
    named = named or {}
    owners, texts, seen = [], [], set()
    for i, p in enumerate(passages):
        for text in passage_units(p):
            if text not in seen:  # overlapping chunks repeat sentences
                seen.add(text)
                owners.append(i)
                texts.append(text)
    cosines = embedder.embed(texts, kind="document") @ qvec if texts else np.zeros(0)
    titled = [named.get(passages[o].chunk.doc_id, frozenset()) for o in owners]
    sentence = [w.sentence_cosine * float(c) + w.sentence_coverage * coverage(t, idf, n)
                - w.missing_kind * any(not holds(t, k) for k in kinds) for t, c, n in zip(texts, cosines, titled)]
    best = [max((s for o, s in zip(owners, sentence) if o == i), default=0.0) for i in range(len(passages))]
    rescored = [replace(p, score=_passage_score(p, qvec, stored, idf, w, named) + w.passage_best_sentence * b)
                for p, b in zip(passages, best)]
    order = sorted(range(len(passages)), key=lambda i: -rescored[i].score)
    candidates = sorted((Candidate(t, rescored[o], s) for t, o, s in zip(texts, owners, sentence)),
                        key=lambda c: -c.score)
    return Evidence(tuple(rescored[i] for i in order), tuple(candidates))


def following(candidate: Candidate, candidates: Sequence[Candidate]) -> Candidate | None:
    """The candidate holding the unit right after `candidate`'s in its passage; None when that unit is no candidate."""
    units = passage_units(candidate.passage)
    at = units.index(candidate.text) if candidate.text in units else len(units)
    after = units[at + 1] if at + 1 < len(units) else None
    return next((c for c in candidates if c.text == after), None) if after is not None else None


def entry_heading(candidate: Candidate, candidates: Sequence[Candidate]) -> Candidate | None:
    """The candidate holding the definition line of the entry `candidate`'s unit describes (the nearest one before it
    in its passage: "[Function]const char * asn1_check_version (...)" over "Returns: Version string of run-time
    library ..."); None when its passage shows no such line before it, a section heading comes between (the entry
    is over: "5.2 Assignment Functions\nThese functions ..."), or `candidate` is one."""
    text = candidate.passage.chunk.text
    spans = unit_spans(text)
    units = [unit_text(text[s:e]) for s, e in spans]
    at = units.index(candidate.text) if candidate.text in units else 0
    for k in range(at - 1, -1, -1):
        if heading_between(text, spans[k][1], spans[k + 1][0]):
            return None
        if defines(units[k]):
            return next((c for c in candidates if c.text == units[k] and c.passage == candidate.passage), None)
    return None


def headed(library: Library, p: Passage, reader: Reader | None = None) -> Passage:
    """The passage with what its page says of its start: the header of the table (pipes or not) its chunk opens
    inside; else the chunk read from the start of the unit it opens inside (opened_unit), or, where that began too
    far back, whether it opens inside a word or a path ("lib/dpkg/triggers/File ..." of "/var/lib/...").

    Across a page break (across_pages): a page's first chunk that opens with code is read after its lead-in ending the
    page before, and a page's last chunk that stops mid-sentence is read with the words ending it on the next page.
    """
    page = library.page_text(p.chunk.doc_id, p.chunk.page, reader)
    if not page:
        return p
    p = across_pages(library, p, page, reader)
    if not p.chunk.start:
        return p  # a page's first chunk opens nothing on its page
    lines = p.chunk.text.split("\n")
    piped = any(line.lstrip().startswith("|") or line.rstrip().endswith("|") for line in lines[:2])
    if piped or opens_plain_rows(lines):
        header = (table_header if piped else plain_table_header)(page, p.chunk.start)
        if header:  # the rows under it are whole units whatever piece of a row the chunk opens with (under_header)
            return replace(p, table_header=header)
    start = opened_unit(page, p.chunk.start, p.chunk.end)
    if start < p.chunk.start and instruction_start(page[start:p.chunk.start]) is None:  # no planted text pulled in
        return replace(p, chunk=replace(p.chunk, start=start, text=page[start:p.chunk.end]))
    return replace(p, opens_inside=not page[p.chunk.start - 1].isspace())


def across_pages(library: Library, p: Passage, page: str, reader: Reader | None = None) -> Passage:
    """The passage with what the pages beside it say across a page break, where its units need it.

    Code at the top of a page takes the lead-in that ends the page before (lead_in): strucchange's "It is also possible
    to suppress the boundaries ..., e.g. in another color" at the foot of page 7 and "> plot(ocus, boundary = FALSE)"
    at the top of page 8 are one unit, of page 8, which holds the code; before, the code was no unit of any passage.
    A sentence the page break cut ends with the next page's words (runs_on), a unit of the page it starts on, as a
    quote is cited: "On one test this took 1 second (under Linux, ..." whereas ... took 10 seconds". The next
    page's opening fragment stays no candidate of its own page.
    """
    doc, number = p.chunk.doc_id, p.chunk.page
    lead = runs_on = ""
    if not p.chunk.start and number > 1 and opens_with_code(p.chunk.text):
        before = library.page_text(doc, number - 1, reader)
        lead = open_end(before) if before else ""
    if p.chunk.end >= len(page.rstrip()) and open_end(p.chunk.text):  # the length first: most chunks end elsewhere
        after = library.page_text(doc, number + 1, reader)
        runs_on = continuation(after) if after else ""
    planted = [t for t in (lead, runs_on) if t and instruction_start(t) is not None]  # no planted text pulled in
    return replace(p, lead_in="" if lead in planted else lead, runs_on="" if runs_on in planted else runs_on)


def opened_unit(page: str, start: int, end: int) -> int:
    """Where the answer unit that a chunk starting at `start` opens inside begins on its page; `start` when it opens
    none, or that unit began more than MAX_UNIT_CHARS before.

    Chunks are cut by tokens, so most open part-way through a sentence, and the passage before holds it whole;
    when that one is not among the best, the sentence was lost: "(void) Returns a NULL-terminated list of pointers
    to supported hash functions." without its line "[Function]... nettle_get_hashes". The units are read from two
    points of the page before `start`, each of which may cut a unit; a start both readings agree on is no cut's.
    """
    windows = {max(0, start - back) for back in (MAX_UNIT_CHARS, 2 * MAX_UNIT_CHARS)}  # one near the page's start
    found = {_unit_start(page, window, start, end) for window in windows}
    first = found.pop()
    return first if not found and start - MAX_UNIT_CHARS <= first < start else start


def _unit_start(page: str, window: int, start: int, end: int) -> int:
    """Where the unit holding `start` begins, reading the page's units from `window` on; `start` if one begins there."""
    for s, e in unit_spans(page[window:end]):
        if window + s >= start:
            return start
        if window + e > start and page[window + s:start].strip():
            return window + s
    return start


def passage_units(p: Passage) -> list[str]:
    """The answer units of a passage as headed() read it: under its table's header, without an opening fragment."""
    return answer_units(p.chunk.text, p.table_header, p.opens_inside, p.lead_in, p.runs_on)


def answer_units(text: str, header: str = "", inside: bool = False, lead_in: str = "", runs_on: str = "") -> list[str]:
    """The units of a passage worth offering as answers, in reading order.

    A table's rows (pipes or not) come each under its header, a passage opening inside a pipe table under the
    `header` read before it (headed). A passage's first unit that starts mid-sentence, points back at a
    sentence before the passage, or opens `inside` a word is a fragment: the overlapping passage before it holds
    it whole. A passage is read after its `lead_in` and before its `runs_on` from the pages beside it (across_pages).
    """
    return [unit for _, _, units in span_units(text, header, inside, lead_in, runs_on)[1] for unit in units]


def span_units(text: str, header: str = "", inside: bool = False, lead_in: str = "",
               runs_on: str = "") -> tuple[str, list[tuple[int, int, list[str]]]]:
    """answer_units by where they stand: the text as read (under `header`, across page breaks), and (start, end,
    units) of each span of it that gives any."""
    text = across_breaks(lead_in, under_header(text, header) if header else text, runs_on)
    out, width = [], max(len(line.strip()) for line in text.split("\n"))
    for n, (s, e) in enumerate(unit_spans(text)):
        if n == 0 and (inside or opens_mid_sentence(text[s:e]) or refers_back(text[s:e])):
            continue
        before, rows, after = table_split(text[s:e])
        if not rows:  # rows without pipes are told from code or a listing only by being worded like an answer
            before, rows, after = plain_table_split(text[s:e], width)
            rows = [row for row in rows if answer_like(lead(row))]
        units = _prose_unit(before) + [row for row in rows if without_instructions(row) == row] + _prose_unit(after)
        units = [short for short in map(_capped, units) if short]
        if units:
            out.append((s, e, units))
    return text, out


def _capped(unit: str) -> str:
    """`unit`, less the code lines at its end that take it past MAX_UNIT_CHARS; '' when its first line alone does.

    No screenful of key or blob is an answer, but a sentence with the first of three long console lines is one.
    """
    while len(unit) > MAX_UNIT_CHARS and "\n" in unit:
        unit = unit.rsplit("\n", 1)[0]
    return unit if len(unit) <= MAX_UNIT_CHARS else ""


def _prose_unit(text: str) -> list[str]:
    # An instruction planted for a model is never an answer, however well it matches the question.
    unit = without_instructions(unit_text(text)) if text.strip() else ""
    return [unit] if unit and answer_like(lead(unit)) else []


def answer_like(sentence: str) -> bool:
    """A sentence worth quoting: a handful of words or more, mostly prose, not a run-on listing, not a question,
    not a line of a table of contents ("10.2 Defining new binary operators ........ 45")."""
    n = len(sentence.split())
    return 4 <= n <= MAX_UNIT_WORDS and prose_ratio(sentence) >= 0.5 and not sentence.rstrip().endswith("?") \
        and not _DOT_LEADER.search(sentence)


def excerpt(passage: Passage, candidates: Sequence[Candidate], words: int) -> Passage:
    """The passage cut to its best answer units, best first while they fit in `words` words (the best always), shown
    in reading order with '…' wherever text was left out; the passage whole when `words` is 0 or none of `candidates`
    (best first) is its own.

    A unit is shown as the page has it (code keeps its indentation) unless reading it changed more than its spacing
    (a table row under its header, a planted instruction taken out, trailing code lines capped): then as read.
    A generative prompt is read whole before the model's first word, ~70 tokens a second on 2 AVX2 cores: six whole
    passages wait ~13 s; the units the ranker put first in each say what the passage holds for the question.
    """
    text, spans = span_units(passage.chunk.text, passage.table_header, passage.opens_inside, passage.lead_in,
                             passage.runs_on)
    where = {unit: k for k, (_, _, units) in enumerate(spans) for unit in units}
    own = [c.text for c in candidates if c.passage.chunk.chunk_id == passage.chunk.chunk_id and c.text in where]
    if not words or not own:
        return passage
    shown = {unit: _shown(text, spans[where[unit]], unit) for unit in own}
    kept: dict[int, list[str]] = {}
    used = 0
    for unit in own:
        n = len(_WORD.findall(shown[unit]))
        if kept and used + n > words:
            continue  # a shorter one further down may still fit
        kept.setdefault(where[unit], []).append(unit)
        used += n
    parts, end = [], 0
    for k in sorted(kept):
        s, e, units = spans[k]
        parts += ["…"] if text[end:s].strip() else []
        parts += [shown[u] if u in kept[k] else "…" for u in units]  # a table's rows left out: '…'
        end = e
    parts += ["…"] if text[end:].strip() else []
    joined = "\n".join(p for n, p in enumerate(parts) if not (p == "…" and n and parts[n - 1] == "…"))
    return replace(passage, chunk=replace(passage.chunk, text=joined), table_header="", opens_inside=False, lead_in="",
                   runs_on="")


_WORD = re.compile(r"\w+")


def _shown(text: str, span: tuple[int, int, list[str]], unit: str) -> str:
    """`unit` as its page has it, when that differs from it in spacing alone; else as read."""
    raw = text[span[0]:span[1]].strip("\n")
    return raw if len(span[2]) == 1 and unit_text(raw) == unit else unit
